/**
 * The simulated EC2 API: instances, volumes, snapshots and tags of one region, answered in
 * the SDK's shapes (`@aws-sdk/client-ec2` types) with EC2's error codes.
 */
import type {
  CopySnapshotCommandInput,
  CopySnapshotCommandOutput,
  CreateSnapshotCommandInput,
  CreateSnapshotCommandOutput,
  CreateTagsCommandInput,
  DeleteSnapshotCommandInput,
  DeleteTagsCommandInput,
  DescribeInstancesCommandInput,
  DescribeInstancesCommandOutput,
  DescribeInstanceTypesCommandInput,
  DescribeInstanceTypesCommandOutput,
  DescribeSnapshotsCommandInput,
  DescribeSnapshotsCommandOutput,
  DescribeVolumesCommandInput,
  DescribeVolumesCommandOutput,
  Instance,
  InstanceStateChange,
  InstanceTypeInfo,
  ModifyInstanceAttributeCommandInput,
  RebootInstancesCommandInput,
  Snapshot,
  StartInstancesCommandInput,
  StartInstancesCommandOutput,
  StopInstancesCommandInput,
  StopInstancesCommandOutput,
  Tag,
  TagSpecification,
  TerminateInstancesCommandInput,
  TerminateInstancesCommandOutput,
  Volume,
} from "@aws-sdk/client-ec2";
import { must } from "@reflex/core";
import { CloudApiError } from "./api-error.ts";
import { reconcileGroup } from "./autoscaling.ts";
import { beginTransition, type OpContext, type OpInput, snapshotStatus } from "./fleet.ts";
import {
  defaultSubnet,
  INSTANCE_STATE_CODES,
  type InstanceRecord,
  type InstanceStateName,
  newId,
  regionState,
  type SnapshotRecord,
  type TagRecord,
  upsertTags,
  type VolumeRecord,
  volumeMarker,
} from "./model.ts";
import { applyFilters, paginate } from "./query.ts";

type Output<T> = Omit<T, "$metadata">;
export type Ec2Operation = (ctx: OpContext, input: OpInput) => object;

// ---------------------------------------------------------------------------------------
// Shapes

function sdkTags(tags: TagRecord[]): Tag[] | undefined {
  // EC2 omits the tag set of an untagged resource; callers must cope with `Tags` undefined.
  return tags.length ? tags.map((t) => ({ Key: t.Key, Value: t.Value })) : undefined;
}

function privateDnsName(region: string, ip: string): string {
  const domain = region === "us-east-1" ? "ec2.internal" : `${region}.compute.internal`;
  return `ip-${ip.replaceAll(".", "-")}.${domain}`;
}

export function shapeInstance(region: string, r: InstanceRecord): Instance {
  const terminated = r.state === "terminated";
  const subnet = r.subnetId ?? defaultSubnet(region, r.az).id;
  const vpc = defaultSubnet(region, r.az).vpcId;
  return {
    InstanceId: r.id,
    ImageId: r.imageId,
    InstanceType: r.instanceType as Instance["InstanceType"],
    LaunchTime: new Date(r.launchTime),
    Placement: { AvailabilityZone: r.az, Tenancy: "default" },
    PrivateIpAddress: terminated ? undefined : r.privateIp,
    PrivateDnsName: terminated ? "" : privateDnsName(region, r.privateIp),
    ...(terminated ? {} : { SubnetId: subnet, VpcId: vpc }),
    ...(r.publicIp && r.state === "running" ? { PublicIpAddress: r.publicIp } : {}),
    SecurityGroups: (r.securityGroupIds ?? []).map((GroupId) => ({ GroupId, GroupName: GroupId })),
    ...(r.iamInstanceProfile
      ? { IamInstanceProfile: { Arn: r.iamInstanceProfile, Id: r.iamInstanceProfile } }
      : {}),
    State: { Code: INSTANCE_STATE_CODES[r.state], Name: r.state },
    StateTransitionReason: r.stateReason,
    Architecture: "x86_64",
    RootDeviceName: "/dev/xvda",
    RootDeviceType: "ebs",
    VirtualizationType: "hvm",
    Hypervisor: "xen",
    EbsOptimized: false,
    Monitoring: { State: "disabled" },
    HibernationOptions: { Configured: r.hibernation === true },
    BlockDeviceMappings: r.devices.map((d) => ({
      DeviceName: d.deviceName,
      Ebs: {
        VolumeId: d.volumeId,
        Status: "attached",
        AttachTime: new Date(d.attachTime),
        DeleteOnTermination: d.deleteOnTermination,
      },
    })),
    Tags: sdkTags(r.tags),
  };
}

