/**
 * An answer that races the approval's deadline, through the real local engine and HTTP server.
 * The race is made deterministic by holding the engine's status event (the one that closes
 * the run): the wait has timed out in the engine, the run is not yet closed, and only then
 * does the answer come. Whatever the order, the approval record, the audit and the run agree:
 * the run ends ABORTED `ApprovalTimedOut`, the record says TIMED_OUT and names the late answer
 * as one that did not count, the audit has `approval.expired` after the answer, and the
 * person is told so (409 `wait_ended`).
 */
import { Approvals, type ConfigInput } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ApprovalRecords from "../packages/core/src/state/approvals.ts";
import { main } from "../packages/local/src/cli/main.ts";
import type { StatusChangeEvent } from "../packages/local/src/engine/local-sfn.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { apiAs as call, startTestLocal } from "./support/local.ts";
import { postSlack } from "./support/slack.ts";
import { waitFor } from "./support/wait.ts";

const CONFIG: ConfigInput = {
  environment: "prod",
  access: {
    roles: { oncall: ["cli:alice"], sre: ["cli:carol", "cli:erin", "U789"], viewer: ["cli:dave"] },
    allow: [
      { role: "oncall", runbooks: ["*"], actions: ["run", "dry-run", "abort"] },
      { role: "sre", runbooks: ["*"], actions: ["run", "dry-run", "approve", "abort"] },
    ],
  },
  approvals: { deadline: "1s", minApprovers: 1 },
  chatops: { channel: "C0NCALL" },
};
const SECRET = "deadline-signing-secret";

/** A button click as Slack sends it, signed. */
async function click(local: LocalMode, user: string, action: "approve" | "reject", executionId: string) {
  const body = new URLSearchParams({
    payload: JSON.stringify({
      type: "block_actions",
      user: { id: user },
      channel: { id: "C0NCALL" },
      response_url: `https://hooks.slack.com/actions/T1/${user}/${executionId}`,
      actions: [{ action_id: `reflex.${action}`, value: executionId }],
    }),
  }).toString();
  const res = await postSlack(local.url, "interactions", body, SECRET);
  return res.status;
}

/** `reflex <args>` in-process against the local server: exit code and what it printed. */
async function reflex(local: LocalMode, ...args: string[]) {
  const lines: string[] = [];
  const code = await main([...args, "--url", local.url], {
    out: (s) => lines.push(s),
    err: (s) => lines.push(s),
    colour: false,
    tty: false,
  });
  return { code, text: lines.join("\n") };
}

const show = (local: LocalMode, id: string) => call(local, "cli:dave", "GET", `/api/executions/${id}`);
/** Closed ABORTED, and its close audited (the audit lands through a queue, after the record). */
const closedAndAudited = (e: { body: any }) =>
  e.body.status === "ABORTED" && e.body.audit.some((a: { kind: string }) => a.kind === "execution.aborted");

/**
 * Holds the engine's "execution ended" events: the run has ended in Step Functions (here, its
 * approval wait timed out) and is not closed in Reflex until the test releases it.
 */
function holdCloses(local: LocalMode) {
  const options = (
    local.engine as unknown as {
      options: { onStatusChange: (e: StatusChangeEvent) => Promise<void> | void };
    }
  ).options;
  const deliver = options.onStatusChange;
  const held = new Map<string, { event: StatusChangeEvent; release: () => void }>();
  options.onStatusChange = (event) =>
    new Promise<void>((resolve, reject) => {
      held.set(event.detail.name, {
        event,
        release: () => Promise.resolve(deliver(event)).then(resolve, reject),
      });
    });
  return {
    /** The held event of run `id`, once its execution has ended in the engine. */
    ended: (id: string) =>
      waitFor(
        () => held.get(id),
        (h) => h !== undefined,
      ).then((h) => h as { event: StatusChangeEvent; release: () => void }),
    restore: () => {
      options.onStatusChange = deliver;
      for (const h of held.values()) h.release();
    },
  };
}

