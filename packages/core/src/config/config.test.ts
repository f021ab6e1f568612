import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import { parseSchedule } from "./cron.ts";
import { parseDuration } from "./duration.ts";
import { loadConfig, validateConfig } from "./load.ts";

function problems(raw: unknown): Array<{ path: string; message: string }> {
  try {
    validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

describe("validateConfig", () => {
  it("fills safe defaults: guardrails on, breaker armed, automation tag set", () => {
    const config = validateConfig({});
    expect(config.guardrails).toEqual({
      paused: false,
      maxTargetsPerRun: 50,
      breaker: { failures: 3, within: 1_800_000 },
      rateLimit: { runs: 20, per: 3_600_000 },
      lockLease: 7_200_000,
    });
    expect(config.automationTag).toEqual({ key: "reflex:managed", value: "true" });
  });

  it("accepts the shipped reflex.config.ts", async () => {
    const config = await loadConfig("reflex.config.ts");
    expect(config.schedules.map((s) => s.name)).toContain("nightly-backup");
  });

  it("reports every structural problem with its path", () => {
    const issues = problems({
      schedules: [
        { name: "Bad Name", cron: "cron(0 2 * * *)", timezone: "Mars/Olympus", run: "backup-snapshot" },
      ],
      guardrails: { maxTargetsPerRun: 0 },
    });
    expect(issues.map((i) => i.path).sort()).toEqual([
      "guardrails.maxTargetsPerRun",
      "schedules[0].cron",
      "schedules[0].name",
      "schedules[0].timezone",
    ]);
    expect(issues.find((i) => i.path === "schedules[0].cron")?.message).toMatch(/6 fields/);
  });

  it("reports problems of meaning: unknown runbooks, bad params, unknown roles, duplicate names", () => {
    const issues = problems({
      schedules: [
        { name: "a", cron: "rate(1 hour)", run: "no-such-runbook" },
        { name: "a", cron: "rate(2 hours)", run: "backup-snapshot", with: { selector: {}, retainDays: -1 } },
      ],
      access: { roles: {}, allow: [{ role: "ghost", runbooks: ["*"] }] },
    });
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath["schedules[0].run"]).toMatch(/unknown runbook 'no-such-runbook'/);
    expect(byPath["schedules[1].name"]).toMatch(/also used at schedules\[0\]\.name/);
    expect(byPath["schedules[1].with.retainDays"]).toBeDefined();
    expect(byPath["schedules[1].with.selector"]).toMatch(/give tag/);
    expect(byPath["access.allow[0].role"]).toMatch(/role 'ghost' is not defined/);
  });

  it("rejects a freeze that ends before it begins", () => {
    expect(
      problems({ freezes: [{ name: "f", from: "2026-12-02T00:00:00Z", to: "2026-12-01T00:00:00Z" }] }),
    ).toEqual([{ path: "freezes[0].to", message: "from must be before to" }]);
  });

  it("refuses a missing config file with its name", async () => {
    await expect(loadConfig("test/fixtures/nope.config.ts")).rejects.toMatchObject({
      issues: [{ path: "test/fixtures/nope.config.ts", message: "file not found" }],
    });
  });
});

describe("parseSchedule", () => {
  it("maps AWS day-of-week numbers (1 = Sunday) to croner's (0 = Sunday)", () => {
    expect(parseSchedule("cron(0 3 ? * 1 *)")).toMatchObject({ kind: "cron", croner: "0 0 3 * * 0" });
    expect(parseSchedule("cron(0 3 ? * SUN *)")).toMatchObject({ croner: "0 0 3 * * SUN" });
  });

  it("accepts AWS's start/step form such as 0/15", () => {
    expect(parseSchedule("cron(0/15 * * * ? *)")).toMatchObject({
      kind: "cron",
      croner: "0 0-59/15 * * * *",
    });
  });

  it("demands exactly one '?' between day-of-month and day-of-week, as AWS does", () => {
    expect(() => parseSchedule("cron(0 3 * * * *)")).toThrow(/exactly one/);
  });

  it("reads rate expressions with AWS's singular/plural rule", () => {
    expect(parseSchedule("rate(5 minutes)")).toMatchObject({ kind: "rate", everyMs: 300_000 });
    expect(() => parseSchedule("rate(1 minutes)")).toThrow(/singular/);
  });
});

describe("parseDuration", () => {
  it("reads compound durations", () => {
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("10 minutes")).toBeUndefined();
  });
});

describe("alerts", () => {
  it("takes email addresses and https endpoints to page, and none by default", () => {
    expect(validateConfig({}).alerts).toEqual({ email: [], https: [] });
    expect(
      validateConfig({ alerts: { email: ["oncall@example.com"], https: ["https://hooks.example.com/sns"] } })
        .alerts,
    ).toEqual({ email: ["oncall@example.com"], https: ["https://hooks.example.com/sns"] });
  });

  it("refuses an address that is not one and an endpoint that is not https, with their paths", () => {
    expect(problems({ alerts: { email: ["oncall"], https: ["http://hooks.example.com/sns"] } })).toEqual([
      { path: "alerts.email[0]", message: "must be an email address" },
      { path: "alerts.https[0]", message: "must be an https:// URL" },
    ]);
  });
});

describe("console sign-in", () => {
  it("takes an OIDC issuer, a client id and default scopes", () => {
    const c = validateConfig({
      environment: "test",
      console: { oidc: { issuer: "https://login.example.com/", clientId: "console" } },
    });
    expect(c.console.oidc).toMatchObject({ clientId: "console", scopes: ["openid", "profile", "email"] });
  });

  it("refuses a plain-HTTP issuer that is not loopback, and a local user listed twice, naming where", () => {
    const bad = problems({
      environment: "test",
      console: {
        oidc: { issuer: "http://login.example.com", clientId: "console" },
        localUsers: [{ sub: "alice" }, { sub: "alice" }],
      },
    });
    expect(bad.map((i) => i.path)).toEqual(expect.arrayContaining(["console.oidc.issuer"]));
    const twice = problems({
      environment: "test",
      console: { localUsers: [{ sub: "alice" }, { sub: "alice" }] },
    });
    expect(twice).toEqual([{ path: "console.localUsers[1].sub", message: "'alice' is listed twice" }]);
  });
});
