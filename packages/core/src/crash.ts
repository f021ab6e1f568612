/**
 * Crash points: named moments between two writes where a test can make the process die, as
 * `kill -9` would, to prove that every write order is crash-safe. `REFLEX_CRASH_AT=<name>`
 * (read once) makes the process SIGKILL itself the first time it reaches that point; unset —
 * always, outside tests — this is a no-op. The points are listed here so tests and readers
 * see every boundary the start path has.
 */
export const CRASH_POINTS = [
  "start:after-locks", // locks taken, naming the run; no marker, no record yet
  "start:after-marker", // locks and the running marker written, no record yet
  "start:after-record", // record RUNNING and listed, StartExecution not yet called
  "start:after-start-execution", // the execution exists, audit may not have landed
  "gate:after-claim", // the dedup claim is held, nothing decided
  "approval:after-decide", // an answer decided the request (and is audited); the waiting run not yet told
  "s3:after-part", // local mode's S3: a PUT's bytes written beside its object, not yet renamed over it
] as const;
/**
 * Local mode's simulated cloud also has one point after every mutating call it applied (and
 * saved), before the caller hears the answer: `cloud:after:<service>:<Operation>`, e.g.
 * `cloud:after:elbv2:DeregisterTargets` — the moment a runbook has changed the account and not
 * yet recorded it.
 */
export type CloudCrashPoint = `cloud:after:${string}:${string}`;
export type CrashPoint = (typeof CRASH_POINTS)[number] | CloudCrashPoint;

const armed = process.env.REFLEX_CRASH_AT;

/** Dies here if this point is armed (tests only). */
export function crashPoint(name: CrashPoint): void {
  if (armed === name) process.kill(process.pid, "SIGKILL");
}
