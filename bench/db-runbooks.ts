/**
 * bench/db-runbooks: time to a verified end in local mode for each database target kind
 * (db-backup of one RDS instance, one Aurora cluster, one DynamoDB table; db-failover of an
 * Aurora cluster and of a Multi-AZ instance), on the real ASL, the real step handler, dynalite
 * and the simulated cloud at `reflex start`'s own timings (Wait states 1 s; RDS snapshots 10 s,
 * DynamoDB backups 5 s, failovers 5 s), so the figure is what a person trying it locally sees.
 *
 * Per run: wall time, state transitions and step invocations, and the modelled AWS cost of the
 * run (Step Functions Standard $0.025 per 1,000 transitions; Lambda $0.20 per million requests
 * and 512 MB × 0.5 s each) at AWS's own durations (the poll loops' transitions scaled to a
 * 10-minute RDS snapshot, a 5-minute cluster snapshot, a 1-minute DynamoDB backup, a 60-second
 * Aurora and a 120-second Multi-AZ failover), beside SSM Automation's nearest AWS-owned runbook
 * at $0.002 per step. The in-run comparison: each run's wall time against the same runbook's
 * dry-run (plan only) in the same local mode.
 */
import { validateConfig } from "@reflex/core";
import { dbBackup } from "../examples/runbooks/db-backup/index.ts";
import { dbFailover } from "../examples/runbooks/db-failover/index.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { startLocal } from "../packages/local/src/local-mode.ts";

const PRICE = { transition: 0.025 / 1000, lambdaRequest: 0.2 / 1_000_000, lambdaGbSecond: 0.0000166667 };
const SSM_STEP = 0.002;
/** Where the prices come from (AWS's pricing pages, us-east-1, checked 2026-12-07). */
const PRICE_SOURCES = {
  ssmAutomation:
    "https://aws.amazon.com/systems-manager/pricing/ (Automation: $0.002 per step; no Automation free tier for accounts new to it since 2025-08-14, https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-automation.html)",
  stepFunctions:
    "https://aws.amazon.com/step-functions/pricing/ (Standard: $0.025 per 1,000 state transitions)",
  lambda: "https://aws.amazon.com/lambda/pricing/ ($0.20 per 1M requests, $0.0000166667 per GB-s, x86)",
};
type Figure = Record<string, unknown>;

interface Case {
  kind: string;
  runbook: "db-backup" | "db-failover";
  params: Record<string, unknown>;
  /** How long the awaited thing takes in AWS (s), and the runbook's poll interval (s). */
  awsSeconds: number;
  pollSeconds: number;
  /** The nearest AWS-owned SSM Automation runbook and its step count. */
  ssm: { runbook: string; steps: number };
}

const CASES: Case[] = [
  {
    kind: "rds-instance (DB snapshot)",
    runbook: "db-backup",
    params: { selector: { names: ["orders-db"] }, kinds: ["rds-instance"] },
    awsSeconds: 600,
    pollSeconds: 10,
    ssm: { runbook: "AWS-CreateRdsSnapshot", steps: 2 },
  },
  {
    kind: "aurora-cluster (cluster snapshot)",
    runbook: "db-backup",
    params: { selector: { names: ["payments"] }, kinds: ["aurora-cluster"] },
    awsSeconds: 300,
    pollSeconds: 10,
    ssm: { runbook: "AWS-CreateRdsSnapshot (no cluster form)", steps: 2 },
  },
  {
    kind: "dynamodb-table (on-demand backup)",
    runbook: "db-backup",
    params: { selector: { names: ["orders"] }, kinds: ["dynamodb-table"] },
    awsSeconds: 60,
    pollSeconds: 10,
    ssm: { runbook: "AWS-CreateDynamoDBBackup", steps: 2 },
  },
  {
    kind: "aurora-cluster (failover to a named replica)",
    runbook: "db-failover",
    params: { cluster: "payments", promote: "payments-2" },
    awsSeconds: 60,
    pollSeconds: 5,
    ssm: { runbook: "AWS-RebootRdsInstance (no Aurora failover)", steps: 2 },
  },
  {
    kind: "rds-multi-az (reboot with failover)",
    runbook: "db-failover",
    params: { instance: "orders-db" },
    awsSeconds: 120,
    pollSeconds: 5,
    ssm: { runbook: "AWS-RebootRdsInstance", steps: 2 },
  },
];

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export async function dbRunbooksBench(): Promise<Figure[]> {
  const cloud = SimulatedCloud.seeded();
  const local = await startLocal({
    config: validateConfig({
      runbooks: [dbBackup, dbFailover],
      approvals: { policies: [{ runbooks: ["db-failover"], require: false }] },
    }),
    port: 0,
    quiet: true,
    dataDir: null,
    scheduler: false,
    cloud,
  });
  const run = async (c: Case, dryRun: boolean) => {
    const started = performance.now();
    const res = await fetch(`${local.url}/api/runbooks/${c.runbook}/executions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ params: c.params, dryRun }),
    });
    const { executionId } = (await res.json()) as { executionId: string };
    await local.idle();
    const wallMs = performance.now() - started;
    const record = (await (await fetch(`${local.url}/api/executions/${executionId}`)).json()) as {
      status: string;
    };
    const e = local.engine.list().find((x) => x.name === executionId);
    const stats = e ? local.engine.historyStats(e.executionArn) : undefined;
    return { wallMs, status: record.status, transitions: stats?.transitions ?? 0, tasks: stats?.tasks ?? 0 };
  };
  const out: Figure[] = [];
  try {
    for (const c of CASES) {
      const plan = await run(c, true);
      const real = await run(c, false);
      // Local polls happened once a (scaled) Wait; AWS's would be awsSeconds / pollSeconds, each Wait + check + Choice.
      const localPolls = Math.max(0, Math.round((real.wallMs - plan.wallMs) / 1000));
      const awsPolls = Math.ceil(c.awsSeconds / c.pollSeconds);
      const transitions = real.transitions + 3 * Math.max(0, awsPolls - localPolls);
      const tasks = real.tasks + Math.max(0, awsPolls - localPolls);
      const cost =
        transitions * PRICE.transition + tasks * (PRICE.lambdaRequest + 0.5 * 0.5 * PRICE.lambdaGbSecond);
      out.push({
        bench: "db-runbooks",
        kind: c.kind,
        runbook: c.runbook,
        status: real.status,
        wallSeconds: round(real.wallMs / 1000),
        dryRunWallSeconds: round(plan.wallMs / 1000),
        localTransitions: real.transitions,
        localStepInvocations: real.tasks,
        awsModel: { awaitedSeconds: c.awsSeconds, transitions, stepInvocations: tasks },
        awsCostPerRunUsd: round(cost, 5),
        awsCostPer1000RunsUsd: round(cost * 1000, 2),
        ssm: {
          runbook: c.ssm.runbook,
          steps: c.ssm.steps,
          costPer1000RunsUsd: round(c.ssm.steps * SSM_STEP * 1000, 2),
        },
        priceSources: PRICE_SOURCES,
      });
    }
  } finally {
    await local.stop();
  }
  return out;
}
