/**
 * Where this deployment's sealed audit trail is, from the environment the stacks (or local mode)
 * set: the signing key (`REFLEX_AUDIT_KEY_ARN`, a KMS key, deployed; `REFLEX_AUDIT_KEYS_DIR`,
 * `.reflex/keys`, locally), the export bucket (`REFLEX_AUDIT_BUCKET`) and the hub's name
 * (`REFLEX_AUDIT_HUB`). The sealer, the API's `GET /api/audit/verify` and `reflex audit keys`
 * read it here, once.
 */
import { EnvironmentError, ValidationError } from "../errors.ts";
import { parseSince } from "../validate.ts";
import { s3Source } from "./audit-export.ts";
import {
  kmsPublicKey,
  kmsSigner,
  localPublicKeys,
  localSigner,
  type PublicKey,
  type Signer,
} from "./audit-keys.ts";
import { digests } from "./audit-seal.ts";
import { type TrailSource, tableSource, type VerifyReport, verify } from "./audit-verify.ts";

/** The hub's name in digests and export paths. */
export function hub(): string {
  return process.env.REFLEX_AUDIT_HUB || "local";
}

/** The sealer's signer: the KMS key deployed, the newest local key locally. */
export function signer(): Signer {
  const arn = process.env.REFLEX_AUDIT_KEY_ARN;
  if (arn) return kmsSigner(arn);
  const dir = process.env.REFLEX_AUDIT_KEYS_DIR;
  if (dir) return localSigner(dir);
  throw new EnvironmentError(
    "neither REFLEX_AUDIT_KEY_ARN (deployed: the audit KMS key) nor REFLEX_AUDIT_KEYS_DIR (local: .reflex/keys) is set: the audit sealer has no key",
  );
}

/** The public keys digests are checked with. */
export async function trustedKeys(): Promise<PublicKey[]> {
  const arn = process.env.REFLEX_AUDIT_KEY_ARN;
  if (arn) return [await kmsPublicKey(arn)];
  const dir = process.env.REFLEX_AUDIT_KEYS_DIR;
  if (dir) return localPublicKeys(dir);
  throw new EnvironmentError(
    "neither REFLEX_AUDIT_KEY_ARN nor REFLEX_AUDIT_KEYS_DIR is set: there is no audit key to verify with",
  );
}

/** The export bucket, when there is one. */
export function bucket(): string | undefined {
  return process.env.REFLEX_AUDIT_BUCKET || undefined;
}

/** The trail as `source` holds it: the state table or the export bucket. */
export async function source(name: "table" | "s3", range?: { from: Date; to: Date }): Promise<TrailSource> {
  if (name === "table") return tableSource();
  const b = bucket();
  if (!b) throw new EnvironmentError("REFLEX_AUDIT_BUCKET is not set: there is no audit export to read");
  return s3Source(b, hub(), range);
}

/** The longest range one `GET /api/audit/verify` checks (a longer one: verify a download offline). */
export const MAX_VERIFY_DAYS = 31;

/**
 * Checks a request to verify: `source` table (default) or s3, `from`/`to` as instants or
 * durations back from now (default the last 24 hours); a bad one is a 400 naming the field.
 */
export function verifyRequest(
  q: { source?: string; from?: string; to?: string },
  now = Date.now(),
): { source: "table" | "s3"; from: Date; to: Date } {
  const source = q.source ?? "table";
  if (source !== "table" && source !== "s3")
    throw new ValidationError(
      "invalid_query",
      "source must be table or s3 (a downloaded dir is verified by the CLI, offline)",
      [{ path: "source", message: "not table or s3" }],
    );
  const to = q.to === undefined ? now : parseSince(q.to, now, "to");
  const from = q.from === undefined ? to - 86_400_000 : parseSince(q.from, now, "from");
  if (from >= to)
    throw new ValidationError("invalid_query", "from must be before to", [
      { path: "from", message: "not before to" },
    ]);
  if (to - from > MAX_VERIFY_DAYS * 86_400_000)
    throw new ValidationError(
      "invalid_query",
      `a range longer than ${MAX_VERIFY_DAYS} days is verified offline: download the export and run reflex audit verify --source dir`,
      [{ path: "from", message: `more than ${MAX_VERIFY_DAYS} days before to` }],
    );
  return { source, from: new Date(from), to: new Date(to) };
}

/** Verifies this deployment's trail over a range, with its own trusted keys. */
export async function verifyTrail(q: { source?: string; from?: string; to?: string }): Promise<VerifyReport> {
  const r = verifyRequest(q);
  return verify({ source: await source(r.source, r), keys: await trustedKeys(), from: r.from, to: r.to });
}

/** A trusted key, with the digests it signed (its validity as the trail shows it). */
export interface KeyView extends PublicKey {
  digests: number;
  firstUsed?: string;
  lastUsed?: string;
}

/** The trusted keys, each with when it first and last signed a digest in the table. */
export async function keys(): Promise<KeyView[]> {
  const all = await digests();
  return (await trustedKeys()).map((k) => {
    const mine = all.filter((d) => d.keyId === k.keyId);
    return {
      ...k,
      digests: mine.length,
      ...(mine.length ? { firstUsed: mine[0].sealedAt, lastUsed: mine.at(-1)?.sealedAt } : {}),
    };
  });
}
