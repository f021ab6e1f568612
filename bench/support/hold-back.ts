/**
 * What the load benchmarks hold back while they time the gate: the runs it starts (launched by
 * the engine later: in AWS they run in Step Functions and the step Lambdas, not where events are
 * answered) and the local Slack notifier (in AWS another Lambda, fed by the bus), whose events
 * are kept until the bench hands them over.
 */
import type { LocalMode } from "../../packages/local/src/local-mode.ts";

export function holdBack(local: LocalMode) {
  const engine = local.engine as unknown as { launch: (...args: unknown[]) => void };
  const launch = engine.launch.bind(engine);
  let deferred: unknown[][] = [];
  engine.launch = (...args: unknown[]) => void deferred.push(args);
  const bus = local.bus as unknown as { subscribers: Array<(e: unknown) => void> };
  const subscribers = bus.subscribers.splice(0);
  const published: unknown[] = [];
  const held = (e: unknown) => void published.push(e);
  bus.subscribers.push(held);
  return {
    /** The lifecycle events published while held, not yet handed over. */
    published,
    /** Launches the runs deferred so far. */
    launchAll() {
      const launches = deferred;
      deferred = [];
      for (const args of launches) launch(...args);
    },
    /** Hands the held events to the bus's own subscribers (later events are still held). */
    deliver() {
      for (const e of published.splice(0)) for (const sub of subscribers) sub(e);
    },
    /** The bus's own subscribers back, for the events published from now on. */
    release() {
      bus.subscribers.splice(0, bus.subscribers.length, ...subscribers);
    },
    /** Holds the events published from now on again. */
    hold() {
      bus.subscribers.splice(0, bus.subscribers.length, held);
    },
  };
}
