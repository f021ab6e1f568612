/**
 * bench/audit-seal: what the sealed audit trail costs.
 *
 * 1. The alarm storm (bench/alarm-storm's workload: alarm events, each transition delivered 5
 *    times, shuffled, 50 in flight, through the event gate of local mode, every decision
 *    audited) with sealing off and on, in slices that alternate "sealer idle" and "sealer
 *    running back to back" (sealing 1-minute periods of an hour of earlier entries, 3 periods a
 *    pass, on the same store), so load from elsewhere on the machine hits both alike. Sealing
 *    is after the period, never in the write path: the ratio shows only the sealer's reads and
 *    writes competing for the store — an upper bound, as a deployed sealer runs once a minute.
 *    The same for the audit writer alone (`Audit.store`), as before.
 * 2. Verify speed: entries in 100 signed hourly digests, verified in memory (hash every entry,
 *    check every signature and link), at each size of `BENCH_AUDIT_VERIFY` (default
 *    100000,300000: two sizes show whether time grows linearly); 1 M is extrapolated from the
 *    largest unless it is among them (`BENCH_AUDIT_VERIFY=1000000`), and the figure says which.
 * 3. S3 bytes per 1 M entries: the export (gzip JSON lines + digest JSON) of the same entries.
 * 4. KMS Sign calls per month and their price (hourly digests; backfills at most as many).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Audit, AuditKeys, AuditSeal, AuditVerify, Aws, Gate, tableName } from "@reflex/core";
import { ensureTable, S3RVER_CREDENTIALS, startStorage } from "../packages/local/src/storage.ts";
import { alarmEvent } from "../test/support/events.ts";
import { startStormLocal } from "./alarm-storm.ts";
import { pool, shuffle } from "./support/pool.ts";

const STORM = Number(process.env.BENCH_AUDIT_STORM ?? 6000);
/** Alarms in the gate storm: 4 transitions each, 5 deliveries each (200: 4,000 events). */
const STORM_ALARMS = Number(process.env.BENCH_AUDIT_STORM_ALARMS ?? 200);
const VERIFY_SIZES = (process.env.BENCH_AUDIT_VERIFY ?? "100000,300000").split(",").map(Number);
const SLICES = 6;
const IN_FLIGHT = 50;
/**
 * https://aws.amazon.com/kms/pricing/ (us-east-1): requests on asymmetric keys other than RSA 2048
 * (the sealer's key is ECC_NIST_P256) $0.15 per 10,000, excluded from the free tier; $1 per key-month.
 */
const KMS_ASYMMETRIC_PER_10K_USD = 0.15;
const KMS_KEY_PER_MONTH_USD = 1;

function entry(at: Date, i: number): Audit.AuditEntry {
  return {
    id: randomUUID(),
    at: at.toISOString(),
    kind: i % 3 === 0 ? "event.duplicate" : "execution.started",
    actor: "rule:web-cpu-high",
    reason: `alarm web-cpu-high went to ALARM; started scale-out on asg:web (delivery ${i})`,
    executionId: `run-${i.toString(36)}`,
    runbook: "scale",
    eventId: randomUUID(),
    sender: "AROAEXAMPLEROLEID0001:reflex-prod-trigger",
    receivedAt: at.toISOString(),
  };
}

/** Hands entries to the audit writer's store, IN_FLIGHT at a time, as the queue's deliveries would. */
function storeAll(entries: Audit.AuditEntry[]) {
  return pool(entries, IN_FLIGHT, (e) =>
    Audit.store({
      body: JSON.stringify(e),
      sender: "LOCAL:bench",
      sentAt: Date.now(),
      messageId: randomUUID(),
    }),
  );
}

/** The sealer running back to back (1-minute periods since `since`) until `stopped()`: how many digests it wrote. */
async function sealUntil(
  signer: ReturnType<typeof AuditKeys.localSigner>,
  since: Date,
  stopped: () => boolean,
): Promise<number> {
  let sealed = 0;
  while (!stopped())
    sealed += (
      await AuditSeal.seal({ signer, hub: "bench", periodMinutes: 1, graceMs: 0, since, maxPeriods: 3 })
    ).length;
  return sealed;
}

let keysRoot: string | undefined;
/** A new signer's key dir, under one temporary dir that is removed when the bench's process exits. */
function keysDir(): string {
  if (!keysRoot) {
    const root = mkdtempSync(join(tmpdir(), "reflex-bench-keys-"));
    process.once("exit", () => rmSync(root, { recursive: true, force: true }));
    keysRoot = root;
  }
  return mkdtempSync(join(keysRoot, "signer-"));
}

