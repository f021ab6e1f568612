/**
 * How long a state machine can run at worst, read from its ASL, so a run's longest path —
 * approval wait, steps, rollback — can be proven to end inside the machine's TimeoutSeconds.
 * A TIMED_OUT execution skips its Catch: its rollback never runs (docs/security.md).
 *
 * The model, per state on a path:
 * - Task: its TimeoutSeconds (a hung attempt ends there; States.Timeout is in no retrier, so it
 *   happens once and goes to the Catch), plus the full backoff of its retriers, every retry
 *   failing at once (a transient error answers fast; one that hangs for the whole Task timeout
 *   on every retry is not counted). A `TimeoutSecondsPath` Task is an approval: the deadline.
 * - Wait: its Seconds (a `SecondsPath` wait must be given).
 * - A loop (a strongly connected set of states: a poll) costs one pass through all its states
 *   plus the budget its runbook bounds it by in code (e.g. failover's `verifyTimeout`, after
 *   which the poll step throws). A loop with no budget is refused: it could spin forever.
 * Paths follow Next, Default, every Choice and every Catch, so the longest one is the forward
 * steps up to the last failure point and then the whole rollback.
 */

import { must } from "../errors.ts";
import type { AslDefinition, AslRetrier, AslState } from "./asl.ts";

export interface TimeBudgetOptions {
  /** The approval deadline, seconds (`approvals.deadline`). */
  approvalSeconds: number;
  /** For each loop, named by any one of its states: how long the runbook lets it spin, seconds. */
  loops?: Record<string, number>;
  /** Seconds of a Wait state that reads its time from the input (`SecondsPath`). */
  waits?: Record<string, number>;
}

/** The most a retrier can wait between attempts, in total: every attempt used, each delay at its cap. */
export function retryBackoffSeconds(retriers: AslRetrier[] = []): number {
  let total = 0;
  for (const r of retriers) {
    const attempts = r.MaxAttempts ?? 3;
    let delay = r.IntervalSeconds ?? 1;
    for (let i = 0; i < attempts; i++) {
      total += Math.min(delay, r.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
      delay *= r.BackoffRate ?? 2;
    }
  }
  return total;
}

function stateSeconds(name: string, state: AslState, options: TimeBudgetOptions): number {
  switch (state.Type) {
    case "Task": {
      const timeout =
        state.TimeoutSeconds ??
        (state.TimeoutSecondsPath !== undefined ? options.approvalSeconds : undefined);
      if (timeout === undefined)
        throw new Error(`Task '${name}' has no timeout: its worst case is unbounded`);
      return timeout + retryBackoffSeconds(state.Retry);
    }
    case "Wait": {
      const seconds = state.Seconds ?? options.waits?.[name];
      if (seconds === undefined) throw new Error(`Wait '${name}' reads its time from the input: give it`);
      return seconds;
    }
    case "Map":
    case "Parallel":
      throw new Error(`'${name}' is a ${state.Type}: its worst case depends on its items, not analyzed here`);
    default:
      return 0;
  }
}

function successors(state: AslState): string[] {
  return [
    ...(state.Next ? [state.Next] : []),
    ...(state.Default ? [state.Default] : []),
    ...(state.Choices ?? []).map((c) => c.Next),
    ...(state.Catch ?? []).map((c) => c.Next),
  ];
}

/** Strongly connected components (Tarjan), each a list of state names. */
function components(def: AslDefinition): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    on.add(v);
    for (const w of successors(def.States[v])) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(must(low.get(v), "low.get(v)"), must(low.get(w), "low.get(w)")));
      } else if (on.has(w))
        low.set(v, Math.min(must(low.get(v), "low.get(v)"), must(index.get(w), "index.get(w)")));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = must(stack.pop(), "stack.pop()");
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      out.push(scc);
    }
  };
  for (const name of Object.keys(def.States)) if (!index.has(name)) visit(name);
  return out;
}

/** The longest a run of this state machine can take, in seconds, by the model above. */
export function worstCaseSeconds(def: AslDefinition, options: TimeBudgetOptions): number {
  const sccs = components(def);
  const of = new Map<string, number>();
  sccs.forEach((scc, i) => {
    for (const s of scc) of.set(s, i);
  });
  const cost = sccs.map((scc) => {
    const pass = scc.reduce((sum, s) => sum + stateSeconds(s, def.States[s], options), 0);
    const looping = scc.length > 1 || successors(def.States[scc[0]]).includes(scc[0]);
    if (!looping) return pass;
    const named = scc.find((s) => options.loops?.[s] !== undefined);
    if (named === undefined)
      throw new Error(`the loop through ${[...scc].sort().join(", ")} has no budget: it could spin forever`);
    return pass + must(options.loops, "options.loops")[named];
  });
  const longest = new Map<number, number>();
  const from = (c: number): number => {
    const known = longest.get(c);
    if (known !== undefined) return known;
    let best = 0;
    for (const s of sccs[c])
      for (const n of successors(def.States[s])) {
        const d = must(of.get(n), "of.get(n)");
        if (d !== c) best = Math.max(best, from(d));
      }
    const total = cost[c] + best;
    longest.set(c, total);
    return total;
  };
  return from(must(of.get(def.StartAt), "of.get(def.StartAt)"));
}
