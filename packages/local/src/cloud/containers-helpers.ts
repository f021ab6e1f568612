/**
 * Containers and functions in the simulated account: the seed (ECS services, Application Auto
 * Scaling targets, Lambda aliases), the views `reflex cloud` lists, and helpers tests and
 * rehearsals use — add a service, a target or a function, arm a failed rollout, set how long
 * rollouts and provisioning take.
 *
 * The seed (us-east-1), none of it from the PRNG, so the EC2 seed's ids do not move:
 * - ECS cluster `prod`: `api` (4 tasks; a scalable target, min 2, max 10) and `worker` (2 tasks,
 *   no target), both tagged for automation; cluster `staging`: `checkout` (1 task, untagged).
 * - Scalable targets: `service/prod/api`; DynamoDB `table/orders` read units (min 5, max 100, now
 *   10); Aurora `cluster:reports-aurora` replicas (min 1, max 5, now 2); Lambda
 *   `function:checkout:live` (min 0, max 50). DynamoDB `table/sessions` is on-demand: no target.
 * - Lambda: `checkout` (versions 1–3, alias `live` → 3 with 10 provisioned, READY), tagged;
 *   `thumbnailer` (alias `prod` → 1), untagged.
 *
 * @example
 * addEcsService(cloud, { cluster: "prod", name: "web", desiredCount: 3, tags: { "reflex:managed": "true" } });
 * failNextRollouts(cloud, { cluster: "prod", service: "api" });
 */
import { ValidationError } from "@reflex/core/errors";
import {
  currentCapacity,
  type Namespace,
  registerScalableTarget,
  scalingState,
  targetArn,
} from "./application-autoscaling.ts";
import { ecsState, nextDeploymentId, rollout, serviceArn } from "./ecs.ts";
import type { OpContext } from "./fleet.ts";
import type { SimulatedCloud } from "./index.ts";
import { functionArn, lambdaState } from "./lambda.ts";
import { DAY_MS, tagsFromRecord } from "./model.ts";

const MANAGED = { "reflex:managed": "true" };

export interface NewEcsService {
  cluster: string;
  name: string;
  desiredCount: number;
  tags?: Record<string, string>;
  region?: string;
}

function addService(ctx: OpContext, spec: NewEcsService): void {
  const st = ecsState(ctx);
  if (!st.clusters.some((c) => c.name === spec.cluster)) st.clusters.push({ name: spec.cluster, tags: [] });
  if (st.services.some((s) => s.cluster === spec.cluster && s.name === spec.name))
    throw new ValidationError("invalid_service", `service ${spec.cluster}/${spec.name} exists`);
  const at = ctx.now - DAY_MS;
  st.services.push({
    cluster: spec.cluster,
    name: spec.name,
    taskDefinition: `arn:aws:ecs:${ctx.region}:${ctx.state.accountId}:task-definition/${spec.name}:1`,
    launchType: "FARGATE",
    createdAt: at,
    tags: tagsFromRecord(spec.tags),
    primary: {
      id: nextDeploymentId(ctx),
      taskDefinition: `arn:aws:ecs:${ctx.region}:${ctx.state.accountId}:task-definition/${spec.name}:1`,
      desiredCount: spec.desiredCount,
      fromRunning: spec.desiredCount,
      createdAt: at,
      settleAt: at,
      outcome: "COMPLETED",
    },
    events: [],
  });
}

export interface NewScalableTarget {
  namespace: Namespace;
  resourceId: string;
  dimension: string;
  min: number;
  max: number;
  /** DynamoDB units or Aurora replicas now (ECS and Lambda targets read their own model). */
  capacity?: number;
  tags?: Record<string, string>;
  region?: string;
}

function addTarget(ctx: OpContext, spec: NewScalableTarget): void {
  registerScalableTarget(ctx, {
    ServiceNamespace: spec.namespace,
    ResourceId: spec.resourceId,
    ScalableDimension: spec.dimension,
    MinCapacity: spec.min,
    MaxCapacity: spec.max,
    Tags: spec.tags,
  });
  const t = scalingState(ctx).targets.find(
    (x) =>
      x.namespace === spec.namespace && x.resourceId === spec.resourceId && x.dimension === spec.dimension,
  );
  if (t && spec.capacity !== undefined) t.capacity = spec.capacity;
  if (t) t.createdAt = ctx.now - DAY_MS;
}

export interface NewLambdaFunction {
  name: string;
  versions?: number;
  aliases?: Record<string, string>;
  /** Provisioned concurrency already READY, by alias or version. */
  provisioned?: Record<string, number>;
  tags?: Record<string, string>;
  region?: string;
  /** What Invoke answers, in order (see FunctionRecord.answers). */
  answers?: unknown[];
}

function addFunction(ctx: OpContext, spec: NewLambdaFunction): void {
  const st = lambdaState(ctx);
  if (st.functions.some((f) => f.name === spec.name))
    throw new ValidationError("invalid_function", `function ${spec.name} exists`);
  const at = ctx.now - DAY_MS;
  st.functions.push({
    name: spec.name,
    tags: tagsFromRecord(spec.tags),
    versions: spec.versions ?? 1,
    ...(spec.answers ? { answers: [...spec.answers] } : {}),
    aliases: Object.entries(spec.aliases ?? {}).map(([name, version]) => ({ name, version })),
    provisioned: Object.entries(spec.provisioned ?? {}).map(([qualifier, requested]) => ({
      qualifier,
      requested,
      lastModified: at,
      readyAt: at,
      outcome: "READY" as const,
    })),
  });
}

