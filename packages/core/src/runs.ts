/**
 * Starting runs, running their steps, and closing them. The same functions serve every entry
 * point (API, CLI, schedules, the event gate) and both modes: in AWS they call Step Functions,
 * locally the local Step Functions API, through the same SDK client.
 */
import { randomBytes } from "node:crypto";
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { client } from "./aws.ts";
import { currentConfig, toIssues } from "./config/index.ts";
import { optionalEnv, region } from "./env.ts";
import { ConflictError, ValidationError } from "./errors.ts";
import * as Guardrails from "./gate/guardrails.ts";
import * as Lifecycle from "./lifecycle.ts";
import * as Runbooks from "./runbooks/index.ts";
import * as Audit from "./state/audit.ts";
import * as Executions from "./state/executions.ts";
import * as Locks from "./state/locks.ts";

export interface StartRequest {
  runbook: string;
  params: unknown;
  dryRun?: boolean;
  trigger: Executions.Trigger;
  /** The execution name; the gate passes its dedup key so a retried start is the same run. */
  executionId?: string;
  /**
   * Something the caller reserves in parallel with the target lock (the gate's rate-limit
   * slot): resolves to undefined when granted, or the reason it was refused — then the run does
   * not start (ConflictError `reservation_refused`) and the lock is given back.
   */
  reservation?: Promise<string | undefined>;
}

/** The ARN of a runbook's state machine: `REFLEX_STATE_MACHINE_ARN_PREFIX` + name. */
export function stateMachineArn(runbook: string): string {
  const prefix = optionalEnv(
    "REFLEX_STATE_MACHINE_ARN_PREFIX",
    `arn:aws:states:${region()}:000000000000:stateMachine:reflex-local-`,
  );
  return `${prefix}${runbook}`;
}

/** A fresh execution id: `<runbook>-<utc time>-<random>`, valid as a Step Functions name. */
export function newExecutionId(runbook: string, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${runbook}-${stamp}-${randomBytes(3).toString("hex")}`;
}

/** Validates params against the runbook's schema; ValidationError naming each bad path. */
export function parseParams(runbook: Runbooks.Runbook, params: unknown): Record<string, unknown> {
  const result = runbook.params.safeParse(params ?? {});
  if (!result.success) {
    const issues = toIssues(result.error, ["params"]);
    throw new ValidationError(
      "invalid_params",
      `invalid params for ${runbook.name}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
      issues,
    );
  }
  return result.data as Record<string, unknown>;
}

/**
 * Validates, takes the target lock, records and starts a run. Nothing is written for invalid
 * input; a lock held by another run is a ConflictError (`target_locked`).
 *
 * @example
 * const run = await Runs.start({ runbook: "backup-snapshot", params: { selector: { tag: { Backup: "daily" } } },
 *   trigger: { kind: "manual", actor: "cli" } });
 */
export async function start(req: StartRequest, now = new Date()): Promise<Executions.Execution> {
  const runbook = Runbooks.get(req.runbook);
  const params = parseParams(runbook, req.params);
  const dryRun = req.dryRun ?? false;
  const id = req.executionId ?? newExecutionId(runbook.name, now);
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(id)) {
    throw new ValidationError("invalid_execution_id", `execution id '${id}' must be 1-80 of A-Z a-z 0-9 _ -`);
  }
  // A dry-run changes nothing, so it takes no lock and can run beside a real run.
  const lockKey = dryRun ? undefined : (runbook.lockKey?.(params as never) ?? runbook.name);
  const lease = currentConfig().guardrails.lockLease;
  // The caller's reservation (the gate's rate-limit slot) is taken alongside the lock.
  const [locked, refusal] = await Promise.all([
    lockKey ? Locks.acquire(lockKey, id, lease, now.getTime()) : true,
    req.reservation,
  ]);
  if (refusal) {
    if (lockKey && locked) await Locks.release(lockKey, id);
    throw new ConflictError("reservation_refused", refusal);
  }
  if (lockKey && !locked) {
    const holder = await Locks.holder(lockKey, now.getTime());
    throw new ConflictError(
      "target_locked",
      `target '${lockKey}' is locked by execution ${holder?.owner ?? "(released just now)"}`,
    );
  }
  let execution: Executions.Execution;
  try {
    execution = await Executions.create(
      { id, runbook: runbook.name, dryRun, params, trigger: req.trigger, locks: lockKey ? [lockKey] : [] },
      now,
    );
  } catch (err) {
    // The lock is ours to give back unless a run of this very id still holds it: the lock's
    // owner is the execution id, so a retried start (same id) re-enters it.
    if (lockKey) {
      const same = err instanceof ConflictError ? await Executions.find(id) : undefined;
      if (same?.status !== "RUNNING") await Locks.release(lockKey, id);
    }
    throw err;
  }
  // The audit entry, the lifecycle event and StartExecution go together: each only needs the
  // record to exist. If the start fails, the run is closed as FAILED (audited and published).
  const audit = Audit.record(
    {
      kind: "execution.started",
      actor: req.trigger.actor,
      reason: `${dryRun ? "dry-run of " : ""}${runbook.name} started by ${req.trigger.kind}${req.trigger.name ? ` '${req.trigger.name}'` : ""}`,
      executionId: id,
      runbook: runbook.name,
      eventId: req.trigger.eventId,
      data: { params, dryRun, lock: lockKey },
    },
    now,
  );
  const published = Lifecycle.publish(
    "Execution Started",
    { executionId: id, runbook: runbook.name, dryRun, trigger: req.trigger, params },
    now,
  );
  try {
    await client(SFNClient, "sfn").send(
      new StartExecutionCommand({
        stateMachineArn: stateMachineArn(runbook.name),
        name: id,
        input: JSON.stringify({
          execution: { id, runbook: runbook.name, dryRun, startedAt: execution.startedAt },
          params,
        }),
      }),
    );
  } catch (err) {
    await Promise.all([audit, published]);
    await finish(id, { status: "FAILED", error: "StartFailed", cause: (err as Error).message });
    throw err;
  }
  await Promise.all([audit, published]);
  return execution;
}

