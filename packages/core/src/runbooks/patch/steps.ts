/**
 * The patch steps, one per Task state. The plan and report run in the parent execution; the
 * rest run per target, in that target's child execution. Every mutating step checks what
 * already happened first (a snapshot of this execution, a replace task of this execution, a
 * registration) so a retried step does it once; SendCommand Install is idempotent on the
 * instance (it installs what is still missing).
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  RebootInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  DeregisterTargetsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  DescribeInstancePatchStatesCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
} from "@aws-sdk/client-ssm";
import { ec2, findInstances, tagValue } from "../../adapters/ec2.ts";
import { client } from "../../aws.ts";
import { isAwsError } from "../../aws-errors.ts";
import { region as defaultRegion } from "../../env.ts";
import { must, StepExecutionError } from "../../errors.ts";
import * as Executions from "../../state/executions.ts";
import * as Changes from "../../state/patch-changes.ts";
import * as Results from "../../state/patch-results.ts";
import type { RunInput, StepContext } from "../define.ts";
import { SNAPSHOT_TAGS, snapshotStates, snapshotVolumes } from "../snapshots.ts";
import { type PatchParams, resolveRate } from "./params.ts";

export const RUNBOOK = "patch";
/** Per-target tables go into the execution record up to this many targets; beyond, only the S3 report has them. */
const TABLE_IN_RECORD = 500;

export const ssm = (region: string) => client(SSMClient, "ssm", region);
export const elbv2 = (region: string) => client(ElasticLoadBalancingV2Client, "elbv2", region);

type Execution = RunInput["execution"] & { window?: { name: string; endsAt: string; cutoffAt: string } };

export interface Plan {
  region: string;
  /** Instance ids to patch, in order (the Map's items; ids keep 5,000 of them under 256 KB). */
  instanceIds: string[];
  maxConcurrency: number;
  limits: { maxErrors: number; total: number };
  skipped: number;
}

export interface Begin {
  /** Names the target on step records (the step runner reads `target.instanceId`). */
  instanceId: string;
  start: boolean;
  outcome?: { status: Results.TargetStatus; reason: string };
  name?: string;
  rootVolumeId?: string;
  /** The target groups to take it out of and put it back in: its memberships now, and any an earlier run left it out of. */
  targetGroups?: string[];
  /** Earlier runs that took the instance out of target groups and never put it back (this run does). */
  restores?: Array<{ executionId: string; targetGroups: string[] }>;
  startedAt?: string;
}

export interface TargetInput {
  execution: Execution;
  params: PatchParams;
  region: string;
  limits: Plan["limits"];
  instanceId: string;
  target?: Begin;
  prep?: { snapshotId: string; deregistered: string[]; at: string };
  command?: { commandId: string; sentAt: string };
  reboot?: { rebooted: boolean; installed: number; pendingReboot: number; at: string };
  registered?: { at: string; targetGroups?: string[] };
  rollback?: {
    taskId?: string;
    at?: string;
    ready?: boolean;
    volumeId?: string;
    skipped?: string;
    /** The patch command was still running when the rollback began: it waits for it to end. */
    waitingForCommand?: string;
  };
  error?: { Error?: string; Cause?: string };
  rollbackError?: { Error?: string; Cause?: string };
  outcome?: { status: Results.TargetStatus; reason?: string };
}

const regionOf = (p: PatchParams) => p.region ?? defaultRegion();
const chunks = <T>(xs: T[], n: number): T[][] =>
  Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

function elapsedSeconds(ctx: StepContext, since: string | undefined): number {
  return since ? (ctx.now().getTime() - Date.parse(since)) / 1000 : 0;
}

/** SSM ping status of instances (absent: not a managed node). */
async function pingStatuses(region: string, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const batch of chunks(ids, 50)) {
    let NextToken: string | undefined;
    do {
      const page = await ssm(region).send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: "InstanceIds", Values: batch }],
          MaxResults: 50,
          NextToken,
        }),
      );
      for (const i of page.InstanceInformationList ?? [])
        out.set(must(i.InstanceId, "i.InstanceId"), i.PingStatus ?? "Unknown");
      NextToken = page.NextToken;
    } while (NextToken);
  }
  return out;
}

