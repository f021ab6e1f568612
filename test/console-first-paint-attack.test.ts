/**
 * The console's first paint (first-paint.ts) attacked without a browser: the headers its HTML is
 * sent with, a Host header carrying markup, run ids that are markup, paths, very long or not
 * UTF-8. One in-process local mode for the file; plain HTTP requests.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { startTestLocal } from "./support/local.ts";

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal();
});
afterAll(async () => {
  await local?.stop();
});

/** A GET with the headers given as they are (fetch will not send another Host). */
function get(path: string, headers: Record<string, string> = {}) {
  const url = new URL(local.url);
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: url.port, path, method: "GET", headers }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on("error", reject);
      req.end();
    },
  );
}

/** The page's `<main>`, as drawn. */
const mainOf = (html: string) => /<main id="main"[^>]*>([\s\S]*?)<\/main>/.exec(html)?.[1] ?? "";

describe("the console's first paint under attack", () => {
  it("a Host header with markup is refused before anything is drawn (a page's origin is never it)", async () => {
    const host = 'x"><img src=x onerror=alert(1)>';
    const res = await get("/runs", { host });
    expect(res.status).toBe(403);
    // The refusal names the Host it was given, as JSON: never read as HTML.
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.body).not.toContain("reflex-inline");
  });

  it("draws exactly when the API answers the same headers: a refused token (forged, any without --sso) draws nothing", async () => {
    expect((await get("/runs")).body).toContain('id="reflex-inline"');
    for (const authorization of ["Bearer forged.token.here", "Bearer ", "Basic YWxpY2U6eA=="]) {
      const answered = (await get("/api/executions?limit=100", { authorization })).status === 200;
      const res = await get("/runs", { authorization });
      expect(res.status, authorization).toBe(200);
      expect(res.body.includes("reflex-inline"), authorization).toBe(answered);
      if (!answered) expect(mainOf(res.body), authorization).toContain("Loading…");
    }
    // A token in the query string is not a token: the page asks its API without the query.
    const res = await get("/runs?access_token=forged&limit=1");
    expect(res.status).toBe(200);
    expect(res.body).toContain('"/api/executions?limit=100"');
  });

  it.each([
    ["markup", "/runs/%3Cscript%3Ealert(1)%3C%2Fscript%3E"],
    ["a path", "/runs/..%2F..%2Fapi%2Frunbooks"],
    ["unicode", `/runs/${encodeURIComponent("ünï\u2028cødé\u{1F600}")}`],
    ["very long", `/runs/${"a".repeat(6000)}`],
  ])("a run id that is %s is a page with no such run: no markup, no data, never a 5xx", async (_, path) => {
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.body).not.toContain("<script>alert");
    expect(res.body).not.toMatch(/"runbooks"\s*:/);
    expect(mainOf(res.body)).toContain("Loading…");
  });

  it("filters in the list's address are drawn as values, never markup: text, a runbook, a status none has", async () => {
    const markup = '"><img src=x onerror=alert(1)><script>alert(2)</script>';
    const q = encodeURIComponent(markup);
    const res = await get(`/runs?text=${q}&runbook=${q}&status=${q}&trigger=${q}`);
    expect(res.status).toBe(200);
    const main = mainOf(res.body);
    expect(main).not.toContain("<img");
    expect(main).not.toContain("<script");
    // The text is the search field's value; the runbook, the status and the trigger an option each, chosen.
    expect(main).toContain(
      'value="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;"',
    );
    expect(main.match(/<option value="&quot;&gt;&lt;img[^>]*selected>/g)).toHaveLength(3);
  });

  it("filters that are not UTF-8, half escapes, repeated or very long draw a page, never a 5xx", async () => {
    for (const query of ["text=%FF", "text=%", "status=a%2", "text=a&text=b", `text=${"a".repeat(6000)}`]) {
      const res = await get(`/runs?${query}`);
      expect(res.status, query).toBe(200);
      expect(res.body, query).toContain('id="reflex-inline"');
    }
    // The first of a repeated filter, as the list reads its route.
    expect(mainOf((await get("/runs?text=a&text=b")).body)).toContain('name="text" type="search" value="a"');
  });

  it("a run id that is not UTF-8 (%FF) or a half escape (%) is not a page and not a 5xx", async () => {
    for (const path of ["/runs/%FF", "/runs/%", "/runs/a%2"]) {
      const res = await get(path);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
      expect(res.body, path).not.toMatch(/at .*\.ts:\d+/);
    }
  });

  it.each(["/runs", "/runs/no-such-run"])(
    "%s is sent with the console's security headers: scripts only from this server, no framing, no sniffing",
    async (path) => {
      const res = await get(path);
      const csp = String(res.headers["content-security-policy"] ?? "");
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).toContain("object-src 'none'");
      expect(csp).toContain("base-uri 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["referrer-policy"]).toBe("no-referrer");
    },
  );
});
