/**
 * scale-service's steps. Each reads the target's state first, so a retried step makes no second
 * call (already at the new value → nothing) and never acts on a value someone else changed since
 * the plan (`CapacityChanged`: a value computed from a stale baseline is wrong). Rollback puts
 * the old value back only where this run's value is still set.
 */
import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
  ListTagsForResourceCommand,
  RegisterScalableTargetCommand,
  type ScalableTarget,
} from "@aws-sdk/client-application-auto-scaling";
import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DescribeServicesCommand,
  ECSClient,
  ListClustersCommand,
  type Service,
  UpdateServiceCommand,
} from "@aws-sdk/client-ecs";
import {
  DeleteProvisionedConcurrencyConfigCommand,
  GetAccountSettingsCommand,
  GetAliasCommand,
  GetFunctionCommand,
  GetProvisionedConcurrencyConfigCommand,
  LambdaClient,
  PutProvisionedConcurrencyConfigCommand,
} from "@aws-sdk/client-lambda";
import {
  client,
  type Implementation,
  type RunInput,
  type StepContext,
  StepExecutionError,
  type TargetResult,
} from "@reflex/sdk";
import type { ScaleServiceParams, Target } from "./index.ts";
import { seconds } from "./index.ts";

type Input = RunInput<ScaleServiceParams>;
interface Bounds {
  min: number;
  max: number;
}

/** What the plan decided: from → to, as a count (service, alias) or as bounds (scalable target). */
export interface Plan {
  id: string;
  kind: Target["kind"];
  action: "set" | "none";
  from: number | Bounds;
  to: number | Bounds;
  /** The bounds the count was kept in, and where they come from. */
  bounds?: Bounds & { source: string };
  limits: string[];
  /** A scalable target of an ECS service or a Lambda alias: that resource's count when planned (rollback puts it back). */
  resource?: number;
}

/** Lambda keeps this much of the account's concurrency unreserved. */
const KEEP_UNRESERVED = 100;

const ecs = (p: ScaleServiceParams) => client(ECSClient, "ecs", p.region);
const aas = (p: ScaleServiceParams) =>
  client(ApplicationAutoScalingClient, "application-autoscaling", p.region);
const lambda = (p: ScaleServiceParams) => client(LambdaClient, "lambda", p.region);
const dynamodb = (p: ScaleServiceParams) => client(DynamoDBClient, "dynamodb-tables", p.region);

/**
 * A DynamoDB table's (or index's) billing mode, from DescribeTable's BillingModeSummary (absent
 * on tables made provisioned before it existed), or `missing`.
 */
async function billingMode(p: ScaleServiceParams, resourceId: string): Promise<string> {
  const table = resourceId.split("/")[1] ?? "";
  try {
    const t = await dynamodb(p).send(new DescribeTableCommand({ TableName: table }));
    return t.Table?.BillingModeSummary?.BillingMode ?? "PROVISIONED";
  } catch (err) {
    if (errorName(err) === "ResourceNotFoundException") return "missing";
    throw err;
  }
}

/** How the target is named in results and errors. */
export function targetId(t: Target): string {
  if (t.kind === "ecs-service") return `${t.cluster}/${t.service}`;
  if (t.kind === "lambda-alias") return `${t.function}:${t.alias}`;
  return `${t.namespace}:${t.resourceId} (${t.dimension})`;
}

const errorName = (e: unknown) => (e as { name?: string })?.name;
const isBounds = (v: number | Bounds): v is Bounds => typeof v === "object";
const show = (v: number | Bounds) => (isBounds(v) ? `min ${v.min}, max ${v.max}` : String(v));

/** Records the refusal on the run (the target, failed, and why) and fails the plan with it. */
async function refuse(ctx: StepContext, t: Target, code: string, why: string): Promise<never> {
  const id = targetId(t);
  await ctx.record({
    summary: `refused: ${id}: ${why}`,
    targets: [{ id, kind: t.kind, status: "failed", reason: why }],
  });
  throw new StepExecutionError(code, `${id}: ${why}`);
}

// ---- reading the targets ---------------------------------------------------------------------

