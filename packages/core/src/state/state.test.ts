import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestDynamo } from "../../../../test/support/dynamo.ts";
import type { Storage } from "../../../local/src/storage.ts";
import { ConflictError } from "../errors.ts";
import * as Audit from "./audit.ts";
import { db } from "./db.ts";
import * as Executions from "./executions.ts";
import { takeRateSlot } from "./guardrails.ts";
import * as Locks from "./locks.ts";
import { tableName } from "./table.ts";

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

describe("rate slots", () => {
  const per = 3_600_000;
  const at = Date.parse("2026-12-07T10:00:00Z");
  const counted = async (runbook: string) =>
    (
      await db().send(
        new GetCommand({
          TableName: tableName(),
          Key: { pk: `RATE#${runbook}#${Math.floor(at / per)}`, sk: "RATE" },
          ConsistentRead: true,
        }),
      )
    ).Item?.count;
  /** `n` takes at once, and the UpdateItem requests they sent. */
  async function burst(runbook: string, runs: number, n: number) {
    const send = vi.spyOn(db(), "send");
    try {
      const got = await Promise.all(Array.from({ length: n }, () => takeRateSlot(runbook, runs, per, at)));
      const updates = send.mock.calls.filter(([c]) => c instanceof UpdateCommand).length;
      return { granted: got.filter(Boolean).length, updates };
    } finally {
      send.mockRestore();
    }
  }

  it("takes a burst's slots together: the first alone, the rest that waited in one write", async () => {
    expect(await burst("burst", 100, 12)).toEqual({ granted: 12, updates: 2 });
    expect(await counted("burst")).toBe(12);
  });

  it("never counts more than the limit: a burst that does not fit is taken one by one", async () => {
    expect((await burst("full", 5, 12)).granted).toBe(5);
    expect(await counted("full")).toBe(5);
    expect((await burst("full", 5, 3)).granted).toBe(0);
    expect(await counted("full")).toBe(5);
  });

  it("grants what is left of a window to a burst bigger than that", async () => {
    expect((await burst("left", 5, 1)).granted).toBe(1);
    expect((await burst("left", 5, 1)).granted).toBe(1);
    expect((await burst("left", 5, 1)).granted).toBe(1);
    expect((await burst("left", 5, 4)).granted).toBe(2);
    expect(await counted("left")).toBe(5);
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

  describe("around UTC midnight", () => {
    const at = (iso: string, reason: string) =>
      Audit.record({ kind: "test.midnight", actor: "t", reason }, new Date(iso));
    const reasons = async (now: string, since?: string) =>
      (
        await Audit.list({
          kind: "test.midnight",
          now: new Date(now),
          ...(since ? { since: Date.parse(since) } : {}),
        })
      ).entries.map((e) => e.reason);

    it("lists the entries of both days just after midnight, newest first", async () => {
      await at("2026-03-06T23:59:59.999Z", "before");
      await at("2026-03-07T00:00:00.001Z", "after");

      expect(await reasons("2026-03-07T00:00:00.500Z")).toEqual(["after", "before"]);
    });

    it("lists an entry stamped just past midnight by a sender whose clock is ahead of the reader's", async () => {
      await at("2026-03-04T23:59:59.000Z", "day 4");
      await at("2026-03-05T00:00:00.200Z", "day 5, by a clock ahead");

      expect((await reasons("2026-03-04T23:59:59.900Z")).slice(0, 2)).toEqual([
        "day 5, by a clock ahead",
        "day 4",
      ]);
      expect(await reasons("2026-03-04T23:59:59.900Z", "2026-03-04T23:59:30.000Z")).toEqual([
        "day 5, by a clock ahead",
        "day 4",
      ]);
    });
  });

  it("indexes entries about an execution under it", async () => {
    await Audit.record({ kind: "execution.started", actor: "t", reason: "go", executionId: "run-9" });
    expect((await Audit.forExecution("run-9")).map((e) => e.reason)).toEqual(["go"]);
  });
});
