import { spawn } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTransport, requestSigner, signingRegion, signRequest, TransportError } from "./transport.ts";

/**
 * AWS's Signature Version 4 test suite, the vectors vendored from awslabs/aws-c-auth
 * (tests/aws-signing-test-suite/v4; the commit is named in the fixture's `source`).
 */
const SUITE = JSON.parse(
  readFileSync(new URL("../../../../test/fixtures/sigv4/aws-c-auth-v4.json", import.meta.url), "utf8"),
) as {
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
  service: string;
  timestamp: string;
  vectors: Array<{
    name: string;
    method: string;
    target: string;
    headers: Array<[string, string]>;
    body: string;
    signBody: boolean;
    sessionToken?: string;
    authorization: string;
  }>;
};

describe("SigV4 signing, against AWS's published test suite", () => {
  for (const v of SUITE.vectors) {
    it(`produces the published Authorization header for ${v.name}`, async () => {
      const signer = requestSigner({
        credentials: { ...SUITE.credentials, sessionToken: v.sessionToken },
        region: SUITE.region,
        service: SUITE.service,
      });
      const host = v.headers.find(([k]) => k.toLowerCase() === "host")?.[1] as string;

      const headers = await signRequest(signer, {
        method: v.method,
        host,
        target: v.target,
        headers: v.headers.filter(([k]) => k.toLowerCase() !== "host"),
        body: v.body,
        now: new Date(SUITE.timestamp),
        bodyHashHeader: v.signBody,
      });

      expect(headers.authorization).toBe(v.authorization);
      expect(headers["x-amz-date"]).toBe("20150830T123600Z");
      if (v.sessionToken) expect(headers["x-amz-security-token"]).toBe(v.sessionToken);
    });
  }
});

