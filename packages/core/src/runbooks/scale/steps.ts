/**
 * The scale steps, one per Task state.
 *
 * Horizontal: plan → set the desired capacity → check (a Wait/Choice loop) until the target
 * is InService. Vertical: plan → snapshot → stop (loop) → change the type → start (loop) →
 * verify. Every mutating step reads the current state first and does only what is still
 * missing, so a retried step (Lambda, Step Functions and the SDK all retry) never acts twice.
 */
import {
  AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  type _InstanceType,
  CreateSnapshotCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  type Instance,
  type InstanceTypeInfo,
  ModifyInstanceAttributeCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  type Tag,
} from "@aws-sdk/client-ec2";
import { ec2, findSnapshots, isNotFound, tagValue } from "../../adapters/ec2.ts";
import { client } from "../../aws.ts";
import { isAwsError } from "../../aws-errors.ts";
import { parseDuration } from "../../config/duration.ts";
import { region as defaultRegion } from "../../env.ts";
import { StepExecutionError } from "../../errors.ts";
import * as Alarms from "../../state/alarms.ts";
import * as Executions from "../../state/executions.ts";
import type { RunInput, StepContext } from "../define.ts";
import {
  type Change,
  type HorizontalParams,
  parseChange,
  type ScaleParams,
  type VerticalParams,
} from "./params.ts";

export const RUNBOOK = "scale";

import { must } from "../../errors.ts";
import { SCALE_CAP } from "./params.ts";

export { SCALE_CAP };
/** The tag keys backup-snapshot puts on its snapshots; the pre-resize snapshots carry the same. */
export const TAGS = {
  runbook: "reflex:runbook",
  execution: "reflex:execution-id",
  instance: "reflex:source-instance",
  volume: "reflex:source-volume",
} as const;

export type ScaleContext = StepContext & { maxTargets?: number };

// ---------------------------------------------------------------------------------------
// Shared helpers

export function autoscaling(region: string): AutoScalingClient {
  return client(AutoScalingClient, "autoscaling", region);
}

function carriesTag(
  tags: Array<{ Key?: string; Value?: string }> | undefined,
  tag: StepContext["automationTag"],
): boolean {
  return (tags ?? []).some((t) => t.Key === tag.key && t.Value === tag.value);
}

/** `3m12s`, `45s`, `1h5m`: how long something has lasted, for messages. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${m > 0 ? `${m}m` : ""}`;
  if (m > 0) return `${m}m${sec > 0 ? `${sec}s` : ""}`;
  return `${sec}s`;
}

function horizontal(p: ScaleParams): HorizontalParams {
  if (p.mode !== "horizontal")
    throw new StepExecutionError("WrongMode", `a horizontal step got params of mode ${p.mode}`);
  return p;
}

function vertical(p: ScaleParams): VerticalParams {
  if (p.mode !== "vertical")
    throw new StepExecutionError("WrongMode", `a vertical step got params of mode ${p.mode}`);
  return p;
}

/** The group, or StepExecutionError `GroupNotFound`. */
export async function describeGroup(region: string, name: string): Promise<AutoScalingGroup> {
  const out = await autoscaling(region).send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const group = out.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === name);
  if (!group)
    throw new StepExecutionError("GroupNotFound", `Auto Scaling group '${name}' does not exist in ${region}`);
  return group;
}

export interface Capacity {
  desired: number;
  min: number;
  max: number;
  /** Members InService and Healthy. */
  inService: number;
  /** Members not on their way out (everything but Terminating/Terminated). */
  live: number;
}

export function capacityOf(group: AutoScalingGroup): Capacity {
  const members = group.Instances ?? [];
  return {
    desired: group.DesiredCapacity ?? 0,
    min: group.MinSize ?? 0,
    max: group.MaxSize ?? 0,
    inService: members.filter((i) => i.LifecycleState === "InService" && i.HealthStatus === "Healthy").length,
    live: members.filter((i) => !String(i.LifecycleState ?? "").startsWith("Terminat")).length,
  };
}

