/**
 * Application Auto Scaling, as scaling needs it (`@aws-sdk/client-application-auto-scaling`,
 * awsJson1_1): scalable targets of ECS services, DynamoDB tables and indexes, Aurora replicas
 * and Lambda provisioned concurrency — DescribeScalableTargets, RegisterScalableTarget (a new
 * target, or new bounds for one), DescribeScalingActivities and ListTagsForResource.
 *
 * As in AWS, new bounds that leave the resource's current capacity outside them move it inside
 * (an activity records why): an ECS service's desired count (a rollout, see ecs.ts), a Lambda
 * alias's provisioned concurrency (see lambda.ts), or the capacity this model keeps for the
 * other resources (DynamoDB read/write units, the Aurora replica count).
 */
import type { ScalableTarget, ScalingActivity } from "@aws-sdk/client-application-auto-scaling";
import { CloudApiError } from "./api-error.ts";
import { serviceForResource, setDesiredCount } from "./ecs.ts";
import type { OpContext, OpInput } from "./fleet.ts";
import { provisionedFor, requestProvisioned } from "./lambda.ts";
import type { TagRecord } from "./model.ts";

export const NAMESPACES = ["ecs", "dynamodb", "rds", "lambda"] as const;
export type Namespace = (typeof NAMESPACES)[number];

export interface ScalableTargetRecord {
  namespace: Namespace;
  resourceId: string;
  dimension: string;
  min: number;
  max: number;
  createdAt: number;
  /** The last part of the target's ARN (`scalable-target/<id>`). */
  id: string;
  tags: TagRecord[];
  /** DynamoDB units or Aurora replicas now (ECS and Lambda keep theirs in their own model). */
  capacity?: number;
}

export interface ScalingState {
  targets: ScalableTargetRecord[];
  activities: Array<{
    id: string;
    namespace: Namespace;
    resourceId: string;
    dimension: string;
    description: string;
    cause: string;
    at: number;
  }>;
  /** Counted ids (the seed's PRNG stays untouched). */
  next: number;
}

/** Which dimensions each namespace has (a subset of AWS's list: the ones Reflex scales). */
const DIMENSIONS: Record<Namespace, RegExp> = {
  ecs: /^ecs:service:DesiredCount$/,
  dynamodb: /^dynamodb:(table|index):(Read|Write)CapacityUnits$/,
  rds: /^rds:cluster:ReadReplicaCount$/,
  lambda: /^lambda:function:ProvisionedConcurrency$/,
};

export function scalingState(ctx: OpContext): ScalingState {
  ctx.rs.scaling ??= { targets: [], activities: [], next: 1 };
  return ctx.rs.scaling;
}

export const targetArn = (ctx: OpContext, t: ScalableTargetRecord) =>
  `arn:aws:application-autoscaling:${ctx.region}:${ctx.state.accountId}:scalable-target/${t.id}`;

function namespaceOf(value: unknown): Namespace {
  if (!(NAMESPACES as readonly unknown[]).includes(value))
    throw new CloudApiError(
      "ValidationException",
      `1 validation error detected: Value '${String(value)}' at 'serviceNamespace' failed to satisfy constraint: Member must satisfy enum value set: [${NAMESPACES.join(", ")}]`,
    );
  return value as Namespace;
}

/** The resource's capacity now, wherever its model keeps it. */
export function currentCapacity(ctx: OpContext, t: ScalableTargetRecord): number | undefined {
  if (t.namespace === "ecs") return serviceForResource(ctx, t.resourceId)?.primary.desiredCount;
  if (t.namespace === "lambda") {
    const m = /^function:([^:]+):(.+)$/.exec(t.resourceId);
    return m ? (provisionedFor(ctx, m[1], m[2])?.requested ?? 0) : undefined;
  }
  return t.capacity;
}

function setCapacity(ctx: OpContext, t: ScalableTargetRecord, capacity: number, cause: string): void {
  if (t.namespace === "ecs") {
    const s = serviceForResource(ctx, t.resourceId);
    if (s) setDesiredCount(ctx, s, capacity, "Application Auto Scaling");
  } else if (t.namespace === "lambda") {
    const m = /^function:([^:]+):(.+)$/.exec(t.resourceId);
    if (m) requestProvisioned(ctx, m[1], m[2], capacity);
  } else t.capacity = capacity;
  const st = scalingState(ctx);
  st.activities.push({
    id: `activity-${String(st.next++).padStart(8, "0")}`,
    namespace: t.namespace,
    resourceId: t.resourceId,
    dimension: t.dimension,
    description: `Setting ${t.dimension.split(":").pop()} to ${capacity}.`,
    cause,
    at: ctx.now,
  });
}

function shapeTarget(ctx: OpContext, t: ScalableTargetRecord): ScalableTarget {
  return {
    ServiceNamespace: t.namespace,
    ResourceId: t.resourceId,
    ScalableDimension: t.dimension as ScalableTarget["ScalableDimension"],
    MinCapacity: t.min,
    MaxCapacity: t.max,
    RoleARN: `arn:aws:iam::${ctx.state.accountId}:role/aws-service-role/${t.namespace}.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_${t.namespace}`,
    CreationTime: new Date(t.createdAt),
    SuspendedState: {
      DynamicScalingInSuspended: false,
      DynamicScalingOutSuspended: false,
      ScheduledScalingSuspended: false,
    },
    ScalableTargetARN: targetArn(ctx, t),
  };
}