export function shapeVolume(v: VolumeRecord): Volume {
  return {
    VolumeId: v.id,
    Size: v.size,
    AvailabilityZone: v.az,
    State: v.creating ? "creating" : v.attachment ? "in-use" : "available",
    CreateTime: new Date(v.createTime),
    VolumeType: (v.volumeType ?? "gp3") as Volume["VolumeType"],
    Iops: 3000,
    Throughput: 125,
    Encrypted: false,
    MultiAttachEnabled: false,
    SnapshotId: v.snapshotId ?? "",
    ...(v.fastRestored ? { FastRestored: true } : {}),
    Attachments: v.attachment
      ? [
          {
            VolumeId: v.id,
            InstanceId: v.attachment.instanceId,
            Device: v.attachment.device,
            State: v.detaching ? "detaching" : v.attachment.readyAt !== undefined ? "attaching" : "attached",
            AttachTime: new Date(v.attachment.attachTime),
            DeleteOnTermination: v.attachment.deleteOnTermination,
          },
        ]
      : [],
    Tags: sdkTags(v.tags),
  };
}

export function shapeSnapshot(s: SnapshotRecord, now: number, durationMs: number): Snapshot {
  const { state, progress } = snapshotStatus(s, now, durationMs);
  return {
    SnapshotId: s.id,
    VolumeId: s.volumeId,
    VolumeSize: s.volumeSize,
    State: state,
    Progress: progress,
    StartTime: new Date(s.startTime),
    Description: s.description,
    OwnerId: s.ownerId,
    Encrypted: false,
    StorageTier: "standard",
    Tags: sdkTags(s.tags),
  };
}

// ---------------------------------------------------------------------------------------
// Validation helpers

export function required<I extends object, K extends keyof I & string>(input: I, name: K): NonNullable<I[K]> {
  const v = input[name];
  if (v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0)) {
    throw new CloudApiError("MissingParameter", `The request must contain the parameter ${name}`);
  }
  return v as NonNullable<I[K]>;
}

const ID_PATTERN: Record<string, RegExp> = {
  i: /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/,
  vol: /^vol-(?:[0-9a-f]{8}|[0-9a-f]{17})$/,
  snap: /^snap-(?:[0-9a-f]{8}|[0-9a-f]{17})$/,
};

const NOT_FOUND: Record<string, { code: string; noun: string; malformed: string }> = {
  i: { code: "InvalidInstanceID.NotFound", noun: "instance ID", malformed: "InvalidInstanceID.Malformed" },
  vol: { code: "InvalidVolume.NotFound", noun: "volume", malformed: "InvalidVolumeID.Malformed" },
  snap: { code: "InvalidSnapshot.NotFound", noun: "snapshot", malformed: "InvalidSnapshotID.Malformed" },
};

/** Resolves ids to records, failing like EC2: malformed ids first, then every missing one named. */
export function lookup<T extends { id: string }>(kind: "i" | "vol" | "snap", items: T[], ids: string[]): T[] {
  const spec = NOT_FOUND[kind];
  for (const id of ids) {
    if (!ID_PATTERN[kind].test(id)) throw new CloudApiError(spec.malformed, `Invalid id: "${id}"`);
  }
  const missing = ids.filter((id) => !items.some((x) => x.id === id));
  if (missing.length === 1) {
    throw new CloudApiError(spec.code, `The ${spec.noun} '${missing[0]}' does not exist`);
  }
  if (missing.length > 1) {
    throw new CloudApiError(spec.code, `The ${spec.noun}s '${missing.join(", ")}' do not exist`);
  }
  return ids.map((id) =>
    must(
      items.find((x) => x.id === id),
      "items.find((x) => x.id === id)",
    ),
  );
}

