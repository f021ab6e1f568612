/**
 * The export of the sealed audit trail: for each digest, its entries (JSON lines, gzip) and the
 * digest itself (JSON, with its signature) go to a bucket under S3 Object Lock — COMPLIANCE by
 * default, `audit.retainDays` — long before the table's TTL (400 days) removes the rows. In
 * compliance mode no one, the account's root user included, can overwrite or delete an exported
 * object before its retention ends, so this is the copy that `reflex audit verify --source s3`
 * (or `--source dir` on a download of it) checks.
 *
 * Layout under `audit/<hub>/`: `entries/<sequence>.jsonl.gz`, then `digests/<sequence>.json`
 * (12-digit sequences, so a listing is in chain order). The entries go first: a digest in the
 * bucket always has its entries beside it.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { client } from "../aws.ts";
import type { AuditEntry } from "./audit.ts";
import type { Signer } from "./audit-keys.ts";
import {
  canonical,
  type Digest,
  digests,
  entriesBetween,
  markExported,
  seal,
  unexported,
} from "./audit-seal.ts";
import { memorySource, parseEntries, type TrailSource } from "./audit-verify.ts";

export interface ExportOptions {
  bucket: string;
  hub: string;
  retainDays: number;
  mode: "COMPLIANCE" | "GOVERNANCE";
  now?: Date;
}

const seq = (n: number) => String(n).padStart(12, "0");
export const exportPrefix = (hub: string) => `audit/${hub}/`;

/** The entries a digest names, as exported: one canonical line each, in the digest's order. */
async function entriesOf(digest: Digest): Promise<AuditEntry[]> {
  const byId = new Map(
    (await entriesBetween(new Date(digest.hour), new Date(digest.end))).map((e) => [e.id, e]),
  );
  return digest.entries.flatMap((e) => byId.get(e.id) ?? []);
}

/**
 * Puts `body` at `key`, locked, unless the key is written already. `same` says whether bytes
 * already there hold the same content in other bytes (a digest read back from DynamoDB with its
 * attributes in another order): then nothing is written, and the export goes on.
 */
async function putLocked(
  key: string,
  body: Buffer,
  contentType: string,
  opts: ExportOptions,
  same: (held: Buffer) => boolean,
): Promise<void> {
  const s3 = client(S3Client, "s3");
  const md5 = createHash("md5").update(body).digest();
  // Written already (a run that stopped before marking the digest exported): the same bytes are
  // there. Other bytes under the key are never written over: in a versioned (Object Lock) bucket
  // a put adds a version, which GET and `verify --source s3` would then read, the locked one
  // hidden behind it. Other bytes mean the table's digest (or its entries) changed after the
  // export: the digest stays unexported, so the export-lag alarm pages.
  const held = await s3.send(new HeadObjectCommand({ Bucket: opts.bucket, Key: key })).catch((e: Error) => {
    if (e.name === "NotFound" || e.name === "NoSuchKey") return undefined;
    throw e;
  });
  if (held?.ETag?.replaceAll('"', "") === md5.toString("hex")) return;
  if (held && sameContent(await read(opts.bucket, key), same)) return;
  if (held)
    throw new Error(
      `the audit export already holds other bytes at ${key}: the table's copy changed after it was exported (a digest deleted and sealed again, or its entries edited); the export is kept as it is, verify it with --source s3`,
    );
  const now = opts.now ?? new Date();
  await s3.send(
    new PutObjectCommand({
      Bucket: opts.bucket,
      Key: key,
      Body: body,
      ContentType: contentType,
      ContentMD5: md5.toString("base64"),
      // Written only if the key is new (S3 conditional writes): no race past the check above.
      IfNoneMatch: "*",
      ObjectLockMode: opts.mode,
      ObjectLockRetainUntilDate: new Date(now.getTime() + opts.retainDays * 86_400_000),
    }),
  );
}

async function read(bucket: string, key: string): Promise<Buffer> {
  const out = await client(S3Client, "s3").send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
}

