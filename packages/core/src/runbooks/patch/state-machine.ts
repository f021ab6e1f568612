import {
  type AslDefinition,
  type AslState,
  approvalStates,
  RETRY_LAMBDA,
  RETRY_ROLLBACK,
  RETRY_THROTTLING,
  RUN_ABORTED,
  stepTask,
} from "../asl.ts";

const R = "patch";
const RETRY = [RETRY_LAMBDA, RETRY_THROTTLING];
// Compensation (and what must run after an abort: finish, report) retries longest: see define.ts.
/** Anything that goes wrong once a target has started: put it back as it was. */
const TO_ROLLBACK = [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "RollbackTarget" }];

/** Wait `pollSeconds`, check, loop until the check says `ready` (checks throw on their timeout). */
function pollLoop(name: string, step: string, resultPath: string, next: string): Record<string, AslState> {
  return {
    [`Wait${name}`]: { Type: "Wait", SecondsPath: "$.params.pollSeconds", Next: `Check${name}` },
    [`Check${name}`]: stepTask(R, step, {
      ResultPath: resultPath,
      Retry: RETRY,
      Catch: TO_ROLLBACK,
      Next: `${name}Done`,
    }),
    [`${name}Done`]: {
      Type: "Choice",
      Choices: [{ Variable: `${resultPath}.ready`, BooleanEquals: true, Next: next }],
      Default: `Wait${name}`,
    },
  };
}

/**
 * One target, start to end: a child workflow execution of the Distributed Map, so each target
 * has its own history (a 5,000-instance run never nears the 25,000-event limit of one).
 *
 * begin (cutoff? errors past maxErrors? SSM-managed and online?) → snapshot the root volume and
 * deregister from its target groups → wait for the snapshot and draining → SendCommand
 * AWS-RunPatchBaseline Install → poll → reboot if patches are pending a reboot → wait for status
 * checks and SSM ping → re-register → wait until healthy in every target group → patched.
 * Any failure after begin: replace the root volume from the pre-patch snapshot, re-register,
 * record `rolled-back` (or `failed`).
 */
export const targetProcessor: AslDefinition = {
  StartAt: "BeginTarget",
  States: {
    BeginTarget: stepTask(R, "beginTarget", {
      ResultPath: "$.target",
      Retry: RETRY,
      Catch: [
        // Aborted by a person before this target started: it is not started.
        { ErrorEquals: [RUN_ABORTED], ResultPath: "$.error", Next: "NotStartedAborted" },
        { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "FinishTarget" },
      ],
      Next: "ShouldStart",
    }),
    NotStartedAborted: {
      Type: "Pass",
      Result: { status: "not-started", reason: "aborted" },
      ResultPath: "$.outcome",
      Next: "FinishTarget",
    },
    ShouldStart: {
      Type: "Choice",
      Choices: [{ Variable: "$.target.start", BooleanEquals: true, Next: "PrepareTarget" }],
      Default: "FinishTarget",
    },
    PrepareTarget: stepTask(R, "prepareTarget", {
      ResultPath: "$.prep",
      Retry: RETRY,
      Catch: TO_ROLLBACK,
      Next: "WaitReady",
    }),
    ...pollLoop("Ready", "checkReady", "$.ready", "InstallPatches"),
    InstallPatches: stepTask(R, "installPatches", {
      ResultPath: "$.command",
      Retry: RETRY,
      Catch: TO_ROLLBACK,
      Next: "WaitCommand",
    }),
    ...pollLoop("Command", "checkCommand", "$.commandStatus", "RebootIfNeeded"),
    RebootIfNeeded: stepTask(R, "rebootIfNeeded", {
      ResultPath: "$.reboot",
      Retry: RETRY,
      Catch: TO_ROLLBACK,
      Next: "WaitHealth",
    }),
    ...pollLoop("Health", "checkHealth", "$.health", "Reregister"),
    Reregister: stepTask(R, "reregister", {
      ResultPath: "$.registered",
      Retry: RETRY,
      Catch: TO_ROLLBACK,
      Next: "WaitVerified",
    }),
    ...pollLoop("Verified", "verifyTarget", "$.verified", "Patched"),
    Patched: {
      Type: "Pass",
      Result: { status: "patched" },
      ResultPath: "$.outcome",
      Next: "FinishTarget",
    },
    RollbackTarget: stepTask(R, "rollbackTarget", {
      ResultPath: "$.rollback",
      Retry: RETRY_ROLLBACK,
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.rollbackError", Next: "FinishTarget" }],
      Next: "RollbackStarted",
    }),
    RollbackStarted: {
      Type: "Choice",
      Choices: [
        { Variable: "$.rollback.taskId", IsPresent: true, Next: "WaitRollback" },
        // The patch command has not ended yet: the replacement starts once it has.
        { Variable: "$.rollback.waitingForCommand", IsPresent: true, Next: "WaitRollback" },
      ],
      Default: "FinishTarget",
    },
    WaitRollback: { Type: "Wait", SecondsPath: "$.params.pollSeconds", Next: "CheckRollback" },
    CheckRollback: stepTask(R, "checkRollback", {
      ResultPath: "$.rollback",
      Retry: RETRY_ROLLBACK,
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.rollbackError", Next: "FinishTarget" }],
      Next: "RollbackDone",
    }),
    RollbackDone: {
      Type: "Choice",
      Choices: [
        { Variable: "$.rollback.ready", BooleanEquals: true, Next: "FinishTarget" },
        { Variable: "$.rollback.skipped", IsPresent: true, Next: "FinishTarget" },
      ],
      Default: "WaitRollback",
    },
    FinishTarget: stepTask(R, "finishTarget", {
      Retry: RETRY_ROLLBACK,
      // The child's output is dropped (ResultPath null on the Map): results live in DynamoDB.
      ResultSelector: { "status.$": "$.status" },
      End: true,
    }),
  },
};