async function stormThroughput(): Promise<Record<string, unknown>> {
  const storage = await startStorage({ region: "us-east-1" });
  process.env.REFLEX_TABLE = `bench-audit-${randomUUID().slice(0, 8)}`;
  await ensureTable(storage.dynamoEndpoint, "us-east-1", tableName());
  Aws.configure({
    endpoints: { dynamodb: storage.dynamoEndpoint, s3: storage.s3Endpoint },
    credentials: { s3: S3RVER_CREDENTIALS },
  });
  const signer = AuditKeys.localSigner(keysDir());
  // Earlier entries for the sealer to seal: spread over the last hour, in 1-minute periods.
  const start = Date.now();
  const past = Array.from({ length: 3000 }, (_, i) => entry(new Date(start - 3_600_000 + i * 1_200), i));
  await storeAll(past);
  const perSlice = Math.floor(STORM / SLICES);
  const ms = { off: 0, on: 0 };
  let sealed = 0;
  let n = 0;
  for (let slice = 0; slice < SLICES; slice++) {
    const on = slice % 2 === 1;
    const batch = Array.from({ length: perSlice }, () => entry(new Date(), n++));
    let stop = false;
    const sealer = on ? sealUntil(signer, new Date(start - 3_600_000), () => stop) : Promise.resolve(0);
    const t0 = performance.now();
    await storeAll(batch);
    ms[on ? "on" : "off"] += performance.now() - t0;
    stop = true;
    sealed += await sealer;
  }
  await storage.close();
  const half = perSlice * (SLICES / 2);
  const off = Math.round((half / ms.off) * 1000);
  const on = Math.round((half / ms.on) * 1000);
  return {
    bench: "audit-seal",
    figure: "storm-throughput",
    entries: half * 2,
    inFlight: IN_FLIGHT,
    entriesPerSecSealingOff: off,
    entriesPerSecSealingOn: on,
    ratioOnOff: Number((on / off).toFixed(3)),
    digestsSealedDuringStorm: sealed,
  };
}

async function verifyAndBytes(size: number): Promise<Array<Record<string, unknown>>> {
  const keyDir = keysDir();
  const signer = AuditKeys.localSigner(keyDir);
  const hours = 100;
  const perHour = Math.ceil(size / hours);
  const h0 = new Date("2026-03-01T00:00:00Z").getTime();
  const entries: Audit.AuditEntry[] = [];
  const digests: AuditSeal.Digest[] = [];
  let bytes = 0;
  for (let h = 0; h < hours; h++) {
    const hour = entries.length;
    for (let i = 0; i < perHour; i++) entries.push(entry(new Date(h0 + h * 3_600_000 + i * 3), hour + i));
    const mine = entries.slice(hour).sort(AuditSeal.sealOrder);
    const d = await AuditSeal.makeDigest({
      hub: "bench",
      hour: new Date(h0 + h * 3_600_000),
      periodMs: 3_600_000,
      backfill: false,
      entries: mine,
      previous: digests.at(-1),
      signer,
      sealedAt: new Date(h0 + (h + 1) * 3_600_000 + 300_000),
    });
    digests.push(d);
    bytes +=
      gzipSync(mine.map((e) => JSON.stringify(e)).join("\n")).length + Buffer.byteLength(JSON.stringify(d));
  }
  const trusted = AuditKeys.localPublicKeys(keyDir);
  const source = AuditVerify.memorySource("dir", { digests, entries });
  const t0 = performance.now();
  const report = await AuditVerify.verify({
    source,
    keys: trusted,
    from: new Date(h0),
    to: new Date(h0 + hours * 3_600_000),
  });
  const verifyMs = performance.now() - t0;
  if (!report.ok)
    throw new Error(`bench trail did not verify: ${JSON.stringify(report.problems.slice(0, 3))}`);
  const perMillion = 1_000_000 / entries.length;
  const signsPerMonth = ((30 * 24 * 60) / 60) * 1;
  return [
    {
      bench: "audit-seal",
      figure: "verify",
      entries: entries.length,
      digests: digests.length,
      verifyMs: Math.round(verifyMs),
      entriesPerSec: Math.round((entries.length / verifyMs) * 1000),
      verifySecondsPer1M: Number(((verifyMs * perMillion) / 1000).toFixed(1)),
      note:
        entries.length >= 1_000_000
          ? "measured at 1 M (in memory, one core)"
          : `1 M extrapolated linearly from ${entries.length} (in memory, one core)`,
    },
    {
      bench: "audit-seal",
      figure: "s3-bytes",
      entries: entries.length,
      exportBytes: bytes,
      bytesPerEntry: Number((bytes / entries.length).toFixed(1)),
      bytesPer1M: Math.round(bytes * perMillion),
    },
    {
      bench: "audit-seal",
      figure: "kms-sign",
      sealMinutes: 60,
      signCallsPerMonth: signsPerMonth,
      signCallsPerMonthWithBackfillAtMost: signsPerMonth * 2,
      usdPerMonthSign: Number(((signsPerMonth * 2 * KMS_ASYMMETRIC_PER_10K_USD) / 10_000).toFixed(4)),
      usdPerMonthKey: KMS_KEY_PER_MONTH_USD,
      priceSource:
        "https://aws.amazon.com/kms/pricing/: $1/key-month; requests on asymmetric keys other than RSA 2048 $0.15 per 10,000 (no free tier)",
    },
  ];
}

