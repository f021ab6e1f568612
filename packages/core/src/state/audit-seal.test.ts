/**
 * The sealed audit trail: hourly digests over the entries, signed and chained, and a verifier
 * that names what was changed after sealing — each kind of tampering a table administrator could
 * do, done here with plain table writes, and reported as such.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { DeleteCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../test/support/dynamo.ts";
import { testTempDir } from "../../../../test/support/tmp.ts";
import { ensureBucket, ensureTable, type Storage } from "../../../local/src/storage.ts";
import { client } from "../aws.ts";
import { validateConfig } from "../config/index.ts";
import * as Audit from "./audit.ts";
import * as Export from "./audit-export.ts";
import * as Keys from "./audit-keys.ts";
import * as Seal from "./audit-seal.ts";
import * as Verify from "./audit-verify.ts";
import { db } from "./db.ts";
import { tableName } from "./table.ts";

let storage: Storage;
const tmp = testTempDir("reflex-audit-seal-");
const keysDir = join(tmp, "keys");
const signer = Keys.localSigner(keysDir);
const trusted = () => Keys.localPublicKeys(keysDir);

beforeAll(async () => {
  storage = await startTestDynamo();
});
afterAll(async () => {
  delete process.env.REFLEX_TABLE;
  await storage.close();
});
// Each test its own table: the digest chain is one per table.
beforeEach(async () => {
  process.env.REFLEX_TABLE = `audit-seal-${randomUUID().slice(0, 8)}`;
  await ensureTable(storage.dynamoEndpoint, "us-east-1", tableName());
});

const H0 = new Date("2026-03-01T10:00:00.000Z");
const hour = (n: number) => new Date(H0.getTime() + n * 3_600_000);
const FROM = hour(0);
const TO = hour(3);

async function store(at: Date, reason: string): Promise<Audit.AuditEntry> {
  const entry = { id: randomUUID(), at: at.toISOString(), kind: "test.entry", actor: "cli:alice", reason };
  const stored = await Audit.store({
    body: JSON.stringify(entry),
    sender: "LOCAL:test",
    sentAt: at.getTime(),
    messageId: randomUUID(),
  });
  // The trail keeps it under the message's id.
  return { ...entry, id: stored.id };
}

/** Hours 0 and 2 hold entries, hour 1 none; sealed as at 13:05. */
async function sealedTrail() {
  const entries = [
    await store(new Date(hour(0).getTime() + 60_000), "first"),
    await store(new Date(hour(0).getTime() + 120_000), "second"),
    await store(new Date(hour(0).getTime() + 180_000), "third"),
    await store(new Date(hour(2).getTime() + 60_000), "fourth"),
  ];
  const digests = await Seal.seal({
    signer,
    hub: "test",
    now: new Date(hour(3).getTime() + 5 * 60_000),
    since: FROM,
  });
  return { entries, digests };
}

const verify = (source = Verify.tableSource()) =>
  Verify.verify({ source, keys: trusted(), from: FROM, to: TO });
const rowKey = (e: { at: string; id: string }) => ({
  pk: `AUDIT#${e.at.slice(0, 10)}`,
  sk: `${e.at}#${e.id}`,
});
const digestKey = (sequence: number) => ({
  pk: Seal.DIGEST_PK,
  sk: `DIGEST#${String(sequence).padStart(12, "0")}`,
});

