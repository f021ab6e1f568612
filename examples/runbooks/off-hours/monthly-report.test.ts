/**
 * The monthly S3 report: the first tick after a month closes writes
 * `reports/offhours/<yyyy-mm>.json` to the reports bucket (s3rver locally), once, with the
 * month's hours and dollars by target, schedule and tag, the unpriced stops, and EBS still billed.
 */
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { SimulatedCloud } from "@reflex/local/cloud/index";
import { client } from "@reflex/sdk";
import { openSimulation, type SimulationSession } from "@reflex/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offHours } from "./index.ts";
import { closedMonth, monthlyReport, reportKey } from "./monthly-report.ts";

const managed = { "reflex:managed": "true" };
const office = { ...managed, "reflex:off-hours": "office", CostCenter: "web" };
const ids: Record<string, string> = {};

function seed(cloud: SimulatedCloud): void {
  ids.a = cloud.addInstance({ name: "web-a", tags: office, instanceType: "t3.micro" }).InstanceId as string;
  ids.b = cloud.addInstance({ name: "web-b", tags: office, instanceType: "m5.large" }).InstanceId as string;
  // c5.large is not in the price table: unpriced, never $0.
  ids.odd = cloud.addInstance({ name: "odd", tags: office, instanceType: "c5.large" }).InstanceId as string;
  cloud.addAutoScalingGroup({
    name: "batch",
    minSize: 1,
    desiredCapacity: 2,
    maxSize: 4,
    instanceType: "t3.micro",
    tags: { ...managed, "reflex:off-hours": "office" },
  });
}

const config = {
  offHours: {
    schedules: [
      {
        name: "office",
        timezone: "Europe/Berlin",
        periods: [{ days: "mon-fri", start: "07:00", stop: "19:00" }],
      },
    ],
    prices: { asOf: "2026-11-01", perHour: { "t3.micro": 0.0104, "m5.large": 0.096 } },
  },
};

async function readReport(month: string): Promise<Record<string, any>> {
  const out = await client(S3Client, "s3").send(
    new GetObjectCommand({ Bucket: process.env.REFLEX_BUCKET, Key: reportKey(month) }),
  );
  return JSON.parse(await (out.Body as { transformToString(): Promise<string> }).transformToString());
}

let session: SimulationSession;
beforeAll(async () => {
  session = await openSimulation(offHours, { config, setup: seed });
});
afterAll(async () => session?.close());

describe("the off-hours monthly S3 report", () => {
  it("is written by the first tick after the month closes, once, with hours and dollars by target, schedule and tag, unpriced stops and EBS still billed", async () => {
    // Friday 27 November 19:05 Berlin (18:05Z) stops; Monday 30 November 07:05 (06:05Z) starts: 60 h.
    await session.run({ schedule: "office", at: "2026-11-27T18:05:00Z" });
    await session.run({ schedule: "office", at: "2026-11-30T06:05:00Z" });
    const first = await session.run({ schedule: "office", at: "2026-12-01T00:05:00Z" });
    expect(first.run.status, JSON.stringify(first.run)).toBe("SUCCEEDED");
    expect((first.run as any).result?.monthlyReport ?? (first.outcome as any).monthlyReport).toMatchObject({
      month: "2026-11",
      written: true,
    });
    const report = await readReport("2026-11");
    // By hand: web-a 60 h × $0.0104 = $0.62; web-b 60 h × $0.096 = $5.76; batch 2 × 60 h ×
    // $0.0104 = $1.25; odd 60 h unpriced. 300 instance-hours, $7.63.
    expect(report).toMatchObject({
      month: "2026-11",
      from: "2026-11-01T00:00:00.000Z",
      to: "2026-12-01T00:00:00.000Z",
      estimate: true,
      prices: { asOf: "2026-11-01", region: "us-east-1" },
      stops: 4,
      instanceHours: 300,
      dollars: 7.63,
      unpriced: [{ target: ids.odd, instanceType: "c5.large", instanceHours: 60 }],
      bySchedule: [{ group: "office", instanceHours: 300, dollars: 7.63, unpriced: 1 }],
    });
    expect(report.ebs).toMatch(/^still billed/);
    expect(report.byTarget).toContainEqual({ group: ids.b, instanceHours: 60, dollars: 5.76, unpriced: 0 });
    expect(report.byTarget).toContainEqual({
      group: "asg:batch",
      instanceHours: 120,
      dollars: 1.25,
      unpriced: 0,
    });
    expect(report.byTag.CostCenter).toEqual([
      { group: "(none)", instanceHours: 120, dollars: 1.25, unpriced: 0 },
      { group: "web", instanceHours: 180, dollars: 6.38, unpriced: 1 },
    ]);

    // The next tick finds it written and leaves it alone.
    const second = await session.run({ schedule: "office", at: "2026-12-01T00:10:00Z" });
    expect(second.run.status).toBe("SUCCEEDED");
    expect(JSON.stringify(second.run)).not.toContain("monthlyReport");
    expect(await readReport("2026-11")).toEqual(report);
    const items = (await (await fetch(`${session.url}/api/runbooks/off-hours/items`)).json()) as {
      items: Array<{ key: string }>;
    };
    expect(items.items.filter((i) => i.key.startsWith("report#2026-11"))).toHaveLength(1);
  });

  it("computes the same report from the same savings, whoever writes it (two ticks at once write the same bytes)", () => {
    const month = closedMonth(new Date("2026-12-01T00:05:00Z"));
    expect(month).toEqual({
      month: "2026-11",
      from: "2026-11-01T00:00:00.000Z",
      to: "2026-12-01T00:00:00.000Z",
    });
    const s = (target: string, to: string) => ({
      target,
      kind: "instance" as const,
      from: "2026-11-27T18:05:00.000Z",
      to,
      instanceMinutes: 600,
      instanceType: "t3.micro",
      dollars: 1.04,
      estimate: true as const,
      ebs: "still billed" as const,
    });
    // A stop that ended in December is December's; the order savings are read in does not matter.
    const rows = [
      s("i-1", "2026-11-30T06:05:00.000Z"),
      s("i-2", "2026-12-01T06:05:00.000Z"),
      s("i-3", "2026-11-02T00:00:00.000Z"),
    ];
    const prices = { asOf: "2026-11-01", region: "us-east-1", perHour: {} };
    const one = monthlyReport(rows, month, prices);
    expect(JSON.stringify(monthlyReport([...rows].reverse(), month, prices))).toBe(JSON.stringify(one));
    expect(one).toMatchObject({ stops: 2, instanceHours: 20, dollars: 2.08 });
    expect(closedMonth(new Date("2027-01-01T00:00:00Z")).month).toBe("2026-12");
  });
});
