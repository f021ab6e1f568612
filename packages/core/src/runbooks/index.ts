/**
 * The runbook registry: the one list of runbooks, built-ins and the config's own. Each entry is
 * a whole manifest (`defineRunbook`): the API, the CLI, the local engine, the config validator,
 * the stacks and the step worker all read it, and the step worker loads a runbook's steps from
 * its manifest (`implementation`) only when one runs. A built-in is listed here once; a team's
 * own runbook is listed in its `reflex.config.ts` (`runbooks: [...]`), never here.
 */

import type { z } from "zod";
import { NotFoundError, RunbookDefinitionError } from "../errors.ts";
import { backupSnapshot } from "./backup-snapshot/index.ts";
import { defineRunbook, type Implementation, type Runbook, type RunbookSpec } from "./define.ts";
import { failover } from "./failover/index.ts";
import { patch } from "./patch/index.ts";
import { type RunResult, resultOf } from "./result.ts";
import { scale } from "./scale/index.ts";

export type {
  Implementation,
  InspectLost,
  Permission,
  PermissionScope,
  Precheck,
  PrecheckContext,
  PrecheckRefusal,
  Risk,
  Runbook,
  RunbookReport,
  RunbookSpec,
  RunHistory,
  RunInput,
  StepContext,
  StepMap,
} from "./define.ts";
export {
  checkSpec,
  defineRunbook,
  HISTORY_SUMMARY,
  hasApprovalWait,
  implementSteps,
  permissionProblems,
  sdkAction,
  stepsBeforeApproval,
  TAG_SCOPED_SERVICES,
  TAGGING_ACTIONS,
  taskStates,
} from "./define.ts";
export { replaceRootPermissions } from "./permissions.ts";
export type { Artifact, RunResult, RunSummary, TargetResult, TargetStatus } from "./result.ts";
export { countByStatus, resultOf, runResultSchema, TARGET_STATUSES } from "./result.ts";

/**
 * A run's results in the one result shape, from what its steps recorded: what the API serves
 * as `outcome`, and all the CLI, the console and Slack render. A run of a runbook no longer
 * registered (taken out of the config) is read as if its record were the shape.
 */
export function outcomeOf(e: {
  runbook: string;
  dryRun: boolean;
  status: string;
  error?: string | null;
  cause?: string | null;
  result?: Record<string, unknown>;
}): RunResult {
  const runbook = registry.get(e.runbook) ?? { name: e.runbook };
  return resultOf(runbook, e.result, { dryRun: e.dryRun, status: e.status, error: e.error, cause: e.cause });
}

const registry = new Map<string, Runbook>();
const builtIns = new Set<string>();
const loaded = new Map<string, Promise<Implementation>>();

/**
 * Adds a runbook to the registry (the built-ins are registered on import; the config's own by
 * `registerAll`) and returns its name. Refuses a second runbook of a name already taken.
 */
export function register<S extends z.ZodType>(runbook: Runbook<S>): string {
  const existing = registry.get(runbook.name);
  if (existing && existing !== runbook) {
    throw new RunbookDefinitionError(
      `runbook '${runbook.name}' is ${builtIns.has(runbook.name) ? "a built-in runbook" : "already registered"}: give yours another name`,
      { runbook: runbook.name, issues: [{ path: "name", message: `'${runbook.name}' is taken` }] },
    );
  }
  // The registry holds runbooks of every params type; each is read back through its own schema.
  registry.set(runbook.name, runbook as unknown as Runbook);
  return runbook.name;
}

const fromConfig = new Map<string, unknown>();

/**
 * Registers a runbook a config lists (its manifest, checked by the config's validation), and
 * returns it. The same manifest again is a no-op, so a config may be validated more than once.
 */
export function registerFromConfig(spec: RunbookSpec<z.ZodType> | Runbook): Runbook {
  const known = fromConfig.get(spec.name);
  if (known === spec) return get(spec.name);
  const runbook = "jsonSchema" in spec && Array.isArray(spec.steps) ? spec : defineRunbook(spec);
  register(runbook);
  fromConfig.set(spec.name, spec);
  return runbook;
}

/** True when `spec` is the manifest a config registered under `name`. */
export function isConfigRunbook(name: string, spec: unknown): boolean {
  return fromConfig.get(name) === spec;
}

/** Removes a runbook that is not built in (tests, and a config reloaded without it). */
export function unregister(name: string): void {
  if (builtIns.has(name)) throw new RunbookDefinitionError(`runbook '${name}' is built in`);
  registry.delete(name);
  loaded.delete(name);
  fromConfig.delete(name);
}

/** True for the runbooks Reflex ships. */
export function isBuiltIn(name: string): boolean {
  return builtIns.has(name);
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

/**
 * A runbook's step implementations, loaded from its manifest on first use and checked against
 * its state machine: every step it calls is implemented, and nothing else.
 */
export function implementationOf(name: string): Promise<Implementation> {
  const runbook = get(name);
  let hit = loaded.get(name);
  if (!hit) {
    hit = (async () => {
      const impl = runbook.implementation
        ? await runbook.implementation()
        : { steps: {} as Implementation["steps"] };
      const missing = runbook.steps.filter((s) => typeof impl?.steps?.[s] !== "function");
      const extra = Object.keys(impl?.steps ?? {}).filter((s) => !runbook.steps.includes(s));
      if (missing.length || extra.length)
        throw new RunbookDefinitionError(
          `runbook '${name}' steps do not match its state machine:${missing.length ? ` no implementation for: ${missing.join(", ")};` : ""}${extra.length ? ` not called: ${extra.join(", ")}` : ""}`,
          {
            runbook: name,
            issues: [{ path: "implementation", message: "steps do not match its state machine" }],
          },
        );
      return impl;
    })();
    hit.catch(() => loaded.delete(name));
    loaded.set(name, hit);
  }
  return hit;
}

/** A runbook's steps; NotFoundError when there is no such runbook. */
export async function stepsOf(name: string): Promise<Implementation["steps"]> {
  return (await implementationOf(name)).steps;
}

for (const r of [register(backupSnapshot), register(scale), register(failover), register(patch)])
  builtIns.add(r);
