/** The reconciler closes runs whose end Reflex never heard of, and leaves live runs alone. */
import { Executions, Locks, Runs, Steps } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { runAndWait, startTestLocal } from "./support/local.ts";

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal();
});
afterAll(async () => local?.stop());

const trigger = { kind: "rule" as const, name: "r", actor: "rule:r" };

describe("Runs.reconcile", () => {
  it("closes a run that never reached Step Functions as ABORTED and frees its lock", async () => {
    const startedAt = new Date(Date.now() - 30 * 60_000);
    await Locks.acquire("asg:lost", "lost-run", 3_600_000, startedAt.getTime());
    await Executions.create(
      { id: "lost-run", runbook: "scale", dryRun: false, params: {}, trigger, locks: ["asg:lost"] },
      startedAt,
    );

    const closed = await Runs.reconcile({ olderThanMs: 10 * 60_000 });

    expect(closed).toContainEqual({ executionId: "lost-run", status: "ABORTED", reason: "ExecutionLost" });
    expect(await Executions.get("lost-run")).toMatchObject({
      status: "ABORTED",
      error: "ExecutionLost",
      attention: { completedSteps: [], inFlightSteps: [] },
    });
    expect(await Locks.holder("asg:lost")).toBeUndefined();
  });

  it("leaves runs younger than the threshold alone", async () => {
    await Executions.create({ id: "young-run", runbook: "scale", dryRun: false, params: {}, trigger });
    const closed = await Runs.reconcile({ olderThanMs: 10 * 60_000 });
    expect(closed.map((c) => c.executionId)).not.toContain("young-run");
    expect((await Executions.get("young-run")).status).toBe("RUNNING");
  });

  it("does not touch runs that ended normally", async () => {
    const run = await runAndWait(local, "backup-snapshot", { selector: { tag: { Role: "db" } } }, true);
    const closed = await Runs.reconcile({ olderThanMs: 0 });
    expect(closed.map((c) => c.executionId)).not.toContain(run.id);
    expect((await Executions.get(run.id)).status).toBe("SUCCEEDED");
  });

  it("frees a lock whose holder never existed, and one whose holder ended", async () => {
    await Locks.acquire("asg:ghost", "no-such-run", 3_600_000);
    await Executions.create({ id: "ended-run", runbook: "scale", dryRun: false, params: {}, trigger });
    await Executions.complete("ended-run", { status: "SUCCEEDED" });
    await Locks.acquire("asg:ended", "ended-run", 3_600_000);

    const out = await Runs.reconcile({ olderThanMs: 10 * 60_000 });

    expect(await Locks.holder("asg:ghost")).toBeUndefined();
    expect(await Locks.holder("asg:ended")).toBeUndefined();
    expect(out.map((o) => o.reason)).toEqual(
      expect.arrayContaining(["LockWithoutRun:asg:ghost", "LockOfEndedRun:asg:ended"]),
    );
  });

  it("removes a start that died holding its locks, but not one under way right now", async () => {
    const old = new Date(Date.now() - 30 * 60_000);
    await Executions.createStarting(
      { id: "dead-start", runbook: "scale", dryRun: false, params: {}, trigger, locks: ["asg:dead"] },
      old,
    );
    await Locks.acquire("asg:dead", "dead-start", 3_600_000, old.getTime());
    await Executions.createStarting({
      id: "live-start",
      runbook: "scale",
      dryRun: false,
      params: {},
      trigger,
      locks: ["asg:live"],
    });
    await Locks.acquire("asg:live", "live-start", 3_600_000);

    await Runs.reconcile({ olderThanMs: 10 * 60_000 });

    expect(await Locks.holder("asg:dead")).toBeUndefined();
    expect(await Executions.find("dead-start")).toBeUndefined();
    expect((await Locks.holder("asg:live"))?.owner).toBe("live-start");
    expect((await Executions.find("live-start"))?.status).toBe("STARTING");
  });

  it("reports what a lost backup left behind: its completed steps and its snapshots", async () => {
    const run = await runAndWait(local, "backup-snapshot", { selector: { tag: { Role: "db" } } });
    expect(run.status).toBe("SUCCEEDED");
    // The same snapshots, as if a run of another id had made them and then been lost.
    const lostAt = new Date(Date.now() - 30 * 60_000);
    await Executions.create(
      {
        id: run.id.replace(/.$/, "x"),
        runbook: "backup-snapshot",
        dryRun: false,
        params: run.params,
        trigger,
      },
      lostAt,
    );
    const inspected = await Steps.inspectLost({ ...run, id: run.id });

    const out = await Runs.reconcile({ olderThanMs: 10 * 60_000, inspectLost: Steps.inspectLost });

    expect(out.map((o) => o.executionId)).toContain(run.id.replace(/.$/, "x"));
    expect((inspected as { orphanedSnapshots: unknown[] }).orphanedSnapshots).toHaveLength(
      run.result.targets.flatMap((t: { snapshots: unknown[] }) => t.snapshots).length,
    );
    const lost = await Executions.get(run.id.replace(/.$/, "x"));
    expect(lost.attention?.report).toMatchObject({ orphanedSnapshots: [] });
  });
});
