import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { RunbookDefinitionError } from "../errors.ts";
import { approvalStates, stepTask } from "./asl.ts";
import { defineRunbook, implementSteps } from "./define.ts";
import * as Runbooks from "./index.ts";
import { aws, pollLoop, sdkResource, waitFor } from "./sdk-tasks.ts";

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
  implementation: async () => ({ steps: { doIt: async () => 1, undo: async () => 2 } }),
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
    async (name, runbook) => {
      expect(Object.keys(await Runbooks.stepsOf(name)).sort()).toEqual([...runbook.steps].sort());
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

  it("refuses a runbook whose state machine calls steps it has no implementation for, naming the field", () => {
    const { implementation: _, ...noSteps } = spec;
    let caught: RunbookDefinitionError | undefined;
    try {
      defineRunbook(noSteps);
    } catch (e) {
      caught = e as RunbookDefinitionError;
    }
    expect(caught?.runbook).toBe("probe");
    expect(caught?.issues).toEqual([
      {
        path: "implementation",
        message: expect.stringMatching(/calls steps \(doIt, undo\) but it has no implementation/),
      },
    ]);
  });

  it("refuses a second runbook with a built-in's name", () => {
    expect(() =>
      Runbooks.register(
        defineRunbook({
          ...spec,
          name: "scale",
          stateMachine: { StartAt: "Do", States: { Do: stepTask("scale", "doIt", { End: true }) } },
          rollback: ["doIt"],
          implementation: async () => ({ steps: { doIt: async () => 1 } }),
        }),
      ),
    ).toThrow(/runbook 'scale' is a built-in runbook: give yours another name/);
  });

  it("loads a runbook's steps from its manifest only when asked, and checks them against its state machine", async () => {
    let loads = 0;
    const lazy = defineRunbook({
      ...spec,
      name: "lazy-probe",
      stateMachine: {
        StartAt: "Do",
        States: {
          Do: stepTask("lazy-probe", "doIt", {
            Catch: [{ ErrorEquals: ["States.ALL"], Next: "Undo" }],
            End: true,
          }),
          Undo: stepTask("lazy-probe", "undo", { End: true }),
        },
      },
      implementation: async () => {
        loads++;
        return { steps: { doIt: async () => 1 } };
      },
    });
    Runbooks.register(lazy);
    try {
      expect(loads).toBe(0);
      await expect(Runbooks.stepsOf("lazy-probe")).rejects.toThrow(/no implementation for: undo/);
      expect(loads).toBe(1);
    } finally {
      Runbooks.unregister("lazy-probe");
    }
  });
});

