/**
 * The local HTTP server on 127.0.0.1: the JSON API and the console (through the same
 * handlers the deployed API runs), and the Step Functions API of the local engine.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { LocalBus } from "./bus.ts";
import { consoleAsset } from "./dashboard.ts";
import type { LocalStepFunctions } from "./engine/local-sfn.ts";
import { handleSfn } from "./engine/sfn-api.ts";

const MAX_BODY = 1024 * 1024;

export type ApiRoute = (
  event: APIGatewayProxyEventV2,
) => Promise<{ statusCode: number; body: string; headers?: Record<string, unknown> }>;

export interface ServerDeps {
  engine: LocalStepFunctions;
  bus?: LocalBus;
  /** `/api/*` (and anything else in the JSON API). */
  api: ApiRoute;
  /** Extra routes by path prefix, e.g. `/events`, `/slack/` (added by later capabilities). */
  routes?: Array<{ prefix: string; handle: ApiRoute }>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw Object.assign(new Error("request body over 1 MiB"), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A Node request as the API Gateway HTTP API (payload v2) event the Lambda would get. */
export function toApiEvent(req: IncomingMessage, body: string): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
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
    isBase64Encoded: false,
  };
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

export async function startServer(deps: ServerDeps, port: number): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const target = req.headers["x-amz-target"];
      // The AWS JSON protocols of the local Step Functions and EventBridge.
      const aws =
        req.method === "POST" && typeof target === "string"
          ? target.startsWith("AWSStepFunctions.")
            ? {
                contentType: "application/x-amz-json-1.0",
                answer: (input: any) => handleSfn(deps.engine, target, input),
              }
            : target === "AWSEvents.PutEvents" && deps.bus
              ? {
                  contentType: "application/x-amz-json-1.1",
                  answer: (input: any) => deps.bus!.putEvents(input),
                }
              : undefined
          : undefined;
      if (aws) {
        let input: Record<string, unknown>;
        try {
          input = body ? JSON.parse(body) : {};
        } catch {
          const error = { __type: "SerializationException", message: "body is not JSON" };
          return send(res, 400, JSON.stringify(error), { "content-type": aws.contentType });
        }
        const out = await aws.answer(input);
        return send(res, out.status, JSON.stringify(out.body), { "content-type": aws.contentType });
      }
      const path = (req.url ?? "/").split("?")[0];
      const asset = req.method === "GET" ? consoleAsset(path) : undefined;
      if (asset) return send(res, 200, asset.body, { "content-type": asset.contentType });
      const extra = deps.routes?.find((r) => path.startsWith(r.prefix));
      const out = await (extra ? extra.handle : deps.api)(toApiEvent(req, body));
      return send(res, out.statusCode, out.body, out.headers ?? {});
    } catch (err) {
      const status = (err as { status?: number }).status ?? 500;
      return send(
        res,
        status,
        JSON.stringify({
          error: { code: status === 413 ? "too_large" : "internal", message: (err as Error).message },
        }),
      );
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${addr.port}` };
}
