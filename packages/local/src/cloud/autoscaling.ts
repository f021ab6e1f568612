/**
 * The simulated Auto Scaling API. Groups own EC2 instances in the same region: when the
 * desired capacity changes, instances are launched (tagged as Auto Scaling tags them: the
 * group's propagated tags and `aws:autoscaling:groupName`, no `Name`) or terminated at once.
 * As in AWS, new capacity is `Pending` (EC2 `pending`) for a while — `capacityLaunchMs`,
 * compressed from AWS's minute or more — before it is `InService` (`running`).
 *
 * Scale-in chooses the instances to terminate by the group's termination policies
 * ({@link chooseVictim}), as Auto Scaling does: first the Availability Zone with the most
 * instances, then the policies in order. Scale-out fills the zone with the fewest instances.
 */
import type {
  Activity,
  AutoScalingGroup,
  AutoScalingInstanceDetails,
  CreateOrUpdateTagsCommandInput,
  DeleteTagsCommandInput,
  DescribeAutoScalingGroupsCommandInput,
  DescribeAutoScalingGroupsCommandOutput,
  DescribeAutoScalingInstancesCommandInput,
  DescribeAutoScalingInstancesCommandOutput,
  Instance as GroupInstance,
  SetDesiredCapacityCommandInput,
  TerminateInstanceInAutoScalingGroupCommandInput,
  TerminateInstanceInAutoScalingGroupCommandOutput,
  UpdateAutoScalingGroupCommandInput,
} from "@aws-sdk/client-auto-scaling";
import { must } from "@reflex/core";
import { CloudApiError } from "./api-error.ts";
import { beginTransition, launchInstance, type OpContext, type OpInput } from "./fleet.ts";
import { type GroupRecord, HOUR_MS, type InstanceRecord, newUuid, type TagRecord } from "./model.ts";
import { applyFilters, paginate } from "./query.ts";

type Output<T> = Omit<T, "$metadata">;
export type AutoScalingOperation = (ctx: OpContext, input: OpInput) => object;

// ---------------------------------------------------------------------------------------
// Shapes

function lifecycleState(i: InstanceRecord): GroupInstance["LifecycleState"] {
  if (i.state === "pending") return "Pending";
  if (i.state === "shutting-down" || i.state === "terminated") return "Terminating";
  return "InService";
}

function healthStatus(i: InstanceRecord): string {
  // A stopped member fails the EC2 health check. (The simulation does not replace it.)
  return i.state === "running" || i.state === "pending" ? "Healthy" : "Unhealthy";
}

function members(ctx: OpContext, g: GroupRecord): InstanceRecord[] {
  return g.instanceIds.map((id) => ctx.rs.instances.find((i) => i.id === id)).filter((i) => i !== undefined);
}

function groupArn(region: string, accountId: string, g: GroupRecord): string {
  return `arn:aws:autoscaling:${region}:${accountId}:autoScalingGroup:${g.arnId}:autoScalingGroupName/${g.name}`;
}

function launchTemplate(g: GroupRecord) {
  return {
    LaunchTemplateId: g.launchTemplateId,
    LaunchTemplateName: `${g.name}-template`,
    Version: "$Default",
  };
}

export function shapeGroup(ctx: OpContext, g: GroupRecord): AutoScalingGroup {
  return {
    AutoScalingGroupName: g.name,
    AutoScalingGroupARN: groupArn(ctx.region, ctx.state.accountId, g),
    LaunchTemplate: launchTemplate(g),
    MinSize: g.minSize,
    MaxSize: g.maxSize,
    DesiredCapacity: g.desiredCapacity,
    DefaultCooldown: 300,
    AvailabilityZones: [...g.availabilityZones],
    LoadBalancerNames: [],
    TargetGroupARNs: [],
    HealthCheckType: "EC2",
    HealthCheckGracePeriod: 300,
    Instances: members(ctx, g).map((i) => ({
      InstanceId: i.id,
      InstanceType: i.instanceType,
      AvailabilityZone: i.az,
      LifecycleState: lifecycleState(i),
      HealthStatus: healthStatus(i),
      LaunchTemplate: launchTemplate(g),
      ProtectedFromScaleIn: false,
    })),
    CreatedTime: new Date(g.createdTime),
    SuspendedProcesses: [],
    EnabledMetrics: [],
    Tags: g.tags.map((t) => ({
      ResourceId: g.name,
      ResourceType: "auto-scaling-group",
      Key: t.Key,
      Value: t.Value,
      PropagateAtLaunch: t.PropagateAtLaunch,
    })),
    TerminationPolicies: [...(g.terminationPolicies ?? ["Default"])],
    NewInstancesProtectedFromScaleIn: false,
    ServiceLinkedRoleARN: `arn:aws:iam::${ctx.state.accountId}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`,
  };
}

