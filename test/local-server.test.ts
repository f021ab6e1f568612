/**
 * The local server answers only itself: a web page reaching 127.0.0.1 through DNS rebinding
 * (a foreign Host) or by posting across origins (a foreign Origin) is refused before any route.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { startTestLocal } from "./support/local.ts";

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal();
});
afterAll(() => local?.stop());

function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  const url = new URL(local.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: url.port, method, path, headers, setHost: !("host" in headers) },
      (res) => {
        let text = "";
        res.on("data", (b) => {
          text += b;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("the local server refuses requests that are not its own", () => {
  it("refuses a foreign Host (DNS rebinding) on every kind of route", async () => {
    for (const path of ["/api/executions", "/", "/api/cloud", "/api/guardrails"]) {
      const res = await raw("GET", path, { host: "evil.example:8787" });
      expect(res.status, path).toBe(403);
      expect(JSON.parse(res.body).error.code).toBe("foreign_request");
    }
  });

  it("refuses a cross-origin POST, even one without a body, and starts nothing", async () => {
    const port = new URL(local.url).port;
    const before = (await (await fetch(`${local.url}/api/executions`)).json()) as { executions: unknown[] };
    const pause = await raw("POST", "/api/guardrails/pause", {
      host: `127.0.0.1:${port}`,
      origin: "http://evil.example",
    });
    const start = await raw(
      "POST",
      "/api/runbooks/backup-snapshot/executions",
      { host: `127.0.0.1:${port}`, origin: "null", "content-type": "application/json" },
      JSON.stringify({ params: { selector: { tag: { Backup: "daily" } } } }),
    );
    expect(pause.status).toBe(403);
    expect(start.status).toBe(403);
    const guardrails = (await (await fetch(`${local.url}/api/guardrails`)).json()) as { paused: boolean };
    const after = (await (await fetch(`${local.url}/api/executions`)).json()) as { executions: unknown[] };
    expect(guardrails.paused).toBe(false);
    expect(after.executions.length).toBe(before.executions.length);
  });

  it("serves its own console's origin, localhost, and clients that send no Origin", async () => {
    const port = new URL(local.url).port;
    const cases: Array<Record<string, string>> = [
      { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` },
      { host: `localhost:${port}`, origin: `http://localhost:${port}` },
      { host: `127.0.0.1:${port}` },
    ];
    for (const headers of cases) {
      const res = await raw("GET", "/api/guardrails", headers);
      expect(res.status, JSON.stringify(headers)).toBe(200);
    }
  });
});
