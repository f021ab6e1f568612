/**
 * Step implementations by runbook: what the step worker runs. Apart from the registry of
 * definitions (`./index.ts`) so that the event gate, the API and the schedule handler never load
 * the steps' cloud clients.
 */
import { NotFoundError } from "../errors.ts";
import { backupSteps } from "./backup-snapshot/handlers.ts";
import type { InspectLost, StepMap } from "./define.ts";
import { failoverSteps } from "./failover/handlers.ts";
import { patchSteps } from "./patch/handlers.ts";
import { scaleSteps } from "./scale/handlers.ts";

const implementations = new Map<string, StepMap>();
const inspectors = new Map<string, InspectLost>();

/** Adds a runbook's steps (the built-ins are there already). */
export function registerSteps(implemented: {
  runbook: string;
  steps: StepMap;
  inspectLost?: InspectLost;
}): void {
  implementations.set(implemented.runbook, implemented.steps);
  if (implemented.inspectLost) inspectors.set(implemented.runbook, implemented.inspectLost);
}
registerSteps(backupSteps);
registerSteps(scaleSteps);
registerSteps(failoverSteps);
registerSteps(patchSteps);

/** A runbook's report on a lost run of its own, or undefined when it has none. */
export function inspectorOf(runbook: string): InspectLost | undefined {
  return inspectors.get(runbook);
}

/** A runbook's steps; NotFoundError when none are registered for it. */
export function stepsOf(runbook: string): StepMap {
  const found = implementations.get(runbook);
  if (!found) throw new NotFoundError("step implementations of runbook", runbook);
  return found;
}
