/**
 * How the CLI reaches Reflex: which server (`--url`, `REFLEX_URL`, the port file `reflex start`
 * wrote, or the default port), and how each request is sent — plain for local mode, SigV4-signed
 * for a deployed stack, whose API Gateway routes sit behind IAM auth (stacks/api.ts).
 *
 * The deployed API is an HTTP API on its `$default` stage, so its URL (the stack output
 * `ApiUrl`, `https://<id>.execute-api.<region>.amazonaws.com`) has no stage path: `baseUrl`
 * plus `/api/…` is the route, as it is locally. A URL with a path (a custom domain's base
 * path) keeps it: routes are appended to it.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";

export const DEFAULT_PORT = 8787;
export const DEFAULT_DATA_DIR = ".reflex";
/** The file `reflex start` writes in its data dir once it listens. */
export const PORT_FILE = "server.json";

export interface Transport {
  /** The server's URL, without a trailing slash. */
  baseUrl: string;
  /** True when the server is not on this machine (not loopback). */
  remote: boolean;
  /** Where `baseUrl` came from. */
  source: "flag" | "env" | "port-file" | "default";
  /** Sends a request to `baseUrl + path`, signed when the server needs it. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** The file `reflex start` claims its data dir with before it opens the store (local-mode.ts). */
export const CLAIM_FILE = "reflex.pid";

/** What `reflex start` writes to `<dataDir>/server.json`. */
export interface PortFile {
  url: string;
  port: number;
  pid: number;
  startedAt: string;
}

/** A URL the CLI cannot use (bad usage: exit 2). */
export class TransportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransportError";
  }
}

export interface TransportOptions {
  /** `--url`. */
  url?: string;
  /** Where a relative data dir is resolved (default `process.cwd()`). */
  cwd?: string;
  /** Default `process.env`: `REFLEX_URL`, `REFLEX_DATA_DIR`, `REFLEX_PORT`, `AWS_REGION`… */
  env?: NodeJS.ProcessEnv;
  /**
   * `auto` (default) signs https requests to a host that is not loopback; `always` and
   * `never` are for tests and for proxies in front of the API.
   */
  sign?: "auto" | "always" | "never";
  /** Default: the standard AWS credential chain, resolved on the first signed request. */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** The fetch to send with (tests). */
  fetch?: typeof globalThis.fetch;
  /** The signing clock (tests). */
  now?: () => Date;
}

/**
 * Finds the server and opens a transport to it: `opts.url` (`--url`) > `REFLEX_URL` > the
 * port file in the data dir (`$REFLEX_DATA_DIR` or `.reflex`), unless the process that wrote
 * it is gone > `http://127.0.0.1:$REFLEX_PORT` (8787).
 *
 * @example
 * const t = await openTransport({ url: values.url });
 * const res = await t.fetch("/api/executions");
 */
export async function openTransport(opts: TransportOptions = {}): Promise<Transport> {
  const env = opts.env ?? process.env;
  const found = discover(opts, env);
  const url = parseServerUrl(found.url, found.source);
  const remote = !isLoopback(url.hostname);
  const sign = opts.sign ?? "auto";
  const signing = sign === "always" || (sign === "auto" && url.protocol === "https:" && remote);
  const baseUrl = url.href.replace(/\/+$/, "");
  const send = opts.fetch ?? globalThis.fetch;
  let signer: SignatureV4 | undefined;
  return {
    baseUrl,
    remote,
    source: found.source,
    async fetch(path, init = {}) {
      const target = `${baseUrl}${path.startsWith("/") ? path : `/${path}`}`;
      if (!signing) return send(target, init);
      signer ??= requestSigner({
        credentials: opts.credentials ?? (await defaultCredentials()),
        region: signingRegion(url, env),
      });
      const wire = new URL(target);
      // The query goes out in the form it is signed in (RFC 3986, a space as %20, a `+` as
      // %2B): `a+b` is a space to URLSearchParams but a plus to a strict canonicaliser, and a
      // request whose signature depends on which one API Gateway is would fail as 403.
      wire.search = canonicalQuery(wire.searchParams);
      const headers = await signRequest(signer, {
        method: init.method ?? "GET",
        host: wire.host,
        target: `${wire.pathname}${wire.search}`,
        headers: [...new Headers(init.headers).entries()],
        body: bodyOf(init.body),
        now: opts.now?.(),
      });
      // fetch sets Host from the URL, the same value that was signed.
      delete headers.host;
      return send(wire.href, { ...init, headers });
    },
  };
}

