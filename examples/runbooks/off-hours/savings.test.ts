/** Savings from a fixed scenario, against a figure computed by hand. */
import { describe, expect, it } from "vitest";
import { savingOf, savingsReport, totals } from "./savings.ts";

const prices = {
  asOf: "2026-12-01",
  region: "us-east-1",
  perHour: { "t3.micro": 0.0104, "m5.large": 0.096 },
};

describe("off-hours savings", () => {
  it("prices a fixed week by hand: 2 instances and a group of 3 stopped 156 h each, one type unpriced", () => {
    // One stop from Monday 18:00Z to the next Monday 06:00Z: 156 h (a week, less the 12 h it ran).
    const from = "2026-03-23T18:00:00Z";
    const to = new Date("2026-03-30T06:00:00Z");
    const a = savingOf(
      { target: "i-a", kind: "instance", stoppedAt: from, instanceType: "t3.micro" },
      to,
      prices,
    );
    const b = savingOf(
      { target: "i-b", kind: "instance", stoppedAt: from, instanceType: "m5.large" },
      to,
      prices,
    );
    const g = savingOf(
      {
        target: "asg:batch",
        kind: "asg",
        stoppedAt: from,
        instanceType: "m5.large",
        capacity: { desired: 3 },
      },
      to,
      prices,
    );
    const u = savingOf(
      { target: "i-u", kind: "instance", stoppedAt: from, instanceType: "c7g.large" },
      to,
      prices,
    );

    // 156 h stopped (one continuous stop from Monday 18:00Z to the next Monday 06:00Z, minus nothing).
    expect(a).toMatchObject({ instanceMinutes: 156 * 60, dollars: 1.62 }); // 156 × 0.0104 = 1.6224
    expect(b).toMatchObject({ instanceMinutes: 156 * 60, dollars: 14.98 }); // 156 × 0.096 = 14.976
    expect(g).toMatchObject({ instanceMinutes: 3 * 156 * 60, dollars: 44.93 }); // 468 × 0.096 = 44.928
    expect(u).toMatchObject({ dollars: "unpriced", ebs: "still billed", estimate: true });
    expect(totals([a, b, g, u]).all).toEqual({ instanceHours: 936, dollars: 61.53, unpriced: 1 });
  });

  it("counts whole minutes only: a stop of 59 s saves nothing", () => {
    const s = savingOf(
      { target: "i-a", kind: "instance", stoppedAt: "2026-03-23T18:00:00Z", instanceType: "t3.micro" },
      new Date("2026-03-23T18:00:59Z"),
      prices,
    );
    expect(s).toMatchObject({ instanceMinutes: 0, dollars: 0 });
  });
});

describe("the savings report's query", () => {
  const report = (query: Record<string, string>) => savingsReport(query, { items: async () => [] });

  it("refuses, naming the parameter, what would otherwise answer a silent $0 or an all-time total", async () => {
    // A range that ends before it starts holds no stop: a typo, not an answer of nothing saved.
    expect(await report({ from: "2026-12-08", to: "2026-12-01" })).toEqual({
      invalid: { path: "to", message: "must be after from (2026-12-08)" },
    });
    // A day the calendar does not have (Date.parse reads 2026-02-30 as 2 March).
    expect(await report({ from: "2026-02-30" })).toMatchObject({ invalid: { path: "from" } });
    expect(await report({ to: "2026-13-01" })).toMatchObject({ invalid: { path: "to" } });
    // A parameter the report does not take (`since`, as /api/executions has) would be ignored.
    expect(await report({ since: "7d" })).toEqual({
      invalid: { path: "since", message: "not a parameter of this report (it takes from, to, by)" },
    });
  });

  it("answers a well-formed range, an instant with an offset included", async () => {
    expect(
      await report({ from: "2026-12-01", to: "2026-12-01T12:00:00+05:00", by: "tag:CostCenter" }),
    ).toMatchObject({
      stops: 0,
      totals: [],
    });
  });
});
