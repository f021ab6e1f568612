/**
 * restore in place, root volume: the instance's root put back from its own backup with
 * `CreateReplaceRootVolumeTask` (same instance id; the replaced root kept, detached). The plan
 * refuses a snapshot of another volume lineage before anything changes; a task that ends
 * `failed-detached` (no root volume attached) pages a person and the run fails, never "done";
 * the rollback puts the kept original back at the root device (stop, attach, start).
 */
import {
  AttachVolumeCommand,
  CreateReplaceRootVolumeTaskCommand,
  DeleteVolumeCommand,
  DescribeInstancesCommand,
  DescribeReplaceRootVolumeTasksCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  EC2Client,
  type Instance,
  paginateDescribeReplaceRootVolumeTasks,
  type ReplaceRootVolumeTask,
  type Snapshot,
  StartInstancesCommand,
  StopInstancesCommand,
  type Volume,
} from "@aws-sdk/client-ec2";
import { client, type RunInput, type StepContext, StepExecutionError, type TargetResult } from "@reflex/sdk";
import type { RestoreParams } from "./index.ts";
import type { Plan } from "./steps.ts";

const ec2 = (region: string) => client(EC2Client, "ec2", region);
const tagOf = (s: Snapshot, key: string) => s.Tags?.find((t) => t.Key === key)?.Value;

/** What an in-place root restore replaces and keeps, fixed by the plan. */
export interface InPlace {
  instanceId: string;
  rootDevice: string;
  /** The root volume now: kept (detached) by the replacement, put back by the rollback. */
  keptVolumeId: string;
  snapshotId: string;
  /**
   * In place, data volume: the device swapped (not the root), the instance's zone (the restored
   * volume is made there) and whether it ran (the swap starts it again only then).
   */
  data?: { device: string; availabilityZone: string; wasRunning: boolean };
}

type Input = RunInput<RestoreParams> & {
  plan: Plan;
  replacing?: { taskId: string };
  replaced?: { done: boolean; state?: string; at?: string };
  putBack?: { done: boolean; did: string };
  failure?: { Error?: string; Cause?: string };
};

/** How far back the lineage walk goes (each step a DescribeVolumes and a DescribeSnapshots). */
const LINEAGE_DEPTH = 10;

/**
 * The volumes of `volumeId`'s lineage, as EC2 itself records it (never from tags, which anyone
 * with ec2:CreateTags can write): the volume, the volume its snapshot was taken of (a volume's
 * `SnapshotId` and a snapshot's `VolumeId` are set by EC2), and so on back. For a root, also the
 * roots Reflex's replace-root tasks on that instance kept (`reflex:kept-volume`, tagged in the
 * task's CreateReplaceRootVolumeTask call; the task's instance is EC2's), with their own lineage,
 * so a backup of a root replaced earlier still restores after its snapshot chain was pruned.
 * Read-only.
 */
export async function lineageOf(region: string, volumeId: string, rootOf?: string): Promise<Set<string>> {
  const out = new Set<string>();
  const walk = async (from: string) => {
    let at: string | undefined = from;
    for (let depth = 0; at && !out.has(at) && depth < LINEAGE_DEPTH; depth++) {
      out.add(at);
      const volume: Volume | undefined = (
        await ec2(region).send(new DescribeVolumesCommand({ Filters: [{ Name: "volume-id", Values: [at] }] }))
      ).Volumes?.[0];
      const snapshotId: string | undefined = volume?.SnapshotId;
      if (!snapshotId) return;
      let snapshot: Snapshot | undefined;
      try {
        snapshot = (await ec2(region).send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })))
          .Snapshots?.[0];
      } catch (err) {
        if ((err as Error).name === "InvalidSnapshot.NotFound") return; // pruned: the chain ends here
        throw err;
      }
      // An AMI's public snapshot names no volume of this account (vol-ffffffff).
      at = snapshot?.VolumeId && snapshot.VolumeId !== "vol-ffffffff" ? snapshot.VolumeId : undefined;
    }
  };
  await walk(volumeId);
  if (rootOf) {
    for (const t of await replaceRootTasks(region, rootOf)) {
      if (t.InstanceId !== rootOf) continue;
      const kept = t.Tags?.find((x) => x.Key === "reflex:kept-volume")?.Value;
      if (kept) await walk(kept);
    }
  }
  return out;
}

