import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import { expect, it } from "vitest";
import { Sha256 } from "./sha256.ts";

const bytes = (d: string | ArrayBuffer | ArrayBufferView) =>
  typeof d === "string"
    ? d
    : ArrayBuffer.isView(d)
      ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
      : new Uint8Array(d);

/** The plain way: the key handed to node:crypto as bytes on every HMAC. */
class PlainSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret) as Uint8Array);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

const signer = (sha256: typeof Sha256 | typeof PlainSha256) =>
  new SignatureV4({
    service: "dynamodb",
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
    sha256,
  });

const request = (body: string) => ({
  method: "POST",
  protocol: "http:",
  hostname: "127.0.0.1",
  port: 8000,
  path: "/",
  headers: { host: "127.0.0.1:8000", "x-amz-target": "DynamoDB_20120810.PutItem" },
  query: {},
  body,
});

it("signs requests as the plain hash does, the first time (signing key derived) and after (the key kept)", async () => {
  const ours = signer(Sha256);
  const plain = signer(PlainSha256);
  const at = new Date("2026-12-07T10:00:00Z");
  for (const body of ['{"TableName":"t"}', '{"TableName":"t","Item":{"pk":{"S":"é"}}}', ""]) {
    const a = await ours.sign(request(body), { signingDate: at });
    const b = await plain.sign(request(body), { signingDate: at });
    expect(a.headers.authorization).toBe(b.headers.authorization);
    expect(a.headers.authorization).toMatch(/Signature=[0-9a-f]{64}$/);
  }
  // Another day: another signing key, another signature, still the plain one's.
  const next = new Date("2026-12-08T10:00:00Z");
  const c = await ours.sign(request("{}"), { signingDate: next });
  const d = await plain.sign(request("{}"), { signingDate: next });
  expect(c.headers.authorization).toBe(d.headers.authorization);
});

it("hashes and keys HMACs by bytes, strings and buffers alike", async () => {
  const key = new Uint8Array([1, 2, 3, 250]);
  const hmac = async (k: string | Uint8Array | ArrayBuffer, data: string | Uint8Array) => {
    const h = new Sha256(k);
    h.update(data);
    return Buffer.from(await h.digest()).toString("hex");
  };
  const expected = createHmac("sha256", Buffer.from(key)).update("data").digest("hex");
  expect(await hmac(key, "data")).toBe(expected);
  expect(await hmac(key, new TextEncoder().encode("data"))).toBe(expected);
  expect(await hmac(key.buffer.slice(0), "data")).toBe(expected);
  expect(await hmac("k", "data")).toBe(createHmac("sha256", "k").update("data").digest("hex"));
  const plain = new Sha256();
  plain.update("not this");
  plain.reset();
  plain.update("abc");
  expect(Buffer.from(await plain.digest()).toString("hex")).toBe(
    createHash("sha256").update("abc").digest("hex"),
  );
});

it("keys an HMAC by what a key array holds now, when the same array is filled anew and handed over again", async () => {
  const key = new Uint8Array(32).fill(1);
  const hmac = async () => {
    const h = new Sha256(key);
    h.update("data");
    return Buffer.from(await h.digest()).toString("hex");
  };
  expect(await hmac()).toBe(createHmac("sha256", Buffer.from(key)).update("data").digest("hex"));
  key.fill(2);
  expect(await hmac()).toBe(createHmac("sha256", Buffer.from(key)).update("data").digest("hex"));
});

it("gives AWS's published SigV4 signature (the test suite's get-vanilla), the signing key derived and then kept", async () => {
  const vanilla = new SignatureV4({
    service: "service",
    region: "us-east-1",
    applyChecksum: false,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
    sha256: Sha256,
  });
  const get = {
    method: "GET",
    protocol: "https:",
    hostname: "example.amazonaws.com",
    path: "/",
    headers: { host: "example.amazonaws.com" },
    query: {},
  };
  for (let i = 0; i < 2; i++) {
    const signed = await vanilla.sign(get, { signingDate: new Date("2015-08-30T12:36:00Z") });
    expect(signed.headers.authorization).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
  }
  // The same secret in another Region and service: its own signing key, as the plain hash derives it.
  for (const [region, service] of [
    ["eu-west-1", "service"],
    ["us-east-1", "states"],
  ]) {
    const at = {
      signingDate: new Date("2015-08-30T12:36:00Z"),
      signingRegion: region,
      signingService: service,
    };
    const ours = await vanilla.sign(get, at);
    const plain = await new SignatureV4({
      service: "service",
      region: "us-east-1",
      applyChecksum: false,
      credentials: {
        accessKeyId: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      },
      sha256: PlainSha256,
    }).sign(get, at);
    expect(ours.headers.authorization).toBe(plain.headers.authorization);
    expect(ours.headers.authorization).toContain(`/${region}/${service}/aws4_request`);
  }
});
