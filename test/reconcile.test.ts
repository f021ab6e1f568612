/** The reconciler closes runs whose end Reflex never heard of, and leaves live runs alone. */
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { Admission, Executions, Locks, Runbooks, Runs, Steps, tableName } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { start as startRun } from "../packages/core/src/runs.ts";
import { db } from "../packages/core/src/state/db.ts";
import { takeRateSlot } from "../packages/core/src/state/guardrails.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { clearOfWindowEnd } from "./support/clock.ts";
import { runAndWait, startTestLocal } from "./support/local.ts";

/**
 * How long a `vi.waitFor` here waits for writes to the store (a start's lock): vitest's default,
 * 1 s, is a few writes on a loaded machine. Only a failing test waits this long.
 */
const STORE = { timeout: 20_000 };

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
    // A start takes its locks before it writes its record: a lock without one is a dead start's
    // once it is older than the cutoff.
    await Locks.acquire("asg:ghost", "no-such-run", 3_600_000, Date.now() - 30 * 60_000);
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

  it("leaves the locks of a start under way (taken, its record not written yet) and frees them once it is older than the cutoff", async () => {
    await Locks.acquire("asg:starting", "start-under-way", 3_600_000);
    expect(await Runs.reconcile({ olderThanMs: 10 * 60_000 })).not.toContainEqual(
      expect.objectContaining({ executionId: "start-under-way" }),
    );
    expect((await Locks.holder("asg:starting"))?.owner).toBe("start-under-way");

    const later = new Date(Date.now() + 11 * 60_000);
    expect(await Runs.reconcile({ olderThanMs: 10 * 60_000, now: later })).toContainEqual({
      executionId: "start-under-way",
      status: "DISCARDED",
      reason: "LockWithoutRun:asg:starting",
    });
    expect(await Locks.holder("asg:starting")).toBeUndefined();
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

describe("a start retried under the id of a run that exists (a start takes its locks before its record)", () => {
  const params = (group: string) => ({ autoScalingGroup: group, change: "+1" });
  const again = (executionId: string, group: string, now = new Date()) =>
    Admission.admit({
      now,
      runbook: "scale",
      params: params(group),
      executionId,
      trigger: { kind: "schedule", name: "s" },
      actor: { id: "schedule:s" },
    });

  /** A STARTING record as an earlier version wrote it: the params parsed, the record before the locks. */
  const leftStarting = (id: string, group: string) =>
    Executions.createStarting({
      id,
      runbook: "scale",
      dryRun: false,
      params: Runs.parseParams(Runbooks.get("scale"), params(group)),
      trigger,
      locks: [`asg:${group}`],
    });

  it("is a duplicate, and gives back the lock it took again when that run has ended", async () => {
    const record = { runbook: "scale", dryRun: false, params: params("redo"), trigger, locks: ["asg:redo"] };
    await Executions.create({ id: "redo-ended", ...record });
    await Executions.complete("redo-ended", { status: "SUCCEEDED" });

    expect(await again("redo-ended", "redo")).toMatchObject({ admitted: false, duplicate: true });
    expect(await Locks.holder("asg:redo")).toBeUndefined();
    expect((await Executions.get("redo-ended")).status).toBe("SUCCEEDED");
  });

  it("is a duplicate, and leaves the lock with that run while it has not ended", async () => {
    const record = { runbook: "scale", dryRun: false, params: params("wait"), trigger, locks: ["asg:wait"] };
    await Locks.acquire("asg:wait", "redo-waiting", 3_600_000);
    await Executions.create({ id: "redo-waiting", ...record });
    await Executions.setWaiting("redo-waiting", true);

    expect(await again("redo-waiting", "wait")).toMatchObject({ admitted: false, duplicate: true });
    expect((await Locks.holder("asg:wait"))?.owner).toBe("redo-waiting");
    expect((await Executions.active()).map((e) => e.id)).toContain("redo-waiting");
  });

  it("two starts of one id at once (a schedule fired twice): one run, its lock, no marker left once it ends", async () => {
    const id = "twice-at-once";
    // A millisecond apart: each start's marker is its own.
    const at = Date.now();
    const both = await Promise.all([again(id, "web", new Date(at)), again(id, "web", new Date(at + 1))]);
    expect(both.filter((a) => a.admitted)).toHaveLength(1);
    expect(both.filter((a) => !a.admitted && a.duplicate)).toHaveLength(1);
    const run = await Executions.get(id);
    expect(run.locks).toEqual(["asg:web"]);
    await local.idle();
    expect((await Executions.get(id)).status).not.toBe("RUNNING");
    expect(await Locks.holder("asg:web")).toBeUndefined();
    const markers = await db().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": Executions.ACTIVE_PK },
        ConsistentRead: true,
      }),
    );
    expect((markers.Items ?? []).map((m) => m.id)).not.toContain(id);
  });

  it.each([
    ["after the one that starts", "second"],
    ["before the one that starts", "first"],
  ])(
    "two starts of one id at once, one refused by the rate limit (taking its lock %s): the run that starts keeps its lock",
    async (_, refusedTakes) => {
      const id = `twice-refused-${refusedTakes}`;
      const group = `refused-${refusedTakes}`;
      const req = (reservation: Promise<string | undefined>) => ({
        runbook: "scale",
        params: params(group),
        executionId: id,
        trigger: { kind: "schedule" as const, name: "s", actor: "schedule:s" },
        reservation,
      });
      let grant!: (refusal: string | undefined) => void;
      const granted = new Promise<string | undefined>((r) => {
        grant = r;
      });
      let starting: Promise<Executions.Execution>;
      if (refusedTakes === "second") {
        starting = startRun(req(granted));
        await vi.waitFor(async () => expect((await Locks.holder(`asg:${group}`))?.owner).toBe(id), STORE);
        await expect(startRun(req(Promise.resolve("rate window full")))).rejects.toMatchObject({
          code: "reservation_refused",
        });
      } else {
        // The refused start takes the lock first; the other takes it again (re-entrant) before
        // the refusal arrives.
        let refuse!: (refusal: string | undefined) => void;
        const refusing = new Promise<string | undefined>((r) => {
          refuse = r;
        });
        const send = db().send.bind(db());
        let lockWrites = 0;
        const sent = vi.spyOn(db(), "send").mockImplementation((async (command: {
          input?: { Item?: { pk?: string } };
        }) => {
          const out = await send(command as never);
          if (command.input?.Item?.pk === `LOCK#asg:${group}`) lockWrites++;
          return out;
        }) as never);
        try {
          const refused = startRun(req(refusing));
          refused.catch(() => undefined);
          await vi.waitFor(() => expect(lockWrites).toBe(1), STORE);
          starting = startRun(req(granted));
          await vi.waitFor(() => expect(lockWrites).toBe(2), STORE);
          refuse("rate window full");
          await expect(refused).rejects.toMatchObject({ code: "reservation_refused" });
        } finally {
          sent.mockRestore();
        }
      }
      grant(undefined);
      const run = await starting;
      expect(run.status).toBe("RUNNING");
      // The run that started holds its target until it ends: no second run can take it meanwhile.
      expect((await Locks.holder(`asg:${group}`))?.owner).toBe(id);
      await local.idle();
      expect(await Locks.holder(`asg:${group}`)).toBeUndefined();
    },
  );

  /** Fails the store's requests on the keys `failing` picks, as a throttled write does. */
  const throttle = (failing: (pk: string) => boolean) => {
    const send = db().send.bind(db());
    return vi.spyOn(db(), "send").mockImplementation((async (command: {
      input?: { Key?: { pk?: string }; Item?: { pk?: string } };
    }) => {
      const pk = command.input?.Key?.pk ?? command.input?.Item?.pk ?? "";
      if (failing(pk)) throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
      return send(command as never);
    }) as never);
  };

  it("leaves no lock behind when the store fails to take its rate slot (a throttled write)", async () => {
    const id = "rate-store-fails";
    const sent = throttle((pk) => pk.startsWith("RATE#"));
    try {
      await expect(
        startRun({
          runbook: "scale",
          params: params("rate-store-fails"),
          executionId: id,
          trigger: { kind: "schedule", name: "s", actor: "schedule:s" },
          reservation: takeRateSlot("scale", 1000, 60_000).then((ok) => (ok ? undefined : "full")),
        }),
      ).rejects.toThrow(/Rate exceeded/);
    } finally {
      sent.mockRestore();
    }
    expect(await Executions.find(id)).toBeUndefined();
    expect(await Locks.holder("asg:rate-store-fails")).toBeUndefined();
  });

  it("leaves no lock behind when the store fails to write its running marker (no record tried)", async () => {
    const id = "marker-store-fails";
    const sent = throttle((pk) => pk === Executions.ACTIVE_PK);
    try {
      await expect(again(id, "marker-store-fails")).rejects.toThrow(/Rate exceeded/);
    } finally {
      sent.mockRestore();
    }
    expect(await Executions.find(id)).toBeUndefined();
    expect(await Locks.holder("asg:marker-store-fails")).toBeUndefined();
  });

  it("Locks.acquireAll gives back what it took when the store fails to take a later lock", async () => {
    const sent = throttle((pk) => pk === "LOCK#asg:fails-b");
    try {
      await expect(Locks.acquireAll(["asg:fails-a", "asg:fails-b"], "fails-run", 60_000)).rejects.toThrow(
        /Rate exceeded/,
      );
    } finally {
      sent.mockRestore();
    }
    expect(await Locks.holder("asg:fails-a")).toBeUndefined();
  });

  it("a duplicate gives back the rate slot it took: the window keeps its room for another run", async () => {
    // Its own window (2 h long), so the other tests' starts are not counted in it; dry runs
    // that succeed, so the breaker is not moved.
    const config = {
      ...local.config,
      guardrails: { ...local.config.guardrails, rateLimit: { runs: 2, per: 7_200_000 } },
    };
    // All four in one 2 h window (the rate limit counts in fixed windows from the epoch).
    const now = new Date(clearOfWindowEnd(Date.now(), 7_200_000));
    const backup = (executionId: string) =>
      Admission.admit({
        config,
        now,
        runbook: "backup-snapshot",
        params: { selector: { tag: { Role: "db" } } },
        dryRun: true,
        executionId,
        trigger: { kind: "schedule", name: "s" },
        actor: { id: "schedule:s" },
      });
    expect(await backup("dup-rate-1")).toMatchObject({ admitted: true });
    expect(await backup("dup-rate-1")).toMatchObject({ duplicate: true });
    expect(await backup("dup-rate-2")).toMatchObject({ admitted: true });
    expect(await backup("dup-rate-3")).toMatchObject({ admitted: false, check: "rate-limit" });
    await local.idle();
    expect((await Executions.get("dup-rate-1")).status).toBe("SUCCEEDED");
  });

  it("finishes the start of a STARTING record an earlier version left (record first, then locks)", async () => {
    const id = "left-starting";
    await leftStarting(id, "web");
    await Locks.acquire("asg:web", id, 3_600_000);

    expect(await again(id, "web")).toMatchObject({ admitted: true, execution: { id, status: "RUNNING" } });
    await local.idle();
    expect((await Executions.list({ limit: 500 })).executions.map((e) => e.id)).toContain(id);
    const ended = await Executions.get(id);
    expect(ended, JSON.stringify(ended)).toMatchObject({ status: "SUCCEEDED" });
    expect(await Locks.holder("asg:web")).toBeUndefined();
  });

  it("refuses by the lock, and removes, a STARTING record an earlier version left whose target another run holds", async () => {
    const id = "left-starting-held";
    await leftStarting(id, "held");
    await Locks.acquire("asg:held", "holder-run", 3_600_000);

    expect(await again(id, "held")).toMatchObject({ admitted: false, check: "lock" });
    expect(await Executions.find(id)).toBeUndefined();
    expect((await Locks.holder("asg:held"))?.owner).toBe("holder-run");
  });

  it("gives its locks back, writing no record, when over a minute passed after it took them", async () => {
    const id = "slow-start";
    const send = db().send.bind(db());
    let lockedAt: number | undefined;
    const sent = vi.spyOn(db(), "send").mockImplementation((async (command: {
      input?: { Item?: { pk?: string } };
    }) => {
      const out = await send(command as never);
      if (command.input?.Item?.pk === "LOCK#asg:slow") lockedAt = Date.now();
      return out;
    }) as never);
    const real = performance.now.bind(performance);
    const now = vi.spyOn(performance, "now").mockImplementation(() => real() + (lockedAt ? 61_000 : 0));
    try {
      await expect(again(id, "slow")).rejects.toThrow(/given up/);
    } finally {
      now.mockRestore();
      sent.mockRestore();
    }
    expect(lockedAt).toBeDefined();
    expect(await Executions.find(id)).toBeUndefined();
    expect(await Locks.holder("asg:slow")).toBeUndefined();
  });

  it("is a duplicate, not refused by the lock, when another run holds its target now", async () => {
    const record = {
      runbook: "scale",
      dryRun: false,
      params: params("taken"),
      trigger,
      locks: ["asg:taken"],
    };
    await Executions.create({ id: "redo-over", ...record });
    await Executions.complete("redo-over", { status: "SUCCEEDED" });
    await Locks.acquire("asg:taken", "another-run", 3_600_000);

    expect(await again("redo-over", "taken")).toMatchObject({ admitted: false, duplicate: true });
    expect((await Locks.holder("asg:taken"))?.owner).toBe("another-run");
  });
});
