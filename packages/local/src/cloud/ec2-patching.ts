/**
 * EC2 operations patching needs beyond ec2.ts: status checks (DescribeInstanceStatus) and
 * root-volume replacement (CreateReplaceRootVolumeTask / DescribeReplaceRootVolumeTasks).
 *
 * A replacement swaps the root device for a new volume made from the snapshot when it is
 * created (the old volume stays, detached, unless DeleteReplacedRootVolume) and reboots the
 * instance; the task reports `pending`, then `in-progress`, then `succeeded` over
 * `replaceRootVolumeMs`, as AWS does while it builds and attaches the volume.
 */
import { CloudApiError } from "./api-error.ts";
import { type OpContext, type OpInput, snapshotStatus } from "./fleet.ts";
import { INSTANCE_STATE_CODES, newId } from "./model.ts";
import { healthy, instanceRecord, patching, type RootVolumeTaskRecord } from "./patching.ts";

type Op = (ctx: OpContext, input: OpInput) => object;

const describeInstanceStatus: Op = (ctx, input) => {
  const ids: string[] | undefined = input.InstanceIds;
  const all = input.IncludeAllInstances === true;
  const list = ctx.rs.instances.filter(
    (i) => (!ids || ids.includes(i.id)) && (all || i.state === "running") && i.state !== "terminated",
  );
  if (ids) {
    const missing = ids.filter((id) => !ctx.rs.instances.some((i) => i.id === id));
    if (missing.length)
      throw new CloudApiError("InvalidInstanceID.NotFound", `The instance ID '${missing[0]}' does not exist`);
  }
  return {
    InstanceStatuses: list.map((i) => {
      const ok = healthy(ctx, i);
      // Checks a test (or failover's controls) set by hand win over what patching implies.
      const set = ctx.rs.statusChecks?.[i.id];
      const running = i.state === "running";
      const status = !running
        ? "not-applicable"
        : (set?.instance ??
          (ok ? "ok" : patching(ctx).patchStates[i.id]?.broken ? "impaired" : "initializing"));
      const system = !running ? "not-applicable" : (set?.system ?? "ok");
      const detail = (s: string) =>
        s === "ok" ? "passed" : s === "impaired" ? "failed" : s === "initializing" ? "initializing" : s;
      return {
        InstanceId: i.id,
        AvailabilityZone: i.az,
        InstanceState: { Code: INSTANCE_STATE_CODES[i.state], Name: i.state },
        InstanceStatus: { Status: status, Details: [{ Name: "reachability", Status: detail(status) }] },
        SystemStatus: { Status: system, Details: [{ Name: "reachability", Status: detail(system) }] },
      };
    }),
  };
};

function taskState(ctx: OpContext, t: RootVolumeTaskRecord): string {
  const d = patching(ctx).settings.replaceRootVolumeMs;
  const elapsed = ctx.now - t.startTime;
  return elapsed < d / 3 ? "pending" : elapsed < d ? "in-progress" : "succeeded";
}

function shapeTask(ctx: OpContext, t: RootVolumeTaskRecord) {
  const state = taskState(ctx, t);
  return {
    ReplaceRootVolumeTaskId: t.id,
    InstanceId: t.instanceId,
    TaskState: state,
    StartTime: new Date(t.startTime).toISOString(),
    ...(state === "succeeded"
      ? { CompleteTime: new Date(t.startTime + patching(ctx).settings.replaceRootVolumeMs).toISOString() }
      : {}),
    SnapshotId: t.snapshotId,
    DeleteReplacedRootVolume: t.deleteReplacedRootVolume,
    Tags: t.tags,
  };
}

const createReplaceRootVolumeTask: Op = (ctx, input) => {
  const i = instanceRecord(ctx, input.InstanceId);
  if (!i)
    throw new CloudApiError(
      "InvalidInstanceID.NotFound",
      `The instance ID '${input.InstanceId}' does not exist`,
    );
  if (i.state !== "running")
    throw new CloudApiError(
      "IncorrectInstanceState",
      `The instance '${i.id}' is not in the 'running' state.`,
    );
  const snapshot = ctx.rs.snapshots.find((s) => s.id === input.SnapshotId);
  if (input.SnapshotId && !snapshot)
    throw new CloudApiError("InvalidSnapshot.NotFound", `The snapshot '${input.SnapshotId}' does not exist.`);
  if (snapshot && snapshotStatus(snapshot, ctx.now, ctx.settings.snapshotDurationMs).state !== "completed")
    throw new CloudApiError("IncorrectState", `Snapshot '${snapshot.id}' is not completed.`);
  const p = patching(ctx);
  const root = i.devices[0];
  const old = ctx.rs.volumes.find((v) => v.id === root.volumeId);
  const volume = {
    id: newId(ctx.state, "vol"),
    size: snapshot?.volumeSize ?? old?.size ?? 8,
    az: i.az,
    createTime: ctx.now,
    tags: old ? old.tags.map((t) => ({ ...t })) : [],
    attachment: { instanceId: i.id, device: root.deviceName, attachTime: ctx.now, deleteOnTermination: true },
    snapshotId: snapshot?.id,
  };
  ctx.rs.volumes.push(volume);
  if (old) {
    old.attachment = undefined;
    if (input.DeleteReplacedRootVolume === true)
      ctx.rs.volumes = ctx.rs.volumes.filter((v) => v.id !== old.id);
  }
  root.volumeId = volume.id;
  root.attachTime = ctx.now;
  i.rebootedAt = ctx.now;
  // The instance is back on what the snapshot held: whatever the patch broke is gone.
  const ps = p.patchStates[i.id];
  if (ps) ps.broken = false;
  const task: RootVolumeTaskRecord = {
    id: newId(ctx.state, "replacevol"),
    instanceId: i.id,
    snapshotId: snapshot?.id ?? "",
    startTime: ctx.now,
    newVolumeId: volume.id,
    replacedVolumeId: old?.id ?? "",
    deleteReplacedRootVolume: input.DeleteReplacedRootVolume === true,
    tags: (input.TagSpecifications ?? []).flatMap(
      (s: { Tags?: Array<{ Key: string; Value: string }> }) => s.Tags ?? [],
    ),
  };
  p.rootVolumeTasks.push(task);
  return { ReplaceRootVolumeTask: shapeTask(ctx, task) };
};

const describeReplaceRootVolumeTasks: Op = (ctx, input) => {
  const ids: string[] | undefined = input.ReplaceRootVolumeTaskIds;
  const byInstance = (input.Filters ?? []).find((f: { Name?: string }) => f.Name === "instance-id")?.Values as
    | string[]
    | undefined;
  return {
    ReplaceRootVolumeTasks: patching(ctx)
      .rootVolumeTasks.filter(
        (t) => (!ids || ids.includes(t.id)) && (!byInstance || byInstance.includes(t.instanceId)),
      )
      .map((t) => shapeTask(ctx, t)),
  };
};

export const ec2PatchingOperations: Record<string, Op> = {
  DescribeInstanceStatus: describeInstanceStatus,
  CreateReplaceRootVolumeTask: createReplaceRootVolumeTask,
  DescribeReplaceRootVolumeTasks: describeReplaceRootVolumeTasks,
};
