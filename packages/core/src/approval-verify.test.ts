/**
 * The verify step after an approval wait, against the embedded DynamoDB: the approval record
 * decides, under the policy admission fixed on the run's record (never the request's copy of
 * it, which a writer of the APPROVAL# row could change). And the one conditional write that
 * decides a request: two writers who read the same version cannot both win.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { runWaitingForApproval } from "../../../test/support/approvals.ts";
import { startTestDynamo } from "../../../test/support/dynamo.ts";
import type { Storage } from "../../local/src/storage.ts";
import * as Approvals from "./approvals.ts";
import { useConfig, validateConfig } from "./config/load.ts";
import { approvalStates, stepTask } from "./runbooks/asl.ts";
import { defineRunbook } from "./runbooks/define.ts";
import * as ApprovalRecords from "./state/approvals.ts";
import * as Audit from "./state/audit.ts";

let storage: Storage;
beforeAll(async () => {
  storage = await startTestDynamo();
  useConfig(
    validateConfig({
      environment: "prod",
      access: {
        roles: { oncall: ["cli:alice"], sre: ["cli:carol", "cli:erin"] },
        allow: [
          { role: "oncall", runbooks: ["*"], actions: ["run"] },
          { role: "sre", runbooks: ["*"], actions: ["run", "approve"] },
        ],
      },
    }),
  );
});
afterAll(async () => storage.close());

const PLAN = {
  required: true,
  reasons: ["policy: medium risk in prod"],
  approvers: ["sre"],
  minApprovers: 2,
  deadlineSeconds: 300,
  selfApproval: false,
  requestedBy: "cli:alice",
};
let n = 0;

/** A run admitted with PLAN, and its request as the record holds it (possibly tampered with). */
async function waitingRun(request: Partial<ApprovalRecords.ApprovalRequest> = {}): Promise<string> {
  const id = `verify-${++n}`;
  await runWaitingForApproval(id, PLAN, request);
  return id;
}

const approve = (actor: string, at = new Date().toISOString()) => ({
  actor,
  answer: "approve" as const,
  at,
});

/** Writes answers the way answer() does, one conditional write each; the last one decides. */
async function answerAll(id: string, actors: string[]): Promise<void> {
  for (const [i, actor] of actors.entries()) {
    const req = (await ApprovalRecords.find(id))!;
    const last = i === actors.length - 1;
    const at = new Date().toISOString();
    expect(
      await ApprovalRecords.decide(req, {
        answer: approve(actor, at),
        status: last ? "APPROVED" : "PENDING",
        decision: last ? { outcome: "approve", by: actor, at } : undefined,
      }),
    ).toBe(true);
  }
}

const verify = (id: string) => Approvals.verify({ runbook: "scale", input: { execution: { id } } });

describe("the verify step after an approval wait", () => {
  it("lets the run go on when enough valid approvers approved", async () => {
    const id = await waitingRun();
    await answerAll(id, ["cli:carol", "cli:erin"]);
    await expect(verify(id)).resolves.toMatchObject({ approvedBy: ["cli:carol", "cli:erin"] });
  });

  it("fails a run whose request is still pending (the token was answered outside Reflex), audited", async () => {
    const id = await waitingRun();
    const err = await verify(id).catch((e: Error) => e);
    expect(err).toMatchObject({ name: "ApprovalNotRecorded" });
    expect((err as Error).message).toMatch(/^approval not recorded: the request is PENDING/);
    const audit = await Audit.forExecution(id);
    expect(audit.map((a) => a.kind)).toContain("approval.unverified");
  });

  it("counts approvers under the run's policy, not the request's copy (minApprovers lowered to 1 in the row)", async () => {
    const id = await waitingRun({ minApprovers: 1 });
    await answerAll(id, ["cli:carol"]);
    await expect(verify(id)).rejects.toThrow(/approval not recorded: 1 of 2 required approvals are valid/);
  });

  it("does not count a non-approver or the requester, even when the row names them approvers", async () => {
    const id = await waitingRun({ approvers: ["oncall"], selfApproval: true, requestedBy: "cli:bob" });
    await answerAll(id, ["cli:mallory", "cli:alice"]);
    await expect(verify(id)).rejects.toThrow(
      /approval not recorded: cli:alice, who decided it, may not approve it/,
    );
  });

  it("fails a request closed by a rejection or an abort", async () => {
    const id = await waitingRun();
    const req = (await ApprovalRecords.find(id))!;
    const at = new Date().toISOString();
    await ApprovalRecords.decide(req, {
      status: "CLOSED",
      decision: { outcome: "abort", by: "cli:alice", at },
    });
    await expect(verify(id)).rejects.toThrow(/approval not recorded: the request is CLOSED/);
  });
});