/** Every root replacement of an instance, every page (one on a later page is as much its own). */
async function replaceRootTasks(region: string, instanceId: string): Promise<ReplaceRootVolumeTask[]> {
  const out: ReplaceRootVolumeTask[] = [];
  for await (const page of paginateDescribeReplaceRootVolumeTasks(
    { client: ec2(region) },
    { Filters: [{ Name: "instance-id", Values: [instanceId] }] },
  ))
    out.push(...(page.ReplaceRootVolumeTasks ?? []));
  return out;
}

/** Why a snapshot is not of this lineage: what EC2 records it was taken of, and what its tags claim. */
function foreign(s: Snapshot, what: string, lineage: Set<string>): string {
  return `snapshot ${s.SnapshotId} was taken of ${s.VolumeId ?? "an unknown volume"} (as EC2 records it; its tags say ${tagOf(s, "reflex:source-instance") ?? "an unknown instance"}, device ${tagOf(s, "reflex:device") ?? "unknown"}), which is not ${what} nor a volume it was restored from or replaced (${[...lineage].join(", ")}); a volume is replaced in place only from its own lineage`;
}

/**
 * Picks the root snapshot for `instance` from what `pick` found, and refuses one of another
 * lineage: the snapshot's `VolumeId` (EC2's record) must be in the root's `lineage`
 * ({@link lineageOf}). Read-only.
 */
export function rootSnapshotFor(
  instance: Instance,
  snapshots: Snapshot[],
  named: boolean,
  lineage: Set<string>,
): InPlace {
  const instanceId = instance.InstanceId as string;
  const rootDevice = instance.RootDeviceName ?? "/dev/xvda";
  const kept = rootVolumeOf(instance);
  if (!kept)
    throw new StepExecutionError(
      "NoRootVolume",
      `${instanceId} has no volume at its root device ${rootDevice}; nothing to replace`,
    );
  // AWS replaces the root of a running instance only; the rollback starts it again after its stop.
  if (instance.State?.Name !== "running")
    throw new StepExecutionError(
      "InstanceNotRunning",
      `${instanceId} is ${instance.State?.Name ?? "in an unknown state"}: a root volume is replaced in place only on a running instance`,
    );
  const root = snapshots.find((s) => s.VolumeId !== undefined && lineage.has(s.VolumeId));
  if (!root) {
    const s = snapshots[0];
    throw new StepExecutionError(
      "ForeignLineage",
      named && s
        ? foreign(s, `${instanceId}'s root volume ${kept} (${rootDevice})`, lineage)
        : `the backup holds no snapshot of ${instanceId}'s root volume ${kept} (${rootDevice}) or a root it replaced, as EC2 records the snapshots' volumes (their tags are not trusted)`,
    );
  }
  return { instanceId, rootDevice, keptVolumeId: kept, snapshotId: root.SnapshotId as string };
}

/** The volume at `instance`'s root device (or at `device`). */
export function rootVolumeOf(instance: Instance, device?: string): string | undefined {
  const at = device ?? instance.RootDeviceName ?? "/dev/xvda";
  return instance.BlockDeviceMappings?.find((m) => m.DeviceName === at)?.Ebs?.VolumeId;
}

/**
 * In place, data volume: picks the snapshot of `device` on `instance` (its own lineage), refuses
 * the root device (that is CreateReplaceRootVolumeTask's), a device with no volume, and a zone
 * other than the instance's (a volume attaches only in its own zone). Read-only.
 */