const PAGE = {
  badTokenCode: "InvalidParameterValue",
  badValueCode: "InvalidParameterValue",
  parameter: "maxResults",
};

/** DescribeInstances (and DescribeInstanceTypes) refuse ids together with MaxResults, as documented. */
function noIdsWithMaxResults(ids: unknown[] | undefined, maxResults: number | undefined, what: string): void {
  if (ids?.length && maxResults !== undefined) {
    throw new CloudApiError(
      "InvalidParameterCombination",
      `The parameter ${what} cannot be used with the parameter maxResults`,
    );
  }
}

function validateTags(tags: Tag[] | undefined): TagRecord[] {
  return (tags ?? []).map((t) => {
    const Key = t.Key ?? "";
    if (!Key) throw new CloudApiError("InvalidParameterValue", "Tag keys must not be empty");
    if (Key.toLowerCase().startsWith("aws:")) {
      throw new CloudApiError(
        "InvalidParameterValue",
        "Tag keys starting with 'aws:' are reserved for internal use",
      );
    }
    return { Key, Value: t.Value ?? "" };
  });
}

export function tagsFromSpecifications(
  specs: TagSpecification[] | undefined,
  resourceType: string,
): TagRecord[] {
  const out: TagRecord[] = [];
  for (const spec of specs ?? []) {
    if (spec.ResourceType && spec.ResourceType !== resourceType) {
      throw new CloudApiError(
        "InvalidParameterValue",
        `'${spec.ResourceType}' is not a valid taggable resource type for this operation.`,
      );
    }
    upsertTags(out, validateTags(spec.Tags));
  }
  return out;
}

const TAG_LIMIT = 50;

// ---------------------------------------------------------------------------------------
// Instances

function describeInstances(
  ctx: OpContext,
  input: DescribeInstancesCommandInput,
): Output<DescribeInstancesCommandOutput> {
  noIdsWithMaxResults(input.InstanceIds, input.MaxResults, "instancesSet");
  let items = input.InstanceIds?.length ? lookup("i", ctx.rs.instances, input.InstanceIds) : ctx.rs.instances;
  items = applyFilters(
    items,
    input.Filters,
    {
      "instance-id": (i) => [i.id],
      "instance-state-name": (i) => [i.state],
      "instance-state-code": (i) => [String(INSTANCE_STATE_CODES[i.state])],
      "instance-type": (i) => [i.instanceType],
      "availability-zone": (i) => [i.az],
      "image-id": (i) => [i.imageId],
      "private-ip-address": (i) => [i.privateIp],
      "reservation-id": (i) => [i.reservationId],
      "block-device-mapping.volume-id": (i) => i.devices.map((d) => d.volumeId),
      "subnet-id": (i) => [i.subnetId ?? defaultSubnet(ctx.region, i.az).id],
      "client-token": (i) => [i.clientToken],
    },
    (i) => i.tags,
  );
  const { page, nextToken } = input.InstanceIds?.length
    ? { page: items, nextToken: undefined }
    : paginate(items, {
        ...PAGE,
        operation: "DescribeInstances",
        maxResults: input.MaxResults,
        nextToken: input.NextToken,
        defaultPageSize: ctx.settings.pageSize,
        min: 5,
        max: 1000,
      });
  return {
    // One reservation per launch, as RunInstances would make them.
    Reservations: page.map((i) => ({
      ReservationId: i.reservationId,
      OwnerId: ctx.state.accountId,
      Groups: [],
      Instances: [shapeInstance(ctx.region, i)],
    })),
    NextToken: nextToken,
  };
}

function stateChange(i: InstanceRecord, previous: InstanceStateName): InstanceStateChange {
  return {
    InstanceId: i.id,
    CurrentState: { Code: INSTANCE_STATE_CODES[i.state], Name: i.state },
    PreviousState: { Code: INSTANCE_STATE_CODES[previous], Name: previous },
  };
}

