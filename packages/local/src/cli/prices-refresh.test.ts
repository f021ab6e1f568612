/**
 * `reflex prices refresh` against local mode: the real `@aws-sdk/client-pricing` client sends
 * `GetProducts` over HTTP to the simulated account's Price List endpoint, which answers in AWS's
 * wire shape (`PriceList`: JSON strings), so the code that reads AWS's answer is the code tested.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reflex } from "../../../../test/support/cli.ts";
import { startTestLocal } from "../../../../test/support/local.ts";
import { SimulatedCloud } from "../cloud/index.ts";
import { SEEDED_PRICES } from "../cloud/pricing.ts";
import type { LocalMode } from "../local-mode.ts";

const dir = mkdtempSync(join(tmpdir(), "reflex-prices-refresh-"));
let local: LocalMode;
let cloud: SimulatedCloud;
const today = () => new Date().toISOString().slice(0, 10);

beforeAll(async () => {
  cloud = SimulatedCloud.seeded();
  local = await startTestLocal({}, { cloud });
});
afterAll(async () => {
  await local?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("reflex prices refresh", () => {
  it("answers GetProducts in AWS's wire shape: PriceList is an array of JSON strings, filtered by the attributes", async () => {
    const out = (await cloud.invoke("pricing", "us-east-1", "GetProducts", {
      ServiceCode: "AmazonEC2",
      Filters: [
        { Type: "TERM_MATCH", Field: "instanceType", Value: "t3.medium" },
        { Type: "TERM_MATCH", Field: "regionCode", Value: "us-east-1" },
      ],
    })) as { PriceList: unknown[] };
    // Linux used, Linux unused reservation, Windows: only the filters below pick one.
    expect(out.PriceList).toHaveLength(3);
    for (const entry of out.PriceList) expect(typeof entry).toBe("string");
    expect(JSON.parse(out.PriceList[0] as string)).toMatchObject({
      serviceCode: "AmazonEC2",
      product: { attributes: { instanceType: "t3.medium", regionCode: "us-east-1" } },
    });
  });

  it("fills the table for the seeded types through the Price List, dated today, written as prices import writes it", async () => {
    const out = join(dir, "prices.json");
    const types = ["t3.micro", "t3.medium", "c5.large", "r5.xlarge"];
    const mark = cloud.lastCallSeq;
    // The day read on both sides of the run (not when the file loaded): a run across midnight UTC
    // is dated one of them.
    const dayBefore = today();
    const ran = await reflex([
      "prices",
      "refresh",
      "--types",
      types.join(","),
      "--out",
      out,
      "--url",
      local.url,
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    const days = [dayBefore, today()];
    const usEast = SEEDED_PRICES["us-east-1"] as Record<string, number>;
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({
      asOf: expect.toBeOneOf(days),
      region: "us-east-1",
      perHour: Object.fromEntries(types.map((t) => [t, usEast[t]])),
    });
    // One GetProducts per type, through the simulated account (logged like any AWS call).
    expect(cloud.callsSince(mark).map((c) => `${c.service}:${c.operation}`)).toEqual(
      types.map(() => "pricing:GetProducts"),
    );

    // --from refreshes that table's types, in another Region with --region.
    const again = await reflex([
      "prices",
      "refresh",
      "--from",
      out,
      "--region",
      "eu-central-1",
      "--json",
      "--url",
      local.url,
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).perHour["r5.xlarge"]).toBe(SEEDED_PRICES["eu-central-1"]?.["r5.xlarge"]);
  });

  it("lists a type with no product as unpriced, never $0, and leaves it out of the table", async () => {
    const out = join(dir, "unpriced.json");
    const ran = await reflex([
      "prices",
      "refresh",
      "--types",
      "t3.micro,x9.huge",
      "--out",
      out,
      "--json",
      "--url",
      local.url,
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    const answer = JSON.parse(ran.stdout);
    expect(answer.unpriced).toEqual([
      { instanceType: "x9.huge", why: "the Price List has no on-demand Linux product in us-east-1" },
    ]);
    expect(JSON.parse(readFileSync(out, "utf8")).perHour).toEqual({ "t3.micro": 0.0104 });
  });

  it("writes nothing when the Price List endpoint fails part-way, and keeps the table that was there", async () => {
    const out = join(dir, "kept.json");
    writeFileSync(out, '{"asOf":"2026-11-01","region":"us-east-1","perHour":{"t3.micro":0.01}}\n');
    const before = readFileSync(out, "utf8");
    // The first type is answered; every call for the second fails (the SDK's retries included).
    const seen = cloud.lastCallSeq;
    cloud.injectFault({
      service: "pricing",
      operation: "GetProducts",
      kind: "error",
      code: "InternalErrorException",
      httpStatusCode: 500,
      match: (input: { Filters?: Array<{ Value?: string }> }) =>
        (input.Filters ?? []).some((f) => f.Value === "m5.large"),
    });
    try {
      const ran = await reflex([
        "prices",
        "refresh",
        "--types",
        "t3.micro,m5.large",
        "--out",
        out,
        "--url",
        local.url,
      ]);
      expect(ran.code).toBe(1);
      expect(ran.stderr).toContain("the Price List could not be read (InternalErrorException");
      expect(ran.stderr).toContain("nothing written");
    } finally {
      cloud.clearFaults();
    }
    expect(readFileSync(out, "utf8")).toBe(before);
    expect(existsSync(`${out}.${process.pid}.tmp`)).toBe(false);
    expect(cloud.callsSince(seen).some((c) => c.error === "InternalErrorException")).toBe(true);
  });

  it("needs types to refresh (exit 2)", async () => {
    const ran = await reflex(["prices", "refresh", "--url", local.url]);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("name the types");
  });
});
