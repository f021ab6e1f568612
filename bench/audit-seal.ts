/**
 * bench/audit-seal: what the sealed audit trail costs.
 *
 * 1. The storm's write path with sealing on vs off: the audit writer (`Audit.store`, conditional
 *    puts on dynalite) takes `STORM` entries, 50 in flight, in slices that alternate "sealer
 *    idle" and "sealer running" (a loop sealing 1-minute periods of earlier entries on the same
 *    store), so load from elsewhere on the machine hits both alike. Sealing is after the period,
 *    never in the write path, so the ratio shows only the sealer's reads competing for the store.
 * 2. Verify speed: `VERIFY` entries (default 100,000) in 100 signed hourly digests, verified in
 *    memory (hash every entry, check every signature and link); the 1 M figure is extrapolated
 *    linearly from it (say so), as is
 * 3. S3 bytes per 1 M entries: the export (gzip JSON lines + digest JSON) of the same entries.
 * 4. KMS Sign calls per month and their price (hourly digests; backfills at most as many).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Audit, AuditKeys, AuditSeal, AuditVerify, Aws, tableName } from "@reflex/core";
import { ensureTable, S3RVER_CREDENTIALS, startStorage } from "../packages/local/src/storage.ts";
import { pool } from "./support/pool.ts";

const STORM = Number(process.env.BENCH_AUDIT_STORM ?? 6000);
const VERIFY = Number(process.env.BENCH_AUDIT_VERIFY ?? 100_000);
const SLICES = 6;
const IN_FLIGHT = 50;
/** aws.amazon.com/kms/pricing (us-east-1): asymmetric requests other than RSA 2048, per 10,000; excluded from the free tier. */
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

async function stormThroughput(): Promise<Record<string, unknown>> {
  const storage = await startStorage({ region: "us-east-1" });
  process.env.REFLEX_TABLE = `bench-audit-${randomUUID().slice(0, 8)}`;
  await ensureTable(storage.dynamoEndpoint, "us-east-1", tableName());
  Aws.configure({
    endpoints: { dynamodb: storage.dynamoEndpoint, s3: storage.s3Endpoint },
    credentials: { s3: S3RVER_CREDENTIALS },
  });
  const signer = AuditKeys.localSigner(mkdtempSync(join(tmpdir(), "reflex-bench-keys-")));
  // Earlier entries for the sealer to seal: spread over the last hour, in 1-minute periods.
  const start = Date.now();
  const past = Array.from({ length: 3000 }, (_, i) => entry(new Date(start - 3_600_000 + i * 1_200), i));
  await pool(past, IN_FLIGHT, (e) =>
    Audit.store({
      body: JSON.stringify(e),
      sender: "LOCAL:bench",
      sentAt: Date.now(),
      messageId: randomUUID(),
    }),
  );
  const perSlice = Math.floor(STORM / SLICES);
  const ms = { off: 0, on: 0 };
  let sealed = 0;
  let n = 0;
  for (let slice = 0; slice < SLICES; slice++) {
    const on = slice % 2 === 1;
    const batch = Array.from({ length: perSlice }, () => entry(new Date(), n++));
    let stop = false;
    const sealer = on
      ? (async () => {
          while (!stop) {
            sealed += (
              await AuditSeal.seal({
                signer,
                hub: "bench",
                periodMinutes: 1,
                graceMs: 0,
                since: new Date(start - 3_600_000),
                maxPeriods: 3,
              })
            ).length;
          }
        })()
      : Promise.resolve();
    const t0 = performance.now();
    await pool(batch, IN_FLIGHT, (e) =>
      Audit.store({
        body: JSON.stringify(e),
        sender: "LOCAL:bench",
        sentAt: Date.now(),
        messageId: randomUUID(),
      }),
    );
    ms[on ? "on" : "off"] += performance.now() - t0;
    stop = true;
    await sealer;
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

async function verifyAndBytes(): Promise<Array<Record<string, unknown>>> {
  const keyDir = mkdtempSync(join(tmpdir(), "reflex-bench-keys-"));
  const signer = AuditKeys.localSigner(keyDir);
  const hours = 100;
  const perHour = Math.ceil(VERIFY / hours);
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
      verifySecondsPer1MExtrapolated: Number(((verifyMs * perMillion) / 1000).toFixed(1)),
      note: `1 M extrapolated linearly from ${entries.length} (in memory, one core)`,
    },
    {
      bench: "audit-seal",
      figure: "s3-bytes",
      entries: entries.length,
      exportBytes: bytes,
      bytesPerEntry: Number((bytes / entries.length).toFixed(1)),
      bytesPer1MExtrapolated: Math.round(bytes * perMillion),
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
        "aws.amazon.com/kms/pricing: $1/key-month; asymmetric requests (not RSA 2048) $0.15 per 10,000",
    },
  ];
}

export async function auditSealBench(): Promise<Array<Record<string, unknown>>> {
  return [await stormThroughput(), ...(await verifyAndBytes())];
}