// ---------------------------------------------------------------------------------------
// Capacity

/** The tags a new member gets: the group's propagated tags and Auto Scaling's own (no Name, as in AWS). */
function launchTags(g: GroupRecord): TagRecord[] {
  const tags: TagRecord[] = [];
  for (const t of g.tags) {
    if (!t.PropagateAtLaunch) continue;
    const existing = tags.find((x) => x.Key === t.Key);
    if (existing) existing.Value = t.Value;
    else tags.push({ Key: t.Key, Value: t.Value });
  }
  tags.push({ Key: "aws:autoscaling:groupName", Value: g.name });
  return tags;
}

function countByZone(g: GroupRecord, live: InstanceRecord[]): Map<string, InstanceRecord[]> {
  const byZone = new Map<string, InstanceRecord[]>(g.availabilityZones.map((z) => [z, []]));
  for (const i of live) {
    if (!byZone.has(i.az)) byZone.set(i.az, []);
    must(byZone.get(i.az), "byZone.get(i.az)").push(i);
  }
  return byZone;
}

/**
 * Launches or terminates members until the group has `desiredCapacity` of them.
 * `state` is the state new members start in (`pending`, or `running` for seeded groups).
 */
export function reconcileGroup(
  ctx: OpContext,
  g: GroupRecord,
  state: "pending" | "running" = "pending",
): void {
  let live = members(ctx, g);
  while (live.length < g.desiredCapacity) {
    const byZone = countByZone(g, live);
    const az = g.availabilityZones.reduce((best, z) =>
      (byZone.get(z)?.length ?? 0) < (byZone.get(best)?.length ?? 0) ? z : best,
    );
    g.launched += 1;
    const instance = launchInstance(ctx, {
      instanceType: g.instanceType,
      imageId: g.imageId,
      az,
      tags: launchTags(g),
      volumeSizes: [g.rootVolumeSize],
      state,
      group: g.name,
      pendingMs: ctx.settings.capacityLaunchMs,
    });
    g.instanceIds.push(instance.id);
    live = members(ctx, g);
  }
  while (live.length > g.desiredCapacity) {
    terminateMember(ctx, g, chooseVictim(ctx, g, live));
    live = members(ctx, g);
  }
}

/** The termination policies Auto Scaling knows; the simulation applies all but AllocationStrategy (no mixed instances). */
export const TERMINATION_POLICIES = [
  "Default",
  "OldestInstance",
  "NewestInstance",
  "OldestLaunchConfiguration",
  "OldestLaunchTemplate",
  "ClosestToNextInstanceHour",
  "AllocationStrategy",
] as const;

/**
 * The member scale-in terminates, as Auto Scaling chooses it
 * (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-termination-policies.html):
 * the Availability Zone with the most instances first; there, each policy in order narrows the
 * candidates, and `Default` (also what follows the last policy) is: oldest launch template
 * (every member here has the group's one), then closest to the next billing hour, then a
 * random one — the lowest instance id here, so runs repeat.
 */
export function chooseVictim(ctx: OpContext, g: GroupRecord, live: InstanceRecord[]): InstanceRecord {
  const byZone = countByZone(g, live);
  let candidates: InstanceRecord[] = [];
  for (const list of byZone.values()) if (list.length > candidates.length) candidates = list;
  const keep = (pick: (i: InstanceRecord) => number) => {
    const best = Math.min(...candidates.map(pick));
    candidates = candidates.filter((i) => pick(i) === best);
  };
  const toNextHour = (i: InstanceRecord) => HOUR_MS - ((ctx.now - i.launchTime) % HOUR_MS);
  for (const policy of [...(g.terminationPolicies ?? ["Default"]), "Default"]) {
    if (candidates.length === 1) break;
    if (policy === "OldestInstance") keep((i) => i.launchTime);
    else if (policy === "NewestInstance") keep((i) => -i.launchTime);
    else if (policy === "ClosestToNextInstanceHour") keep(toNextHour);
    else if (policy === "Default") {
      keep(toNextHour);
      break;
    }
  }
  return candidates.reduce((a, b) => (a.id < b.id ? a : b));
}

