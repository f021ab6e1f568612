import type { AslDefinition } from "../asl.ts";
import { approvalStates, catchAll, dryRunChoice, failWith, RUN_ABORTED, stepBuilders } from "../asl.ts";
import { pollLoop } from "../sdk-tasks.ts";

const R = "backup-snapshot";
/** Forward steps retry transient errors for minutes, the rollback for longer (see asl.ts). */
const { step, rollbackStep } = stepBuilders(R);
const ON_FAILURE = catchAll("Rollback");

/**
 * plan → (dry-run: done) → approval, when the policy asks → snapshot each instance (Map, 5 at a time, failures per target) →
 * poll until complete or timed out → copy to DR region (optional) → prune expired → report →
 * fail the run if any target failed. Any unexpected error rolls back and fails.
 */
export const backupStateMachine: AslDefinition = {
  Comment: "Reflex backup-snapshot: EBS snapshots of tagged instances, with retention and an S3 manifest",
  StartAt: "Plan",
  // The longest snapshot wait and an hour for the rest (timeouts.test.ts), after the longest
  // approval deadline the config allows.
  TimeoutSeconds: 36 * 3600,
  States: {
    Plan: step("plan", {
      ResultPath: "$.plan",
      Catch: catchAll("PlanFailed"),
      Next: "IsDryRun",
    }),
    PlanFailed: failWith(),
    IsDryRun: dryRunChoice("ApprovalNeeded"),
    // A person approves the plan when the policy asks (a freeze override, a rule, a policy):
    // nothing before this changes anything.
    ...approvalStates(R, "SnapshotTargets"),
    DryRunPlanned: { Type: "Succeed", Comment: "The plan is the result; nothing was changed." },
    SnapshotTargets: {
      Type: "Map",
      ItemsPath: "$.plan.targets",
      MaxConcurrency: 5,
      ItemSelector: {
        "execution.$": "$.execution",
        "params.$": "$.params",
        "region.$": "$.plan.region",
        "target.$": "$$.Map.Item.Value",
      },
      ItemProcessor: {
        ProcessorConfig: { Mode: "INLINE" },
        StartAt: "SnapshotInstance",
        States: {
          SnapshotInstance: step("snapshotInstance", {
            Catch: [
              // Aborted by a person: this target is not started; the Map lets the ones in
              // flight finish, and the next step sees the abort and rolls back.
              { ErrorEquals: [RUN_ABORTED], ResultPath: "$.error", Next: "TargetNotStarted" },
              { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "TargetFailed" },
            ],
            End: true,
          }),
          TargetNotStarted: {
            Type: "Pass",
            Parameters: { "instanceId.$": "$.target.instanceId", status: "aborted" },
            End: true,
          },
          TargetFailed: {
            Type: "Pass",
            Parameters: {
              "instanceId.$": "$.target.instanceId",
              status: "failed",
              "error.$": "$.error.Error",
              "cause.$": "$.error.Cause",
            },
            End: true,
          },
        },
      },
      ResultPath: "$.snapshots",
      Catch: ON_FAILURE,
      Next: "WaitForSnapshots",
    },
    ...pollLoop({
      wait: "WaitForSnapshots",
      check: "CheckSnapshots",
      done: "SnapshotsDone",
      seconds: 30,
      task: step("checkSnapshots", { ResultPath: "$.progress", Catch: ON_FAILURE }),
      donePath: "$.progress.done",
      next: "CopyRequested",
    }),
    CopyRequested: {
      Type: "Choice",
      Choices: [{ Variable: "$.params.copyToRegion", IsPresent: true, Next: "CopyToRegion" }],
      Default: "Prune",
    },
    CopyToRegion: step("copyToRegion", {
      ResultPath: "$.copies",
      Catch: ON_FAILURE,
      Next: "Prune",
    }),
    Prune: step("prune", {
      ResultPath: "$.pruned",
      Catch: ON_FAILURE,
      Next: "Report",
    }),
    Report: step("report", {
      ResultPath: "$.report",
      Catch: ON_FAILURE,
      Next: "AnyTargetFailed",
    }),
    AnyTargetFailed: {
      Type: "Choice",
      Choices: [{ Variable: "$.report.failed", NumericGreaterThan: 0, Next: "PartialFailure" }],
      Default: "Done",
    },
    PartialFailure: {
      Type: "Fail",
      Error: "PartialFailure",
      Cause: "Some targets were not backed up; the execution's result lists each target with its error.",
    },
    Done: { Type: "Succeed" },
    Rollback: rollbackStep("rollback", {
      ResultPath: "$.rollback",
      Catch: catchAll("RolledBack", "$.rollbackFailure"),
      Next: "RolledBack",
    }),
    RolledBack: failWith(),
  },
};