describe("sealing", () => {
  it("writes one signed digest per hour, an empty hour with count 0, each linked to the one before", async () => {
    const { entries, digests } = await sealedTrail();

    expect(digests.map((d) => [d.sequence, d.hour, d.count])).toEqual([
      [1, hour(0).toISOString(), 3],
      [2, hour(1).toISOString(), 0],
      [3, hour(2).toISOString(), 1],
    ]);
    expect(digests[0].entries.map((e) => e.id)).toEqual(entries.slice(0, 3).map((e) => e.id));
    expect(digests[0].entries[0].sha256).toBe(
      Seal.entryHash((await Seal.entriesBetween(hour(0), hour(1)))[0]),
    );
    expect(digests[1]).toMatchObject({
      previousDigestHash: Seal.digestHash(digests[0]),
      previousDigestSignature: digests[0].signature,
    });
    expect(digests[0]).toMatchObject({
      previousDigestHash: null,
      keyId: signer.keyId,
      algorithm: "ECDSA_SHA_256",
    });
    expect(await verify()).toMatchObject({ ok: true, problems: [], digests: 3, entries: 4, periods: 3 });
  });

  it("seals nothing twice: a second run in the same hour writes no digest", async () => {
    await sealedTrail();

    const again = await Seal.seal({ signer, hub: "test", now: new Date(hour(3).getTime() + 10 * 60_000) });

    expect(again).toEqual([]);
  });

  it("puts an entry that arrives after its hour was sealed into a backfill digest, and the trail verifies", async () => {
    await sealedTrail();
    const late = await store(new Date(hour(1).getTime() + 30_000), "late");

    const before = await verify();
    const written = await Seal.seal({ signer, hub: "test", now: new Date(hour(3).getTime() + 20 * 60_000) });

    expect(before.problems).toEqual([expect.objectContaining({ kind: "unsealed-entry", id: late.id })]);
    expect(written).toEqual([
      expect.objectContaining({ sequence: 4, hour: hour(1).toISOString(), backfill: true, count: 1 }),
    ]);
    expect(await verify()).toMatchObject({ ok: true, entries: 5 });
  });

  it("a sealed batch the queue delivers again with a receive count of 1 (SQS's count is approximate) adds no entry and the trail verifies", async () => {
    const at = (n: number) => new Date(hour(0).getTime() + n * 60_000);
    const batch = [1, 2, 3].map((n) => ({
      body: JSON.stringify({
        id: randomUUID(),
        at: at(n).toISOString(),
        kind: "test.entry",
        actor: "cli:a",
        reason: `r${n}`,
      }),
      sender: "LOCAL:test",
      sentAt: at(n).getTime(),
      messageId: randomUUID(),
    }));
    // The second message is malformed: the row the writer makes for it must come out the same too.
    batch[1].body = "{ not json";
    const first = await Audit.storeAll(batch);
    await Seal.seal({ signer, hub: "test", now: new Date(hour(3).getTime() + 5 * 60_000), since: FROM });

    const again = await Audit.storeAll(batch.map((m) => ({ ...m, receiveCount: 1 })));

    expect(again).toEqual(first);
    expect(await verify()).toMatchObject({ ok: true, problems: [], entries: 3 });
  });

  it("refuses a seal period that does not divide a day, in the config and in the sealer", async () => {
    let refused: unknown;
    try {
      validateConfig({ audit: { sealMinutes: 7 } });
    } catch (e) {
      refused = e;
    }
    expect(refused).toMatchObject({
      issues: [
        expect.objectContaining({
          path: "audit.sealMinutes",
          message: expect.stringMatching(/divide a day/),
        }),
      ],
    });
    expect(validateConfig({}).audit).toEqual({ sealMinutes: 60, retainDays: 400, lockMode: "COMPLIANCE" });
    await expect(Seal.seal({ signer, hub: "test", periodMinutes: 7 })).rejects.toThrow(/divides a day/);
  });

  it("canonical JSON sorts keys at every depth and drops undefined members", () => {
    expect(Seal.canonical({ b: 1, a: { d: [1, "x"], c: null, u: undefined } })).toBe(
      '{"a":{"c":null,"d":[1,"x"]},"b":1}',
    );
  });
});

