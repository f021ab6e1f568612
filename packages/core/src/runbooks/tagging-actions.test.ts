/** Tagging actions are recognized on every service a runbook may tag with, RDS's too. */
import { describe, expect, it } from "vitest";
import { permissionProblems } from "./define.ts";

describe("tagging actions", () => {
  it("treats rds:AddTagsToResource as tagging: it must name the creating calls and the resources it tags", () => {
    expect(permissionProblems({ actions: ["rds:AddTagsToResource"], mutating: true })).toEqual([
      "rds:AddTagsToResource must say which creating calls it tags (onCreate), so existing resources can never be tagged",
      "rds:AddTagsToResource must name the resource types it tags, not '*'",
    ]);
    expect(
      permissionProblems({
        actions: ["rds:AddTagsToResource"],
        mutating: true,
        tagCondition: "request",
        resources: ["arn:${Partition}:rds:*:${Account}:snapshot:reflex-*"],
        onCreate: ["CreateDBSnapshot"],
      }),
    ).toEqual([]);
  });
});
