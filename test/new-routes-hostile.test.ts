/**
 * The routes issues 24-26 added (drills, accounts, reports, off-hours savings, audit verify) under
 * hostile path segments and query strings: each answer is a 2xx or a 4xx with an error that names
 * the field, never a 5xx. One local mode for the file (in-process), with restore's drills,
 * off-hours and a member account in its config.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offHours } from "../examples/runbooks/off-hours/index.ts";
import offHoursConfig from "../examples/runbooks/off-hours/reflex.config.ts";
import { restore } from "../examples/runbooks/restore/index.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { startTestLocal } from "./support/local.ts";

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal({
    runbooks: [restore, offHours],
    offHours: offHoursConfig.offHours,
    accounts: [{ id: "111111111111", name: "prod-a", regions: ["us-east-1"], externalId: "ext-0f9c2a7e" }],
    drills: [
      {
        name: "db-1",
        source: { instanceId: "i-0123456789abcdef0" },
        isolate: { instanceId: "i-0123456789abcdef1" },
        targets: { rtoMinutes: 30, rpoMinutes: 600 },
      },
    ],
  });
});
afterAll(() => local?.stop());

const get = async (path: string) => {
  const res = await fetch(`${local.url}${path}`);
  return { status: res.status, body: (await res.json()) as any };
};

describe("new routes under hostile input", () => {
  it("answers bad path segments with a 400 or a 404, never a 5xx", async () => {
    const names = [
      "%",
      "%ZZ",
      "%C0%80",
      "a%2Fb",
      "..%2F..%2Fx",
      "%00",
      "__proto__",
      "constructor",
      "x".repeat(300),
    ];
    for (const n of names) {
      for (const path of [`/api/drills/${n}/history`, `/api/runbooks/off-hours/reports/${n}`]) {
        const r = await get(path);
        expect([400, 404], `${path}: ${JSON.stringify(r.body)}`).toContain(r.status);
        expect(r.body.error.code).toEqual(expect.any(String));
      }
    }
  });

  it("names the bad query parameter in a 400", async () => {
    const cases: Array<[string, string]> = [
      ["/api/offhours/savings?from=yesterday", "from"],
      ["/api/offhours/savings?from=2026-02-30", "from"],
      ["/api/offhours/savings?from=2026-12-08&to=2026-12-01", "to"],
      ["/api/offhours/savings?since=7d", "since"],
      ["/api/offhours/savings?by=tag:Team", "by"],
      [`/api/offhours/savings?from=${"9".repeat(300)}`, "from"],
      ["/api/audit/verify?source=../../etc", "source"],
      ["/api/audit/verify?from=2027-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"],
      ["/api/audit/verify?to=zz", "to"],
    ];
    for (const [path, field] of cases) {
      const r = await get(path);
      expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(400);
      expect(r.body.error.path, path).toBe(field);
    }
  });

  it("reads what is well-formed", async () => {
    expect((await get("/api/drills")).body.drills).toEqual([
      expect.objectContaining({ name: "db-1", runs: 0 }),
    ]);
    expect((await get("/api/drills/db-1/history")).body).toMatchObject({ name: "db-1", runs: [] });
    expect((await get("/api/offhours/savings?from=2026-12-01&to=2026-12-08")).body).toMatchObject({
      stops: 0,
    });
    const accounts = await get("/api/accounts");
    expect(accounts.body.accounts).toEqual([
      expect.objectContaining({ id: "111111111111", externalId: "(set)" }),
    ]);
    // The external id guards the member's trust policy: any reader of the API may list accounts.
    expect(JSON.stringify(accounts.body)).not.toContain("ext-0f9c2a7e");
  });
});
