/**
 * Target locations: one run of a runbook in many accounts and Regions, as SSM Automation's
 * `TargetLocations` — one child run per location, at most `locationConcurrency` at once, and
 * no new location started once more than `locationMaxErrors` have failed (both a number or a
 * percentage of the locations, as SSM takes them). Every child goes through `admit()`; a
 * location whose role cannot be assumed fails that child only, with the reason, and counts
 * against `locationMaxErrors`.
 *
 * @example
 * const outcome = await Locations.start(
 *   { runbook: "backup-snapshot", params: { selector: { tag: { Backup: "daily" } } }, trigger: { kind: "manual" }, actor },
 *   { accounts: ["tag:env=prod"] }, { locationConcurrency: 2, locationMaxErrors: "10%" }, waitForEnd);
 */
import { type LocationSelector, resolveLocations } from "./accounts.ts";
import { type AdmitRequest, admit } from "./admission/index.ts";
import { currentConfig } from "./config/index.ts";
import { ValidationError } from "./errors.ts";
import * as Runbooks from "./runbooks/index.ts";
import { newExecutionId, parseParams } from "./runs-api.ts";
import * as Audit from "./state/audit.ts";
import * as Executions from "./state/executions.ts";

/** A count, or a percentage of the locations (`"50%"`). */
export type Limit = number | string;

export interface LocationLimits {
  /** How many locations run at once. Default 1 (one at a time, as the safest start). */
  locationConcurrency?: Limit;
  /** How many locations may fail before no new one starts. Default 0: stop after the first failure. */
  locationMaxErrors?: Limit;
}

/** How one location ended. `SKIPPED`: not started, because too many had failed. */
export interface LocationOutcome {
  account: string;
  accountName?: string;
  region: string;
  executionId?: string;
  status: string;
  reason?: string;
}

/** A limit as a count of `total` locations: `"50%"` of 6 is 3. Concurrency is at least 1. */
export function limitOf(limit: Limit, total: number, what: string, min: number): number {
  const text = String(limit);
  const m = /^(\d{1,3})%$/.exec(text);
  if (m) {
    const pct = Number(m[1]);
    if (pct > 100)
      throw new ValidationError("invalid_limit", `${what} must be at most 100%`, [
        { path: what, message: "over 100%" },
      ]);
    return Math.max(min, Math.ceil((total * pct) / 100));
  }
  if (!/^\d{1,6}$/.test(text))
    throw new ValidationError("invalid_limit", `${what} must be a number or a percentage such as "10%"`, [
      { path: what, message: "not a number or a percentage" },
    ]);
  return Math.max(min, Number(text));
}

/**
 * Runs `each` over the locations, at most `concurrency` at once, in order; once more than
 * `maxErrors` have failed, the ones not yet started are SKIPPED (those running finish).
 */
export async function eachLocation<L>(
  locations: L[],
  concurrency: number,
  maxErrors: number,
  each: (location: L, index: number) => Promise<{ status: string; executionId?: string; reason?: string }>,
): Promise<Array<{ location: L; status: string; executionId?: string; reason?: string }>> {
  const out: Array<{ location: L; status: string; executionId?: string; reason?: string }> = [];
  let next = 0;
  let errors = 0;
  const worker = async () => {
    while (next < locations.length) {
      const index = next++;
      const location = locations[index] as L;
      if (errors > maxErrors) {
        out[index] = { location, status: "SKIPPED", reason: `more than ${maxErrors} location(s) failed` };
        continue;
      }
      let result: { status: string; executionId?: string; reason?: string };
      try {
        result = await each(location, index);
      } catch (err) {
        result = { status: "FAILED", reason: (err as Error).message };
      }
      if (result.status !== "SUCCEEDED") errors++;
      out[index] = { location, ...result };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, locations.length) }, worker));
  return out;
}

/** What a fan-out will do, before any child starts: its parent id and one child per location. */
export interface LocationPlan {
  parentId: string;
  runbook: string;
  concurrency: number;
  maxErrors: number;
  /** In order; child `i` is `<parentId>-<i + 1>`. */
  children: Array<{ account: string; accountName?: string; region: string; executionId: string }>;
}

/** Prefixes each issue's path with `at` (`accounts[0]` → `locations.accounts[0]`). */
function under(at: string, err: unknown): unknown {
  if (!(err instanceof ValidationError)) return err;
  const issues = err.issues.map((i) => ({ ...i, path: i.path ? `${at}.${i.path}` : at }));
  return new ValidationError(err.code, err.message, issues);
}

/**
 * Resolves the selector and the limits, and names the parent and the children — bad input
 * (a term matching no account, no location at all, a bad limit) throws a ValidationError naming
 * the field (`locations.accounts[0]`, `locationConcurrency`), before anything starts.
 */