async function describeService(
  p: ScaleServiceParams,
  cluster: string,
  service: string,
): Promise<Service | undefined> {
  const out = await ecs(p).send(
    new DescribeServicesCommand({ cluster, services: [service], include: ["TAGS"] }),
  );
  return out.services?.find((s) => s.status !== "INACTIVE");
}

/** The clusters other than `cluster` where a service of this name runs (for the refusal's why). */
async function clustersWith(p: ScaleServiceParams, cluster: string, service: string): Promise<string[]> {
  const arns = (await ecs(p).send(new ListClustersCommand({}))).clusterArns ?? [];
  const found: string[] = [];
  for (const arn of arns.slice(0, 20)) {
    const other = arn.slice(arn.lastIndexOf("/") + 1);
    if (other === cluster) continue;
    const out = await ecs(p).send(new DescribeServicesCommand({ cluster: other, services: [service] }));
    if (out.services?.some((s) => s.status === "ACTIVE")) found.push(other);
  }
  return found;
}

/** The service's primary deployment: its rollout state and reason, running and desired counts. */
function primaryOf(s: Service) {
  const d = s.deployments?.find((x) => x.status === "PRIMARY");
  return {
    rolloutState: d?.rolloutState,
    reason: d?.rolloutStateReason,
    running: s.runningCount ?? 0,
    desired: s.desiredCount ?? 0,
  };
}

async function scalableTarget(
  p: ScaleServiceParams,
  namespace: string,
  resourceId: string,
  dimension: string,
): Promise<ScalableTarget | undefined> {
  const out = await aas(p).send(
    new DescribeScalableTargetsCommand({
      ServiceNamespace: namespace as ScalableTarget["ServiceNamespace"],
      ResourceIds: [resourceId],
      ScalableDimension: dimension as ScalableTarget["ScalableDimension"],
    }),
  );
  return out.ScalableTargets?.[0];
}

/** The alias's provisioned concurrency config, or undefined when it has none. */
async function provisioned(p: ScaleServiceParams, fn: string, alias: string) {
  try {
    return await lambda(p).send(
      new GetProvisionedConcurrencyConfigCommand({ FunctionName: fn, Qualifier: alias }),
    );
  } catch (e) {
    if (errorName(e) === "ProvisionedConcurrencyConfigNotFoundException") return undefined;
    throw e;
  }
}

const hasTag = (tags: Record<string, string | undefined>, ctx: StepContext) =>
  tags[ctx.automationTag.key] === ctx.automationTag.value;

/** The ECS service or Lambda alias a scalable target scales, if it is one of those. */
function resourceOf(t: Target): { service: [string, string] } | { alias: [string, string] } | undefined {
  if (t.kind !== "scalable-target") return undefined;
  const svc = /^service\/([^/]+)\/([^/]+)$/.exec(t.resourceId);
  if (t.namespace === "ecs" && svc) return { service: [svc[1], svc[2]] };
  const fn = /^function:([^:]+):(.+)$/.exec(t.resourceId);
  if (t.namespace === "lambda" && fn) return { alias: [fn[1], fn[2]] };
  return undefined;
}

/** The ECS service or Lambda function behind a scalable target, named, when it lacks the automation tag. */
async function untaggedResource(p: ScaleServiceParams, ctx: StepContext): Promise<string | undefined> {
  const r = resourceOf(p.target);
  if (!r) return undefined;
  if ("service" in r) {
    const svc = await describeService(p, ...r.service);
    if (!svc) return undefined; // gone: the set finds nothing to move
    const tags = Object.fromEntries((svc.tags ?? []).map((x) => [x.key ?? "", x.value]));
    return hasTag(tags, ctx) ? undefined : `the service ${r.service.join("/")}`;
  }
  try {
    const tags = (await lambda(p).send(new GetFunctionCommand({ FunctionName: r.alias[0] }))).Tags ?? {};
    return hasTag(tags, ctx) ? undefined : `the function ${r.alias[0]}`;
  } catch (e) {
    if (errorName(e) === "ResourceNotFoundException") return undefined;
    throw e;
  }
}

/** That resource's count now (desired tasks, requested executions). */
async function resourceCount(p: ScaleServiceParams): Promise<number | undefined> {
  const r = resourceOf(p.target);
  if (!r) return undefined;
  if ("service" in r) return (await describeService(p, ...r.service))?.desiredCount ?? 0;
  return (await provisioned(p, ...r.alias))?.RequestedProvisionedConcurrentExecutions ?? 0;
}

