/**
 * bench/scale-service: one scale-service run per target kind to a verified end, in local mode
 * as `reflex start` runs it (the real ASL on the local engine, the real step handler, dynalite,
 * the seeded simulated account with its default delays: an ECS rollout 3 s, Lambda
 * provisioning 2 s; each Wait state 1 s locally).
 *
 * Figures per kind: wall time from the start request to the run's end (verified: rollout
 * COMPLETED with running = desired, bounds in place, the config READY), state transitions and
 * step invocations, and the modelled cost of the run in AWS — Step Functions Standard at $0.025
 * per 1,000 transitions, Lambda at $0.20 per million requests and 512 MB × 150 ms each — beside
 * SSM Automation doing the nearest thing ($0.002 per step, docs/deploy.md). No AWS-owned
 * Automation runbook scales any of these three (the closest for ECS, AWS-UpdateAmazonECSAgent,
 * updates the container agent), so the comparison is a custom document of the fewest steps
 * that would do it. The in-run comparison: a dry-run of the same params (plan only), so the
 * wait's share is visible.
 */
import { validateConfig } from "@reflex/core";
import { scaleService } from "../examples/runbooks/scale-service/index.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { startLocal } from "../packages/local/src/local-mode.ts";

const PRICE = {
  transition: 0.025 / 1000,
  lambdaRequest: 0.2 / 1_000_000,
  lambdaGbSecond: 0.0000166667,
  ssmStep: 0.002,
};
const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;
/** Where the prices come from (AWS's pricing pages, us-east-1, checked 2026-12-07). */
const PRICE_SOURCES = {
  ssmAutomation:
    "https://aws.amazon.com/systems-manager/pricing/ (Automation: $0.002 per step; no Automation free tier for accounts new to it since 2025-08-14, https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-automation.html)",
  stepFunctions:
    "https://aws.amazon.com/step-functions/pricing/ (Standard: $0.025 per 1,000 state transitions)",
  lambda: "https://aws.amazon.com/lambda/pricing/ ($0.20 per 1M requests, $0.0000166667 per GB-s, x86)",
};

const KINDS: Array<{ kind: string; params: Record<string, unknown>; nearestSsm: string; ssmSteps: number }> =
  [
    {
      kind: "ecs-service",
      params: { target: { kind: "ecs-service", cluster: "prod", service: "api" }, change: "+2" },
      nearestSsm: "AWS-UpdateECSServiceDesiredCount (sets the count; no wait, no bounds, no rollback)",
      ssmSteps: 1,
    },
    {
      kind: "scalable-target",
      params: {
        target: {
          kind: "scalable-target",
          namespace: "dynamodb",
          resourceId: "table/orders",
          dimension: "dynamodb:table:ReadCapacityUnits",
        },
        min: 20,
        max: 200,
      },
      nearestSsm: "no AWS-owned runbook: a custom document, one aws:executeAwsApi RegisterScalableTarget",
      ssmSteps: 1,
    },
    {
      kind: "lambda-alias",
      params: { target: { kind: "lambda-alias", function: "checkout", alias: "live" }, change: "+5" },
      nearestSsm:
        "no AWS-owned runbook: a custom document, aws:executeAwsApi PutProvisionedConcurrencyConfig + aws:waitForAwsResourceProperty READY",
      ssmSteps: 2,
    },
  ];

export async function scaleServiceBench(): Promise<Array<Record<string, unknown>>> {
  const local = await startLocal({
    config: validateConfig({ runbooks: [scaleService] }),
    port: 0,
    quiet: true,
    dataDir: null,
    scheduler: false,
    cloud: SimulatedCloud.seeded(),
  });
  const run = async (params: Record<string, unknown>, dryRun: boolean) => {
    const started = performance.now();
    const res = await fetch(`${local.url}/api/runbooks/scale-service/executions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": "cli:bench" },
      body: JSON.stringify({ params, dryRun }),
    });
    const { executionId } = (await res.json()) as { executionId: string };
    await local.idle();
    const ms = performance.now() - started;
    const out = (await (await fetch(`${local.url}/api/executions/${executionId}`)).json()) as {
      status: string;
      outcome: { targets: Array<{ reason?: string }> };
    };
    const e = local.engine.list().find((x) => x.name === executionId);
    const stats = e ? local.engine.historyStats(e.executionArn) : undefined;
    return { ms, status: out.status, verified: out.outcome.targets[0]?.reason, stats };
  };
  try {
    const figures: Array<Record<string, unknown>> = [];
    for (const k of KINDS) {
      const dry = await run(k.params, true);
      const real = await run(k.params, false);
      const transitions = real.stats?.transitions ?? 0;
      const tasks = real.stats?.tasks ?? 0;
      const cost =
        transitions * PRICE.transition + tasks * (PRICE.lambdaRequest + 0.15 * 0.5 * PRICE.lambdaGbSecond);
      figures.push({
        bench: "scale-service",
        kind: k.kind,
        status: real.status,
        verified: real.verified,
        secondsToVerifiedEnd: round(real.ms / 1000, 2),
        dryRunSeconds: round(dry.ms / 1000, 2),
        stateTransitions: transitions,
        stepInvocations: tasks,
        costUsdInAws: round(cost, 6),
        nearestSsmRunbook: k.nearestSsm,
        ssmAutomationCostUsd: round(k.ssmSteps * PRICE.ssmStep, 6),
        priceSources: PRICE_SOURCES,
      });
    }
    return figures;
  } finally {
    await local.stop();
  }
}
