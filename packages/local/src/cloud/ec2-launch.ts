/**
 * Launching instances (RunInstances) into subnets (DescribeSubnets), as a side-by-side restore
 * needs: a new instance from an AMI in a chosen subnet with chosen security groups, tagged on
 * create (the instance and the root volume it launches with), a public address only where the
 * subnet maps one or the caller asks, `pending` then `running`, and status checks
 * `initializing` then `ok` after each start (fleet.ts, patching.ts).
 *
 * Every zone has a default subnet, derived from the zone (model.ts `defaultSubnet`) so the
 * seed's ids never move; it maps public addresses on launch, as AWS's default subnets do.
 * Other subnets are added by tests and demos (`cloud.addSubnet`) and map none.
 * The AMI is not modelled: any well-formed id launches the simulated Linux image.
 */
import { CloudApiError } from "./api-error.ts";
import { shapeInstance, tagsFromSpecifications } from "./ec2.ts";
import { launchInstance, type OpContext, type OpInput } from "./fleet.ts";
import { availabilityZones, defaultSubnet, newId, type SubnetRecord, upsertTags } from "./model.ts";
import { patching } from "./patching.ts";
import { applyFilters } from "./query.ts";

type Op = (ctx: OpContext, input: OpInput) => object;

/** Every subnet of the region: each zone's default one, then those added. */
export function subnets(ctx: OpContext): SubnetRecord[] {
  const defaults = availabilityZones(ctx.region).map((az) => {
    const d = defaultSubnet(ctx.region, az);
    return { id: d.id, az, vpcId: d.vpcId, mapPublicIpOnLaunch: true, tags: [] };
  });
  return [...defaults, ...(ctx.rs.subnets ?? [])];
}

function subnetNamed(ctx: OpContext, id: string): SubnetRecord {
  const s = subnets(ctx).find((x) => x.id === id);
  if (!s) throw new CloudApiError("InvalidSubnetID.NotFound", `The subnet ID '${id}' does not exist`);
  return s;
}

function publicIp(ctx: OpContext): string {
  const n = ctx.rs.nextIp;
  return `54.${(n >> 8) & 255}.${n & 255}.${(n * 7) % 250}`;
}

