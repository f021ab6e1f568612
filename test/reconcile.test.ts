/** The reconciler closes runs whose end Reflex never heard of, and leaves live runs alone. */
import { Executions, Locks, Runs } from "@reflex/core";
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
    expect(await Executions.get("lost-run")).toMatchObject({ status: "ABORTED", error: "ExecutionLost" });
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
});