/** Sets that resource's count back (rollback of new bounds that moved it). */
async function setResource(p: ScaleServiceParams, count: number): Promise<void> {
  const r = resourceOf(p.target);
  if (!r) return;
  if ("service" in r)
    await ecs(p).send(
      new UpdateServiceCommand({ cluster: r.service[0], service: r.service[1], desiredCount: count }),
    );
  else if (count === 0)
    await lambda(p).send(
      new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: r.alias[0], Qualifier: r.alias[1] }),
    );
  else
    await lambda(p).send(
      new PutProvisionedConcurrencyConfigCommand({
        FunctionName: r.alias[0],
        Qualifier: r.alias[1],
        ProvisionedConcurrentExecutions: count,
      }),
    );
}

// ---- plan ------------------------------------------------------------------------------------

/** The current count and its bounds (ECS service, Lambda alias), or a refusal. */
async function readCount(
  input: Input,
  ctx: StepContext,
): Promise<{ current: number; bounds: Bounds & { source: string } }> {
  const p = input.params;
  const t = p.target;
  const managed = `it does not carry the automation tag (${ctx.automationTag.key}=${ctx.automationTag.value})`;
  if (t.kind === "ecs-service") {
    let svc: Service | undefined;
    try {
      svc = await describeService(p, t.cluster, t.service);
    } catch (e) {
      if (errorName(e) === "ClusterNotFoundException")
        return refuse(ctx, t, "TargetNotFound", `cluster ${t.cluster} does not exist`);
      throw e;
    }
    if (!svc) {
      const elsewhere = await clustersWith(p, t.cluster, t.service);
      return refuse(
        ctx,
        t,
        "TargetNotFound",
        `there is no service ${t.service} in cluster ${t.cluster}` +
          (elsewhere.length
            ? `; it is in cluster ${elsewhere.join(", ")} (name the cluster it runs in)`
            : ""),
      );
    }
    const tags = Object.fromEntries((svc.tags ?? []).map((x) => [x.key ?? "", x.value]));
    if (!hasTag(tags, ctx)) return refuse(ctx, t, "NotManaged", managed);
    const d = primaryOf(svc);
    if (d.rolloutState === "IN_PROGRESS")
      return refuse(
        ctx,
        t,
        "DeploymentInProgress",
        "a deployment of the service is in progress; scale it once it has ended",
      );
    const target = await scalableTarget(
      p,
      "ecs",
      `service/${t.cluster}/${t.service}`,
      "ecs:service:DesiredCount",
    );
    const bounds = target
      ? { min: target.MinCapacity ?? 0, max: target.MaxCapacity ?? 0, source: "its scalable target" }
      : { min: 0, max: Number.MAX_SAFE_INTEGER, source: "no scalable target: from 0" };
    return { current: d.desired, bounds };
  }
  if (t.kind === "lambda-alias") {
    let tags: Record<string, string | undefined>;
    try {
      tags = (await lambda(p).send(new GetFunctionCommand({ FunctionName: t.function }))).Tags ?? {};
    } catch (e) {
      if (errorName(e) === "ResourceNotFoundException")
        return refuse(ctx, t, "TargetNotFound", `function ${t.function} does not exist`);
      throw e;
    }
    if (!hasTag(tags, ctx)) return refuse(ctx, t, "NotManaged", managed);
    try {
      await lambda(p).send(new GetAliasCommand({ FunctionName: t.function, Name: t.alias }));
    } catch (e) {
      if (errorName(e) === "ResourceNotFoundException")
        return refuse(ctx, t, "TargetNotFound", `function ${t.function} has no alias ${t.alias}`);
      throw e;
    }
    const current =
      (await provisioned(p, t.function, t.alias))?.RequestedProvisionedConcurrentExecutions ?? 0;
    const target = await scalableTarget(
      p,
      "lambda",
      `function:${t.function}:${t.alias}`,
      "lambda:function:ProvisionedConcurrency",
    );
    if (target)
      return {
        current,
        bounds: { min: target.MinCapacity ?? 0, max: target.MaxCapacity ?? 0, source: "its scalable target" },
      };
    const account = await lambda(p).send(new GetAccountSettingsCommand({}));
    const unreserved = account.AccountLimit?.UnreservedConcurrentExecutions ?? 0;
    return {
      current,
      bounds: {
        min: 0,
        max: Math.max(0, unreserved + current - KEEP_UNRESERVED),
        source: `no scalable target: the account's unreserved concurrency less the ${KEEP_UNRESERVED} Lambda keeps`,
      },
    };
  }
  throw new StepExecutionError("InvalidTarget", `${t.kind} has no count`);
}

