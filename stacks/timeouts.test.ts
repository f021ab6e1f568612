/**
 * A run must end through its own states, never by the state machine's timeout: a TIMED_OUT
 * execution skips its Catch, so its rollback never runs. Every parameter-driven wait, at the
 * longest the params allow, must end well inside the machine's TimeoutSeconds.
 */
import { Runbooks } from "@reflex/core";
import { describe, expect, it } from "vitest";

/** The largest value in `candidates` that the runbook's params accept for `key`. */
function longestAccepted(runbook: string, base: Record<string, unknown>, key: string, candidates: unknown[]) {
  const { params } = Runbooks.get(runbook);
  const accepted = candidates.filter((c) => params.safeParse({ ...base, [key]: c }).success);
  if (accepted.length === 0) throw new Error(`${runbook}: no candidate for ${key} is accepted`);
  return accepted[accepted.length - 1];
}

const minutes = (n: number) => n * 60;
const hoursText = Array.from({ length: 48 * 4 }, (_, i) => `${(i + 1) * 15}m`);

describe("state machine timeouts", () => {
  it("leave backup-snapshot at least an hour after its longest snapshot wait for copy, prune, report and rollback", () => {
    const longest = longestAccepted(
      "backup-snapshot",
      { selector: { tag: { Backup: "daily" } } },
      "timeoutMinutes",
      Array.from({ length: 2000 }, (_, i) => i + 1),
    ) as number;
    const machine = Runbooks.get("backup-snapshot").stateMachine.TimeoutSeconds!;
    expect(minutes(longest) + 3600).toBeLessThanOrEqual(machine);
  });

  it("leave scale at least half an hour after a resize's longest waits: stop, start, then a rollback", () => {
    const base = { mode: "vertical", instanceId: "i-0123456789abcdef0", instanceType: "m5.large" };
    const timeout = String(longestAccepted("scale", base, "timeout", hoursText));
    const waitSeconds = Number.parseInt(timeout, 10) * 60;
    const machine = Runbooks.get("scale").stateMachine.TimeoutSeconds!;
    expect(3 * waitSeconds + 1800).toBeLessThanOrEqual(machine);
  });
});