/** How long the CLI waits for a `reflex start` still starting to write its port file, and how often it looks. */
const STARTING_WAIT_MS = 30_000;
const STARTING_POLL_MS = 250;

/**
 * {@link openTransport}, except that when the server would be the default port only because a
 * `reflex start` that holds the data dir has not written its port file yet (it is still
 * starting, perhaps on another port), it waits for that file, up to 30 s; `onWait` is told once.
 * After that, the default port as before (a start there answers 503 `starting` meanwhile).
 */
export async function openTransportOnceStarted(
  opts: TransportOptions = {},
  onWait?: (starting: { pid: number; dataDir: string }) => void,
): Promise<Transport> {
  const began = Date.now();
  let told = false;
  for (;;) {
    const transport = await openTransport(opts);
    if (transport.source !== "default") return transport;
    const starting = startingServer(opts.cwd, opts.env ?? process.env);
    if (!starting || Date.now() - began >= STARTING_WAIT_MS) return transport;
    if (!told) onWait?.(starting);
    told = true;
    await new Promise((resolve) => setTimeout(resolve, STARTING_POLL_MS));
  }
}

/** A live `reflex start` that has claimed the data dir (it may not have written its port file yet). */
export function startingServer(
  cwd = process.cwd(),
  env: NodeJS.ProcessEnv = process.env,
): { pid: number; dataDir: string } | undefined {
  const dataDir = resolve(cwd, env.REFLEX_DATA_DIR || DEFAULT_DATA_DIR);
  let held: { pid?: unknown; startedAt?: unknown };
  try {
    held = JSON.parse(readFileSync(join(dataDir, CLAIM_FILE), "utf8"));
  } catch {
    return undefined;
  }
  const pid = Number(held?.pid);
  return writerAlive(pid, Date.parse(String(held?.startedAt))) ? { pid, dataDir } : undefined;
}

/**
 * The server's URL as {@link openTransport} finds it, without opening anything (for a
 * command's `--url` default).
 */
export function serverUrl(opts: Pick<TransportOptions, "cwd" | "env"> = {}): string {
  return discover(opts, opts.env ?? process.env).url;
}

