import { describe, expect, it } from "vitest";
import { locationKey, resolveLocations, roleArnOf } from "./accounts.ts";
import { validateConfig } from "./config/load.ts";
import { ConfigError } from "./errors.ts";

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
