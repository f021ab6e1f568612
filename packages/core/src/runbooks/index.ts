/**
 * The runbook registry. Every runbook Reflex ships is listed here once; the API, the local
 * engine, the config validator and the stacks all read this list, so adding a runbook here is
 * the whole of wiring it up.
 */
import { NotFoundError } from "../errors.ts";
import { backupSnapshot } from "./backup-snapshot/index.ts";
import type { Runbook } from "./define.ts";
import { failover } from "./failover/index.ts";
import { patch } from "./patch/index.ts";
import { scale } from "./scale/index.ts";

export type {
  Permission,
  PermissionScope,
  Risk,
  Runbook,
  RunInput,
  StepContext,
  StepMap,
} from "./define.ts";
export {
  defineRunbook,
  implementSteps,
  permissionProblems,
  TAG_SCOPED_SERVICES,
  TAGGING_ACTIONS,
  taskStates,
} from "./define.ts";

const registry = new Map<string, Runbook>();

/** Adds a runbook to the registry (the built-ins are registered on import). */
export function register(runbook: Runbook<any>): void {
  registry.set(runbook.name, runbook as Runbook);
}

/** Every registered runbook, by name. */
export function list(): Runbook[] {
  return [...registry.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The runbook called `name`; NotFoundError when there is none. */
export function get(name: string): Runbook {
  const found = registry.get(name);
  if (!found) throw new NotFoundError("runbook", name);
  return found;
}

/** True when a runbook called `name` is registered. */
export function has(name: string): boolean {
  return registry.has(name);
}

register(backupSnapshot);
register(scale);
register(failover);
register(patch);