/** The new count: the change, clamped to ±min(maxStep, cap) and to the bounds; `=N` outside them is refused. */
function newCount(
  input: Input,
  ctx: StepContext,
  current: number,
  bounds: Bounds & { source: string },
): { to: number; limits: string[] } | { refused: string } {
  const p = input.params;
  const m = /^([+=-])(\d+)$/.exec(p.change ?? "");
  if (!m) return { refused: "change must be +N, -N or =N" };
  const n = Number(m[2]);
  if (m[1] === "=" && (n < bounds.min || n > bounds.max))
    return {
      refused: `desired ${n} is outside its bounds (min ${bounds.min}, max ${bounds.max === Number.MAX_SAFE_INTEGER ? "none" : bounds.max}; ${bounds.source})`,
    };
  const limits: string[] = [];
  let to = m[1] === "=" ? n : m[1] === "+" ? current + n : current - n;
  const step = Math.min(p.maxStep, ctx.maxTargets ?? p.maxStep);
  if (Math.abs(to - current) > step) {
    to = current + Math.sign(to - current) * step;
    limits.push(
      `clamped to ${to}: at most ${step} added or removed per run (${step === p.maxStep ? "maxStep" : "the blast-radius cap"})`,
    );
  }
  if (to < bounds.min || to > bounds.max) {
    to = Math.min(bounds.max, Math.max(bounds.min, to));
    limits.push(`clamped to ${to}: ${to === bounds.min ? "min" : "max"} ${to} (${bounds.source})`);
  }
  return { to, limits };
}

/**
 * New bounds move an ECS service or a Lambda alias to them (Application Auto Scaling raises it to
 * its min, lowers it to its max): a min or max the person moves is clamped so the resource moves
 * by at most ±min(maxStep, cap), as a change is. `to` is clamped in place; the clamps are returned.
 */
function capBounds(input: Input, ctx: StepContext, from: Bounds, to: Bounds, resource: number): string[] {
  const p = input.params;
  const step = Math.min(p.maxStep, ctx.maxTargets ?? p.maxStep);
  const why = `at most ${step} added or removed per run (${step === p.maxStep ? "maxStep" : "the blast-radius cap"})`;
  const what =
    p.target.kind === "scalable-target" && p.target.namespace === "lambda"
      ? "the alias has"
      : "the service runs";
  const limits: string[] = [];
  if (to.min > from.min && to.min > resource + step) {
    to.min = Math.max(from.min, resource + step);
    limits.push(`min clamped to ${to.min}: ${what} ${resource}; ${why}`);
  }
  if (to.max < from.max && to.max < resource - step) {
    to.max = Math.min(from.max, resource - step);
    limits.push(`max clamped to ${to.max}: ${what} ${resource}; ${why}`);
  }
  return limits;
}

