/**
 * Amazon ECS, as far as scaling a service needs: clusters, services and their deployments,
 * answered in the SDK's shapes (`@aws-sdk/client-ecs`, awsJson1_1): ListClusters,
 * DescribeClusters, ListServices, DescribeServices (a service asked for in the wrong cluster is
 * a `MISSING` failure, as in ECS), UpdateService and ListTagsForResource.
 *
 * A desired-count change is a rollout of the service's primary deployment: `rolloutState`
 * `IN_PROGRESS` while the running count moves from where it was toward the new desired count,
 * then `COMPLETED` (running = desired) after `rolloutMs`, or — when a failure is armed for the
 * service (`failRollouts`, see containers-helpers.ts) — `FAILED` with the circuit breaker's
 * reason and the running count back where it started, the service's desired count left as
 * asked (ECS does not undo it; the caller must). (In ECS a count-only change updates the
 * primary deployment in place; its rollout state is the one the deployment circuit breaker sets.)
 * Times come from the cloud's clock, like snapshots': nothing runs in the background.
 */
import type { Deployment, Service } from "@aws-sdk/client-ecs";
import { CloudApiError } from "./api-error.ts";
import type { OpContext, OpInput } from "./fleet.ts";
import type { TagRecord } from "./model.ts";

export interface EcsDeploymentRecord {
  id: string;
  taskDefinition: string;
  desiredCount: number;
  /** Running tasks when the rollout began: the running count moves from here. */
  fromRunning: number;
  createdAt: number;
  /** When the rollout ends (COMPLETED or FAILED). */
  settleAt: number;
  outcome: "COMPLETED" | "FAILED";
}

export interface EcsServiceRecord {
  cluster: string;
  name: string;
  taskDefinition: string;
  launchType: "FARGATE" | "EC2";
  createdAt: number;
  tags: TagRecord[];
  primary: EcsDeploymentRecord;
  events: Array<{ id: string; at: number; message: string }>;
  /** How many of the next rollouts fail (the circuit breaker's `FAILED`). */
  failRollouts?: number;
}

export interface EcsState {
  clusters: Array<{ name: string; tags: TagRecord[] }>;
  services: EcsServiceRecord[];
  /** How long a rollout takes (IN_PROGRESS until then). Default 3 s. */
  rolloutMs: number;
  /** Deployment ids are counted, not random, so the seed's PRNG is untouched. */
  nextDeployment: number;
}

export function ecsState(ctx: OpContext): EcsState {
  ctx.rs.ecs ??= { clusters: [], services: [], rolloutMs: 3000, nextDeployment: 1 };
  return ctx.rs.ecs;
}

export const clusterArn = (ctx: OpContext, name: string) =>
  `arn:aws:ecs:${ctx.region}:${ctx.state.accountId}:cluster/${name}`;
export const serviceArn = (ctx: OpContext, cluster: string, name: string) =>
  `arn:aws:ecs:${ctx.region}:${ctx.state.accountId}:service/${cluster}/${name}`;

/** A cluster by name or ARN; ClusterNotFoundException otherwise. `default` when none is given, as in ECS. */
function clusterOf(ctx: OpContext, ref: unknown): { name: string; tags: TagRecord[] } {
  const wanted = String(ref ?? "default");
  const name = wanted.startsWith("arn:") ? wanted.slice(wanted.lastIndexOf("/") + 1) : wanted;
  const found = ecsState(ctx).clusters.find((c) => c.name === name);
  if (!found) throw new CloudApiError("ClusterNotFoundException", "Cluster not found.");
  return found;
}

/** `web` or `arn:…:service/<cluster>/web`: the service's name, and the cluster its ARN names. */
function serviceRef(ref: string): { name: string; cluster?: string } {
  if (!ref.startsWith("arn:")) return { name: ref };
  const parts = ref.split(":").slice(5).join(":").split("/");
  return parts.length >= 3 ? { cluster: parts[1], name: parts[2] } : { name: parts[1] ?? ref };
}

function findService(ctx: OpContext, cluster: string, ref: string): EcsServiceRecord | undefined {
  const { name, cluster: named } = serviceRef(ref);
  if (named !== undefined && named !== cluster) return undefined;
  return ecsState(ctx).services.find((s) => s.cluster === cluster && s.name === name);
}

