import { describe, expect, it } from "vitest";
import { KNOWN_REGIONS, locationKey, resolveLocations, roleArnOf } from "./accounts.ts";
import { sessionName } from "./aws.ts";
import { validateConfig } from "./config/load.ts";
import { ConfigError } from "./errors.ts";
import { limitOf, plan } from "./locations.ts";

function problems(raw: unknown): Record<string, string> {
  try {
    validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return Object.fromEntries(err.issues.map((i) => [i.path, i.message]));
    throw err;
  }
  return {};
}

const prodA = {
  id: "111111111111",
  name: "prod-a",
  regions: ["us-east-1", "eu-west-1"],
  tags: { env: "prod" },
};
const prodB = { id: "222222222222", name: "prod-b", regions: ["us-east-1"], tags: { env: "prod" } };
const dev = { id: "333333333333", name: "dev", regions: ["us-west-2"], tags: { env: "dev" } };

describe("config accounts", () => {
  it("accepts accounts and fills tags, vars and the default role", () => {
    const config = validateConfig({ accounts: [prodA, { ...dev, role: "Ops", externalId: "reflex-hub" }] });
    expect(config.accounts[0]?.vars).toEqual({});
    expect(roleArnOf(config.accounts[0] as never)).toBe("arn:aws:iam::111111111111:role/ReflexExecutionRole");
    expect(roleArnOf(config.accounts[1] as never)).toBe("arn:aws:iam::333333333333:role/Ops");
  });

  it("names each bad account: id not 12 digits, unknown Region, duplicates, a role in another partition", () => {
    const byPath = problems({
      accounts: [
        { ...prodA, id: "12345" },
        { ...prodB, regions: ["us-east-9"] },
        { ...dev, role: "arn:aws-cn:iam::333333333333:role/ReflexExecutionRole" },
        { ...dev, name: "dev-2" },
        { ...prodB, id: "444444444444", name: "dev", role: "arn:aws:iam::555555555555:role/R" },
      ],
    });
    expect(byPath["accounts[0].id"]).toMatch(/12 digits/);
    expect(byPath["accounts[1].regions[0]"]).toMatch(/unknown Region 'us-east-9'/);
    expect(byPath["accounts[2].role"]).toMatch(/partition 'aws-cn'.*'aws'/);
    expect(byPath["accounts[3].id"]).toMatch(/duplicate account 333333333333 \(also accounts\[2\]\)/);
    expect(byPath["accounts[4].name"]).toMatch(/duplicate account name 'dev' \(also accounts\[2\]\)/);
    expect(byPath["accounts[4].role"]).toMatch(/names account 555555555555, not 444444444444/);
  });
});

describe("locations on rules, schedules and windows", () => {
  const backup = { run: "backup-snapshot", with: { selector: { tag: { Backup: "daily" } } } };

  it("takes a selector and limits on a rule, a schedule and a window", () => {
    const config = validateConfig({
      accounts: [prodA, prodB],
      rules: [{ name: "r", on: { source: ["custom.x"] }, ...backup, locations: { accounts: ["prod-a"] } }],
      schedules: [
        {
          name: "s",
          cron: "cron(0 2 * * ? *)",
          ...backup,
          locations: { accounts: ["tag:env=prod"], locationConcurrency: "50%", locationMaxErrors: 1 },
        },
      ],
      windows: [
        { name: "w", cron: "cron(0 3 ? * SUN *)", duration: "4h", ...backup, locations: { accounts: ["*"] } },
      ],
    });
    expect(config.schedules[0]?.locations).toMatchObject({
      accounts: ["tag:env=prod"],
      locationConcurrency: "50%",
    });
  });

  it("names a bad selector or limit by its path (reflex config check)", () => {
    const byPath = problems({
      accounts: [prodA, prodB],
      rules: [
        {
          name: "r",
          on: { source: ["custom.x"] },
          ...backup,
          locations: { accounts: ["prod-a", "tag:env=nope"] },
        },
      ],
      schedules: [
        {
          name: "s",
          cron: "cron(0 2 * * ? *)",
          ...backup,
          locations: { accounts: ["*"], regions: ["ap-south-1"] },
        },
      ],
      windows: [
        {
          name: "w",
          cron: "cron(0 3 ? * SUN *)",
          duration: "4h",
          ...backup,
          locations: { accounts: ["*"], locationConcurrency: "150%", locationMaxErrors: "some" },
        },
        { name: "w2", cron: "cron(0 3 ? * SUN *)", duration: "4h", ...backup, locations: { acounts: ["*"] } },
      ],
    });
    expect(byPath["rules[0].locations.accounts[1]"]).toMatch(/'tag:env=nope' matches no account/);
    expect(byPath["schedules[0].locations"]).toMatch(/names no account and Region/);
    expect(byPath["windows[0].locations.locationConcurrency"]).toMatch(/at most 100%/);
    expect(byPath["windows[0].locations.locationMaxErrors"]).toMatch(/number or a percentage/);
    expect(Object.keys(byPath).some((p) => p.startsWith("windows[1].locations"))).toBe(true);
  });
});

