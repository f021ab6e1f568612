/**
 * Issue 26, per-account parts: who may ask the server to assume every member role
 * (`GET /api/accounts?check=true`), and each account's `overrides` (freezes, caps, access)
 * applied by admission to a run in that account only. One local mode with two simulated
 * member accounts for the file.
 */
import { Admission, type ConfigError, type ConfigInput, validateConfig } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { type LocalMode, startLocal } from "../packages/local/src/local-mode.ts";

const REGION = "us-east-1";
const A = "111111111111";
const B = "222222222222";
/** A freeze in account B only, in January 2027. */
const B_FREEZE = { name: "b-migration", from: "2027-01-10T00:00:00Z", to: "2027-01-11T00:00:00Z" };
const IN_B_FREEZE = new Date("2027-01-10T12:00:00Z");
const CONFIG: ConfigInput = {
  access: {
    roles: { oncall: ["cli:olga"], lead: ["cli:lena"], reader: ["cli:rita"] },
    allow: [
      { role: "oncall", runbooks: ["*"], actions: ["run", "dry-run"] },
      { role: "lead", runbooks: ["*"], actions: ["run", "dry-run", "approve"] },
      { role: "reader", runbooks: ["*"], actions: ["dry-run"] },
    ],
  },
  accounts: [
    { id: A, name: "member-1", regions: [REGION], tags: { env: "prod" } },
    {
      id: B,
      name: "member-2",
      regions: [REGION],
      tags: { env: "prod" },
      overrides: {
        guardrails: { maxTargetsPerRun: 1 },
        freezes: [B_FREEZE],
        access: { allow: [{ role: "lead", runbooks: ["*"], actions: ["run", "dry-run"] }] },
      },
    },
  ],
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

/** Admits `scale` (blast radius = the change) in an account's Region, as the API would for `as`. */
const admitIn = (account: string, opts: { as?: string; change?: string; automatic?: boolean; now?: Date }) =>
  Admission.admit({
    runbook: "scale",
    params: { autoScalingGroup: "web", change: opts.change ?? "+1" },
    dryRun: true,
    trigger: opts.automatic ? { kind: "schedule", name: "nightly" } : { kind: "manual" },
    actor: { id: opts.as ?? (opts.automatic ? "schedule:nightly" : "cli:lena") },
    location: { account, region: REGION },
    ...(opts.now ? { now: opts.now } : {}),
  });

describe("an account's overrides, applied by admission", () => {
  it("a freeze on account B refuses B's run and not A's", async () => {
    const inB = await admitIn(B, { automatic: true, now: IN_B_FREEZE });
    expect(inB).toMatchObject({ admitted: false, check: "freeze" });
    expect(inB.admitted || inB.reason).toMatch(/b-migration/);
    expect(await admitIn(A, { automatic: true, now: IN_B_FREEZE })).toMatchObject({ admitted: true });
  });

  it("a tighter cap applies only in that account", async () => {
    const inB = await admitIn(B, { change: "+2" });
    expect(inB).toMatchObject({ admitted: false, check: "blast-radius", status: 409 });
    expect(inB.admitted || inB.reason).toMatch(/the cap is 1/);
    expect(await admitIn(A, { change: "+2" })).toMatchObject({ admitted: true });
  });

  it("access narrowed for that account: an on-call person may act in A, only a lead in B", async () => {
    expect(await admitIn(A, { as: "cli:olga" })).toMatchObject({ admitted: true });
    const inB = await admitIn(B, { as: "cli:olga" });
    expect(inB).toMatchObject({ admitted: false, check: "access", status: 403 });
    expect(await admitIn(B, { as: "cli:lena" })).toMatchObject({ admitted: true });
  });

  it("config check refuses an override that would loosen the hub's, with its path", () => {
    const loose = {
      ...CONFIG,
      accounts: [
        {
          id: A,
          name: "member-1",
          regions: [REGION],
          overrides: {
            guardrails: { maxTargetsPerRun: 500, rateLimit: { runs: 99 } },
            access: { allow: [{ role: "nobody", runbooks: ["*"] }] },
          },
        },
      ],
    };
    const issues = (() => {
      try {
        validateConfig(loose);
      } catch (e) {
        return (e as ConfigError).issues.map((i) => i.path);
      }
      return [];
    })();
    expect(issues).toEqual([
      "accounts[0].overrides.guardrails.maxTargetsPerRun",
      "accounts[0].overrides.guardrails.rateLimit.runs",
      "accounts[0].overrides.access.allow[0].role",
    ]);
  });
});