export function plan(
  req: Pick<AdmitRequest, "runbook" | "config" | "now"> & { params?: unknown },
  selector: LocationSelector,
  limits: LocationLimits,
): LocationPlan {
  const config = req.config ?? currentConfig();
  const runbook = Runbooks.get(req.runbook);
  let locations: ReturnType<typeof resolveLocations>;
  try {
    locations = resolveLocations(config.accounts, selector);
  } catch (err) {
    throw under("locations", err);
  }
  if (locations.length === 0)
    throw new ValidationError("no_locations", "the selector names no account and Region", [
      { path: "locations", message: "no location" },
    ]);
  const concurrency = limitOf(limits.locationConcurrency ?? 1, locations.length, "locationConcurrency", 1);
  const maxErrors = limitOf(limits.locationMaxErrors ?? 0, locations.length, "locationMaxErrors", 0);
  // Params that no location could take are the caller's mistake, not N refused children.
  if (req.params !== undefined) {
    const takesRegion = "region" in ((runbook.params as { shape?: object }).shape ?? {});
    parseParams(
      runbook,
      takesRegion ? { ...(req.params as object), region: locations[0]?.region } : req.params,
    );
  }
  const parentId = newExecutionId(runbook.name, req.now);
  return {
    parentId,
    runbook: runbook.name,
    concurrency,
    maxErrors,
    children: locations.map((l, i) => ({
      account: l.account,
      ...(l.accountName ? { accountName: l.accountName } : {}),
      region: l.region,
      executionId: `${parentId}-${i + 1}`,
    })),
  };
}

/**
 * Starts a runbook in every location the selector names: child `<parent>-<n>` per location
 * (its params' `region` set to the location's, when the runbook takes one), each admitted on
 * its own, and waits for each with `waitForEnd` before starting the next. Resolves to each
 * location's outcome; audited as `locations.started` and `locations.finished` under the parent id.
 */
export async function start(
  req: Omit<AdmitRequest, "location" | "executionId">,
  selector: LocationSelector,
  limits: LocationLimits,
  waitForEnd: (executionId: string) => Promise<{ status: string; error?: string; cause?: string }>,
): Promise<{ parentId: string; locations: LocationOutcome[] }> {
  return run(req, plan(req, selector, limits), waitForEnd);
}

/** Runs a {@link plan}: what {@link start} does once the selector is resolved. */
export async function run(
  req: Omit<AdmitRequest, "location" | "executionId">,
  planned: LocationPlan,
  waitForEnd: (executionId: string) => Promise<{ status: string; error?: string; cause?: string }>,
): Promise<{ parentId: string; locations: LocationOutcome[] }> {
  const runbook = Runbooks.get(planned.runbook);
  const { parentId, concurrency, maxErrors, children: locations } = planned;
  const takesRegion = "region" in ((runbook.params as { shape?: object }).shape ?? {});
  await Audit.record({
    kind: "locations.started",
    actor: req.actor.id,
    reason: `${runbook.name} in ${locations.length} location(s) (${locations.map((l) => `${l.account}/${l.region}`).join(", ")}), ${concurrency} at a time, stop after ${maxErrors} error(s)`,
    executionId: parentId,
    runbook: runbook.name,
  });
  const results = await eachLocation(locations, concurrency, maxErrors, async (location) => {
    const params = takesRegion ? { ...(req.params as object), region: location.region } : req.params;
    const admitted = await admit({
      ...req,
      runbook: runbook.name,
      params,
      executionId: location.executionId,
      location: { account: location.account, region: location.region },
    });
    if (!admitted.admitted) return { status: "REFUSED", reason: admitted.reason };
    const end = await waitForEnd(admitted.execution.id);
    return {
      status: end.status,
      executionId: admitted.execution.id,
      ...(end.status !== "SUCCEEDED"
        ? { reason: `${end.error ?? ""}: ${end.cause ?? ""}`.slice(0, 500) }
        : {}),
    };
  });
  const outcomes: LocationOutcome[] = results.map((r) => ({
    account: r.location.account,
    ...(r.location.accountName ? { accountName: r.location.accountName } : {}),
    region: r.location.region,
    status: r.status,
    ...(r.executionId ? { executionId: r.executionId } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
  }));
  const failed = outcomes.filter((o) => o.status !== "SUCCEEDED");
  await Audit.record({
    kind: "locations.finished",
    actor: req.actor.id,
    reason: `${outcomes.length - failed.length} of ${outcomes.length} location(s) succeeded${failed.length ? `; ${failed.map((f) => `${f.account}/${f.region} ${f.status}${f.reason ? ` (${f.reason.slice(0, 200)})` : ""}`).join("; ")}` : ""}`,
    executionId: parentId,
    runbook: runbook.name,
  });
  return { parentId, locations: outcomes };
}

/**
 * A run's end, read from its record — first after 100 ms, then less and less often, at most
 * every 2 s (a fan-out started from the API waits on state it does not own: the child runs in
 * the engine, its record says when it ended).
 */
export async function untilEnd(
  executionId: string,
): Promise<{ status: string; error?: string; cause?: string }> {
  for (let everyMs = 100; ; everyMs = Math.min(2000, everyMs * 2)) {
    await new Promise((r) => setTimeout(r, everyMs));
    const e = await Executions.find(executionId);
    if (e && (Executions.TERMINAL as readonly string[]).includes(e.status))
      return { status: e.status, error: e.error, cause: e.cause };
  }
}
