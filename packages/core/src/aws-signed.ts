/**
 * One SigV4-signed AWS request without an SDK client, for the Slack acknowledgement: its three
 * calls (SSM GetParameter for the signing secret, DynamoDB PutItem for the replay guard, Lambda
 * Invoke to hand the work on) would otherwise bring three SDK clients and the SDK's core, about
 * 390 KB and most of its cold start, into a handler that must answer Slack within 3 s.
 *
 * It is still the factory's request: the endpoint is {@link endpointFor}'s (local mode's
 * dynalite, a test's stub), the credentials are the factory's for that service or the
 * environment's (in Lambda, the execution role's), and the factory's guard sees the host before
 * anything is sent, so local mode stays on 127.0.0.1 through this door too. Errors carry the
 * SDK's shape (`name` = AWS's error code, `$metadata.httpStatusCode`, `$fault`), so callers and
 * `aws-errors.ts` treat them alike; throttling, 5xx and dropped connections are retried as the
 * factory's clients retry them (4 attempts, exponential backoff with jitter).
 *
 * Everything else (runbooks, the worker, the API) keeps the SDK clients from {@link client}.
 *
 * @example
 * const out = await awsJson("ssm", "AmazonSSM.GetParameter", { Name, WithDecryption: true });
 */
import type * as Http from "node:http";
import { SignatureV4 } from "@smithy/signature-v4";
import { EndpointRefusedError, endpointFor, type ServiceName, settingsFor } from "./aws.ts";
import { isTransient } from "./aws-errors.ts";
import { region as defaultRegion, requireEnv } from "./env.ts";
import { Sha256 } from "./sha256.ts";

/**
 * `node:http` and `node:https` as their CommonJS exports, not through `import`: an ES import of a
 * built-in builds its namespace from every export, and on Node 24 reading them loads undici
 * (fetch's implementation, with http2 and zlib), most of this door's cold start (bench/chatops).
 * `node:https` (and TLS with it) is loaded when a request first goes to an https endpoint:
 * local mode and tests, on http, never load it. Nothing here uses fetch.
 */
function builtin<Id extends "node:http" | "node:https">(id: Id) {
  const mod = process.getBuiltinModule?.(id);
  if (!mod)
    throw new Error(
      `Reflex needs Node.js 22.3 or later (process.getBuiltinModule); this is ${process.version}`,
    );
  return mod;
}

/** The services this door signs for, with their JSON protocol (RPC-style ones) and SigV4 name. */
const SERVICES = {
  dynamodb: { signingName: "dynamodb", json: "1.0" },
  ssm: { signingName: "ssm", json: "1.1" },
  lambda: { signingName: "lambda", json: undefined },
} as const satisfies Partial<Record<ServiceName, { signingName: string; json?: "1.0" | "1.1" }>>;

export type SignedService = keyof typeof SERVICES;

const MAX_ATTEMPTS = 4;

