/**
 * Running one step of a runbook: the step worker's (Lambda's) whole job. Apart from `runs.ts`
 * because it loads every runbook's step implementations and their cloud clients, which the
 * code that only starts runs must not carry.
 */
import { classify, TRANSIENT_ERROR } from "./aws-errors.ts";
import { currentConfig } from "./config/index.ts";
import { ValidationError } from "./errors.ts";
import { stepsOf } from "./runbooks/implementations.ts";
import type { StepContext } from "./runbooks/index.ts";
import * as Runbooks from "./runbooks/index.ts";
import * as Audit from "./state/audit.ts";
import * as Executions from "./state/executions.ts";

/** After this long a step gets a RUNNING record of its own. */
const SLOW_STEP_MS = 2000;

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
  const fn = stepsOf(runbook.name)[event.step];
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
