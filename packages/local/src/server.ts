/**
 * The local HTTP server on 127.0.0.1: the JSON API and the console (through the same
 * handlers the deployed API runs), and the Step Functions API of the local engine.
 *
 * Why the API is reached through an API Gateway v2 event and not by serving the Hono app with
 * @hono/node-server: the deployed API is middy + Hono's AWS Lambda adapter + the app, invoked
 * with the event API Gateway makes. Turning each request into that event and calling the same
 * exported `handler` runs every layer Lambda runs (the adapter's request building and body
 * decoding, base64 bodies, the IAM caller read from the event, middy's logger context), so a
 * difference between local mode and AWS can only come from the event, which is built here as
 * API Gateway documents it. `app.fetch` would skip the adapter and need the actor passed some
 * other way than the Lambda does.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { must, Validate } from "@reflex/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { LocalBus } from "./bus.ts";
import { type ConsoleAsset, consoleAsset } from "./dashboard.ts";
import type { LocalStepFunctions } from "./engine/local-sfn.ts";
import { handleSfn } from "./engine/sfn-api.ts";
import {
  type ConsolePage,
  consolePage,
  firstPaintHtml,
  type InlineAnswer,
  loadViews,
  pageRequests,
} from "./first-paint.ts";
import type { ConsoleAuth } from "./sso-authorizer.ts";

/**
 * How much of an over-long body is read (and dropped) before the answer: reading it lets the
 * client see the 413 instead of a reset (a socket closed while the client is still sending
 * resets, and the reset can discard the answer). Past this the connection is closed.
 */
const MAX_DRAIN = 32 * 1024 * 1024;

export type ApiRoute = (
  event: APIGatewayProxyEventV2,
) => Promise<{ statusCode: number; body: string; headers?: Record<string, unknown> }>;

export interface ServerDeps {
  engine: LocalStepFunctions;
  bus?: LocalBus;
  /** The JSON API (`/api/*`, `POST /events`): the deployed API's Lambda handler. */
  api: ApiRoute;
  /** Routes only local mode has, by path prefix (`/api/cloud`, `/slack/commands`…; local-api.ts). */
  routes?: Array<{ prefix: string; handle: ApiRoute }>;
  /** `reflex start --sso`: the JWT authorizer in front of the JSON API, and `console-config.json`. */
  consoleAuth?: ConsoleAuth;
}

/** The whole body, or `tooLarge` once it passes the limit (the rest is read and dropped). */
async function readBody(
  req: IncomingMessage,
): Promise<{ bytes: Buffer; tooLarge: boolean; drained: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_DRAIN) return { bytes: Buffer.alloc(0), tooLarge: true, drained: false };
    if (size <= Validate.MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  return { bytes: Buffer.concat(chunks), tooLarge: size > Validate.MAX_BODY_BYTES, drained: true };
}

/** A route prefix matches itself and what lies under it: `/events`, not `/eventsx` or `/events/x`… unless it ends in `/`. */
function underPrefix(path: string, prefix: string): boolean {
  return prefix.endsWith("/") ? path.startsWith(prefix) : path === prefix;
}

/** A Node request as the API Gateway HTTP API (payload v2) event the Lambda would get. */
export function toApiEvent(
  req: IncomingMessage,
  body: string,
  opts: { isBase64Encoded?: boolean; url?: URL } = {},
): APIGatewayProxyEventV2 {
  const url = opts.url ?? new URL(req.url ?? "/", "http://127.0.0.1");
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(",") : v;
  const query = Object.fromEntries(url.searchParams.entries());
  const now = Date.now();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ""),
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: "127.0.0.1",
      domainPrefix: "local",
      http: {
        method: req.method ?? "GET",
        path: url.pathname,
        protocol: "HTTP/1.1",
        sourceIp: "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
    body: body || undefined,
    isBase64Encoded: opts.isBase64Encoded ?? false,
  };
}

/**
 * Why an AWS JSON protocol body cannot be handed on, or undefined when it can: it must be an
 * object whose top-level fields are strings, numbers, booleans, or (Entries) a list of objects.
 */
