/**
 * The simulated account's state: plain JSON-serialisable records (times as epoch
 * milliseconds), so the whole model can be saved and restored as one document. The SDK
 * shapes callers see are built from these records in `ec2.ts` and `autoscaling.ts`.
 */
import { createHash } from "node:crypto";
import type { ScalingState } from "./application-autoscaling.ts";
import type { CloudWatchState } from "./cloudwatch.ts";
import type { DynamoDbTablesState } from "./dynamodb-backups.ts";
import type { EcsState } from "./ecs.ts";
import type { AddressRecord, StatusCheckRecord } from "./eip.ts";
import type { ProbeRule } from "./failover-controls.ts";
import type { LambdaState } from "./lambda.ts";
import type { PatchingState } from "./patching.ts";
import type { RdsState } from "./rds.ts";
import type { Route53State } from "./route53.ts";

export type InstanceStateName =
  | "pending"
  | "running"
  | "shutting-down"
  | "terminated"
  | "stopping"
  | "stopped";

/** EC2's numeric state codes (the low byte of `State.Code`). */
export const INSTANCE_STATE_CODES: Record<InstanceStateName, number> = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export interface TagRecord {
  Key: string;
  Value: string;
}

export interface DeviceRecord {
  deviceName: string;
  volumeId: string;
  attachTime: number;
  deleteOnTermination: boolean;
}

export interface InstanceRecord {
  id: string;
  reservationId: string;
  instanceType: string;
  imageId: string;
  state: InstanceStateName;
  /** A state change in flight: `state` becomes `to` once the clock reaches `at`. */
  transition?: { to: InstanceStateName; at: number };
  stateChangedAt: number;
  stateReason: string;
  az: string;
  privateIp: string;
  launchTime: number;
  tags: TagRecord[];
  devices: DeviceRecord[];
  /** The Auto Scaling group this instance belongs to. */
  group?: string;
  /** When the instance was last rebooted (status checks and the SSM agent come back after it). */
  rebootedAt?: number;
  /** Launched with hibernation enabled (`HibernationOptions.Configured`): `StopInstances` may hibernate it. */
  hibernation?: boolean;
  /** Its subnet (ec2-launch.ts); absent: the default subnet of its zone. */
  subnetId?: string;
  securityGroupIds?: string[];
  /** A public address (a launch into a subnet that maps one, or AssociatePublicIpAddress). */
  publicIp?: string;
  iamInstanceProfile?: string;
  /** RunInstances' ClientToken: the same token answers this instance again. */
  clientToken?: string;
  /** Launched by RunInstances: its status checks are `initializing` for a while after each start, as a boot. */
  bootChecks?: boolean;
}

/** A subnet added with `addSubnet` (a zone's default subnet needs no record: ec2-launch.ts). */
export interface SubnetRecord {
  id: string;
  az: string;
  vpcId: string;
  mapPublicIpOnLaunch: boolean;
  tags: TagRecord[];
}

export interface VolumeRecord {
  id: string;
  size: number;
  az: string;
  createTime: number;
  tags: TagRecord[];
  attachment?: {
    instanceId: string;
    device: string;
    attachTime: number;
    deleteOnTermination: boolean;
    /** Attaching until then (AttachVolume), attached after. */
    readyAt?: number;
  };
  /** The snapshot the volume was created from (a replaced root volume, a restore). */
  snapshotId?: string;
  /** `creating` until `readyAt` (CreateVolume from a snapshot), then available or in use. */
  creating?: { readyAt: number };
  /** Made from a snapshot whose fast snapshot restore was `enabled` in its zone: fully initialized (AWS's `FastRestored`). */
  fastRestored?: boolean;
  /** Detaching: the attachment ends at `at` (DetachVolume). */
  detaching?: { at: number };
  volumeType?: string;
  /** CreateVolume's ClientToken: the same token answers this volume again. */
  clientToken?: string;
  /**
   * What the volume holds, as a digest: each volume's own data marker, copied into its
   * snapshots and from them into restored volumes, so a verify can prove the data came back
   * (`sha256sum <device>` through SSM Run Command answers it). Absent: derived from the id.
   */
  marker?: string;
}

export type SnapshotStateName = "pending" | "completed" | "error";

export interface SnapshotRecord {
  id: string;
  volumeId: string;
  volumeSize: number;
  /** `pending` is resolved against the clock when read: completed once the snapshot duration has passed. */
  state: SnapshotStateName;
  startTime: number;
  description: string;
  ownerId: string;
  tags: TagRecord[];
  copiedFrom?: { region: string; snapshotId: string };
  /** The data marker of the volume when the snapshot was taken (see VolumeRecord.marker). */
  marker?: string;
}

export interface GroupTagRecord extends TagRecord {
  PropagateAtLaunch: boolean;
}

export interface GroupRecord {
  name: string;
  arnId: string;
  launchTemplateId: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  availabilityZones: string[];
  instanceType: string;
  imageId: string;
  rootVolumeSize: number;
  tags: GroupTagRecord[];
  instanceIds: string[];
  createdTime: number;
  /** How many instances the group has launched so far. */
  launched: number;
  /** The group's termination policies, in order (AWS's default: `["Default"]`). */
  terminationPolicies?: string[];
}

