/**
 * A run must end through its own states, never by the state machine's timeout: a TIMED_OUT
 * execution skips its Catch, so its rollback never runs. Every parameter-driven wait, at the
 * longest the params allow, after the longest approval deadline the config allows, must end
 * inside the machine's TimeoutSeconds; and no step worker may be stopped before the Task that
 * called it gives up.
 */
import { MAX_APPROVAL_DEADLINE_MS, Runbooks, STEP_HANDLER } from "@reflex/core";
import { describe, expect, it } from "vitest";
import { failoverLoops } from "../packages/core/src/runbooks/failover/budget.ts";
import { retryBackoffSeconds, worstCaseSeconds } from "../packages/core/src/runbooks/time-budget.ts";
import { stepWorkerTimeoutSeconds } from "./runbooks.ts";

/** The largest value in `candidates` that the runbook's params accept for `key`. */
function longestAccepted(runbook: string, base: Record<string, unknown>, key: string, candidates: unknown[]) {
  const { params } = Runbooks.get(runbook);
  const accepted = candidates.filter((c) => params.safeParse({ ...base, [key]: c }).success);
  if (accepted.length === 0) throw new Error(`${runbook}: no candidate for ${key} is accepted`);
  return accepted[accepted.length - 1];
}

const minutes = (n: number) => n * 60;
const hoursText = Array.from({ length: 48 * 4 }, (_, i) => `${(i + 1) * 15}m`);
const MAX_DEADLINE = MAX_APPROVAL_DEADLINE_MS / 1000;

describe("state machine timeouts", () => {
  it("leave backup-snapshot, after the longest approval wait, at least an hour after its longest snapshot wait for copy, prune, report and rollback", () => {
    const longest = longestAccepted(
      "backup-snapshot",
      { selector: { tag: { Backup: "daily" } } },
      "timeoutMinutes",
      Array.from({ length: 2000 }, (_, i) => i + 1),
    ) as number;
    const machine = Runbooks.get("backup-snapshot").stateMachine.TimeoutSeconds!;
    expect(MAX_DEADLINE + minutes(longest) + 3600).toBeLessThanOrEqual(machine);
  });

  it("leave scale, after the longest approval wait, at least half an hour after a resize's longest waits: stop, start, then a rollback", () => {
    const base = { mode: "vertical", instanceId: "i-0123456789abcdef0", instanceType: "m5.large" };
    const timeout = String(longestAccepted("scale", base, "timeout", hoursText));
    const waitSeconds = Number.parseInt(timeout, 10) * 60;
    const machine = Runbooks.get("scale").stateMachine.TimeoutSeconds!;
    expect(MAX_DEADLINE + 3 * waitSeconds + 1800).toBeLessThanOrEqual(machine);
  });

  it("leave failover room for the longest approval deadline, every step and the whole switch back", () => {
    const { stateMachine } = Runbooks.get("failover");
    // The default verifyTimeout (2m); a longer one is checked per pair by `reflex config check`.
    const worst = worstCaseSeconds(stateMachine, {
      approvalSeconds: MAX_DEADLINE,
      loops: failoverLoops(120),
    });
    expect(worst).toBeGreaterThan(MAX_DEADLINE);
    expect(worst).toBeLessThanOrEqual(stateMachine.TimeoutSeconds!);
  });

  it("count the approval wait in failover's worst case, second for second", () => {
    const { stateMachine } = Runbooks.get("failover");
    const at = (approvalSeconds: number) =>
      worstCaseSeconds(stateMachine, { approvalSeconds, loops: failoverLoops(120) });
    expect(at(3600) - at(1800)).toBe(1800);
  });

  it("count every poll loop's budget in failover's worst case: the switch, its verify, the switch back and its verify", () => {
    const { stateMachine } = Runbooks.get("failover");
    const at = (verify: number) =>
      worstCaseSeconds(stateMachine, { approvalSeconds: 0, loops: failoverLoops(verify) });
    expect(at(600) - at(0)).toBe(4 * 600);
  });
});

describe("the worst-case analysis", () => {
  it("refuses a loop nothing bounds", () => {
    expect(() => worstCaseSeconds(Runbooks.get("failover").stateMachine, { approvalSeconds: 0 })).toThrow(
      /has no budget/,
    );
  });

  it("adds each retrier's whole backoff, capped at its MaxDelaySeconds", () => {
    expect(
      retryBackoffSeconds([{ ErrorEquals: ["X"], IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2 }]),
    ).toBe(2 + 4 + 8 + 16);
    expect(
      retryBackoffSeconds([
        { ErrorEquals: ["X"], IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2, MaxDelaySeconds: 5 },
      ]),
    ).toBe(2 + 4 + 5 + 5);
  });
});

describe("step worker timeouts", () => {
  it("outlast every Task that calls the worker, so a step is never cut short of its Task's time", () => {
    const short: string[] = [];
    for (const runbook of Runbooks.list()) {
      const lambda = stepWorkerTimeoutSeconds(runbook);
      for (const [name, task] of Runbooks.taskStates(runbook.stateMachine)) {
        if (task.Resource !== STEP_HANDLER) continue;
        if ((task.TimeoutSeconds ?? Number.POSITIVE_INFINITY) > lambda)
          short.push(`${runbook.name}.${name}: Task ${task.TimeoutSeconds}s > Lambda ${lambda}s`);
      }
    }
    expect(short).toEqual([]);
  });

  it("give patch's worker the 900 s its Plan and Report Tasks allow", () => {
    expect(stepWorkerTimeoutSeconds(Runbooks.get("patch"))).toBe(900);
  });
});
