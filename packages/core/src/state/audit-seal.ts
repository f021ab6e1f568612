/**
 * Sealing the audit trail: after each period (default an hour) the sealer orders that period's
 * entries by `(at, id)`, hashes each (SHA-256 of canonical JSON), and writes a signed digest
 * that names every entry by id and hash and links to the digest before it (its hash and its
 * signature), as CloudTrail's log file validation does. An empty period gets a digest with
 * `count: 0`, so a gap shows; an entry that arrives after its period was sealed goes into a
 * backfill digest for that period at the next run.
 *
 * Sealing happens after the period, never per write, so the storm path (gate → audit queue →
 * writer) is unchanged. The honest limit: an edit made before its period is sealed is not
 * detected (docs/security.md).
 *
 * Digests live in the state table, pk `SEAL#audit`, sk `DIGEST#<sequence>` (12 digits): the
 * sequence orders the chain, and the conditional put on it means two sealers never both write
 * the same link. They are exported with their entries (audit-export.ts) to a bucket under
 * Object Lock, which is the copy that outlives the table's TTL.
 */
import { createHash } from "node:crypto";
import { PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { AuditEntry } from "./audit.ts";
import type { Signer } from "./audit-keys.ts";
import { conditionalWrite, db, queryAll } from "./db.ts";
import { tableName } from "./table.ts";

/** The partition digests live in. */
export const DIGEST_PK = "SEAL#audit";

/** What a digest says (all of it is signed). */
export interface DigestBody {
  version: 1;
  /** The deployment the trail belongs to (`<app>-<stage>`; locally `local`). */
  hub: string;
  /** Position in the chain, from 1. */
  sequence: number;
  /** The period's start (ISO); the period is `[hour, end)`. */
  hour: string;
  end: string;
  /** True for a digest of entries that arrived after their period was first sealed. */
  backfill: boolean;
  count: number;
  /** `at` of the first and last entry, null when the period was empty. */
  first: string | null;
  last: string | null;
  entries: Array<{ id: string; sha256: string }>;
  /** Hex SHA-256 of the previous digest's body, and its signature; null for the first. */
  previousDigestHash: string | null;
  previousDigestSignature: string | null;
  keyId: string;
  algorithm: string;
  sealedAt: string;
}

/** A digest as stored and exported: its body and the signature over it. */
export interface Digest extends DigestBody {
  signature: string;
}

/**
 * Canonical JSON (RFC 8785 in the parts an audit entry uses): object keys sorted by UTF-16 code
 * units, no whitespace, `undefined` members left out, numbers and strings as `JSON.stringify`
 * writes them (which is what RFC 8785 specifies for both).
 *
 * @example
 * canonical({ b: 1, a: [true, null] }) // '{"a":[true,null],"b":1}'
 */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new RangeError("not a finite number");
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? "null" : canonical(v))).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(",")}}`;
}

export const sha256 = (text: string | Buffer): string => createHash("sha256").update(text).digest("hex");

/** The hash that names an entry in a digest. */
export function entryHash(entry: AuditEntry): string {
  return sha256(canonical(entry));
}

/** The bytes a digest's signature is over: its body, canonical. */
export function digestBytes(digest: DigestBody | Digest): Buffer {
  const { signature: _signature, ...body } = digest as Digest;
  return Buffer.from(canonical(body));
}

/** The hash the next digest links to. */
export function digestHash(digest: DigestBody | Digest): string {
  return sha256(digestBytes(digest));
}

/** Entries in the order a digest lists them: by time, then id. */
export function sealOrder(a: { at: string; id: string }, b: { at: string; id: string }): number {
  return a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The audit entry a table row holds: the row without the table's own attributes. */
export function entryOfRow(item: Record<string, unknown>): AuditEntry {
  const { pk, sk, gsi1pk, gsi1sk, expiresAt, type, messageId, ...entry } = item;
  return entry as unknown as AuditEntry;
}

/** The audit entries of `[from, to)` as the table holds them, in seal order. */
export async function entriesBetween(from: Date, to: Date): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  const start = from.toISOString();
  const end = to.toISOString();
  for (
    let day = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
    day < to.getTime();
    day += 86_400_000
  ) {
    const items = await queryAll({
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
      ExpressionAttributeValues: {
        ":pk": `AUDIT#${new Date(day).toISOString().slice(0, 10)}`,
        ":from": start,
        ":to": end,
      },
      ConsistentRead: true,
    });
    // A key is `<at>#<id>`, so `BETWEEN start AND end` holds exactly the period's rows (`<end>#…`
    // sorts after `<end>`). Rows are taken by their key, not by what their `at` now says.
    for (const item of items) out.push(entryOfRow(item));
  }
  return out.sort(sealOrder);
}

