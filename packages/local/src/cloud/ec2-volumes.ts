/**
 * EC2 volume operations a restore needs: CreateVolume from a snapshot, AttachVolume,
 * DetachVolume, DeleteVolume, answered with EC2's states and error codes.
 *
 * Time is the cloud's clock: a volume made from a snapshot is `creating` for
 * `volumeCreateMs` + `volumeCreatePerGiBMs` × size (AWS pulls its blocks from S3), then
 * `available`; an attachment is `attaching`, a detach `detaching`, for `volumeAttachMs`. A
 * restored volume holds its snapshot's data marker (model.ts `volumeMarker`).
 */
import { CloudApiError } from "./api-error.ts";
import { lookup, required, shapeVolume, tagsFromSpecifications } from "./ec2.ts";
import { ROOT_DEVICE } from "./ec2-patching.ts";
import { type OpContext, type OpInput, snapshotStatus } from "./fleet.ts";
import {
  availabilityZones,
  type FastRestoreRecord,
  newId,
  type VolumeRecord,
  volumeMarker,
} from "./model.ts";

type Op = (ctx: OpContext, input: OpInput) => object;

const VOLUME_TYPES = new Set(["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"]);

const createVolume: Op = (ctx, input) => {
  const az: string = required(input, "AvailabilityZone");
  if (input.ClientToken) {
    // Idempotent, as in EC2: the same token answers the volume it made before.
    const earlier = ctx.rs.volumes.find((v) => v.clientToken === input.ClientToken);
    if (earlier) return shapeVolume(earlier);
  }
  if (!availabilityZones(ctx.region).includes(az))
    throw new CloudApiError(
      "InvalidParameterValue",
      `Invalid availability zone: [${az}] (not a zone of ${ctx.region})`,
    );
  const volumeType = input.VolumeType ?? "gp3";
  if (!VOLUME_TYPES.has(volumeType))
    throw new CloudApiError("InvalidParameterValue", `Invalid value '${volumeType}' for volumeType.`);
  const snapshot = input.SnapshotId ? lookup("snap", ctx.rs.snapshots, [input.SnapshotId])[0] : undefined;
  if (!snapshot && !input.Size)
    throw new CloudApiError("MissingParameter", "The request must contain the parameter size/snapshotId");
  if (snapshot) {
    const state = snapshotStatus(snapshot, ctx.now, ctx.settings.snapshotDurationMs).state;
    if (state !== "completed")
      throw new CloudApiError("IncorrectState", `Snapshot is in invalid state - ${state}`);
    if (input.Size !== undefined && input.Size < snapshot.volumeSize)
      throw new CloudApiError(
        "InvalidParameterValue",
        `Volume of ${input.Size}GiB is too small; minimum is ${snapshot.volumeSize}GiB.`,
      );
  }
  const size: number = input.Size ?? snapshot?.volumeSize ?? 8;
  const volume: VolumeRecord = {
    id: newId(ctx.state, "vol"),
    size,
    az,
    createTime: ctx.now,
    tags: tagsFromSpecifications(input.TagSpecifications, "volume"),
    ...(snapshot ? { snapshotId: snapshot.id } : {}),
    ...(snapshot && fastRestoreEnabled(ctx, snapshot.id, az) ? { fastRestored: true } : {}),
    creating: {
      readyAt:
        ctx.now + ctx.settings.volumeCreateMs + (snapshot ? ctx.settings.volumeCreatePerGiBMs * size : 0),
    },
    volumeType,
    // The snapshot's data: what its volume held when it was taken.
    ...(snapshot ? { marker: snapshot.marker ?? volumeMarker({ id: snapshot.volumeId }) } : {}),
    ...(input.ClientToken ? { clientToken: input.ClientToken } : {}),
  };
  ctx.rs.volumes.push(volume);
  return shapeVolume(volume);
};

function attachmentOut(v: VolumeRecord, state: string) {
  return {
    VolumeId: v.id,
    InstanceId: v.attachment?.instanceId,
    Device: v.attachment?.device,
    AttachTime: v.attachment ? new Date(v.attachment.attachTime) : undefined,
    State: state,
  };
}