describe("server discovery", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "reflex-transport-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function portFile(dataDir: string, pid: number, url = "http://127.0.0.1:9911") {
    writeFileSync(
      join(dataDir, "server.json"),
      JSON.stringify({ url, port: Number(new URL(url).port), pid, startedAt: new Date().toISOString() }),
    );
  }

  it("takes --url over REFLEX_URL and the port file", async () => {
    portFile(dir, process.pid);
    const t = await openTransport({
      url: "http://127.0.0.1:7000",
      cwd: dir,
      env: { REFLEX_URL: "http://127.0.0.1:7001", REFLEX_DATA_DIR: "." },
    });
    expect([t.baseUrl, t.source, t.remote]).toEqual(["http://127.0.0.1:7000", "flag", false]);
  });

  it("takes REFLEX_URL over the port file", async () => {
    portFile(dir, process.pid);
    const t = await openTransport({
      cwd: dir,
      env: { REFLEX_URL: "http://127.0.0.1:7001/", REFLEX_DATA_DIR: "." },
    });
    expect([t.baseUrl, t.source]).toEqual(["http://127.0.0.1:7001", "env"]);
  });

  it("takes the port file of a live server over the default", async () => {
    portFile(dir, process.pid, "http://127.0.0.1:9911");
    const t = await openTransport({ cwd: dir, env: { REFLEX_DATA_DIR: "." } });
    expect([t.baseUrl, t.source]).toEqual(["http://127.0.0.1:9911", "port-file"]);
  });

  it("finds the port file in .reflex under cwd when REFLEX_DATA_DIR is not set", async () => {
    const cwd = mkdtempSync(join(dir, "cwd-"));
    const dataDir = join(cwd, ".reflex");
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir);
    portFile(dataDir, process.pid, "http://127.0.0.1:9922");
    const t = await openTransport({ cwd, env: {} });
    expect([t.baseUrl, t.source]).toEqual(["http://127.0.0.1:9922", "port-file"]);
  });

  it("ignores a port file left by a process that has died", async () => {
    portFile(dir, 2 ** 22 + 12345); // above Linux's pid_max: no such process
    const t = await openTransport({ cwd: dir, env: { REFLEX_DATA_DIR: "." } });
    expect([t.baseUrl, t.source]).toEqual(["http://127.0.0.1:8787", "default"]);
  });

  it("never lets a port file send the CLI to another host: only http on loopback, without a path", async () => {
    for (const url of [
      "https://abc123.execute-api.us-east-1.amazonaws.com",
      "http://evil.example.com:8787",
      "http://10.0.0.5:8787",
      "http://evil.localhost:8787",
      "http://127.0.0.1:8787/stage",
      "http://user:pw@127.0.0.1:8787",
      "https://127.0.0.1:8787",
    ]) {
      writeFileSync(
        join(dir, "server.json"),
        JSON.stringify({ url, port: 8787, pid: process.pid, startedAt: new Date().toISOString() }),
      );
      const t = await openTransport({ cwd: dir, env: { REFLEX_DATA_DIR: "." } });
      expect([url, t.baseUrl, t.source]).toEqual([url, "http://127.0.0.1:8787", "default"]);
    }
  });

  it("ignores a port file that is not one: not JSON, not an object, a pid of 0 or -1, no start time", async () => {
    const url = "http://127.0.0.1:9933";
    for (const body of [
      "{ not json",
      "null",
      "[]",
      JSON.stringify({ url, port: 9933, pid: 0, startedAt: new Date().toISOString() }),
      JSON.stringify({ url, port: 9933, pid: -1, startedAt: new Date().toISOString() }),
      JSON.stringify({ url, port: 9933, pid: process.pid }),
    ]) {
      writeFileSync(join(dir, "server.json"), body);
      const t = await openTransport({ cwd: dir, env: { REFLEX_DATA_DIR: "." } });
      expect([body, t.source]).toEqual([body, "default"]);
    }
  });

  it("ignores a port file whose server was killed but not yet reaped by its parent (a zombie)", async () => {
    if (process.platform !== "linux") return;
    // A shell that execs into sleep after forking a child it never waits for: the child, once
    // killed, stays a zombie while the parent lives.
    const parent = spawn("sh", ["-c", "sleep 30 & echo $!; exec sleep 30"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    try {
      const pid = Number((await new Promise<Buffer>((r) => parent.stdout.once("data", r))).toString());
      // Once the shell has become sleep, nothing reaps the child.
      await expect.poll(() => readFileSync(`/proc/${parent.pid}/comm`, "utf8")).toBe("sleep\n");
      process.kill(pid, "SIGKILL");
      // Dead once the kernel has run its exit (state, not a fixed 100 ms: a loaded machine is later).
      await expect.poll(() => readFileSync(`/proc/${pid}/stat`, "utf8")).toMatch(/\) Z /);
      portFile(dir, pid, "http://127.0.0.1:9945");
      const t = await openTransport({ cwd: dir, env: { REFLEX_DATA_DIR: "." } });
      expect([t.baseUrl, t.source]).toEqual(["http://127.0.0.1:8787", "default"]);
    } finally {
      parent.kill();
    }
  });

  it("ignores a port file whose pid now belongs to a process that started after it was written", async () => {
    // A `reflex start` killed with SIGKILL, its pid since reused: only /proc (Linux) can tell.
    if (process.platform !== "linux") return;
    const other = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      writeFileSync(
        join(dir, "server.json"),
        JSON.stringify({
          url: "http://127.0.0.1:9944",
          port: 9944,
          pid: other.pid,
          startedAt: new Date(Date.now() - 3_600_000).toISOString(),
        }),
      );
      const t = await openTransport({ cwd: dir, env: { REFLEX_DATA_DIR: "." } });
      expect([t.baseUrl, t.source]).toEqual(["http://127.0.0.1:8787", "default"]);
    } finally {
      other.kill();
    }
  });

  it("falls back to REFLEX_PORT on loopback", async () => {
    const t = await openTransport({ cwd: dir, env: { REFLEX_DATA_DIR: "missing", REFLEX_PORT: "9000" } });
    expect([t.baseUrl, t.source]).toEqual(["http://127.0.0.1:9000", "default"]);
  });

  it("refuses a URL that is not http or https, naming the value and where it came from", async () => {
    await expect(openTransport({ url: "ftp://example.com" })).rejects.toThrow(
      new TransportError("--url 'ftp://example.com' must be an http:// or https:// URL"),
    );
    await expect(openTransport({ env: { REFLEX_URL: "localhost:8787" } })).rejects.toThrow(
      /REFLEX_URL 'localhost:8787'/,
    );
    await expect(openTransport({ url: "not a url" })).rejects.toThrow(/--url 'not a url' is not a URL/);
  });

  it("keeps the path of a URL that has one (a custom domain's base path)", async () => {
    const t = await openTransport({ url: "https://ops.example.com/reflex/", sign: "never" });
    expect(t.baseUrl).toBe("https://ops.example.com/reflex");
    expect(t.remote).toBe(true);
  });
});

