/**
 * Verifying the audit trail against its sealed digests (audit-seal.ts): recompute every entry's
 * hash, every digest's signature with a trusted public key, and every link of the chain, and say
 * what does not hold — a modified entry, a missing entry, an entry no digest seals (or only a
 * backfill long after its period was sealed), a missing digest, a bad signature, a broken
 * chain — by entry id, digest sequence and period.
 *
 * The trail can be read from the table, from the export bucket, or from a downloaded copy of the
 * export (a directory: `digests/<sequence>.json`, `entries/<sequence>.jsonl.gz`), so it works
 * offline with the public keys saved by `reflex audit keys --json`.
 */
import { verify as verifySignature } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { AuditEntry } from "./audit.ts";
import type { PublicKey } from "./audit-keys.ts";
import {
  type Digest,
  digestBytes,
  digestHash,
  entriesBetween,
  entryHash,
  sealOrder,
  digests as tableDigests,
} from "./audit-seal.ts";

/** Where a trail is read from. */
export interface TrailSource {
  name: "table" | "s3" | "dir";
  /** Every digest the source holds (any order). */
  digests(): Promise<Digest[]>;
  /** The entries of `[from, to)`, as the source holds them. */
  entries(from: Date, to: Date): Promise<AuditEntry[]>;
}

export type ProblemKind =
  | "modified-entry"
  | "missing-entry"
  | "unsealed-entry"
  | "late-entry"
  | "missing-digest"
  | "bad-signature"
  | "broken-chain";

export interface Problem {
  kind: ProblemKind;
  message: string;
  /** The period (its start) the problem is in. */
  hour?: string;
  sequence?: number;
  id?: string;
}

export interface VerifyReport {
  /** True when every digest in the range verifies and every entry matches its digest. */
  ok: boolean;
  source: TrailSource["name"];
  from: string;
  to: string;
  digests: number;
  entries: number;
  /** Sealed periods checked. */
  periods: number;
  /** Periods in the range after the last sealed one: edits there would not show yet. */
  unsealed: { periods: number; from?: string };
  /** Set when no digest covers the range: nothing could be verified. */
  noDigests?: string;
  problems: Problem[];
  /** Problems found beyond the {@link MAX_PROBLEMS} listed. */
  moreProblems: number;
}

export const MAX_PROBLEMS = 1000;

/**
 * How long after a period was first sealed a backfill of it is a late arrival (the audit queue's
 * lag is seconds; the sealer runs every few minutes). The sealer backfills any entry it finds in
 * the last 24 sealed periods, so an entry added to a sealed period is sealed too at its next run:
 * what still tells it from a late arrival is how long after the first seal its backfill came.
 */
export const LATE_BACKFILL_MINUTES = 30;

export interface VerifyOptions {
  source: TrailSource;
  keys: PublicKey[];
  from: Date;
  to: Date;
  /** A backfill sealed more than this after its period's first digest names its entries `late-entry`; default {@link LATE_BACKFILL_MINUTES}. */
  lateMinutes?: number;
}

/**
 * Verifies the trail over `[from, to)`.
 *
 * @example
 * const report = await AuditVerify.verify({ source: tableSource(), keys, from, to });
 * if (!report.ok) for (const p of report.problems) console.log(p.kind, p.message);
 */