const attachVolume: Op = (ctx, input) => {
  const [volume] = lookup("vol", ctx.rs.volumes, [required(input, "VolumeId")]);
  const [instance] = lookup("i", ctx.rs.instances, [required(input, "InstanceId")]);
  const device: string = required(input, "Device");
  if (volume.creating)
    throw new CloudApiError(
      "IncorrectState",
      `vol '${volume.id}' is not 'available'. Its state is 'creating'.`,
    );
  if (volume.attachment)
    throw new CloudApiError(
      "VolumeInUse",
      `${volume.id} is already attached to an instance (${volume.attachment.instanceId})`,
    );
  if (!["running", "stopped"].includes(instance.state))
    throw new CloudApiError(
      "IncorrectInstanceState",
      `The instance '${instance.id}' is not in a state from which a volume can be attached.`,
    );
  if (volume.az !== instance.az)
    throw new CloudApiError(
      "InvalidVolume.ZoneMismatch",
      `The volume '${volume.id}' is not in the same availability zone as instance '${instance.id}'`,
    );
  if (instance.devices.some((d) => d.deviceName === device))
    throw new CloudApiError(
      "InvalidParameterValue",
      `Invalid value '${device}' for unixDevice. Attachment point ${device} is already in use`,
    );
  if (device === ROOT_DEVICE && instance.state !== "stopped")
    throw new CloudApiError(
      "IncorrectInstanceState",
      `The instance '${instance.id}' must be stopped to attach a volume as its root device (${device}).`,
    );
  volume.attachment = {
    instanceId: instance.id,
    device,
    attachTime: ctx.now,
    deleteOnTermination: false,
    readyAt: ctx.now + ctx.settings.volumeAttachMs,
  };
  const mapping = {
    deviceName: device,
    volumeId: volume.id,
    attachTime: ctx.now,
    deleteOnTermination: false,
  };
  // A root volume put back (after a failed-detached replacement) is the instance's first device again.
  if (device === ROOT_DEVICE) instance.devices.unshift(mapping);
  else instance.devices.push(mapping);
  return attachmentOut(volume, "attaching");
};

const detachVolume: Op = (ctx, input) => {
  const [volume] = lookup("vol", ctx.rs.volumes, [required(input, "VolumeId")]);
  if (!volume.attachment)
    throw new CloudApiError("IncorrectState", `Volume '${volume.id}' is in the 'available' state.`);
  if (input.InstanceId && input.InstanceId !== volume.attachment.instanceId)
    throw new CloudApiError(
      "InvalidAttachment.NotFound",
      `The volume ${volume.id} is not attached to instance ${input.InstanceId}`,
    );
  volume.detaching ??= { at: ctx.now + ctx.settings.volumeAttachMs };
  return attachmentOut(volume, "detaching");
};

const deleteVolume: Op = (ctx, input) => {
  const [volume] = lookup("vol", ctx.rs.volumes, [required(input, "VolumeId")]);
  if (volume.creating)
    throw new CloudApiError(
      "IncorrectState",
      `The volume '${volume.id}' is 'creating'; only an available volume can be deleted.`,
    );
  if (volume.attachment)
    throw new CloudApiError(
      "VolumeInUse",
      `Volume ${volume.id} is currently attached to ${volume.attachment.instanceId}`,
    );
  ctx.rs.volumes = ctx.rs.volumes.filter((v) => v !== volume);
  return {};
};

/**
 * Fast snapshot restore's volume-creation credits, per snapshot and zone, as AWS documents
 * them: the bucket holds MAX(1, MIN(10, 1024 ÷ size GiB)) credits and fills at
 * MIN(10, 1024 ÷ size GiB) per hour; each fully initialized volume takes one.
 *
 * @example
 * fastRestoreCredits(128) // { bucketSize: 8, perHour: 8 }
 */
export function fastRestoreCredits(sizeGiB: number): { bucketSize: number; perHour: number } {
  const ratio = 1024 / sizeGiB;
  return { bucketSize: Math.floor(Math.max(1, Math.min(10, ratio))), perHour: Math.min(10, ratio) };
}

/** Enabling takes a minute by default; optimizing 60 min per TiB (AWS's figure); then enabled (settings may shorten both). */
const ENABLING_MS = 60_000;
const OPTIMIZING_MS_PER_GIB = 3_600_000 / 1024;
const enablingMs = (ctx: OpContext) => ctx.settings.fastRestoreEnablingMs ?? ENABLING_MS;
const optimizingMsPerGiB = (ctx: OpContext) =>
  ctx.settings.fastRestoreOptimizingMsPerGiB ?? OPTIMIZING_MS_PER_GIB;

function fastRestoreState(ctx: OpContext, r: FastRestoreRecord): string {
  if (r.disablingTime !== undefined)
    return ctx.now - r.disablingTime < enablingMs(ctx) ? "disabling" : "disabled";
  const elapsed = ctx.now - r.enablingTime;
  if (elapsed < enablingMs(ctx)) return "enabling";
  return elapsed < enablingMs(ctx) + optimizingMsPerGiB(ctx) * r.sizeGiB ? "optimizing" : "enabled";
}