function sameContent(held: Buffer, same: (held: Buffer) => boolean): boolean {
  try {
    return same(held);
  } catch {
    return false; // not even JSON (or gzip): not the same
  }
}

const canonicalLines = (entries: AuditEntry[]) => entries.map((e) => canonical(e)).join("\n");

/** Exports every digest not yet exported (oldest first), then marks each; returns how many. */
export async function exportPending(opts: ExportOptions): Promise<number> {
  const pending = await unexported();
  for (const digest of pending) {
    const entries = await entriesOf(digest);
    const lines = entries.map((e) => JSON.stringify(e)).join("\n");
    const prefix = exportPrefix(opts.hub);
    await putLocked(
      `${prefix}entries/${seq(digest.sequence)}.jsonl.gz`,
      gzipSync(lines),
      "application/gzip",
      opts,
      (held) => canonicalLines(parseEntries(held)) === canonicalLines(entries),
    );
    await putLocked(
      `${prefix}digests/${seq(digest.sequence)}.json`,
      Buffer.from(JSON.stringify(digest)),
      "application/json",
      opts,
      (held) => canonical(JSON.parse(held.toString("utf8"))) === canonical(digest),
    );
    await markExported(digest.sequence, opts.now ?? new Date());
  }
  return pending.length;
}

/** One sealer run: seal what is due, then export what is not exported yet. */
export async function sealAndExport(opts: {
  signer: Signer;
  hub: string;
  periodMinutes: number;
  export?: Omit<ExportOptions, "hub" | "now">;
  now?: Date;
  since?: Date;
}): Promise<{ sealed: Digest[]; exported: number }> {
  const sealed = await seal({
    signer: opts.signer,
    hub: opts.hub,
    periodMinutes: opts.periodMinutes,
    now: opts.now,
    since: opts.since,
  });
  const exported = opts.export ? await exportPending({ ...opts.export, hub: opts.hub, now: opts.now }) : 0;
  return { sealed, exported };
}

/**
 * How far the sealed, exported trail lags behind now, in minutes: since the end of the newest
 * period whose digest is exported (0 while nothing was ever sealed). Normally a period plus the
 * sealer's grace and schedule; the reconciler alarms past two periods and a quarter hour, which
 * catches a sealer that stopped as well as an export that fails.
 */
export async function exportLagMinutes(now = new Date()): Promise<number> {
  const recent = await digests({ newest: 200 });
  if (recent.length === 0) return 0;
  const exported = new Set((await unexported()).map((d) => d.sequence));
  const newest = recent.filter((d) => !exported.has(d.sequence)).at(-1);
  const since = newest ? new Date(newest.end) : new Date(recent[0].hour);
  return Math.max(0, Math.floor((now.getTime() - since.getTime()) / 60_000));
}

/**
 * The export bucket as a trail source (for `reflex audit verify --source s3`): every digest, and
 * the entries files of the digests whose period is in `range` only (an export of years is not
 * read whole to check a day).
 */
export async function s3Source(
  bucket: string,
  hub: string,
  range?: { from: Date; to: Date },
): Promise<TrailSource> {
  const s3 = client(S3Client, "s3");
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: exportPrefix(hub), ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.NextContinuationToken;
  } while (token);
  const read = async (key: string) => {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
  };
  const digests: Digest[] = [];
  for (const key of keys.sort())
    if (key.endsWith(".json") && key.includes("/digests/"))
      digests.push(JSON.parse((await read(key)).toString("utf8")) as Digest);
  const from = range?.from.toISOString() ?? "";
  const to = range?.to.toISOString() ?? "~";
  const wanted = new Set(digests.filter((d) => d.hour >= from && d.hour < to).map((d) => seq(d.sequence)));
  const entries: AuditEntry[] = [];
  for (const key of keys) {
    const m = /\/entries\/(\d{12})\.jsonl\.gz$/.exec(key);
    if (m && wanted.has(m[1])) entries.push(...parseEntries(await read(key)));
  }
  return memorySource("s3", { digests, entries });
}
