/**
 * S3 Object Lock, locally: a proxy on 127.0.0.1 in front of s3rver (which answers
 * `NotImplemented` to object lock, retention and versioning). An object put with
 * `x-amz-object-lock-mode` and `x-amz-object-lock-retain-until-date` is held as AWS holds a
 * locked version: inside its retention, a put over it or a delete of it is refused with
 * `AccessDenied` — always in COMPLIANCE mode, and in GOVERNANCE mode unless the request says
 * `x-amz-bypass-governance-retention: true`. `GET ?retention` answers the object's retention.
 * Everything else passes through to s3rver untouched.
 *
 * Unlike a versioned bucket, a put over a locked key is refused instead of adding a version
 * (s3rver keeps one version per key); the exporter never writes a key twice with other bytes.
 * Retention is kept in `<dataDir>/worm.json`, so it survives a restart.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

interface Retention {
  mode: "COMPLIANCE" | "GOVERNANCE";
  retainUntil: string;
}

export interface Worm {
  endpoint: string;
  /** The retention held for `bucket/key`, if any. */
  retention(bucket: string, key: string): Retention | undefined;
  close(): Promise<void>;
}

function refuse(res: ServerResponse, code: number, errorCode: string, message: string): void {
  res.writeHead(code, { "content-type": "application/xml" });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${errorCode}</Code><Message>${message}</Message></Error>`,
  );
}

/** Starts the proxy in front of `s3Endpoint`; `statePath` keeps the retention (none: in memory). */
export async function startWorm(
  s3Endpoint: string,
  statePath?: string,
  now = () => new Date(),
): Promise<Worm> {
  const target = new URL(s3Endpoint);
  const locks = new Map<string, Retention>(
    statePath && existsSync(statePath)
      ? Object.entries(JSON.parse(readFileSync(statePath, "utf8")) as Record<string, Retention>)
      : [],
  );
  const save = () => {
    if (statePath) writeFileSync(statePath, JSON.stringify(Object.fromEntries(locks)));
  };
  const keyOf = (req: IncomingMessage) => {
    const url = new URL(req.url ?? "/", "http://x");
    const [, bucket, ...rest] = url.pathname.split("/");
    return { bucket, key: decodeURIComponent(rest.join("/")), query: url.searchParams };
  };
  const held = (id: string): Retention | undefined => {
    const r = locks.get(id);
    return r && new Date(r.retainUntil) > now() ? r : undefined;
  };

  const server = createServer((req, res) => {
    const { bucket, key, query } = keyOf(req);
    const id = `${bucket}/${key}`;
    const objectRequest = key !== "" && [...query.keys()].every((k) => k === "x-id");
    if (key && query.has("retention") && req.method === "GET") {
      const r = held(id) ?? locks.get(id);
      if (!r)
        return refuse(
          res,
          404,
          "NoSuchObjectLockConfiguration",
          "The specified object does not have a ObjectLock configuration",
        );
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Retention><Mode>${r.mode}</Mode><RetainUntilDate>${r.retainUntil}</RetainUntilDate></Retention>`,
      );
      return;
    }
    if (objectRequest && (req.method === "PUT" || req.method === "DELETE")) {
      const r = held(id);
      const bypass = req.headers["x-amz-bypass-governance-retention"] === "true";
      if (r && (r.mode === "COMPLIANCE" || !bypass))
        return refuse(
          res,
          403,
          "AccessDenied",
          `Access Denied because object protected by object lock (${r.mode} until ${r.retainUntil})`,
        );
    }
    const mode = req.headers["x-amz-object-lock-mode"];
    const until = req.headers["x-amz-object-lock-retain-until-date"];
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        const ok = (up.statusCode ?? 500) < 300;
        if (
          ok &&
          objectRequest &&
          req.method === "PUT" &&
          (mode === "COMPLIANCE" || mode === "GOVERNANCE") &&
          typeof until === "string"
        ) {
          locks.set(id, { mode, retainUntil: new Date(until).toISOString() });
          save();
        }
        if (ok && objectRequest && req.method === "DELETE") {
          locks.delete(id);
          save();
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", (e) => refuse(res, 502, "BadGateway", e.message));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    retention: (bucket, key) => held(`${bucket}/${key}`),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
