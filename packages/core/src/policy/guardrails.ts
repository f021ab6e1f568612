/**
 * The guardrails' rules over their state: the pause switch and the circuit breaker (who may
 * pause, when the breaker trips), freezes, and what Reflex holds back as a whole (`describe`).
 * The items themselves (`GUARD#automation`, cooldowns, rate windows) are `state/guardrails.ts`'s;
 * their conditional takes are re-exported here, so admission reads every guardrail from one place.
 */
import type { Config } from "../config/schema.ts";
import * as Audit from "../state/audit.ts";
import * as Executions from "../state/executions.ts";
import {
  type AutomationState,
  automationState,
  listCooldowns,
  resetAutomation,
  saveFailures,
  setPaused,
} from "../state/guardrails.ts";
import * as Locks from "../state/locks.ts";

export {
  type AutomationState,
  automationState,
  type Cooldown,
  listCooldowns,
  returnCooldown,
  returnRateSlot,
  takeCooldown,
  takeRateSlot,
} from "../state/guardrails.ts";

/*
 * The gate reads the pause/breaker state for every run it would start. In a storm that is
 * thousands of reads of one item, so a process keeps it for up to a second, and a burst of
 * admissions that find no copy share one read instead of each sending its own.
 *
 * Why that is safe: the only decision it can get wrong is admitting an automatic run after a
 * pause or a breaker trip made in ANOTHER process (another Lambda), for at most CACHE_MS after
 * that process wrote it (the age is counted from when the read was sent, not when it came back).
 * A pause, resume or breaker trip in this process drops the copy, and a read already in flight
 * when it did cannot put its older answer back (the generation below). Freezes are config, not
 * store state: they are read from the config on every admission, never cached here. People's
 * starts (and their pause override) go through the same copy, bounded the same way.
 */
const CACHE_MS = 1000;
let cached: { at: number; state: Promise<AutomationState> } | undefined;
let generation = 0;

/** Drops the gate's copy of the automation state (a pause, resume or breaker trip here). */
function invalidate(): void {
  cached = undefined;
  generation++;
}

/** The pause switch and breaker state, as the gate sees it (cached up to a second, one read per burst). */
export async function automationStateForGate(now = Date.now()): Promise<AutomationState> {
  if (cached && now - cached.at >= 0 && now - cached.at < CACHE_MS) return cached.state;
  const seen = generation;
  const state = automationState();
  const entry = { at: now, state };
  cached = entry;
  // A failed read is not kept: the next admission asks again.
  state.catch(() => {
    if (cached === entry) cached = undefined;
  });
  const answer = await state;
  if (seen !== generation && cached === entry) cached = undefined;
  return answer;
}

/** Pauses automatic runs (a person, or the breaker). */
export async function pause(by: string, reason: string, now = new Date()): Promise<void> {
  invalidate();
  await setPaused(by, reason, now);
  // And again once written: a read sent while the write was on its way may hold the old state.
  invalidate();
  await Audit.record(
    {
      kind: "guardrail.changed",
      actor: by,
      reason: `automatic runs paused: ${reason}`,
      guardrail: by === "breaker" ? "breaker" : "pause",
    },
    now,
  );
}

/** Resumes automatic runs and resets the breaker's failure count. Only a person does this. */
export async function resume(by: string, now = new Date()): Promise<void> {
  invalidate();
  await resetAutomation();
  invalidate();
  await Audit.record(
    {
      kind: "guardrail.changed",
      actor: by,
      reason: "automatic runs resumed; breaker reset",
      guardrail: "pause",
    },
    now,
  );
}

/**
 * Counts a failed automatic run; trips the breaker (pauses automation) when `failures` of them
 * fall within `within`. Read-modify-write guarded by the revision it read, so concurrent
 * failures are all counted.
 */
export async function recordFailure(config: Config, executionId: string, now = Date.now()): Promise<boolean> {
  const { failures: limit, within } = config.guardrails.breaker;
  for (let attempt = 0; attempt < 10; attempt++) {
    const state = await automationState();
    const recent = [...state.failures.filter((t) => t > now - within), now].slice(-limit * 2);
    const trips = !state.paused && recent.filter((t) => t > now - within).length >= limit;
    if (!(await saveFailures(recent, state.rev))) continue;
    if (trips) {
      await pause(
        "breaker",
        `${recent.length} automatic runs failed within ${Math.round(within / 60_000)} min (last: ${executionId}); resume with: reflex resume`,
        new Date(now),
      );
    }
    return trips;
  }
  return false;
}

/** The freeze in force for a runbook at `now`, if any. */
export function activeFreeze(config: Config, runbook: string, now: Date) {
  return config.freezes.find(
    (f) =>
      Date.parse(f.from) <= now.getTime() &&
      now.getTime() < Date.parse(f.to) &&
      (!f.runbooks || f.runbooks.includes(runbook)),
  );
}

/**
 * What Reflex holds back at `now`, as the API and the console's banner show it: the pause
 * switch (the config's or a person's, or the breaker's), the breaker's recent failures,
 * freezes (active or not), caps, the locks held (with the runbook of the run holding each) and
 * the cooldowns running.
 *
 * @example
 * const { paused, locks, cooldowns } = await Guardrails.describe(currentConfig());
 */
export async function describe(config: Config, now = new Date()) {
  const [automation, locks, cooldowns] = await Promise.all([
    automationState(),
    Locks.list(now.getTime()),
    listCooldowns(now.getTime()),
  ]);
  // A lock's holder is an execution: its record says which runbook holds the target.
  const holders = new Map(
    await Promise.all(
      [...new Set(locks.map((l) => l.owner))].map(async (id) => [id, await Executions.find(id)] as const),
    ),
  );
  return {
    paused: config.guardrails.paused || automation.paused,
    pausedBy: config.guardrails.paused ? "config" : automation.pausedBy,
    reason: config.guardrails.paused ? "guardrails.paused is true in the config" : automation.reason,
    breaker: {
      ...config.guardrails.breaker,
      recentFailures: automation.failures.filter((t) => t > now.getTime() - config.guardrails.breaker.within)
        .length,
    },
    freezes: config.freezes.map((f) => ({
      ...f,
      active: Date.parse(f.from) <= now.getTime() && now.getTime() < Date.parse(f.to),
    })),
    maxTargetsPerRun: config.guardrails.maxTargetsPerRun,
    rateLimit: config.guardrails.rateLimit,
    locks: locks.map((l) => ({
      key: l.target,
      target: l.target,
      executionId: l.owner,
      runbook: holders.get(l.owner)?.runbook,
      since: l.acquiredAt,
      expiresAt: new Date(l.leaseUntil).toISOString(),
    })),
    cooldowns: cooldowns.map((cd) => ({
      key: cd.key,
      rule: cd.rule,
      target: cd.target,
      runbook: cd.runbook ?? config.rules.find((r) => r.name === cd.rule)?.run,
      executionId: cd.owner,
      until: cd.until,
    })),
  };
}