describe("signing region", () => {
  it("comes from an execute-api host before the environment", () => {
    const url = new URL("https://abc123.execute-api.eu-west-1.amazonaws.com");
    expect(signingRegion(url, { AWS_REGION: "us-east-1" })).toBe("eu-west-1");
  });

  it("comes from a private API's VPC endpoint host too", () => {
    const url = new URL("https://abc123-vpce-0a1b2c3d.execute-api.ap-southeast-2.vpce.amazonaws.com");
    expect(signingRegion(url, { AWS_REGION: "us-east-1" })).toBe("ap-southeast-2");
  });

  it("comes from AWS_REGION, then AWS_DEFAULT_REGION, for a custom domain", () => {
    const url = new URL("https://ops.example.com");
    expect(signingRegion(url, { AWS_REGION: "ap-south-1", AWS_DEFAULT_REGION: "us-west-2" })).toBe(
      "ap-south-1",
    );
    expect(signingRegion(url, { AWS_DEFAULT_REGION: "us-west-2" })).toBe("us-west-2");
    expect(() => signingRegion(url, {})).toThrow(/set AWS_REGION/);
  });
});

describe("the transport on the wire", () => {
  let server: Server;
  let base: string;
  const seen: Array<{ req: IncomingMessage; body: string }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        seen.push({ req, body });
        res.setHeader("content-type", "application/json");
        res.end("{}");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const credentials = {
    accessKeyId: "AKIDEXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    sessionToken: "session-token-example",
  };

  it("counts an IPv4-mapped loopback address as loopback, as the URL parser writes it", async () => {
    const t = await openTransport({ url: "https://[::ffff:127.0.0.1]:8787", credentials });
    expect(t.remote).toBe(false);
  });

  it("never signs loopback http (local mode)", async () => {
    const t = await openTransport({ url: base, credentials });
    await t.fetch("/api/executions");
    expect(seen.at(-1)?.req.headers.authorization).toBeUndefined();
  });

  it("sends a request whose signature the server can recompute from what it received", async () => {
    const t = await openTransport({
      url: `${base}/stage`,
      sign: "always",
      credentials,
      env: { AWS_REGION: "eu-central-1" },
      now: () => new Date("2026-11-30T14:02:11Z"),
    });
    const body = JSON.stringify({ params: { selector: { tag: { Backup: "daily" } } }, dryRun: true });

    const res = await t.fetch("/api/runbooks/backup-snapshot/executions?x=1", {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": "cli:alice" },
      body,
    });

    expect(res.status).toBe(200);
    const { req, body: received } = seen.at(-1)!;
    const h = req.headers as Record<string, string>;
    expect(received).toBe(body);
    expect(h.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261130\/eu-central-1\/execute-api\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-reflex-actor, Signature=[0-9a-f]{64}$/,
    );
    expect(h["x-amz-date"]).toBe("20261130T140211Z");
    expect(h["x-amz-security-token"]).toBe("session-token-example");
    expect(h["x-amz-content-sha256"]).toBe(createHash("sha256").update(body).digest("hex"));
    // Recompute, as API Gateway would, from the request as it arrived.
    const signedNames = /SignedHeaders=([^,]+)/.exec(h.authorization)![1].split(";");
    const again = await signRequest(requestSigner({ credentials, region: "eu-central-1" }), {
      method: req.method!,
      host: h.host,
      target: req.url!,
      headers: signedNames.filter((n) => n !== "host").map((n) => [n, h[n]] as [string, string]),
      body: received,
      now: new Date("2026-11-30T14:02:11Z"),
    });
    expect(again.authorization).toBe(h.authorization);
  });
  it("sends the query in the form it signed: a space as %20, a plus as %2B, repeated keys kept in order", async () => {
    const t = await openTransport({
      url: base,
      sign: "always",
      credentials,
      env: { AWS_REGION: "eu-central-1" },
      now: () => new Date("2026-11-30T14:02:11Z"),
    });

    await t.fetch("/api/cloud/calls?q=a+b&tag=x%2By&tag=a&e=caf%C3%A9*&flag");

    const { req } = seen.at(-1)!;
    const h = req.headers as Record<string, string>;
    // No `+` on the wire: whether API Gateway reads it as a space or a plus, it computes this.
    expect(req.url).toBe("/api/cloud/calls?q=a%20b&tag=x%2By&tag=a&e=caf%C3%A9%2A&flag=");
    const again = await signRequest(requestSigner({ credentials, region: "eu-central-1" }), {
      method: "GET",
      host: h.host,
      target: req.url!,
      headers: [],
      now: new Date("2026-11-30T14:02:11Z"),
    });
    expect(again.authorization).toBe(h.authorization);
  });

  it("signs what an independent SigV4 verifier computes from the received request: the path encoded once more", async () => {
    const t = await openTransport({
      url: base,
      sign: "always",
      credentials,
      env: { AWS_REGION: "eu-central-1" },
      now: () => new Date("2026-11-30T14:02:11Z"),
    });
    // An id with a slash, a space, a colon and a non-ASCII letter, encoded as the CLI encodes it.
    const id = encodeURIComponent("a/b c:ü");

    await t.fetch(`/api/executions/${id}/reject?z=1&a=x y&a=%2B`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"reason":"no"}',
    });

    const { req, body } = seen.at(-1)!;
    const h = req.headers as Record<string, string>;
    // The verifier, written from AWS's documentation rather than with the signer under test:
    // every service but S3 URI-encodes the (already encoded) path once more; the query is sorted
    // by name then value, RFC 3986-encoded.
    const rfc3986 = (v: string) =>
      encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const [rawPath, rawQuery = ""] = req.url!.split("?");
    const canonicalPath = rawPath.split("/").map(rfc3986).join("/");
    expect(canonicalPath).toBe("/api/executions/a%252Fb%2520c%253A%25C3%25BC/reject");
    const canonicalQuery = [...new URLSearchParams(rawQuery)]
      .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
      .sort()
      .join("&");
    expect(canonicalQuery).toBe("a=%2B&a=x%20y&z=1");
    const signed = /SignedHeaders=([^,]+)/.exec(h.authorization)![1].split(";");
    const canonicalRequest = [
      "POST",
      canonicalPath,
      canonicalQuery,
      ...signed.map((n) => `${n}:${h[n].trim()}`),
      "",
      signed.join(";"),
      createHash("sha256").update(body).digest("hex"),
    ].join("\n");
    const scope = "20261130/eu-central-1/execute-api/aws4_request";
    const stringToSign = [
      "AWS4-HMAC-SHA256",
      "20261130T140211Z",
      scope,
      createHash("sha256").update(canonicalRequest).digest("hex"),
    ].join("\n");
    let key: Buffer = Buffer.from(`AWS4${credentials.secretAccessKey}`);
    for (const part of scope.split("/")) key = createHmac("sha256", key).update(part).digest();
    const signature = createHmac("sha256", key).update(stringToSign).digest("hex");
    expect(h.authorization).toBe(
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${scope}, SignedHeaders=${signed.join(";")}, Signature=${signature}`,
    );
  });
});