const runInstances: Op = (ctx, input) => {
  const imageId: string | undefined = input.ImageId;
  if (!imageId) throw new CloudApiError("MissingParameter", "The request must contain the parameter ImageId");
  if (!/^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(imageId))
    throw new CloudApiError("InvalidAMIID.Malformed", `Invalid id: "${imageId}" (expecting "ami-...")`);
  const min = input.MinCount ?? 1;
  const max = input.MaxCount ?? min;
  if (min < 1 || max < min)
    throw new CloudApiError("InvalidParameterValue", "MinCount and MaxCount must be at least 1, min ≤ max");
  if (input.ClientToken) {
    // Idempotent, as in EC2: the same token answers the launch it made before.
    const earlier = ctx.rs.instances.filter((i) => i.clientToken === input.ClientToken);
    if (earlier.length)
      return {
        ReservationId: earlier[0].reservationId,
        OwnerId: ctx.state.accountId,
        Instances: earlier.map((i) => shapeInstance(ctx.region, i)),
      };
  }
  const nic = (input.NetworkInterfaces ?? [])[0] as
    | { SubnetId?: string; Groups?: string[]; AssociatePublicIpAddress?: boolean; DeviceIndex?: number }
    | undefined;
  if (nic && (input.SubnetId || input.SecurityGroupIds?.length))
    throw new CloudApiError(
      "InvalidParameterCombination",
      "Network interfaces and an instance-level subnet ID or security groups may not be specified on the same request",
    );
  const subnetId: string | undefined = nic?.SubnetId ?? input.SubnetId;
  const zone: string | undefined = input.Placement?.AvailabilityZone;
  const subnet = subnetId
    ? subnetNamed(ctx, subnetId)
    : subnets(ctx).find((s) => s.az === (zone ?? availabilityZones(ctx.region)[0]));
  if (!subnet) throw new CloudApiError("InvalidParameterValue", `Invalid availability zone: [${zone}]`);
  if (zone && zone !== subnet.az)
    throw new CloudApiError(
      "InvalidParameterValue",
      `The subnet '${subnet.id}' is in ${subnet.az}, not the requested zone ${zone}`,
    );
  const groups: string[] = nic?.Groups ?? input.SecurityGroupIds ?? [];
  for (const g of groups)
    if (!/^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(g))
      throw new CloudApiError("InvalidGroup.NotFound", `The security group '${g}' does not exist`);
  const instanceTags = tagsFromSpecifications(
    (input.TagSpecifications ?? []).filter((t: { ResourceType?: string }) => t.ResourceType === "instance"),
    "instance",
  );
  const volumeTags = tagsFromSpecifications(
    (input.TagSpecifications ?? []).filter((t: { ResourceType?: string }) => t.ResourceType === "volume"),
    "volume",
  );
  const other = (input.TagSpecifications ?? []).find(
    (t: { ResourceType?: string }) => t.ResourceType !== "instance" && t.ResourceType !== "volume",
  );
  if (other)
    throw new CloudApiError(
      "InvalidParameterValue",
      `'${other.ResourceType}' is not a valid taggable resource type for this operation.`,
    );
  const wantsPublic: boolean = nic?.AssociatePublicIpAddress ?? subnet.mapPublicIpOnLaunch;
  const launched = Array.from({ length: max }, () => {
    const i = launchInstance(ctx, {
      instanceType: input.InstanceType ?? "m1.small",
      imageId,
      az: subnet.az,
      tags: instanceTags,
      volumeSizes: [8],
      state: "pending",
    });
    i.subnetId = subnet.id;
    if (groups.length) i.securityGroupIds = [...groups];
    if (wantsPublic) i.publicIp = publicIp(ctx);
    const profile = input.IamInstanceProfile?.Arn ?? input.IamInstanceProfile?.Name;
    if (profile) i.iamInstanceProfile = profile;
    if (input.ClientToken) i.clientToken = input.ClientToken;
    i.bootChecks = true;
    for (const d of i.devices) {
      const v = ctx.rs.volumes.find((x) => x.id === d.volumeId);
      if (v) upsertTags(v.tags, volumeTags);
    }
    // The simulated image carries the SSM agent: the instance is a managed node once it runs.
    patching(ctx).nodes[i.id] = { instanceId: i.id, registeredAt: ctx.now, agentVersion: "3.3.1142.0" };
    return i;
  });
  return {
    ReservationId: launched[0].reservationId,
    OwnerId: ctx.state.accountId,
    Instances: launched.map((i) => shapeInstance(ctx.region, i)),
  };
};

const describeSubnets: Op = (ctx, input) => {
  const all = subnets(ctx);
  const ids: string[] | undefined = input.SubnetIds?.length ? input.SubnetIds : undefined;
  let items = ids ? ids.map((id) => subnetNamed(ctx, id)) : all;
  items = applyFilters(
    items,
    input.Filters,
    {
      "subnet-id": (s) => [s.id],
      "availability-zone": (s) => [s.az],
      "vpc-id": (s) => [s.vpcId],
    },
    (s) => s.tags,
  );
  return {
    Subnets: items.map((s) => ({
      SubnetId: s.id,
      AvailabilityZone: s.az,
      VpcId: s.vpcId,
      MapPublicIpOnLaunch: s.mapPublicIpOnLaunch,
      DefaultForAz: !ctx.rs.subnets?.includes(s),
      State: "available",
      Tags: s.tags.length ? s.tags.map((t) => ({ ...t })) : undefined,
    })),
  };
};

/** Adds a subnet to a zone (no public address on launch unless asked): `cloud.addSubnet`. */
export function addSubnet(
  ctx: OpContext,
  spec: { az: string; mapPublicIpOnLaunch?: boolean; tags?: Array<{ Key: string; Value: string }> },
): SubnetRecord {
  if (!availabilityZones(ctx.region).includes(spec.az))
    throw new CloudApiError("InvalidParameterValue", `Invalid availability zone: [${spec.az}]`);
  const s: SubnetRecord = {
    id: newId(ctx.state, "subnet"),
    az: spec.az,
    vpcId: defaultSubnet(ctx.region, spec.az).vpcId,
    mapPublicIpOnLaunch: spec.mapPublicIpOnLaunch ?? false,
    tags: spec.tags ?? [],
  };
  ctx.rs.subnets ??= [];
  ctx.rs.subnets.push(s);
  return s;
}

export const ec2LaunchOperations: Record<string, Op> = {
  RunInstances: runInstances,
  DescribeSubnets: describeSubnets,
};
