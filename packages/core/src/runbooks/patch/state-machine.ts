import type { AslDefinition, AslState } from "../asl.ts";
import { approvalStates, catchAll, dryRunChoice, failWith, RUN_ABORTED, stepBuilders } from "../asl.ts";
import { pollLoop } from "../sdk-tasks.ts";

const R = "patch";
// Compensation (and what must run after an abort: finish, report) retries longest: see define.ts.
const { step, rollbackStep } = stepBuilders(R);
/** Anything that goes wrong once a target has started: put it back as it was. */
const TO_ROLLBACK = catchAll("RollbackTarget", "$.error");
/** A rollback that cannot go on: the target is finished as it is (recorded failed). */
const TO_FINISH = catchAll("FinishTarget", "$.rollbackError");
/** A forward step of a started target: retried while transient, rolled back on any other failure. */
const forward = (name: string, resultPath: string): AslState =>
  step(name, { ResultPath: resultPath, Catch: TO_ROLLBACK });

/**
 * A target's forward phases, in order: a step that acts, then a poll of a check until its answer
 * says `ready` (checks throw on their own timeout). Each phase goes on to the next one's step.
 */
const PHASES: Array<{
  act: [state: string, step: string, resultPath: string];
  poll: [name: string, step: string, resultPath: string];
}> = [
  { act: ["PrepareTarget", "prepareTarget", "$.prep"], poll: ["Ready", "checkReady", "$.ready"] },
  {
    act: ["InstallPatches", "installPatches", "$.command"],
    poll: ["Command", "checkCommand", "$.commandStatus"],
  },
  { act: ["RebootIfNeeded", "rebootIfNeeded", "$.reboot"], poll: ["Health", "checkHealth", "$.health"] },
  { act: ["Reregister", "reregister", "$.registered"], poll: ["Verified", "verifyTarget", "$.verified"] },
];

/** Each phase's states: its step (→ its Wait), its poll loop (→ the next phase's step, or `last`). */
function phases(last: string): Record<string, AslState> {
  return Object.assign(
    {},
    ...PHASES.map(({ act: [state, act, resultPath], poll: [name, check, checkPath] }, i) => ({
      [state]: { ...forward(act, resultPath), Next: `Wait${name}` },
      ...pollLoop({
        wait: `Wait${name}`,
        check: `Check${name}`,
        done: `${name}Done`,
        task: forward(check, checkPath),
        secondsPath: "$.params.pollSeconds",
        donePath: `${checkPath}.ready`,
        next: PHASES[i + 1]?.act[0] ?? last,
      }),
    })),
  );
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
    BeginTarget: step("beginTarget", {
      ResultPath: "$.target",
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
    ...phases("Patched"),
    Patched: {
      Type: "Pass",
      Result: { status: "patched" },
      ResultPath: "$.outcome",
      Next: "FinishTarget",
    },
    RollbackTarget: rollbackStep("rollbackTarget", {
      ResultPath: "$.rollback",
      Catch: TO_FINISH,
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
    ...pollLoop({
      wait: "WaitRollback",
      check: "CheckRollback",
      done: "RollbackDone",
      task: rollbackStep("checkRollback", {
        ResultPath: "$.rollback",
        Catch: TO_FINISH,
      }),
      secondsPath: "$.params.pollSeconds",
      until: [
        { Variable: "$.rollback.ready", BooleanEquals: true, Next: "FinishTarget" },
        { Variable: "$.rollback.skipped", IsPresent: true, Next: "FinishTarget" },
      ],
    }),
    FinishTarget: rollbackStep("finishTarget", {
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
    Plan: step("plan", {
      ResultPath: "$.plan",
      TimeoutSeconds: 900,
      Catch: catchAll("PlanFailed"),
      Next: "IsDryRun",
    }),
    PlanFailed: failWith(),
    IsDryRun: dryRunChoice("ApprovalNeeded"),
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
    Report: rollbackStep("report", {
      ResultPath: "$.report",
      TimeoutSeconds: 900,
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