export function dataSnapshotFor(
  instance: Instance,
  snapshots: Snapshot[],
  named: boolean,
  device: string,
  zone: string | undefined,
  lineage: Set<string>,
): InPlace {
  const instanceId = instance.InstanceId as string;
  const rootDevice = instance.RootDeviceName ?? "/dev/xvda";
  if (device === rootDevice) return rootSnapshotFor(instance, snapshots, named, lineage);
  const kept = rootVolumeOf(instance, device);
  if (!kept)
    throw new StepExecutionError(
      "NoVolumeAtDevice",
      `${instanceId} has no volume at ${device}; in place swaps a volume that is there (restore side by side instead)`,
    );
  const availabilityZone = instance.Placement?.AvailabilityZone ?? "";
  if (zone && zone !== availabilityZone)
    throw new StepExecutionError(
      "ZoneMismatch",
      `availabilityZone ${zone} is not ${instanceId}'s zone (${availabilityZone}); a volume restored in place must be made in its instance's zone`,
    );
  const state = instance.State?.Name;
  if (state !== "running" && state !== "stopped")
    throw new StepExecutionError(
      "InstanceNotRunning",
      `${instanceId} is ${state ?? "in an unknown state"}: a data volume is swapped in place only on a running or stopped instance`,
    );
  const snap = snapshots.find((s) => s.VolumeId !== undefined && lineage.has(s.VolumeId));
  if (!snap) {
    const s = snapshots[0];
    throw new StepExecutionError(
      "ForeignLineage",
      named && s
        ? foreign(s, `${instanceId}'s ${device} (${kept})`, lineage)
        : `the backup holds no snapshot of ${instanceId}'s ${device} (${kept}) or a volume it was restored from, as EC2 records the snapshots' volumes (their tags are not trusted)`,
    );
  }
  return {
    instanceId,
    rootDevice,
    keptVolumeId: kept,
    snapshotId: snap.SnapshotId as string,
    data: { device, availabilityZone, wasRunning: state === "running" },
  };
}

type DataInput = Input & {
  created?: { volumes: Array<{ volumeId: string }> };
  swap?: { done: boolean; did: string };
};

/** Where the swap stands: the instance's state and the volume at the device. */
async function swapState(region: string, p: InPlace) {
  const { Reservations } = await ec2(region).send(
    new DescribeInstancesCommand({ InstanceIds: [p.instanceId] }),
  );
  const i = Reservations?.[0]?.Instances?.[0];
  const device = p.data?.device as string;
  const at = i?.BlockDeviceMappings?.find((m) => m.DeviceName === device)?.Ebs?.VolumeId;
  // The attachment's own state (attaching, attached, detaching) is read on the volume.
  const volume = at
    ? (await ec2(region).send(new DescribeVolumesCommand({ Filters: [{ Name: "volume-id", Values: [at] }] })))
        .Volumes?.[0]
    : undefined;
  const status = volume?.Attachments?.find((a) => a.InstanceId === p.instanceId)?.State;
  return { state: i?.State?.Name ?? "unknown", at, status, device };
}

/**
 * Moves `want` to the instance's device, one move per call, safe to repeat: stop the instance,
 * detach whatever else is at the device, attach `want`, start it again if it ran. Done when
 * `want` is at the device and the instance is as it was.
 */
async function moveTo(
  region: string,
  p: InPlace,
  want: string,
  /** Since when the move may take SWAP_LIMIT_MS (the swap); none for the rollback, which never gives up. */
  limit?: { from: string; now: Date },
): Promise<{ done: boolean; did: string }> {
  const { state, at, status, device } = await swapState(region, p);
  const wasRunning = p.data?.wasRunning !== false;
  if (at === want && status === "attaching") return { done: false, did: `waiting: ${want} is attaching` };
  if (at === want) {
    if (state === "stopped" && wasRunning) {
      await ec2(region).send(new StartInstancesCommand({ InstanceIds: [p.instanceId] }));
      return { done: false, did: `starting ${p.instanceId} with ${want} at ${device}` };
    }
    const done = state === (wasRunning ? "running" : "stopped");
    return { done, did: done ? `${want} is at ${device}` : `waiting: the instance is ${state}` };
  }
  if (limit && limit.now.getTime() - Date.parse(limit.from) > SWAP_LIMIT_MS)
    throw new StepExecutionError("SwapTimedOut", `${want} is still not at ${p.instanceId}:${device}`);
  if (state === "running" || state === "pending") {
    await ec2(region).send(new StopInstancesCommand({ InstanceIds: [p.instanceId] }));
    return { done: false, did: `stopping ${p.instanceId} to swap ${device}` };
  }
  if (state !== "stopped") return { done: false, did: `waiting: the instance is ${state}` };
  if (at && status !== "attached") return { done: false, did: `waiting: ${at} is ${status} at ${device}` };
  if (at) {
    await ec2(region).send(new DetachVolumeCommand({ VolumeId: at, InstanceId: p.instanceId }));
    return { done: false, did: `detaching ${at} from ${device}` };
  }
  const v = (await ec2(region).send(new DescribeVolumesCommand({ VolumeIds: [want] }))).Volumes?.[0];
  if (v?.State !== "available") return { done: false, did: `waiting: ${want} is ${v?.State ?? "gone"}` };
  await ec2(region).send(
    new AttachVolumeCommand({ VolumeId: want, InstanceId: p.instanceId, Device: device }),
  );
  return { done: false, did: `attaching ${want} at ${device}` };
}