async function plan(input: Input, ctx: StepContext): Promise<Plan> {
  const p = input.params;
  const t = p.target;
  const id = targetId(t);
  let out: Plan;
  if (t.kind === "scalable-target") {
    // A table in on-demand mode has no capacity to scale: said as such, from the table itself.
    if (t.namespace === "dynamodb") {
      const table = t.resourceId.split("/")[1];
      const mode = await billingMode(p, t.resourceId);
      if (mode === "missing") return refuse(ctx, t, "TargetNotFound", `table ${table} does not exist`);
      if (mode === "PAY_PER_REQUEST")
        return refuse(
          ctx,
          t,
          "OnDemandTable",
          `table ${table} is in on-demand mode (BillingMode PAY_PER_REQUEST): it has no provisioned capacity to scale; switch it to PROVISIONED and register a scalable target first`,
        );
    }
    const target = await scalableTarget(p, t.namespace, t.resourceId, t.dimension);
    if (!target) return refuse(ctx, t, "TargetNotFound", "no scalable target is registered for it");
    const tags =
      (await aas(p).send(new ListTagsForResourceCommand({ ResourceARN: target.ScalableTargetARN }))).Tags ??
      {};
    if (!hasTag(tags, ctx))
      return refuse(
        ctx,
        t,
        "NotManaged",
        `it does not carry the automation tag (${ctx.automationTag.key}=${ctx.automationTag.value})`,
      );
    // New bounds move the service or alias behind the target (and a rollback sets it directly):
    // it must be Reflex's too, as IAM's fence on UpdateService and Put… says.
    const untagged = await untaggedResource(p, ctx);
    if (untagged)
      return refuse(
        ctx,
        t,
        "NotManaged",
        `${untagged} it scales does not carry the automation tag (${ctx.automationTag.key}=${ctx.automationTag.value})`,
      );
    const from = { min: target.MinCapacity ?? 0, max: target.MaxCapacity ?? 0 };
    const to = { min: p.min ?? from.min, max: p.max ?? from.max };
    if (to.min > to.max) return refuse(ctx, t, "OutOfBounds", `min ${to.min} would be above max ${to.max}`);
    const resource = await resourceCount(p);
    const limits = resource === undefined ? [] : capBounds(input, ctx, from, to, resource);
    const same = to.min === from.min && to.max === from.max;
    out = { id, kind: t.kind, action: same ? "none" : "set", from, to, limits };
    if (resource !== undefined) out.resource = resource;
  } else {
    const { current, bounds } = await readCount(input, ctx);
    const count = newCount(input, ctx, current, bounds);
    if ("refused" in count) return refuse(ctx, t, "OutOfBounds", count.refused);
    out = {
      id,
      kind: t.kind,
      action: count.to === current ? "none" : "set",
      from: current,
      to: count.to,
      bounds,
      limits: count.limits,
    };
  }
  const verb = ctx.dryRun ? "would set" : "setting";
  const what =
    t.kind === "lambda-alias"
      ? "provisioned concurrency"
      : t.kind === "ecs-service"
        ? "desired count"
        : "bounds";
  const details: Record<string, string> = { [what]: `${show(out.from)} → ${show(out.to)}` };
  if (out.bounds)
    details.bounds = `${out.bounds.min}..${out.bounds.max === Number.MAX_SAFE_INTEGER ? "∞" : out.bounds.max} (${out.bounds.source})`;
  out.limits.forEach((l, i) => {
    details[`limit ${i + 1}`] = l;
  });
  const none = out.action === "none";
  await ctx.record({
    summary: none
      ? `nothing to do: ${id}'s ${what} is ${show(out.from)} already${out.limits.length ? ` (${out.limits.join("; ")})` : ""}`
      : `${verb} ${id}'s ${what} ${show(out.from)} → ${show(out.to)}`,
    plan: out,
    targets: [
      {
        id,
        kind: t.kind,
        status: none ? "skipped" : "not-started",
        reason: none ? `already ${show(out.from)}` : `${verb} ${what} to ${show(out.to)}`,
        details,
      },
    ],
    ...(none ? { skipped: `${id}'s ${what} is ${show(out.from)} already` } : {}),
  });
  return out;
}

// ---- set, check, and the same two for the rollback --------------------------------------------

/** The target's value now: a count or bounds. */
async function valueNow(p: ScaleServiceParams): Promise<number | Bounds> {
  const t = p.target;
  if (t.kind === "ecs-service") {
    const s = await describeService(p, t.cluster, t.service);
    if (!s) throw new StepExecutionError("TargetNotFound", `service ${targetId(t)} is gone`);
    return s.desiredCount ?? 0;
  }
  if (t.kind === "lambda-alias")
    return (await provisioned(p, t.function, t.alias))?.RequestedProvisionedConcurrentExecutions ?? 0;
  const s = await scalableTarget(p, t.namespace, t.resourceId, t.dimension);
  if (!s) throw new StepExecutionError("TargetNotFound", `scalable target ${targetId(t)} is gone`);
  return { min: s.MinCapacity ?? 0, max: s.MaxCapacity ?? 0 };
}

