/**
 * bench/alarm-storm: 10,000 CloudWatch alarm events — 2,000 distinct transitions across 500
 * alarms, each delivered 5 times, shuffled, 50 in flight — through the event gate on the
 * embedded DynamoDB (dynalite), with local mode's engine starting the runs; on the same store in
 * the same run, raw conditional PutItem ops/s at the same concurrency, for the ratio. The
 * phases are interleaved in `SLICES` slices (a slice of the storm through the gate, then the
 * runs it started, launched and finished, then as many raw writes), so load from elsewhere on
 * the machine hits all alike.
 * `sliceRatios` and `sliceMs` are each slice's own: the slices differ in what they hold (the
 * first delivery of most transitions, a claim, admission and a start, falls in the early ones;
 * the later ones are mostly duplicates), so `ratio` is over the whole storm.
 * Before the storm, a warm-up (100 events of other alarms, their runs, 100 raw writes) that is
 * not counted, so module loading on first use is not charged to the first slice alone.
 *
 * The rule matches ALARM transitions and runs `bench-noop`, a one-Task runbook this bench
 * registers. `ratio` is the gate's alone (what answers events; in AWS the runs are elsewhere);
 * `ratioWithRuns` adds the local engine running each started run through the real step
 * handler and closing it — neither is a runbook's cloud calls. Cooldown is off
 * and the rate limit out of reach, so the expected result is exact: one run per distinct ALARM
 * transition (1,000), every redelivery a duplicate (8,000), every OK transition no-match (1,000).
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { Gate, Runbooks, tableName, validateConfig } from "@reflex/core";
import { z } from "zod";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { startLocal } from "../packages/local/src/local-mode.ts";
import { alarmEvent } from "../test/support/events.ts";
import { noopRunbook } from "../test/support/runbooks.ts";
import { PhaseProfiler } from "./support/cpu-profile.ts";
import { DdbCalls } from "./support/ddb-calls.ts";
import { holdBack } from "./support/hold-back.ts";
import { pool, shuffle } from "./support/pool.ts";

/** `BENCH_STORM_ALARMS` makes a smaller storm (a quick look, a profile); the figures are for 500. */
const ALARMS = Number(process.env.BENCH_STORM_ALARMS ?? 500);
const TRANSITIONS_PER_ALARM = 4;
const DELIVERIES = 5;
const IN_FLIGHT = 50;
/** Gate and raw PutItem alternate in this many slices of the storm. */
const SLICES = 10;
/** Alarms (two transitions each) through the gate before the storm, not counted. */
const WARM_UP_ALARMS = 50;

/** The storm's runbook (bench/audit-seal runs the same storm with the sealer on and off). */
export const noop = noopRunbook({
  name: "bench-noop",
  summary: "Does nothing, for measuring the gate",
  params: z.object({ alarm: z.string(), at: z.string() }).strict(),
  example: { alarm: "x", at: "2026-11-28T00:00:00.000+0000" },
  // Each transition its own target, so no run is suppressed by another's lock.
  locks: (p) => [`bench:${p.alarm}@${p.at}`],
});

/** The storm's rule (ALARM transitions run `bench-noop`, no cooldown) and a rate limit it never reaches. */
export function stormConfig() {
  return validateConfig({
    rules: [
      {
        name: "storm",
        on: {
          source: ["aws.cloudwatch"],
          "detail-type": ["CloudWatch Alarm State Change"],
          detail: { state: { value: ["ALARM"] } },
        },
        run: "bench-noop",
        with: { alarm: "$.detail.alarmName", at: "$.detail.state.timestamp" },
        cooldown: "0s",
      },
    ],
    guardrails: { rateLimit: { runs: 1_000_000, per: "1h" } },
  });
}

/**
 * Local mode as the storm benches and the gate-requests test run it: `bench-noop` registered, the
 * storm's config, no port, scheduler or data dir, a fast engine and a seeded simulated cloud;
 * `decorateClient` counts the store's (and other services') requests where a caller wants them.
 */
export async function startStormLocal(
  decorateClient?: Parameters<typeof startLocal>[0]["decorateClient"],
): Promise<{ local: Awaited<ReturnType<typeof startLocal>>; config: ReturnType<typeof stormConfig> }> {
  Runbooks.register(noop);
  const config = stormConfig();
  const local = await startLocal({
    ...(decorateClient ? { decorateClient } : {}),
    config,
    port: 0,
    quiet: true,
    dataDir: null,
    scheduler: false,
    waitMs: 10,
    cloud: SimulatedCloud.seeded({ snapshotDurationMs: 10 }),
  });
  return { local, config };
}

