/**
 * A stand-in for AWS's JSON endpoints on 127.0.0.1, for the calls the Slack acknowledgement
 * signs itself (`@reflex/core/aws-signed`): SSM and DynamoDB (`X-Amz-Target`) and Lambda's
 * Invoke (`POST /2015-03-31/functions/<name>/invocations`).
 *
 * Every request is checked as AWS checks it: the SigV4 signature is computed again from what
 * arrived on the wire (method, path, the signed headers, the body) with the credentials the
 * stand-in knows, and a request that does not match is refused with AWS's 403
 * `InvalidSignatureException` (hashed with @aws-crypto's SHA-256, not the node:crypto one the
 * sender uses). The service is read from the credential scope.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

export interface StubCall {
  /** The signing name in the credential scope: `ssm`, `dynamodb`, `lambda`. */
  service: string;
  region: string;
  /** `GetParameter`, `PutItem`, `Invoke`. */
  operation: string;
  /** The JSON body, parsed (Invoke: the payload). */
  input: any;
  headers: IncomingHttpHeaders;
  path: string;
}

export interface StubAnswer {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** An AWS JSON-protocol error answer (`__type` and `message`, as SSM and DynamoDB send). */
export const awsError = (status: number, code: string, message = code): StubAnswer => ({
  status,
  body: { __type: `com.amazonaws.stub#${code}`, message },
});

/** Invoke is queued (202, empty); any other call answers `{}`. */
export const defaultAnswer = (call: StubCall): StubAnswer =>
  call.operation === "Invoke" ? { status: 202 } : { body: {} };

export interface AwsStub {
  url: string;
  calls: StubCall[];
  /** Answers a call; the default answers Invoke 202 and anything else `{}`. */
  answer: (call: StubCall) => StubAnswer | Promise<StubAnswer>;
  close(): Promise<void>;
}

/** Recomputes the request's signature from the wire; undefined when it matches, else why not. */
async function verify(
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  body: string,
  secrets: Record<string, string>,
): Promise<{ problem?: string; service: string; region: string }> {
  const auth = String(headers.authorization ?? "");
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return { problem: `no SigV4 Authorization header (${auth || "none"})`, service: "", region: "" };
  const [, keyId, , region, service, signedHeaders, signature] = m;
  const secret = secrets[keyId];
  if (!secret) return { problem: `unknown access key ${keyId}`, service, region };
  const amzDate = String(headers["x-amz-date"] ?? "");
  const signingDate = new Date(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"),
  );
  const signed: Record<string, string> = {};
  for (const name of signedHeaders.split(";")) signed[name] = String(headers[name] ?? "");
  const signer = new SignatureV4({
    service,
    region,
    credentials: {
      accessKeyId: keyId,
      secretAccessKey: secret,
      sessionToken: headers["x-amz-security-token"] as string | undefined,
    },
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: false,
  });
  const again = await signer.sign(
    {
      method,
      protocol: "http:",
      hostname: String(headers.host).split(":")[0],
      // As received: percent-encoded once (the signer encodes it again, as AWS does but for S3).
      path: path.split("?")[0],
      query: {},
      headers: signed,
      body,
    },
    { signingDate },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(again.headers.authorization))?.[1];
  return expected === signature
    ? { service, region }
    : { problem: "the signature does not match the request as received", service, region };
}

/**
 * Starts the stand-in. `secrets` maps access key ids to secret keys; by default the test
 * environment's dummy key (`local`/`local`, vitest.config.ts).
 */
export async function startAwsStub(
  opts: { secrets?: Record<string, string>; answer?: AwsStub["answer"] } = {},
): Promise<AwsStub> {
  const secrets = opts.secrets ?? {
    [process.env.AWS_ACCESS_KEY_ID ?? "local"]: process.env.AWS_SECRET_ACCESS_KEY ?? "local",
  };
  const stub: AwsStub = {
    url: "",
    calls: [],
    answer: opts.answer ?? defaultAnswer,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const path = req.url ?? "/";
      const { problem, service, region } = await verify(req.method ?? "", path, req.headers, body, secrets);
      const send = (a: StubAnswer) => {
        const status = a.status ?? 200;
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1", ...a.headers });
        res.end(a.body === undefined ? "" : JSON.stringify(a.body));
      };
      if (problem) return send(awsError(403, "InvalidSignatureException", problem));
      const target = req.headers["x-amz-target"];
      const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(path);
      const call: StubCall = {
        service,
        region,
        operation: target ? String(target).split(".").pop()! : invoke ? "Invoke" : `${req.method} ${path}`,
        input: body ? JSON.parse(body) : undefined,
        headers: req.headers,
        path,
      };
      stub.calls.push(call);
      send(await stub.answer(call));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return stub;
}