async function selectInstances(region: string, selector: PatchParams["selector"]) {
  if (selector.autoScalingGroup) {
    const groups = await client(AutoScalingClient, "autoscaling", region).send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [selector.autoScalingGroup] }),
    );
    const ids = (groups.AutoScalingGroups?.[0]?.Instances ?? []).map((i) =>
      must(i.InstanceId, "i.InstanceId"),
    );
    if (!groups.AutoScalingGroups?.length)
      throw new StepExecutionError(
        "NoTargets",
        `Auto Scaling group '${selector.autoScalingGroup}' does not exist in ${region}`,
      );
    const out = [];
    for (const batch of chunks(ids, 100)) out.push(...(await findInstances(region, { instanceIds: batch })));
    return out;
  }
  if (selector.instanceIds) {
    const out = [];
    for (const batch of chunks(selector.instanceIds, 100))
      out.push(...(await findInstances(region, { instanceIds: batch })));
    return out;
  }
  return findInstances(region, { tag: selector.tag });
}

/**
 * Selects the instances, resolves maxConcurrency / maxErrors, checks the cap, skips what
 * cannot be patched (not running, not SSM-managed, locked by another run) and plans the
 * batches. Read-only: this is all a dry-run does.
 */
export async function plan(
  input: RunInput<PatchParams>,
  ctx: StepContext & { maxTargets?: number },
): Promise<Plan> {
  const { params } = input;
  const region = regionOf(params);
  const instances = await selectInstances(region, params.selector);
  const cap = ctx.maxTargets ?? 50;
  if (instances.length === 0)
    throw new StepExecutionError(
      "NoTargets",
      `selector ${JSON.stringify(params.selector)} matched no instances in ${region}`,
    );
  if (instances.length > cap)
    throw new StepExecutionError(
      "BlastRadiusExceeded",
      `selector matched ${instances.length} instances, more than the cap of ${cap}; narrow the selector or raise guardrails.maxTargetsPerRun`,
    );
  const skipped: Array<{ instanceId: string; name?: string; reason: string }> = [];
  const running = instances.filter((i) => {
    if (i.State?.Name === "running") return true;
    skipped.push({
      instanceId: must(i.InstanceId, "i.InstanceId"),
      name: tagValue(i.Tags, "Name"),
      reason: `instance is ${i.State?.Name}`,
    });
    return false;
  });
  const pings = await pingStatuses(
    region,
    running.map((i) => must(i.InstanceId, "i.InstanceId")),
  );
  let candidates = running.filter((i) => {
    const ping = pings.get(must(i.InstanceId, "i.InstanceId"));
    if (ping === "Online") return true;
    skipped.push({
      instanceId: must(i.InstanceId, "i.InstanceId"),
      name: tagValue(i.Tags, "Name"),
      reason: ping ? `SSM agent ${ping}` : "not SSM-managed",
    });
    return false;
  });
  if (!ctx.dryRun && candidates.length) {
    const { locked } = await ctx.lockTargets(candidates.map((i) => `instance:${i.InstanceId}`));
    const lockedBy = new Map(locked.map((l) => [l.target.slice("instance:".length), l.holder]));
    for (const i of candidates.filter((c) => lockedBy.has(must(c.InstanceId, "c.InstanceId"))))
      skipped.push({
        instanceId: must(i.InstanceId, "i.InstanceId"),
        name: tagValue(i.Tags, "Name"),
        reason: `locked by run ${lockedBy.get(must(i.InstanceId, "i.InstanceId")) ?? "(another run)"}`,
      });
    candidates = candidates.filter((c) => !lockedBy.has(must(c.InstanceId, "c.InstanceId")));
  }
  const instanceIds = candidates.map((i) => must(i.InstanceId, "i.InstanceId"));
  const total = instanceIds.length;
  const maxConcurrency = Math.min(Math.max(total, 1), resolveRate(params.maxConcurrency, total, 1));
  const maxErrors = resolveRate(params.maxErrors, total, 0);
  if (!ctx.dryRun) {
    const endedAt = ctx.now().toISOString();
    for (const s of skipped) await Results.put(ctx.executionId, { ...s, status: "skipped", endedAt });
  }
  const batches = chunks(instanceIds, maxConcurrency);
  const small = instances.length <= TABLE_IN_RECORD;
  await Executions.setResult(ctx.executionId, {
    plan: {
      region,
      targets: total,
      maxConcurrency,
      maxErrors,
      batches: small ? batches.map((ids, n) => ({ batch: n + 1, instanceIds: ids })) : batches.length,
      skipped: small ? skipped : skipped.length,
      ...((input.execution as Execution).window ? { window: (input.execution as Execution).window } : {}),
    },
    summary: `${ctx.dryRun ? "would patch" : "patching"} ${total} instance(s) in ${batches.length} batch(es) of up to ${maxConcurrency}, stopping after more than ${maxErrors} error(s)${skipped.length ? `; ${skipped.length} skipped` : ""}`,
  });
  return { region, instanceIds, maxConcurrency, limits: { maxErrors, total }, skipped: skipped.length };
}