/** How long a swap (or putting the original back) may take before the run gives up on it. */
const SWAP_LIMIT_MS = 60 * 60_000;

const restoredOf = (input: DataInput) => input.created?.volumes?.[0]?.volumeId as string;

/** In place, data volume: swaps the restored volume in at the device (stop, detach, attach, start). */
export async function swapData(input: DataInput, ctx: StepContext): Promise<{ done: boolean; did: string }> {
  const p = input.plan.inPlace as InPlace;
  return moveTo(input.plan.region, p, restoredOf(input), { from: input.plan.plannedAt, now: ctx.now() });
}

/**
 * After the swap: the volume at the device is the restored one, made from the snapshot, in use.
 * The original is kept (available). Tagging it `reflex:replaced-by` would tag a volume Reflex did
 * not create, which the project's tag rules refuse: the link is recorded on the run
 * (`replacedBy`) and on the restored volume (`reflex:replaces`, tagged on create) instead.
 */
export async function checkSwapped(input: DataInput, ctx: StepContext): Promise<{ at: string }> {
  const p = input.plan.inPlace as InPlace;
  const restored = restoredOf(input);
  const { state, at, device } = await swapState(input.plan.region, p);
  const v = (await ec2(input.plan.region).send(new DescribeVolumesCommand({ VolumeIds: [restored] })))
    .Volumes?.[0];
  if (at !== restored || v?.SnapshotId !== p.snapshotId || v?.State !== "in-use")
    throw new StepExecutionError(
      "VerifyFailed",
      `${p.instanceId}:${device} is ${at ?? "(empty)"} (${v?.State ?? "gone"}), not ${restored} from ${p.snapshotId}, after the swap`,
    );
  const now = ctx.now().toISOString();
  await ctx.record({
    verdict: "passed",
    inPlace: { ...p, newVolumeId: restored },
    replacedBy: { [p.keptVolumeId]: restored },
    summary: `data volume ${device} of ${p.instanceId} restored in place from ${p.snapshotId}: now ${restored}; the original ${p.keptVolumeId} is kept, detached (replaced by ${restored}, which carries reflex:replaces); the instance is ${state}`,
    targets: [
      {
        id: p.instanceId,
        kind: "instance",
        status: "succeeded",
        reason: `${device} restored in place from ${p.snapshotId}`,
        details: { [device]: restored, "kept (detached)": p.keptVolumeId },
      } satisfies TargetResult,
    ],
  });
  return { at: now };
}

/**
 * Rollback of a data swap: the original back at the device (stop, detach the restored one,
 * attach the original, start), then the restored volume deleted. One move per call, safe to repeat.
 */
export async function putBackData(
  input: DataInput,
  ctx: StepContext,
): Promise<{ done: boolean; did: string }> {
  const p = input.plan.inPlace as InPlace;
  const region = input.plan.region;
  const back = await moveTo(region, p, p.keptVolumeId);
  if (!back.done) return back;
  const restored = restoredOf(input);
  if (restored) {
    const v = (
      await ec2(region).send(
        new DescribeVolumesCommand({ Filters: [{ Name: "volume-id", Values: [restored] }] }),
      )
    ).Volumes?.[0];
    if (v && v.State !== "deleting" && v.State !== "deleted") {
      if (v.State !== "available") return { done: false, did: `waiting: ${restored} is ${v.State}` };
      await ec2(region).send(new DeleteVolumeCommand({ VolumeId: restored }));
    }
  }
  const failed = input.failure ? `${input.failure.Error}: ${input.failure.Cause}` : "the restore failed";
  await ctx.record({
    summary: `restore in place failed (${failed}); ${p.instanceId} has its original ${p.keptVolumeId} at ${p.data?.device} again${restored ? `; the restored ${restored} was deleted` : ""}`,
    targets: [
      {
        id: p.instanceId,
        kind: "instance",
        status: "rolled-back",
        reason: `${failed}; the original ${p.keptVolumeId} was put back at ${p.data?.device}`,
      } satisfies TargetResult,
    ],
  });
  return {
    done: true,
    did: `the original ${p.keptVolumeId} is back${restored ? `; ${restored} deleted` : ""}`,
  };
}

