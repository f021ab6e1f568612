/**
 * EC2 operations patching needs beyond ec2.ts: status checks (DescribeInstanceStatus) and
 * root-volume replacement (CreateReplaceRootVolumeTask / DescribeReplaceRootVolumeTasks).
 *
 * A replacement swaps the root device for a new volume made from the snapshot when it is
 * created (the old volume stays, detached, unless DeleteReplacedRootVolume) and reboots the
 * instance; the task reports `pending`, then `in-progress`, then `succeeded` over
 * `replaceRootVolumeMs`, as AWS does while it builds and attaches the volume (or, with an
 * `outcome` fault from `reflex chaos`, `failing` then `failed` or `failed-detached`).
 */
import { CloudApiError } from "./api-error.ts";
import { type OpContext, type OpInput, snapshotStatus } from "./fleet.ts";
import { INSTANCE_STATE_CODES, newId, type VolumeRecord, volumeMarker } from "./model.ts";
import { healthy, instanceRecord, patching, type RootVolumeTaskRecord } from "./patching.ts";
import { paginate } from "./query.ts";

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

/** The device every simulated instance boots from (ec2.ts `RootDeviceName`). */
export const ROOT_DEVICE = "/dev/xvda";

/**
 * A task's state by the clock: `pending`, `in-progress`, then `succeeded`; one an `outcome`
 * fault made fail goes `pending`, `in-progress`, `failing`, then `failed` or `failed-detached`.
 */
function taskState(ctx: OpContext, t: RootVolumeTaskRecord): string {
  const d = patching(ctx).settings.replaceRootVolumeMs;
  const elapsed = ctx.now - t.startTime;
  if (elapsed < d / 3) return "pending";
  if (!t.outcome) return elapsed < d ? "in-progress" : "succeeded";
  if (elapsed < (2 * d) / 3) return "in-progress";
  return elapsed < d ? "failing" : t.outcome;
}

function shapeTask(ctx: OpContext, t: RootVolumeTaskRecord) {
  const state = taskState(ctx, t);
  const ended = ["succeeded", "failed", "failed-detached"].includes(state);
  return {
    ReplaceRootVolumeTaskId: t.id,
    InstanceId: t.instanceId,
    TaskState: state,
    StartTime: new Date(t.startTime).toISOString(),
    ...(ended
      ? { CompleteTime: new Date(t.startTime + patching(ctx).settings.replaceRootVolumeMs).toISOString() }
      : {}),
    ...(t.snapshotId ? { SnapshotId: t.snapshotId } : {}),
    DeleteReplacedRootVolume: t.deleteReplacedRootVolume,
    Tags: t.tags,
  };
}

/** The volumes that have been this instance's root: now, and before each replacement. */
function rootLineage(ctx: OpContext, instanceId: string, root: string | undefined): Set<string> {
  const out = new Set<string>(root ? [root] : []);
  for (const t of patching(ctx).rootVolumeTasks)
    if (t.instanceId === instanceId) for (const v of [t.replacedVolumeId, t.newVolumeId]) if (v) out.add(v);
  return out;
}

/**
 * Replaces the root volume as AWS does: a new volume from the snapshot (holding its data
 * marker), swapped in at the root device; the replaced one kept detached unless
 * DeleteReplacedRootVolume. The snapshot must come from this instance's root volume (its
 * lineage), as the API reference requires; the ClientToken makes a repeat answer the first task.
 * An `outcome` fault ends it `failed` (nothing changed) or `failed-detached` (the original
 * root detached, none attached).
 */