const same = (a: number | Bounds, b: number | Bounds) => show(a) === show(b);

/** Sets the target to `to` (one call), unless it is there already. */
async function set(p: ScaleServiceParams, to: number | Bounds): Promise<void> {
  const t = p.target;
  if (t.kind === "ecs-service" && !isBounds(to))
    await ecs(p).send(new UpdateServiceCommand({ cluster: t.cluster, service: t.service, desiredCount: to }));
  else if (t.kind === "lambda-alias" && !isBounds(to)) {
    const at = { FunctionName: t.function, Qualifier: t.alias };
    if (to === 0) await lambda(p).send(new DeleteProvisionedConcurrencyConfigCommand(at));
    else
      await lambda(p).send(
        new PutProvisionedConcurrencyConfigCommand({ ...at, ProvisionedConcurrentExecutions: to }),
      );
  } else if (t.kind === "scalable-target" && isBounds(to))
    await aas(p).send(
      new RegisterScalableTargetCommand({
        ServiceNamespace: t.namespace,
        ResourceId: t.resourceId,
        ScalableDimension: t.dimension as ScalableTarget["ScalableDimension"],
        MinCapacity: to.min,
        MaxCapacity: to.max,
      }),
    );
}

async function apply(input: Input & { plan: Plan }, ctx: StepContext): Promise<{ startedAt: string }> {
  const p = input.params;
  const now = await valueNow(p);
  if (!same(now, input.plan.to)) {
    if (!same(now, input.plan.from))
      throw new StepExecutionError(
        "CapacityChanged",
        `${input.plan.id} is ${show(now)}, not the ${show(input.plan.from)} the plan started from; nothing was changed`,
      );
    await set(p, input.plan.to);
  }
  return { startedAt: ctx.now().toISOString() };
}

/**
 * Whether the cloud has reached `to`: the ECS rollout COMPLETED with running = desired, the
 * Lambda config READY (or gone, for 0), the bounds in place — and, for an ECS or Lambda scalable
 * target, its resource settled inside them. FAILED fails (`failure`); past the deadline, `timeout`.
 */
async function settled(
  p: ScaleServiceParams,
  to: number | Bounds,
  since: string,
  ctx: StepContext,
  codes: { failure?: string; timeout: string },
  resourceTo?: number,
): Promise<{ done: boolean; observed: string }> {
  const t = p.target;
  let done: boolean;
  let observed: string;
  const ecsSettled = async (cluster: string, service: string, desired?: number) => {
    const s = await describeService(p, cluster, service);
    if (!s) throw new StepExecutionError("TargetNotFound", `service ${cluster}/${service} is gone`);
    const d = primaryOf(s);
    if (d.rolloutState === "FAILED")
      throw new StepExecutionError(
        codes.failure ?? "RolloutFailed",
        `${cluster}/${service}: rollout FAILED: ${d.reason ?? "no reason given"}`,
      );
    return {
      done:
        d.rolloutState === "COMPLETED" &&
        d.running === d.desired &&
        (desired === undefined || d.desired === desired),
      observed: `rollout ${d.rolloutState}, running ${d.running} of ${d.desired}`,
    };
  };
  const lambdaSettled = async (fn: string, alias: string, requested?: number) => {
    const c = await provisioned(p, fn, alias);
    if (!c)
      return { done: requested === undefined || requested === 0, observed: "no provisioned concurrency" };
    if (c.Status === "FAILED")
      throw new StepExecutionError(
        codes.failure ?? "ProvisioningFailed",
        `${fn}:${alias}: provisioned concurrency FAILED: ${c.StatusReason ?? ""}`,
      );
    return {
      done:
        c.Status === "READY" &&
        (requested === undefined || c.RequestedProvisionedConcurrentExecutions === requested),
      observed: `${c.Status}, ${c.AllocatedProvisionedConcurrentExecutions ?? 0} of ${c.RequestedProvisionedConcurrentExecutions} allocated`,
    };
  };
  if (t.kind === "ecs-service") ({ done, observed } = await ecsSettled(t.cluster, t.service, to as number));
  else if (t.kind === "lambda-alias")
    ({ done, observed } = await lambdaSettled(t.function, t.alias, to as number));
  else {
    const now = await valueNow(p);
    done = same(now, to);
    observed = `bounds ${show(now)}`;
    const r = resourceOf(t);
    const inner = !r
      ? undefined
      : "service" in r
        ? await ecsSettled(...r.service, resourceTo)
        : await lambdaSettled(...r.alias, resourceTo);
    if (inner) {
      done = done && inner.done;
      observed = `${observed}; ${inner.observed}`;
    }
  }
  const deadline = Date.parse(since) + seconds(p.timeout) * 1000;
  if (!done && ctx.now().getTime() > deadline)
    throw new StepExecutionError(
      codes.timeout,
      `${targetId(t)} did not reach ${show(to)} within ${p.timeout} (${observed})`,
    );
  return { done, observed };
}