/** The target groups the instance is registered in (or draining from). */
async function memberships(region: string, instanceId: string): Promise<string[]> {
  const arns: string[] = [];
  let Marker: string | undefined;
  do {
    const page = await elbv2(region).send(new DescribeTargetGroupsCommand({ Marker, PageSize: 400 }));
    for (const g of page.TargetGroups ?? [])
      if (g.TargetType === "instance" || !g.TargetType) arns.push(must(g.TargetGroupArn, "g.TargetGroupArn"));
    Marker = page.NextMarker;
  } while (Marker);
  const out: string[] = [];
  for (const arn of arns) {
    const h = await elbv2(region).send(
      new DescribeTargetHealthCommand({ TargetGroupArn: arn, Targets: [{ Id: instanceId }] }),
    );
    const state = h.TargetHealthDescriptions?.[0]?.TargetHealth?.State;
    if (state && state !== "unused") out.push(arn);
  }
  return out;
}

/**
 * The gate of one target. The SSM check comes first, so a target's first call marks when it
 * was considered; then the window's cutoff and the run's error count decide whether it starts.
 */
export async function beginTarget(input: TargetInput, ctx: StepContext): Promise<Begin> {
  const { region, instanceId } = input;
  const ping = (await pingStatuses(region, [instanceId])).get(instanceId);
  const cutoffAt = input.execution.window?.cutoffAt;
  if (cutoffAt && ctx.now().getTime() >= Date.parse(cutoffAt))
    return { instanceId, start: false, outcome: { status: "not-started", reason: "cutoff" } };
  const failed = await Results.failures(ctx.executionId);
  if (failed > input.limits.maxErrors)
    return { instanceId, start: false, outcome: { status: "not-started", reason: "maxErrors" } };
  if (ping !== "Online")
    return {
      instanceId,
      start: false,
      outcome: { status: "skipped", reason: ping ? `SSM agent ${ping}` : "not SSM-managed" },
    };
  const found = await ec2(region).send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = found.Reservations?.[0]?.Instances?.[0];
  if (instance?.State?.Name !== "running")
    return {
      instanceId,
      start: false,
      outcome: { status: "skipped", reason: `instance is ${instance?.State?.Name ?? "gone"}` },
    };
  const root =
    instance.BlockDeviceMappings?.find((m) => m.DeviceName === instance.RootDeviceName) ??
    instance.BlockDeviceMappings?.[0];
  if (!root?.Ebs?.VolumeId)
    return {
      instanceId,
      start: false,
      outcome: { status: "skipped", reason: "no EBS root volume to snapshot" },
    };
  // An earlier run that died (or was stopped) with the instance out of its target groups
  // recorded them: this run puts them back with its own (a run of its own never lists here:
  // its record is written later, by prepareTarget).
  const restores = (await Changes.unrestored(instanceId))
    .filter((c) => c.executionId !== ctx.executionId && c.targetGroups.length > 0)
    .map((c) => ({ executionId: c.executionId, targetGroups: c.targetGroups }));
  const current = await memberships(region, instanceId);
  return {
    instanceId,
    start: true,
    name: tagValue(instance.Tags, "Name"),
    rootVolumeId: root.Ebs.VolumeId,
    targetGroups: [...new Set([...current, ...restores.flatMap((r) => r.targetGroups)])],
    ...(restores.length ? { restores } : {}),
    startedAt: ctx.now().toISOString(),
  };
}

