/**
 * bench/gate-cost: what one event costs the gate, by what the gate decides, in CPU time of the
 * process (dynalite in the same process, so the store's own work is counted, as in
 * bench/alarm-storm) against one raw conditional PutItem on the same store, in the same run:
 * a first delivery that starts a run, a first delivery no rule matches, a redelivery this
 * process finished (a duplicate), each `BENCH_GATE_EVENTS` (300) at 50 in flight, twice over
 * (the second round is the figure; the first loads and warms). With the requests each kind sends
 * (DynamoDB by operation and item kind, and the other services' calls), so a change can be
 * told from its requests and its CPU. CPU time, not elapsed: the machine's load moves it less.
 *
 * Each phase starts once what the previous one left is done. The local Slack notifier (in AWS
 * another Lambda, fed by the bus) is held back while a phase is measured, as the runs are, and
 * its work on the phase's lifecycle events is measured after it, apart (`notifierPerEvent`).
 *
 * `stormMix` weighs the three as the alarm storm holds them (1 start, 1 no-match, 8 duplicates
 * in 10 events): what alarm-storm's `cpuRatio` comes to, per kind.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { Gate, tableName } from "@reflex/core";
import { alarmEvent } from "../test/support/events.ts";
import { startStormLocal } from "./alarm-storm.ts";
import { DdbCalls } from "./support/ddb-calls.ts";
import { holdBack } from "./support/hold-back.ts";
import { pool } from "./support/pool.ts";

const EVENTS = Number(process.env.BENCH_GATE_EVENTS ?? 300);
const IN_FLIGHT = 50;

export async function gateCostBench(): Promise<Array<Record<string, unknown>>> {
  const calls = new DdbCalls();
  // DynamoDB counted by operation and item kind; every other service's calls by name.
  const { local, config } = await startStormLocal(calls.decorateAll);
  // The runs started are launched after the measurement, and the local Slack notifier is held
  // back while a phase is measured, as alarm-storm does; its work on what the phase published is
  // measured on its own after.
  const held = holdBack(local);
  const raw = new DynamoDBClient({
    endpoint: local.storage.dynamoEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  // What a phase leaves behind (local mode's Slack notifier works through its events one at a
  // time, after the gate has answered) settles before the next is measured: until no request
  // has been sent for a quarter of a second.
  const sent = () =>
    [...calls.requests.values()].reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0) +
    [...calls.services.values()].reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0);
  const settle = async () => {
    for (let before = -1; before !== sent(); ) {
      before = sent();
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const measure = async <T>(items: T[], work: (item: T) => Promise<unknown>) => {
    await settle();
    calls.requests.clear();
    calls.services.clear();
    held.published.length = 0;
    const from = process.cpuUsage();
    await calls.within("gate", () => pool(items, IN_FLIGHT, work));
    const used = process.cpuUsage(from);
    const requests = {
      ...DdbCalls.per(calls.requests.get("gate") ?? {}, items.length),
      ...DdbCalls.per(calls.requests.get("other") ?? {}, items.length),
      ...DdbCalls.per(calls.services.get("gate") ?? {}, items.length),
      ...DdbCalls.per(calls.services.get("other") ?? {}, items.length),
    };
    // The notifier's share, per event of the phase: what it sends for the lifecycle events the
    // phase published (the CPU includes the quarter-second waits that tell it has finished).
    calls.requests.delete("notifier");
    const notifierFrom = process.cpuUsage();
    await calls.within("notifier", async () => {
      held.deliver();
      await settle();
    });
    const notifierUsed = process.cpuUsage(notifierFrom);
    return {
      cpuMs: +((used.user + used.system) / 1000 / items.length).toFixed(3),
      requests,
      notifier: {
        cpuMs: +((notifierUsed.user + notifierUsed.system) / 1000 / items.length).toFixed(3),
        requests: DdbCalls.per(calls.requests.get("notifier") ?? {}, items.length),
      },
    };
  };
  try {
    const t0 = Date.parse("2026-11-28T00:00:00Z");
    let n = 0;
    let figures: Record<
      string,
      {
        cpuMs: number;
        requests: Record<string, number>;
        notifier: { cpuMs: number; requests: Record<string, number> };
      }
    > = {};
    for (let round = 0; round < 2; round++) {
      const alarms = Array.from({ length: EVENTS }, () =>
        alarmEvent(`cost-${n++}`, "ALARM", new Date(t0 + n * 1000), { id: randomUUID() }),
      );
      const oks = Array.from({ length: EVENTS }, () =>
        alarmEvent(`cost-${n++}`, "OK", new Date(t0 + n * 1000), { id: randomUUID() }),
      );
      const rawPut = await measure(
        alarms.map(() => randomUUID()),
        (id) =>
          raw.send(
            new PutItemCommand({
              TableName: tableName(),
              Item: { pk: { S: `BENCH#${id}` }, sk: { S: "B" } },
              ConditionExpression: "attribute_not_exists(pk)",
            }),
          ),
      );
      const start = await measure(alarms, (e) => Gate.handleEvent(e, { config }));
      const noMatch = await measure(oks, (e) => Gate.handleEvent(e, { config }));
      const duplicate = await measure([...alarms, ...oks], (e) => Gate.handleEvent(e, { config }));
      figures = { rawPut, start, noMatch, duplicate };
      held.launchAll();
      await local.idle();
    }
    const mix = (figures.start.cpuMs + figures.noMatch.cpuMs + 8 * figures.duplicate.cpuMs) / 10;
    return [
      {
        figure: "gate-cost",
        eventsPerKind: EVENTS,
        inFlight: IN_FLIGHT,
        cpuMsPerEvent: Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, v.cpuMs])),
        stormMixCpuMsPerEvent: +mix.toFixed(3),
        stormMixCpuRatio: +(figures.rawPut.cpuMs / mix).toFixed(3),
        requestsPerEvent: Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, v.requests])),
        // Not in the figures above: the local Slack notifier's work after the gate answered.
        notifierPerEvent: Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, v.notifier])),
      },
    ];
  } finally {
    held.release();
    raw.destroy();
    await local.stop();
  }
}