/** Runs started by rules and schedules (not by a person) count toward the circuit breaker. */
const AUTOMATIC: ReadonlyArray<Executions.Trigger["kind"]> = ["rule", "schedule", "window"];

/** The terminal statuses Step Functions reports, as Reflex records them. */
export type FinalStatus = Exclude<Executions.ExecutionStatus, "RUNNING">;

/**
 * Closes a run: marks the record, releases its locks, audits. Safe to call twice (a
 * redelivered status event); only the first call does anything. Returns the closed record.
 */
export async function finish(
  id: string,
  outcome: { status: FinalStatus; error?: string; cause?: string },
  now = new Date(),
): Promise<Executions.Execution | undefined> {
  const closed = await Executions.complete(id, outcome, now);
  if (!closed) return undefined;
  const succeeded = outcome.status === "SUCCEEDED";
  const aborted = outcome.status === "ABORTED";
  const failedAutomatically =
    (outcome.status === "FAILED" || outcome.status === "TIMED_OUT") &&
    AUTOMATIC.includes(closed.trigger.kind) &&
    !closed.dryRun;
  // Once the record is closed, the rest are independent of each other.
  await Promise.all([
    ...(closed.locks ?? []).map((lock) => Locks.release(lock, id)),
    Audit.record(
      {
        kind: succeeded ? "execution.succeeded" : aborted ? "execution.aborted" : "execution.failed",
        actor: `runbook:${closed.runbook}`,
        reason: succeeded
          ? `${closed.runbook} succeeded`
          : `${closed.runbook} ${outcome.status.toLowerCase()}: ${outcome.error ?? ""}${outcome.cause ? ` — ${outcome.cause}` : ""}`,
        executionId: id,
        runbook: closed.runbook,
      },
      now,
    ),
    Lifecycle.publish(
      succeeded ? "Execution Succeeded" : aborted ? "Execution Aborted" : "Execution Failed",
      {
        executionId: id,
        runbook: closed.runbook,
        status: outcome.status,
        error: outcome.error,
        cause: outcome.cause,
        trigger: closed.trigger,
        result: closed.result,
      },
      now,
    ),
    failedAutomatically ? Guardrails.recordFailure(currentConfig(), id, now.getTime()) : undefined,
  ]);
  return closed;
}

/** The ARN of a run's Step Functions execution (its name is the execution id). */
export function executionArn(runbook: string, id: string): string {
  return `${stateMachineArn(runbook).replace(":stateMachine:", ":execution:")}:${id}`;
}

/**
 * Closes runs whose end Reflex never heard of: the status event was lost, or the run never
 * reached Step Functions (the process died between recording it and StartExecution, or local
 * mode restarted). For each RUNNING run older than `olderThanMs`, asks Step Functions; an
 * ended execution closes the run with its real status, a missing one closes it ABORTED
 * (`ExecutionLost`). Closing releases locks and is audited like any other end. Runs on a
 * schedule in AWS, and when local mode starts.
 *
 * @example
 * const closed = await Runs.reconcile({ olderThanMs: 10 * 60_000 });
 */
export async function reconcile(
  opts: { olderThanMs?: number; now?: Date; scanLimit?: number } = {},
): Promise<Array<{ executionId: string; status: FinalStatus; reason: string }>> {
  const now = opts.now ?? new Date();
  const cutoff = now.getTime() - (opts.olderThanMs ?? 10 * 60_000);
  const closed: Array<{ executionId: string; status: FinalStatus; reason: string }> = [];
  let scanned = 0;
  let cursor: string | undefined;
  do {
    const page = await Executions.list({ limit: 100, cursor });
    for (const e of page.executions) {
      if (e.status !== "RUNNING" || Date.parse(e.startedAt) > cutoff) continue;
      let outcome: { status: FinalStatus; error?: string; cause?: string };
      try {
        const found = await client(SFNClient, "sfn").send(
          new DescribeExecutionCommand({ executionArn: executionArn(e.runbook, e.id) }),
        );
        if (found.status === "RUNNING" || found.status === "PENDING_REDRIVE" || !found.status) continue;
        outcome = { status: found.status as FinalStatus, error: found.error, cause: found.cause };
      } catch (err) {
        if ((err as Error).name !== "ExecutionDoesNotExist") throw err;
        outcome = {
          status: "ABORTED",
          error: "ExecutionLost",
          cause:
            "Step Functions has no execution for this run: it never started, or local mode restarted while it ran",
        };
      }
      if (await finish(e.id, outcome, now)) {
        closed.push({ executionId: e.id, status: outcome.status, reason: outcome.error ?? outcome.status });
      }
    }
    scanned += page.executions.length;
    cursor = page.next;
  } while (cursor && scanned < (opts.scanLimit ?? 2000));
  return closed;
}