/** Snapshots the root volume (the rollback point), then takes the instance out of its target groups. */
export async function prepareTarget(input: TargetInput, ctx: StepContext): Promise<TargetInput["prep"]> {
  const { region, instanceId, target } = input;
  const retainUntil = new Date(
    ctx.now().getTime() + input.params.retainSnapshotDays * 86_400_000,
  ).toISOString();
  const [made] = await snapshotVolumes({
    region,
    executionId: ctx.executionId,
    instanceId,
    volumes: [{ volumeId: must(must(target, "target").rootVolumeId, "target.rootVolumeId") }],
    description: () => `Reflex pre-patch root volume of ${instanceId} (execution ${ctx.executionId})`,
    tags: (v) => [
      { Key: "Name", Value: `reflex-prepatch-${target?.name ?? instanceId}` },
      { Key: ctx.automationTag.key, Value: ctx.automationTag.value },
      { Key: SNAPSHOT_TAGS.runbook, Value: RUNBOOK },
      { Key: SNAPSHOT_TAGS.execution, Value: ctx.executionId },
      { Key: SNAPSHOT_TAGS.instance, Value: instanceId },
      { Key: SNAPSHOT_TAGS.volume, Value: v.volumeId },
      { Key: SNAPSHOT_TAGS.retainUntil, Value: retainUntil },
    ],
  });
  // What is about to change is recorded first: a crash after any DeregisterTargets leaves a
  // record naming every group to put the instance back in.
  const groups = target?.targetGroups ?? [];
  await Changes.recordOut(ctx.executionId, region, instanceId, groups, ctx.now());
  for (const arn of groups) {
    try {
      await elbv2(region).send(
        new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: instanceId }] }),
      );
    } catch (err) {
      // Already out (a retried step, or a group an earlier run left it out of): what we wanted.
      if (!isAwsError(err, "InvalidTarget")) throw err;
    }
  }
  return {
    snapshotId: made.snapshotId,
    deregistered: target?.targetGroups ?? [],
    at: ctx.now().toISOString(),
  };
}

/** Ready when the snapshot is complete and no target group still drains the instance. */
export async function checkReady(input: TargetInput, ctx: StepContext): Promise<{ ready: boolean }> {
  const { region, instanceId, prep } = input;
  const state = (await snapshotStates(region, [must(prep, "prep").snapshotId]))[
    must(prep, "prep").snapshotId
  ];
  if (state === "error" || state === "missing")
    throw new StepExecutionError(
      "SnapshotFailed",
      `pre-patch snapshot ${must(prep, "prep").snapshotId} is ${state}`,
    );
  let draining = 0;
  for (const arn of must(prep, "prep").deregistered) {
    const h = await elbv2(region).send(
      new DescribeTargetHealthCommand({ TargetGroupArn: arn, Targets: [{ Id: instanceId }] }),
    );
    if (h.TargetHealthDescriptions?.[0]?.TargetHealth?.State === "draining") draining++;
  }
  const ready = state === "completed" && draining === 0;
  if (!ready && elapsedSeconds(ctx, must(prep, "prep").at) > input.params.drainTimeoutSeconds)
    throw new StepExecutionError(
      "NotReadyInTime",
      `after ${input.params.drainTimeoutSeconds}s: snapshot ${state}, still draining from ${draining} target group(s)`,
    );
  return { ready };
}

