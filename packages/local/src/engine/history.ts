/**
 * History events per execution, counted as Step Functions would record them, so tests can
 * check a run stays under the 25,000-event limit of a Standard execution. The local engine's
 * own event log is coarser (one "StateEntered" for what AWS records as several events), so
 * each local event is weighed by what AWS writes for it:
 *
 * - execution started / ended: 1 each;
 * - a state entered and exited: 1 each; a Task adds 3 per attempt (scheduled, started,
 *   succeeded/failed), 4 for `.waitForTaskToken` (submitted as well);
 * - an inline Map: started and succeeded (1 each), and 2 per iteration (started, succeeded);
 *   a Distributed Map: MapRunStarted and MapRunSucceeded only — its iterations are child
 *   executions with histories of their own;
 * - a retry: 3 more (the new attempt).
 */
import type { EventLog } from "./local-sfn.ts";

export const HISTORY_LIMIT = 25_000;

type StateEvent = EventLog & {
  state?: { name: string; type: string };
  index?: number;
  parentState?: { name: string };
};

export function awsHistoryEvents(
  events: EventLog[],
  opts: { distributedMaps?: Set<string>; wrapperStates?: Set<string>; tokenStates?: Set<string> } = {},
): number {
  let n = 0;
  for (const e of events as StateEvent[]) {
    const name = e.state?.name ?? "";
    if (opts.wrapperStates?.has(name)) continue; // a child execution's: not in the parent's history
    switch (e.type) {
      case "ExecutionStarted":
      case "ExecutionSucceeded":
      case "ExecutionFailed":
      case "ExecutionAborted":
      case "ExecutionTimeout":
        n += 1;
        break;
      case "StateEntered":
        n += 1;
        if (e.state?.type === "Task") n += opts.tokenStates?.has(name) ? 4 : 3;
        if (e.state?.type === "Map") n += 1; // MapStateStarted / MapRunStarted
        break;
      case "StateExited":
        n += 1;
        if (e.state?.type === "Map") n += 1; // MapStateSucceeded / MapRunSucceeded
        break;
      case "StateRetried":
        n += 3;
        break;
      case "MapIterationStarted":
      case "MapIterationSucceeded":
      case "MapIterationFailed":
        if (!opts.distributedMaps?.has(e.parentState?.name ?? "")) n += 1;
        break;
      default:
        break;
    }
  }
  return n;
}

export interface HistoryStats {
  /** Events as Step Functions would record them. */
  events: number;
  /** State transitions (states entered), what Standard workflows are billed by. */
  transitions: number;
  /** Task states entered (step-worker invocations). */
  tasks: number;
}

/** The figures of one execution's history, kept after the engine lets the history itself go. */
export function historyStats(
  events: EventLog[],
  opts: Parameters<typeof awsHistoryEvents>[1] = {},
): HistoryStats {
  let transitions = 0;
  let tasks = 0;
  for (const e of events as StateEvent[]) {
    if (e.type !== "StateEntered" || opts.wrapperStates?.has(e.state?.name ?? "")) continue;
    transitions++;
    if (e.state?.type === "Task") tasks++;
  }
  return { events: awsHistoryEvents(events, opts), transitions, tasks };
}