export interface SignedRequest {
  method: "GET" | "POST";
  /** The path as sent on the wire (its labels percent-encoded once). */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface SignedResponse {
  status: number;
  headers: Http.IncomingHttpHeaders;
  body: string;
}

/** An error AWS answered, shaped as the SDK shapes one (the code is its `name`). */
export class AwsServiceError extends Error {
  readonly $fault: "client" | "server";
  readonly $metadata: { httpStatusCode: number; requestId?: string };
  constructor(code: string, message: string, status: number, requestId?: string) {
    super(message);
    this.name = code;
    this.$fault = status >= 500 ? "server" : "client";
    this.$metadata = { httpStatusCode: status, requestId };
  }
}

// Keep-alive: a warm container reuses its connections to DynamoDB, SSM and Lambda.
const transports: Partial<Record<"http:" | "https:", { request: typeof Http.request; agent: Http.Agent }>> =
  {};
function transportFor(protocol: "http:" | "https:") {
  let t = transports[protocol];
  if (!t) {
    const mod = builtin(protocol === "http:" ? "node:http" : "node:https");
    t = { request: mod.request, agent: new mod.Agent({ keepAlive: true }) };
    transports[protocol] = t;
  }
  return t;
}

/** AWS's own endpoint for a service in a region (the `aws` and `aws-cn` partitions). */
function awsEndpoint(service: SignedService, region: string): string {
  return `https://${service}.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`;
}

function credentialsFor(service: SignedService) {
  const configured = settingsFor(service).credentials;
  if (configured) return configured;
  const sessionToken = process.env.AWS_SESSION_TOKEN;
  return {
    accessKeyId: requireEnv("AWS_ACCESS_KEY_ID"),
    secretAccessKey: requireEnv("AWS_SECRET_ACCESS_KEY"),
    ...(sessionToken ? { sessionToken } : {}),
  };
}

/** A signer per request: the credentials are read each time (cheap), so a rotated key is used at once. */
function signerFor(service: SignedService, region: string): SignatureV4 {
  return new SignatureV4({
    service: SERVICES[service].signingName,
    region,
    credentials: credentialsFor(service),
    sha256: Sha256,
    // Every service but S3 takes the path URI-encoded once more in the canonical request.
    uriEscapePath: true,
  });
}

/** Signs and sends one request, retrying what the SDK would retry; a non-2xx answer is thrown. */
export async function signedRequest(
  service: SignedService,
  req: SignedRequest,
  region: string = defaultRegion(),
): Promise<SignedResponse> {
  const base = new URL(endpointFor(service) ?? awsEndpoint(service, region));
  const refused = settingsFor(service).guard?.(service, base.hostname);
  if (refused) throw new EndpointRefusedError(service, base.hostname, refused);
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await sendOnce(service, region, base, req);
      if (res.status < 300) return res;
      throw errorOf(res);
    } catch (err) {
      if (attempt >= MAX_ATTEMPTS || !isTransient(err)) throw err;
      // The SDK's standard retry: full jitter over an exponential base of 100 ms.
      await new Promise((r) => setTimeout(r, Math.random() * 100 * 2 ** (attempt - 1)));
    }
  }
}

/**
 * One call of an RPC-style JSON service (DynamoDB, SSM): `target` is the `X-Amz-Target`
 * (`DynamoDB_20120810.PutItem`), the answer is the parsed JSON body.
 */
export async function awsJson<T = Record<string, unknown>>(
  service: "dynamodb" | "ssm",
  target: string,
  input: unknown,
  region?: string,
): Promise<T> {
  const res = await signedRequest(
    service,
    {
      method: "POST",
      path: "/",
      headers: {
        "content-type": `application/x-amz-json-${SERVICES[service].json}`,
        "x-amz-target": target,
      },
      body: JSON.stringify(input),
    },
    region,
  );
  return (res.body ? JSON.parse(res.body) : {}) as T;
}

async function sendOnce(
  service: SignedService,
  region: string,
  base: URL,
  req: SignedRequest,
): Promise<SignedResponse> {
  const body = req.body ?? "";
  const prefix = base.pathname.replace(/\/$/, "");
  const signed = await signerFor(service, region).sign({
    method: req.method,
    protocol: base.protocol,
    hostname: base.hostname,
    port: base.port ? Number(base.port) : undefined,
    path: `${prefix}${req.path}`,
    query: {},
    headers: {
      ...req.headers,
      host: base.host,
      "content-length": String(Buffer.byteLength(body)),
    },
    body,
  });
  const transport = transportFor(base.protocol === "http:" ? "http:" : "https:");
  return new Promise((resolve, reject) => {
    const out = transport.request(
      {
        protocol: base.protocol,
        hostname: base.hostname,
        port: base.port || undefined,
        method: req.method,
        path: `${prefix}${req.path}`,
        headers: signed.headers,
        agent: transport.agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    out.on("error", reject);
    out.end(body);
  });
}

/**
 * AWS's error, read as the SDK reads it for the JSON protocols: the code from `__type` (after a
 * `#` namespace) or the `x-amzn-errortype` header (before a `:`), the message from `message`.
 */
function errorOf(res: SignedResponse): AwsServiceError {
  let parsed: Record<string, unknown> = {};
  try {
    parsed = res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {};
  } catch {
    // Not JSON (a proxy's 502 page): the status speaks for it.
  }
  const header = res.headers["x-amzn-errortype"];
  const raw = String(parsed.__type ?? parsed.code ?? (Array.isArray(header) ? header[0] : header) ?? "");
  const code = raw.split(":")[0].split("#").pop() || `Http${res.status}`;
  const message = String(parsed.message ?? parsed.Message ?? `${code} (HTTP ${res.status})`);
  const requestId = res.headers["x-amzn-requestid"];
  return new AwsServiceError(
    code,
    message,
    res.status,
    typeof requestId === "string" ? requestId : undefined,
  );
}