function incorrectState(i: InstanceRecord, verb: string): CloudApiError {
  return new CloudApiError(
    "IncorrectInstanceState",
    `This instance '${i.id}' is not in a state from which it can be ${verb}.`,
  );
}

function stopInstances(ctx: OpContext, input: StopInstancesCommandInput): Output<StopInstancesCommandOutput> {
  const instances = lookup("i", ctx.rs.instances, required(input, "InstanceIds"));
  for (const i of instances) {
    if (!["running", "stopping", "stopped"].includes(i.state)) throw incorrectState(i, "stopped");
    // As EC2 answers: hibernation is enabled at launch only, and asked of an instance without it the call fails.
    if (input.Hibernate && !i.hibernation)
      throw new CloudApiError(
        "UnsupportedHibernationConfiguration",
        `The instance '${i.id}' is not enabled for hibernation.`,
      );
  }
  return {
    StoppingInstances: instances.map((i) => {
      const previous = i.state;
      if (previous === "running") beginTransition(ctx, i, "stopping", "stopped");
      return stateChange(i, previous);
    }),
  };
}

function startInstances(
  ctx: OpContext,
  input: StartInstancesCommandInput,
): Output<StartInstancesCommandOutput> {
  const instances = lookup("i", ctx.rs.instances, required(input, "InstanceIds"));
  for (const i of instances) {
    if (!["stopped", "pending", "running"].includes(i.state)) throw incorrectState(i, "started");
  }
  return {
    StartingInstances: instances.map((i) => {
      const previous = i.state;
      if (previous === "stopped") beginTransition(ctx, i, "pending", "running");
      return stateChange(i, previous);
    }),
  };
}

function rebootInstances(ctx: OpContext, input: RebootInstancesCommandInput): object {
  const instances = lookup("i", ctx.rs.instances, required(input, "InstanceIds"));
  for (const i of instances) {
    if (i.state !== "running") throw incorrectState(i, "rebooted");
  }
  for (const i of instances) i.rebootedAt = ctx.now;
  return {};
}

function terminateInstances(
  ctx: OpContext,
  input: TerminateInstancesCommandInput,
): Output<TerminateInstancesCommandOutput> {
  const instances = lookup("i", ctx.rs.instances, required(input, "InstanceIds"));
  const changes = instances.map((i) => {
    const previous = i.state;
    if (previous !== "terminated" && previous !== "shutting-down") {
      beginTransition(ctx, i, "shutting-down", "terminated");
    }
    return stateChange(i, previous);
  });
  // Auto Scaling notices a terminated member and launches a replacement, as in AWS.
  for (const i of instances) {
    if (!i.group) continue;
    const group = ctx.rs.groups.find((g) => g.name === i.group);
    i.group = undefined;
    if (!group) continue;
    group.instanceIds = group.instanceIds.filter((id) => id !== i.id);
    reconcileGroup(ctx, group);
  }
  return { TerminatingInstances: changes };
}

/** A handful of instance types, enough for resize runbooks and DescribeInstanceTypes. */
export const INSTANCE_TYPES: Record<string, { vcpus: number; memoryMiB: number }> = {
  "t3.micro": { vcpus: 2, memoryMiB: 1024 },
  "t3.small": { vcpus: 2, memoryMiB: 2048 },
  "t3.medium": { vcpus: 2, memoryMiB: 4096 },
  "t3.large": { vcpus: 2, memoryMiB: 8192 },
  "t3.xlarge": { vcpus: 4, memoryMiB: 16384 },
  "m5.large": { vcpus: 2, memoryMiB: 8192 },
  "m5.xlarge": { vcpus: 4, memoryMiB: 16384 },
  "m5.2xlarge": { vcpus: 8, memoryMiB: 32768 },
  "c5.large": { vcpus: 2, memoryMiB: 4096 },
  "c5.xlarge": { vcpus: 4, memoryMiB: 8192 },
  "c5.2xlarge": { vcpus: 8, memoryMiB: 16384 },
  "r5.large": { vcpus: 2, memoryMiB: 16384 },
  "r5.xlarge": { vcpus: 4, memoryMiB: 32768 },
  "r5.2xlarge": { vcpus: 8, memoryMiB: 65536 },
};