function checkAwsInput(input: unknown): string | undefined {
  if (input === null || typeof input !== "object" || Array.isArray(input))
    return "the body must be a JSON object";
  for (const [k, v] of Object.entries(input)) {
    if (k === "Entries") {
      if (!Array.isArray(v) || v.some((e) => e === null || typeof e !== "object" || Array.isArray(e)))
        return "Entries must be a list of objects";
    } else if (v !== null && typeof v === "object") return `${k} must be a string, number or boolean`;
  }
  return undefined;
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, unknown> = {},
): void {
  res.writeHead(status, { "content-type": "application/json", ...headers } as Record<string, string>);
  res.end(body);
}

/** A console file, or 304 when the browser holds this very version (If-None-Match). */
function sendAsset(req: IncomingMessage, res: ServerResponse, asset: ConsoleAsset): void {
  const headers = {
    "content-type": asset.contentType,
    "cache-control": "no-cache",
    ...(asset.etag ? { etag: asset.etag } : {}),
  };
  if (asset.etag && req.headers["if-none-match"] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  send(res, 200, asset.body, headers);
}

/**
 * A drawn page holds a run's data (params, targets, outputs: anyone's text) in its HTML, so it is
 * sent as the deployed console is (console-site.ts), within what local mode's console needs:
 * scripts only from this server (the inlined answers are data, which CSP does not run), no
 * plugins, no `<base>`, never in a frame, no type sniffing, no referrer. Connections and styles
 * are left open: `?api=` may name another API and the IdP is another origin.
 */
const FIRST_PAINT_HEADERS = {
  "content-security-policy": "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

/**
 * index.html with `page` drawn in it from the API's answers to this caller: each request goes
 * through the authorizer and the API handler as the page's own request would, with the
 * navigation's headers (less If-None-Match: the page needs the answer itself). A refusal, of any
 * of them, leaves the page as the console's shell: no data in it.
 */
async function sendFirstPaint(
  req: IncomingMessage,
  res: ServerResponse,
  page: ConsolePage,
  deps: ServerDeps,
): Promise<void> {
  const ask = async (path: string): Promise<[string, InlineAnswer] | undefined> => {
    const event = toApiEvent(req, "", { url: new URL(path, "http://127.0.0.1") });
    event.requestContext.http.method = "GET";
    delete event.headers["if-none-match"];
    if (await deps.consoleAuth?.authorize(event)) return undefined;
    const out = await deps.api(event);
    const etag = out.headers?.etag ?? out.headers?.ETag;
    let body: unknown;
    try {
      body = JSON.parse(out.body);
    } catch {
      return undefined;
    }
    return [path, { status: out.statusCode, body, ...(typeof etag === "string" ? { etag } : {}) }];
  };
  const t0 = performance.now();
  const asked = await Promise.all(pageRequests(page).map(ask));
  const answers = asked.every((a) => a !== undefined) ? Object.fromEntries(asked) : {};
  const t1 = performance.now();
  const index = must(consoleAsset("/"), "index.html").body;
  const origin = `http://${req.headers.host ?? "127.0.0.1"}`;
  const html = await firstPaintHtml(index, page, answers, origin);
  res.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    ...FIRST_PAINT_HEADERS,
    // Where the server's time went (the API's answers, then drawing the page): the browser's
    // developer tools and the console bench read it from the page's navigation timing.
    "server-timing": `api;dur=${(t1 - t0).toFixed(1)}, draw;dur=${(performance.now() - t1).toFixed(1)}`,
  });
  res.end(req.method === "HEAD" ? undefined : html);
}

function errorBody(code: string, message: string, path?: string): string {
  return JSON.stringify({ error: { code, message, path } });
}

/**
 * Is this request for us, from us? The server listens on loopback only, but a web page can
 * still reach it: through DNS rebinding (its own name resolving to 127.0.0.1: the `Host`
 * header names the page's domain) or by posting across origins (the browser sends `Origin`).
 * Only a loopback `Host` with our port is served, and only a same-server `Origin`; the CLI,
 * the SDKs and curl send no `Origin`.
 */
