import {
  type AslCatcher,
  type AslDefinition,
  type AslState,
  approvalStates,
  RETRY_LAMBDA,
  RETRY_ROLLBACK,
  RETRY_THROTTLING,
  stepTask,
} from "../asl.ts";

const R = "failover";
const RETRY = [RETRY_LAMBDA, RETRY_THROTTLING];
const onFailure = (next: string, resultPath = "$.failure"): AslCatcher[] => [
  { ErrorEquals: ["States.ALL"], ResultPath: resultPath, Next: next },
];
const step = (name: string, rest: Partial<AslState>) => stepTask(R, name, { Retry: RETRY, ...rest });
/** The switch back is compensation: it retries longest (RETRY_ROLLBACK, see define.ts). */
const rollbackStep = (name: string, rest: Partial<AslState>) =>
  stepTask(R, name, { Retry: RETRY_ROLLBACK, ...rest });
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
      Catch: onFailure("NotReady"),
      Next: "ReadinessDecision",
    }),
    NotReady: { Type: "Fail", ErrorPath: "$.failure.Error", CausePath: "$.failure.Cause" },
    ReadinessDecision: {
      Type: "Choice",
      Choices: [{ Variable: "$.readiness.skipped", IsPresent: true, Next: "Skipped" }],
      Default: "Plan",
    },
    Skipped: { Type: "Succeed", Comment: "The event was not about the pair's current primary." },
    Plan: step("planSwitch", { ResultPath: "$.plan", Catch: onFailure("NotReady"), Next: "PlanDecision" }),
    PlanDecision: {
      Type: "Choice",
      Choices: [{ Variable: "$.execution.dryRun", BooleanEquals: true, Next: "DryRunPlanned" }],
      Default: "ApprovalNeeded",
    },
    DryRunPlanned: { Type: "Succeed", Comment: "The plan is the result; nothing was changed." },
    // The approver sees the plan: what moves where, the TTL.
    ...approvalStates(R, "Switch"),
    Switch: step("switchOver", {
      ResultPath: "$.switch",
      Catch: onFailure("SwitchBack"),
      Next: "SwitchInSync",
    }),
    SwitchInSync: {
      Type: "Choice",
      Choices: [{ Variable: "$.switch.inSync", BooleanEquals: true, Next: "Verify" }],
      Default: "WaitForChange",
    },
    WaitForChange: { Type: "Wait", Seconds: POLL_SECONDS, Next: "AwaitChange" },
    AwaitChange: step("awaitChange", {
      ResultPath: "$.switch",
      Catch: onFailure("SwitchBack"),
      Next: "SwitchInSync",
    }),
    Verify: step("verifySwitch", {
      ResultPath: "$.verify",
      Catch: onFailure("SwitchBack"),
      Next: "Verified",
    }),
    Verified: {
      Type: "Choice",
      Choices: [{ Variable: "$.verify.done", BooleanEquals: true, Next: "RecordRoles" }],
      Default: "WaitForVerify",
    },
    WaitForVerify: { Type: "Wait", Seconds: POLL_SECONDS, Next: "Verify" },
    // The switch is verified: a failure to record it must not undo it.
    RecordRoles: step("recordRoles", {
      ResultPath: "$.roles",
      Catch: onFailure("NotRecorded"),
      Next: "FailedOver",
    }),
    NotRecorded: { Type: "Fail", ErrorPath: "$.failure.Error", CausePath: "$.failure.Cause" },
    FailedOver: { Type: "Succeed" },

    // ---- switch back ----
    SwitchBack: rollbackStep("switchBack", {
      ResultPath: "$.switchBack",
      Catch: onFailure("SwitchBackFailed", "$.rollbackFailure"),
      Next: "SwitchBackInSync",
    }),
    SwitchBackInSync: {
      Type: "Choice",
      Choices: [{ Variable: "$.switchBack.inSync", BooleanEquals: true, Next: "VerifySwitchBack" }],
      Default: "WaitForSwitchBack",
    },
    WaitForSwitchBack: { Type: "Wait", Seconds: POLL_SECONDS, Next: "AwaitSwitchBack" },
    AwaitSwitchBack: rollbackStep("awaitSwitchBack", {
      ResultPath: "$.switchBack",
      Catch: onFailure("SwitchBackFailed", "$.rollbackFailure"),
      Next: "SwitchBackInSync",
    }),
    VerifySwitchBack: rollbackStep("verifySwitchBack", {
      ResultPath: "$.switchBackVerify",
      Catch: onFailure("SwitchBackFailed", "$.rollbackFailure"),
      Next: "SwitchedBack",
    }),
    SwitchedBack: {
      Type: "Choice",
      Choices: [{ Variable: "$.switchBackVerify.done", BooleanEquals: true, Next: "RolledBack" }],
      Default: "WaitForVerifySwitchBack",
    },
    WaitForVerifySwitchBack: { Type: "Wait", Seconds: POLL_SECONDS, Next: "VerifySwitchBack" },
    RolledBack: { Type: "Fail", ErrorPath: "$.failure.Error", CausePath: "$.failure.Cause" },
    SwitchBackFailed: { Type: "Fail", Error: "SwitchBackFailed", CausePath: "$.rollbackFailure.Cause" },
  },
};