describe("resolveLocations", () => {
  const accounts = validateConfig({ accounts: [prodA, prodB, dev] }).accounts;

  it("selects by tag: one location per account and Region", () => {
    expect(resolveLocations(accounts, { accounts: ["tag:env=prod"] })).toEqual([
      { account: "111111111111", accountName: "prod-a", region: "us-east-1" },
      { account: "111111111111", accountName: "prod-a", region: "eu-west-1" },
      { account: "222222222222", accountName: "prod-b", region: "us-east-1" },
    ]);
  });

  it("selects by name or id, narrows Regions and excludes accounts", () => {
    const got = resolveLocations(accounts, {
      accounts: ["*"],
      regions: ["us-east-1"],
      excludeAccounts: ["prod-b"],
    });
    expect(got.map((l) => `${l.accountName}/${l.region}`)).toEqual(["prod-a/us-east-1"]);
    expect(resolveLocations(accounts, { accounts: ["333333333333"] })).toHaveLength(1);
  });

  it("refuses a term that matches no account", () => {
    expect(() => resolveLocations(accounts, { accounts: ["tag:env=stage"] })).toThrow(/matches no account/);
  });

  it("keys a lock by account, Region and resource", () => {
    expect(locationKey({ account: "111111111111", region: "us-east-1" }, "instance:i-0abc")).toBe(
      "111111111111/us-east-1/instance:i-0abc",
    );
  });
});

describe("location limits", () => {
  it("reads a count or a percentage of the locations, as SSM does", () => {
    expect(limitOf(2, 6, "locationConcurrency", 1)).toBe(2);
    expect(limitOf("50%", 6, "locationConcurrency", 1)).toBe(3);
    expect(limitOf("10%", 6, "locationConcurrency", 1)).toBe(1);
    expect(limitOf("0%", 6, "locationMaxErrors", 0)).toBe(0);
    expect(() => limitOf("lots", 6, "locationMaxErrors", 0)).toThrow(/number or a percentage/);
    expect(() => limitOf("150%", 6, "locationMaxErrors", 0)).toThrow(/at most 100%/);
  });

  it('refuses a concurrency of none (0, "0", "0%", -1) naming the field, never reads it as 1', () => {
    // The API's zod refuses the number 0; the same limit as a string must not slip through as 1.
    for (const bad of [0, "0", "0%", -1, "-1", "00"])
      expect(() => limitOf(bad as never, 6, "locationConcurrency", 1), String(bad)).toThrow(
        expect.objectContaining({ issues: [expect.objectContaining({ path: "locationConcurrency" })] }),
      );
    expect(limitOf("1", 6, "locationConcurrency", 1)).toBe(1);
    expect(limitOf("0", 6, "locationMaxErrors", 0)).toBe(0);
  });
});

describe("a fan-out's size", () => {
  // 40 accounts of 25 Regions is 1,000 locations; a 41st account makes it 1,025.
  const config = (count: number) =>
    validateConfig({
      accounts: Array.from({ length: count }, (_, i) => ({
        id: String(100000000000 + i),
        name: `member-${i}`,
        regions: KNOWN_REGIONS.slice(0, 25),
      })),
    });
  const request = (count: number) => ({
    runbook: "backup-snapshot",
    params: { selector: { tag: { Backup: "daily" } } },
    config: config(count),
  });

  it("takes 1,000 locations and refuses more (400 naming locations), nothing planned", () => {
    expect(plan(request(40), { accounts: ["*"] }, {}).children).toHaveLength(1000);
    expect(() => plan(request(41), { accounts: ["*"] }, { locationConcurrency: "100%" })).toThrow(
      expect.objectContaining({
        code: "too_many_locations",
        issues: [expect.objectContaining({ path: "locations" })],
      }),
    );
  });
});

describe("the member-account session name", () => {
  it("keeps the run's unique tail when the id is longer than STS allows, so two runs' sessions differ in CloudTrail", () => {
    // A runbook name of 40 characters: `reflex-<id>` is past STS's 64, and the id's stamp, random
    // part and child index are at its end.
    const runbook = "restart-service-with-a-long-descriptive-n";
    const a = sessionName(`${runbook}-20261207T015000Z-a1b2c3-1`);
    const b = sessionName(`${runbook}-20261207T015000Z-a1b2c3-2`);
    const c = sessionName(`${runbook}-20261207T015000Z-d4e5f6-1`);
    for (const s of [a, b, c]) expect(s).toMatch(/^reflex-[\w+=,.@-]{1,57}$/);
    expect(new Set([a, b, c]).size).toBe(3);
    expect(sessionName("scale-20261207T015000Z-a1b2c3")).toBe("reflex-scale-20261207T015000Z-a1b2c3");
  });
});
