/**
 * Rollback steps retry longest: `define.ts` and the README promise `RETRY_ROLLBACK` (about 26
 * minutes of transient errors) on every compensation step, so a throttled account does not
 * leave a half-undone change after the normal retrier's 8 minutes. Read from the ASL itself.
 */
import { describe, expect, it } from "vitest";
import { RETRY_ROLLBACK, RETRY_STEP } from "./asl.ts";
import { taskStates } from "./define.ts";
import { failover } from "./failover/index.ts";
import { list } from "./index.ts";
import { patch } from "./patch/index.ts";

const retryOf = (runbook: { stateMachine: Parameters<typeof taskStates>[0] }, state: string) =>
  taskStates(runbook.stateMachine).find(([name]) => name === state)?.[1].Retry;

describe("the retrier of rollback states", () => {
  it("is RETRY_ROLLBACK on patch's RollbackTarget and CheckRollback", () => {
    for (const state of ["RollbackTarget", "CheckRollback"])
      expect(retryOf(patch, state), state).toEqual(RETRY_ROLLBACK);
  });

  it("is RETRY_ROLLBACK on failover's SwitchBack, AwaitSwitchBack and VerifySwitchBack", () => {
    for (const state of ["SwitchBack", "AwaitSwitchBack", "VerifySwitchBack"])
      expect(retryOf(failover, state), state).toEqual(RETRY_ROLLBACK);
  });

  it("is RETRY_ROLLBACK on every Task state that calls a runbook's declared rollback step", () => {
    const wrong: string[] = [];
    for (const runbook of list())
      for (const [name, state] of taskStates(runbook.stateMachine)) {
        const step = (state.Parameters as { step?: string } | undefined)?.step;
        if (
          step &&
          runbook.rollback.includes(step) &&
          JSON.stringify(state.Retry) !== JSON.stringify(RETRY_ROLLBACK)
        )
          wrong.push(`${runbook.name}.${name}`);
      }
    expect(wrong).toEqual([]);
  });

  it("retries longer than a normal step", () => {
    const attempts = (r: typeof RETRY_STEP) => Math.max(...r.map((x) => x.MaxAttempts ?? 3));
    expect(attempts(RETRY_ROLLBACK)).toBeGreaterThan(attempts(RETRY_STEP));
  });
});
