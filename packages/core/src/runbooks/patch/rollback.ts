/**
 * Compensation for one failed target: count the failure (so maxErrors can stop new targets),
 * put the instance back on its pre-patch root volume (CreateReplaceRootVolumeTask from the
 * snapshot taken before anything changed), and put it back in its target groups. A target that
 * failed before the patch command was sent changed nothing on the instance: it is only
 * re-registered. These steps also run after a person aborted the run (see `rollback` in
 * index.ts): what was started is finished or undone, never left half-done.
 */
import {
  CreateReplaceRootVolumeTaskCommand,
  DescribeReplaceRootVolumeTasksCommand,
  paginateDescribeReplaceRootVolumeTasks,
  type ReplaceRootVolumeTask,
} from "@aws-sdk/client-ec2";
import { RegisterTargetsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { ec2 } from "../../adapters/ec2.ts";
import { must, StepExecutionError } from "../../errors.ts";
import * as Changes from "../../state/patch-changes.ts";
import * as Results from "../../state/patch-results.ts";
import { RUN_ABORTED } from "../asl.ts";
import type { StepContext } from "../define.ts";
import { SNAPSHOT_TAGS, snapshotStates } from "../snapshots.ts";
import { cancelCommand, commandStatus, elbv2, groupsToRestore, type TargetInput } from "./steps.ts";

const ROLLBACK_TIMEOUT_S = 1800;

/**
 * Starts the root-volume replacement (once per execution and instance). Never under a running
 * patch command: when the command has not ended (its cancel failed, or SSM is still cancelling
 * it), it asks again for a cancel and waits (`waitingForCommand`, polled by checkRollback).
 */
export async function rollbackTarget(
  input: TargetInput,
  ctx: StepContext,
): Promise<NonNullable<TargetInput["rollback"]>> {
  if (input.error?.Error !== RUN_ABORTED) await Results.countFailure(ctx.executionId, input.instanceId);
  return startReplacement(input, ctx, ctx.now().toISOString());
}

async function startReplacement(
  input: TargetInput,
  ctx: StepContext,
  since: string,
): Promise<NonNullable<TargetInput["rollback"]>> {
  const { region, instanceId } = input;
  // Not "nothing changed": the instance may be out of its target groups, which finishTarget puts right.
  if (!input.command)
    return {
      skipped: "the patch command was never sent; the instance's software and root volume are as they were",
    };
  if (!input.params.rollbackOnFailure) return { skipped: "rollbackOnFailure is false" };
  const command = await commandStatus(region, input.command.commandId, instanceId);
  if (command.running) {
    if ((ctx.now().getTime() - Date.parse(since)) / 1000 > ROLLBACK_TIMEOUT_S)
      throw new StepExecutionError(
        "RollbackTimedOut",
        `the patch command ${input.command.commandId} is still ${command.status} on ${instanceId}; the root volume was not replaced under it`,
      );
    const cancel = await cancelCommand(region, input.command.commandId, instanceId);
    return { waitingForCommand: `${command.status}; ${cancel}`, at: since, ready: false };
  }
  const snapshotId = input.prep?.snapshotId;
  if (!snapshotId) return { skipped: "no pre-patch snapshot" };
  const state = (await snapshotStates(region, [snapshotId]))[snapshotId];
  if (state !== "completed") return { skipped: `pre-patch snapshot ${snapshotId} is ${state}` };
  // Every page: this run's task on a later one (an instance replaced often) would be started twice.
  let mine: ReplaceRootVolumeTask | undefined;
  for await (const page of paginateDescribeReplaceRootVolumeTasks(
    { client: ec2(region) },
    { Filters: [{ Name: "instance-id", Values: [instanceId] }] },
  )) {
    mine = page.ReplaceRootVolumeTasks?.find((t) =>
      t.Tags?.some((tag) => tag.Key === SNAPSHOT_TAGS.execution && tag.Value === ctx.executionId),
    );
    if (mine) break;
  }
  if (mine)
    return {
      taskId: must(mine.ReplaceRootVolumeTaskId, "mine.ReplaceRootVolumeTaskId"),
      at: mine.StartTime ?? ctx.now().toISOString(),
      ready: false,
    };
  await Changes.recordChange(
    ctx.executionId,
    instanceId,
    "rootVolume",
    { at: ctx.now().toISOString(), snapshotId },
    ctx.now(),
  );
  const made = await ec2(region).send(
    new CreateReplaceRootVolumeTaskCommand({
      InstanceId: instanceId,
      SnapshotId: snapshotId,
      DeleteReplacedRootVolume: false, // keep the patched volume for a post-mortem
      TagSpecifications: [
        {
          ResourceType: "replace-root-volume-task",
          Tags: [
            { Key: ctx.automationTag.key, Value: ctx.automationTag.value },
            { Key: SNAPSHOT_TAGS.runbook, Value: "patch" },
            { Key: SNAPSHOT_TAGS.execution, Value: ctx.executionId },
          ],
        },
      ],
    }),
  );
  return {
    taskId: must(
      must(made.ReplaceRootVolumeTask, "made.ReplaceRootVolumeTask").ReplaceRootVolumeTaskId,
      "made.ReplaceRootVolumeTask.ReplaceRootVolumeTaskId",
    ),
    at: ctx.now().toISOString(),
    ready: false,
  };
}

/** Polls the replacement: `succeeded` ends it; a failed state or the timeout is an error. */
export async function checkRollback(
  input: TargetInput,
  ctx: StepContext,
): Promise<NonNullable<TargetInput["rollback"]>> {
  const r = must(input.rollback, "input.rollback");
  if (r.waitingForCommand !== undefined) return startReplacement(input, ctx, must(r.at, "r.at"));
  const out = await ec2(input.region).send(
    new DescribeReplaceRootVolumeTasksCommand({ ReplaceRootVolumeTaskIds: [must(r.taskId, "r.taskId")] }),
  );
  const state = out.ReplaceRootVolumeTasks?.[0]?.TaskState ?? "missing";
  if (state === "succeeded") return { ...r, ready: true };
  if (state.startsWith("fail") || state === "missing")
    throw new StepExecutionError("RollbackFailed", `replace-root-volume task ${r.taskId} is ${state}`);
  if ((ctx.now().getTime() - Date.parse(must(r.at, "r.at"))) / 1000 > ROLLBACK_TIMEOUT_S)
    throw new StepExecutionError("RollbackTimedOut", `replace-root-volume task ${r.taskId} still ${state}`);
  return { ...r, ready: false };
}

/** What happened to the target, from what the child execution carries. */
function outcomeOf(input: TargetInput): { status: Results.TargetStatus; reason?: string } {
  if (input.outcome) return input.outcome;
  if (input.target && !input.target.start && input.target.outcome) return input.target.outcome;
  const cause = input.error ? `${input.error.Error}: ${input.error.Cause ?? ""}`.trim() : "unknown error";
  if (!input.target) return { status: "failed", reason: cause };
  if (input.rollback?.ready) return { status: "rolled-back", reason: cause };
  // Aborted before its patch command was sent: nothing was installed and the root volume is its
  // own, so the patch never started on it (finishTarget puts it back in its groups, or fails it).
  if (input.error?.Error === RUN_ABORTED && !input.command)
    return { status: "not-started", reason: "aborted" };
  const why = input.rollbackError
    ? `rollback failed: ${input.rollbackError.Error}: ${input.rollbackError.Cause ?? ""}`
    : input.rollback?.skipped
      ? `not rolled back: ${input.rollback.skipped}`
      : "";
  return { status: "failed", reason: why ? `${cause}; ${why}` : cause };
}

/**
 * The last step of every target: back into every target group it was taken out of — as
 * recorded before it was taken out, so a step that failed part-way leaves none behind (unless
 * it was patched, when `reregister` already did it) — and its result recorded. An instance that
 * cannot be put back stays listed as out (the next patch of it puts it back) and its target is
 * `failed`, saying so.
 */
export async function finishTarget(
  input: TargetInput,
  ctx: StepContext,
): Promise<{ status: Results.TargetStatus }> {
  const outcome = outcomeOf(input);
  let status = outcome.status;
  let reason = outcome.reason;
  const groups = await groupsToRestore(input, ctx.executionId);
  const stillOut: string[] = [];
  if (outcome.status !== "patched") {
    for (const arn of groups) {
      try {
        await elbv2(input.region).send(
          new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: input.instanceId }] }),
        );
      } catch (err) {
        stillOut.push(arn);
        reason = `${reason ?? ""}; could not re-register in ${arn}: ${(err as Error).message}`;
      }
    }
  }
  if (stillOut.length) {
    status = "failed";
    reason = `${reason}; still out of ${stillOut.length} target group(s) (recorded: the next patch of ${input.instanceId} puts it back)`;
  } else if (groups.length) {
    await Changes.markRestored(ctx.executionId, input.instanceId, ctx.now());
    // Groups an earlier run left it out of were in this run's list, and are restored with them.
    for (const earlier of input.target?.restores ?? [])
      await Changes.markRestored(earlier.executionId, input.instanceId, ctx.now());
  }
  await Results.put(ctx.executionId, {
    instanceId: input.instanceId,
    name: input.target?.name,
    status,
    reason,
    snapshotId: input.prep?.snapshotId,
    rebooted: input.reboot?.rebooted,
    installed: input.reboot?.installed,
    targetGroups: groups.length ? groups : input.prep?.deregistered,
    rollbackTaskId: input.rollback?.taskId,
    startedAt: input.target?.startedAt,
    endedAt: ctx.now().toISOString(),
  });
  return { status };
}
