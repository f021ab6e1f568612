import { describe, expect, it } from "vitest";
import { z } from "zod";
import { RunbookDefinitionError } from "../errors.ts";
import { stepTask } from "./asl.ts";
import { defineRunbook, implementSteps } from "./define.ts";
import { stepsOf } from "./implementations.ts";
import * as Runbooks from "./index.ts";

const spec = {
  name: "probe",
  summary: "A probe",
  risk: "low" as const,
  params: z.object({}),
  example: {},
  cap: { maxTargets: 1 },
  permissions: [],
  rollback: ["undo"],
  dryRun: "Nothing.",
  stateMachine: {
    StartAt: "Do",
    States: {
      Do: stepTask("probe", "doIt", { Catch: [{ ErrorEquals: ["States.ALL"], Next: "Undo" }], End: true }),
      Undo: stepTask("probe", "undo", { End: true }),
    },
  },
};

describe("the runbook registry", () => {
  it.each(Runbooks.list().map((r) => [r.name, r] as const))(
    "%s has exactly the steps its state machine calls",
    (name, runbook) => {
      expect(Object.keys(stepsOf(name)).sort()).toEqual([...runbook.steps].sort());
    },
  );

  it("derives a runbook's steps from its state machine", () => {
    expect(defineRunbook(spec).steps).toEqual(["doIt", "undo"]);
  });

  it("refuses a runbook whose rollback its state machine never calls", () => {
    expect(() => defineRunbook({ ...spec, rollback: ["cleanUp"] })).toThrow(
      /rollback step 'cleanUp' is not called/,
    );
  });

  it("refuses a runbook with a wildcard permission or without a rollback", () => {
    expect(() => defineRunbook({ ...spec, permissions: [{ actions: ["ec2:*"], mutating: true }] })).toThrow(
      RunbookDefinitionError,
    );
    expect(() => defineRunbook({ ...spec, rollback: [] })).toThrow(/no rollback/);
  });

  it("refuses step implementations that do not match the state machine", () => {
    const probe = defineRunbook(spec);
    expect(() => implementSteps(probe, { doIt: async () => 1 })).toThrow(/no implementation for: undo/);
    expect(() =>
      implementSteps(probe, { doIt: async () => 1, undo: async () => 2, extra: async () => 3 }),
    ).toThrow(/not called: extra/);
  });
});
