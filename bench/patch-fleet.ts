/**
 * bench/patch-fleet: the patch runbook over 100, 1,000 and 5,000 simulated instances at
 * maxConcurrency 50, in local mode (the real ASL with its Distributed Map run as child
 * executions, the real step handler, dynalite, the simulated cloud). Simulated durations are
 * short (a 100 ms patch command), so the figure is Reflex's own overhead and how it scales.
 *
 * Figures per size: wall time, history events of the largest execution (parent and children;
 * Step Functions' limit is 25,000 per execution), state transitions and step invocations per
 * instance, and the cost of the run in AWS: Step Functions transitions ($0.025 per 1,000),
 * Lambda requests ($0.20 per million) and duration (512 MB at $0.0000166667 per GB-s,
 * assuming 150 ms per invocation: AWS API round trips, not the local figure), DynamoDB writes
 * ($0.625 per million write units, on demand; one per step record and target result, two per
 * lock) — beside SSM Automation at $0.002 per step per target for the same steps.
 */
import { validateConfig } from "@reflex/core";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { seedPatchFleet, setPatchingSettings } from "../packages/local/src/cloud/patching-helpers.ts";
import { startBenchLocal } from "./support/local.ts";

const SIZES = (process.env.PATCH_FLEET_SIZES ?? "100,1000,5000").split(",").map(Number);
const CONCURRENCY = 50;
const PRICE = {
  transition: 0.025 / 1000,
  lambdaRequest: 0.2 / 1_000_000,
  lambdaGbSecond: 0.0000166667,
  lambdaSeconds: 0.15,
  lambdaGb: 0.5,
  dynamoWrite: 0.625 / 1_000_000,
  ssmAutomationStep: 0.002,
};

type Figure = Record<string, unknown>;

async function patchFleet(size: number): Promise<Figure> {
  const cloud = new SimulatedCloud({ snapshotDurationMs: 20, pageSize: 1000 });
  setPatchingSettings(cloud, {
    commandDurationMs: 100,
    rebootMs: 20,
    healthCheckMs: 10,
    deregistrationDelayMs: 20,
    replaceRootVolumeMs: 20,
  });
  seedPatchFleet(cloud, { count: size, patchGroup: "bench", targetGroupSize: 1000 });
  const local = await startBenchLocal({
    config: validateConfig({ guardrails: { maxTargetsPerRun: 10_000 } }),
    cloud,
  });
  try {
    const started = performance.now();
    const res = await fetch(`${local.url}/api/runbooks/patch/executions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        params: {
          selector: { tag: { PatchGroup: "bench" } },
          maxConcurrency: String(CONCURRENCY),
          maxErrors: "1%",
          pollSeconds: 1,
          commandTimeoutSeconds: 600,
          drainTimeoutSeconds: 300,
          healthTimeoutSeconds: 300,
        },
      }),
    });
    const { executionId } = (await res.json()) as { executionId: string };
    await local.idle();
    const wallMs = performance.now() - started;
    const run = (await (await fetch(`${local.url}/api/executions/${executionId}`)).json()) as {
      status: string;
      result: { compliance: Record<string, unknown> };
    };
    const executions = local.engine.list();
    // The engine keeps a bounded number of ended executions: figure the children from those it
    // still has (all of them up to a few thousand), scaled to the fleet.
    const parentExecution = executions.find((e) => e.name === executionId)!;
    const parent = local.engine.historyStats(parentExecution.executionArn);
    const children = executions
      .filter((e) => e !== parentExecution)
      .map((e) => local.engine.historyStats(e.executionArn));
    const perChild = (f: (h: typeof parent) => number) =>
      children.reduce((n, h) => n + f(h), 0) / children.length;
    const histories = [parent.events, ...children.map((h) => h.events)];
    const transitions = parent.transitions + perChild((h) => h.transitions) * size;
    const steps = parent.tasks + perChild((h) => h.tasks) * size; // one step-worker invocation per Task
    const writes = steps + size /* target results */ + 2 * size /* locks */ + 10;
    const cost = {
      stepFunctions: transitions * PRICE.transition,
      lambda:
        steps * PRICE.lambdaRequest + steps * PRICE.lambdaSeconds * PRICE.lambdaGb * PRICE.lambdaGbSecond,
      dynamodb: writes * PRICE.dynamoWrite,
    };
    const total = cost.stepFunctions + cost.lambda + cost.dynamodb;
    const stepsPerTarget = (steps - 2) / size; // plan and report are the run's, not a target's
    return {
      bench: "patch-fleet",
      instances: size,
      maxConcurrency: CONCURRENCY,
      status: run.status,
      compliance: run.result.compliance,
      wallMs: Math.round(wallMs),
      executions: size + 1,
      maxHistoryEvents: Math.max(...histories),
      parentHistoryEvents: parent.events,
      historyLimit: 25_000,
      stateTransitionsPerInstance: Math.round((transitions / size) * 10) / 10,
      stepInvocationsPerInstance: Math.round(stepsPerTarget * 10) / 10,
      costUsd: {
        stepFunctions: round(cost.stepFunctions),
        lambda: round(cost.lambda),
        dynamodb: round(cost.dynamodb),
        total: round(total),
        perInstance: round(total / size),
        ssmAutomationSameSteps: round(stepsPerTarget * size * PRICE.ssmAutomationStep),
      },
    };
  } finally {
    await local.stop();
  }
}

const round = (n: number) => Math.round(n * 10_000) / 10_000;

export async function patchFleetBench(): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const size of SIZES) {
    const f = await patchFleet(size);
    figures.push(f);
    process.stderr.write(`patch-fleet ${size}: ${f.wallMs} ms\n`);
  }
  const wall = (n: number) => figures.find((f) => f.instances === n)?.wallMs as number | undefined;
  const w100 = wall(100);
  const w1000 = wall(1000);
  if (w100 && w1000)
    figures.push({
      bench: "patch-fleet",
      ratio1000to100: Math.round((w1000 / w100) * 100) / 100,
      target: 12,
    });
  return figures;
}