const createReplaceRootVolumeTask: Op = (ctx, input) => {
  const i = instanceRecord(ctx, input.InstanceId);
  if (!i)
    throw new CloudApiError(
      "InvalidInstanceID.NotFound",
      `The instance ID '${input.InstanceId}' does not exist`,
    );
  const p = patching(ctx);
  if (input.ClientToken) {
    const earlier = p.rootVolumeTasks.find((t) => t.clientToken === input.ClientToken);
    if (earlier) {
      if (earlier.instanceId !== i.id || earlier.snapshotId !== (input.SnapshotId ?? ""))
        throw new CloudApiError(
          "IdempotentParameterMismatch",
          `The client token '${input.ClientToken}' was used with different parameters.`,
        );
      return { ReplaceRootVolumeTask: shapeTask(ctx, earlier) };
    }
  }
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
  const root = i.devices.find((d) => d.deviceName === ROOT_DEVICE);
  if (!root) throw new CloudApiError("IncorrectState", `The instance '${i.id}' has no root volume attached.`);
  if (snapshot && !rootLineage(ctx, i.id, root.volumeId).has(snapshot.volumeId))
    throw new CloudApiError(
      "InvalidParameterValue",
      `The snapshot '${snapshot.id}' was not created from the root volume of instance '${i.id}'.`,
    );
  const old = ctx.rs.volumes.find((v) => v.id === root.volumeId);
  const outcome = ctx.outcome as RootVolumeTaskRecord["outcome"];
  const task: RootVolumeTaskRecord = {
    id: newId(ctx.state, "replacevol"),
    instanceId: i.id,
    snapshotId: snapshot?.id ?? "",
    startTime: ctx.now,
    newVolumeId: "",
    replacedVolumeId: old?.id ?? "",
    deleteReplacedRootVolume: input.DeleteReplacedRootVolume === true,
    tags: (input.TagSpecifications ?? []).flatMap(
      (s: { Tags?: Array<{ Key: string; Value: string }> }) => s.Tags ?? [],
    ),
    ...(input.ClientToken ? { clientToken: input.ClientToken } : {}),
    ...(outcome ? { outcome } : {}),
  };
  p.rootVolumeTasks.push(task);
  if (outcome === "failed") return { ReplaceRootVolumeTask: shapeTask(ctx, task) };
  if (outcome === "failed-detached") {
    // The original is detached and nothing took its place: the instance has no root volume.
    if (old) old.attachment = undefined;
    i.devices = i.devices.filter((d) => d !== root);
    return { ReplaceRootVolumeTask: shapeTask(ctx, task) };
  }
  const volume: VolumeRecord = {
    id: newId(ctx.state, "vol"),
    size: snapshot?.volumeSize ?? old?.size ?? 8,
    az: i.az,
    createTime: ctx.now,
    tags: old ? old.tags.map((t) => ({ ...t })) : [],
    attachment: { instanceId: i.id, device: root.deviceName, attachTime: ctx.now, deleteOnTermination: true },
    ...(snapshot
      ? { snapshotId: snapshot.id, marker: snapshot.marker ?? volumeMarker({ id: snapshot.volumeId }) }
      : {}),
    ...(old?.volumeType ? { volumeType: old.volumeType } : {}),
  };
  ctx.rs.volumes.push(volume);
  if (old) {
    old.attachment = undefined;
    if (input.DeleteReplacedRootVolume === true)
      ctx.rs.volumes = ctx.rs.volumes.filter((v) => v.id !== old.id);
  }
  task.newVolumeId = volume.id;
  root.volumeId = volume.id;
  root.attachTime = ctx.now;
  i.rebootedAt = ctx.now;
  // The instance is back on what the snapshot held: whatever the patch broke is gone.
  const ps = p.patchStates[i.id];
  if (ps) ps.broken = false;
  return { ReplaceRootVolumeTask: shapeTask(ctx, task) };
};

/**
 * Pages as EC2 does (`MaxResults` 1–50, `NextToken`); without `MaxResults`, at the cloud's
 * default page size, as the other Describe* here (AWS may return all: the caller follows the
 * token either way). Task ids without `MaxResults` answer every named task.
 */
const describeReplaceRootVolumeTasks: Op = (ctx, input) => {
  const ids: string[] | undefined = input.ReplaceRootVolumeTaskIds;
  const byInstance = (input.Filters ?? []).find((f: { Name?: string }) => f.Name === "instance-id")?.Values as
    | string[]
    | undefined;
  const tasks = patching(ctx).rootVolumeTasks.filter(
    (t) => (!ids || ids.includes(t.id)) && (!byInstance || byInstance.includes(t.instanceId)),
  );
  const maxResults = input.MaxResults === undefined ? undefined : Number(input.MaxResults);
  const { page, nextToken } =
    ids?.length && maxResults === undefined
      ? { page: tasks, nextToken: undefined }
      : paginate(tasks, {
          badTokenCode: "InvalidParameterValue",
          badValueCode: "InvalidParameterValue",
          parameter: "maxResults",
          operation: "DescribeReplaceRootVolumeTasks",
          maxResults,
          nextToken: input.NextToken,
          defaultPageSize: ctx.settings.pageSize,
          min: 1,
          max: 50,
        });
  return {
    ReplaceRootVolumeTasks: page.map((t) => shapeTask(ctx, t)),
    ...(nextToken ? { NextToken: nextToken } : {}),
  };
};

export const ec2PatchingOperations: Record<string, Op> = {
  DescribeInstanceStatus: describeInstanceStatus,
  CreateReplaceRootVolumeTask: createReplaceRootVolumeTask,
  DescribeReplaceRootVolumeTasks: describeReplaceRootVolumeTasks,
};