/** The digests in the table, oldest first; `newest` limits to that many of the latest. */
export async function digests(opts: { newest?: number } = {}): Promise<Digest[]> {
  const input = {
    TableName: tableName(),
    KeyConditionExpression: "pk = :pk AND begins_with(sk, :d)",
    ExpressionAttributeValues: { ":pk": DIGEST_PK, ":d": "DIGEST#" },
    ConsistentRead: true,
  };
  const items =
    opts.newest === undefined
      ? await queryAll(input)
      : (
          (await db().send(new QueryCommand({ ...input, ScanIndexForward: false, Limit: opts.newest })))
            .Items ?? []
        ).reverse();
  return items.map(digestOfRow);
}

function digestOfRow(item: Record<string, unknown>): Digest {
  const { pk, sk, type, exportedAt, expiresAt, ...digest } = item;
  return digest as unknown as Digest;
}

const seqKey = (sequence: number) => `DIGEST#${String(sequence).padStart(12, "0")}`;

/**
 * One signed digest over entries already in seal order, linked to `previous` (the chain's head).
 * Pure: what the sealer writes, and what a benchmark or a test builds in memory.
 */
export async function makeDigest(p: {
  hub: string;
  hour: Date;
  periodMs: number;
  backfill: boolean;
  entries: AuditEntry[];
  previous: Digest | undefined;
  signer: Signer;
  sealedAt: Date;
}): Promise<Digest> {
  const body: DigestBody = {
    version: 1,
    hub: p.hub,
    sequence: (p.previous?.sequence ?? 0) + 1,
    hour: p.hour.toISOString(),
    end: new Date(p.hour.getTime() + p.periodMs).toISOString(),
    backfill: p.backfill,
    count: p.entries.length,
    first: p.entries[0]?.at ?? null,
    last: p.entries.at(-1)?.at ?? null,
    entries: p.entries.map((e) => ({ id: e.id, sha256: entryHash(e) })),
    previousDigestHash: p.previous ? digestHash(p.previous) : null,
    previousDigestSignature: p.previous?.signature ?? null,
    keyId: p.signer.keyId,
    algorithm: p.signer.algorithm,
    sealedAt: p.sealedAt.toISOString(),
  };
  return { ...body, signature: await p.signer.sign(digestBytes(body)) };
}

export interface SealOptions {
  signer: Signer;
  hub: string;
  now?: Date;
  /** The period length in minutes (a divisor of a day); default 60. */
  periodMinutes?: number;
  /** How long after a period ends its entries may still be arriving (the queue's lag); default 2 min. */
  graceMs?: number;
  /** When nothing was sealed yet, the first period sealed is the one holding this time; default the last complete period. */
  since?: Date;
  /** Sealed periods this far back are checked for late entries (backfill); default 24 periods. */
  backfillPeriods?: number;
  /** Most periods sealed in one run (a sealer that was down for long catches up over several runs). */
  maxPeriods?: number;
}

/** Starts of periods of `minutes`, aligned to midnight UTC. */
export function periodStart(at: Date, minutes: number): Date {
  const ms = minutes * 60_000;
  return new Date(Math.floor(at.getTime() / ms) * ms);
}