/** One instance, whatever its state, or StepExecutionError `InstanceNotFound`. */
export async function describeInstance(region: string, instanceId: string): Promise<Instance> {
  try {
    const out = await ec2(region).send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const found = out.Reservations?.flatMap((r) => r.Instances ?? []).find(
      (i) => i.InstanceId === instanceId,
    );
    if (found) return found;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  throw new StepExecutionError("InstanceNotFound", `instance ${instanceId} does not exist in ${region}`);
}

// ---------------------------------------------------------------------------------------
// Horizontal

export interface CapacityPlan {
  mode: "horizontal";
  region: string;
  autoScalingGroup: string;
  change: string;
  /** The group before this run: its desired capacity is what rollback restores. */
  previous: Capacity;
  /** The desired capacity the change asks for, before any limit. */
  requested: number;
  /** The desired capacity this run sets. */
  target: number;
  delta: number;
  /** Why `target` differs from `requested`, one line per limit that applied. */
  limits: string[];
  maxStep: number;
  cap: number;
  /** How the scale-in rule decided, for a scale-in. */
  scaleIn?: string;
  /** Set when the run changes nothing, with the reason. */
  skipped?: string;
}

/**
 * The desired capacity a change asks for. A percentage is of the current desired capacity
 * and rounds like Auto Scaling's PercentChangeInCapacity: toward zero, but never below one
 * instance when the percentage is not zero (+50% of 6 is 3; +10% of 6 is 1).
 */
export function requestedCapacity(current: number, change: Change): number {
  let n = change.amount;
  if (change.percent) {
    const raw = (current * change.amount) / 100;
    n = raw === 0 ? 0 : Math.max(1, Math.floor(raw));
  }
  if (change.op === "=") return n;
  return change.op === "+" ? current + n : current - n;
}

/**
 * Applies the limits, in order: no more than `min(maxStep, cap)` instances added or removed,
 * then the group's own min and max (which AWS would otherwise refuse with a ValidationError).
 */
export function limitCapacity(
  current: Capacity,
  requested: number,
  limits: { maxStep: number; cap: number },
): { target: number; limits: string[] } {
  const notes: string[] = [];
  const step = Math.min(limits.maxStep, limits.cap);
  let delta = requested - current.desired;
  if (Math.abs(delta) > step) {
    delta = Math.sign(delta) * step;
    notes.push(
      limits.maxStep <= limits.cap
        ? `clamped to maxStep: at most ${limits.maxStep} instance(s) per run`
        : `clamped to the blast-radius cap: at most ${limits.cap} instance(s) per run`,
    );
  }
  let target = current.desired + delta;
  if (target > current.max) {
    target = current.max;
    notes.push(`clamped to the group's max size ${current.max}`);
  }
  if (target < current.min) {
    target = current.min;
    notes.push(`clamped to the group's min size ${current.min}`);
  }
  return { target, limits: notes };
}

/**
 * The scale-in rule: with `alarmName`, a scale-in goes ahead only when the last state Reflex
 * saw for that alarm is OK and has been for at least `requireOkFor`. `blocked` is why it may
 * not (absent when it may); `note` says what was checked, for the plan.
 */
export async function scaleInBlocked(
  params: HorizontalParams,
  now: Date,
): Promise<{ blocked?: string; note: string }> {
  if (!params.alarmName) return { note: "no alarmName given: scale-in is not gated by an alarm" };
  const need = must(parseDuration(params.requireOkFor), "parseDuration(params.requireOkFor)");
  const alarm = await Alarms.current(params.alarmName, now);
  const rule = `scale-in needs alarm '${params.alarmName}' OK for ${params.requireOkFor}`;
  if (!alarm) return { blocked: `${rule}, and Reflex has never seen that alarm change state`, note: rule };
  if (alarm.state !== "OK") {
    return { blocked: `${rule}; it is ${alarm.state} (since ${alarm.since})`, note: rule };
  }
  const okFor = now.getTime() - Date.parse(alarm.since);
  if (!(okFor >= need)) {
    return {
      blocked: `${rule}; it has been OK for only ${formatDuration(okFor)} (since ${alarm.since})`,
      note: rule,
    };
  }
  return {
    note: `alarm '${params.alarmName}' has been OK for ${formatDuration(okFor)} (at least ${params.requireOkFor})`,
  };
}

type HorizontalInput = RunInput<ScaleParams> & {
  plan?: CapacityPlan;
  applied?: CapacityChange;
  failure?: { Error?: string; Cause?: string };
};

/**
 * Reads the group, refuses one not tagged for automation, and works out the new desired
 * capacity within every limit. Read-only: this is all a dry-run does.
 */
export async function planCapacity(input: HorizontalInput, ctx: ScaleContext): Promise<CapacityPlan> {
  const params = horizontal(input.params);
  const region = params.region ?? defaultRegion();
  const group = await describeGroup(region, params.autoScalingGroup);
  const tag = ctx.automationTag;
  if (!carriesTag(group.Tags, tag)) {
    throw new StepExecutionError(
      "NotManaged",
      `Auto Scaling group '${params.autoScalingGroup}' does not carry the automation tag ${tag.key}=${tag.value}; Reflex only scales groups tagged for automation`,
    );
  }
  const previous = capacityOf(group);
  const cap = ctx.maxTargets ?? SCALE_CAP;
  const requested = requestedCapacity(
    previous.desired,
    must(parseChange(params.change), "parseChange(params.change)"),
  );
  const { target, limits } = limitCapacity(previous, requested, { maxStep: params.maxStep, cap });
  const plan: CapacityPlan = {
    mode: "horizontal",
    region,
    autoScalingGroup: params.autoScalingGroup,
    change: params.change,
    previous,
    requested,
    target,
    delta: target - previous.desired,
    limits,
    maxStep: params.maxStep,
    cap,
  };
  if (plan.delta === 0) {
    plan.skipped =
      limits.length > 0
        ? `nothing to change: ${params.change} on desired capacity ${previous.desired} is held there (${limits.join("; ")})`
        : `nothing to change: the desired capacity is already ${target}`;
  } else if (plan.delta < 0) {
    const gate = await scaleInBlocked(params, ctx.now());
    plan.scaleIn = gate.note;
    if (gate.blocked) plan.skipped = `scale-in skipped: ${gate.blocked}`;
  }
  const action = `${params.autoScalingGroup}: desired capacity ${previous.desired} → ${target}`;
  await Executions.setResult(ctx.executionId, {
    plan,
    previousCapacity: previous.desired,
    ...(plan.skipped ? { skipped: plan.skipped } : {}),
    summary: plan.skipped ?? (ctx.dryRun ? `dry-run: would set ${action}` : `planned: ${action}`),
  });
  return plan;
}

export interface CapacityChange {
  changed: boolean;
  from: number;
  to: number;
  /** When the capacity was set (or found set): the verify timeout counts from here. */
  at: string;
}

/** Sets the desired capacity, unless it is already the target. */
export async function setCapacity(input: HorizontalInput, ctx: ScaleContext): Promise<CapacityChange> {
  const plan = must(input.plan, "input.plan");
  const group = await describeGroup(plan.region, plan.autoScalingGroup);
  const current = group.DesiredCapacity ?? 0;
  const at = ctx.now().toISOString();
  if (current === plan.target) return { changed: false, from: current, to: plan.target, at };
  if (current !== plan.previous.desired) {
    // Someone else scaled the group since the plan; a target computed from a stale baseline is wrong.
    throw new StepExecutionError(
      "CapacityChanged",
      `the desired capacity of '${plan.autoScalingGroup}' changed from ${plan.previous.desired} to ${current} after the plan; not overriding it`,
    );
  }
  await autoscaling(plan.region).send(
    new SetDesiredCapacityCommand({
      AutoScalingGroupName: plan.autoScalingGroup,
      DesiredCapacity: plan.target,
      // The run is the decision; a cooldown left by an earlier activity must not swallow it.
      HonorCooldown: false,
    }),
  );
  const change = { changed: true, from: current, to: plan.target, at };
  await Executions.setResult(ctx.executionId, { applied: change });
  return change;
}

export interface CapacityProgress extends Capacity {
  done: boolean;
  target: number;
  waitedMs: number;
}

/**
 * Polled by the state machine: done when exactly `target` members are InService and healthy
 * and none more are alive; fails with `CapacityTimeout` (which rolls back) after `timeout`.
 */
export async function checkCapacity(input: HorizontalInput, ctx: ScaleContext): Promise<CapacityProgress> {
  const params = horizontal(input.params);
  const plan = must(input.plan, "input.plan");
  const capacity = capacityOf(await describeGroup(plan.region, plan.autoScalingGroup));
  const done = capacity.inService === plan.target && capacity.live === plan.target;
  const waitedMs = ctx.now().getTime() - Date.parse(input.applied?.at ?? input.execution.startedAt);
  if (!done && waitedMs > must(parseDuration(params.timeout), "parseDuration(params.timeout)")) {
    throw new StepExecutionError(
      "CapacityTimeout",
      `'${plan.autoScalingGroup}' has ${capacity.inService} of ${plan.target} instance(s) InService after ${formatDuration(waitedMs)} (timeout ${params.timeout})`,
    );
  }
  if (done) {
    await Executions.setResult(ctx.executionId, {
      verified: { inService: capacity.inService, desired: capacity.desired, waitedMs },
      summary: `${plan.autoScalingGroup}: desired capacity ${plan.previous.desired} → ${plan.target}, ${capacity.inService} InService`,
    });
  }
  return { ...capacity, done, target: plan.target, waitedMs };
}

// ---------------------------------------------------------------------------------------
// Vertical

export interface ResizePlan {
  mode: "vertical";
  region: string;
  instanceId: string;
  name?: string;
  from: string;
  to: string;
  fromSpec?: { vcpus?: number; memoryMiB?: number };
  toSpec?: { vcpus?: number; memoryMiB?: number };
  /** The state before the run; the run leaves the instance in it (a stopped one is not started). */
  state: "running" | "stopped";
  volumes: Array<{ volumeId: string; device?: string }>;
  snapshotFirst: boolean;
  /** What a real run does, in order. */
  actions: string[];
}

type VerticalInput = RunInput<ScaleParams> & {
  plan?: ResizePlan;
  stop?: InstanceWait;
  start?: InstanceWait;
  failure?: { Error?: string; Cause?: string };
};

const spec = (t: InstanceTypeInfo | undefined) =>
  t ? { vcpus: t.VCpuInfo?.DefaultVCpus, memoryMiB: t.MemoryInfo?.SizeInMiB } : undefined;

/**
 * Reads the instance and both instance types; refuses an instance not tagged for automation,
 * one in an Auto Scaling group, one that is busy, an unknown type, or its current type.
 * Read-only: this is all a dry-run does.
 */
export async function planResize(input: VerticalInput, ctx: ScaleContext): Promise<ResizePlan> {
  const params = vertical(input.params);
  const region = params.region ?? defaultRegion();
  const instance = await describeInstance(region, params.instanceId);
  const id = params.instanceId;
  const tag = ctx.automationTag;
  if (!carriesTag(instance.Tags, tag)) {
    throw new StepExecutionError(
      "NotManaged",
      `instance ${id} does not carry the automation tag ${tag.key}=${tag.value}; Reflex only resizes instances tagged for automation`,
    );
  }
  const group = tagValue(instance.Tags, "aws:autoscaling:groupName");
  if (group) {
    throw new StepExecutionError(
      "InAutoScalingGroup",
      `instance ${id} belongs to Auto Scaling group '${group}', which would replace it when it stops; change the group's launch template, or scale the group horizontally`,
    );
  }
  const state = instance.State?.Name ?? "unknown";
  if (state !== "running" && state !== "stopped") {
    throw new StepExecutionError(
      "IncorrectInstanceState",
      `instance ${id} is ${state}; resize it when it is running or stopped`,
    );
  }
  const from = instance.InstanceType ?? "unknown";
  if (from === params.instanceType) {
    throw new StepExecutionError("SameInstanceType", `instance ${id} is already ${params.instanceType}`);
  }
  let types: InstanceTypeInfo[];
  try {
    const out = await ec2(region).send(
      new DescribeInstanceTypesCommand({ InstanceTypes: [params.instanceType, from] as _InstanceType[] }),
    );
    types = out.InstanceTypes ?? [];
  } catch (err) {
    if (isAwsError(err, "InvalidInstanceType")) {
      throw new StepExecutionError("UnknownInstanceType", `${(err as Error).message} (in ${region})`, {
        cause: err,
      });
    }
    throw err;
  }
  const target = types.find((t) => t.InstanceType === params.instanceType);
  if (!target)
    throw new StepExecutionError(
      "UnknownInstanceType",
      `instance type ${params.instanceType} does not exist in ${region}`,
    );
  const architectures = target.ProcessorInfo?.SupportedArchitectures;
  if (architectures && instance.Architecture && !architectures.includes(instance.Architecture as never)) {
    throw new StepExecutionError(
      "IncompatibleInstanceType",
      `${params.instanceType} supports ${architectures.join(", ")}, but instance ${id} is ${instance.Architecture}`,
    );
  }
  const volumes = (instance.BlockDeviceMappings ?? [])
    .filter((m) => m.Ebs?.VolumeId)
    .map((m) => ({ volumeId: must(must(m.Ebs, "m.Ebs").VolumeId, "m.Ebs.VolumeId"), device: m.DeviceName }));
  const actions = [
    ...(params.snapshotFirst ? [`snapshot ${volumes.length} EBS volume(s)`] : []),
    ...(state === "running" ? ["stop the instance"] : []),
    `change its type ${from} → ${params.instanceType}`,
    ...(state === "running"
      ? ["start it and check it runs as the new type"]
      : ["leave it stopped, as it was"]),
  ];
  const plan: ResizePlan = {
    mode: "vertical",
    region,
    instanceId: id,
    name: tagValue(instance.Tags, "Name"),
    from,
    to: params.instanceType,
    fromSpec: spec(types.find((t) => t.InstanceType === from)),
    toSpec: spec(target),
    state,
    volumes,
    snapshotFirst: params.snapshotFirst,
    actions,
  };
  const label = plan.name ? `${plan.name} (${id})` : id;
  await Executions.setResult(ctx.executionId, {
    plan,
    previous: { instanceType: from, state },
    summary: `${ctx.dryRun ? "dry-run: would resize" : "planned: resize"} ${label} ${from} → ${params.instanceType}`,
  });
  return plan;
}

export interface SnapshotResult {
  snapshots: Array<{ snapshotId: string; volumeId: string }>;
}

/** Snapshots each EBS volume of the instance, tagged like backup-snapshot's. Safe to repeat. */
export async function snapshotVolumes(input: VerticalInput, ctx: ScaleContext): Promise<SnapshotResult> {
  const plan = must(input.plan, "input.plan");
  const existing = await findSnapshots(plan.region, [
    { Name: `tag:${TAGS.execution}`, Values: [ctx.executionId] },
    { Name: `tag:${TAGS.instance}`, Values: [plan.instanceId] },
  ]);
  const snapshots: SnapshotResult["snapshots"] = [];
  for (const v of plan.volumes) {
    const already = existing.find((s) => s.VolumeId === v.volumeId);
    if (already) {
      snapshots.push({ snapshotId: must(already.SnapshotId, "already.SnapshotId"), volumeId: v.volumeId });
      continue;
    }
    const tags: Tag[] = [
      { Key: "Name", Value: `reflex-resize-${plan.name ?? plan.instanceId}-${v.volumeId}` },
      { Key: ctx.automationTag.key, Value: ctx.automationTag.value },
      { Key: TAGS.runbook, Value: RUNBOOK },
      { Key: TAGS.execution, Value: ctx.executionId },
      { Key: TAGS.instance, Value: plan.instanceId },
      { Key: TAGS.volume, Value: v.volumeId },
    ];
    const made = await ec2(plan.region).send(
      new CreateSnapshotCommand({
        VolumeId: v.volumeId,
        Description: `Reflex: ${plan.instanceId} ${v.device ?? ""} before resize ${plan.from} → ${plan.to} (execution ${ctx.executionId})`,
        TagSpecifications: [{ ResourceType: "snapshot", Tags: tags }],
      }),
    );
    snapshots.push({ snapshotId: must(made.SnapshotId, "made.SnapshotId"), volumeId: v.volumeId });
  }
  await Executions.setResult(ctx.executionId, { snapshots });
  return { snapshots };
}

/** One round of a wait loop on the instance (stop, start). */
export interface InstanceWait {
  done: boolean;
  state: string;
  /** When the wait began; carried from round to round, the timeout counts from here. */
  since: string;
  /** The call this round made, if any. */
  action?: string;
}

function checkWait(
  what: string,
  plan: ResizePlan,
  timeout: string,
  since: string,
  state: string,
  ctx: ScaleContext,
) {
  const waited = ctx.now().getTime() - Date.parse(since);
  if (waited > must(parseDuration(timeout), "parseDuration(timeout)")) {
    throw new StepExecutionError(
      `${what}Timeout`,
      `instance ${plan.instanceId} is still ${state} after ${formatDuration(waited)} (timeout ${timeout})`,
    );
  }
}

/**
 * Stops the instance and reports whether it has stopped; the state machine calls it again
 * after a Wait until it has. Calls StopInstances only when the instance is running.
 */
export async function stopInstance(input: VerticalInput, ctx: ScaleContext): Promise<InstanceWait> {
  const params = vertical(input.params);
  const plan = must(input.plan, "input.plan");
  const since = input.stop?.since ?? ctx.now().toISOString();
  let state = (await describeInstance(plan.region, plan.instanceId)).State?.Name ?? "unknown";
  let action: string | undefined;
  if (state === "running") {
    const out = await ec2(plan.region).send(new StopInstancesCommand({ InstanceIds: [plan.instanceId] }));
    action = "StopInstances";
    state = out.StoppingInstances?.[0]?.CurrentState?.Name ?? "stopping";
  } else if (state !== "stopped" && state !== "stopping" && state !== "pending") {
    throw new StepExecutionError(
      "IncorrectInstanceState",
      `instance ${plan.instanceId} is ${state}; it cannot be stopped`,
    );
  }
  const done = state === "stopped";
  // A pending instance cannot be stopped yet: the next round finds it running and stops it.
  if (!done) checkWait("Stop", plan, params.timeout, since, state, ctx);
  return { done, state, since, ...(action ? { action } : {}) };
}

/** Changes the instance type, unless it already is the target. The instance must be stopped. */
export async function modifyType(
  input: VerticalInput,
  ctx: ScaleContext,
): Promise<{ changed: boolean; from: string; to: string }> {
  const plan = must(input.plan, "input.plan");
  const instance = await describeInstance(plan.region, plan.instanceId);
  const current = instance.InstanceType ?? "unknown";
  if (current === plan.to) return { changed: false, from: plan.from, to: plan.to };
  const state = instance.State?.Name;
  if (state !== "stopped") {
    throw new StepExecutionError(
      "IncorrectInstanceState",
      `instance ${plan.instanceId} must be stopped to change its type; it is ${state}`,
    );
  }
  await ec2(plan.region).send(
    new ModifyInstanceAttributeCommand({ InstanceId: plan.instanceId, InstanceType: { Value: plan.to } }),
  );
  await Executions.setResult(ctx.executionId, {
    modified: { from: current, to: plan.to, at: ctx.now().toISOString() },
  });
  return { changed: true, from: current, to: plan.to };
}

/**
 * Starts the instance (when it was running before the run) and reports whether it runs; the
 * state machine calls it again after a Wait until it does. Calls StartInstances only when the
 * instance is stopped.
 */
export async function startInstance(input: VerticalInput, ctx: ScaleContext): Promise<InstanceWait> {
  const params = vertical(input.params);
  const plan = must(input.plan, "input.plan");
  const since = input.start?.since ?? ctx.now().toISOString();
  let state = (await describeInstance(plan.region, plan.instanceId)).State?.Name ?? "unknown";
  if (plan.state === "stopped") return { done: true, state, since };
  let action: string | undefined;
  if (state === "stopped") {
    const out = await ec2(plan.region).send(new StartInstancesCommand({ InstanceIds: [plan.instanceId] }));
    action = "StartInstances";
    state = out.StartingInstances?.[0]?.CurrentState?.Name ?? "pending";
  } else if (state !== "running" && state !== "pending" && state !== "stopping") {
    throw new StepExecutionError(
      "IncorrectInstanceState",
      `instance ${plan.instanceId} is ${state}; it cannot be started`,
    );
  }
  const done = state === "running";
  if (!done) checkWait("Start", plan, params.timeout, since, state, ctx);
  return { done, state, since, ...(action ? { action } : {}) };
}

/** Checks the instance is the new type, in the state it was in before the run. */
export async function verifyResize(
  input: VerticalInput,
  ctx: ScaleContext,
): Promise<{ instanceType: string; state: string }> {
  const plan = must(input.plan, "input.plan");
  const instance = await describeInstance(plan.region, plan.instanceId);
  const got = { instanceType: instance.InstanceType ?? "unknown", state: instance.State?.Name ?? "unknown" };
  if (got.instanceType !== plan.to || got.state !== plan.state) {
    throw new StepExecutionError(
      "VerifyFailed",
      `instance ${plan.instanceId} is ${got.instanceType} and ${got.state}; expected ${plan.to} and ${plan.state}`,
    );
  }
  const label = plan.name ? `${plan.name} (${plan.instanceId})` : plan.instanceId;
  await Executions.setResult(ctx.executionId, {
    verified: got,
    summary: `${label} resized ${plan.from} → ${plan.to}; ${got.state}`,
  });
  return got;
}
