import {
  type AslCatcher,
  type AslDefinition,
  type AslState,
  approvalStates,
  RETRY_ROLLBACK,
  RETRY_STEP,
  stepTask,
} from "../asl.ts";
import { pollLoop } from "../sdk-tasks.ts";

const R = "scale";
const onFailure = (next: string): AslCatcher[] => [
  { ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: next },
];
/** Every step retries transient AWS errors for minutes; rollback steps for longer (see asl.ts). */
const step = (name: string, rest: Partial<AslState>) => stepTask(R, name, { Retry: RETRY_STEP, ...rest });
const rollbackStep = (name: string, rest: Partial<AslState>) =>
  stepTask(R, name, { Retry: RETRY_ROLLBACK, ...rest });

/**
 * Mode → plan → (dry-run, or nothing to change: done) → act → verify, in two branches.
 *
 * horizontal: PlanCapacity → [approval] → SetCapacity → (Wait → CheckCapacity)* until InService.
 * vertical:   PlanResize → [approval] → [SnapshotVolumes] → (StopInstance → Wait)* → ModifyType →
 *             (StartInstance → Wait)* → VerifyResize.
 *
 * A failed plan fails the run (nothing was changed). Any later failure, a wait timeout
 * included, runs the branch's rollback and then fails with the original error.
 */
export const scaleStateMachine: AslDefinition = {
  Comment: "Reflex scale: change an Auto Scaling group's desired capacity, or resize one instance",
  StartAt: "Mode",
  // A resize's longest waits and its rollback (timeouts.test.ts), after the longest approval
  // deadline the config allows.
  TimeoutSeconds: 16 * 3600,
  States: {
    Mode: {
      Type: "Choice",
      Choices: [{ Variable: "$.params.mode", StringEquals: "vertical", Next: "PlanResize" }],
      Default: "PlanCapacity",
    },
    PlanFailed: { Type: "Fail", ErrorPath: "$.failure.Error", CausePath: "$.failure.Cause" },
    DryRunPlanned: { Type: "Succeed", Comment: "The plan is the result; nothing was changed." },
    Skipped: {
      Type: "Succeed",
      Comment: "Nothing to change, or a scale-in the alarm rule holds back; the result says why.",
    },

    // ---- horizontal ----
    PlanCapacity: step("planCapacity", {
      ResultPath: "$.plan",
      Catch: onFailure("PlanFailed"),
      Next: "CapacityDecision",
    }),
    CapacityDecision: {
      Type: "Choice",
      Choices: [
        { Variable: "$.execution.dryRun", BooleanEquals: true, Next: "DryRunPlanned" },
        { Variable: "$.plan.skipped", IsPresent: true, Next: "Skipped" },
      ],
      Default: "CapacityApprovalNeeded",
    },
    // A person approves the plan first when policy says so (risk, environment, the rule).
    ...approvalStates(R, "SetCapacity", "CapacityApproval"),
    SetCapacity: step("setCapacity", {
      ResultPath: "$.applied",
      Catch: onFailure("RestoreCapacity"),
      Next: "WaitForCapacity",
    }),
    ...pollLoop({
      wait: "WaitForCapacity",
      check: "CheckCapacity",
      done: "CapacityReached",
      seconds: 15,
      task: step("checkCapacity", { ResultPath: "$.progress", Catch: onFailure("RestoreCapacity") }),
      donePath: "$.progress.done",
      next: "Scaled",
    }),
    Scaled: { Type: "Succeed" },
    RestoreCapacity: rollbackStep("restoreCapacity", {
      ResultPath: "$.rollback",
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.rollbackFailure", Next: "RolledBack" }],
      Next: "RolledBack",
    }),

    // ---- vertical ----
    PlanResize: step("planResize", {
      ResultPath: "$.plan",
      Catch: onFailure("PlanFailed"),
      Next: "ResizeDecision",
    }),
    ResizeDecision: {
      Type: "Choice",
      Choices: [{ Variable: "$.execution.dryRun", BooleanEquals: true, Next: "DryRunPlanned" }],
      Default: "ResizeApprovalNeeded",
    },
    ...approvalStates(R, "SnapshotFirst", "ResizeApproval"),
    SnapshotFirst: {
      Type: "Choice",
      Choices: [{ Variable: "$.params.snapshotFirst", BooleanEquals: true, Next: "SnapshotVolumes" }],
      Default: "StopInstance",
    },
    SnapshotVolumes: step("snapshotVolumes", {
      ResultPath: "$.snapshots",
      Catch: onFailure("RestoreInstanceType"),
      Next: "StopInstance",
    }),
    ...pollLoop({
      check: "StopInstance",
      done: "Stopped",
      wait: "WaitForStop",
      seconds: 10,
      task: step("stopInstance", { ResultPath: "$.stop", Catch: onFailure("RestoreInstanceType") }),
      donePath: "$.stop.done",
      next: "ModifyType",
    }),
    ModifyType: step("modifyType", {
      ResultPath: "$.modified",
      Catch: onFailure("RestoreInstanceType"),
      Next: "StartInstance",
    }),
    ...pollLoop({
      check: "StartInstance",
      done: "Started",
      wait: "WaitForStart",
      seconds: 10,
      task: step("startInstance", { ResultPath: "$.start", Catch: onFailure("RestoreInstanceType") }),
      donePath: "$.start.done",
      next: "VerifyResize",
    }),
    VerifyResize: step("verifyResize", {
      ResultPath: "$.verified",
      Catch: onFailure("RestoreInstanceType"),
      Next: "Resized",
    }),
    Resized: { Type: "Succeed" },
    ...pollLoop({
      check: "RestoreInstanceType",
      done: "InstanceRestored",
      wait: "WaitForRestore",
      seconds: 10,
      task: rollbackStep("restoreInstanceType", {
        ResultPath: "$.rollback",
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.rollbackFailure", Next: "RolledBack" }],
      }),
      donePath: "$.rollback.done",
      next: "RolledBack",
    }),

    RolledBack: { Type: "Fail", ErrorPath: "$.failure.Error", CausePath: "$.failure.Cause" },
  },
};