/** The seed's containers and functions (see the header). */
export function seedContainers(ctx: OpContext): void {
  addService(ctx, { cluster: "prod", name: "api", desiredCount: 4, tags: { ...MANAGED, Team: "web" } });
  addService(ctx, { cluster: "prod", name: "worker", desiredCount: 2, tags: { ...MANAGED, Team: "jobs" } });
  addService(ctx, { cluster: "staging", name: "checkout", desiredCount: 1, tags: { Team: "web" } });
  addFunction(ctx, {
    name: "checkout",
    versions: 3,
    aliases: { live: "3" },
    provisioned: { live: 10 },
    tags: { ...MANAGED, Team: "web" },
  });
  addFunction(ctx, { name: "thumbnailer", versions: 1, aliases: { prod: "1" }, tags: { Team: "media" } });
  const targets: NewScalableTarget[] = [
    {
      namespace: "ecs",
      resourceId: "service/prod/api",
      dimension: "ecs:service:DesiredCount",
      min: 2,
      max: 10,
    },
    {
      namespace: "dynamodb",
      resourceId: "table/orders",
      dimension: "dynamodb:table:ReadCapacityUnits",
      min: 5,
      max: 100,
      capacity: 10,
    },
    {
      namespace: "rds",
      resourceId: "cluster:reports-aurora",
      dimension: "rds:cluster:ReadReplicaCount",
      min: 1,
      max: 5,
      capacity: 2,
    },
    {
      namespace: "lambda",
      resourceId: "function:checkout:live",
      dimension: "lambda:function:ProvisionedConcurrency",
      min: 0,
      max: 50,
    },
  ];
  for (const t of targets) addTarget(ctx, { ...t, tags: MANAGED });
}

// ---- test and rehearsal helpers (saved like API mutations) --------------------------------

export function addEcsService(cloud: SimulatedCloud, spec: NewEcsService): void {
  cloud.withRegion(spec.region, (ctx) => addService(ctx, spec));
}

export function addScalableTarget(cloud: SimulatedCloud, spec: NewScalableTarget): void {
  cloud.withRegion(spec.region, (ctx) => addTarget(ctx, spec));
}

export function addLambdaFunction(cloud: SimulatedCloud, spec: NewLambdaFunction): void {
  cloud.withRegion(spec.region, (ctx) => addFunction(ctx, spec));
}

/** The next `times` rollouts of this service fail (the circuit breaker's FAILED). */
export function failNextRollouts(
  cloud: SimulatedCloud,
  ref: { cluster: string; service: string; region?: string },
  times = 1,
): void {
  cloud.withRegion(ref.region, (ctx) => {
    const s = ecsState(ctx).services.find((x) => x.cluster === ref.cluster && x.name === ref.service);
    if (!s) throw new ValidationError("not_found", `no service ${ref.cluster}/${ref.service}`);
    s.failRollouts = times;
  });
}

/** The next `times` provisioned concurrency configs put on this function end FAILED. */
export function failNextProvisioning(cloud: SimulatedCloud, fn: string, times = 1, region?: string): void {
  cloud.withRegion(region, (ctx) => {
    const f = lambdaState(ctx).functions.find((x) => x.name === fn);
    if (!f) throw new ValidationError("not_found", `no function ${fn}`);
    f.failConfigs = times;
  });
}

/** How long ECS rollouts and Lambda provisioning take (defaults 3 s and 2 s). */
export function setContainerSettings(
  cloud: SimulatedCloud,
  settings: { ecsRolloutMs?: number; lambdaReadyMs?: number },
  region?: string,
): void {
  cloud.withRegion(region, (ctx) => {
    if (settings.ecsRolloutMs !== undefined) ecsState(ctx).rolloutMs = settings.ecsRolloutMs;
    if (settings.lambdaReadyMs !== undefined) lambdaState(ctx).readyMs = settings.lambdaReadyMs;
  });
}

/** ECS services, scalable targets and Lambda aliases of one region, as `reflex cloud` lists them. */
export function containerViews(ctx: OpContext) {
  const tags = (t: Array<{ Key: string; Value: string }>) =>
    Object.fromEntries(t.map((x) => [x.Key, x.Value]));
  return {
    services: (ctx.rs.ecs?.services ?? []).map((s) => {
      const r = rollout(ctx.now, s.primary);
      return {
        cluster: s.cluster,
        name: s.name,
        region: ctx.region,
        arn: serviceArn(ctx, s.cluster, s.name),
        desired: s.primary.desiredCount,
        running: r.running,
        rolloutState: r.state,
        tags: tags(s.tags),
      };
    }),
    scalableTargets: (ctx.rs.scaling?.targets ?? []).map((t) => ({
      namespace: t.namespace,
      resourceId: t.resourceId,
      dimension: t.dimension,
      region: ctx.region,
      min: t.min,
      max: t.max,
      capacity: currentCapacity(ctx, t) ?? null,
      arn: targetArn(ctx, t),
    })),
    aliases: (ctx.rs.lambda?.functions ?? []).flatMap((f) =>
      f.aliases.map((a) => {
        const p = f.provisioned.find((x) => x.qualifier === a.name);
        const settled = p ? ctx.now >= p.readyAt : false;
        return {
          function: f.name,
          alias: a.name,
          version: a.version,
          region: ctx.region,
          arn: functionArn(ctx, f.name, a.name),
          provisioned: p?.requested ?? 0,
          status: p ? (settled ? p.outcome : "IN_PROGRESS") : null,
          tags: tags(f.tags),
        };
      }),
    ),
  };
}
