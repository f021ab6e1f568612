/**
 * moto, the second cloud (docs/testing.md): a `moto_server` child on 127.0.0.1 and a free port,
 * and in front of it a small stand-in on loopback that
 *
 * - answers the few operations moto does not implement (each listed in {@link STAND_INS} and in
 *   docs/testing.md), from what moto holds where it can;
 * - injects faults, answered as AWS answers an error in the service's own wire protocol, so a
 *   failure can be rehearsed against moto as against the simulated cloud (`cloud.injectFault`);
 * - forwards everything else to moto untouched.
 *
 * Point clients at the stand-in: `REFLEX_ENDPOINT_<SERVICE>=<standIn.url>` (local mode with
 * `REFLEX_CLOUD=aws`). The stand-in tells services apart by the SigV4 credential scope.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CloudApiError, wireErrorResponse } from "../../packages/local/src/cloud/api-error.ts";

/** The SigV4 signing name of each service -> the name Reflex's client factory uses. */
const SIGNING_NAMES: Record<string, string> = {
  ec2: "ec2",
  autoscaling: "autoscaling",
  ssm: "ssm",
  route53: "route53",
  monitoring: "cloudwatch",
  elasticloadbalancing: "elbv2",
};

/** Each service's wire protocol, for error answers. */
const PROTOCOLS: Record<string, { shapeId: string; queryCompatible: boolean }> = {
  ec2: { shapeId: "aws.protocols#ec2Query", queryCompatible: false },
  autoscaling: { shapeId: "aws.protocols#awsQuery", queryCompatible: false },
  elbv2: { shapeId: "aws.protocols#awsQuery", queryCompatible: false },
  ssm: { shapeId: "aws.protocols#awsJson1_1", queryCompatible: false },
  cloudwatch: { shapeId: "aws.protocols#awsJson1_0", queryCompatible: true },
  route53: { shapeId: "aws.protocols#restXml", queryCompatible: false },
};

export interface WireCall {
  service: string;
  operation: string;
  /** Query form fields, or the JSON body; route53: the path. */
  params: Record<string, unknown>;
}

export interface StandInAnswer {
  status?: number;
  contentType: string;
  body: string;
}

/** A handler for an operation moto lacks: answers from the request (and from moto, through `moto`). */
export type StandIn = (call: WireCall, moto: MotoClient) => Promise<StandInAnswer>;

export interface MotoClient {
  url: string;
}

export interface MotoFault {
  service: string;
  operation: string;
  code: string;
  message?: string;
  status?: number;
  /** How many calls it fails; default every call. */
  times?: number;
  /** Fails only calls whose params match. */
  match?: (call: WireCall) => boolean;
}

export interface Moto {
  /** moto itself (seed it here or through the stand-in). */
  motoUrl: string;
  /** The stand-in in front of moto: point the clients here. */
  url: string;
  /** Every request the stand-in saw, in order (stand-in answers and faults included). */
  calls: WireCall[];
  /** Which calls the stand-in answered itself, by `service:Operation`. */
  standInCalls: string[];
  inject(fault: MotoFault): void;
  clearFaults(): void;
  /** Adds (or replaces) stand-in operations, by `service:Operation`. */
  standIns: Map<string, StandIn>;
  /**
   * Gives a moto hosted zone the id AWS would (AWS's start with `Z`, moto's do not, and Reflex's
   * config refuses an id that is not Z…): requests naming `alias` reach moto with its own id.
   */
  aliasZone(alias: string, motoId: string): void;
  /** Drops everything moto holds (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

/** Resolves once moto says it listens (Werkzeug's "Running on" line), or rejects when the child exits first. */
function motoReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (d: Buffer) => {
      seen = (seen + d.toString()).slice(-4000);
      if (/Running on http/.test(seen)) {
        child.stderr?.off("data", onData);
        resolve();
      }
    };
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`moto_server exited with ${code}: ${seen}`)));
    child.once("error", (e) =>
      reject(new Error(`moto_server did not start (${e.message}); see docs/testing.md`)),
    );
  });
}

