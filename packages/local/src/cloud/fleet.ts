/**
 * Resource lifecycles shared by the EC2 and Auto Scaling simulations, the seed and the test
 * helpers: launching and terminating instances (with their volumes), state transitions that
 * complete on the clock, and the clock-derived state of snapshots.
 */
import {
  type CloudState,
  type DeviceRecord,
  HOUR_MS,
  type InstanceRecord,
  type InstanceStateName,
  newId,
  newPrivateIp,
  type RegionState,
  regionState,
  type SnapshotRecord,
  type SnapshotStateName,
  type TagRecord,
} from "./model.ts";

export interface CloudSettings {
  /** How long a snapshot (or a copy) stays `pending` before it is `completed`. */
  snapshotDurationMs: number;
  /** How long `pending`/`stopping`/`shutting-down` last before the target state; 0 = settled on the next call. */
  stateTransitionMs: number;
  /** EC2 Describe* page size when the caller gives no MaxResults. */
  pageSize: number;
  /** How long capacity an Auto Scaling group launches stays `pending` (Auto Scaling: `Pending`) before `running`/`InService`. */
  capacityLaunchMs: number;
  /**
   * CreateVolume from a snapshot: `creating` for `volumeCreateMs` plus `volumeCreatePerGiBMs`
   * per GiB (the blocks AWS pulls from S3 on the way), then `available`.
   */
  volumeCreateMs: number;
  volumeCreatePerGiBMs: number;
  /** How long AttachVolume stays `attaching` and DetachVolume `detaching`. */
  volumeAttachMs: number;
  /** Fast snapshot restore: `enabling` this long (default a minute), then `optimizing` for `fastRestoreOptimizingMsPerGiB` per GiB (AWS: 60 min per TiB). */
  fastRestoreEnablingMs?: number;
  fastRestoreOptimizingMsPerGiB?: number;
}

/** Everything one operation needs: the model, the calling client's region, one clock reading. */
/**
 * The input of one simulated operation: the SDK command's own input type (EC2's
 * `RunInstancesRequest`, SSM's `SendCommandRequest`, …), as the real client sends it.
 */
// biome-ignore lint/suspicious/noExplicitAny: an SDK type forces it: the operation tables are keyed by operation name, each operation takes its own SDK command's input, and no one type names them all.
export type OpInput = any;

export interface OpContext {
  state: CloudState;
  region: string;
  rs: RegionState;
  now: number;
  settings: CloudSettings;
  /** How what this call starts ends, when an `outcome` fault fired on it (faults.ts). */
  outcome?: string;
}

export function opContext(
  state: CloudState,
  region: string,
  now: number,
  settings: CloudSettings,
): OpContext {
  return { state, region, rs: regionState(state, region), now, settings };
}

/** Terminated instances stay visible this long, as in EC2. */
const TERMINATED_VISIBLE_MS = HOUR_MS;

const DEVICE_NAMES = ["/dev/xvda", "/dev/sdf", "/dev/sdg", "/dev/sdh", "/dev/sdi", "/dev/sdj"];

export interface LaunchSpec {
  instanceType: string;
  imageId?: string;
  az: string;
  tags: TagRecord[];
  /** GiB; the first is the root volume. */
  volumeSizes: number[];
  state: InstanceStateName;
  launchTime?: number;
  group?: string;
  /** How long a `pending` launch lasts; default `stateTransitionMs`. */
  pendingMs?: number;
}

/** Creates an instance with its volumes attached (root volume deleted on termination). */
export function launchInstance(ctx: OpContext, spec: LaunchSpec): InstanceRecord {
  const launchTime = spec.launchTime ?? ctx.now;
  const id = newId(ctx.state, "i");
  const devices: DeviceRecord[] = spec.volumeSizes.map((size, i) => {
    const volumeId = newId(ctx.state, "vol");
    const deviceName = DEVICE_NAMES[i] ?? `/dev/sd${String.fromCharCode(102 + i)}`;
    const deleteOnTermination = i === 0;
    ctx.rs.volumes.push({
      id: volumeId,
      size,
      az: spec.az,
      createTime: launchTime,
      tags: [],
      attachment: { instanceId: id, device: deviceName, attachTime: launchTime, deleteOnTermination },
    });
    return { deviceName, volumeId, attachTime: launchTime, deleteOnTermination };
  });
  const instance: InstanceRecord = {
    id,
    reservationId: newId(ctx.state, "r"),
    instanceType: spec.instanceType,
    imageId: spec.imageId ?? "ami-0c02fb55956c7d316",
    state: spec.state === "pending" ? "pending" : spec.state,
    transition:
      spec.state === "pending"
        ? { to: "running", at: ctx.now + (spec.pendingMs ?? ctx.settings.stateTransitionMs) }
        : undefined,
    stateChangedAt: launchTime,
    stateReason: spec.state === "stopped" ? userInitiated(launchTime) : "",
    az: spec.az,
    privateIp: newPrivateIp(ctx.rs),
    launchTime,
    tags: spec.tags.map((t) => ({ ...t })),
    devices,
    group: spec.group,
  };
  ctx.rs.instances.push(instance);
  return instance;
}