describe("one conditional write decides a request", () => {
  it("of two writers who read the same version, exactly one wins; the record names it", async () => {
    const id = await waitingRun({ minApprovers: 1 });
    const read = (await ApprovalRecords.find(id))!;
    const at = new Date().toISOString();
    const [carol, erin] = await Promise.all([
      ApprovalRecords.decide(read, {
        answer: approve("cli:carol", at),
        status: "APPROVED",
        decision: { outcome: "approve", by: "cli:carol", at },
      }),
      ApprovalRecords.decide(read, {
        answer: { actor: "cli:erin", answer: "reject", comment: "no", at },
        status: "REJECTED",
        decision: { outcome: "reject", by: "cli:erin", at },
      }),
    ]);
    const after = (await ApprovalRecords.find(id))!;
    expect([carol, erin].filter(Boolean)).toHaveLength(1);
    expect(after.answers).toHaveLength(1);
    expect(after.decision?.by).toBe(carol ? "cli:carol" : "cli:erin");
    expect(after.status).toBe(carol ? "APPROVED" : "REJECTED");
  });

  it("a writer whose read is stale loses even when the first write did not decide (1 of 2)", async () => {
    const id = await waitingRun();
    const read = (await ApprovalRecords.find(id))!;
    expect(await ApprovalRecords.decide(read, { answer: approve("cli:carol"), status: "PENDING" })).toBe(
      true,
    );
    // erin read before carol's answer landed: she must re-read (and then decide with 2 of 2).
    expect(await ApprovalRecords.decide(read, { answer: approve("cli:erin"), status: "PENDING" })).toBe(
      false,
    );
    const fresh = (await ApprovalRecords.find(id))!;
    expect(fresh.answers.map((a) => a.actor)).toEqual(["cli:carol"]);
    expect(fresh.version).toBe(1);
  });

  it("a run ending closes a pending request without overwriting a decision", async () => {
    const id = await waitingRun({ minApprovers: 1 });
    await answerAll(id, ["cli:carol"]);
    expect(await ApprovalRecords.close(id, "TIMED_OUT")).toBe(false);
    expect((await ApprovalRecords.find(id))?.decision).toMatchObject({ outcome: "approve", by: "cli:carol" });
  });
});

describe("a runbook's approval", () => {
  const spec = (states: Record<string, unknown>) => ({
    name: "probe",
    summary: "A probe",
    risk: "high" as const,
    params: z.object({}),
    example: {},
    cap: { maxTargets: 1 },
    permissions: [],
    rollback: ["undo"],
    dryRun: "Nothing.",
    implementation: async () => ({ steps: { doIt: async () => ({}), undo: async () => ({}) } }),
    stateMachine: {
      StartAt: "ApprovalNeeded",
      States: {
        ...states,
        Do: stepTask("probe", "doIt", { Catch: [{ ErrorEquals: ["States.ALL"], Next: "Undo" }], End: true }),
        Undo: stepTask("probe", "undo", { End: true }),
      },
    } as never,
  });

  it("is verified by a step the runbook does not implement itself", () => {
    const runbook = defineRunbook(spec(approvalStates("probe", "Do")));
    expect(runbook.steps).toEqual(["doIt", "undo"]);
    expect(runbook.stateMachine.States.ApprovalWait.Next).toBe("ApprovalVerify");
    expect(runbook.stateMachine.States.ApprovalVerify).toMatchObject({
      Parameters: { runbook: "probe", step: "verifyApproval" },
      Next: "Do",
    });
  });

  it("is refused when its wait skips the verify step, or the verify step catches its failure", () => {
    const states = approvalStates("probe", "Do");
    const skipping = { ...states, ApprovalWait: { ...states.ApprovalWait, Next: "Do" } };
    expect(() => defineRunbook(spec(skipping))).toThrow(/must be followed by its 'verifyApproval' step/);
    const catching = {
      ...states,
      ApprovalVerify: { ...states.ApprovalVerify, Catch: [{ ErrorEquals: ["States.ALL"], Next: "Do" }] },
    };
    expect(() => defineRunbook(spec(catching))).toThrow(/must be followed by its 'verifyApproval' step/);
    const passing = {
      ...states,
      ApprovalVerify: { ...states.ApprovalVerify, Type: "Pass", Resource: undefined },
    };
    expect(() => defineRunbook(spec(passing))).toThrow(/must be followed by its 'verifyApproval' step/);
    // Nor may an error sent with the token lead anywhere but to the run's end.
    const around = {
      ...states,
      ApprovalWait: { ...states.ApprovalWait, Catch: [{ ErrorEquals: ["States.ALL"], Next: "Do" }] },
    };
    expect(() => defineRunbook(spec(around))).toThrow(/may only catch into a Fail state, not 'Do'/);
  });
});
