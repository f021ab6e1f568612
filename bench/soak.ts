/**
 * bench/soak: one local server, as `reflex start` runs it (DynamoDB on disk under a fresh
 * data dir), fed 20,000 events over HTTP (`POST /events`) that start 2,000 runs, in 10
 * rounds. Every run's step calls the simulated cloud, so the engine, the call log and the
 * store all see the load.
 *
 * Memory: RSS after the first round (the warm-up: code loaded, pools and caches filled) and
 * after the last, each once the runs have ended, the engine's grace for finished executions
 * has passed, and a GC has run. Target: growth under 10 %. The RSS before any work is printed
 * too, so the warm-up is visible rather than hidden.
 *
 * Throughput: the gate's events/s over HTTP (posting time only; 50 POSTs of 10 entries in
 * flight, each POST's entries handled in order, so 50 concurrent gate flows), then, on the same
 * store in the same run, raw conditional PutItem/s with 50 in flight. Target ratio ≥ 0.4.
 *
 * The events: 4,000 alarm transitions (2,000 ALARM, 2,000 OK) each delivered 5 times,
 * shuffled; the rule starts a run per ALARM transition. So exactly 2,000 started, 16,000
 * duplicate, 2,000 no-match.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { Aws, Runbooks, stepTask, tableName, validateConfig } from "@reflex/core";
import { z } from "zod";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { startLocal } from "../packages/local/src/local-mode.ts";
import { alarmEvent } from "../test/support/events.ts";
import { pool, shuffle } from "./support/pool.ts";

const ROUNDS = 10;
/** `REFLEX_SOAK_RUNS` scales the bench down for a quick look; the figure is for 2,000. */
const RUNS = Number(process.env.REFLEX_SOAK_RUNS ?? 2_000);
const DELIVERIES = 5;
/** Concurrent flows: POSTs in flight for the gate (each a PutEvents-sized batch, handled in order), PutItems for the baseline. */
const IN_FLIGHT = 50;
/** Events per `POST /events` (PutEvents' own limit is 10 entries). */
const BATCH = 10;
/** The engine keeps a finished execution whole this long (local-sfn.ts default), then a summary. */
const ENGINE_GRACE_MS = 10_000;

const probe = Runbooks.defineRunbook({
  name: "soak-probe",
  summary: "Reads the simulated cloud once, for the soak bench",
  risk: "low",
  params: z.object({ alarm: z.string(), at: z.string() }).strict(),
  example: { alarm: "x", at: "2026-11-28T00:00:00.000+0000" },
  cap: { maxTargets: 1 },
  permissions: [{ actions: ["ec2:DescribeInstances"], mutating: false }],
  rollback: ["undo"],
  dryRun: "Reads the cloud, as a real run does.",
  stateMachine: {
    StartAt: "Probe",
    States: {
      Probe: stepTask("soak-probe", "probe", {
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Undo" }],
        End: true,
      }),
      Undo: stepTask("soak-probe", "undo", { Next: "Failed" }),
      Failed: { Type: "Fail", Error: "ProbeFailed" },
    },
  },
  // Each transition its own target, so no run is suppressed by another's lock.
  locks: (p) => [`soak:${p.alarm}@${p.at}`],
  implementation: async () => ({
    steps: {
      probe: async () => {
        const out = await Aws.client(EC2Client, "ec2").send(new DescribeInstancesCommand({ MaxResults: 5 }));
        probes++;
        return { reservations: out.Reservations?.length ?? 0 };
      },
      undo: async () => ({}),
    },
  }),
});

/** Probes the soak's runs made (the probe step counts them). */
let probes = 0;

/**
 * Idle keep-alive sockets are dropped after 2 s, before the server's own 5 s keep-alive
 * timeout, so no request goes out on a socket the server is closing (an ECONNRESET between
 * rounds, when the bench pauses to measure memory).
 */
const agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 2_000 });

function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; body: any; headers: Record<string, string | string[] | undefined> }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
              headers: res.headers,
            });
          } catch (e) {
            reject(e);
          }
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** A full GC, without needing `node --expose-gc`. */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

const mib = (bytes: number) => +(bytes / 2 ** 20).toFixed(1);