/** Starts the replacement; ClientToken = the execution id, so a retried step starts nothing new. */
export async function replaceRoot(input: Input, ctx: StepContext): Promise<{ taskId: string }> {
  const p = input.plan.inPlace as InPlace;
  const out = await ec2(input.plan.region).send(
    new CreateReplaceRootVolumeTaskCommand({
      InstanceId: p.instanceId,
      SnapshotId: p.snapshotId,
      DeleteReplacedRootVolume: false,
      ClientToken: ctx.executionId,
      TagSpecifications: [
        {
          ResourceType: "replace-root-volume-task",
          Tags: [
            { Key: ctx.automationTag.key, Value: ctx.automationTag.value },
            { Key: "reflex:runbook", Value: "restore" },
            { Key: "reflex:restore-execution", Value: ctx.executionId },
            // The volume it replaces, kept detached: named on the task as on the run's record.
            { Key: "reflex:kept-volume", Value: p.keptVolumeId },
          ],
        },
      ],
    }),
  );
  const taskId = out.ReplaceRootVolumeTask?.ReplaceRootVolumeTaskId;
  if (!taskId) throw new StepExecutionError("NoTask", "CreateReplaceRootVolumeTask answered no task id");
  await ctx.record({ replaceRootTask: taskId, kept: p.keptVolumeId });
  return { taskId };
}

/** How long a replacement may take before the run gives up on it (and puts the original back). */
const REPLACE_LIMIT_MS = 60 * 60_000;

/**
 * Polls the task. `succeeded`: the root now comes from the snapshot (checked), recorded. `failed`:
 * nothing changed, the run fails. `failed-detached`: the instance has no root volume — a person
 * is paged now, and the run fails into the rollback, which puts the kept original back.
 */
export async function checkReplaced(
  input: Input,
  ctx: StepContext,
): Promise<{ done: boolean; state: string; at?: string }> {
  const p = input.plan.inPlace as InPlace;
  const taskId = input.replacing?.taskId as string;
  const out = await ec2(input.plan.region).send(
    new DescribeReplaceRootVolumeTasksCommand({ ReplaceRootVolumeTaskIds: [taskId] }),
  );
  const state = out.ReplaceRootVolumeTasks?.[0]?.TaskState ?? "missing";
  if (state === "failed-detached") {
    const reason = `the root volume replacement ${taskId} on ${p.instanceId} ended failed-detached: the instance has no root volume attached; the run puts the original ${p.keptVolumeId} back at ${p.rootDevice}`;
    await ctx.page?.(reason);
    throw new StepExecutionError("RootVolumeDetached", reason);
  }
  if (state === "failed" || state === "missing")
    throw new StepExecutionError(
      "RootReplaceFailed",
      `the root volume replacement ${taskId} on ${p.instanceId} is ${state}; the instance keeps ${p.keptVolumeId}`,
    );
  if (state !== "succeeded") {
    if (ctx.now().getTime() - Date.parse(input.plan.plannedAt) > REPLACE_LIMIT_MS)
      throw new StepExecutionError(
        "RootReplaceTimedOut",
        `the root volume replacement ${taskId} is still ${state}`,
      );
    return { done: false, state };
  }
  const { Reservations } = await ec2(input.plan.region).send(
    new DescribeInstancesCommand({ InstanceIds: [p.instanceId] }),
  );
  const rootId = Reservations?.[0]?.Instances?.[0]?.BlockDeviceMappings?.find(
    (m) => m.DeviceName === p.rootDevice,
  )?.Ebs?.VolumeId;
  const root = rootId
    ? (await ec2(input.plan.region).send(new DescribeVolumesCommand({ VolumeIds: [rootId] }))).Volumes?.[0]
    : undefined;
  if (!root || root.SnapshotId !== p.snapshotId)
    throw new StepExecutionError(
      "VerifyFailed",
      `${p.instanceId}'s root ${root?.VolumeId ?? "(none)"} is not from ${p.snapshotId} after the replacement`,
    );
  const at = ctx.now().toISOString();
  await ctx.record({
    verdict: "passed",
    inPlace: { ...p, newVolumeId: root.VolumeId, taskId },
    summary: `root volume of ${p.instanceId} replaced from ${p.snapshotId}: now ${root.VolumeId}; the original ${p.keptVolumeId} is kept, detached (delete it when no longer wanted)`,
    targets: [
      {
        id: p.instanceId,
        kind: "instance",
        status: "succeeded",
        reason: `root ${p.rootDevice} restored in place from ${p.snapshotId}`,
        details: { "new root": root.VolumeId ?? "", "kept (detached)": p.keptVolumeId, task: taskId },
      } satisfies TargetResult,
    ],
  });
  return { done: true, state, at };
}