export function refuseForeign(req: IncomingMessage, port: number): string | undefined {
  const loopback = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  const host = req.headers.host?.toLowerCase();
  if (host !== undefined && !loopback.has(host))
    return `Host '${host.slice(0, 100)}' is not this server: local mode answers only 127.0.0.1:${port} or localhost:${port}`;
  const origin = req.headers.origin?.toLowerCase();
  if (origin !== undefined) {
    let ok = false;
    try {
      const o = new URL(origin);
      ok = o.protocol === "http:" && loopback.has(o.host);
    } catch {
      ok = false;
    }
    if (!ok) return `Origin '${origin.slice(0, 100)}' may not call this server: only its own console may`;
  }
  return undefined;
}

/**
 * What the server answers while local mode is still starting: `none` until the store's endpoints
 * are set, then `aws` (the local Step Functions and EventBridge, which the start itself calls
 * while it recovers the runs the last process left), then `all` once the start is done.
 */
export type Serving = "none" | "aws" | "all";

const STARTING_MESSAGE =
  "Reflex local mode is still starting (its store, the runs the last process left); try again in a moment";

/**
 * The answer to a request that came before the server serves it: 503 with Retry-After, as
 * `{ error: { code: "starting" } }` (the AWS JSON protocols: their own error shape, which the
 * SDK retries), never the 500 of a store that is not there yet.
 */
function sendStarting(req: IncomingMessage, res: ServerResponse, target: string | undefined): void {
  req.resume();
  if (target === undefined) {
    send(res, 503, errorBody("starting", STARTING_MESSAGE), { "retry-after": "1" });
    return;
  }
  send(res, 503, JSON.stringify({ __type: "ServiceUnavailableException", message: STARTING_MESSAGE }), {
    "content-type": target.startsWith("AWSStepFunctions.")
      ? "application/x-amz-json-1.0"
      : "application/x-amz-json-1.1",
    "retry-after": "1",
  });
}

/**
 * Listens on 127.0.0.1. With `serving: "none"` (local mode) every request is answered 503
 * `starting` until `serve()` says what may be served, as the start goes on (see {@link Serving}).
 */