/**
 * plan → (dry-run: done) → approval (policy) → PatchTargets: a Distributed Map over the
 * planned instance ids, `MaxConcurrencyPath` from maxConcurrency, one child execution per
 * target → report (S3 + execution record) → fail if any target failed, end ABORTED if a person
 * aborted. maxErrors and the window cutoff are enforced by each target's begin step (no new
 * target starts past them; in-flight ones finish), so the Map itself tolerates every failure.
 */
export const patchStateMachine: AslDefinition = {
  Comment: "Reflex patch: AWS-RunPatchBaseline with rate control, pre-patch snapshots and rollback",
  StartAt: "Plan",
  TimeoutSeconds: 7 * 24 * 3600,
  States: {
    Plan: stepTask(R, "plan", {
      ResultPath: "$.plan",
      TimeoutSeconds: 900,
      Retry: RETRY,
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "PlanFailed" }],
      Next: "IsDryRun",
    }),
    PlanFailed: { Type: "Fail", ErrorPath: "$.failure.Error", CausePath: "$.failure.Cause" },
    IsDryRun: {
      Type: "Choice",
      Choices: [{ Variable: "$.execution.dryRun", BooleanEquals: true, Next: "DryRunPlanned" }],
      Default: "ApprovalNeeded",
    },
    DryRunPlanned: {
      Type: "Succeed",
      Comment: "The plan (targets and batches) is the result; nothing was changed.",
    },
    ...approvalStates(R, "PatchTargets"),
    PatchTargets: {
      Type: "Map",
      ItemsPath: "$.plan.instanceIds",
      MaxConcurrencyPath: "$.plan.maxConcurrency",
      ToleratedFailurePercentage: 100,
      ItemSelector: {
        "execution.$": "$.execution",
        "params.$": "$.params",
        "region.$": "$.plan.region",
        "limits.$": "$.plan.limits",
        "instanceId.$": "$$.Map.Item.Value",
      },
      ItemProcessor: {
        ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
        ...targetProcessor,
      },
      ResultPath: null,
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Report" }],
      Next: "Report",
    },
    Report: stepTask(R, "report", {
      ResultPath: "$.report",
      TimeoutSeconds: 900,
      Retry: RETRY_ROLLBACK,
      Next: "Outcome",
    }),
    Outcome: {
      Type: "Choice",
      Choices: [
        { Variable: "$.report.aborted", BooleanEquals: true, Next: "Aborted" },
        { Variable: "$.report.failed", NumericGreaterThan: 0, Next: "PartialFailure" },
      ],
      Default: "Done",
    },
    Aborted: {
      Type: "Fail",
      Error: RUN_ABORTED,
      Cause: "A person aborted the run; targets not started are listed in the report.",
    },
    PartialFailure: {
      Type: "Fail",
      Error: "PartialFailure",
      Cause: "Some targets failed; each was rolled back when it could be. The report lists every target.",
    },
    Done: { Type: "Succeed" },
  },
};