function readBody(req: import("node:http").IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Which service and operation a signed request is, and its params. */
export function identify(
  method: string,
  path: string,
  headers: Record<string, unknown>,
  body: string,
): WireCall {
  const auth = String(headers.authorization ?? "");
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(auth)?.[1] ?? "";
  const service = SIGNING_NAMES[scope] ?? scope;
  const target = headers["x-amz-target"];
  if (typeof target === "string") {
    return { service, operation: target.split(".").pop() ?? "", params: body ? JSON.parse(body) : {} };
  }
  if (service === "route53") {
    const p = path.replace(/\?.*$/, "");
    const operation = /\/hostedzone\/[^/]+\/rrset\/?$/.test(p)
      ? method === "POST"
        ? "ChangeResourceRecordSets"
        : "ListResourceRecordSets"
      : /\/change\/[^/]+$/.test(p)
        ? "GetChange"
        : `${method} ${p}`;
    return { service, operation, params: { path } };
  }
  const form = Object.fromEntries(new URLSearchParams(body));
  return { service, operation: String(form.Action ?? ""), params: form };
}

/** Starts moto_server and the stand-in in front of it. */
export async function startMoto(standIns: Record<string, StandIn> = {}): Promise<Moto> {
  const port = await freePort();
  const motoUrl = `http://127.0.0.1:${port}`;
  const child = spawn("moto_server", ["-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    // Its own process group, so stopping it stops whatever the launcher (a pyenv shim, say) started.
    detached: true,
    // No default AMIs: moto would otherwise hold (and list, to DescribeSnapshots) a thousand snapshots of them.
    env: { ...process.env, MOTO_CALL_RESET_API: "true", MOTO_EC2_LOAD_DEFAULT_AMIS: "false" },
  });
  // Never outlive the test process, even when it dies before stop().
  const killChild = () => {
    try {
      if (child.pid) process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  };
  process.once("exit", killChild);
  // Werkzeug logs every request to stderr: keep reading it, or the pipe fills and moto stalls.
  child.stderr?.resume();
  try {
    await motoReady(child);
  } catch (e) {
    killChild();
    throw e;
  }

  const calls: WireCall[] = [];
  const standInCalls: string[] = [];
  let faults: Array<MotoFault & { left: number }> = [];
  const handlers = new Map<string, StandIn>(Object.entries(standIns));
  const zoneAliases = new Map<string, string>();
  const moto: MotoClient = { url: motoUrl };

  const server: Server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const call = identify(req.method ?? "GET", req.url ?? "/", req.headers, body.toString("utf8"));
      calls.push(call);
      const fault = faults.find(
        (f) =>
          f.left > 0 &&
          f.service === call.service &&
          (f.operation === "*" || f.operation === call.operation) &&
          (!f.match || f.match(call)),
      );
      if (fault) {
        fault.left -= 1;
        const error = new CloudApiError(
          fault.code,
          fault.message ?? `Injected fault: ${fault.code} on ${call.service}:${call.operation}`,
          fault.status ?? 400,
        );
        const answer = wireErrorResponse(PROTOCOLS[call.service], error, "stand-in-fault");
        res.writeHead(answer.statusCode, answer.headers);
        res.end(answer.body);
        return;
      }
      const handler = handlers.get(`${call.service}:${call.operation}`);
      if (handler) {
        standInCalls.push(`${call.service}:${call.operation}`);
        const answer = await handler(call, moto);
        res.writeHead(answer.status ?? 200, {
          "content-type": answer.contentType,
          "x-amzn-requestid": "stand-in",
        });
        res.end(answer.body);
        return;
      }
      let path = req.url ?? "/";
      for (const [alias, id] of zoneAliases) path = path.replace(`/hostedzone/${alias}`, `/hostedzone/${id}`);
      const upstream = request(
        `${motoUrl}${path}`,
        { method: req.method, headers: { ...req.headers, host: `127.0.0.1:${port}` } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on("error", (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      upstream.end(body);
    } catch (e) {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`stand-in failed: ${(e as Error).stack}`);
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    motoUrl,
    url,
    calls,
    standInCalls,
    standIns: handlers,
    inject(fault) {
      faults.push({ ...fault, left: fault.times ?? Number.POSITIVE_INFINITY });
    },
    clearFaults() {
      faults = [];
    },
    aliasZone(alias, motoId) {
      zoneAliases.set(alias, motoId);
    },
    async reset() {
      await fetch(`${motoUrl}/moto-api/reset`, { method: "POST" });
    },
    async stop() {
      process.off("exit", killChild);
      server.closeAllConnections();
      server.close();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        killChild();
        await exited;
      }
    },
  };
}