export async function verify(opts: VerifyOptions): Promise<VerifyReport> {
  const from = opts.from.toISOString();
  const to = opts.to.toISOString();
  const lateMinutes = opts.lateMinutes ?? LATE_BACKFILL_MINUTES;
  const all = (await opts.source.digests()).sort((a, b) => a.sequence - b.sequence);
  const problems: Problem[] = [];
  let more = 0;
  const report = (p: Problem) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
    else more++;
  };
  const keys = new Map(opts.keys.map((k) => [k.keyId, k]));
  const bySequence = new Map<number, Digest[]>();
  for (const d of all) bySequence.set(d.sequence, [...(bySequence.get(d.sequence) ?? []), d]);
  // Each digest's signature is checked once (a year of hourly digests is 8,760 of them).
  const checked = new Map<Digest, boolean>();
  const holds = (d: Digest): boolean => {
    let ok = checked.get(d);
    if (ok === undefined) {
      const key = keys.get(d.keyId);
      ok = key !== undefined && signatureHolds(d, key);
      checked.set(d, ok);
    }
    return ok;
  };
  const inRange = all.filter((d) => d.hour >= from && d.hour < to);
  const base: VerifyReport = {
    ok: true,
    source: opts.source.name,
    from,
    to,
    digests: inRange.length,
    entries: 0,
    periods: 0,
    unsealed: { periods: 0 },
    problems,
    moreProblems: 0,
  };
  if (all.length === 0 || (inRange.length === 0 && !coversRange(all, from, to))) {
    return {
      ...base,
      ok: false,
      noDigests:
        all.length === 0
          ? `the ${opts.source.name} holds no audit digests at all: nothing was sealed, or every digest was removed`
          : `no audit digest covers ${from} to ${to} (digests cover ${all[0].hour} to ${all.at(-1)?.end})`,
    };
  }

  // Each digest: its signature, and its link to the one before.
  for (const d of inRange) {
    const key = keys.get(d.keyId);
    const where = `digest #${d.sequence} (${d.backfill ? "backfill of " : ""}${d.hour})`;
    if (!key)
      report({
        kind: "bad-signature",
        sequence: d.sequence,
        hour: d.hour,
        message: `${where} is signed with key ${d.keyId}, which is not a trusted key`,
      });
    else if (!holds(d))
      report({
        kind: "bad-signature",
        sequence: d.sequence,
        hour: d.hour,
        message: `${where}: its signature does not verify with key ${d.keyId} (the digest was changed, or signed by another key)`,
      });
    if ((bySequence.get(d.sequence)?.length ?? 0) > 1)
      report({
        kind: "broken-chain",
        sequence: d.sequence,
        hour: d.hour,
        message: `${where}: ${bySequence.get(d.sequence)?.length} digests claim sequence ${d.sequence}`,
      });
    if (d.sequence === 1) {
      if (d.previousDigestHash !== null)
        report({
          kind: "broken-chain",
          sequence: 1,
          hour: d.hour,
          message: `${where} is first but links to another`,
        });
      continue;
    }
    const previous = bySequence.get(d.sequence - 1)?.[0];
    if (!previous)
      report({
        kind: "missing-digest",
        sequence: d.sequence - 1,
        message: `digest #${d.sequence - 1}, the link before ${where}, is missing`,
      });
    else if (
      d.previousDigestHash !== digestHash(previous) ||
      d.previousDigestSignature !== previous.signature
    )
      report({
        kind: "broken-chain",
        sequence: d.sequence,
        hour: d.hour,
        message: `${where} does not link to digest #${previous.sequence} as it is now (one of them was replaced or reordered)`,
      });
  }

  // Each period: a digest, and entries that match it. Which periods are sealed, and how long a
  // period is, come only from digests that verify: an unsigned row outside the range (whose
  // signature the loop above never checks) must not move the chain's start or head, which would
  // leave every period in the range "unsealed", its edits unchecked.
  const authentic = all.filter(holds);
  const periodMs = authentic.length > 0 ? periodOf(authentic) : 0;
  const firstSealed = authentic.find((d) => d.sequence === 1)?.hour ?? authentic[0]?.hour ?? "";
  const lastSealed = authentic.filter((d) => !d.backfill).at(-1)?.hour ?? "";
  const byHour = new Map<string, Digest[]>();
  for (const d of inRange) byHour.set(d.hour, [...(byHour.get(d.hour) ?? []), d]);
  const start = Math.max(alignUp(opts.from.getTime(), periodMs), new Date(firstSealed).getTime());
  let entries = 0;
  let periods = 0;
  let unsealedFrom: string | undefined;
  let unsealed = 0;
  for (let t = start; periodMs > 0 && t < opts.to.getTime(); t += periodMs) {
    const hour = new Date(t).toISOString();
    if (hour > lastSealed) {
      unsealedFrom ??= hour;
      unsealed++;
      continue;
    }
    periods++;
    const sealed = byHour.get(hour) ?? [];
    if (!sealed.some((d) => !d.backfill))
      report({
        kind: "missing-digest",
        hour,
        message: `no digest seals the period from ${hour}: it was removed`,
      });
    const expected = new Map<string, { sha256: string; sequence: number; lateMinutes?: number }>();
    const firstSeal = sealed.find((d) => !d.backfill)?.sealedAt;
    for (const d of sealed) {
      const after = firstSeal ? (Date.parse(d.sealedAt) - Date.parse(firstSeal)) / 60_000 : 0;
      const late = d.backfill && after > lateMinutes ? { lateMinutes: Math.round(after) } : {};
      // The first digest to seal an entry is what it is held to: a later backfill that seals it
      // again (the sealer looks back at its newest digests only) must not make an edit the truth.
      for (const e of d.entries)
        if (!expected.has(e.id)) expected.set(e.id, { sha256: e.sha256, sequence: d.sequence, ...late });
    }
    const actual = await opts.source.entries(new Date(t), new Date(t + periodMs));
    entries += actual.length;
    const seen = new Set<string>();
    for (const e of actual.sort(sealOrder)) {
      seen.add(e.id);
      const want = expected.get(e.id);
      const what = `entry ${e.id} (${e.kind} at ${e.at} by ${e.actor})`;
      if (!want) {
        if (sealed.length > 0)
          report({
            kind: "unsealed-entry",
            hour,
            id: e.id,
            message: `${what} is in no digest of its period: it was added after the period was sealed`,
          });
      } else if (entryHash(e) !== want.sha256)
        report({
          kind: "modified-entry",
          hour,
          id: e.id,
          sequence: want.sequence,
          message: `${what} was modified after digest #${want.sequence} sealed it`,
        });
      else if (want.lateMinutes !== undefined)
        report({
          kind: "late-entry",
          hour,
          id: e.id,
          sequence: want.sequence,
          message: `${what} is in backfill digest #${want.sequence}, sealed ${want.lateMinutes} min after its period was first sealed: added after sealing, or a very late arrival (a redriven queue)`,
        });
    }
    for (const [id, want] of expected)
      if (!seen.has(id))
        report({
          kind: "missing-entry",
          hour,
          id,
          sequence: want.sequence,
          message: `entry ${id}, sealed in digest #${want.sequence}, is missing from the ${opts.source.name}`,
        });
  }
  return {
    ...base,
    ok: problems.length === 0,
    entries,
    periods,
    unsealed: { periods: unsealed, ...(unsealedFrom ? { from: unsealedFrom } : {}) },
    moreProblems: more,
  };
}

