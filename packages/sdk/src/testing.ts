/**
 * The runbook test kit: `simulate(runbook, { params, seed, faults, as })` runs a runbook the
 * way local mode does — admitted through `admit()`, on the local Step Functions engine, its
 * steps' SDK calls answered by a seeded simulated AWS account — and returns the run, its
 * results in the one result shape and every cloud call it made. Then assert with the helpers:
 * `mutatingCalls` (none: a dry-run changed nothing), `unfinishedTargets` (none: every target
 * ended succeeded or rolled back), `callsOutsidePermissions` (none: it called nothing it does
 * not declare).
 *
 * @example
 * const run = await simulate(restartService, { params: { unit: "nginx", selector: { tag: { Role: "web" } } }, dryRun: true });
 * expect(mutatingCalls(run)).toEqual([]);
 */
import { type Runbooks, validateConfig } from "@reflex/core";
import type { FaultSpec } from "@reflex/local/cloud/faults";
import { type CallRecord, SimulatedCloud } from "@reflex/local/cloud/index";
import { setPatchingSettings } from "@reflex/local/cloud/patching-helpers";
import { startLocal } from "@reflex/local/local-mode";
import type { RunbookSpec, RunResult } from "./index.ts";

export interface SimulateOptions {
  /** The run's params; a function gets the prepared account (ids `setup` made). */
  params: Record<string, unknown> | ((cloud: SimulatedCloud) => Record<string, unknown>);
  dryRun?: boolean;
  /** The simulated account's seed: the same seed, the same ids. Default 1. */
  seed?: number;
  /** Faults to arm before the run (`{ operation: "SendCommand", kind: "error", code: "InternalError", times: 1 }`). */
  faults?: FaultSpec[];
  /** Who starts it (the actor access is checked for). Default `cli:test`. */
  as?: string;
  /** More config (access, guardrails, pairs, a runbook's own keys), as in `reflex.config.ts`; a function gets the prepared account. */
  config?: Record<string, unknown> | ((cloud: SimulatedCloud) => Record<string, unknown>);
  /** Prepare the simulated account before the run (tag instances, add a unit). */
  setup?: (cloud: SimulatedCloud) => void | Promise<void>;
}

export interface Simulation {
  /** The run as `GET /api/executions/:id` serves it (status, steps, audit, the raw record). */
  run: {
    id: string;
    status: string;
    dryRun: boolean;
    error?: string | null;
    cause?: string | null;
    result?: Record<string, unknown>;
    [k: string]: unknown;
  };
  /** Its results in the one result shape. */
  outcome: RunResult;
  /** Every call its steps (and its AWS SDK Tasks) made to the simulated account, in order. */
  calls: CallRecord[];
  /** The runbook as registered. */
  runbook: RunbookSpec;
  /** The simulated account after the run. */
  cloud: SimulatedCloud;
}

/** Runs `runbook` once, start to end, and reports what it did. Refused (thrown) when the runbook or the start is not valid. */
export async function simulate(runbook: RunbookSpec, opts: SimulateOptions): Promise<Simulation> {
  const session = await openSimulation(runbook, opts);
  try {
    for (const f of opts.faults ?? []) session.cloud.injectFault(f);
    const params = typeof opts.params === "function" ? opts.params(session.cloud) : opts.params;
    return await session.run(params, { dryRun: opts.dryRun, as: opts.as });
  } finally {
    await session.close();
  }
}

/**
 * A simulated account and local mode kept between runs, for what one run cannot show: a second
 * run that reads what the first left (a stop, then a start; an override, then its expiry).
 * `run` starts one run and waits for it to end; `close` stops local mode.
 *
 * @example
 * const s = await openSimulation(offHours, { params: {}, config });
 * const stop = await s.run({ at: "2026-03-30T17:05:00Z" });
 * const start = await s.run({ at: "2026-03-31T05:05:00Z" });
 * await s.close();
 */