async function startScale(local: LocalMode): Promise<string> {
  const web = local.cloud.autoScalingGroups("us-east-1").find((g) => g.AutoScalingGroupName === "web")!;
  const change = (web.DesiredCapacity ?? 0) < (web.MaxSize ?? 0) ? "+1" : "-1";
  const res = await call(local, "cli:alice", "POST", "/api/runbooks/scale/executions", {
    params: { autoScalingGroup: "web", change },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.executionId as string;
}

describe("an answer that races the approval's deadline", () => {
  let local: LocalMode;
  let hold: ReturnType<typeof holdCloses>;
  beforeAll(async () => {
    process.env.SLACK_SIGNING_SECRET = SECRET;
    local = await startTestLocal(CONFIG);
    hold = holdCloses(local);
  });
  afterAll(async () => {
    hold?.restore();
    await local?.stop();
    delete process.env.SLACK_SIGNING_SECRET;
  });

  it("an approval that reaches the run after its wait timed out does not count, and the record, the audit and the run say so", async () => {
    const id = await startScale(local);
    // The wait timed out in the engine; the run is still open in Reflex (its close is held).
    const timedOut = await hold.ended(id);
    expect(timedOut.event.detail.error).toBe("ApprovalTimedOut");
    expect((await show(local, id)).body.status).toBe("WAITING_FOR_APPROVAL");

    const late = await call(local, "cli:carol", "POST", `/api/executions/${id}/approve`, { comment: "go" });
    timedOut.release();
    const run = await waitFor(() => show(local, id), closedAndAudited);
    const record = await Approvals.find(id);
    const again = await call(local, "cli:erin", "POST", `/api/executions/${id}/approve`, {});

    // The person is told their approval did not count.
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe("wait_ended");
    expect(late.body.error.message).toMatch(/did not count/);
    // The run: timed out, nothing changed, and its cause names the late answer.
    expect(run.body).toMatchObject({ status: "ABORTED", error: "ApprovalTimedOut" });
    expect(run.body.cause).toMatch(/approved by cli:carol .*too late.*did not count/);
    expect(local.cloud.mutatingCalls().filter((c) => c.executionId === id)).toEqual([]);
    // The record: not APPROVED, and says why.
    expect(record?.status).toBe("TIMED_OUT");
    expect(record?.decision).toMatchObject({ outcome: "approve", by: "cli:carol" });
    expect(record?.expired?.reason).toMatch(/too late: the wait had ended at /);
    // The audit: the approval, then (once) that it expired, naming it.
    const kinds = (run.body.audit as Array<{ kind: string }>).map((a) => a.kind);
    const expired = (run.body.audit as Array<{ kind: string; reason: string }>).filter(
      (a) => a.kind === "approval.expired",
    );
    expect(expired).toHaveLength(1);
    expect(expired[0].reason).toMatch(/approved by cli:carol .*did not count/);
    expect(kinds.indexOf("approval.approved")).toBeLessThan(kinds.indexOf("approval.expired"));
    // A later answer is told the same.
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/too late/);
  });

  it("an approval decided before the run closes, but never delivered (its sender died), is marked expired when the timed-out run closes", async () => {
    const id = await startScale(local);
    const timedOut = await hold.ended(id);
    // What an answering process leaves when it dies after its decision (crash point
    // `approval:after-decide`): the record APPROVED, the run never told.
    const req = (await Approvals.find(id))!;
    const at = new Date().toISOString();
    const decided = await ApprovalRecords.decide(req, {
      answer: { actor: "cli:erin", answer: "approve", at },
      status: "APPROVED",
      decision: { outcome: "approve", by: "cli:erin", at },
    });
    expect(decided).toBe(true);

    timedOut.release();
    const run = await waitFor(() => show(local, id), closedAndAudited);
    const record = await Approvals.find(id);

    expect(run.body).toMatchObject({ status: "ABORTED", error: "ApprovalTimedOut" });
    expect(run.body.cause).toMatch(/approved by cli:erin .*did not count/);
    expect(record?.status).toBe("TIMED_OUT");
    expect(record?.expired?.reason).toMatch(/too late/);
    expect(
      (run.body.audit as Array<{ kind: string; reason: string }>).filter(
        (a) => a.kind === "approval.expired",
      ),
    ).toEqual([expect.objectContaining({ reason: expect.stringMatching(/approved by cli:erin/) })]);
    // In order: the request, the expiry, then the run's close.
    expect(
      (run.body.audit as Array<{ kind: string }>)
        .map((a) => a.kind)
        .filter((k) => ["approval.requested", "approval.expired", "execution.aborted"].includes(k)),
    ).toEqual(["approval.requested", "approval.expired", "execution.aborted"]);
  });

  it("a rejection that comes after the wait timed out is refused the same way", async () => {
    const id = await startScale(local);
    const timedOut = await hold.ended(id);
    const late = await call(local, "cli:carol", "POST", `/api/executions/${id}/reject`, { reason: "no" });
    timedOut.release();
    const run = await waitFor(() => show(local, id), closedAndAudited);
    const record = await Approvals.find(id);

    expect(late.status).toBe(409);
    expect(late.body.error.message).toMatch(/did not count/);
    expect(run.body).toMatchObject({ status: "ABORTED", error: "ApprovalTimedOut" });
    expect(record?.status).toBe("TIMED_OUT");
    expect(run.body.audit.map((a: { kind: string }) => a.kind)).toContain("approval.expired");
  });

  it("an answer after the timed-out run closed writes nothing on the record and is refused (409)", async () => {
    const id = await startScale(local);
    const timedOut = await hold.ended(id);
    timedOut.release();
    await waitFor(() => show(local, id), closedAndAudited);
    const late = await call(local, "cli:carol", "POST", `/api/executions/${id}/approve`, {});
    const record = await Approvals.find(id);

    expect(late.status).toBe(409);
    expect(record).toMatchObject({ status: "TIMED_OUT", answers: [] });
  });

  it("a Slack approval after the wait timed out is told it did not count; the run's thread and `reflex show` say the same", async () => {
    const id = await startScale(local);
    const timedOut = await hold.ended(id);
    expect(await click(local, "U789", "approve", id)).toBe(200);
    const reply = await waitFor(
      () =>
        local.outbox
          .list({ limit: 1000 })
          .find((e) => e.kind === "response" && e.responseUrl?.endsWith(`/U789/${id}`)),
      (r) => r !== undefined,
    );
    timedOut.release();
    const aborted = await waitFor(
      () =>
        local.outbox
          .list({ limit: 1000 })
          .find((e) => e.kind === "message" && e.text.includes(`${id} aborted`)),
      (m) => m !== undefined,
    );
    const thread = local.outbox.list({ thread: aborted!.thread_ts, limit: 1000 });
    const shown = await reflex(local, "show", id);
    const cli = await reflex(local, "approve", id, "--as", "cli:carol");

    expect(reply!.text).toMatch(/did not count/);
    expect(JSON.stringify(aborted!.blocks)).toMatch(/approved by slack:U789 .*too late.*did not count/);
    expect(thread.some((m) => /^approved by/.test(m.text))).toBe(false);
    expect(shown.code).toBe(0);
    expect(shown.text).toMatch(/approval\.expired/);
    expect(shown.text).toMatch(/too late/);
    expect(cli.code).toBe(1);
    expect(cli.text).toMatch(/too late.*did not count/);
  });
});