/** The primary deployment's state at `now`: rollout state, running and pending counts. */
export function rollout(now: number, d: EcsDeploymentRecord) {
  if (now >= d.settleAt) {
    const running = d.outcome === "COMPLETED" ? d.desiredCount : d.fromRunning;
    return { state: d.outcome, running, pending: 0 };
  }
  const progress = d.settleAt > d.createdAt ? (now - d.createdAt) / (d.settleAt - d.createdAt) : 1;
  // A failing rollout's new tasks never reach RUNNING; they stay PENDING until the breaker trips.
  const moved = d.outcome === "FAILED" ? 0 : Math.trunc((d.desiredCount - d.fromRunning) * progress);
  const running = d.fromRunning + moved;
  return {
    state: "IN_PROGRESS" as const,
    running,
    pending: Math.max(0, d.desiredCount - running),
  };
}

function shapeDeployment(ctx: OpContext, s: EcsServiceRecord): Deployment {
  const d = s.primary;
  const r = rollout(ctx.now, d);
  return {
    id: d.id,
    status: "PRIMARY",
    taskDefinition: d.taskDefinition,
    desiredCount: d.desiredCount,
    runningCount: r.running,
    pendingCount: r.pending,
    failedTasks: r.state === "FAILED" ? Math.max(1, d.desiredCount - d.fromRunning) : 0,
    createdAt: new Date(d.createdAt),
    updatedAt: new Date(Math.min(ctx.now, d.settleAt)),
    launchType: s.launchType,
    rolloutState: r.state,
    rolloutStateReason:
      r.state === "COMPLETED"
        ? "ECS deployment ecs-svc completed."
        : r.state === "FAILED"
          ? "ECS deployment circuit breaker: tasks failed to start."
          : "ECS deployment ecs-svc in progress.",
  };
}

export function shapeService(ctx: OpContext, s: EcsServiceRecord, withTags = false): Service {
  const deployment = shapeDeployment(ctx, s);
  // Events the clock has reached, newest first (ECS lists them so), plus the steady-state one.
  const events = [...s.events]
    .filter((e) => e.at <= ctx.now)
    .reverse()
    .slice(0, 100);
  if (deployment.rolloutState === "COMPLETED" && ctx.now >= s.primary.settleAt)
    events.unshift({
      id: `${s.primary.id}-steady`,
      at: s.primary.settleAt,
      message: `(service ${s.name}) has reached a steady state.`,
    });
  return {
    serviceArn: serviceArn(ctx, s.cluster, s.name),
    serviceName: s.name,
    clusterArn: clusterArn(ctx, s.cluster),
    status: "ACTIVE",
    desiredCount: s.primary.desiredCount,
    runningCount: deployment.runningCount,
    pendingCount: deployment.pendingCount,
    launchType: s.launchType,
    taskDefinition: s.taskDefinition,
    deploymentConfiguration: {
      deploymentCircuitBreaker: { enable: true, rollback: true },
      maximumPercent: 200,
      minimumHealthyPercent: 100,
    },
    deployments: [deployment],
    events: events.map((e) => ({ id: e.id, createdAt: new Date(e.at), message: e.message })),
    createdAt: new Date(s.createdAt),
    ...(withTags ? { tags: s.tags.map((t) => ({ key: t.Key, value: t.Value })) } : {}),
  };
}

/** A new deployment id, counted (`ecs-svc/0000000000000000001`). */
export function nextDeploymentId(ctx: OpContext): string {
  const st = ecsState(ctx);
  return `ecs-svc/${String(st.nextDeployment++).padStart(19, "0")}`;
}

/** Starts a rollout of the service to `desired` tasks (UpdateService; Application Auto Scaling). */
export function setDesiredCount(ctx: OpContext, s: EcsServiceRecord, desired: number, cause: string): void {
  const running = rollout(ctx.now, s.primary).running;
  const fail = (s.failRollouts ?? 0) > 0;
  if (fail) s.failRollouts = (s.failRollouts ?? 1) - 1;
  s.primary = {
    id: nextDeploymentId(ctx),
    taskDefinition: s.taskDefinition,
    desiredCount: desired,
    fromRunning: running,
    createdAt: ctx.now,
    settleAt: ctx.now + ecsState(ctx).rolloutMs,
    outcome: fail ? "FAILED" : "COMPLETED",
  };
  s.events.push({
    id: `${s.primary.id}-start`,
    at: ctx.now,
    message: `(service ${s.name}) desired count set to ${desired} (${cause}).`,
  });
  if (fail)
    s.events.push({
      id: `${s.primary.id}-failed`,
      at: s.primary.settleAt,
      message: `(service ${s.name}) (deployment ${s.primary.id}) deployment failed: tasks failed to start.`,
    });
}

/** The service an Application Auto Scaling resource id names (`service/<cluster>/<name>`), if any. */
export function serviceForResource(ctx: OpContext, resourceId: string): EcsServiceRecord | undefined {
  const m = /^service\/([^/]+)\/([^/]+)$/.exec(resourceId);
  return m ? ecsState(ctx).services.find((s) => s.cluster === m[1] && s.name === m[2]) : undefined;
}