function modifyInstanceAttribute(ctx: OpContext, input: ModifyInstanceAttributeCommandInput): object {
  const [instance] = lookup("i", ctx.rs.instances, [required(input, "InstanceId")]);
  const newType =
    input.InstanceType?.Value ??
    (input.Attribute === "instanceType" && input.Value ? input.Value : undefined);
  const others = Object.keys(input).filter(
    (k) => !["InstanceId", "InstanceType", "Attribute", "Value", "DryRun"].includes(k),
  );
  if (newType === undefined || others.length > 0 || (input.Attribute && input.Attribute !== "instanceType")) {
    throw new CloudApiError(
      "UnsupportedOperation",
      "The simulated cloud supports ModifyInstanceAttribute for InstanceType only",
    );
  }
  if (!INSTANCE_TYPES[newType]) {
    throw new CloudApiError("InvalidInstanceAttributeValue", `Invalid value '${newType}' for instanceType.`);
  }
  if (instance.state !== "stopped") {
    throw new CloudApiError(
      "IncorrectInstanceState",
      `The instance '${instance.id}' is not in the 'stopped' state.`,
    );
  }
  instance.instanceType = newType;
  return {};
}

function describeInstanceTypes(
  _ctx: OpContext,
  input: DescribeInstanceTypesCommandInput,
): Output<DescribeInstanceTypesCommandOutput> {
  const requested = input.InstanceTypes ?? [];
  const unknown = requested.filter((t) => !INSTANCE_TYPES[t]);
  if (unknown.length) {
    throw new CloudApiError(
      "InvalidInstanceType",
      `The following supplied instance types do not exist: [${unknown.join(", ")}]`,
    );
  }
  noIdsWithMaxResults(input.InstanceTypes, input.MaxResults, "instanceTypeSet");
  const names = requested.length ? requested : Object.keys(INSTANCE_TYPES);
  const filtered = applyFilters(
    names,
    input.Filters,
    {
      "instance-type": (n) => [n],
      "vcpu-info.default-vcpus": (n) => [String(INSTANCE_TYPES[n].vcpus)],
      "memory-info.size-in-mib": (n) => [String(INSTANCE_TYPES[n].memoryMiB)],
    },
    () => [],
  );
  const { page, nextToken } = requested.length
    ? { page: filtered, nextToken: undefined }
    : paginate(filtered, {
        ...PAGE,
        operation: "DescribeInstanceTypes",
        maxResults: input.MaxResults,
        nextToken: input.NextToken,
        defaultPageSize: 100,
        min: 5,
        max: 100,
      });
  return {
    InstanceTypes: page.map(
      (n): InstanceTypeInfo => ({
        InstanceType: n as InstanceTypeInfo["InstanceType"],
        CurrentGeneration: true,
        VCpuInfo: { DefaultVCpus: INSTANCE_TYPES[n].vcpus },
        MemoryInfo: { SizeInMiB: INSTANCE_TYPES[n].memoryMiB },
      }),
    ),
    NextToken: nextToken,
  };
}

// ---------------------------------------------------------------------------------------
// Volumes and snapshots

function describeVolumes(
  ctx: OpContext,
  input: DescribeVolumesCommandInput,
): Output<DescribeVolumesCommandOutput> {
  let items = input.VolumeIds?.length ? lookup("vol", ctx.rs.volumes, input.VolumeIds) : ctx.rs.volumes;
  items = applyFilters(
    items,
    input.Filters,
    {
      "volume-id": (v) => [v.id],
      "attachment.instance-id": (v) => [v.attachment?.instanceId],
      "attachment.device": (v) => [v.attachment?.device],
      "attachment.status": (v) => [
        v.attachment
          ? v.detaching
            ? "detaching"
            : v.attachment.readyAt !== undefined
              ? "attaching"
              : "attached"
          : undefined,
      ],
      "attachment.delete-on-termination": (v) => [
        v.attachment ? String(v.attachment.deleteOnTermination) : undefined,
      ],
      status: (v) => [v.creating ? "creating" : v.attachment ? "in-use" : "available"],
      "availability-zone": (v) => [v.az],
      size: (v) => [String(v.size)],
      "volume-type": (v) => [v.volumeType ?? "gp3"],
      "snapshot-id": (v) => [v.snapshotId],
    },
    (v) => v.tags,
  );
  // Unlike DescribeInstances, ids and MaxResults may be combined here.
  const { page, nextToken } =
    input.VolumeIds?.length && input.MaxResults === undefined
      ? { page: items, nextToken: undefined }
      : paginate(items, {
          ...PAGE,
          operation: "DescribeVolumes",
          maxResults: input.MaxResults,
          nextToken: input.NextToken,
          defaultPageSize: ctx.settings.pageSize,
          min: 5,
          max: 500,
        });
  return { Volumes: page.map(shapeVolume), NextToken: nextToken };
}