/** The standard AWS credential chain, loaded only when a request is signed. */
async function defaultCredentials(): Promise<AwsCredentialIdentityProvider> {
  const { fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
  return fromNodeProviderChain();
}

function discover(
  opts: Pick<TransportOptions, "url" | "cwd">,
  env: NodeJS.ProcessEnv,
): { url: string; source: Transport["source"] } {
  if (opts.url !== undefined) return { url: opts.url, source: "flag" };
  if (env.REFLEX_URL) return { url: env.REFLEX_URL, source: "env" };
  const file = readPortFile(portFilePath(opts.cwd, env));
  if (file) return { url: file.url, source: "port-file" };
  return { url: defaultServerUrl(env), source: "default" };
}

/** Where local mode listens unless told otherwise: `http://127.0.0.1:$REFLEX_PORT` (8787). */
export function defaultServerUrl(env: NodeJS.ProcessEnv = process.env): string {
  return `http://127.0.0.1:${env.REFLEX_PORT || DEFAULT_PORT}`;
}

/** `<dataDir>/server.json`, the data dir being `$REFLEX_DATA_DIR` or `.reflex` under `cwd`. */
export function portFilePath(cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): string {
  return join(resolve(cwd, env.REFLEX_DATA_DIR || DEFAULT_DATA_DIR), PORT_FILE);
}

/**
 * The port file, or undefined when there is none, it is not one, or the process that wrote it
 * has died (a `reflex start` killed with SIGKILL leaves its file behind; on Linux, a live
 * process that started after the file was written only reuses the dead server's pid).
 *
 * Only a local server's address is taken from it (`http://` on loopback, no path): the file is
 * in the working tree, so a repository that ships one, or anyone who can write the data dir,
 * must not be able to send the CLI's requests — params, approvals, signed with the caller's AWS
 * credentials — to another host. A remote server is named with `--url` or `REFLEX_URL`.
 */
export function readPortFile(path: string): PortFile | undefined {
  let file: Partial<PortFile> | null;
  try {
    file = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
  if (typeof file !== "object" || file === null) return undefined;
  const { url, pid, startedAt } = file;
  // pid 0 and -1 are process groups to kill(2): "alive" whatever wrote the file.
  if (typeof url !== "string" || !Number.isInteger(pid) || (pid as number) <= 0) return undefined;
  if (typeof startedAt !== "string" || Number.isNaN(Date.parse(startedAt))) return undefined;
  if (!isLocalServerUrl(url)) return undefined;
  if (!isAlive(pid as number) || startedLater(pid as number, Date.parse(startedAt))) return undefined;
  return file as PortFile;
}

/** `http://<loopback>:<port>` and nothing more: what `reflex start` writes. */
function isLocalServerUrl(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  return (
    url.protocol === "http:" &&
    // Not `*.localhost`: outside systemd-resolved, a resolver may send such a name anywhere.
    (isIP(url.hostname.replace(/^\[|\]$/g, "")) !== 0 || url.hostname === "localhost") &&
    isLoopback(url.hostname) &&
    url.port !== "" &&
    url.pathname === "/" &&
    !url.search &&
    !url.hash &&
    !url.username &&
    !url.password
  );
}

/**
 * True when the process `pid` cannot be the server that wrote the file: it is a zombie (killed,
 * not yet reaped by its parent; kill(pid, 0) still succeeds), or it started after `writtenAt`
 * (by more than 10 s: btime is in whole seconds and moves with wall-clock corrections). Linux
 * only (`/proc`); elsewhere, and when `/proc` cannot be read, false.
 */
function startedLater(pid: number, writtenAt: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces and parentheses): state is field 3,
    // starttime (clock ticks after boot; USER_HZ is 100 on Linux) is field 22.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return true;
    const ticks = Number(fields[19]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(bootSeconds)) return false;
    return bootSeconds * 1000 + ticks * 10 > writtenAt + 10_000;
  } catch {
    return false;
  }
}

/** Is the process that wrote a file at `writtenAt` (ms) still running as `pid`? */
export function writerAlive(pid: number, writtenAt: number): boolean {
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) && !startedLater(pid, writtenAt);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists, it is just not ours to signal.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

const WHERE: Record<Transport["source"], string> = {
  flag: "--url",
  env: "REFLEX_URL",
  "port-file": "the port file",
  default: "REFLEX_PORT",
};

function parseServerUrl(raw: string, source: Transport["source"]): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TransportError(
      `${WHERE[source]} '${raw}' is not a URL; expected e.g. http://127.0.0.1:8787 or https://<id>.execute-api.<region>.amazonaws.com`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new TransportError(`${WHERE[source]} '${raw}' must be an http:// or https:// URL`);
  if (url.search || url.hash || url.username || url.password)
    throw new TransportError(
      `${WHERE[source]} '${raw}' must be a server's base URL, without a query, fragment or credentials`,
    );
  return url;
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  // WHATWG URLs write an IPv4-mapped address in hex: [::ffff:127.0.0.1] is [::ffff:7f00:1].
  if (isIP(host) === 6) return host === "::1" || /^::ffff:(127\.|7f[0-9a-f]{2}:)/i.test(host);
  return false;
}