function describeServices(
  ctx: OpContext,
  input: { cluster?: string; services?: string[]; include?: string[] },
) {
  const cluster = clusterOf(ctx, input.cluster).name;
  if (!input.services?.length)
    throw new CloudApiError("InvalidParameterException", "Services cannot be empty.");
  if (input.services.length > 10)
    throw new CloudApiError("InvalidParameterException", "Services cannot contain more than 10 items.");
  const withTags = input.include?.includes("TAGS") === true;
  const services: Service[] = [];
  const failures: Array<{ arn: string; reason: string }> = [];
  for (const ref of input.services) {
    const s = findService(ctx, cluster, ref);
    if (s) services.push(shapeService(ctx, s, withTags));
    else
      failures.push({
        arn: ref.startsWith("arn:") ? ref : serviceArn(ctx, cluster, ref),
        reason: "MISSING",
      });
  }
  return { services, failures };
}

function updateService(
  ctx: OpContext,
  input: { cluster?: string; service?: string; desiredCount?: number; forceNewDeployment?: boolean },
) {
  const cluster = clusterOf(ctx, input.cluster).name;
  if (!input.service) throw new CloudApiError("InvalidParameterException", "Service cannot be empty.");
  const s = findService(ctx, cluster, input.service);
  if (!s) throw new CloudApiError("ServiceNotFoundException", "Service not found.");
  if (input.desiredCount !== undefined) {
    if (!Number.isInteger(input.desiredCount) || input.desiredCount < 0)
      throw new CloudApiError("InvalidParameterException", "Desired count must be a non-negative integer.");
    if (input.desiredCount !== s.primary.desiredCount || input.forceNewDeployment)
      setDesiredCount(ctx, s, input.desiredCount, "UpdateService");
  } else if (input.forceNewDeployment) setDesiredCount(ctx, s, s.primary.desiredCount, "new deployment");
  return { service: shapeService(ctx, s) };
}

function listClusters(ctx: OpContext) {
  return { clusterArns: ecsState(ctx).clusters.map((c) => clusterArn(ctx, c.name)) };
}

function describeClusters(ctx: OpContext, input: { clusters?: string[] }) {
  const names = input.clusters?.length ? input.clusters : ["default"];
  const clusters = [];
  const failures = [];
  for (const ref of names) {
    const name = ref.startsWith("arn:") ? ref.slice(ref.lastIndexOf("/") + 1) : ref;
    const c = ecsState(ctx).clusters.find((x) => x.name === name);
    if (!c) {
      failures.push({ arn: ref.startsWith("arn:") ? ref : clusterArn(ctx, name), reason: "MISSING" });
      continue;
    }
    const services = ecsState(ctx).services.filter((s) => s.cluster === c.name);
    clusters.push({
      clusterArn: clusterArn(ctx, c.name),
      clusterName: c.name,
      status: "ACTIVE",
      activeServicesCount: services.length,
      runningTasksCount: services.reduce((n, s) => n + rollout(ctx.now, s.primary).running, 0),
      pendingTasksCount: services.reduce((n, s) => n + rollout(ctx.now, s.primary).pending, 0),
    });
  }
  return { clusters, failures };
}

function listServices(ctx: OpContext, input: { cluster?: string }) {
  const cluster = clusterOf(ctx, input.cluster).name;
  return {
    serviceArns: ecsState(ctx)
      .services.filter((s) => s.cluster === cluster)
      .map((s) => serviceArn(ctx, s.cluster, s.name)),
  };
}

function listTagsForResource(ctx: OpContext, input: { resourceArn?: string }) {
  const arn = String(input.resourceArn ?? "");
  const m = /:(cluster|service)\/(.+)$/.exec(arn);
  if (m?.[1] === "cluster")
    return { tags: clusterOf(ctx, m[2]).tags.map((t) => ({ key: t.Key, value: t.Value })) };
  const ref = m ? serviceRef(arn) : undefined;
  const s = ref?.cluster ? findService(ctx, ref.cluster, ref.name) : undefined;
  if (!s) throw new CloudApiError("InvalidParameterException", "The specified resource could not be found.");
  return { tags: s.tags.map((t) => ({ key: t.Key, value: t.Value })) };
}

export const ecsOperations: Record<string, (ctx: OpContext, input: OpInput) => object> = {
  ListClusters: listClusters,
  DescribeClusters: describeClusters,
  ListServices: listServices,
  DescribeServices: describeServices,
  UpdateService: updateService,
  ListTagsForResource: listTagsForResource,
};