describe("steps without a Lambda", () => {
  it("names the AWS SDK integration as Step Functions does, and refuses what is not service:action", () => {
    expect(sdkResource("ec2:RebootInstances")).toBe("arn:aws:states:::aws-sdk:ec2:rebootInstances");
    expect(() => sdkResource("RebootInstances")).toThrow(/not service:action/);
  });

  it("refuses an aws() Task whose action the permissions do not declare, naming the state", () => {
    const sdkOnly = {
      ...spec,
      name: "sdk-only",
      rollback: ["Undo"],
      stateMachine: {
        StartAt: "Reboot",
        States: {
          Reboot: aws(
            "ec2:rebootInstances",
            { InstanceIds: ["i-1"] },
            { Catch: [{ ErrorEquals: ["States.ALL"], Next: "Undo" }], End: true },
          ),
          Undo: { Type: "Pass" as const, End: true as const },
        },
      },
      implementation: undefined,
    };
    expect(() => defineRunbook(sdkOnly)).toThrow(
      /stateMachine\.States\.Reboot: calls ec2:RebootInstances, which its permissions do not declare/,
    );
    const declared = defineRunbook({
      ...sdkOnly,
      permissions: [{ actions: ["ec2:RebootInstances"], mutating: true }],
    });
    expect(declared.steps).toEqual([]);
  });

  it("builds a poll loop: wait, check, and back to the wait until done", () => {
    const loop = pollLoop({
      wait: "W",
      check: "C",
      done: "D",
      seconds: 5,
      task: stepTask("probe", "check", { ResultPath: "$.p" }),
      donePath: "$.p.done",
      next: "Next",
    });
    expect(loop.W).toEqual({ Type: "Wait", Seconds: 5, Next: "C" });
    expect(loop.C.Next).toBe("D");
    expect(loop.D).toEqual({
      Type: "Choice",
      Choices: [{ Variable: "$.p.done", BooleanEquals: true, Next: "Next" }],
      Default: "W",
    });
  });

  it("leaves a poll loop by the first matching rule of several, waiting the seconds the input holds", () => {
    const loop = pollLoop({
      wait: "W",
      check: "C",
      done: "D",
      secondsPath: "$.params.pollSeconds",
      task: stepTask("probe", "check", { ResultPath: "$.p" }),
      until: [
        { Variable: "$.p.ready", BooleanEquals: true, Next: "Ready" },
        { Variable: "$.p.skipped", IsPresent: true, Next: "Skipped" },
      ],
    });
    expect(loop.W).toEqual({ Type: "Wait", SecondsPath: "$.params.pollSeconds", Next: "C" });
    expect(loop.D.Choices?.map((c) => c.Next)).toEqual(["Ready", "Skipped"]);
    expect(loop.D.Default).toBe("W");
  });

  it("refuses a poll loop that says neither or both of how long to wait and when it is done", () => {
    const task = stepTask("probe", "check", { ResultPath: "$.p" });
    const base = { wait: "W", check: "C", done: "D", task };
    expect(() => pollLoop({ ...base, donePath: "$.p.done", next: "N" })).toThrow(/seconds or secondsPath/);
    expect(() =>
      pollLoop({ ...base, seconds: 5, secondsPath: "$.s", donePath: "$.p.done", next: "N" }),
    ).toThrow(/seconds or secondsPath/);
    expect(() => pollLoop({ ...base, seconds: 5 })).toThrow(/donePath and next, or until/);
    expect(() =>
      pollLoop({ ...base, seconds: 5, donePath: "$.p.done", next: "N", until: [{ Next: "N" }] }),
    ).toThrow(/donePath and next, or until/);
  });

  it("compiles waitFor onto the poll loop: its Wait counts a round before calling the API again", () => {
    const states = waitFor("ec2:describeInstances", "$.Reservations[0].Instances[0].State.Name", "running", {
      name: "Up",
      params: {},
      timeout: 30,
      interval: 10,
      next: "Done",
    });
    // The loop's three states, as pollLoop builds them, with the round counter between Wait and call.
    expect(states.UpWait).toEqual({ Type: "Wait", Seconds: 10, Next: "UpCount" });
    expect(states.Up.Next).toBe("UpCheck");
    expect(states.UpCheck.Default).toBe("UpWait");
    expect(states.UpFirst.Next).toBe("Up");
    expect(states.UpNext.Next).toBe("Up");
    expect(states.UpCheck.Choices?.at(-1)).toMatchObject({ Next: "UpTimedOut" });
  });

  it("no state machine of a runbook writes a Wait state by hand: every poll is a pollLoop", () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const files = [
      ...readdirSync(here, { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith("state-machine.ts"))
        .map((f) => join(here, f)),
      join(here, "../../../../examples/runbooks/restart-service/index.ts"),
    ];
    expect(files.length).toBeGreaterThanOrEqual(5);
    const handWritten = files.filter((f) => /Type:\s*"Wait"/.test(readFileSync(f, "utf8")));
    expect(handWritten).toEqual([]);
  });

  it("sends a wait that fails or times out to the Catch's state when it has one", () => {
    const states = waitFor("ssm:getCommandInvocation", "$.Status", "Success", {
      name: "Await",
      params: {},
      timeout: 60,
      interval: 10,
      failOn: ["Failed"],
      catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Rollback" }],
      next: "Done",
    });
    expect(states.AwaitFailed).toMatchObject({ Type: "Pass", ResultPath: "$.error", Next: "Rollback" });
    expect(states.AwaitTimedOut).toMatchObject({
      Type: "Pass",
      Result: { Error: "WaitTimedOut" },
      Next: "Rollback",
    });
    expect(states.AwaitCheck.Choices?.[2]).toMatchObject({ Next: "AwaitTimedOut" });
  });
});

describe("runbooks that may need a person's approval", () => {
  // Plan → (a bypass to Act that skips the approval) → approval → Act.
  const plan = stepTask("probe", "plan", { Next: "Route" });
  const act = stepTask("probe", "doIt", {
    Catch: [{ ErrorEquals: ["States.ALL"], Next: "Undo" }],
    End: true,
  });
  const undo = stepTask("probe", "undo", { End: true });

  it("refuses a medium, high or riskFor runbook with no approval states, naming it", () => {
    for (const risky of [
      { risk: "medium" as const },
      { risk: "high" as const },
      { riskFor: () => "high" as const },
    ])
      expect(() => defineRunbook({ ...spec, ...risky })).toThrow(
        /stateMachine: risk .* can need a person's approval, but its state machine has no approval states: put approvalStates\('probe', …\)/,
      );
    const waits = {
      StartAt: "Plan",
      States: {
        Plan: stepTask("probe", "plan", { Next: "ApprovalNeeded" }),
        ...approvalStates("probe", "Do"),
        Do: act,
        Undo: undo,
      },
    };
    expect(defineRunbook({ ...spec, risk: "medium", stateMachine: waits }).steps).toEqual([
      "plan",
      "doIt",
      "undo",
    ]);
  });

  it("lets a pending run take only the steps on the way to an approval wait: none without approval states, none on a bypass", () => {
    expect([...Runbooks.stepsBeforeApproval(spec.stateMachine)]).toEqual([]);
    const bypass = {
      StartAt: "Plan",
      States: {
        Plan: plan,
        Route: {
          Type: "Choice" as const,
          Choices: [{ Variable: "$.skip", BooleanEquals: true, Next: "Do" }],
          Default: "ApprovalNeeded",
        },
        ...approvalStates("probe", "Do"),
        Do: act,
        Undo: undo,
      },
    };
    expect([...Runbooks.stepsBeforeApproval(bypass)]).toEqual(["plan"]);
  });

  it.each(Runbooks.list().map((r) => [r.name, r] as const))(
    "%s has approval states and lets a pending run take only its read-only planning steps",
    (_name, runbook) => {
      expect(Runbooks.hasApprovalWait(runbook.stateMachine)).toBe(true);
      for (const step of Runbooks.stepsBeforeApproval(runbook.stateMachine))
        expect(step).toMatch(/^(plan|check|readiness)/i);
    },
  );
});