/**
 * The alarm storm through local mode's gate, slices alternating sealer idle / sealer running
 * back to back on the same store (see the header).
 */
async function gateStorm(): Promise<Record<string, unknown>> {
  const { local, config } = await startStormLocal();
  try {
    const signer = AuditKeys.localSigner(keysDir());
    const start = Date.now();
    // An hour of earlier entries for the sealer to seal, in 1-minute periods.
    const past = Array.from({ length: 3000 }, (_, i) => entry(new Date(start - 3_600_000 + i * 1_200), i));
    await storeAll(past);
    const t0 = Date.parse("2026-11-28T00:00:00Z");
    const events: Array<ReturnType<typeof alarmEvent>> = [];
    for (let a = 0; a < STORM_ALARMS; a++)
      for (let t = 0; t < 4; t++) {
        const event = alarmEvent(
          `alarm-${a}`,
          t % 2 === 0 ? "ALARM" : "OK",
          new Date(t0 + a * 1000 + t * 60_000),
          {
            id: randomUUID(),
          },
        );
        for (let d = 0; d < 5; d++) events.push(event);
      }
    shuffle(events);
    const decisions: Record<string, number> = {};
    const handle = async (event: ReturnType<typeof alarmEvent>) => {
      for (;;) {
        const out = await Gate.handleEvent(event, { config });
        if (out.some((d) => d.decision === "in-progress")) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        for (const d of out) decisions[d.decision] = (decisions[d.decision] ?? 0) + 1;
        return;
      }
    };
    // The runs a slice starts are launched after its timed part (in AWS they run elsewhere).
    const engine = local.engine as unknown as { launch: (...args: unknown[]) => void };
    const launch = engine.launch.bind(engine);
    let deferred: unknown[][] = [];
    engine.launch = (...args: unknown[]) => void deferred.push(args);
    const ms = { off: 0, on: 0 };
    const count = { off: 0, on: 0 };
    let sealed = 0;
    const size = Math.ceil(events.length / SLICES);
    for (let slice = 0; slice < SLICES; slice++) {
      const on = slice % 2 === 1;
      const part = events.slice(slice * size, (slice + 1) * size);
      let stop = false;
      const sealer = on ? sealUntil(signer, new Date(start - 3_600_000), () => stop) : Promise.resolve(0);
      const took = await pool(part, IN_FLIGHT, handle);
      stop = true;
      sealed += await sealer;
      ms[on ? "on" : "off"] += took;
      count[on ? "on" : "off"] += part.length;
      const launches = deferred;
      deferred = [];
      for (const args of launches) launch(...args);
      await local.idle();
    }
    const off = Math.round((count.off / ms.off) * 1000);
    const on = Math.round((count.on / ms.on) * 1000);
    return {
      bench: "audit-seal",
      figure: "alarm-storm-gate",
      events: events.length,
      inFlight: IN_FLIGHT,
      decisions,
      eventsPerSecSealingOff: off,
      eventsPerSecSealingOn: on,
      ratioOnOff: Number((on / off).toFixed(3)),
      digestsSealedDuringStorm: sealed,
      note: "sealer running back to back during the 'on' slices (deployed it runs once a minute): an upper bound on its cost",
    };
  } finally {
    await local.stop();
  }
}

export async function auditSealBench(): Promise<Array<Record<string, unknown>>> {
  // BENCH_AUDIT_PARTS=verify measures only the verify and export sizes (e.g. at 1 M, alone).
  const parts = (process.env.BENCH_AUDIT_PARTS ?? "gate,storm,verify").split(",");
  const out: Array<Record<string, unknown>> = [];
  if (parts.includes("gate")) out.push(await gateStorm());
  if (parts.includes("storm")) out.push(await stormThroughput());
  const verify: Array<Record<string, unknown>> = [];
  if (parts.includes("verify")) for (const size of VERIFY_SIZES) verify.push(...(await verifyAndBytes(size)));
  const times = verify.filter((v) => v.figure === "verify");
  // Linear? The per-entry time at the largest size against the smallest's.
  const first = times[0];
  const last = times.at(-1);
  if (first && last && first !== last)
    out.push({
      bench: "audit-seal",
      figure: "verify-scaling",
      sizes: times.map((t) => t.entries),
      msPerEntryRatioLargestToSmallest: Number(
        (
          Number(last.verifyMs) /
          Number(last.entries) /
          (Number(first.verifyMs) / Number(first.entries))
        ).toFixed(3),
      ),
    });
  // The KMS figure is the same at every size: once.
  const kms = verify.filter((v) => v.figure === "kms-sign");
  return [...out, ...verify.filter((v) => v.figure !== "kms-sign"), ...kms.slice(0, 1)];
}
