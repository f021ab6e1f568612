/**
 * off-hours at fleet size, in local mode: 1,000 instances and 50 Auto Scaling groups (2
 * instances each) on one schedule, Europe/Berlin 07–19 on weekdays. One simulated weeknight:
 * the evening tick that stops everything (as many ticks as the blast-radius cap needs), a quiet
 * tick in the night, the morning tick that starts everything again. Per tick, measured: wall
 * time, cloud API calls, DynamoDB requests (counted on the state client), Lambda invocations and
 * Step Functions state transitions (the run's task steps, plus the Choice and Succeed states on
 * its path). In-run comparison: the quiet tick against the acting ones.
 *
 * The week: the night's instance-hours and dollars as `GET /api/offhours/savings` totals them
 * (the example price table), scaled by the schedule's off hours per week over that night's
 * (108 h / 12 h: four weeknights and the weekend). Reflex's own monthly AWS cost for the ticks:
 * 12 ticks an hour, each a quiet tick's measured counts, plus the acting ticks of each
 * transition, at us-east-1 list prices (an estimate):
 *   Step Functions Standard $0.025 per 1,000 state transitions — aws.amazon.com/step-functions/pricing/
 *   Lambda $0.20 per 1M requests, $0.0000166667 per GB-second — aws.amazon.com/lambda/pricing/
 *   DynamoDB on-demand $0.625 per 1M write, $0.125 per 1M read request units — aws.amazon.com/dynamodb/pricing/on-demand/
 */
import type { Aws } from "@reflex/core";
import { validateConfig } from "@reflex/core";
import { offHours } from "../examples/runbooks/off-hours/index.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { startBenchLocal } from "./support/local.ts";

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
  // Every request to Reflex's own table, counted by kind on the state client.
  const ddb = { reads: 0, writes: 0 };
  const countRequests = (service: string, client: Aws.SdkClient) => {
    if (service !== "dynamodb") return;
    client.middlewareStack.add(
      (next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: unknown) => {
          if (/^(Get|BatchGet|Query|Scan|Describe)/.test(context.commandName ?? "")) ddb.reads++;
          else ddb.writes++;
          return next(args);
        },
      { step: "initialize", name: "benchCountDynamoDb" },
    );
  };
  const local = await startBenchLocal({ config, cloud, decorateClient: countRequests });
  const tick = async (at: string) => {
    const mark = cloud.lastCallSeq;
    const ddbBefore = { ...ddb };
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
      steps: Array<{ state: string; durationMs?: number }>;
    };
    const calls = cloud.callsSince(mark);
    // Each task step is one Lambda invocation; the path adds Route, IsDryRun (Choice) and Done (Succeed).
    const lambdas = run.steps.length;
    return {
      at,
      status: run.status,
      ms,
      apiCalls: calls.length,
      mutating: calls.filter((c) => c.mutating).length,
      lambdaInvocations: lambdas,
      lambdaMs: run.steps.reduce((a, x) => a + (x.durationMs ?? 0), 0),
      stateTransitions: lambdas + 3,
      dynamoDbReads: ddb.reads - ddbBefore.reads,
      dynamoDbWrites: ddb.writes - ddbBefore.writes,
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
    // The night, as the server totals the stops that ended in it; scaled to the week by the
    // schedule's off hours (168 − 5 × 12 = 108) over the night's (12).
    const night = (await (
      await fetch(`${local.url}/api/offhours/savings?from=2026-03-31T00:00:00Z&to=2026-04-01T00:00:00Z`)
    ).json()) as {
      stops: number;
      totals: Array<{ instanceHours: number; dollars: number; unpriced: number }>;
    };
    const nightTotals = night.totals[0] ?? { instanceHours: 0, dollars: 0, unpriced: 0 };
    const perWeek = (168 - 5 * 12) / 12;
    // Reflex's cost: 12 ticks an hour all month at the quiet tick's counts, plus, per transition
    // (2 a weekday, ~43 a month), the acting ticks' counts over the quiet ones'.
    const PRICE = {
      transition: 0.025 / 1000,
      lambdaRequest: 0.2 / 1_000_000,
      lambdaGbSecond: 0.0000166667,
      ddbWrite: 0.625 / 1_000_000,
      ddbRead: 0.125 / 1_000_000,
    };
    const cost = (t: (typeof evening)[number]) =>
      t.stateTransitions * PRICE.transition +
      t.lambdaInvocations * PRICE.lambdaRequest +
      // The steps' own durations here, at 512 MB (local mode on a shared machine: an upper bound).
      (t.lambdaMs / 1000) * 0.5 * PRICE.lambdaGbSecond +
      t.dynamoDbWrites * PRICE.ddbWrite +
      t.dynamoDbReads * PRICE.ddbRead;
    const ticksPerMonth = 12 * 24 * 30;
    const transitionsPerMonth = Math.round((2 * 5 * 30) / 7);
    const quietCost = cost(quiet);
    const actingExtra = (xs: typeof evening) => xs.reduce((a, t) => a + cost(t) - quietCost, 0);
    const reflexMonthly =
      ticksPerMonth * quietCost + (transitionsPerMonth / 2) * (actingExtra(evening) + actingExtra(morning));
    const savedPerMonth = nightTotals.dollars * perWeek * (30 / 7);
    out.push({
      bench: "off-hours",
      figure: "week",
      targets: { instances: 1000, autoScalingGroups: 50, groupInstances: 100 },
      night: { stops: night.stops, ...nightTotals },
      instanceHoursAvoidedPerWeek: Math.round(nightTotals.instanceHours * perWeek),
      dollarsSavedPerWeek: Math.round(nightTotals.dollars * perWeek * 100) / 100,
      dollarsSavedPerMonth: Math.round(savedPerMonth * 100) / 100,
      reflexTickCostPerMonthUsd: Math.round(reflexMonthly * 100) / 100,
      reflexCostShareOfSavings: Math.round((reflexMonthly / Math.max(savedPerMonth, 0.01)) * 10_000) / 10_000,
      quietTick: {
        stateTransitions: quiet.stateTransitions,
        lambdaInvocations: quiet.lambdaInvocations,
        lambdaMs: quiet.lambdaMs,
        dynamoDbReads: quiet.dynamoDbReads,
        dynamoDbWrites: quiet.dynamoDbWrites,
      },
      prices:
        "us-east-1 list: aws.amazon.com/step-functions/pricing/, aws.amazon.com/lambda/pricing/, aws.amazon.com/dynamodb/pricing/on-demand/",
      estimate:
        "savings at the example price table; Reflex's cost at list prices (Lambda duration = the steps' durations measured here); EBS still billed",
    });
    return out;
  } finally {
    await local.stop();
  }
}