function describeSnapshots(
  ctx: OpContext,
  input: DescribeSnapshotsCommandInput,
): Output<DescribeSnapshotsCommandOutput> {
  let items = input.SnapshotIds?.length
    ? lookup("snap", ctx.rs.snapshots, input.SnapshotIds)
    : ctx.rs.snapshots;
  if (input.OwnerIds?.length) {
    const owners = input.OwnerIds.map((o) => (o === "self" ? ctx.state.accountId : o));
    items = items.filter((s) => owners.includes(s.ownerId));
  }
  const { now } = ctx;
  const duration = ctx.settings.snapshotDurationMs;
  items = applyFilters(
    items,
    input.Filters,
    {
      "snapshot-id": (s) => [s.id],
      "volume-id": (s) => [s.volumeId],
      "volume-size": (s) => [String(s.volumeSize)],
      status: (s) => [snapshotStatus(s, now, duration).state],
      progress: (s) => [snapshotStatus(s, now, duration).progress],
      "owner-id": (s) => [s.ownerId],
      description: (s) => [s.description],
      "start-time": (s) => [new Date(s.startTime).toISOString()],
      encrypted: () => ["false"],
      "storage-tier": () => ["standard"],
    },
    (s) => s.tags,
  );
  const { page, nextToken } =
    input.SnapshotIds?.length && input.MaxResults === undefined
      ? { page: items, nextToken: undefined }
      : paginate(items, {
          ...PAGE,
          operation: "DescribeSnapshots",
          maxResults: input.MaxResults,
          nextToken: input.NextToken,
          defaultPageSize: ctx.settings.pageSize,
          min: 5,
          max: 1000,
        });
  return { Snapshots: page.map((s) => shapeSnapshot(s, now, duration)), NextToken: nextToken };
}

function createSnapshot(
  ctx: OpContext,
  input: CreateSnapshotCommandInput,
): Output<CreateSnapshotCommandOutput> {
  const [volume] = lookup("vol", ctx.rs.volumes, [required(input, "VolumeId")]);
  const tags = tagsFromSpecifications(input.TagSpecifications, "snapshot");
  const snapshot: SnapshotRecord = {
    id: newId(ctx.state, "snap"),
    volumeId: volume.id,
    volumeSize: volume.size,
    state: "pending",
    startTime: ctx.now,
    description: input.Description ?? "",
    ownerId: ctx.state.accountId,
    tags,
    marker: volumeMarker(volume),
  };
  ctx.rs.snapshots.push(snapshot);
  return shapeSnapshot(snapshot, ctx.now, ctx.settings.snapshotDurationMs);
}

function deleteSnapshot(ctx: OpContext, input: DeleteSnapshotCommandInput): object {
  const [snapshot] = lookup("snap", ctx.rs.snapshots, [required(input, "SnapshotId")]);
  ctx.rs.snapshots = ctx.rs.snapshots.filter((s) => s !== snapshot);
  return {};
}

/**
 * Called on a client in the destination region. Unlike AWS (which gives copies an
 * arbitrary VolumeId, `vol-ffffffff`), the copy keeps the source's VolumeId, so a DR
 * copy can be traced back to the volume it protects without reading tags.
 */