/**
 * Rollback: the kept original back at the root device. One move per call, safe to repeat: stop
 * the instance, detach whatever root is there (the restored one), attach the original, start.
 * Done when the original is the root and the instance runs.
 */
export async function putBackRoot(input: Input, ctx: StepContext): Promise<{ done: boolean; did: string }> {
  const p = input.plan.inPlace as InPlace;
  const region = input.plan.region;
  const { Reservations } = await ec2(region).send(
    new DescribeInstancesCommand({ InstanceIds: [p.instanceId] }),
  );
  const i = Reservations?.[0]?.Instances?.[0];
  const state = i?.State?.Name ?? "unknown";
  const root = i?.BlockDeviceMappings?.find((m) => m.DeviceName === p.rootDevice)?.Ebs;
  let did: string;
  let done = false;
  if (root?.VolumeId === p.keptVolumeId) {
    if (state === "stopped") {
      await ec2(region).send(new StartInstancesCommand({ InstanceIds: [p.instanceId] }));
      did = "starting the instance on its original root";
    } else {
      done = state === "running";
      did = done ? `the original ${p.keptVolumeId} is the root again` : `waiting: the instance is ${state}`;
    }
  } else if (state === "running" || state === "pending") {
    await ec2(region).send(new StopInstancesCommand({ InstanceIds: [p.instanceId] }));
    did = "stopping the instance to put its original root back";
  } else if (state !== "stopped") did = `waiting: the instance is ${state}`;
  else if (root?.VolumeId) {
    await ec2(region).send(new DetachVolumeCommand({ VolumeId: root.VolumeId, InstanceId: p.instanceId }));
    did = `detaching ${root.VolumeId} from the root device`;
  } else {
    const kept = (await ec2(region).send(new DescribeVolumesCommand({ VolumeIds: [p.keptVolumeId] })))
      .Volumes?.[0];
    if (kept?.State === "available") {
      await ec2(region).send(
        new AttachVolumeCommand({ VolumeId: p.keptVolumeId, InstanceId: p.instanceId, Device: p.rootDevice }),
      );
      did = `attaching the original ${p.keptVolumeId} at ${p.rootDevice}`;
    } else did = `waiting: ${p.keptVolumeId} is ${kept?.State ?? "gone"}`;
  }
  if (done) {
    const failed = input.failure ? `${input.failure.Error}: ${input.failure.Cause}` : "the restore failed";
    await ctx.record({
      summary: `restore in place failed (${failed}); ${p.instanceId} is back on its original root ${p.keptVolumeId}`,
      targets: [
        {
          id: p.instanceId,
          kind: "instance",
          status: "rolled-back",
          reason: `${failed}; the original root ${p.keptVolumeId} was put back at ${p.rootDevice}`,
        } satisfies TargetResult,
      ],
    });
  }
  return { done, did };
}

/** How long the sweep of a lost swap waits for the instance and volumes to move before it reports it undecided. */
const SWEEP_SWAP_LIMIT_MS = 120_000;

/** What the sweep of a lost in-place swap did: the volume at the device now, what it deleted, and whether a person must decide. */
export interface SweptSwap {
  deleted: string[];
  untagged: string[];
  left: string[];
  note: string;
  /** Set when the sweep could not decide: what a person must look at (the lost run pages already). */
  undecided?: string;
}

/**
 * The reconciler's sweep of an in-place data swap lost mid-way (the process died between the
 * original's detach and the restored volume's attach, or anywhere else in the swap): the
 * instance gets a volume at the device again — the restored one when it is already there (the
 * swap was done), else the kept original — and is started again if it ran; the restored volume,
 * when not at the device, is deleted (it is the run's own, tagged). Anything else at the device
 * (a volume neither the original nor the restored one) is left for a person. Safe to repeat.
 */