function terminateMember(ctx: OpContext, g: GroupRecord, instance: InstanceRecord): void {
  g.instanceIds = g.instanceIds.filter((id) => id !== instance.id);
  instance.group = undefined;
  if (instance.state !== "terminated" && instance.state !== "shutting-down") {
    beginTransition(ctx, instance, "shutting-down", "terminated");
  }
}

// ---------------------------------------------------------------------------------------
// Operations

function validation(message: string): CloudApiError {
  return new CloudApiError("ValidationError", message);
}

function required<I extends object, K extends keyof I & string>(input: I, name: K): NonNullable<I[K]> {
  const v = input[name];
  if (v === undefined || v === null || v === "") {
    throw validation(
      `1 validation error detected: Value null at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v as NonNullable<I[K]>;
}

function findGroup(ctx: OpContext, name: string): GroupRecord {
  const g = ctx.rs.groups.find((x) => x.name === name);
  if (!g) throw validation(`AutoScalingGroup name not found - AutoScalingGroup ${name} not found`);
  return g;
}

function describeAutoScalingGroups(
  ctx: OpContext,
  input: DescribeAutoScalingGroupsCommandInput,
): Output<DescribeAutoScalingGroupsCommandOutput> {
  // Unknown names are left out, not an error, as in AWS.
  let groups = input.AutoScalingGroupNames?.length
    ? ctx.rs.groups.filter((g) =>
        must(input.AutoScalingGroupNames, "input.AutoScalingGroupNames").includes(g.name),
      )
    : ctx.rs.groups;
  groups = applyFilters(groups, input.Filters, {}, (g) => g.tags, {
    wildcards: false,
    errorCode: "ValidationError",
  });
  const { page, nextToken } = paginate(groups, {
    operation: "DescribeAutoScalingGroups",
    maxResults: input.MaxRecords,
    nextToken: input.NextToken,
    defaultPageSize: 50,
    min: 1,
    max: 100,
    parameter: "MaxRecords",
    badTokenCode: "InvalidNextToken",
    badValueCode: "ValidationError",
  });
  return { AutoScalingGroups: page.map((g) => shapeGroup(ctx, g)), NextToken: nextToken };
}

function describeAutoScalingInstances(
  ctx: OpContext,
  input: DescribeAutoScalingInstancesCommandInput,
): Output<DescribeAutoScalingInstancesCommandOutput> {
  const all: AutoScalingInstanceDetails[] = [];
  for (const g of ctx.rs.groups) {
    for (const i of members(ctx, g)) {
      if (input.InstanceIds?.length && !input.InstanceIds.includes(i.id)) continue;
      all.push({
        InstanceId: i.id,
        InstanceType: i.instanceType,
        AutoScalingGroupName: g.name,
        AvailabilityZone: i.az,
        LifecycleState: lifecycleState(i),
        HealthStatus: healthStatus(i).toUpperCase(),
        LaunchTemplate: launchTemplate(g),
        ProtectedFromScaleIn: false,
      });
    }
  }
  const { page, nextToken } = paginate(all, {
    operation: "DescribeAutoScalingInstances",
    maxResults: input.MaxRecords,
    nextToken: input.NextToken,
    defaultPageSize: 50,
    min: 1,
    max: 50,
    parameter: "MaxRecords",
    badTokenCode: "InvalidNextToken",
    badValueCode: "ValidationError",
  });
  return { AutoScalingInstances: page, NextToken: nextToken };
}

function setDesiredCapacity(ctx: OpContext, input: SetDesiredCapacityCommandInput): object {
  const g = findGroup(ctx, required(input, "AutoScalingGroupName"));
  const desired = required(input, "DesiredCapacity");
  if (desired > g.maxSize) {
    throw validation(
      `New SetDesiredCapacity value ${desired} is above max value ${g.maxSize} for the AutoScalingGroup.`,
    );
  }
  if (desired < g.minSize) {
    throw validation(
      `New SetDesiredCapacity value ${desired} is below min value ${g.minSize} for the AutoScalingGroup.`,
    );
  }
  g.desiredCapacity = desired;
  reconcileGroup(ctx, g);
  return {};
}

function updateAutoScalingGroup(ctx: OpContext, input: UpdateAutoScalingGroupCommandInput): object {
  const g = findGroup(ctx, required(input, "AutoScalingGroupName"));
  const min = input.MinSize ?? g.minSize;
  const max = input.MaxSize ?? g.maxSize;
  if (min < 0 || max < 0) throw validation("MinSize and MaxSize must be zero or greater");
  if (max < min) throw validation(`Max bound, ${max}, must be greater than or equal to min bound, ${min}`);
  // Without an explicit desired capacity AWS pulls the current one into the new bounds.
  const desired = input.DesiredCapacity ?? Math.min(max, Math.max(min, g.desiredCapacity));
  if (desired < min || desired > max) {
    throw validation(
      `Desired capacity:${desired} must be between the specified min size:${min} and max size:${max}`,
    );
  }
  if (input.TerminationPolicies) g.terminationPolicies = checkPolicies(input.TerminationPolicies);
  g.minSize = min;
  g.maxSize = max;
  g.desiredCapacity = desired;
  reconcileGroup(ctx, g);
  return {};
}

/** `CreateOrUpdateTags`: each tag is put on its group (`ResourceType` auto-scaling-group), replacing one of the same key. */
function createOrUpdateTags(ctx: OpContext, input: CreateOrUpdateTagsCommandInput): object {
  for (const t of required(input, "Tags")) {
    if (t.ResourceType !== "auto-scaling-group") throw validation("ResourceType must be auto-scaling-group");
    if (!t.Key) throw validation("Tag key must not be empty");
    const g = findGroup(ctx, required(t, "ResourceId"));
    const tag = { Key: t.Key, Value: t.Value ?? "", PropagateAtLaunch: t.PropagateAtLaunch ?? false };
    const at = g.tags.findIndex((x) => x.Key === t.Key);
    if (at >= 0) g.tags[at] = tag;
    else g.tags.push(tag);
  }
  return {};
}

/** `DeleteTags`: removes each named tag from its group (a missing one is no error). */
function deleteTags(ctx: OpContext, input: DeleteTagsCommandInput): object {
  for (const t of required(input, "Tags")) {
    const g = findGroup(ctx, required(t, "ResourceId"));
    g.tags = g.tags.filter((x) => x.Key !== t.Key);
  }
  return {};
}

function checkPolicies(policies: string[]): string[] {
  for (const p of policies)
    if (!(TERMINATION_POLICIES as readonly string[]).includes(p) && !p.startsWith("arn:aws:lambda:"))
      throw validation(`Termination policy ${p} is invalid.`);
  return [...policies];
}

function terminateInstanceInAutoScalingGroup(
  ctx: OpContext,
  input: TerminateInstanceInAutoScalingGroupCommandInput,
): Output<TerminateInstanceInAutoScalingGroupCommandOutput> {
  const instanceId = required(input, "InstanceId");
  const decrement = required(input, "ShouldDecrementDesiredCapacity");
  const g = ctx.rs.groups.find((x) => x.instanceIds.includes(instanceId));
  const instance = ctx.rs.instances.find((i) => i.id === instanceId);
  if (!g || !instance)
    throw validation(`Instance Id not found - No managed instance found for instance ID: ${instanceId}`);
  if (decrement && g.desiredCapacity - 1 < g.minSize) {
    throw validation(
      `Currently, desiredSize equals minSize (${g.minSize}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.`,
    );
  }
  terminateMember(ctx, g, instance);
  if (decrement) g.desiredCapacity -= 1;
  reconcileGroup(ctx, g);
  const activity: Activity = {
    ActivityId: newUuid(ctx.state),
    AutoScalingGroupName: g.name,
    Description: `Terminating EC2 instance: ${instanceId}`,
    Cause: `At ${new Date(ctx.now).toISOString()} instance ${instanceId} was taken out of service in response to a user request${decrement ? ", shrinking the capacity" : ""}.`,
    StartTime: new Date(ctx.now),
    StatusCode: "InProgress",
    Progress: 0,
  };
  return { Activity: activity };
}

export const autoScalingOperations: Record<string, AutoScalingOperation> = {
  DescribeAutoScalingGroups: describeAutoScalingGroups,
  DescribeAutoScalingInstances: describeAutoScalingInstances,
  SetDesiredCapacity: setDesiredCapacity,
  UpdateAutoScalingGroup: updateAutoScalingGroup,
  TerminateInstanceInAutoScalingGroup: terminateInstanceInAutoScalingGroup,
  CreateOrUpdateTags: createOrUpdateTags,
  DeleteTags: deleteTags,
};