function copySnapshot(ctx: OpContext, input: CopySnapshotCommandInput): Output<CopySnapshotCommandOutput> {
  const sourceRegion = required(input, "SourceRegion");
  const sourceId = required(input, "SourceSnapshotId");
  const [source] = lookup("snap", regionState(ctx.state, sourceRegion).snapshots, [sourceId]);
  const status = snapshotStatus(source, ctx.now, ctx.settings.snapshotDurationMs).state;
  if (status !== "completed") {
    throw new CloudApiError(
      "IncorrectState",
      `Snapshot '${sourceId}' is not in the 'completed' state (it is ${status}).`,
    );
  }
  const tags = tagsFromSpecifications(input.TagSpecifications, "snapshot");
  const copy: SnapshotRecord = {
    id: newId(ctx.state, "snap"),
    volumeId: source.volumeId,
    volumeSize: source.volumeSize,
    state: "pending",
    startTime: ctx.now,
    description: input.Description ?? `[Copied ${sourceId} from ${sourceRegion}]`,
    ownerId: ctx.state.accountId,
    tags,
    copiedFrom: { region: sourceRegion, snapshotId: sourceId },
    ...(source.marker ? { marker: source.marker } : {}),
  };
  ctx.rs.snapshots.push(copy);
  return { SnapshotId: copy.id, Tags: sdkTags(copy.tags) };
}

// ---------------------------------------------------------------------------------------
// Tags

function taggable(ctx: OpContext, ids: string[]): Array<{ tags: TagRecord[] }> {
  return ids.map((id) => {
    const kind = id.startsWith("i-")
      ? "i"
      : id.startsWith("vol-")
        ? "vol"
        : id.startsWith("snap-")
          ? "snap"
          : undefined;
    if (!kind) throw new CloudApiError("InvalidID", `The ID '${id}' is not valid`);
    const items = kind === "i" ? ctx.rs.instances : kind === "vol" ? ctx.rs.volumes : ctx.rs.snapshots;
    return lookup(kind, items as Array<{ id: string; tags: TagRecord[] }>, [id])[0];
  });
}

function createTags(ctx: OpContext, input: CreateTagsCommandInput): object {
  const resources = taggable(ctx, required(input, "Resources"));
  const tags = validateTags(required(input, "Tags"));
  for (const r of resources) {
    const merged = r.tags.map((t) => ({ ...t }));
    upsertTags(merged, tags);
    if (merged.length > TAG_LIMIT) {
      throw new CloudApiError(
        "TagLimitExceeded",
        `The maximum number of tags per resource (${TAG_LIMIT}) was exceeded`,
      );
    }
  }
  for (const r of resources) upsertTags(r.tags, tags);
  return {};
}

/** Removes tags by key; a tag given with a Value is removed only when the value matches, as in EC2. */
function deleteTags(ctx: OpContext, input: DeleteTagsCommandInput): object {
  const resources = taggable(ctx, required(input, "Resources"));
  for (const r of resources) {
    if (!input.Tags) {
      r.tags.splice(0, r.tags.length, ...r.tags.filter((t) => t.Key.startsWith("aws:")));
      continue;
    }
    const kept = r.tags.filter(
      (t) =>
        !must(input.Tags, "input.Tags").some(
          (d) => d.Key === t.Key && (d.Value === undefined || d.Value === t.Value),
        ),
    );
    r.tags.splice(0, r.tags.length, ...kept);
  }
  return {};
}

export const ec2Operations: Record<string, Ec2Operation> = {
  DescribeInstances: describeInstances,
  StopInstances: stopInstances,
  StartInstances: startInstances,
  RebootInstances: rebootInstances,
  TerminateInstances: terminateInstances,
  ModifyInstanceAttribute: modifyInstanceAttribute,
  DescribeInstanceTypes: describeInstanceTypes,
  DescribeVolumes: describeVolumes,
  DescribeSnapshots: describeSnapshots,
  CreateSnapshot: createSnapshot,
  DeleteSnapshot: deleteSnapshot,
  CopySnapshot: copySnapshot,
  CreateTags: createTags,
  DeleteTags: deleteTags,
};