export async function soak(): Promise<Array<Record<string, unknown>>> {
  probes = 0;
  Runbooks.register(probe);
  const config = validateConfig({
    rules: [
      {
        name: "soak",
        on: {
          source: ["aws.cloudwatch"],
          "detail-type": ["CloudWatch Alarm State Change"],
          detail: { state: { value: ["ALARM"] } },
        },
        run: "soak-probe",
        with: { alarm: "$.detail.alarmName", at: "$.detail.state.timestamp" },
        cooldown: "0s",
      },
    ],
    guardrails: { rateLimit: { runs: 1_000_000, per: "1h" } },
  });
  const dataDir = mkdtempSync(join(tmpdir(), "reflex-soak-"));
  const local = await startLocal({
    config,
    port: 0,
    quiet: true,
    dataDir,
    scheduler: false,
    waitMs: 10,
    cloud: SimulatedCloud.seeded({ snapshotDurationMs: 10 }),
  });
  const settle = async () => {
    await local.idle();
    await new Promise((r) => setTimeout(r, ENGINE_GRACE_MS + 500));
    collectGarbage();
    return process.memoryUsage();
  };
  try {
    collectGarbage();
    const beforeWork = process.memoryUsage();
    // Round r holds the transitions of alarms [r*k, (r+1)*k): 2 ALARM + 2 OK each, 5 deliveries.
    const alarmsPerRound = RUNS / 2 / ROUNDS;
    const t0 = Date.parse("2026-11-28T00:00:00Z");
    const counts: Record<string, number> = {};
    let posted = 0;
    let retried = 0;
    let gateMs = 0;
    let start: NodeJS.MemoryUsage | undefined;
    // After each round (idle and a GC, no grace): a leak climbs round after round, a warm-up levels off.
    const byRound: Array<{ rss: number; heapTotal: number; heapUsed: number; external: number }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const events: unknown[] = [];
      for (let a = round * alarmsPerRound; a < (round + 1) * alarmsPerRound; a++) {
        for (let t = 0; t < 4; t++) {
          const event = alarmEvent(
            `soak-${a}`,
            t % 2 === 0 ? "ALARM" : "OK",
            new Date(t0 + a * 1000 + t * 60_000),
          );
          for (let d = 0; d < DELIVERIES; d++) events.push(event);
        }
      }
      shuffle(events, round + 1);
      const batches: unknown[][] = [];
      for (let i = 0; i < events.length; i += BATCH) batches.push(events.slice(i, i + BATCH));
      gateMs += await pool(batches, IN_FLIGHT, async (batch) => {
        // A 503 names entries another delivery is still handling (`in-progress`): send those
        // again after Retry-After (capped at 1 s), as EventBridge or any retrying caller would.
        let entries = batch;
        for (let attempt = 0; entries.length > 0; attempt++) {
          const res = await postJson(`${local.url}/events`, { Entries: entries });
          const results = (res.body as { results?: Array<{ decision: string }> }).results ?? [];
          if (results.length !== entries.length) throw new Error(`POST /events answered ${res.status}`);
          const again: unknown[] = [];
          results.forEach((r, i) => {
            if (r.decision === "in-progress" && attempt < 20) again.push(entries[i]);
            else counts[r.decision] = (counts[r.decision] ?? 0) + 1;
          });
          retried += again.length;
          entries = again;
          if (entries.length)
            await new Promise((r) =>
              setTimeout(r, Math.min(1000, 1000 * Number(res.headers["retry-after"] ?? 1))),
            );
        }
      });
      posted += events.length;
      // Every round is sampled alike (idle, a GC, no grace); the first also after the grace, as the start.
      await local.idle();
      collectGarbage();
      const m = process.memoryUsage();
      if (round === 0) start = await settle();
      byRound.push({
        rss: mib(m.rss),
        heapTotal: mib(m.heapTotal),
        heapUsed: mib(m.heapUsed),
        external: mib(m.external),
      });
    }
    const end = await settle();
    const retained = local.engine.retained();

    // The same store, the same concurrency: raw conditional writes of fresh keys.
    const ddb = new DynamoDBClient({
      endpoint: local.storage.dynamoEndpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    const writes = Array.from({ length: posted }, (_, i) => i);
    const putMs = await pool(writes, IN_FLIGHT, (i) =>
      ddb.send(
        new PutItemCommand({
          TableName: tableName(),
          Item: { pk: { S: `SOAK#${i}` }, sk: { S: "B" }, n: { N: String(i) } },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      ),
    );
    ddb.destroy();

    const eventsPerSecond = posted / (gateMs / 1000);
    const putsPerSecond = writes.length / (putMs / 1000);
    const expected = { started: RUNS, duplicate: RUNS * 2 * (DELIVERIES - 1), "no-match": RUNS };
    const growth = ((end.rss - start!.rss) / start!.rss) * 100;
    const first = byRound[0].rss;
    const last = byRound[byRound.length - 1].rss;
    const second = byRound[1]?.rss ?? first;
    return [
      {
        figure: "soak-memory",
        runs: probes,
        events: posted,
        rounds: ROUNDS,
        rssBeforeWorkMiB: mib(beforeWork.rss),
        rssStartMiB: mib(start!.rss),
        rssEndMiB: mib(end.rss),
        rssGrowthPct: +growth.toFixed(1),
        rssGrowthUnderLoadPct: +(((last - first) / first) * 100).toFixed(1),
        rssGrowthUnderLoadAfterRound2Pct: +(((last - second) / second) * 100).toFixed(1),
        heapUsedStartMiB: mib(start!.heapUsed),
        heapUsedEndMiB: mib(end.heapUsed),
        heapTotalStartMiB: mib(start!.heapTotal),
        heapTotalEndMiB: mib(end.heapTotal),
        externalStartMiB: mib(start!.external),
        externalEndMiB: mib(end.external),
        byRoundMiB: byRound,
        engineRetained: retained,
        callLog: {
          kept: local.cloud.calls.length,
          capacity: local.cloud.callLogSize,
          total: local.cloud.lastCallSeq,
        },
        note: "start/end: after round 1 (warm-up) and round 10, each after idle, the engine's 10 s grace and a full GC; underLoad: round 1 to round 10 right after idle and a GC (byRoundMiB)",
        target: "< 10 %",
      },
      {
        figure: "soak-throughput",
        events: posted,
        inFlight: IN_FLIGHT,
        eventsPerPost: BATCH,
        decisions: counts,
        expected,
        inProgressResent: retried,
        exact:
          counts.started === expected.started &&
          counts.duplicate === expected.duplicate &&
          counts["no-match"] === expected["no-match"] &&
          probes === RUNS,
        gateSeconds: +(gateMs / 1000).toFixed(2),
        eventsPerSecond: Math.round(eventsPerSecond),
        rawConditionalPutItemPerSecond: Math.round(putsPerSecond),
        ratio: +(eventsPerSecond / putsPerSecond).toFixed(3),
        target: 0.4,
      },
    ];
  } finally {
    agent.destroy();
    await local.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