export async function sweepLostSwap(
  region: string,
  p: InPlace,
  restored: string | undefined,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<SweptSwap> {
  const first = await swapState(region, p);
  if (first.at && first.at !== p.keptVolumeId && first.at !== restored)
    return {
      deleted: [],
      untagged: [],
      left: restored ? [restored] : [],
      note: `${p.instanceId}:${first.device} holds ${first.at}, neither the original ${p.keptVolumeId} nor the restored ${restored ?? "(none made)"}: left for a person`,
      undecided: `the lost in-place restore of ${p.instanceId}:${first.device} found ${first.at} there; decide which volume belongs at ${first.device}`,
    };
  // The swap done: keep it (the restore was approved); otherwise the original goes back.
  const want = restored && first.at === restored ? restored : p.keptVolumeId;
  const deadline = Date.now() + SWEEP_SWAP_LIMIT_MS;
  let moved = await moveTo(region, p, want);
  for (let wait = 50; !moved.done && Date.now() < deadline; wait = Math.min(wait * 2, 2000)) {
    await sleep(wait);
    moved = await moveTo(region, p, want);
  }
  if (!moved.done)
    return {
      deleted: [],
      untagged: [],
      left: restored ? [restored] : [],
      note: `could not put ${want} at ${p.instanceId}:${first.device} in time (${moved.did}); the next reconcile tries again`,
      undecided: `the lost in-place restore of ${p.instanceId}:${first.device} is not put right yet: ${moved.did}`,
    };
  const deleted: string[] = [];
  if (restored && want !== restored) {
    for (let wait = 50; Date.now() < deadline; wait = Math.min(wait * 2, 2000)) {
      const v = (
        await ec2(region).send(
          new DescribeVolumesCommand({ Filters: [{ Name: "volume-id", Values: [restored] }] }),
        )
      ).Volumes?.[0];
      if (!v || v.State === "deleting" || v.State === "deleted") break;
      if (v.State === "available") {
        await ec2(region).send(new DeleteVolumeCommand({ VolumeId: restored }));
        deleted.push(restored);
        break;
      }
      await sleep(wait);
    }
  }
  return {
    deleted,
    untagged: [],
    left: restored && want !== restored && !deleted.length ? [restored] : [],
    note:
      want === restored
        ? `the swap was done before the run was lost: ${p.instanceId}:${first.device} keeps the restored ${restored}; the original ${p.keptVolumeId} is kept, detached`
        : `the run was lost mid-swap: ${p.instanceId}:${first.device} has its original ${p.keptVolumeId} again${deleted.length ? `; the restored ${restored} was deleted` : ""}`,
  };
}

/**
 * The reconciler's sweep of an in-place root restore lost between the replacement's start and
 * its end: `succeeded` or `failed` leave the instance with a root (nothing to do);
 * `failed-detached` left it with none, so the kept original goes back at the root device (as the
 * run's rollback would); a task still under way cannot be decided now and is left for a person.
 */
export async function sweepLostRoot(
  region: string,
  p: InPlace,
  executionId: string,
  taskId: string | undefined,
): Promise<SweptSwap> {
  const task = (await replaceRootTasks(region, p.instanceId)).find(
    (t) =>
      t.ReplaceRootVolumeTaskId === taskId ||
      t.Tags?.some((x) => x.Key === "reflex:restore-execution" && x.Value === executionId),
  );
  const state = task?.TaskState;
  if (!task || state === "succeeded" || state === "failed")
    return {
      deleted: [],
      untagged: [],
      left: [],
      note: task
        ? `the root replacement ${task.ReplaceRootVolumeTaskId} ended ${state}: ${p.instanceId} has a root; nothing to put right`
        : `no root replacement was started for ${p.instanceId}; nothing to put right`,
    };
  if (state !== "failed-detached")
    return {
      deleted: [],
      untagged: [],
      left: [],
      note: `the root replacement ${task.ReplaceRootVolumeTaskId} is still ${state}`,
      undecided: `the lost in-place restore's root replacement ${task.ReplaceRootVolumeTaskId} on ${p.instanceId} is still ${state}: check that it ends with a root attached (else attach ${p.keptVolumeId} at ${p.rootDevice})`,
    };
  const back = await sweepLostSwap(
    region,
    { ...p, data: { device: p.rootDevice, availabilityZone: "", wasRunning: true } },
    undefined,
  );
  return {
    ...back,
    note: `the root replacement ${task.ReplaceRootVolumeTaskId} ended failed-detached: ${back.note}`,
  };
}