/**
 * The region to sign for: the one in an `execute-api.<region>.amazonaws.com` host (signing for
 * any other is refused by AWS), else `AWS_REGION` / `AWS_DEFAULT_REGION` (a custom domain).
 */
export function signingRegion(url: URL, env: NodeJS.ProcessEnv = process.env): string {
  // `<id>.execute-api.<region>.amazonaws.com`, or a private API's `<id>-<vpce>.execute-api.<region>.vpce.amazonaws.com`.
  const fromHost = /\.execute-api\.([a-z0-9-]+)\.(vpce\.)?amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1];
  const region = fromHost ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region)
    throw new TransportError(
      `cannot tell which AWS region ${url.host} is in, to sign requests for it; set AWS_REGION`,
    );
  return region;
}

/** The signer the transport uses: SigV4 for API Gateway (`execute-api`), SHA-256. */
export function requestSigner(opts: {
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  region: string;
  /** `execute-api` unless a test signs for AWS's test-suite service. */
  service?: string;
}): SignatureV4 {
  return new SignatureV4({
    service: opts.service ?? "execute-api",
    region: opts.region,
    credentials: opts.credentials,
    sha256: Sha256,
    // Every service but S3 takes the path URI-encoded once more in the canonical request.
    uriEscapePath: true,
    // The body hash header is added by signRequest, so a test can sign without it as the suite does.
    applyChecksum: false,
  });
}

/**
 * Signs one request; answers the headers to send (lower-case names): the caller's, plus
 * `host`, `x-amz-date`, `x-amz-content-sha256` (the body's hash, signed), the session token
 * when the credentials have one, and `authorization`. Repeated headers are joined with `,`,
 * as SigV4's canonical form does.
 */
export async function signRequest(
  signer: SignatureV4,
  req: {
    method: string;
    /** The Host header: hostname, and the port when it is not the scheme's default. */
    host: string;
    /** The request-target as sent on the wire: the path (percent-encoded) and the query. */
    target: string;
    headers?: Array<[string, string]>;
    body?: string | Uint8Array;
    now?: Date;
    /** Send and sign `x-amz-content-sha256` (default true). */
    bodyHashHeader?: boolean;
  },
): Promise<Record<string, string>> {
  const q = req.target.indexOf("?");
  const path = q < 0 ? req.target : req.target.slice(0, q);
  const search = new URLSearchParams(q < 0 ? "" : req.target.slice(q + 1));
  const headers: Record<string, string> = {};
  for (const [name, value] of req.headers ?? []) {
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]},${value}` : value;
  }
  headers.host = req.host;
  const body = req.body ?? "";
  if (req.bodyHashHeader ?? true) {
    const hash = new Sha256();
    hash.update(body);
    headers["x-amz-content-sha256"] = Buffer.from(await hash.digest()).toString("hex");
  }
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of search) {
    const had = query[k];
    query[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  const signed = await signer.sign(
    {
      method: req.method.toUpperCase(),
      protocol: "https:",
      hostname: req.host,
      // As it goes on the wire (percent-encoded once); the signer encodes it again, as every
      // service but S3 wants.
      path,
      query,
      headers,
      body,
    },
    { signingDate: req.now },
  );
  return signed.headers;
}

/** Query pairs in their order, each name and value percent-encoded as SigV4 encodes them. */
function canonicalQuery(params: URLSearchParams): string {
  const encode = (v: string) =>
    encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return [...params].map(([k, v]) => `${encode(k)}=${encode(v)}`).join("&");
}

function bodyOf(body: RequestInit["body"]): string | Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string" || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof URLSearchParams) return body.toString();
  throw new TransportError("a signed request's body must be a string or bytes (a stream cannot be hashed)");
}