export interface RegionState {
  instances: InstanceRecord[];
  volumes: VolumeRecord[];
  snapshots: SnapshotRecord[];
  groups: GroupRecord[];
  /** Next private address, so addresses never repeat within a region. */
  nextIp: number;
  /** Elastic IPs, status checks set by tests, CloudWatch (see eip.ts, cloudwatch.ts); made on first use. */
  addresses?: AddressRecord[];
  statusChecks?: Record<string, StatusCheckRecord>;
  cloudwatch?: CloudWatchState;
  /** SSM-managed nodes and commands, target groups, root-volume replacements (see patching.ts). */
  patching?: PatchingState;
  /** Fast snapshot restore, per snapshot and zone (see ec2-volumes.ts). */
  fastRestores?: FastRestoreRecord[];
  /** Subnets beyond each zone's default one (see ec2-launch.ts); made on first use. */
  subnets?: SubnetRecord[];
  /** ECS clusters and services, Application Auto Scaling targets, Lambda functions (ecs.ts, application-autoscaling.ts, lambda.ts). */
  ecs?: EcsState;
  scaling?: ScalingState;
  lambda?: LambdaState;
  /** RDS instances, Aurora clusters and their snapshots (see rds.ts); made on first use. */
  rds?: RdsState;
  /** The account's DynamoDB tables and their on-demand backups (see dynamodb-backups.ts). */
  dynamodbTables?: DynamoDbTablesState;
}

export interface FastRestoreRecord {
  snapshotId: string;
  az: string;
  /** Size of the snapshot's volume, for the optimizing time (60 min per TiB) and the credits. */
  sizeGiB: number;
  enablingTime: number;
  disablingTime?: number;
}

export const STATE_FORMAT = "reflex-simulated-cloud";
export const STATE_VERSION = 1;

export interface CloudState {
  format: typeof STATE_FORMAT;
  version: typeof STATE_VERSION;
  accountId: string;
  /** The PRNG's state: ids stay deterministic, and unique across restarts. */
  rng: number;
  regions: Record<string, RegionState>;
  /** Route 53 (global) and the HTTP health probes tests can fail (see route53.ts, failover-controls.ts). */
  route53?: Route53State;
  probes?: ProbeRule[];
}

export function emptyState(accountId: string, seed: number, regions: string[]): CloudState {
  const state: CloudState = {
    format: STATE_FORMAT,
    version: STATE_VERSION,
    accountId,
    rng: seed | 0,
    regions: {},
  };
  for (const r of regions) regionState(state, r);
  return state;
}

/** The state of one region, created empty on first use (every AWS region exists). */
export function regionState(state: CloudState, region: string): RegionState {
  let rs = state.regions[region];
  if (!rs) {
    rs = { instances: [], volumes: [], snapshots: [], groups: [], nextIp: 10 };
    state.regions[region] = rs;
  }
  return rs;
}

/** mulberry32: small, fast, and good enough for ids; its state lives in the model. */
export function nextRandom(state: CloudState): number {
  state.rng = (state.rng + 0x6d2b79f5) | 0;
  let t = state.rng;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

function hex(state: CloudState, length: number): string {
  let out = "";
  while (out.length < length) out += nextRandom(state).toString(16).padStart(8, "0");
  return out.slice(0, length);
}

/** An EC2-style id: `i-`, `vol-`, `snap-`, `r-` + 17 hex digits. */
export function newId(state: CloudState, prefix: string): string {
  return `${prefix}-${hex(state, 17)}`;
}

export function newUuid(state: CloudState): string {
  const h = hex(state, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function newPrivateIp(rs: RegionState): string {
  const n = rs.nextIp++;
  return `10.0.${Math.floor(n / 250) % 256}.${(n % 250) + 4}`;
}

export function tagValue(tags: TagRecord[], key: string): string | undefined {
  return tags.find((t) => t.Key === key)?.Value;
}

export function tagsFromRecord(tags: Record<string, string> | undefined): TagRecord[] {
  return Object.entries(tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
}

/** Sets or replaces tags by key, keeping the order of the existing ones. */
export function upsertTags(target: TagRecord[], tags: TagRecord[]): void {
  for (const t of tags) {
    const existing = target.find((x) => x.Key === t.Key);
    if (existing) existing.Value = t.Value;
    else target.push({ Key: t.Key, Value: t.Value });
  }
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export function availabilityZones(region: string): string[] {
  return [`${region}a`, `${region}b`, `${region}c`];
}

/** A zone's default subnet (and its VPC): derived from the zone, so the seed's ids never move. */
export function defaultSubnet(region: string, az: string): { id: string; vpcId: string } {
  const h = (what: string) => createHash("sha256").update(what).digest("hex").slice(0, 17);
  return { id: `subnet-${h(`default subnet of ${az}`)}`, vpcId: `vpc-${h(`default vpc of ${region}`)}` };
}

/** What a volume holds, as a digest: its own marker, or one derived from its id (a seeded volume's data). */
export function volumeMarker(v: { id: string; marker?: string }): string {
  return v.marker ?? createHash("sha256").update(`data of ${v.id}`).digest("hex");
}
