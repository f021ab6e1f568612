/**
 * Human approvals and abort through the real local engine: a scale in `prod` (medium risk)
 * waits for a person; approve, reject, deadline, self-approval, non-approver, double answer,
 * a restart while waiting; graceful abort of a backup mid-way and abort now.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConfigInput, validateConfig } from "@reflex/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { type LocalMode, startLocal } from "../packages/local/src/local-mode.ts";
import { apiAs as call, runAs, startTestLocal } from "./support/local.ts";
import { waitFor } from "./support/wait.ts";

const CONFIG: ConfigInput = {
  environment: "prod",
  access: {
    roles: { oncall: ["cli:alice", "cli:bob"], sre: ["cli:carol", "cli:erin"], viewer: ["cli:dave"] },
    allow: [
      { role: "oncall", runbooks: ["*"], actions: ["run", "dry-run", "abort"] },
      { role: "sre", runbooks: ["*"], actions: ["run", "dry-run", "approve", "abort", "override-freeze"] },
    ],
  },
  // Longer than any test here takes to answer, however loaded the machine: a test that answers
  // must never race the deadline (CI once got a 409 when a 4 s deadline ran out before the
  // approval reached the run). The deadline's own test gets a short one, and nothing to race.
  approvals: { deadline: "30m" },
};

// The viewer reads the runs.
const show = (local: LocalMode, id: string) => runAs(local, "cli:dave").show(id);
const waiting = (local: LocalMode, id: string) => runAs(local, "cli:dave").waiting(id);
const ended = (local: LocalMode, id: string) => runAs(local, "cli:dave").ended(id);
const desired = (local: LocalMode) =>
  local.cloud.autoScalingGroups("us-east-1").find((g) => g.AutoScalingGroupName === "web")!.DesiredCapacity;
const setCapacityCalls = (local: LocalMode) =>
  local.cloud.calls.filter((c) => c.operation === "SetDesiredCapacity" && c.mutating);

async function startScale(local: LocalMode, as = "cli:alice", change = "+1") {
  const res = await call(local, as, "POST", "/api/runbooks/scale/executions", {
    params: { autoScalingGroup: "web", change },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.body.approval).toMatchObject({ required: true, approvers: ["sre"] });
  return res.body.executionId as string;
}

describe("approvals", () => {
  let local: LocalMode;
  beforeAll(async () => {
    local = await startTestLocal(CONFIG);
  });
  afterAll(async () => local?.stop());

  it("waits for approval, then makes the change, audited with the approver", async () => {
    const before = desired(local);
    const calls = setCapacityCalls(local).length;
    const id = await startScale(local);
    await waiting(local, id);
    const pending = await call(local, "cli:carol", "GET", "/api/approvals?mine=1");
    expect(pending.body.approvals.map((a: any) => a.executionId)).toContain(id);
    expect(pending.body.approvals[0]).not.toHaveProperty("token");
    expect(setCapacityCalls(local)).toHaveLength(calls); // nothing changed while waiting

    const approvedAt = Date.now();
    const answer = await call(local, "cli:carol", "POST", `/api/executions/${id}/approve`, { comment: "go" });
    const run = await ended(local, id);

    expect(answer).toMatchObject({ status: 200, body: { status: "APPROVED" } });
    expect(run.body.status).toBe("SUCCEEDED");
    expect(desired(local)).toBe((before ?? 0) + 1);
    expect(
      setCapacityCalls(local)
        .slice(calls)
        .every((c) => c.at >= approvedAt),
    ).toBe(true);
    expect(run.body.audit).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: "approval.approved", actor: "cli:carol" })]),
    );
  });

  it("rejects: nothing changes and the run ends ABORTED with the reason", async () => {
    const before = desired(local);
    const id = await startScale(local);
    await waiting(local, id);
    const answer = await call(local, "cli:erin", "POST", `/api/executions/${id}/reject`, {
      reason: "not now",
    });
    const run = await ended(local, id);
    expect(answer.status).toBe(200);
    expect(run.body).toMatchObject({ status: "ABORTED", error: "ApprovalRejected" });
    expect(run.body.cause).toContain("not now");
    expect(desired(local)).toBe(before);
  });

  it("refuses self-approval and non-approvers (403, audited), a second answer (409), unknown runs (404)", async () => {
    const id = await startScale(local, "cli:carol");
    await waiting(local, id);

    const self = await call(local, "cli:carol", "POST", `/api/executions/${id}/approve`, {});
    const outsider = await call(local, "cli:bob", "POST", `/api/executions/${id}/approve`, {});
    const first = await call(local, "cli:erin", "POST", `/api/executions/${id}/approve`, {});
    const twice = await call(local, "cli:erin", "POST", `/api/executions/${id}/approve`, {});
    const unknown = await call(local, "cli:erin", "POST", "/api/executions/no-such-run/approve", {});
    await ended(local, id);
    const audit = (await show(local, id)).body.audit as Array<{ kind: string; actor: string }>;

    expect(self.status).toBe(403);
    expect(self.body.error.message).toMatch(/may not approve/);
    expect(outsider.status).toBe(403);
    expect(first.status).toBe(200);
    expect(twice.status).toBe(409);
    expect(unknown.status).toBe(404);
    expect(
      audit
        .filter((a) => a.kind === "approval.refused")
        .map((a) => a.actor)
        .sort(),
    ).toEqual(["cli:bob", "cli:carol"]);
  });

  it("refuses a start by someone without the role (403, audited with the actor)", async () => {
    const res = await call(local, "cli:dave", "POST", "/api/runbooks/scale/executions", {
      params: { autoScalingGroup: "web", change: "+1" },
    });
    const audit = await call(local, "cli:dave", "GET", "/api/audit?limit=5");
    expect(res.status).toBe(403);
    expect(audit.body.entries[0]).toMatchObject({
      kind: "start.refused",
      actor: "cli:dave",
      guardrail: "access",
    });
  });
});

describe("the approval deadline", () => {
  let local: LocalMode;
  beforeAll(async () => {
    // The shortest deadline there is; the test does not answer, so nothing races it.
    local = await startTestLocal({ ...CONFIG, approvals: { deadline: "1s" } });
  });
  afterAll(async () => local?.stop());

  it("ends at the deadline as the policy says (reject), changing nothing", async () => {
    const before = desired(local);
    const id = await startScale(local);
    const run = await ended(local, id);
    const late = await call(local, "cli:carol", "POST", `/api/executions/${id}/approve`, {});

    // It waited (its request is written before its wait can end), then the deadline ended it.
    expect(run.body.audit).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: "approval.requested" })]),
    );
    expect(run.body).toMatchObject({ status: "ABORTED", error: "ApprovalTimedOut" });
    expect(desired(local)).toBe(before);
    expect(late.status).toBe(409);
  });
});

describe("a run waiting for approval across a restart", () => {
  const dirs: string[] = [];
  let local: LocalMode | undefined;
  afterEach(async () => {
    await local?.stop();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("survives `reflex start` being restarted and can then be approved", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reflex-approval-"));
    dirs.push(dir);
    const config = validateConfig(CONFIG);
    const open = () =>
      startLocal({
        config,
        port: 0,
        dataDir: dir,
        quiet: true,
        waitMs: 20,
        scheduler: false,
        snapshotDurationMs: 150,
      });
    local = await open();
    const id = await startScale(local);
    await waiting(local, id);
    await local.stop();

    local = await open();
    expect((await show(local, id)).body.status).toBe("WAITING_FOR_APPROVAL");
    const before = desired(local);
    const answer = await call(local, "cli:carol", "POST", `/api/executions/${id}/approve`, {});
    const run = await ended(local, id);

    expect(answer.status).toBe(200);
    expect(run.body.status).toBe("SUCCEEDED");
    expect(desired(local)).toBe((before ?? 0) + 1);
  });
});

describe("abort", () => {
  let local: LocalMode;
  beforeAll(async () => {
    // Snapshots take a while, so a 12-instance backup is still mid-way when aborted.
    local = await startLocal({
      config: validateConfig(CONFIG),
      port: 0,
      quiet: true,
      dataDir: null,
      waitMs: 20,
      scheduler: false,
      cloud: SimulatedCloud.seeded({ snapshotDurationMs: 60_000 }),
    });
  });
  afterAll(async () => local?.stop());

  it("gracefully stops a 12-instance backup mid-way: no half-made snapshot, no held lock", async () => {
    const started = await call(local, "cli:alice", "POST", "/api/runbooks/backup-snapshot/executions", {
      params: { selector: { tag: { "reflex:managed": "true" } } },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = started.body.executionId;
    // Mid-way: some snapshots exist, the run is still going.
    await waitFor(
      () =>
        Promise.resolve(local.cloud.snapshots().filter((s) => s.Tags?.some((t) => t.Value === id)).length),
      (n) => n > 0,
    );
    const abort = await call(local, "cli:bob", "POST", `/api/executions/${id}/abort`, {
      reason: "wrong selector",
    });
    const run = await ended(local, id);
    const mine = local.cloud.snapshots().filter((s) => s.Tags?.some((t) => t.Value === id));
    const locks = await call(local, "cli:bob", "GET", "/api/locks");

    expect(abort).toMatchObject({ status: 202, body: { mode: "graceful", rollback: "will run" } });
    expect(run.body).toMatchObject({ status: "ABORTED", error: "RunAborted" });
    expect(run.body.cause).toContain("wrong selector");
    expect(mine.filter((s) => s.State === "pending")).toEqual([]);
    expect(locks.body.locks).toEqual([]);
    expect(run.body.audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: "execution.abort-requested", actor: "cli:bob" }),
      ]),
    );
  });

  it("--now stops at once, says rollback was skipped, and the run ends ABORTED", async () => {
    const started = await call(local, "cli:alice", "POST", "/api/runbooks/backup-snapshot/executions", {
      params: { selector: { tag: { Role: "db" } } },
    });
    const id = started.body.executionId;
    const abort = await call(local, "cli:alice", "POST", `/api/executions/${id}/abort`, {
      reason: "stop",
      now: true,
    });
    const run = await ended(local, id);
    const again = await call(local, "cli:alice", "POST", `/api/executions/${id}/abort`, { reason: "stop" });

    expect(abort).toMatchObject({ status: 202, body: { mode: "now", rollback: "skipped" } });
    expect(run.body.status).toBe("ABORTED");
    expect(again.status).toBe(409);
  });
});
