/**
 * SHA-256 and HMAC-SHA256 from node:crypto in the shape the SDK's SigV4 signer takes (a client's
 * `sha256` option), giving the same bytes as the SDK's own. Every request is signed with an HMAC
 * keyed by the day's signing key, which the signer derives once a day and hands over as the same
 * `Uint8Array` each time; node:crypto turns a key given as bytes into a key object on every
 * HMAC, so the key object is made once per signing key here and kept as long as the signer keeps
 * that key (a WeakMap). In bench/alarm-storm this is most of what signing cost the gate per request.
 */
import { createHash, createHmac, createSecretKey, type KeyObject } from "node:crypto";

type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (d: SourceData): string | Uint8Array =>
  typeof d === "string"
    ? d
    : ArrayBuffer.isView(d)
      ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
      : new Uint8Array(d);

/** Key objects by the key the signer holds (its cached signing key): made once, dropped with it. */
const keys = new WeakMap<object, KeyObject>();

function keyOf(secret: SourceData): string | Uint8Array | KeyObject {
  if (typeof secret === "string") return secret;
  let key = keys.get(secret);
  if (!key) {
    key = createSecretKey(bytes(secret) as Uint8Array);
    keys.set(secret, key);
  }
  return key;
}

/** SHA-256 (and HMAC-SHA256 with a key): `new Sha256()`, or `new Sha256(key)` for an HMAC. */
export class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", keyOf(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}