describe("verify names each kind of tampering", () => {
  it("an entry whose reason was edited: modified, by id, and nothing else", async () => {
    const { entries } = await sealedTrail();
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: rowKey(entries[1]),
        UpdateExpression: "SET reason = :r",
        ExpressionAttributeValues: { ":r": "nothing happened" },
      }),
    );

    const report = await verify();

    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({
        kind: "modified-entry",
        id: entries[1].id,
        sequence: 1,
        hour: hour(0).toISOString(),
      }),
    ]);
  });

  it("a deleted entry: missing, by id", async () => {
    const { entries } = await sealedTrail();
    await db().send(new DeleteCommand({ TableName: tableName(), Key: rowKey(entries[3]) }));

    expect((await verify()).problems).toEqual([
      expect.objectContaining({ kind: "missing-entry", id: entries[3].id, sequence: 3 }),
    ]);
  });

  it("two entries swapped in time (their order changed): both modified, by id", async () => {
    const { entries } = await sealedTrail();
    const [a, b] = [entries[0], entries[2]];
    for (const [e, other] of [
      [a, b],
      [b, a],
    ])
      await db().send(
        new UpdateCommand({
          TableName: tableName(),
          Key: rowKey(e),
          UpdateExpression: "SET #at = :at",
          ExpressionAttributeNames: { "#at": "at" },
          ExpressionAttributeValues: { ":at": other.at },
        }),
      );

    const problems = (await verify()).problems;

    expect(problems.map((p) => [p.kind, p.id]).sort()).toEqual(
      [
        ["modified-entry", a.id],
        ["modified-entry", b.id],
      ].sort(),
    );
  });

  it("a deleted digest (the empty hour's): missing, by hour and sequence", async () => {
    await sealedTrail();
    await db().send(new DeleteCommand({ TableName: tableName(), Key: digestKey(2) }));

    const problems = (await verify()).problems;

    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: "missing-digest", sequence: 2 }),
        expect.objectContaining({ kind: "missing-digest", hour: hour(1).toISOString() }),
      ]),
    );
    expect(problems.every((p) => p.kind === "missing-digest")).toBe(true);
  });

  it("a digest rewritten to hide an entry and signed with another key: bad signature", async () => {
    const { entries } = await sealedTrail();
    const forger = Keys.localSigner(mkdtempSync(join(tmp, "forger-")));
    const stored = (await Seal.digests()).find((d) => d.sequence === 1);
    if (!stored) throw new Error("no digest #1");
    const { signature: _old, ...body } = stored;
    const forged = { ...body, count: 2, entries: body.entries.filter((e) => e.id !== entries[1].id) };
    await db().send(new DeleteCommand({ TableName: tableName(), Key: rowKey(entries[1]) }));
    await db().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          ...digestKey(1),
          type: "audit-digest",
          ...forged,
          signature: await forger.sign(Seal.digestBytes(forged)),
        },
      }),
    );

    const problems = (await verify()).problems;

    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: "bad-signature", sequence: 1 }),
        expect.objectContaining({ kind: "broken-chain", sequence: 2 }),
      ]),
    );
  });

  it("a digest naming a key that is not trusted: bad signature", async () => {
    await sealedTrail();
    const forger = Keys.localSigner(mkdtempSync(join(tmp, "forger-")));
    const report = await Verify.verify({ source: Verify.tableSource(), keys: [], from: FROM, to: TO });

    expect(report.problems.filter((p) => p.kind === "bad-signature")).toHaveLength(3);
    expect(report.problems[0].message).toMatch(/not a trusted key/);
    expect(forger.keyId).not.toBe(signer.keyId);
  });

  it("an entry added to a sealed hour long after it was sealed stays named after the sealer backfills it", async () => {
    await sealedTrail();
    // Two hours after hour 0 was sealed (13:05), a forged entry in hour 0: the sealer's next run
    // backfills it (it looks back 24 periods), signed by the real key, so only the timing tells.
    const forged = await store(new Date(hour(0).getTime() + 90_000), "approved by alice");
    const written = await Seal.seal({ signer, hub: "test", now: new Date(hour(5).getTime() + 5 * 60_000) });

    expect(written[0]).toMatchObject({ hour: hour(0).toISOString(), backfill: true, count: 1 });
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({
        kind: "late-entry",
        id: forged.id,
        hour: hour(0).toISOString(),
        sequence: written[0].sequence,
        message: expect.stringMatching(/sealed 120 min after its period was first sealed/),
      }),
    ]);
  });

  it("an edit stays named when a bogus digest outside the range claims the chain's head (or its start)", async () => {
    const { entries, digests } = await sealedTrail();
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: rowKey(entries[0]),
        UpdateExpression: "SET reason = :r",
        ExpressionAttributeValues: { ":r": "edited" },
      }),
    );
    // Rows nobody signed, outside the verified range, so their signatures are never looked at:
    // one claims the newest sequence for a period long ago (all later periods "unsealed"), one
    // sequence 1 for a period far ahead (no period "sealed" yet), one a period of a year.
    const bogus = (sequence: number, at: string, end: string) => ({
      ...digests[0],
      sequence,
      hour: at,
      end,
      backfill: false,
      signature: "AAAA",
    });
    const rows = [
      bogus(1_000_000, "2000-01-01T00:00:00.000Z", "2000-01-01T01:00:00.000Z"),
      bogus(1, "2099-01-01T00:00:00.000Z", "2099-01-01T01:00:00.000Z"),
      bogus(0, "2000-01-01T00:00:00.000Z", "2001-01-01T00:00:00.000Z"),
    ];
    for (const [i, row] of rows.entries())
      await db().send(
        new PutCommand({
          TableName: tableName(),
          Item: { pk: Seal.DIGEST_PK, sk: `DIGEST#~bogus${i}`, type: "audit-digest", ...row },
        }),
      );

    const report = await verify();

    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: "modified-entry", id: entries[0].id })]),
    );
    expect(report.periods).toBe(3);
  });

  it("an edit sealed again by a backfill (its period's first digest out of the sealer's window) stays modified", async () => {
    const { entries } = await sealedTrail();
    const late = await store(new Date(hour(0).getTime() + 240_000), "late");
    await Seal.seal({ signer, hub: "test", now: new Date(hour(3).getTime() + 7 * 60_000) });
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: rowKey(entries[0]),
        UpdateExpression: "SET reason = :r",
        ExpressionAttributeValues: { ":r": "edited" },
      }),
    );
    // The sealer looks back at its newest digests only: hour 0's backfill is among them, its
    // first digest is not, so hour 0's other entries look unsealed and are sealed again, edit included.
    const again = await Seal.seal({
      signer,
      hub: "test",
      now: new Date(hour(3).getTime() + 10 * 60_000),
      backfillPeriods: 1,
    });
    expect(again).toEqual([
      expect.objectContaining({ hour: hour(0).toISOString(), backfill: true, count: 3 }),
    ]);

    const problems = (await verify()).problems;

    expect(problems).toEqual([
      expect.objectContaining({ kind: "modified-entry", id: entries[0].id, sequence: 1 }),
    ]);
    expect(late.id).not.toBe(entries[0].id);
  });

  it("a range with no digests says so, and is not ok", async () => {
    await sealedTrail();

    const report = await Verify.verify({
      source: Verify.tableSource(),
      keys: trusted(),
      from: new Date("2025-01-01T00:00:00Z"),
      to: new Date("2025-01-02T00:00:00Z"),
    });

    expect(report).toMatchObject({ ok: false, noDigests: expect.stringMatching(/no audit digest covers/) });
  });
});

