/**
 * The event gate end to end in local mode: dedup under concurrency, flapping alarms, locks,
 * lease reclaim, the circuit breaker, and bad input — each decision read back from the audit.
 */
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { type ConfigInput, Gate, Locks, validateConfig } from "@reflex/core";
import { afterEach, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { clearOfWindowEnd } from "./support/clock.ts";
import { alarmEvent } from "./support/events.ts";
import { api, startTestLocal } from "./support/local.ts";

let local: LocalMode | undefined;
afterEach(async () => {
  await local?.stop();
  local = undefined;
});

const scaleRule = (name: string, extra: object = {}) => ({
  name,
  on: {
    source: ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    detail: { state: { value: ["ALARM"] } },
  },
  run: "scale",
  with: { autoScalingGroup: "web", change: "+1" },
  ...extra,
});

const backupRule = (name: string, extra: object = {}) => ({
  name,
  on: {
    source: ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    detail: { state: { value: ["ALARM"] } },
  },
  run: "backup-snapshot",
  with: { selector: { tag: { Backup: "daily" } } },
  ...extra,
});

async function start(config: ConfigInput) {
  local = await startTestLocal(config);
  return { local, config: validateConfig(config) };
}

async function auditKinds(l: LocalMode) {
  const entries: Array<{ kind: string; guardrail?: string }> = [];
  let cursor: string | undefined;
  do {
    const page = await api(l, "GET", `/api/audit?limit=500${cursor ? `&cursor=${cursor}` : ""}`);
    entries.push(...page.body.entries);
    cursor = page.body.next;
  } while (cursor);
  return entries;
}

async function executions(l: LocalMode) {
  return (await api(l, "GET", "/api/executions?limit=500")).body.executions as Array<{
    id: string;
    status: string;
    trigger: { kind: string; name?: string };
  }>;
}

describe("dedup", () => {
  it("turns 1,000 concurrent deliveries of one alarm event into exactly one run; the rest wait for it in this process and are audited duplicates, none sent back", async () => {
    const { local: l, config } = await start({ rules: [backupRule("cpu-high", { dryRun: true })] });
    const event = alarmEvent("web-cpu-high", "ALARM", new Date());

    const decisions = (
      await Promise.all(Array.from({ length: 1000 }, () => Gate.handleEvent(event, { config })))
    ).flat();
    await l.idle();

    // The claim is held by this same process: a delivery that meets it waits for its outcome
    // instead of being told to come back (in-progress is for a claim held elsewhere).
    expect(decisions.filter((d) => d.decision === "started")).toHaveLength(1);
    expect(decisions.filter((d) => d.decision === "duplicate")).toHaveLength(999);
    expect(await executions(l)).toHaveLength(1);
    const audit = await auditKinds(l);
    expect(audit.filter((a) => a.kind === "event.duplicate")).toHaveLength(999);
  });

  it("lets a delivery that waited on another in this process handle the event itself when that one failed", async () => {
    const { local: l, config } = await start({ rules: [backupRule("cpu-high", { dryRun: true })] });
    const event = alarmEvent("web-cpu-high", "ALARM", new Date());
    // The first delivery fails (its time is no time: the store refuses its claim).
    const failing = Gate.handleEvent(event, { config, now: new Date(Number.NaN) }).catch((e: Error) => e);
    const waiting = Gate.handleEvent(event, { config });

    expect(await failing).toBeInstanceOf(Error);
    expect(await waiting).toMatchObject([{ decision: "started" }]);
    await l.idle();
    expect(await executions(l)).toHaveLength(1);
  });

  it("answers a delivery that meets another's unfinished claim with in-progress, never duplicate, and starts the run once that claim's lease runs out", async () => {
    const { local: l, config } = await start({ rules: [backupRule("cpu-high", { dryRun: true })] });
    const t0 = Date.parse("2026-11-28T10:00:00Z");
    const event = alarmEvent("web-cpu-high", "ALARM", new Date(t0));
    // A delivery that claimed the happening and died before deciding anything.
    const happening = Gate.happeningKey(Gate.parseEvent(event) as never) as string;
    expect((await Gate.Dedup.claim(happening, "dead-process", t0)).status).toBe("claimed");
    Gate.Dedup.forgetLocal();

    const during = await Gate.handleEvent(event, { config, now: new Date(t0 + 5_000) });
    const after = await Gate.handleEvent(event, { config, now: new Date(t0 + 61_000) });
    await l.idle();

    expect(during).toMatchObject([{ decision: "in-progress", retryAfterSeconds: 55 }]);
    expect(after).toMatchObject([{ decision: "started" }]);
    expect(await executions(l)).toHaveLength(1);
  });

  it("treats one alarm transition re-emitted under a new event id as the same happening", async () => {
    const { local: l, config } = await start({ rules: [backupRule("cpu-high", { dryRun: true })] });
    const at = new Date();
    const first = await Gate.handleEvent(alarmEvent("web-cpu-high", "ALARM", at), { config });
    const again = await Gate.handleEvent(alarmEvent("web-cpu-high", "ALARM", at), { config });
    await l.idle();
    expect(first.map((d) => d.decision)).toEqual(["started"]);
    expect(again).toMatchObject([
      {
        decision: "duplicate",
        reason: expect.stringContaining("already handled this alarm transition (alarm:arn:aws:cloudwatch"),
      },
    ]);
  });
});

describe("guardrails", () => {
  it("lets a flapping alarm (100 transitions in 10 minutes, 10-minute cooldown) start at most 2 runs", async () => {
    const { local: l, config } = await start({
      rules: [backupRule("cpu-high", { dryRun: true, cooldown: "10m" })],
    });
    const t0 = Date.parse("2026-11-28T10:00:00Z");
    const decisions = [];
    for (let i = 0; i < 100; i++) {
      const at = new Date(t0 + i * 6_000);
      decisions.push(
        ...(await Gate.handleEvent(alarmEvent("web-cpu-high", i % 2 === 0 ? "ALARM" : "OK", at), {
          config,
          now: at,
        })),
      );
    }
    await l.idle();

    const started = decisions.filter((d) => d.decision === "started");
    expect(started.length).toBeGreaterThanOrEqual(1);
    expect(started.length).toBeLessThanOrEqual(2);
    const suppressed = decisions.filter((d) => d.decision === "suppressed");
    expect(suppressed).toHaveLength(50 - started.length);
    expect(new Set(suppressed.map((d) => d.guardrail))).toEqual(new Set(["cooldown"]));
    expect(decisions.filter((d) => d.decision === "no-match")).toHaveLength(50); // the OK transitions
  });

  it("runs one of two rules that hit the same target at once; the lock suppresses the other", async () => {
    const { local: l, config } = await start({ rules: [scaleRule("rule-a"), scaleRule("rule-b")] });

    const decisions = await Gate.handleEvent(alarmEvent("web-cpu-high", "ALARM", new Date()), { config });
    await l.idle();

    expect(decisions.map((d) => d.decision).sort()).toEqual(["started", "suppressed"]);
    expect(decisions.find((d) => d.decision === "suppressed")).toMatchObject({
      guardrail: "lock",
      reason: expect.stringContaining("locked by execution"),
    });
  });

  it("reclaims a lock whose holder died once its lease has run out", async () => {
    const { local: l, config } = await start({
      rules: [scaleRule("cpu-high", { cooldown: "0s" })],
      guardrails: { lockLease: "30m" },
    });
    const lockKey = "asg:web";
    const t0 = Date.parse("2026-11-28T10:00:00Z");
    expect(await Locks.acquire(lockKey, "crashed-run", 30 * 60_000, t0)).toBe(true);

    const during = await Gate.handleEvent(alarmEvent("web-cpu-high", "ALARM", new Date(t0 + 60_000)), {
      config,
      now: new Date(t0 + 60_000),
    });
    const after = await Gate.handleEvent(alarmEvent("web-cpu-high", "ALARM", new Date(t0 + 31 * 60_000)), {
      config,
      now: new Date(t0 + 31 * 60_000),
    });
    await l.idle();

    expect(during).toMatchObject([{ decision: "suppressed", guardrail: "lock" }]);
    expect(after).toMatchObject([{ decision: "started" }]);
  });

  it("trips the breaker after 3 failed automatic runs and keeps automation paused until a person resumes", async () => {
    const { local: l, config } = await start({
      rules: [backupRule("cpu-high", { cooldown: "0s" })],
      guardrails: { breaker: { failures: 3, within: "30m" } },
    });
    l.cloud.injectFault({
      operation: "DescribeInstances",
      kind: "error",
      code: "UnauthorizedOperation",
      message: "not allowed",
    });
    for (let i = 0; i < 3; i++) {
      expect(
        await Gate.handleEvent(alarmEvent("web-cpu-high", "ALARM", new Date(Date.now() + i * 1000)), {
          config,
        }),
      ).toMatchObject([{ decision: "started" }]);
      await l.idle();
    }
    l.cloud.clearFaults();

    const paused = await Gate.handleEvent(
      alarmEvent("web-cpu-high", "ALARM", new Date(Date.now() + 10_000)),
      { config },
    );
    const status = await api(l, "GET", "/api/guardrails");
    await api(l, "POST", "/api/guardrails/resume");
    const resumed = await Gate.handleEvent(
      alarmEvent("web-cpu-high", "ALARM", new Date(Date.now() + 20_000)),
      { config },
    );
    await l.idle();

    expect((await executions(l)).filter((e) => e.status === "FAILED")).toHaveLength(3);
    expect(paused).toMatchObject([{ decision: "suppressed", guardrail: "breaker" }]);
    expect(status.body).toMatchObject({ paused: true, pausedBy: "breaker" });
    expect(resumed).toMatchObject([{ decision: "started" }]);
  });

  it("stops at the runbook's rate limit and gives the cooldown back", async () => {
    const { local: l, config } = await start({
      rules: [backupRule("cpu-high", { dryRun: true, target: "$.detail.alarmName" })],
      guardrails: { rateLimit: { runs: 1, per: "1h" } },
    });
    // Both in one hour's window: the rate limit counts in fixed windows, and two decisions on
    // either side of an hour's end would each have one.
    const now = new Date(clearOfWindowEnd(Date.now(), 3_600_000));
    const first = await Gate.handleEvent(alarmEvent("alarm-a", "ALARM", now), { config, now });
    const second = await Gate.handleEvent(alarmEvent("alarm-b", "ALARM", now), { config, now });
    await l.idle();
    expect(first).toMatchObject([{ decision: "started" }]);
    expect(second).toMatchObject([
      {
        decision: "suppressed",
        guardrail: "rate-limit",
        reason: expect.stringContaining("already ran 1 times"),
      },
    ]);
    // alarm-b's cooldown was given back, so only the rate limit stands in its way
    await api(l, "GET", "/api/guardrails");
    expect(await Gate.Guardrails.takeCooldown("cpu-high", "alarm-b", 60_000, "probe")).toBeUndefined();
  });

  it("suppresses during a change freeze, naming it", async () => {
    const { local: l, config } = await start({
      rules: [backupRule("cpu-high", { dryRun: true })],
      freezes: [{ name: "black-friday", from: "2026-11-26T00:00:00Z", to: "2026-12-01T00:00:00Z" }],
    });
    const at = new Date("2026-11-28T12:00:00Z");
    const decisions = await Gate.handleEvent(alarmEvent("web-cpu-high", "ALARM", at), { config, now: at });
    await l.idle();
    expect(decisions).toMatchObject([
      { decision: "suppressed", guardrail: "freeze", reason: expect.stringContaining("black-friday") },
    ]);
  });
});

describe("the run's trigger", () => {
  it("keeps the alarm's name, state and reason on the run record, as the executions API returns it", async () => {
    const { local: l, config } = await start({ rules: [backupRule("cpu-high", { dryRun: true })] });
    const event = alarmEvent("web-cpu-high", "ALARM", new Date());
    event.detail.state.reason = "Threshold Crossed: 3 datapoints were greater than the threshold (80.0).";

    const [d] = await Gate.handleEvent(event, { config });
    await l.idle();

    const expected = {
      kind: "rule",
      name: "cpu-high",
      eventId: event.id,
      alarm: { name: "web-cpu-high", state: "ALARM", reason: event.detail.state.reason },
    };
    expect((await api(l, "GET", `/api/executions/${d.executionId}`)).body.trigger).toMatchObject(expected);
    const listed = (await executions(l)).find((e) => e.id === d.executionId);
    expect(listed?.trigger).toMatchObject(expected);
  });

  it("cuts an alarm reason longer than 500 characters, whole characters and an ellipsis", async () => {
    const { local: l, config } = await start({ rules: [backupRule("cpu-high", { dryRun: true })] });
    const event = alarmEvent("web-cpu-high", "ALARM", new Date());
    event.detail.state.reason = "🔥".repeat(1000);

    const [d] = await Gate.handleEvent(event, { config });
    await l.idle();

    const reason = (await api(l, "GET", `/api/executions/${d.executionId}`)).body.trigger.alarm.reason;
    expect(Array.from(reason)).toHaveLength(500);
    expect(reason).toBe(`${"🔥".repeat(499)}…`);
  });
});

describe("POST /events", () => {
  it("answers each event's decision, rejects malformed ones with the reason and never errors", async () => {
    const { local: l } = await start({ rules: [backupRule("cpu-high", { dryRun: true })] });
    const good = alarmEvent("web-cpu-high", "ALARM", new Date());
    const malformed = {
      ...alarmEvent("web-cpu-high", "ALARM", new Date()),
      detail: { alarmName: "x", state: { value: "ON FIRE" } },
    };
    const unrelated = {
      ...alarmEvent("x", "ALARM", new Date()),
      source: "my.app",
      "detail-type": "Order Placed",
      detail: { id: 1 },
    };

    const res = await api(l, "POST", "/events", {
      Entries: [good, good, malformed, unrelated, { nonsense: true }],
    });
    await l.idle();

    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { decision: string }) => r.decision)).toEqual([
      "started",
      "duplicate",
      "rejected",
      "no-match",
      "rejected",
    ]);
    expect(res.body.results[2].reason).toContain("detail.state.value");
    expect(res.body.results[0].executionId).toMatch(/^cpu-high-[0-9a-f]{20}$/);
    const garbage = await api(l, "POST", "/events", "{not json");
    expect(garbage).toMatchObject({ status: 400, body: { error: { code: "invalid_json" } } });
  });

  it("accepts PutEvents-shaped entries, as `aws events put-events` sends them", async () => {
    const { local: l } = await start({
      rules: [{ ...backupRule("orders"), on: { source: ["my.shop"] }, dryRun: true }],
    });
    const res = await api(l, "POST", "/events", {
      Entries: [{ Source: "my.shop", DetailType: "Order Placed", Detail: JSON.stringify({ orderId: 7 }) }],
    });
    await l.idle();
    expect(res.body.results).toMatchObject([{ decision: "started", rule: "orders" }]);
  });

  it("routes events put on the default bus through the trigger handler, as deployed rules do", async () => {
    const { local: l } = await start({ rules: [backupRule("cpu-high", { dryRun: true })] });
    const bus = new EventBridgeClient({ endpoint: l.url, region: "us-east-1" });
    const event = alarmEvent("web-cpu-high", "ALARM", new Date());
    const out = await bus.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: event.source,
            DetailType: event["detail-type"],
            Detail: JSON.stringify(event.detail),
            // The local bus stamps its own account (as EventBridge does): the alarm's ARN names it.
            Resources: ["arn:aws:cloudwatch:us-east-1:000000000000:alarm:web-cpu-high"],
          },
        ],
      }),
    );
    await l.idle();
    expect(out.FailedEntryCount).toBe(0);
    expect((await executions(l)).map((e) => e.trigger)).toMatchObject([{ kind: "rule", name: "cpu-high" }]);
  });

  it("publishes lifecycle events to Reflex's bus, visible through the API", async () => {
    const { local: l } = await start({ rules: [backupRule("cpu-high", { dryRun: true })] });
    await api(l, "POST", "/events", alarmEvent("web-cpu-high", "ALARM", new Date()));
    await l.idle();
    const { body } = await api(l, "GET", "/api/lifecycle");
    expect(body.events.map((e: { "detail-type": string }) => e["detail-type"]).sort()).toEqual([
      "Reflex Execution Started",
      "Reflex Execution Succeeded",
    ]);
  });
});
