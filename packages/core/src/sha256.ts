/**
 * SHA-256 and HMAC-SHA256 from node:crypto in the shape the SDK's SigV4 signer takes (a client's
 * `sha256` option), giving the same bytes as the SDK's own. Every request is signed with an HMAC
 * keyed by the day's signing key, which the signer derives once a day and hands over as the same
 * `Uint8Array` each time; node:crypto turns a key given as bytes into a key object on every
 * HMAC, so the key object is made once per signing key here and kept as long as the signer keeps
 * that key (a WeakMap); likewise for the secret access key the signer keys an HMAC with on every
 * request. In bench/alarm-storm this was most of what signing cost the gate per request.
 */
import { createHash, createHmac, createSecretKey, type KeyObject } from "node:crypto";

type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (d: SourceData): string | Uint8Array =>
  typeof d === "string"
    ? d
    : ArrayBuffer.isView(d)
      ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
      : new Uint8Array(d);

/**
 * Key objects by the key the signer holds (its cached signing key): made once, dropped with it.
 * Each is kept with the bytes it was made from and used only while the array still holds them,
 * so an array filled anew and handed over again gets a key object of what it holds now.
 */
const keys = new WeakMap<object, { bytes: Buffer; key: KeyObject }>();
/**
 * And by a secret access key, which the signer also keys an HMAC with on every request (to find
 * its cached signing key): a few credentials at a time, so a few kept.
 */
const secrets = new Map<string, KeyObject>();
const SECRETS_KEPT = 16;

function keyOf(secret: SourceData): KeyObject {
  if (typeof secret === "string") {
    let key = secrets.get(secret);
    if (!key) {
      key = createSecretKey(Buffer.from(secret, "utf8"));
      if (secrets.size >= SECRETS_KEPT) secrets.delete(secrets.keys().next().value as string);
      secrets.set(secret, key);
    }
    return key;
  }
  const view = bytes(secret) as Uint8Array;
  const kept = keys.get(secret);
  if (kept?.bytes.equals(view)) return kept.key;
  const copy = Buffer.from(view);
  const key = createSecretKey(copy);
  keys.set(secret, { bytes: copy, key });
  return key;
}

/** SHA-256 (and HMAC-SHA256 with a key): `new Sha256()`, or `new Sha256(key)` for an HMAC. */
export class Sha256 {
  private hash;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.make();
  }
  private make() {
    return this.secret === undefined ? createHash("sha256") : createHmac("sha256", keyOf(this.secret));
  }
  /** Starts over (the SDK's checksum interface has it; signing does not use it). */
  reset(): void {
    this.hash = this.make();
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}
