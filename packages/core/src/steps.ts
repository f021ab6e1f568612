/**
 * Running one step of a runbook: the step worker's (Lambda's) whole job. Apart from `runs.ts`
 * because it loads every runbook's step implementations and their cloud clients, which the
 * code that only starts runs must not carry.
 */
import { currentConfig } from "./config/index.ts";
import { ValidationError } from "./errors.ts";
import { stepsOf } from "./runbooks/implementations.ts";
import type { StepContext } from "./runbooks/index.ts";
import * as Runbooks from "./runbooks/index.ts";
import * as Audit from "./state/audit.ts";
import * as Executions from "./state/executions.ts";

/** The Lambda payload of every Task state. */
export interface StepEvent {
  runbook: string;
  step: string;
  input: Runbooks.RunInput & Record<string, unknown>;
}

/**
 * Runs one step of a runbook and records it (a step record, and an audit entry).
 * Errors are rethrown with their name, so the state machine's Retry/Catch can match them.
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
  const startedAt = now();
  const sk = await Executions.startStep(
    execution.id,
    { state: event.step, step: event.step, target },
    startedAt,
  );
  try {
    const output = await fn(event.input, ctx);
    await Executions.endStep(execution.id, sk, { status: "SUCCEEDED", output, startedAt }, now());
    return output;
  } catch (err) {
    const e = err as Error & { code?: string };
    await Executions.endStep(
      execution.id,
      sk,
      { status: "FAILED", error: e.name, cause: e.message, startedAt },
      now(),
    );
    await Audit.record({
      kind: "step.failed",
      actor: `runbook:${runbook.name}`,
      reason: `step ${event.step}${target ? ` on ${target}` : ""} failed: ${e.name}: ${e.message}`,
      executionId: execution.id,
      runbook: runbook.name,
    });
    // Step Functions matches Retry/Catch on the error's name: use the code when there is one.
    if (e.code && e.name !== e.code && /Error$/.test(e.name)) e.name = e.code;
    throw err;
  }
}
