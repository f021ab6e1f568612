import type { AslDefinition } from "../asl.ts";
import { approvalStates, catchAll, dryRunChoice, failWith, stepBuilders } from "../asl.ts";
import { pollLoop } from "../sdk-tasks.ts";

const R = "failover";
/** The switch back is compensation: it retries longest (RETRY_ROLLBACK, see define.ts). */
const { step, rollbackStep } = stepBuilders(R);
/** How often a run polls Route 53's change status and re-verifies (AWS: INSYNC takes tens of seconds). */
const POLL_SECONDS = 5;

/**
 * Readiness → (skipped | not ready: fail, nothing changed) → plan → (dry-run: done) →
 * [approval] → switch → (wait → GetChange)* until INSYNC → (verify → wait)* → record roles.
 *
 * Any failure from the switch on (the change never INSYNC, verify timed out, an error, an
 * abort) switches back to the previous primary, waits for INSYNC, verifies that, and then fails
 * with the original error. A switch back that cannot be verified fails with
 * `SwitchBackFailed`: a person must look.
 */
export const failoverStateMachine: AslDefinition = {
  Comment: "Reflex failover: move a pair's Elastic IP and/or DNS record from its primary to its standby",
  StartAt: "Readiness",
  // The approval deadline, every step and the whole switch back must fit, or a timed-out run
  // skips its Catch and leaves the pair half-switched: `reflex config check` proves it for the
  // config's deadline and each pair's verifyTimeout (config/timing.ts, time-budget.ts).
  TimeoutSeconds: 16 * 3600,
  States: {
    Readiness: step("checkReadiness", {
      ResultPath: "$.readiness",
      Catch: catchAll("NotReady"),
      Next: "ReadinessDecision",
    }),
    NotReady: failWith(),
    ReadinessDecision: {
      Type: "Choice",
      Choices: [{ Variable: "$.readiness.skipped", IsPresent: true, Next: "Skipped" }],
      Default: "Plan",
    },
    Skipped: { Type: "Succeed", Comment: "The event was not about the pair's current primary." },
    Plan: step("planSwitch", { ResultPath: "$.plan", Catch: catchAll("NotReady"), Next: "PlanDecision" }),
    PlanDecision: dryRunChoice("ApprovalNeeded"),
    DryRunPlanned: { Type: "Succeed", Comment: "The plan is the result; nothing was changed." },
    // The approver sees the plan: what moves where, the TTL.
    ...approvalStates(R, "Switch"),
    Switch: step("switchOver", {
      ResultPath: "$.switch",
      Catch: catchAll("SwitchBack"),
      Next: "SwitchInSync",
    }),
    // The switch answers whether the change is INSYNC already: the loop is entered at its Choice.
    ...pollLoop({
      wait: "WaitForChange",
      check: "AwaitChange",
      done: "SwitchInSync",
      task: step("awaitChange", { ResultPath: "$.switch", Catch: catchAll("SwitchBack") }),
      seconds: POLL_SECONDS,
      donePath: "$.switch.inSync",
      next: "Verify",
    }),
    // Verify first, then wait and verify again until it is done.
    ...pollLoop({
      wait: "WaitForVerify",
      check: "Verify",
      done: "Verified",
      task: step("verifySwitch", { ResultPath: "$.verify", Catch: catchAll("SwitchBack") }),
      seconds: POLL_SECONDS,
      donePath: "$.verify.done",
      next: "RecordRoles",
    }),
    // The switch is verified: a failure to record it must not undo it.
    RecordRoles: step("recordRoles", {
      ResultPath: "$.roles",
      Catch: catchAll("NotRecorded"),
      Next: "FailedOver",
    }),
    NotRecorded: failWith(),
    FailedOver: { Type: "Succeed" },

    // ---- switch back ----
    SwitchBack: rollbackStep("switchBack", {
      ResultPath: "$.switchBack",
      Catch: catchAll("SwitchBackFailed", "$.rollbackFailure"),
      Next: "SwitchBackInSync",
    }),
    ...pollLoop({
      wait: "WaitForSwitchBack",
      check: "AwaitSwitchBack",
      done: "SwitchBackInSync",
      task: rollbackStep("awaitSwitchBack", {
        ResultPath: "$.switchBack",
        Catch: catchAll("SwitchBackFailed", "$.rollbackFailure"),
      }),
      seconds: POLL_SECONDS,
      donePath: "$.switchBack.inSync",
      next: "VerifySwitchBack",
    }),
    ...pollLoop({
      wait: "WaitForVerifySwitchBack",
      check: "VerifySwitchBack",
      done: "SwitchedBack",
      task: rollbackStep("verifySwitchBack", {
        ResultPath: "$.switchBackVerify",
        Catch: catchAll("SwitchBackFailed", "$.rollbackFailure"),
      }),
      seconds: POLL_SECONDS,
      donePath: "$.switchBackVerify.done",
      next: "RolledBack",
    }),
    RolledBack: failWith(),
    SwitchBackFailed: { Type: "Fail", Error: "SwitchBackFailed", CausePath: "$.rollbackFailure.Cause" },
  },
};
