/** What the packages let callers reach: core its index (and named entry points), never the private start; the SDK what an author needs. */
import { readFileSync } from "node:fs";
import * as Core from "@reflex/core";
import * as Sdk from "@reflex/sdk";
import { describe, expect, it } from "vitest";

describe("the public surface", () => {
  it("keeps Runs.start behind admission: core's Runs has no start, and core exports no wildcard path", () => {
    expect("start" in Core.Runs).toBe(false);
    expect(typeof Core.Admission.admit).toBe("function");
    const exports = JSON.parse(readFileSync("packages/core/package.json", "utf8")).exports as Record<
      string,
      string
    >;
    expect(Object.keys(exports).filter((k) => k.includes("*"))).toEqual([]);
    expect(Object.values(exports)).not.toContain("./src/runs.ts");
  });

  it("gives runbook authors defineRunbook, the ASL builders, the client factory and the result shape, nothing else", () => {
    expect(Object.keys(Sdk).sort()).toEqual(
      [
        "RETRY_LAMBDA",
        "RETRY_ROLLBACK",
        "RETRY_STEP",
        "StepExecutionError",
        "approvalStates",
        "aws",
        "catchAll",
        "checkRunbook",
        "client",
        "countByStatus",
        "cronSchema",
        "defineRunbook",
        "dryRunChoice",
        "failWith",
        "pollLoop",
        "replaceRootPermissions",
        "stepBuilders",
        "stepTask",
        "timeZoneSchema",
        "waitFor",
      ].sort(),
    );
  });
});
