import { type AslDefinition, RETRY_ROLLBACK, RETRY_STEP, RUN_ABORTED, stepTask } from "../asl.ts";
import { pollLoop } from "../sdk-tasks.ts";

const R = "backup-snapshot";
const ON_FAILURE = [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Rollback" }];

/**
 * plan → (dry-run: done) → snapshot each instance (Map, 5 at a time, failures per target) →
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
    Plan: stepTask(R, "plan", {
      ResultPath: "$.plan",
      Retry: RETRY_STEP,
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "PlanFailed" }],
      Next: "IsDryRun",
    }),
    PlanFailed: { Type: "Fail", ErrorPath: "$.failure.Error", CausePath: "$.failure.Cause" },
    IsDryRun: {
      Type: "Choice",
      Choices: [{ Variable: "$.execution.dryRun", BooleanEquals: true, Next: "DryRunPlanned" }],
      Default: "SnapshotTargets",
    },
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
          SnapshotInstance: stepTask(R, "snapshotInstance", {
            Retry: RETRY_STEP,
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
      task: stepTask(R, "checkSnapshots", { ResultPath: "$.progress", Retry: RETRY_STEP, Catch: ON_FAILURE }),
      donePath: "$.progress.done",
      next: "CopyRequested",
    }),
    CopyRequested: {
      Type: "Choice",
      Choices: [{ Variable: "$.params.copyToRegion", IsPresent: true, Next: "CopyToRegion" }],
      Default: "Prune",
    },
    CopyToRegion: stepTask(R, "copyToRegion", {
      ResultPath: "$.copies",
      Retry: RETRY_STEP,
      Catch: ON_FAILURE,
      Next: "Prune",
    }),
    Prune: stepTask(R, "prune", {
      ResultPath: "$.pruned",
      Retry: RETRY_STEP,
      Catch: ON_FAILURE,
      Next: "Report",
    }),
    Report: stepTask(R, "report", {
      ResultPath: "$.report",
      Retry: RETRY_STEP,
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
    Rollback: stepTask(R, "rollback", {
      ResultPath: "$.rollback",
      Retry: RETRY_ROLLBACK,
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.rollbackFailure", Next: "RolledBack" }],
      Next: "RolledBack",
    }),
    RolledBack: { Type: "Fail", ErrorPath: "$.failure.Error", CausePath: "$.failure.Cause" },
  },
};
