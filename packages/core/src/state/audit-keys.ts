/**
 * The keys that sign the audit trail's hourly digests (audit-seal.ts), and the public keys that
 * check them (audit-verify.ts).
 *
 * Deployed, a KMS asymmetric `SIGN_VERIFY` key (`ECC_NIST_P256`): the sealer asks KMS to `Sign`
 * the SHA-256 of a digest (`MessageType: DIGEST`, since `Sign` takes at most 4,096 bytes), and
 * only the sealer's role holds `kms:Sign` (stacks/iam.ts, proven in the policy matrix), so a
 * table administrator who edits rows cannot make a signature that verifies. Locally, a P-256 key
 * pair under `.reflex/keys` made with `node:crypto` on first use.
 *
 * Both sign the same thing the same way (ECDSA over SHA-256, DER), so one verifier checks both:
 * `crypto.verify("sha256", digestBytes, publicKey, signature)`.
 */
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GetPublicKeyCommand, KMSClient, SignCommand } from "@aws-sdk/client-kms";
import { client } from "../aws.ts";

/** What a digest names as its signing algorithm (KMS's name for ECDSA P-256 over SHA-256). */
export const ALGORITHM = "ECDSA_SHA_256";

/** Signs the SHA-256 of a digest. */
export interface Signer {
  /** The key's id as digests name it: `local:<fingerprint>` or a KMS key ARN. */
  keyId: string;
  algorithm: typeof ALGORITHM;
  /** The signature (DER, base64) over `bytes`, hashed with SHA-256. */
  sign(bytes: Buffer): Promise<string>;
}

/** A public key that checks digests, and when it was made (local) or looked up. */
export interface PublicKey {
  keyId: string;
  algorithm: string;
  /** PEM (SPKI). */
  publicKey: string;
  /** When the key was created, when known. */
  createdAt?: string;
  source: "local" | "kms" | "file";
}

/** The fingerprint that names a local key: SHA-256 of its DER public key, first 16 hex digits. */
export function fingerprint(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 16);
}

/** The newest local key under `dir` (made when there is none): the local sealer's signer. */
export function localSigner(dir: string): Signer {
  const key = newestLocalKey(dir) ?? createLocalKey(dir);
  const privateKey = readFileSync(join(dir, `${key}.key.pem`), "utf8");
  return {
    keyId: `local:${key}`,
    algorithm: ALGORITHM,
    sign: async (bytes) => sign("sha256", bytes, privateKey).toString("base64"),
  };
}

/** Makes a new P-256 key pair under `dir` (private key readable by its owner only). */
export function createLocalKey(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const name = fingerprint(publicKey);
  writeFileSync(join(dir, `${name}.key.pem`), privateKey.export({ type: "pkcs8", format: "pem" }), {
    mode: 0o600,
  });
  writeFileSync(join(dir, `${name}.pub.pem`), publicKey.export({ type: "spki", format: "pem" }));
  return name;
}

function localKeyNames(dir: string): Array<{ name: string; createdMs: number }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".pub.pem"))
    .map((f) => ({ name: f.slice(0, -".pub.pem".length), createdMs: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => a.createdMs - b.createdMs || a.name.localeCompare(b.name));
}

function newestLocalKey(dir: string): string | undefined {
  return localKeyNames(dir)
    .filter((k) => existsSync(join(dir, `${k.name}.key.pem`)))
    .at(-1)?.name;
}

/** The public keys under `dir`, oldest first. */
export function localPublicKeys(dir: string): PublicKey[] {
  return localKeyNames(dir).map((k) => ({
    keyId: `local:${k.name}`,
    algorithm: ALGORITHM,
    publicKey: readFileSync(join(dir, `${k.name}.pub.pem`), "utf8"),
    createdAt: new Date(k.createdMs).toISOString(),
    source: "local" as const,
  }));
}

/** Deployed: KMS `Sign` over the SHA-256 (`MessageType: DIGEST`), which only the sealer's role may call. */
export function kmsSigner(keyArn: string): Signer {
  return {
    keyId: keyArn,
    algorithm: ALGORITHM,
    async sign(bytes) {
      const out = await client(KMSClient, "kms").send(
        new SignCommand({
          KeyId: keyArn,
          Message: createHash("sha256").update(bytes).digest(),
          MessageType: "DIGEST",
          SigningAlgorithm: ALGORITHM,
        }),
      );
      if (!out.Signature) throw new Error(`KMS Sign with ${keyArn} returned no signature`);
      return Buffer.from(out.Signature).toString("base64");
    },
  };
}

/** The public half of a KMS key (anyone with `kms:GetPublicKey` may check; only the sealer signs). */
export async function kmsPublicKey(keyArn: string): Promise<PublicKey> {
  const out = await client(KMSClient, "kms").send(new GetPublicKeyCommand({ KeyId: keyArn }));
  if (!out.PublicKey) throw new Error(`KMS GetPublicKey for ${keyArn} returned no key`);
  const pem = createPublicKey({ key: Buffer.from(out.PublicKey), format: "der", type: "spki" })
    .export({ type: "spki", format: "pem" })
    .toString();
  return { keyId: out.KeyId ?? keyArn, algorithm: ALGORITHM, publicKey: pem, source: "kms" };
}

/**
 * Public keys from a file `reflex audit keys --json` wrote (`{ keys: [{ keyId, publicKey }] }`),
 * for verifying a downloaded trail offline.
 */
export function keysFromFile(path: string): PublicKey[] {
  const parsed = JSON.parse(readFileSync(path, "utf8")) as { keys?: unknown };
  if (!Array.isArray(parsed.keys)) throw new RangeError(`${path}: expected { "keys": [...] }`);
  return parsed.keys.map((k: { keyId?: unknown; publicKey?: unknown; algorithm?: unknown }, i) => {
    if (typeof k.keyId !== "string" || typeof k.publicKey !== "string")
      throw new RangeError(`${path}: keys[${i}] needs keyId and publicKey (PEM)`);
    createPublicKey(k.publicKey);
    return {
      keyId: k.keyId,
      algorithm: typeof k.algorithm === "string" ? k.algorithm : ALGORITHM,
      publicKey: k.publicKey,
      source: "file" as const,
    };
  });
}
