/**
 * A retried approval-request step after the request was decided (issue 17's leftovers). The
 * step runs as the step worker, which may not send task answers (states:SendTask* is the API's
 * and the ChatOps worker's alone, stacks/policy-matrix.test.ts): deployed, its answer to the
 * new wait is refused, and the step must fail closed with an error that says what happened.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runWaitingForApproval } from "../../../test/support/approvals.ts";
import { startTestDynamo } from "../../../test/support/dynamo.ts";
import type { Storage } from "../../local/src/storage.ts";
import * as Approvals from "./approvals.ts";
import { useConfig, validateConfig } from "./config/load.ts";
import * as ApprovalRecords from "./state/approvals.ts";

let storage: Storage;
beforeAll(async () => {
  storage = await startTestDynamo();
  useConfig(validateConfig({ environment: "prod" }));
});
afterAll(async () => storage.close());

const sfn = mockClient(SFNClient);
afterEach(() => sfn.reset());

const PLAN = {
  required: true,
  reasons: ["policy: medium risk in prod"],
  approvers: ["sre"],
  minApprovers: 1,
  deadlineSeconds: 300,
  selfApproval: false,
  requestedBy: "cli:alice",
};
let n = 0;

async function decidedRun(outcome: "approve" | "reject"): Promise<string> {
  const id = `retry-${++n}`;
  await runWaitingForApproval(id, PLAN, { token: "first-token" });
  const at = new Date().toISOString();
  expect(
    await ApprovalRecords.decide(
      { executionId: id, version: 0 },
      {
        answer: { actor: "cli:carol", answer: outcome, at },
        status: outcome === "approve" ? "APPROVED" : "REJECTED",
        decision: { outcome, by: "cli:carol", at },
      },
    ),
  ).toBe(true);
  return id;
}

const retried = (id: string) =>
  Approvals.request({
    runbook: "scale",
    step: "requestApproval",
    taskToken: "second-token",
    state: "CapacityApprovalWait",
    input: { execution: { id } },
  });

const accessDenied = () =>
  Object.assign(new Error("not authorized to perform: states:SendTaskSuccess"), {
    name: "AccessDeniedException",
    $fault: "client",
  });

describe("a retried approval request after the decision", () => {
  it("fails closed, naming the decision, when the step worker may not answer the new wait", async () => {
    const id = await decidedRun("approve");
    sfn.on(SendTaskSuccessCommand).rejects(accessDenied());

    const error = await retried(id).then(
      () => undefined,
      (e: Error) => e,
    );

    expect(error?.name).toBe("ApprovalAlreadyDecided");
    expect(error?.message).toMatch(/already approved by cli:carol/);
    expect(error?.message).toMatch(/states:SendTask/);
    expect((await ApprovalRecords.find(id))?.status).toBe("APPROVED");
  });

  it("fails closed the same way for a rejected request", async () => {
    const id = await decidedRun("reject");
    sfn.on(SendTaskFailureCommand).rejects(accessDenied());

    await expect(retried(id)).rejects.toMatchObject({
      name: "ApprovalAlreadyDecided",
      message: expect.stringMatching(/already rejected by cli:carol/),
    });
  });

  it("answers the new wait from the decision where the answer may be sent (local mode's engine)", async () => {
    const id = await decidedRun("approve");
    sfn.on(SendTaskSuccessCommand).resolves({});

    await retried(id);

    expect(sfn.commandCalls(SendTaskSuccessCommand)[0].args[0].input).toMatchObject({
      taskToken: "second-token",
    });
  });
});