/**
 * Seals every complete period not yet sealed (oldest first), then backfills late entries of
 * recently sealed periods. Returns the digests written. Safe to run twice at once: a link is a
 * conditional put on its sequence, and the loser stops.
 *
 * @example
 * const written = await AuditSeal.seal({ signer: localSigner(".reflex/keys"), hub: "local" });
 */
export async function seal(opts: SealOptions): Promise<Digest[]> {
  const minutes = opts.periodMinutes ?? 60;
  if (!Number.isInteger(minutes) || minutes < 1 || 1440 % minutes !== 0)
    throw new RangeError(
      `audit seal period ${minutes} min: must be a whole number of minutes that divides a day`,
    );
  const periodMs = minutes * 60_000;
  const now = opts.now ?? new Date();
  const grace = opts.graceMs ?? 120_000;
  const recent = await digests({ newest: Math.max(opts.backfillPeriods ?? 24, 1) * 2 });
  let head = recent.at(-1);
  const written: Digest[] = [];
  const write = async (hour: Date, entries: AuditEntry[], backfill: boolean): Promise<boolean> => {
    const digest = await makeDigest({
      hub: opts.hub,
      hour,
      periodMs,
      backfill,
      entries,
      previous: head,
      signer: opts.signer,
      sealedAt: now,
    });
    const put = await conditionalWrite(
      new PutCommand({
        TableName: tableName(),
        Item: { pk: DIGEST_PK, sk: seqKey(digest.sequence), type: "audit-digest", ...digest },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
    if (!put) return false;
    head = digest;
    written.push(digest);
    return true;
  };

  // Late entries of periods already sealed (before the new periods, so the chain stays in time order).
  const sealedIds = new Map<string, Set<string>>();
  for (const d of recent) {
    const ids = sealedIds.get(d.hour) ?? new Set<string>();
    for (const e of d.entries) ids.add(e.id);
    sealedIds.set(d.hour, ids);
  }
  for (const hour of [...sealedIds.keys()].sort()) {
    const from = new Date(hour);
    const late = (await entriesBetween(from, new Date(from.getTime() + periodMs))).filter(
      (e) => !sealedIds.get(hour)?.has(e.id),
    );
    if (late.length > 0 && !(await write(from, late, true))) return written;
  }

  const lastComplete = periodStart(new Date(now.getTime() - grace - periodMs), minutes);
  const lastSealed = recent.filter((d) => !d.backfill).at(-1);
  let next = lastSealed
    ? new Date(new Date(lastSealed.hour).getTime() + periodMs)
    : periodStart(opts.since ?? lastComplete, minutes);
  for (let n = 0; next <= lastComplete && n < (opts.maxPeriods ?? 24 * 14); n++) {
    const entries = await entriesBetween(next, new Date(next.getTime() + periodMs));
    if (!(await write(next, entries, false))) return written;
    next = new Date(next.getTime() + periodMs);
  }
  return written;
}

/** Marks a digest exported (outside its signed body: the export is a fact about the copy). */
export async function markExported(sequence: number, at: Date): Promise<void> {
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: { pk: DIGEST_PK, sk: seqKey(sequence) },
      UpdateExpression: "SET exportedAt = :at",
      ExpressionAttributeValues: { ":at": at.toISOString() },
    }),
  );
}

/** Digests not yet exported, oldest first (among the newest `newest`). */
export async function unexported(newest = 500): Promise<Digest[]> {
  const out = await db().send(
    new QueryCommand({
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :d)",
      FilterExpression: "attribute_not_exists(exportedAt)",
      ExpressionAttributeValues: { ":pk": DIGEST_PK, ":d": "DIGEST#" },
      ScanIndexForward: false,
      Limit: newest,
      ConsistentRead: true,
    }),
  );
  return (out.Items ?? []).map(digestOfRow).reverse();
}