describe("the export", () => {
  it("never writes over an exported digest: a newest digest deleted from the table and re-sealed over edited entries is refused, and the export keeps the original", async () => {
    const { entries } = await sealedTrail();
    // Plain s3rver: a put over a key replaces what a GET returns, as a new version does in a
    // versioned (Object Lock) bucket, where the locked version stays but is no longer current.
    const bucket = `audit-${randomUUID().slice(0, 8)}`;
    await ensureBucket(storage.s3Endpoint, "us-east-1", bucket);
    const opts = { bucket, hub: "test", retainDays: 1, mode: "COMPLIANCE" as const };
    expect(await Export.exportPending(opts)).toBe(3);
    // The table administrator: edit the newest period's entry, delete its digest (nothing follows
    // it in the table), and let the sealer seal the period again, with the real key.
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: rowKey(entries[3]),
        UpdateExpression: "SET reason = :r",
        ExpressionAttributeValues: { ":r": "nothing happened" },
      }),
    );
    await db().send(new DeleteCommand({ TableName: tableName(), Key: digestKey(3) }));
    const resealed = await Seal.seal({ signer, hub: "test", now: new Date(hour(3).getTime() + 10 * 60_000) });
    expect(resealed).toEqual([expect.objectContaining({ sequence: 3, hour: hour(2).toISOString() })]);

    await expect(Export.exportPending(opts)).rejects.toThrow(/already holds other bytes/);

    const exported = await Export.s3Source(bucket, "test");
    const report = await verify(exported);
    expect(report).toMatchObject({ ok: true, digests: 3 });
    expect((await exported.entries(hour(2), hour(3))).map((e) => e.reason)).toEqual(["fourth"]);
    expect(await Export.exportLagMinutes(new Date(hour(3).getTime() + 10 * 60_000))).toBeGreaterThan(60);
  });

  it("goes on when a stopped run left the same digest in other bytes (its attributes in another order)", async () => {
    await sealedTrail();
    const bucket = `audit-${randomUUID().slice(0, 8)}`;
    await ensureBucket(storage.s3Endpoint, "us-east-1", bucket);
    const opts = { bucket, hub: "test", retainDays: 1, mode: "COMPLIANCE" as const };
    await Export.exportPending(opts);
    // As if the run had stopped before marking #3 exported, and DynamoDB had read it back with
    // its attributes in another order than the file holds.
    await db().send(
      new UpdateCommand({ TableName: tableName(), Key: digestKey(3), UpdateExpression: "REMOVE exportedAt" }),
    );
    const Key = "audit/test/digests/000000000003.json";
    const s3 = client(S3Client, "s3");
    const held = JSON.parse(
      (await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key }))).Body?.transformToString()) ?? "",
    );
    const reordered = Object.fromEntries(Object.entries(held).reverse());
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: JSON.stringify(reordered) }));

    expect(await Export.exportPending(opts)).toBe(1);
    expect(await verify(await Export.s3Source(bucket, "test"))).toMatchObject({ ok: true, digests: 3 });
  });
});