/** SendCommand AWS-RunPatchBaseline, Operation=Install. Reboots are Reflex's (RebootOption=NoReboot), so it can wait for them. */
export async function installPatches(input: TargetInput, ctx: StepContext): Promise<TargetInput["command"]> {
  await Changes.recordChange(
    ctx.executionId,
    input.instanceId,
    "command",
    { at: ctx.now().toISOString() },
    ctx.now(),
  );
  const out = await ssm(input.region).send(
    new SendCommandCommand({
      DocumentName: "AWS-RunPatchBaseline",
      InstanceIds: [input.instanceId],
      Parameters: { Operation: ["Install"], RebootOption: ["NoReboot"] },
      TimeoutSeconds: 600,
      Comment: `reflex patch ${ctx.executionId}`.slice(0, 100),
    }),
  );
  return {
    commandId: must(must(out.Command, "out.Command").CommandId, "out.Command.CommandId"),
    sentAt: ctx.now().toISOString(),
  };
}

const WAITING = new Set(["Pending", "InProgress", "Delayed", "Cancelling"]);

/** The patch command's status on one instance, and what it said (`Pending` before the invocation exists). */
export async function commandStatus(
  region: string,
  commandId: string,
  instanceId: string,
): Promise<{ status: string; detail: string; running: boolean }> {
  try {
    const inv = await ssm(region).send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
    );
    const status = inv.Status ?? "Pending";
    return {
      status,
      detail: inv.StandardErrorContent || inv.StatusDetails || "",
      running: WAITING.has(status),
    };
  } catch (err) {
    // Right after SendCommand the invocation may not exist yet.
    if (!isAwsError(err, "InvocationDoesNotExist")) throw err;
    return { status: "Pending", detail: "", running: true };
  }
}

/** Asks SSM to cancel the command on the instance; says why when it could not (the caller must not assume it stopped). */
export async function cancelCommand(region: string, commandId: string, instanceId: string): Promise<string> {
  try {
    await ssm(region).send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] }));
    return "cancel requested";
  } catch (err) {
    return `cancel failed (${(err as Error).name}: ${(err as Error).message})`;
  }
}

/**
 * Polls the invocation; a failed, timed-out or cancelled command fails the target. Past
 * commandTimeoutSeconds it asks SSM to cancel and fails the target either way: the rollback
 * (rollbackTarget) waits for the command to have ended before it touches the root volume.
 */
export async function checkCommand(
  input: TargetInput,
  ctx: StepContext,
): Promise<{ ready: boolean; status: string }> {
  const { region, instanceId, command } = input;
  const { status, detail, running } = await commandStatus(
    region,
    must(command, "command").commandId,
    instanceId,
  );
  if (status === "Success") return { ready: true, status };
  if (!running)
    throw new StepExecutionError(
      "PatchCommandFailed",
      `AWS-RunPatchBaseline ${status} on ${instanceId}: ${detail}`,
    );
  if (elapsedSeconds(ctx, must(command, "command").sentAt) > input.params.commandTimeoutSeconds) {
    const cancel = await cancelCommand(region, must(command, "command").commandId, instanceId);
    throw new StepExecutionError(
      "PatchCommandTimedOut",
      `AWS-RunPatchBaseline still ${status} on ${instanceId} after ${input.params.commandTimeoutSeconds}s; ${cancel}`,
    );
  }
  return { ready: false, status };
}

/** Reboots when Patch Manager reports patches InstalledPendingReboot (and the params allow it). */
export async function rebootIfNeeded(input: TargetInput, ctx: StepContext): Promise<TargetInput["reboot"]> {
  const out = await ssm(input.region).send(
    new DescribeInstancePatchStatesCommand({ InstanceIds: [input.instanceId] }),
  );
  const state = out.InstancePatchStates?.[0];
  const pendingReboot = state?.InstalledPendingRebootCount ?? 0;
  const installed = (state?.InstalledCount ?? 0) + pendingReboot;
  const rebooted = pendingReboot > 0 && input.params.rebootOption === "RebootIfNeeded";
  if (rebooted) {
    await Changes.recordChange(
      ctx.executionId,
      input.instanceId,
      "reboot",
      { at: ctx.now().toISOString() },
      ctx.now(),
    );
    await ec2(input.region).send(new RebootInstancesCommand({ InstanceIds: [input.instanceId] }));
  }
  return { rebooted, installed, pendingReboot, at: ctx.now().toISOString() };
}

