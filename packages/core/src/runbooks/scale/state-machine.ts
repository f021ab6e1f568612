import type { AslDefinition } from "../asl.ts";
import { approvalStates, catchAll, dryRunChoice, failWith, stepBuilders } from "../asl.ts";
import { pollLoop } from "../sdk-tasks.ts";

const R = "scale";
/** Every step retries transient AWS errors for minutes; rollback steps for longer (see asl.ts). */
const { step, rollbackStep } = stepBuilders(R);

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
    PlanFailed: failWith(),
    DryRunPlanned: { Type: "Succeed", Comment: "The plan is the result; nothing was changed." },
    Skipped: {
      Type: "Succeed",
      Comment: "Nothing to change, or a scale-in the alarm rule holds back; the result says why.",
    },

    // ---- horizontal ----
    PlanCapacity: step("planCapacity", {
      ResultPath: "$.plan",
      Catch: catchAll("PlanFailed"),
      Next: "CapacityDecision",
    }),
    CapacityDecision: dryRunChoice("CapacityApprovalNeeded", "DryRunPlanned", [
      { Variable: "$.plan.skipped", IsPresent: true, Next: "Skipped" },
    ]),
    // A person approves the plan first when policy says so (risk, environment, the rule).
    ...approvalStates(R, "SetCapacity", "CapacityApproval"),
    SetCapacity: step("setCapacity", {
      ResultPath: "$.applied",
      Catch: catchAll("RestoreCapacity"),
      Next: "WaitForCapacity",
    }),
    ...pollLoop({
      wait: "WaitForCapacity",
      check: "CheckCapacity",
      done: "CapacityReached",
      seconds: 15,
      task: step("checkCapacity", { ResultPath: "$.progress", Catch: catchAll("RestoreCapacity") }),
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
      Catch: catchAll("PlanFailed"),
      Next: "ResizeDecision",
    }),
    ResizeDecision: dryRunChoice("ResizeApprovalNeeded"),
    ...approvalStates(R, "SnapshotFirst", "ResizeApproval"),
    SnapshotFirst: {
      Type: "Choice",
      Choices: [{ Variable: "$.params.snapshotFirst", BooleanEquals: true, Next: "SnapshotVolumes" }],
      Default: "StopInstance",
    },
    SnapshotVolumes: step("snapshotVolumes", {
      ResultPath: "$.snapshots",
      Catch: catchAll("RestoreInstanceType"),
      Next: "StopInstance",
    }),
    ...pollLoop({
      check: "StopInstance",
      done: "Stopped",
      wait: "WaitForStop",
      seconds: 10,
      task: step("stopInstance", { ResultPath: "$.stop", Catch: catchAll("RestoreInstanceType") }),
      donePath: "$.stop.done",
      next: "ModifyType",
    }),
    ModifyType: step("modifyType", {
      ResultPath: "$.modified",
      Catch: catchAll("RestoreInstanceType"),
      Next: "StartInstance",
    }),
    ...pollLoop({
      check: "StartInstance",
      done: "Started",
      wait: "WaitForStart",
      seconds: 10,
      task: step("startInstance", { ResultPath: "$.start", Catch: catchAll("RestoreInstanceType") }),
      donePath: "$.start.done",
      next: "VerifyResize",
    }),
    VerifyResize: step("verifyResize", {
      ResultPath: "$.verified",
      Catch: catchAll("RestoreInstanceType"),
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

    RolledBack: failWith(),
  },
};