export async function startServer(
  deps: ServerDeps,
  port: number,
  opts: { serving?: Serving } = {},
): Promise<{ server: Server; url: string; serve(what: Serving): void }> {
  let serving: Serving = opts.serving ?? "all";
  const server = createServer(async (req, res) => {
    try {
      const foreign = refuseForeign(req, (server.address() as AddressInfo).port);
      if (foreign) {
        req.resume();
        return send(res, 403, errorBody("foreign_request", foreign), { connection: "close" });
      }
      if (serving !== "all") {
        const awsTarget = req.method === "POST" ? req.headers["x-amz-target"] : undefined;
        const target = typeof awsTarget === "string" ? awsTarget : undefined;
        if (serving === "none" || target === undefined) return sendStarting(req, res, target);
      }
      const { bytes, tooLarge, drained } = await readBody(req);
      if (tooLarge) {
        const message = `request body is over ${Validate.MAX_BODY_BYTES} bytes`;
        if (!drained) res.once("finish", () => req.socket.destroy());
        return send(
          res,
          413,
          errorBody("too_large", message, "body"),
          drained ? {} : { connection: "close" },
        );
      }
      let url: URL;
      try {
        url = new URL(req.url ?? "/", "http://127.0.0.1");
      } catch {
        return send(res, 400, errorBody("invalid_path", "the request target is not a valid path", "path"));
      }
      const target = req.headers["x-amz-target"];
      // The AWS JSON protocols of the local Step Functions and EventBridge.
      const aws =
        req.method === "POST" && typeof target === "string"
          ? target.startsWith("AWSStepFunctions.")
            ? {
                contentType: "application/x-amz-json-1.0",
                answer: (input: Record<string, unknown>) => handleSfn(deps.engine, target, input),
              }
            : target === "AWSEvents.PutEvents" && deps.bus
              ? {
                  contentType: "application/x-amz-json-1.1",
                  answer: (input: Record<string, unknown>) => must(deps.bus, "deps.bus").putEvents(input),
                }
              : undefined
          : undefined;
      if (aws) {
        let input: unknown;
        try {
          input = bytes.length ? Validate.parseJson(Validate.decodeUtf8(bytes)) : {};
        } catch (err) {
          const error = { __type: "SerializationException", message: (err as Error).message };
          return send(res, 400, JSON.stringify(error), { "content-type": aws.contentType });
        }
        // The AWS JSON protocols take an object; the engine and the bus read fields off it.
        const fields = checkAwsInput(input);
        if (fields) {
          const error = { __type: "ValidationException", message: fields };
          return send(res, 400, JSON.stringify(error), { "content-type": aws.contentType });
        }
        const out = await aws.answer(input as Record<string, unknown>);
        return send(res, out.status, JSON.stringify(out.body), { "content-type": aws.contentType });
      }
      const path = url.pathname;
      // The console's own files (scripts, styles), served as they are. A browser that has them
      // asks whether they changed (ETag, `no-cache`: they change only with a new Reflex, and a
      // page must never mix an old module with a new one) and is answered 304, without a body.
      const asset =
        req.method === "GET" && path !== "/" && path !== "/index.html" ? consoleAsset(path) : undefined;
      if (asset) return sendAsset(req, res, asset);
      if (path === "/" || path === "/index.html") void loadViews().catch(() => {});
      // The console's settings (API base, sign-in): only with --sso; without, it signs nobody in.
      if (path === "/console-config.json" && req.method === "GET") {
        const settings = deps.consoleAuth?.consoleConfig();
        if (settings) return send(res, 200, JSON.stringify(settings), { "cache-control": "no-store" });
        return send(
          res,
          404,
          errorBody("not_found", "no console-config.json: local mode signs in only with --sso"),
        );
      }
      // A run page or the runs list, drawn here for its first paint (first-paint.ts).
      const page =
        req.method === "GET" || req.method === "HEAD" ? await consolePage(path, url.searchParams) : undefined;
      if (page) return await sendFirstPaint(req, res, page, deps);
      if (path === "/" || path === "/index.html") {
        if (req.method === "GET" || req.method === "HEAD")
          return sendAsset(req, res, must(consoleAsset("/"), "index.html"));
        return send(res, 405, errorBody("method_not_allowed", `${req.method} is not allowed on ${path}`), {
          allow: "GET, HEAD",
        });
      }
      // Bytes that are not UTF-8 go on base64-encoded, as API Gateway passes binary bodies: the
      // handler's body parser refuses them (400) instead of reading them with U+FFFD.
      let body: string;
      let isBase64Encoded = false;
      try {
        body = Validate.decodeUtf8(bytes);
      } catch {
        body = bytes.toString("base64");
        isBase64Encoded = true;
      }
      const extra = deps.routes?.find((r) => underPrefix(path, r.prefix));
      const event = toApiEvent(req, body, { isBase64Encoded, url });
      // As API Gateway's JWT authorizer: a bad token never reaches the handler.
      const refused = extra ? undefined : await deps.consoleAuth?.authorize(event);
      if (refused)
        return send(res, refused.status, errorBody(refused.code, refused.message), {
          "www-authenticate": `Bearer error="${refused.code === "invalid_token" ? "invalid_token" : "invalid_request"}"`,
        });
      const out = await (extra ? extra.handle : deps.api)(event);
      return send(res, out.statusCode, out.body, out.headers ?? {});
    } catch (err) {
      // Only a defect gets here: bad input is answered above or by the handlers with a 4xx.
      console.error("local server: request failed", req.method, req.url?.slice(0, 200), err);
      if (res.headersSent) return res.destroy();
      return send(res, 500, errorBody("internal", "internal error; see the server log"));
    }
  });
  // Requests Node's parser refuses before any handler runs (headers or URL over 16 KB,
  // malformed HTTP) get the same JSON error as the rest, not an empty body.
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
    const status = tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request";
    const body = errorBody(
      tooLarge ? "headers_too_large" : "bad_request",
      tooLarge
        ? "the request line and headers are over 16 KB"
        : `malformed HTTP request (${err.code ?? "parse error"})`,
    );
    socket.end(
      `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${addr.port}`,
    serve: (what) => {
      serving = what;
    },
  };
}