function describeScalableTargets(
  ctx: OpContext,
  input: { ServiceNamespace?: string; ResourceIds?: string[]; ScalableDimension?: string },
) {
  const ns = namespaceOf(input.ServiceNamespace);
  const targets = scalingState(ctx).targets.filter(
    (t) =>
      t.namespace === ns &&
      (!input.ResourceIds?.length || input.ResourceIds.includes(t.resourceId)) &&
      (!input.ScalableDimension || t.dimension === input.ScalableDimension),
  );
  return { ScalableTargets: targets.map((t) => shapeTarget(ctx, t)) };
}

/** Registers a target, or updates an existing one's bounds (and moves its capacity inside them). */
export function registerScalableTarget(
  ctx: OpContext,
  input: {
    ServiceNamespace?: string;
    ResourceId?: string;
    ScalableDimension?: string;
    MinCapacity?: number;
    MaxCapacity?: number;
    Tags?: Record<string, string>;
  },
) {
  const ns = namespaceOf(input.ServiceNamespace);
  const resourceId = String(input.ResourceId ?? "");
  const dimension = String(input.ScalableDimension ?? "");
  if (!DIMENSIONS[ns].test(dimension))
    throw new CloudApiError("ValidationException", `Unsupported scalable dimension '${dimension}' for ${ns}`);
  for (const [k, v] of [
    ["MinCapacity", input.MinCapacity],
    ["MaxCapacity", input.MaxCapacity],
  ] as const)
    if (v !== undefined && (!Number.isInteger(v) || v < 0))
      throw new CloudApiError("ValidationException", `${k} must be a non-negative integer`);
  const st = scalingState(ctx);
  let t = st.targets.find(
    (x) => x.namespace === ns && x.resourceId === resourceId && x.dimension === dimension,
  );
  if (!t) {
    if (input.MinCapacity === undefined || input.MaxCapacity === undefined)
      throw new CloudApiError(
        "ValidationException",
        "MinCapacity and MaxCapacity are required when registering a new scalable target",
      );
    if (ns === "ecs" && !serviceForResource(ctx, resourceId))
      throw new CloudApiError("ValidationException", `ECS service doesn't exist: ${resourceId}`);
    t = {
      namespace: ns,
      resourceId,
      dimension,
      min: input.MinCapacity,
      max: input.MaxCapacity,
      createdAt: ctx.now,
      id: String(st.next++).padStart(32, "0"),
      tags: Object.entries(input.Tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
    };
    if (t.min > t.max)
      throw new CloudApiError(
        "ValidationException",
        "Minimum capacity cannot be greater than maximum capacity",
      );
    st.targets.push(t);
    return { ScalableTargetARN: targetArn(ctx, t) };
  }
  const min = input.MinCapacity ?? t.min;
  const max = input.MaxCapacity ?? t.max;
  if (min > max)
    throw new CloudApiError(
      "ValidationException",
      "Minimum capacity cannot be greater than maximum capacity",
    );
  t.min = min;
  t.max = max;
  const now = currentCapacity(ctx, t);
  if (now !== undefined && now < min)
    setCapacity(ctx, t, min, `minimum capacity was set to ${min} (from ${now})`);
  else if (now !== undefined && now > max)
    setCapacity(ctx, t, max, `maximum capacity was set to ${max} (from ${now})`);
  return { ScalableTargetARN: targetArn(ctx, t) };
}

function describeScalingActivities(
  ctx: OpContext,
  input: { ServiceNamespace?: string; ResourceId?: string; ScalableDimension?: string },
) {
  const ns = namespaceOf(input.ServiceNamespace);
  const activities: ScalingActivity[] = scalingState(ctx)
    .activities.filter(
      (a) =>
        a.namespace === ns &&
        (!input.ResourceId || a.resourceId === input.ResourceId) &&
        (!input.ScalableDimension || a.dimension === input.ScalableDimension),
    )
    .reverse()
    .map((a) => ({
      ActivityId: a.id,
      ServiceNamespace: a.namespace,
      ResourceId: a.resourceId,
      ScalableDimension: a.dimension as ScalingActivity["ScalableDimension"],
      Description: a.description,
      Cause: a.cause,
      StartTime: new Date(a.at),
      EndTime: new Date(a.at),
      StatusCode: "Successful",
    }));
  return { ScalingActivities: activities };
}

function listTagsForResource(ctx: OpContext, input: { ResourceARN?: string }) {
  const t = scalingState(ctx).targets.find((x) => targetArn(ctx, x) === input.ResourceARN);
  if (!t) throw new CloudApiError("ResourceNotFoundException", `No scalable target ${input.ResourceARN}`);
  return { Tags: Object.fromEntries(t.tags.map((x) => [x.Key, x.Value])) };
}

export const applicationAutoScalingOperations: Record<string, (ctx: OpContext, input: OpInput) => object> = {
  DescribeScalableTargets: describeScalableTargets,
  RegisterScalableTarget: registerScalableTarget,
  DescribeScalingActivities: describeScalingActivities,
  ListTagsForResource: listTagsForResource,
};
