/**
 * off-hours at fleet size, in local mode: 1,000 instances and 50 Auto Scaling groups (2
 * instances each) on one schedule, Europe/Berlin 07–19 on weekdays. One simulated weekday:
 * the evening tick that stops everything (as many ticks as the blast-radius cap needs), a quiet
 * tick in the night, the morning tick that starts everything again. Per tick: wall time and
 * cloud API calls; in-run comparison: the quiet tick against the acting ones. Then the week's
 * instance-hours avoided and dollars (the example price table), and Reflex's own monthly AWS
 * cost for the ticks (Step Functions Standard transitions and Lambda requests at list prices,
 * an estimate).
 */
import { validateConfig } from "@reflex/core";
import { offHours } from "../examples/runbooks/off-hours/index.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { startLocal } from "../packages/local/src/local-mode.ts";

export async function offHoursBench(): Promise<Array<Record<string, unknown>>> {
  const config = validateConfig({
    runbooks: [offHours],
    guardrails: { maxTargetsPerRun: 10_000, rateLimit: { runs: 10_000, per: "1h" } },
    offHours: {
      schedules: [
        {
          name: "office",
          timezone: "Europe/Berlin",
          periods: [{ days: "mon-fri", start: "07:00", stop: "19:00" }],
        },
      ],
      prices: { asOf: "2026-12-01", perHour: { "t3.micro": 0.0104, "m5.large": 0.096 } },
    },
  });
  const cloud = SimulatedCloud.seeded({ seed: 7, pageSize: 1000 });
  const tags = { "reflex:managed": "true", "reflex:off-hours": "office" };
  for (let i = 0; i < 1000; i++)
    cloud.addInstance({ name: `dev-${i}`, tags, instanceType: i % 2 ? "t3.micro" : "m5.large" });
  for (let g = 0; g < 50; g++)
    cloud.addAutoScalingGroup({
      name: `grp-${g}`,
      minSize: 1,
      desiredCapacity: 2,
      maxSize: 4,
      instanceType: "t3.micro",
      tags,
    });
  const local = await startLocal({
    config,
    port: 0,
    quiet: true,
    dataDir: null,
    waitMs: 5,
    scheduler: false,
    cloud,
  });
  const tick = async (at: string) => {
    const mark = cloud.lastCallSeq;
    const t0 = performance.now();
    const res = await fetch(`${local.url}/api/runbooks/off-hours/executions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": "cli:bench" },
      body: JSON.stringify({ params: { schedule: "office", at } }),
    });
    const { executionId } = (await res.json()) as { executionId: string };
    await local.idle();
    const ms = Math.round(performance.now() - t0);
    const run = (await (await fetch(`${local.url}/api/executions/${executionId}`)).json()) as {
      status: string;
    };
    const calls = cloud.callsSince(mark);
    return {
      at,
      status: run.status,
      ms,
      apiCalls: calls.length,
      mutating: calls.filter((c) => c.mutating).length,
    };
  };
  try {
    const out: Array<Record<string, unknown>> = [];
    // Monday 2026-03-30: 19:00 Berlin is 17:00Z; the cap (500) takes three evening ticks for 1,050 targets.
    const evening = [
      await tick("2026-03-30T17:05:00Z"),
      await tick("2026-03-30T17:10:00Z"),
      await tick("2026-03-30T17:15:00Z"),
    ];
    const quiet = await tick("2026-03-30T23:00:00Z");
    const morning = [
      await tick("2026-03-31T05:05:00Z"),
      await tick("2026-03-31T05:10:00Z"),
      await tick("2026-03-31T05:15:00Z"),
    ];
    for (const t of [...evening, quiet, ...morning]) out.push({ bench: "off-hours", figure: "tick", ...t });
    const acting = [...evening, ...morning].filter((t) => t.mutating > 0);
    const avg = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
    out.push({
      bench: "off-hours",
      figure: "comparison",
      quietTickMs: quiet.ms,
      actingTickMsAvg: avg(acting.map((t) => t.ms)),
      ratio: Math.round((avg(acting.map((t) => t.ms)) / Math.max(1, quiet.ms)) * 100) / 100,
      quietTickApiCalls: quiet.apiCalls,
    });
    // A week: running 5 × 12 h = 60 h of 168, so 108 h off.
    const offHoursPerWeek = 168 - 60;
    const instanceHours = (1000 + 50 * 2) * offHoursPerWeek;
    const dollars = (500 * 0.0104 + 500 * 0.096 + 100 * 0.0104) * offHoursPerWeek;
    // Ticks: 12 an hour; a quiet tick is ~5 state transitions and 1 Lambda request (plan), an
    // acting one 6 and 2; list prices us-east-1: $0.025 / 1,000 transitions, $0.20 / 1M requests,
    // plus ~1 s × 512 MB per step at $0.0000166667 / GB-s.
    const ticksPerMonth = 12 * 24 * 30;
    const reflexMonthly = ticksPerMonth * (5 * 0.000025 + 0.0000002 + 0.5 * 0.0000166667);
    out.push({
      bench: "off-hours",
      figure: "week",
      instanceHoursAvoided: instanceHours,
      dollarsSavedPerWeek: Math.round(dollars * 100) / 100,
      reflexTickCostPerMonthUsd: Math.round(reflexMonthly * 100) / 100,
      estimate: "savings at the example price table; Reflex's cost at list prices; EBS still billed",
    });
    return out;
  } finally {
    await local.stop();
  }
}