async function check(input: Input & { plan: Plan; applied: { startedAt: string } }, ctx: StepContext) {
  return settled(input.params, input.plan.to, input.applied.startedAt, ctx, { timeout: "ScaleTimeout" });
}

interface Failure {
  Error?: string;
  Cause?: string;
}

async function rollback(
  input: Input & { plan: Plan; failure?: Failure },
  ctx: StepContext,
): Promise<{ restored: boolean; startedAt: string }> {
  const { plan: pl, params: p } = input;
  const now = await valueNow(p);
  let restored = false;
  let what: string;
  if (same(now, pl.to) && !same(pl.to, pl.from)) {
    await set(p, pl.from);
    restored = true;
    what = `put back to ${show(pl.from)}`;
  } else if (same(now, pl.from)) what = `still ${show(pl.from)}: nothing to undo`;
  else what = `left alone: it is ${show(now)}, set by someone else since`;
  // New bounds may have moved the service's or alias's count (Application Auto Scaling keeps it
  // inside them): put that back too, when the old bounds allow it and nobody set it since.
  const r = resourceOf(p.target);
  const count = await resourceCount(p);
  let resourceRestored = false;
  if (r && restored && pl.resource !== undefined && count !== pl.resource && isBounds(pl.from)) {
    if (pl.resource >= pl.from.min && pl.resource <= pl.from.max) {
      await setResource(p, pl.resource);
      resourceRestored = true;
      what += `; ${"service" in r ? "desired count" : "provisioned concurrency"} ${count} → ${pl.resource}`;
    }
  }
  const error = input.failure?.Error ?? "Failed";
  const cause = input.failure?.Cause ?? "";
  const target: TargetResult = {
    id: pl.id,
    kind: pl.kind,
    status: restored || same(now, pl.from) ? "rolled-back" : "failed",
    reason: `${error}: ${cause}; ${what}`,
    details: { from: show(pl.from), to: show(pl.to) },
  };
  await ctx.record({ summary: `${pl.id} rolled back: ${error}`, targets: [target], rollback: what });
  return { restored: restored || resourceRestored, startedAt: ctx.now().toISOString() };
}

async function checkRollback(
  input: Input & { plan: Plan; rolledBack: { restored: boolean; startedAt: string } },
  ctx: StepContext,
) {
  if (!input.rolledBack.restored) return { done: true, observed: "nothing was put back" };
  return settled(
    input.params,
    input.plan.from,
    input.rolledBack.startedAt,
    ctx,
    { failure: "RollbackFailed", timeout: "RollbackTimeout" },
    input.plan.resource,
  );
}

async function report(input: Input & { plan: Plan; progress: { observed: string } }, ctx: StepContext) {
  const { plan: pl } = input;
  await ctx.record({
    summary: `${pl.id}: ${show(pl.from)} → ${show(pl.to)}, verified (${input.progress.observed})`,
    targets: [
      {
        id: pl.id,
        kind: pl.kind,
        status: "succeeded",
        reason: input.progress.observed,
        details: {
          from: show(pl.from),
          to: show(pl.to),
          ...Object.fromEntries(pl.limits.map((l, i) => [`limit ${i + 1}`, l])),
        },
      },
    ],
  });
  return {};
}

export const implementation: Implementation = {
  steps: { plan, apply, check, rollback, checkRollback, report },
};
