/**
 * The simulated Elastic Load Balancing v2 API, enough for patching: target groups of
 * instances (DescribeTargetGroups), registration (RegisterTargets / DeregisterTargets) and
 * health (DescribeTargetHealth) with AWS's states and reason codes: a registered target is
 * `initial` (Elb.RegistrationInProgress) for the health-check time, then `healthy`, or
 * `unhealthy` (Target.FailedHealthChecks) while its instance does not answer; a deregistered
 * one is `draining` (Target.DeregistrationInProgress) for the group's deregistration delay,
 * then gone (`unused`, Target.NotRegistered).
 */
import { CloudApiError } from "./api-error.ts";
import type { OpContext, OpInput } from "./fleet.ts";
import { healthy, instanceRecord, patching, type TargetGroupRecord, type TargetRecord } from "./patching.ts";

type Op = (ctx: OpContext, input: OpInput) => object;

export function targetGroupArn(ctx: OpContext, name: string, n: number): string {
  return `arn:aws:elasticloadbalancing:${ctx.region}:${ctx.state.accountId}:targetgroup/${name}/${n.toString(16).padStart(16, "0")}`;
}

function group(ctx: OpContext, arn: string | undefined): TargetGroupRecord {
  const g = patching(ctx).targetGroups.find((x) => x.arn === arn);
  if (!g) throw new CloudApiError("TargetGroupNotFound", `Target groups '${arn}' not found`);
  return g;
}

/** Forgets targets whose draining has ended. */
function sweep(ctx: OpContext, g: TargetGroupRecord): void {
  g.targets = g.targets.filter(
    (t) => t.deregisteredAt === undefined || ctx.now < t.deregisteredAt + g.deregistrationDelayMs,
  );
}

/** A target's health as DescribeTargetHealth reports it (also shown by `reflex cloud`). */
export function health(ctx: OpContext, t: TargetRecord | undefined) {
  if (!t)
    return {
      State: "unused",
      Reason: "Target.NotRegistered",
      Description: "Target is not registered to the target group",
    };
  if (t.deregisteredAt !== undefined)
    return {
      State: "draining",
      Reason: "Target.DeregistrationInProgress",
      Description: "Target deregistration is in progress",
    };
  const i = instanceRecord(ctx, t.id);
  if (ctx.now < t.registeredAt + patching(ctx).settings.healthCheckMs)
    return {
      State: "initial",
      Reason: "Elb.RegistrationInProgress",
      Description: "Target registration is in progress",
    };
  if (!i || !healthy(ctx, i))
    return { State: "unhealthy", Reason: "Target.FailedHealthChecks", Description: "Health checks failed" };
  return { State: "healthy" };
}

const describeTargetGroups: Op = (ctx, input) => {
  const all = patching(ctx).targetGroups;
  const byArn: string[] | undefined = input.TargetGroupArns;
  const byName: string[] | undefined = input.Names;
  const found = all.filter((g) => (!byArn || byArn.includes(g.arn)) && (!byName || byName.includes(g.name)));
  if ((byArn && found.length < byArn.length) || (byName && found.length < byName.length))
    throw new CloudApiError("TargetGroupNotFound", "One or more target groups not found");
  return {
    TargetGroups: found.map((g) => ({
      TargetGroupArn: g.arn,
      TargetGroupName: g.name,
      Protocol: "HTTP",
      Port: g.port,
      TargetType: "instance",
      HealthCheckPath: "/health",
    })),
  };
};

const describeTargetHealth: Op = (ctx, input) => {
  const g = group(ctx, input.TargetGroupArn);
  sweep(ctx, g);
  const asked: Array<{ Id: string; Port?: number }> | undefined = input.Targets;
  const list = asked
    ? asked.map((a) => ({ a, t: g.targets.find((t) => t.id === a.Id) }))
    : g.targets.map((t) => ({ a: { Id: t.id, Port: t.port }, t }));
  return {
    TargetHealthDescriptions: list.map(({ a, t }) => ({
      Target: { Id: a.Id, Port: t?.port ?? a.Port ?? g.port },
      HealthCheckPort: String(t?.port ?? g.port),
      TargetHealth: health(ctx, t),
    })),
  };
};

const registerTargets: Op = (ctx, input) => {
  const g = group(ctx, input.TargetGroupArn);
  sweep(ctx, g);
  for (const target of (input.Targets ?? []) as Array<{ Id: string; Port?: number }>) {
    const i = instanceRecord(ctx, target.Id);
    if (i?.state !== "running")
      throw new CloudApiError(
        "InvalidTarget",
        `The following targets are not in a running state and cannot be registered: '${target.Id}'`,
      );
    const existing = g.targets.find((t) => t.id === target.Id);
    // Registering a registered target changes nothing; a draining one is registered afresh.
    if (existing && existing.deregisteredAt === undefined) continue;
    g.targets = g.targets.filter((t) => t.id !== target.Id);
    g.targets.push({ id: target.Id, port: target.Port ?? g.port, registeredAt: ctx.now });
  }
  return {};
};

const deregisterTargets: Op = (ctx, input) => {
  const g = group(ctx, input.TargetGroupArn);
  sweep(ctx, g);
  for (const target of (input.Targets ?? []) as Array<{ Id: string }>) {
    const t = g.targets.find((x) => x.id === target.Id);
    if (!t)
      throw new CloudApiError(
        "InvalidTarget",
        `The following targets are not registered in target group: '${target.Id}'`,
      );
    t.deregisteredAt ??= ctx.now;
  }
  return {};
};

export const elbv2Operations: Record<string, Op> = {
  DescribeTargetGroups: describeTargetGroups,
  DescribeTargetHealth: describeTargetHealth,
  RegisterTargets: registerTargets,
  DeregisterTargets: deregisterTargets,
};
