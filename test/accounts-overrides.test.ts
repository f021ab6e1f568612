/**
 * Issue 26, per-account parts: who may ask the server to assume every member role
 * (`GET /api/accounts?check=true`), and each account's `overrides` (freezes, caps, access)
 * applied by admission to a run in that account only. One local mode with two simulated
 * member accounts for the file.
 */
import { type ConfigInput, validateConfig } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { type LocalMode, startLocal } from "../packages/local/src/local-mode.ts";

const REGION = "us-east-1";
const CONFIG: ConfigInput = {
  access: {
    roles: { oncall: ["cli:olga"], reader: ["cli:rita"] },
    allow: [
      { role: "oncall", runbooks: ["*"], actions: ["run", "dry-run"] },
      { role: "reader", runbooks: ["*"], actions: ["dry-run"] },
    ],
  },
};

let local: LocalMode;
beforeAll(async () => {
  local = await startLocal({
    config: validateConfig(CONFIG),
    port: 0,
    quiet: true,
    dataDir: null,
    waitMs: 20,
    scheduler: false,
    cloud: SimulatedCloud.seeded({ snapshotDurationMs: 100 }),
    accounts: { count: 2, regions: [REGION] },
  });
});
afterAll(() => local?.stop());

const get = async (path: string, as: string) => {
  const res = await fetch(`${local.url}${path}`, { headers: { "x-reflex-actor": as } });
  return { status: res.status, body: (await res.json()) as any };
};

describe("GET /api/accounts?check=true", () => {
  it("refuses a reader (403): a check assumes a role and reads in every location", async () => {
    const before = local.organization.calls().length;
    const refused = await get("/api/accounts?check=true", "cli:rita");
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/rita may not check the member accounts/);
    // Nothing was assumed or read on the reader's behalf.
    expect(local.organization.calls().length).toBe(before);
    // Listing stays open to every reader.
    expect((await get("/api/accounts", "cli:rita")).status).toBe(200);
  });

  it("lets an operator (may run a runbook) check every location", async () => {
    const ok = await get("/api/accounts?check=true", "cli:olga");
    expect(ok.status).toBe(200);
    expect(ok.body.checks.map((c: { ok: boolean }) => c.ok)).toEqual([true, true]);
  });
});