// The sealer reads only the `now` it is given: these run it at the instants around a period's end
// where a wall-clock test would see a different trail at different times of day.
describe("the sealer's clock at the boundaries", () => {
  const at = (iso: string) => new Date(iso);
  const sealAt = (iso: string, since?: string, periodMinutes?: number) =>
    Seal.seal({ signer, hub: "test", now: at(iso), since: since ? at(since) : undefined, periodMinutes });
  const hours = (ds: Seal.Digest[]) => ds.map((d) => [d.hour, d.count, d.backfill]);

  it("at xx:00:30 and xx:01:59.999 the hour just ended is in its grace; at xx:02 it is sealed once, with what arrived in the grace; at xx:59:59 nothing more", async () => {
    const first = await store(at("2026-03-01T12:00:00.000Z"), "first ms of the hour");
    const last = await store(at("2026-03-01T12:59:59.999Z"), "last ms of the hour");

    const early = await sealAt("2026-03-01T13:00:30.000Z", "2026-03-01T10:00:00.000Z");
    const stillGrace = await sealAt("2026-03-01T13:01:59.999Z");
    const next = await store(at("2026-03-01T13:00:00.000Z"), "first ms of the next hour");
    const sealed = await sealAt("2026-03-01T13:02:00.000Z");
    const lateInHour = await sealAt("2026-03-01T13:59:59.999Z");
    const nextHour = await sealAt("2026-03-01T14:02:00.000Z");

    expect(hours(early)).toEqual([
      ["2026-03-01T10:00:00.000Z", 0, false],
      ["2026-03-01T11:00:00.000Z", 0, false],
    ]);
    expect(stillGrace).toEqual([]);
    expect(hours(sealed)).toEqual([["2026-03-01T12:00:00.000Z", 2, false]]);
    expect(sealed[0].entries.map((e) => e.id)).toEqual([first.id, last.id]);
    expect(lateInHour).toEqual([]);
    expect(hours(nextHour)).toEqual([["2026-03-01T13:00:00.000Z", 1, false]]);
    expect(nextHour[0].entries.map((e) => e.id)).toEqual([next.id]);
    expect(
      await Verify.verify({
        source: Verify.tableSource(),
        keys: trusted(),
        from: at("2026-03-01T10:00:00.000Z"),
        to: at("2026-03-01T14:00:00.000Z"),
      }),
    ).toMatchObject({ ok: true, problems: [], digests: 4, entries: 3, periods: 4 });
  });

  it.each([
    ["midnight UTC", "2026-03-04", "2026-03-05"],
    ["the last day of a 28-day February", "2026-02-28", "2026-03-01"],
    ["the last day of a leap February", "2028-02-29", "2028-03-01"],
    ["the last day of a year", "2026-12-31", "2027-01-01"],
  ])(
    "across %s: each side's entries are sealed in their own hour, read from their own day's partition",
    async (_, day, nextDay) => {
      const before = [
        await store(at(`${day}T23:00:00.000Z`), "23:00"),
        await store(at(`${day}T23:59:59.999Z`), "23:59:59.999"),
      ];
      const after = await store(at(`${nextDay}T00:00:00.000Z`), "00:00");

      const atMidnight = await sealAt(`${nextDay}T00:00:30.000Z`, `${day}T22:00:00.000Z`);
      const afterGrace = await sealAt(`${nextDay}T00:02:00.000Z`);
      const nextHour = await sealAt(`${nextDay}T01:02:00.000Z`);

      expect(hours(atMidnight)).toEqual([[`${day}T22:00:00.000Z`, 0, false]]);
      expect(hours(afterGrace)).toEqual([[`${day}T23:00:00.000Z`, 2, false]]);
      expect(afterGrace[0].entries.map((e) => e.id)).toEqual(before.map((e) => e.id));
      expect(hours(nextHour)).toEqual([[`${nextDay}T00:00:00.000Z`, 1, false]]);
      expect(nextHour[0].entries.map((e) => e.id)).toEqual([after.id]);
      expect(rowKey(before[1]).pk).toBe(`AUDIT#${day}`);
      expect(rowKey(after).pk).toBe(`AUDIT#${nextDay}`);
      expect(
        await Verify.verify({
          source: Verify.tableSource(),
          keys: trusted(),
          from: at(`${day}T22:00:00.000Z`),
          to: at(`${nextDay}T01:00:00.000Z`),
        }),
      ).toMatchObject({ ok: true, problems: [], digests: 3, entries: 3 });
    },
  );

  it("a sealer down across the end of a month catches up hour by hour over both days, none lost or doubled", async () => {
    const ids = [
      (await store(at("2026-04-30T22:30:00.000Z"), "a")).id,
      (await store(at("2026-04-30T23:59:59.999Z"), "b")).id,
      (await store(at("2026-05-01T00:00:00.000Z"), "c")).id,
      (await store(at("2026-05-01T01:59:59.999Z"), "d")).id,
    ];

    const written = await sealAt("2026-05-01T03:02:00.000Z", "2026-04-30T22:00:00.000Z");

    expect(hours(written)).toEqual([
      ["2026-04-30T22:00:00.000Z", 1, false],
      ["2026-04-30T23:00:00.000Z", 1, false],
      ["2026-05-01T00:00:00.000Z", 1, false],
      ["2026-05-01T01:00:00.000Z", 1, false],
      ["2026-05-01T02:00:00.000Z", 0, false],
    ]);
    expect(written.flatMap((d) => d.entries.map((e) => e.id))).toEqual(ids);
  });

  it("a day-long period (sealMinutes 1440) ending at the end of a month holds its first and last millisecond, and is sealed only after its grace", async () => {
    const inDay = [
      await store(at("2026-02-28T00:00:00.000Z"), "first ms of the day"),
      await store(at("2026-02-28T23:59:59.999Z"), "last ms of the day"),
    ];
    await store(at("2026-03-01T00:00:00.000Z"), "first ms of the next day");

    const inGrace = await sealAt("2026-03-01T00:01:59.999Z", "2026-02-28T00:00:00.000Z", 1440);
    const sealed = await sealAt("2026-03-01T00:02:00.000Z", undefined, 1440);

    expect(inGrace).toEqual([]);
    expect(hours(sealed)).toEqual([["2026-02-28T00:00:00.000Z", 2, false]]);
    expect(sealed[0]).toMatchObject({ end: "2026-03-01T00:00:00.000Z" });
    expect(sealed[0].entries.map((e) => e.id)).toEqual(inDay.map((e) => e.id));
  });
});
