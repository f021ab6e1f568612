/**
 * Running one step of a runbook: the step worker's (Lambda's) whole job. Apart from `runs.ts`
 * because it loads the runbook's step implementations (from its manifest, on first use) and
 * their cloud clients, which the code that only starts runs must not carry.
 */

import * as Approvals from "./approvals.ts";
import { classify, TRANSIENT_ERROR } from "./aws-errors.ts";
import { currentConfig } from "./config/index.ts";
import { StepExecutionError, ValidationError } from "./errors.ts";
import { APPROVAL_STEP, RUN_ABORTED, VERIFY_APPROVAL_STEP } from "./runbooks/asl.ts";
import type { StepContext } from "./runbooks/index.ts";
import * as Runbooks from "./runbooks/index.ts";
import * as Audit from "./state/audit.ts";
import * as Executions from "./state/executions.ts";
import * as Locks from "./state/locks.ts";
import * as RunbookItems from "./state/runbook-items.ts";

/** After this long a step gets a RUNNING record of its own. */
const SLOW_STEP_MS = 2000;

/**
 * One lock per target, in sorted order, each named on the run's record before it is taken (so
 * closing the run releases it, and a crash in between leaves nothing the reconciler cannot
 * find). Not all-or-nothing: a target held by another run is reported, the rest are kept.
 */
export async function lockTargets(
  executionId: string,
  targets: string[],
  leaseMs: number,
  now: Date,
): Promise<{ held: string[]; locked: Array<{ target: string; holder?: string }> }> {
  const ordered = Locks.order(targets);
  await Executions.addLocks(executionId, ordered);
  const held: string[] = [];
  const locked: Array<{ target: string; holder?: string }> = [];
  for (const target of ordered) {
    if (await Locks.acquire(target, executionId, leaseMs, now.getTime())) held.push(target);
    else locked.push({ target, holder: (await Locks.holder(target, now.getTime()))?.owner });
  }
  return { held, locked };
}

/** The Lambda payload of every Task state. */
export interface StepEvent {
  runbook: string;
  step: string;
  input: Runbooks.RunInput & Record<string, unknown>;
}

/**
 * Runs one step of a runbook and records it (a step record, and an audit entry).
 * Errors are rethrown renamed for the state machine's Retry/Catch (see "Errors" in
 * `runbooks/define.ts`): a transient AWS error by its code (or `Reflex.TransientError`), which
 * the retriers retry for minutes; a permanent one by its own code, which fails the step at once.
 */
export async function runStep(event: StepEvent, now: () => Date = () => new Date()): Promise<unknown> {
  const runbook = Runbooks.get(event.runbook);
  // The approval state's built-in step: record the request; the run then waits for its token.
  if (event.step === APPROVAL_STEP) {
    await Approvals.request(event as unknown as Approvals.ApprovalTaskEvent, now());
    return { requested: true };
  }
  // After the wait: the approval record, not the token's answer, decides whether the run goes
  // on. Recorded like any step (the console and `reflex show` see it pass or fail). Exempt
  // from the abort check below: an abort after the approval is for the next step to see, so
  // that the runbook's rollback (its Catch) runs as the abort's answer said it would.
  const verify = event.step === VERIFY_APPROVAL_STEP;
  // Graceful abort: a person asked the run to stop. No new step starts, except the runbook's
  // rollback steps, which undo what was done; steps in flight have finished by now.
  if (!verify && !runbook.rollback.includes(event.step)) {
    const record = await Executions.find(event.input.execution.id);
    if (record?.cancel) {
      const e = new StepExecutionError(
        RUN_ABORTED,
        `aborted by ${record.cancel.by}: ${record.cancel.reason}`,
      );
      e.name = RUN_ABORTED;
      throw e;
    }
  }
  const fn = verify
    ? () => Approvals.verify(event, now())
    : (await Runbooks.stepsOf(runbook.name))[event.step];
  if (!fn) throw new ValidationError("unknown_step", `runbook ${runbook.name} has no step '${event.step}'`);
  const execution = event.input.execution;
  const config = currentConfig();
  const ctx: StepContext & { maxTargets: number } = {
    executionId: execution.id,
    runbook: runbook.name,
    dryRun: execution.dryRun,
    state: event.step,
    now,
    automationTag: config.automationTag,
    maxTargets: Math.min(runbook.cap.maxTargets, config.guardrails.maxTargetsPerRun),
    lockTargets: (targets) => lockTargets(execution.id, targets, config.guardrails.lockLease, now()),
    record: (fields) => Executions.setResult(execution.id, fields),
    items: {
      put: (key, value, opts) => RunbookItems.put(runbook.name, key, value, { ...opts, now: now() }),
      list: (prefix) => RunbookItems.list(runbook.name, prefix, now()),
      remove: (key) => RunbookItems.remove(runbook.name, key),
    },
    actor: async () => (await Executions.find(execution.id))?.trigger.actor ?? "unknown",
    config: Object.fromEntries(
      Object.keys(runbook.config ?? {}).map((k) => [
        k,
        config.runbookConfig?.[k] ?? (config as unknown as Record<string, unknown>)[k],
      ]),
    ),
  };
  const target = (event.input.target as { instanceId?: string } | undefined)?.instanceId;
  const step = { state: event.step, step: event.step, target };
  const startedAt = now();
  const sk = Executions.stepKey(step, startedAt);
  // Most steps take milliseconds: one write records them. A step still running after a while
  // gets a RUNNING record, so `reflex show` can say what a run is doing right now.
  let started: Promise<void> | undefined;
  const watch = setTimeout(() => {
    started = Executions.startStep(execution.id, sk, step, startedAt).catch(() => undefined);
  }, SLOW_STEP_MS);
  const settle = async () => {
    clearTimeout(watch);
    await started; // the RUNNING record must land before the outcome, never after it
  };
  try {
    const output = await fn(event.input, ctx);
    await settle();
    await Executions.endStep(execution.id, sk, step, { status: "SUCCEEDED", output, startedAt }, now());
    return output;
  } catch (err) {
    const e = err as Error & { code?: string };
    const { kind, name } = classify(e);
    await settle();
    await Executions.endStep(
      execution.id,
      sk,
      step,
      { status: "FAILED", error: name, cause: e.message, startedAt },
      now(),
    );
    await Audit.record({
      kind: "step.failed",
      actor: `runbook:${runbook.name}`,
      reason: `step ${event.step}${target ? ` on ${target}` : ""} failed: ${name}: ${e.message} (${kind === "transient" ? "transient: retried with backoff" : "permanent: not retried"})`,
      executionId: execution.id,
      runbook: runbook.name,
    });
    // Step Functions matches Retry/Catch on the error's name.
    if (name !== e.name) {
      // A renamed error keeps what it was in its message, so the run's cause still says it.
      if (name === TRANSIENT_ERROR && !e.message.startsWith(e.name))
        e.message = `${e.code ?? e.name}: ${e.message}`;
      e.name = name;
    }
    throw err;
  }
}

/**
 * The reconciler's hook for lost runs: asks the run's runbook what the run left behind. Lives
 * here, with the step implementations, because answering needs their cloud clients.
 */
export async function inspectLost(e: Executions.Execution): Promise<unknown> {
  if (!Runbooks.has(e.runbook)) return undefined;
  return (await Runbooks.implementationOf(e.runbook)).inspectLost?.(e);
}
