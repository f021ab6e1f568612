import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../test/support/dynamo.ts";
import type { Storage } from "../../../local/src/storage.ts";
import { ConflictError } from "../errors.ts";
import * as Audit from "./audit.ts";
import * as Executions from "./executions.ts";
import * as Locks from "./locks.ts";

let storage: Storage;
beforeAll(async () => {
  storage = await startTestDynamo();
});
afterAll(async () => storage.close());

const trigger = { kind: "manual" as const, actor: "test" };

describe("executions", () => {
  it("creates a run once and refuses a second with the same id", async () => {
    await Executions.create({ id: "run-1", runbook: "backup-snapshot", dryRun: false, params: {}, trigger });
    await expect(
      Executions.create({ id: "run-1", runbook: "backup-snapshot", dryRun: false, params: {}, trigger }),
    ).rejects.toBeInstanceOf(ConflictError);
  });

  it("closes a run exactly once, however often the status arrives", async () => {
    await Executions.create({ id: "run-2", runbook: "backup-snapshot", dryRun: false, params: {}, trigger });
    const first = await Executions.complete("run-2", { status: "SUCCEEDED" });
    const second = await Executions.complete("run-2", { status: "FAILED", error: "Late" });
    expect(first?.status).toBe("SUCCEEDED");
    expect(second).toBeUndefined();
    expect((await Executions.get("run-2")).status).toBe("SUCCEEDED");
  });

  it("records steps and merges results into the run", async () => {
    await Executions.create({
      id: "run-3",
      runbook: "backup-snapshot",
      dryRun: true,
      params: { a: 1 },
      trigger,
    });
    const startedAt = new Date();
    const step = { state: "plan", step: "plan" };
    const sk = Executions.stepKey(step, startedAt);
    await Executions.startStep("run-3", sk, step, startedAt);
    expect((await Executions.describe("run-3")).steps).toMatchObject([{ step: "plan", status: "RUNNING" }]);
    await Executions.endStep("run-3", sk, step, { status: "SUCCEEDED", output: { n: 2 }, startedAt });
    const quick = { state: "report", step: "report" };
    await Executions.endStep("run-3", Executions.stepKey(quick, new Date()), quick, {
      status: "SUCCEEDED",
      startedAt: new Date(),
    });
    await Executions.setResult("run-3", { plan: { n: 2 } });
    await Executions.setResult("run-3", { summary: "ok" });
    const run = await Executions.describe("run-3");
    expect(run.steps).toMatchObject([
      { step: "plan", status: "SUCCEEDED", output: { n: 2 } },
      { step: "report", status: "SUCCEEDED", state: "report" },
    ]);
    expect(run.result).toEqual({ plan: { n: 2 }, summary: "ok" });
  });

  it("lists runs newest first", async () => {
    await Executions.create(
      { id: "old", runbook: "x", dryRun: false, params: {}, trigger },
      new Date("2020-01-01T00:00:00Z"),
    );
    await Executions.create(
      { id: "new", runbook: "x", dryRun: false, params: {}, trigger },
      new Date("2030-01-01T00:00:00Z"),
    );
    const { executions } = await Executions.list({ runbook: "x" });
    expect(executions.map((e) => e.id)).toEqual(["new", "old"]);
  });
});

describe("locks", () => {
  it("lets one holder in and keeps the other out", async () => {
    expect(await Locks.acquire("asg:web", "a", 60_000, 1_000)).toBe(true);
    expect(await Locks.acquire("asg:web", "b", 60_000, 2_000)).toBe(false);
    expect((await Locks.holder("asg:web", 2_000))?.owner).toBe("a");
  });

  it("is reclaimable once the holder's lease has run out", async () => {
    expect(await Locks.acquire("asg:db", "dead", 10_000, 1_000)).toBe(true);
    expect(await Locks.acquire("asg:db", "alive", 10_000, 11_001)).toBe(true);
    expect(await Locks.release("asg:db", "dead")).toBe(false);
    expect(await Locks.release("asg:db", "alive")).toBe(true);
    expect(await Locks.holder("asg:db")).toBeUndefined();
  });
});

describe("audit", () => {
  it("pages the trail newest first across days", async () => {
    for (let d = 1; d <= 3; d++) {
      for (let i = 0; i < 2; i++) {
        await Audit.record(
          { kind: "test", actor: "t", reason: `d${d}-${i}` },
          new Date(`2026-03-0${d}T10:0${i}:00Z`),
        );
      }
    }
    const now = new Date("2026-03-03T23:00:00Z");
    const first = await Audit.list({ limit: 4, now });
    const second = await Audit.list({ limit: 4, cursor: first.next, now });
    expect(first.entries.map((e) => e.reason)).toEqual(["d3-1", "d3-0", "d2-1", "d2-0"]);
    expect(second.entries.map((e) => e.reason)).toEqual(["d1-1", "d1-0"]);
  });

  it("indexes entries about an execution under it", async () => {
    await Audit.record({ kind: "execution.started", actor: "t", reason: "go", executionId: "run-9" });
    expect((await Audit.forExecution("run-9")).map((e) => e.reason)).toEqual(["go"]);
  });
});