function signatureHolds(d: Digest, key: PublicKey): boolean {
  try {
    return verifySignature("sha256", digestBytes(d), key.publicKey, Buffer.from(d.signature, "base64"));
  } catch {
    return false;
  }
}

function coversRange(all: Digest[], from: string, to: string): boolean {
  // A range inside the sealed span with its digests gone is a missing digest, not "no digests".
  return all[0].hour < to && (all.at(-1)?.end ?? "") > from;
}

function periodOf(all: Digest[]): number {
  const d = all[0];
  return new Date(d.end).getTime() - new Date(d.hour).getTime();
}

const alignUp = (ms: number, period: number) => Math.ceil(ms / period) * period;

/** The trail as the state table holds it. */
export function tableSource(): TrailSource {
  return { name: "table", digests: () => tableDigests(), entries: entriesBetween };
}

/** What an export holds, read into memory: the digests and, per digest, its entries. */
export function memorySource(
  name: TrailSource["name"],
  files: { digests: Digest[]; entries: AuditEntry[] },
): TrailSource {
  return {
    name,
    digests: async () => files.digests,
    entries: async (from, to) => {
      const a = from.toISOString();
      const b = to.toISOString();
      return files.entries.filter((e) => e.at >= a && e.at < b);
    },
  };
}

/** Parses an exported entries file (JSON lines, gzip). */
export function parseEntries(gz: Buffer): AuditEntry[] {
  return gunzipSync(gz)
    .toString("utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as AuditEntry);
}

/** A downloaded export: `<dir>/digests/*.json` and `<dir>/entries/*.jsonl.gz`. */
export function dirSource(dir: string): TrailSource {
  if (!existsSync(join(dir, "digests")))
    throw new RangeError(`${dir} is not an audit export: it has no digests/ folder`);
  const list = (sub: string, ext: string) =>
    existsSync(join(dir, sub))
      ? readdirSync(join(dir, sub))
          .filter((f) => f.endsWith(ext))
          .sort()
      : [];
  const digests = list("digests", ".json").map(
    (f) => JSON.parse(readFileSync(join(dir, "digests", f), "utf8")) as Digest,
  );
  const entries = list("entries", ".jsonl.gz").flatMap((f) =>
    parseEntries(readFileSync(join(dir, "entries", f))),
  );
  return memorySource("dir", { digests, entries });
}