/** Whether a volume made now from this snapshot in this zone is fast-restored (FSR `enabled` there). */
function fastRestoreEnabled(ctx: OpContext, snapshotId: string, az: string): boolean {
  const r = (ctx.rs.fastRestores ?? []).find((x) => x.snapshotId === snapshotId && x.az === az);
  return r !== undefined && fastRestoreState(ctx, r) === "enabled";
}

function shapeFastRestore(ctx: OpContext, r: FastRestoreRecord) {
  const state = fastRestoreState(ctx, r);
  const optimizingAt = r.enablingTime + enablingMs(ctx);
  const enabledAt = optimizingAt + optimizingMsPerGiB(ctx) * r.sizeGiB;
  return {
    SnapshotId: r.snapshotId,
    AvailabilityZone: r.az,
    State: state,
    OwnerId: ctx.state.accountId,
    EnablingTime: new Date(r.enablingTime),
    ...(ctx.now >= optimizingAt ? { OptimizingTime: new Date(optimizingAt) } : {}),
    ...(ctx.now >= enabledAt ? { EnabledTime: new Date(enabledAt) } : {}),
    ...(r.disablingTime !== undefined ? { DisablingTime: new Date(r.disablingTime) } : {}),
  };
}

function fastRestorePairs(
  ctx: OpContext,
  input: { AvailabilityZones?: string[]; SourceSnapshotIds?: string[] },
) {
  const zones = required(input, "AvailabilityZones");
  const ids = required(input, "SourceSnapshotIds");
  const successful: FastRestoreRecord[] = [];
  const unsuccessful: Array<{ SnapshotId: string; FastSnapshotRestoreStateErrors: object[] }> = [];
  for (const id of ids) {
    const snapshot = ctx.rs.snapshots.find((s) => s.id === id);
    if (!snapshot) {
      unsuccessful.push({
        SnapshotId: id,
        FastSnapshotRestoreStateErrors: zones.map((z) => ({
          AvailabilityZone: z,
          Error: { Code: "InvalidSnapshot.NotFound", Message: `The snapshot '${id}' does not exist.` },
        })),
      });
      continue;
    }
    for (const az of zones) {
      ctx.rs.fastRestores ??= [];
      let r = ctx.rs.fastRestores.find((x) => x.snapshotId === id && x.az === az);
      if (!r) {
        r = { snapshotId: id, az, sizeGiB: snapshot.volumeSize, enablingTime: ctx.now };
        ctx.rs.fastRestores.push(r);
      }
      successful.push(r);
    }
  }
  return { successful, unsuccessful };
}

const enableFastSnapshotRestores: Op = (ctx, input) => {
  const { successful, unsuccessful } = fastRestorePairs(ctx, input);
  for (const r of successful)
    if (r.disablingTime !== undefined) {
      r.disablingTime = undefined;
      r.enablingTime = ctx.now;
    }
  return { Successful: successful.map((r) => shapeFastRestore(ctx, r)), Unsuccessful: unsuccessful };
};

const disableFastSnapshotRestores: Op = (ctx, input) => {
  const { successful, unsuccessful } = fastRestorePairs(ctx, input);
  for (const r of successful) r.disablingTime ??= ctx.now;
  return { Successful: successful.map((r) => shapeFastRestore(ctx, r)), Unsuccessful: unsuccessful };
};

const describeFastSnapshotRestores: Op = (ctx, input) => {
  const filters: Array<{ Name?: string; Values?: string[] }> = input.Filters ?? [];
  const match = (name: string, value: string) => {
    const f = filters.find((x) => x.Name === name);
    return !f || (f.Values ?? []).includes(value);
  };
  return {
    FastSnapshotRestores: (ctx.rs.fastRestores ?? [])
      .filter((r) => fastRestoreState(ctx, r) !== "disabled")
      .filter((r) => match("snapshot-id", r.snapshotId) && match("availability-zone", r.az))
      .map((r) => shapeFastRestore(ctx, r))
      .filter((r) => match("state", r.State)),
  };
};

export const ec2VolumeOperations: Record<string, Op> = {
  EnableFastSnapshotRestores: enableFastSnapshotRestores,
  DisableFastSnapshotRestores: disableFastSnapshotRestores,
  DescribeFastSnapshotRestores: describeFastSnapshotRestores,
  CreateVolume: createVolume,
  AttachVolume: attachVolume,
  DetachVolume: detachVolume,
  DeleteVolume: deleteVolume,
};
