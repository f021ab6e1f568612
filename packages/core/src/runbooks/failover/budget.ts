/**
 * How long failover's poll loops may spin: each is bounded in code by the pair's verifyTimeout
 * (steps.ts `checkDeadline`: past it, the poll step throws and the Catch takes over).
 */
import type { TimeBudgetOptions } from "../time-budget.ts";

/** The loop budgets of failover's state machine for a pair with this verifyTimeout (seconds). */
export function failoverLoops(verifyTimeoutSeconds: number): NonNullable<TimeBudgetOptions["loops"]> {
  return {
    AwaitChange: verifyTimeoutSeconds,
    Verify: verifyTimeoutSeconds,
    AwaitSwitchBack: verifyTimeoutSeconds,
    VerifySwitchBack: verifyTimeoutSeconds,
  };
}