export async function alarmStorm(): Promise<Array<Record<string, unknown>>> {
  // Every DynamoDB request counted by who sent it: the gate (an event's handling), the raw
  // writes, or anything else (the local engine running and closing the started runs).
  const calls = new DdbCalls();
  const { local, config } = await startStormLocal(calls.decorate);
  try {
    const t0 = Date.parse("2026-11-28T00:00:00Z");
    const events: Array<ReturnType<typeof alarmEvent>> = [];
    for (let a = 0; a < ALARMS; a++) {
      for (let t = 0; t < TRANSITIONS_PER_ALARM; t++) {
        const at = new Date(t0 + a * 1000 + t * 60_000);
        const state = t % 2 === 0 ? "ALARM" : "OK";
        // Each delivery of a transition is the same event (same id), as EventBridge retries are.
        const event = alarmEvent(`alarm-${a}`, state, at, { id: randomUUID() });
        for (let d = 0; d < DELIVERIES; d++) events.push(event);
      }
    }
    shuffle(events);
    const counts: Record<string, number> = {};
    const handle = async (event: ReturnType<typeof alarmEvent>) => {
      // A delivery that meets another's unfinished claim is told to come back (in-progress);
      // like a retrying sender, send it again shortly — its final answer is what counts.
      for (;;) {
        const decisions = await calls.within("gate", () => Gate.handleEvent(event, { config }));
        if (decisions.some((d) => d.decision === "in-progress")) {
          counts.resent = (counts.resent ?? 0) + 1;
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        for (const d of decisions) counts[d.decision] = (counts[d.decision] ?? 0) + 1;
        return;
      }
    };
    // The same store, the same concurrency: raw conditional writes of fresh keys.
    const raw = new DynamoDBClient({
      endpoint: local.storage.dynamoEndpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    const put = (i: number) =>
      raw.send(
        new PutItemCommand({
          TableName: tableName(),
          Item: { pk: { S: `BENCH#${i}` }, sk: { S: "B" }, n: { N: String(i) } },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    // The runs a gate slice starts are launched by the engine once the slice's gate phase is
    // timed (holdBack defers them): in AWS they run in Step Functions and the
    // step Lambdas, not in the process that answers events, so `ratio` is the gate's alone.
    // Their work (the step, closing the run) is then timed on its own (`runsMs`), and
    // `ratioWithRuns` counts it too: the whole of local mode's work per event.
    // The local Slack notifier is held back the same way: the lifecycle events a gate phase
    // publishes reach it with the runs, and its work is theirs (timed in `runsMs`, finished
    // before the raw writes).
    const held = holdBack(local);
    const notify = () => {
      held.release();
      held.deliver();
    };
    // Warm-up, not counted: a few transitions of alarms outside the storm through the gate, their
    // runs and as many raw writes, so loading modules on first use (admission, the runbook's
    // definition, the step handler) and the JIT's first passes are not charged to the first slice.
    const warm: Array<ReturnType<typeof alarmEvent>> = [];
    for (let a = 0; a < WARM_UP_ALARMS; a++)
      for (const state of ["ALARM", "OK"] as const)
        warm.push(
          alarmEvent(`warm-up-${a}`, state, new Date(t0 - 3_600_000 + a * 1000), { id: randomUUID() }),
        );
    await pool(warm, IN_FLIGHT, (e) => Gate.handleEvent(e, { config }));
    held.launchAll();
    notify();
    await local.idle();
    await local.notified();
    await pool(
      warm.map((_, i) => -1 - i),
      IN_FLIGHT,
      put,
    );
    calls.requests.clear();
    calls.items.clear();
    // The two phases interleaved slice by slice (gate, its runs, then as many raw writes), so a
    // change in the machine's load hits all alike.
    const profiler = new PhaseProfiler(process.env.BENCH_STORM_PROFILE);
    // CPU time this process spent in each phase (the store is in-process: its work included), a
    // figure the machine's load does not move as it moves elapsed time.
    const cpuMs = (from: NodeJS.CpuUsage) => {
      const used = process.cpuUsage(from);
      return (used.user + used.system) / 1000;
    };
    let gateCpuMs = 0;
    let putCpuMs = 0;
    let gateMs = 0;
    let runsMs = 0;
    let putMs = 0;
    const sliceRatios: number[] = [];
    const sliceMs: Array<{ gate: number; runs: number; put: number }> = [];
    const size = Math.ceil(events.length / SLICES);
    for (let s = 0; s < SLICES; s++) {
      const slice = events.slice(s * size, (s + 1) * size);
      held.hold();
      await profiler.start();
      const gc0 = process.cpuUsage();
      const g = await pool(slice, IN_FLIGHT, handle);
      gateCpuMs += cpuMs(gc0);
      await profiler.stop();
      const r0 = performance.now();
      held.launchAll();
      notify();
      await local.idle();
      await local.notified();
      const r = performance.now() - r0;
      const pc0 = process.cpuUsage();
      const p = await pool(
        slice.map((_, i) => s * size + i),
        IN_FLIGHT,
        put,
      );
      putCpuMs += cpuMs(pc0);
      gateMs += g;
      runsMs += r;
      putMs += p;
      sliceRatios.push(+(p / g).toFixed(3));
      sliceMs.push({ gate: Math.round(g), runs: Math.round(r), put: Math.round(p) });
    }
    raw.destroy();
    let executions = 0;
    for (const e of local.engine.list()) if (e.status === "SUCCEEDED") executions++;
    executions -= WARM_UP_ALARMS;
    const writes = events;
    const eventsPerSecond = events.length / (gateMs / 1000);
    const putsPerSecond = writes.length / (putMs / 1000);
    const expected = {
      started: ALARMS * (TRANSITIONS_PER_ALARM / 2),
      duplicate: ALARMS * TRANSITIONS_PER_ALARM * (DELIVERIES - 1),
      "no-match": ALARMS * (TRANSITIONS_PER_ALARM / 2),
    };
    return [
      {
        figure: "alarm-storm",
        events: events.length,
        distinctTransitions: ALARMS * TRANSITIONS_PER_ALARM,
        warmUpEvents: WARM_UP_ALARMS * 2,
        inFlight: IN_FLIGHT,
        decisions: counts,
        expected,
        exact:
          counts.started === expected.started &&
          counts.duplicate === expected.duplicate &&
          counts["no-match"] === expected["no-match"] &&
          executions === expected.started,
        executionsSucceeded: executions,
        gateSeconds: +(gateMs / 1000).toFixed(2),
        eventsPerSecond: Math.round(eventsPerSecond),
        rawConditionalPutItemPerSecond: Math.round(putsPerSecond),
        ratio: +(eventsPerSecond / putsPerSecond).toFixed(3),
        gateCpuMsPerEvent: +(gateCpuMs / events.length).toFixed(3),
        rawPutCpuMsPerPut: +(putCpuMs / writes.length).toFixed(3),
        cpuRatio: +(putCpuMs / writes.length / (gateCpuMs / events.length)).toFixed(3),
        runsSeconds: +(runsMs / 1000).toFixed(2),
        ratioWithRuns: +(putMs / (gateMs + runsMs)).toFixed(3),
        slices: SLICES,
        sliceRatios,
        sliceMs,
        target: 0.6,
        withinTarget: eventsPerSecond / putsPerSecond >= 0.6,
        // Where the gate's store operations go: DynamoDB requests per event (by operation and
        // the kind of item: DEDUP claims, ALARM states, GUARD automation state, RATE slots, EXEC
        // records, ACTIVE markers, LOCK, AUDIT batches), and the items they touch; `runs` is what
        // the started runs themselves cost (steps, closing), per started run.
        ddbRequestsPerEvent: +(calls.total("gate") / events.length).toFixed(3),
        ddbRequestsByKindPerEvent: DdbCalls.per(calls.requests.get("gate") ?? {}, events.length),
        ddbItemsByKindPerEvent: DdbCalls.per(calls.items.get("gate") ?? {}, events.length),
        ddbRequestsPerStartedRunOutsideGate: DdbCalls.per(calls.requests.get("other") ?? {}, executions || 1),
        ...(profiler.enabled ? { gateCpu: profiler.summary(events.length) } : {}),
      },
    ];
  } finally {
    await local.stop();
  }
}