export async function openSimulation(
  runbook: RunbookSpec,
  opts: Omit<SimulateOptions, "params" | "dryRun" | "faults"> & { params?: SimulateOptions["params"] },
): Promise<SimulationSession> {
  const cloud = SimulatedCloud.seeded({
    seed: opts.seed ?? 1,
    snapshotDurationMs: 50,
    // Volumes from snapshots are ready in tens of milliseconds here (seconds by default).
    volumeCreateMs: 30,
    volumeCreatePerGiBMs: 0.1,
    volumeAttachMs: 20,
    // Fast snapshot restore enabled in tens of milliseconds (a minute and 60 min per TiB by default).
    fastRestoreEnablingMs: 20,
    fastRestoreOptimizingMsPerGiB: 0.1,
    random: seeded(opts.seed ?? 1),
  });
  // Run Command finishes in 20 ms here (2 s by default), so polls see it end quickly.
  setPatchingSettings(cloud, { commandDurationMs: 20 });
  await opts.setup?.(cloud);
  const extra = typeof opts.config === "function" ? opts.config(cloud) : opts.config;
  const config = validateConfig({ ...extra, runbooks: [runbook] });
  const local = await startLocal({
    config,
    port: 0,
    quiet: true,
    dataDir: null,
    waitMs: 5,
    scheduler: false,
    cloud,
  });
  const run = async (
    params: Record<string, unknown>,
    o: { dryRun?: boolean; as?: string } = {},
  ): Promise<Simulation> => {
    const mark = cloud.lastCallSeq;
    const res = await fetch(`${local.url}/api/runbooks/${encodeURIComponent(runbook.name)}/executions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": o.as ?? opts.as ?? "cli:test" },
      body: JSON.stringify({ params, dryRun: o.dryRun ?? false }),
    });
    const started = (await res.json()) as { executionId?: string; error?: { code: string; message: string } };
    if (res.status !== 202 || !started.executionId)
      throw new Error(
        `simulate: ${runbook.name} was not started: ${started.error?.code}: ${started.error?.message}`,
      );
    await local.idle();
    const run = (await (
      await fetch(`${local.url}/api/executions/${started.executionId}`)
    ).json()) as Simulation["run"] & {
      outcome: RunResult;
    };
    const calls = cloud.calls.filter((c) => c.seq > mark && c.executionId === started.executionId);
    return { run, outcome: run.outcome, calls, runbook, cloud };
  };
  return { run, cloud, url: local.url, local, close: () => local.stop() };
}

export interface SimulationSession {
  /** Starts one run (through `POST /api/runbooks/:name/executions`, so through `admit()`) and waits for it to end. */
  run(params: Record<string, unknown>, opts?: { dryRun?: boolean; as?: string }): Promise<Simulation>;
  cloud: SimulatedCloud;
  /** Local mode's URL (its API: `GET /api/audit`, `GET /api/runbooks/:name/items`…). */
  url: string;
  /** Local mode itself (its scheduler's jobs, `idle()`). */
  local: Awaited<ReturnType<typeof startLocal>>;
  close(): Promise<void>;
}

/** Registers instances of the simulated account as SSM-managed nodes (Run Command reaches them). */
export { manageWithSsm } from "@reflex/local/cloud/patching-helpers";

/** The mutating calls of a simulation (a dry-run must have none). */
export function mutatingCalls(s: Pick<Simulation, "calls">): CallRecord[] {
  return s.calls.filter((c) => c.mutating);
}

/** The targets that ended neither succeeded nor rolled back (empty when every one did). */
export function unfinishedTargets(s: Pick<Simulation, "outcome">): Runbooks.TargetResult[] {
  return s.outcome.targets.filter((t) => t.status !== "succeeded" && t.status !== "rolled-back");
}

/** IAM's service prefix for the simulated cloud's service names. */
const IAM_PREFIX: Record<string, string> = { elbv2: "elasticloadbalancing", "dynamodb-tables": "dynamodb" };
/** API operations whose IAM action has another name. */
const IAM_ACTION: Record<string, string> = { "lambda:Invoke": "lambda:InvokeFunction" };

/** Calls the runbook made that its declared permissions do not allow (`ssm:SendCommand`), each once. */
export function callsOutsidePermissions(s: Pick<Simulation, "calls" | "runbook">): string[] {
  const declared = new Set(s.runbook.permissions.flatMap((p) => p.actions));
  const made = new Set(
    s.calls.map((c) => {
      const action = `${IAM_PREFIX[c.service] ?? c.service}:${c.operation}`;
      return IAM_ACTION[action] ?? action;
    }),
  );
  return [...made].filter((a) => !declared.has(a)).sort();
}

/** A small seeded PRNG (mulberry32), so faults with a rate fire the same way on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
