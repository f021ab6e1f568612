/**
 * The Slack notifier posts what arrives on Reflex's bus, and whoever may `events:PutEvents` to
 * that bus (not only Reflex: any role allowed PutEvents on `*`) can send `source: reflex`. An
 * approval request is what an approver reads before pressing Approve, so its message is built
 * from the approval record, never from the event: a forged "Approval Requested" with a soothing
 * plan for a real waiting run, or for a run that waits for nothing, posts nothing.
 */
import { ChatOps, Executions } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, startTestLocal } from "./support/local.ts";

const FORGED = "routine read-only check, safe to approve";
const FORGED_ANSWER = "approved in the incident call";

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal({
    environment: "prod", // scale waits for a person
    chatops: { channel: "C0NCALL" },
  });
});
afterAll(async () => local?.stop());

const forgedRequest = (executionId: string) => ({
  executionId,
  runbook: "scale",
  requestedBy: "slack:U0BOSS",
  approvers: [],
  deadline: new Date(Date.now() + 3_600_000).toISOString(),
  reasons: [FORGED],
  plan: { summary: FORGED },
});

const approvalMessages = (id: string) =>
  local.outbox
    .list({ limit: 1000 })
    .filter((m) => m.kind === "message" && m.text.includes(id) && m.text.includes("waits for approval"));

describe("a forged Approval Requested or Answered on the bus", () => {
  it("for a real waiting run: the one approval message is Reflex's, built from the record", async () => {
    const run = await api(local, "POST", "/api/runbooks/scale/executions", {
      params: { autoScalingGroup: "web", change: "+1" },
    });
    expect(run.status).toBe(202);
    const id = run.body.executionId as string;
    for (let i = 0; i < 400 && approvalMessages(id).length === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(approvalMessages(id)).toHaveLength(1);

    await ChatOps.Notifier.notify("Reflex Approval Requested", forgedRequest(id));

    expect(JSON.stringify(local.outbox.list({ limit: 1000 }))).not.toContain(FORGED);
    expect(approvalMessages(id)).toHaveLength(1);

    // Nor is an answer nobody gave shown as given: the buttons stay.
    const ts = approvalMessages(id)[0].ts;
    await ChatOps.Notifier.notify("Reflex Approval Answered", {
      executionId: id,
      runbook: "scale",
      answer: "approve",
      by: "U0BOSS",
      status: "APPROVED",
      comment: FORGED_ANSWER,
    });
    const message = local.outbox.list({ limit: 1000 }).find((m) => m.kind === "message" && m.ts === ts);
    expect(message?.edits ?? []).toEqual([]);
    expect(JSON.stringify(local.outbox.list({ limit: 1000 }))).not.toContain(FORGED_ANSWER);
    await api(local, "POST", `/api/executions/${id}/reject`, { reason: "test done" });
    await local.idle();
  });

  it("for a run that waits for nothing: no message with Approve buttons", async () => {
    await Executions.create({
      id: "scale-forged-request-1",
      runbook: "scale",
      dryRun: false,
      params: { autoScalingGroup: "web", change: "+1" },
      trigger: { kind: "manual", actor: "cli:alice" },
    });

    await ChatOps.Notifier.notify("Reflex Approval Requested", forgedRequest("scale-forged-request-1"));

    expect(JSON.stringify(local.outbox.list({ limit: 1000 }))).not.toContain(FORGED);
    expect(approvalMessages("scale-forged-request-1")).toEqual([]);
  });
});
