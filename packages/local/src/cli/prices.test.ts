/** `reflex prices import`: a dated table from a CSV, every bad line named, nothing written when one is bad. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { reflex } from "../../../../test/support/cli.ts";
import { fetchPriceTable, type GetProducts, PriceFileError, parsePriceTable } from "./prices.ts";

const dir = mkdtempSync(join(tmpdir(), "reflex-prices-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const opts = { asOf: "2026-12-01", region: "us-east-1" };

describe("reflex prices import", () => {
  it("reads the shipped example into a dated table off-hours takes as offHours.prices", () => {
    const table = parsePriceTable(
      readFileSync("examples/runbooks/off-hours/prices.csv", "utf8"),
      "prices.csv",
      opts,
    );
    expect(table).toEqual({
      asOf: "2026-12-01",
      region: "us-east-1",
      perHour: { "t3.micro": 0.0104, "t3.large": 0.0832, "m5.large": 0.096 },
    });
  });

  it("refuses the whole file, naming each bad line: a price that is not a number, a type priced twice, a bad type", () => {
    const csv = "usdPerHour,instanceType\n0.0104,t3.micro\nabc,m5.large\n0.2,t3.micro\n0.1,T3 Micro\n";
    let err: unknown;
    try {
      parsePriceTable(csv, "p.csv", opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PriceFileError);
    expect((err as PriceFileError).problems).toEqual([
      "p.csv:3: usdPerHour 'abc' is not a number of dollars (e.g. 0.0104)",
      "p.csv:4: t3.micro is priced twice (first on line 2)",
      "p.csv:5: instanceType 'T3 Micro' is not an instance type such as t3.micro",
    ]);
  });

  it("needs its header and a real date", () => {
    expect(() => parsePriceTable("t3.micro,0.01\n", "p.csv", opts)).toThrow(
      "p.csv:1: the header must name the columns instanceType and usdPerHour",
    );
    expect(() =>
      parsePriceTable("instanceType,usdPerHour\nt3.micro,0.01\n", "p.csv", { ...opts, asOf: "2026-02-30" }),
    ).toThrow("--as-of '2026-02-30' is not a date YYYY-MM-DD that exists");
  });

  it("writes the JSON with --out and exits 0; a bad file exits 2 with the line and writes nothing", async () => {
    const out = join(dir, "prices.json");
    const ok = await reflex([
      "prices",
      "import",
      "examples/runbooks/off-hours/prices.csv",
      "--as-of",
      "2026-12-01",
      "--out",
      out,
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(readFileSync(out, "utf8")).perHour["m5.large"]).toBe(0.096);

    const bad = join(dir, "bad.csv");
    writeFileSync(bad, "instanceType,usdPerHour\nt3.micro,cheap\n");
    const refused = await reflex([
      "prices",
      "import",
      bad,
      "--as-of",
      "2026-12-01",
      "--out",
      join(dir, "bad.json"),
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${bad}:2: usdPerHour 'cheap' is not a number`);
    expect(existsSync(join(dir, "bad.json"))).toBe(false);
  });
});

describe("the Price List's answer, read", () => {
  const entry = (usd: string, unit = "Hrs") =>
    JSON.stringify({
      product: { attributes: { instanceType: "t3.micro" } },
      terms: { OnDemand: { "A.B": { priceDimensions: { "A.B.C": { unit, pricePerUnit: { USD: usd } } } } } },
    });

  it("follows NextToken, and lists as unpriced a type with two prices, a price of 0 or no product, never $0", async () => {
    const answers: Record<string, Array<{ PriceList: string[]; NextToken?: string }>> = {
      "t3.micro": [
        { PriceList: [], NextToken: "2" },
        { PriceList: [entry("0.0104000000"), entry("9", "Quantity")] },
      ],
      "m5.large": [{ PriceList: [entry("0.096"), entry("0.1")] }],
      "c5.large": [{ PriceList: [entry("0.0000000000")] }],
      "x9.huge": [{ PriceList: [] }],
    };
    const asked: string[] = [];
    const getProducts: GetProducts = async (input) => {
      const type = input.Filters.find((f) => f.Field === "instanceType")?.Value as string;
      asked.push(`${type}:${input.NextToken ?? ""}`);
      return (
        (answers[type] as Array<{ PriceList: string[]; NextToken?: string }>)[input.NextToken ? 1 : 0] ?? {}
      );
    };
    const table = await fetchPriceTable(getProducts, {
      types: Object.keys(answers),
      region: "us-east-1",
      asOf: "2026-12-07",
    });
    expect(table.perHour).toEqual({ "t3.micro": 0.0104 });
    expect(table.unpriced.map((u) => u.instanceType)).toEqual(["m5.large", "c5.large", "x9.huge"]);
    expect(asked).toEqual(["t3.micro:", "t3.micro:2", "m5.large:", "c5.large:", "x9.huge:"]);
  });

  it("lists as unpriced a price that is not a plain number of dollars (hex, exponent, NaN, negative, spaced, empty)", async () => {
    // Number() reads "0x10" as 16 and "1e3" as 1000; prices import refuses both, and so must this.
    const answers: Record<string, string> = {
      "t3.nano": "0.0052",
      "t3.micro": "0x10",
      "t3.small": "1e3",
      "t3.medium": "NaN",
      "t3.large": "-0.5",
      "t3.xlarge": " 0.1 ",
      "t3.2xlarge": "",
      "m5.large": "Infinity",
    };
    const getProducts: GetProducts = async (input) => {
      const type = input.Filters.find((f) => f.Field === "instanceType")?.Value as string;
      return { PriceList: [entry(answers[type] as string)] };
    };
    const table = await fetchPriceTable(getProducts, {
      types: Object.keys(answers),
      region: "us-east-1",
      asOf: "2026-12-07",
    });
    expect(table.perHour).toEqual({ "t3.nano": 0.0052 });
    expect(table.unpriced.map((u) => u.instanceType)).toEqual(Object.keys(answers).slice(1));
    expect(table.unpriced.find((u) => u.instanceType === "t3.micro")?.why).toMatch(/not a number of dollars/);
  });

  it("gives up on an answer that pages forever, so nothing is written", async () => {
    const endless: GetProducts = async () => ({ PriceList: [], NextToken: "again" });
    await expect(
      fetchPriceTable(endless, { types: ["t3.micro"], region: "us-east-1", asOf: "2026-12-07" }),
    ).rejects.toThrow("GetProducts for t3.micro gave more than 20 pages; nothing written");
  });
});
