/**
 * Compensation for a scale run that failed part-way. Both steps undo only this run's own
 * change, read the current state before acting, and are safe to repeat.
 *
 * - restoreCapacity: set the group's desired capacity back to what the plan found, if it is
 *   still the value this run set. A value someone else set since is left alone.
 * - restoreInstanceType: one round of "stop → set the old type → start", called in a
 *   Wait/Choice loop until the instance is its old type and in its old state again.
 */

import { SetDesiredCapacityCommand } from "@aws-sdk/client-auto-scaling";
import {
  ModifyInstanceAttributeCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from "@aws-sdk/client-ec2";
import { ec2 } from "../../adapters/ec2.ts";
import { parseDuration } from "../../config/duration.ts";
import { must, StepExecutionError } from "../../errors.ts";
import * as Executions from "../../state/executions.ts";
import type { RunInput } from "../define.ts";
import type { ScaleParams } from "./params.ts";
import {
  autoscaling,
  type CapacityPlan,
  describeGroup,
  describeInstance,
  formatDuration,
  type ResizePlan,
  type ScaleContext,
} from "./steps.ts";

type Failure = { Error?: string; Cause?: string };

export interface CapacityRollback {
  restored: boolean;
  /** The desired capacity found when rollback ran, and the one it left. */
  found: number;
  desired: number;
  reason: string;
}

/** Puts the desired capacity back to the plan's `previous.desired`, if this run's change is still in place. */
export async function restoreCapacity(
  input: RunInput<ScaleParams> & { plan?: CapacityPlan; failure?: Failure },
  ctx: ScaleContext,
): Promise<CapacityRollback> {
  const plan = must(input.plan, "input.plan");
  const previous = plan.previous.desired;
  const found = (await describeGroup(plan.region, plan.autoScalingGroup)).DesiredCapacity ?? 0;
  let out: CapacityRollback;
  if (found === previous) {
    out = {
      restored: false,
      found,
      desired: found,
      reason: `the desired capacity is still ${previous}: nothing to undo`,
    };
  } else if (found === plan.target) {
    await autoscaling(plan.region).send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: plan.autoScalingGroup,
        DesiredCapacity: previous,
        HonorCooldown: false,
      }),
    );
    out = {
      restored: true,
      found,
      desired: previous,
      reason: `set the desired capacity back from ${found} to ${previous}`,
    };
  } else {
    out = {
      restored: false,
      found,
      desired: found,
      reason: `the desired capacity is now ${found}, neither ${previous} (before) nor ${plan.target} (this run's): someone else changed it, so it is left as is`,
    };
  }
  await Executions.setResult(ctx.executionId, { rollback: { ...out, failure: input.failure ?? null } });
  return out;
}

export interface TypeRollback {
  done: boolean;
  instanceType: string;
  state: string;
  /** Every call rollback made so far, across rounds. */
  actions: string[];
  /** When rollback began; the timeout counts from here. */
  since: string;
}

/**
 * One round of putting the instance back as it was: the old type, and running if it was
 * running. Each round reads the instance and makes the one call that moves it on (stop it
 * while it has the new type, set the old type once stopped, start it), so a repeated round
 * never undoes progress. `done` when nothing is left to do.
 */
export async function restoreInstanceType(
  input: RunInput<ScaleParams> & { plan?: ResizePlan; rollback?: TypeRollback; failure?: Failure },
  ctx: ScaleContext,
): Promise<TypeRollback> {
  const plan = must(input.plan, "input.plan");
  const since = input.rollback?.since ?? ctx.now().toISOString();
  const actions = [...(input.rollback?.actions ?? [])];
  const instance = await describeInstance(plan.region, plan.instanceId);
  let type = instance.InstanceType ?? "unknown";
  let state = instance.State?.Name ?? "unknown";
  const client = ec2(plan.region);
  if (state === "terminated" || state === "shutting-down") {
    throw new StepExecutionError(
      "InstanceTerminated",
      `instance ${plan.instanceId} is ${state}; there is nothing to restore`,
    );
  }
  if (type !== plan.from) {
    if (state === "running") {
      await client.send(new StopInstancesCommand({ InstanceIds: [plan.instanceId] }));
      actions.push("StopInstances");
      state = "stopping";
    } else if (state === "stopped") {
      await client.send(
        new ModifyInstanceAttributeCommand({
          InstanceId: plan.instanceId,
          InstanceType: { Value: plan.from },
        }),
      );
      actions.push(`ModifyInstanceAttribute ${type} → ${plan.from}`);
      type = plan.from;
    }
  }
  if (type === plan.from && plan.state === "running" && state === "stopped") {
    await client.send(new StartInstancesCommand({ InstanceIds: [plan.instanceId] }));
    actions.push("StartInstances");
    state = "pending";
  }
  // A run that found the instance stopped leaves it stopped; one that found it running, running.
  const done = type === plan.from && state === plan.state;
  const out: TypeRollback = { done, instanceType: type, state, actions, since };
  if (!done) {
    const waited = ctx.now().getTime() - Date.parse(since);
    if (waited > must(parseDuration(input.params.timeout), "parseDuration(input.params.timeout)")) {
      throw new StepExecutionError(
        "RollbackTimeout",
        `instance ${plan.instanceId} is still ${type} and ${state} after ${formatDuration(waited)} of rollback (timeout ${input.params.timeout})`,
      );
    }
  } else {
    await Executions.setResult(ctx.executionId, {
      rollback: {
        restored: actions.length > 0,
        instanceType: type,
        state,
        actions,
        failure: input.failure ?? null,
      },
    });
  }
  return out;
}