/** Status checks ok and the SSM agent online; `impaired` fails at once. */
async function instanceHealth(region: string, instanceId: string): Promise<{ ok: boolean; why: string }> {
  const s = await ec2(region).send(
    new DescribeInstanceStatusCommand({ InstanceIds: [instanceId], IncludeAllInstances: true }),
  );
  const st = s.InstanceStatuses?.[0];
  const inst = st?.InstanceStatus?.Status;
  const sys = st?.SystemStatus?.Status;
  if (inst === "impaired" || sys === "impaired")
    throw new StepExecutionError(
      "InstanceImpaired",
      `${instanceId} status checks: instance ${inst}, system ${sys}`,
    );
  const ping = (await pingStatuses(region, [instanceId])).get(instanceId);
  return {
    ok: inst === "ok" && sys === "ok" && ping === "Online",
    why: `instance status ${inst}, system status ${sys}, SSM ${ping ?? "not managed"}`,
  };
}

/** After the patch (and reboot): status checks and SSM ping, within healthTimeoutSeconds. */
export async function checkHealth(input: TargetInput, ctx: StepContext): Promise<{ ready: boolean }> {
  const h = await instanceHealth(input.region, input.instanceId);
  if (!h.ok && elapsedSeconds(ctx, input.reboot?.at) > input.params.healthTimeoutSeconds)
    throw new StepExecutionError(
      "InstanceUnhealthy",
      `${input.instanceId} after ${input.params.healthTimeoutSeconds}s: ${h.why}`,
    );
  return { ready: h.ok };
}

async function registerAll(region: string, instanceId: string, arns: string[]): Promise<void> {
  for (const arn of arns)
    await elbv2(region).send(
      new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: instanceId }] }),
    );
}

/**
 * The target groups the instance must be back in: those recorded before it was taken out (all
 * of them, even when the step that took it out failed part-way), and those its output names.
 */
export async function groupsToRestore(input: TargetInput, executionId: string): Promise<string[]> {
  const recorded = await Changes.get(executionId, input.instanceId);
  return [...new Set([...(recorded?.targetGroups ?? []), ...(input.prep?.deregistered ?? [])])].sort();
}

/** Puts the instance back into the target groups it was taken out of. */
export async function reregister(
  input: TargetInput,
  ctx: StepContext,
): Promise<NonNullable<TargetInput["registered"]>> {
  const targetGroups = await groupsToRestore(input, ctx.executionId);
  await registerAll(input.region, input.instanceId, targetGroups);
  return { at: ctx.now().toISOString(), targetGroups };
}

/** Verified: status checks, SSM ping, and healthy in every target group it serves. */
export async function verifyTarget(input: TargetInput, ctx: StepContext): Promise<{ ready: boolean }> {
  const h = await instanceHealth(input.region, input.instanceId);
  const unhealthy: string[] = [];
  for (const arn of input.registered?.targetGroups ?? input.prep?.deregistered ?? []) {
    const t = await elbv2(input.region).send(
      new DescribeTargetHealthCommand({ TargetGroupArn: arn, Targets: [{ Id: input.instanceId }] }),
    );
    const state = t.TargetHealthDescriptions?.[0]?.TargetHealth?.State;
    if (state !== "healthy") unhealthy.push(`${arn.split("/")[1]}: ${state}`);
  }
  const ready = h.ok && unhealthy.length === 0;
  if (!ready && elapsedSeconds(ctx, input.registered?.at) > input.params.healthTimeoutSeconds)
    throw new StepExecutionError(
      "VerifyFailed",
      `${input.instanceId} not healthy after ${input.params.healthTimeoutSeconds}s: ${h.why}${unhealthy.length ? `; target groups ${unhealthy.join(", ")}` : ""}`,
    );
  return { ready };
}