function userInitiated(at: number): string {
  return `User initiated (${new Date(at).toISOString().replace("T", " ").slice(0, 19)} GMT)`;
}

/** Starts a transition: the instance is in `through` now and reaches `to` after the transition time. */
export function beginTransition(
  ctx: OpContext,
  instance: InstanceRecord,
  through: InstanceStateName,
  to: InstanceStateName,
): void {
  instance.state = through;
  instance.stateChangedAt = ctx.now;
  instance.transition = { to, at: ctx.now + ctx.settings.stateTransitionMs };
  if (to === "stopped" || to === "terminated") instance.stateReason = userInitiated(ctx.now);
  else instance.stateReason = "";
}

function completeTransition(rs: RegionState, instance: InstanceRecord, at: number): void {
  const to = instance.transition?.to;
  if (!to) return;
  instance.state = to;
  instance.stateChangedAt = at;
  instance.transition = undefined;
  if (to === "running") {
    instance.launchTime = at; // EC2 resets LaunchTime on every start.
    // A launched instance boots: its status checks initialize first (patching.ts `rebooting`).
    if (instance.bootChecks) instance.rebootedAt = at;
  }
  if (to === "terminated") {
    // Volumes marked DeleteOnTermination go with the instance; the others are detached.
    const gone = new Set(instance.devices.filter((d) => d.deleteOnTermination).map((d) => d.volumeId));
    rs.volumes = rs.volumes.filter((v) => !gone.has(v.id));
    for (const v of rs.volumes) if (v.attachment?.instanceId === instance.id) v.attachment = undefined;
    instance.devices = [];
  }
}

/**
 * Brings the model up to the clock: finishes due transitions and forgets instances that
 * have been terminated for an hour. Called before every operation and every view.
 */
export function settle(state: CloudState, now: number): void {
  for (const rs of Object.values(state.regions)) {
    for (const instance of rs.instances) {
      if (instance.transition && instance.transition.at <= now)
        completeTransition(rs, instance, instance.transition.at);
    }
    rs.instances = rs.instances.filter(
      (i) => !(i.state === "terminated" && i.stateChangedAt + TERMINATED_VISIBLE_MS <= now),
    );
    for (const v of rs.volumes) {
      if (v.creating && v.creating.readyAt <= now) v.creating = undefined;
      if (v.attachment?.readyAt !== undefined && v.attachment.readyAt <= now)
        v.attachment.readyAt = undefined;
      if (v.detaching && v.detaching.at <= now) {
        const instance = rs.instances.find((i) => i.id === v.attachment?.instanceId);
        if (instance) instance.devices = instance.devices.filter((d) => d.volumeId !== v.id);
        v.attachment = undefined;
        v.detaching = undefined;
      }
    }
  }
}

/** A snapshot's state and progress at `now`: pending snapshots complete after the configured duration. */
export function snapshotStatus(
  snapshot: SnapshotRecord,
  now: number,
  durationMs: number,
): { state: SnapshotStateName; progress: string } {
  if (snapshot.state !== "pending") {
    return { state: snapshot.state, progress: snapshot.state === "completed" ? "100%" : "0%" };
  }
  const elapsed = now - snapshot.startTime;
  if (elapsed >= durationMs) return { state: "completed", progress: "100%" };
  const pct = Math.max(0, Math.min(99, Math.floor((elapsed / Math.max(durationMs, 1)) * 100)));
  return { state: "pending", progress: `${pct}%` };
}
