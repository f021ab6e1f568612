/**
 * db-failover's steps. Each reads the database first, so a retried switch never fails over
 * twice (a cluster already failing over, or already on the replica, is left alone), and the
 * switch back only moves the writer (or the zone) when it is not where it was.
 */
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  FailoverDBClusterCommand,
  RDSClient,
  RebootDBInstanceCommand,
} from "@aws-sdk/client-rds";
import {
  client,
  type Implementation,
  type RunInput,
  type StepContext,
  StepExecutionError,
  type TargetResult,
} from "@reflex/sdk";
import type { DbFailoverParams } from "./index.ts";

export interface Plan {
  kind: "aurora-cluster" | "rds-multi-az";
  id: string;
  region: string;
  /** Aurora: the writer before and the replica promoted; Multi-AZ: the zone before and the standby's. */
  from: string;
  to: string;
  lagMs?: number;
}

type Input = RunInput<DbFailoverParams> & {
  plan: Plan;
  switch?: { startedAt: string };
  failure?: { Error?: string; Cause?: string };
  switchBack?: { done: boolean; startedAt?: string };
};

const rds = (region: string) => client(RDSClient, "rds", region);
const hasTag = (
  tags: Array<{ Key?: string; Value?: string }> | undefined,
  t: { key: string; value: string },
) => tags?.some((x) => x.Key === t.key && x.Value === t.value) ?? false;
const regionOf = (p: DbFailoverParams) => p.region ?? process.env.AWS_REGION ?? "us-east-1";

async function cluster(region: string, id: string): Promise<DBCluster> {
  try {
    const c = (await rds(region).send(new DescribeDBClustersCommand({ DBClusterIdentifier: id })))
      .DBClusters?.[0];
    if (c) return c;
  } catch (err) {
    if ((err as Error).name !== "DBClusterNotFoundFault") throw err;
  }
  throw new StepExecutionError("DatabaseNotFound", `Aurora cluster ${id} does not exist in ${region}`);
}

async function instance(region: string, id: string): Promise<DBInstance> {
  try {
    const i = (await rds(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })))
      .DBInstances?.[0];
    if (i) return i;
  } catch (err) {
    if ((err as Error).name !== "DBInstanceNotFoundFault") throw err;
  }
  throw new StepExecutionError("DatabaseNotFound", `DB instance ${id} does not exist in ${region}`);
}

const writerOf = (c: DBCluster) => c.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;

/** The replica's AuroraReplicaLag, the highest of the last 5 minutes (ms), or undefined without datapoints. */
async function replicaLag(region: string, replica: string, now: Date): Promise<number | undefined> {
  const out = await client(CloudWatchClient, "cloudwatch", region).send(
    new GetMetricDataCommand({
      StartTime: new Date(now.getTime() - 5 * 60_000),
      EndTime: now,
      MetricDataQueries: [
        {
          Id: "lag",
          MetricStat: {
            Metric: {
              Namespace: "AWS/RDS",
              MetricName: "AuroraReplicaLag",
              Dimensions: [{ Name: "DBInstanceIdentifier", Value: replica }],
            },
            Period: 60,
            Stat: "Maximum",
          },
        },
      ],
    }),
  );
  const values = out.MetricDataResults?.[0]?.Values ?? [];
  return values.length ? Math.max(...values) : undefined;
}

async function alarmOk(region: string, name: string | undefined): Promise<string | undefined> {
  if (!name) return undefined;
  const out = await client(CloudWatchClient, "cloudwatch", region).send(
    new DescribeAlarmsCommand({ AlarmNames: [name], AlarmTypes: ["MetricAlarm", "CompositeAlarm"] }),
  );
  const a = out.MetricAlarms?.[0] ?? out.CompositeAlarms?.[0];
  if (!a) return `health alarm ${name} does not exist`;
  return a.StateValue === "OK" ? undefined : `health alarm ${name} is ${a.StateValue}`;
}

/** Refuses (recorded, then thrown) with the target and why: nothing has been changed. */
async function refuse(ctx: StepContext, target: TargetResult, code: string, why: string): Promise<never> {
  await ctx.record({
    summary: `refused: ${target.id} ${why}; nothing was changed`,
    targets: [{ ...target, status: "failed", reason: why }],
  });
  throw new StepExecutionError(code, `${target.id}: ${why}`);
}

/** Finds the database, refuses what cannot fail over, checks the target is ready, records the plan. Read-only. */
async function readiness(input: Input, ctx: StepContext): Promise<Plan> {
  const p = input.params;
  const region = regionOf(p);
  const verb = ctx.dryRun ? "would fail over" : "failing over";
  if (p.cluster) {
    const target: TargetResult = { id: p.cluster, kind: "aurora-cluster", status: "not-started" };
    const c = await cluster(region, p.cluster).catch((e) => refuse(ctx, target, e.code ?? e.name, e.message));
    if (!hasTag(c.TagList, ctx.automationTag))
      await refuse(
        ctx,
        target,
        "NotTagged",
        `does not carry the automation tag ${ctx.automationTag.key}=${ctx.automationTag.value}`,
      );
    if (c.Status !== "available") await refuse(ctx, target, "NotReady", `is ${c.Status}, not available`);
    const writer = writerOf(c) ?? "";
    const readers = (c.DBClusterMembers ?? [])
      .filter((m) => !m.IsClusterWriter)
      .sort((a, b) => (a.PromotionTier ?? 15) - (b.PromotionTier ?? 15));
    const to = p.promote ?? readers[0]?.DBInstanceIdentifier;
    if (!to) await refuse(ctx, target, "NoReplica", "has no reader to promote");
    if (to === writer) await refuse(ctx, target, "AlreadyWriter", `${to} is the writer already`);
    if (!readers.some((r) => r.DBInstanceIdentifier === to))
      await refuse(
        ctx,
        target,
        "NotAReplica",
        `${to} is not a reader of the cluster (its readers: ${readers.map((r) => r.DBInstanceIdentifier).join(", ") || "none"})`,
      );
    const replica = await instance(region, to as string);
    if (replica.DBInstanceStatus !== "available")
      await refuse(
        ctx,
        target,
        "NotReady",
        `its replica ${to} is ${replica.DBInstanceStatus}, not available`,
      );
    const lagMs = await replicaLag(region, to as string, ctx.now());
    if (lagMs === undefined)
      await refuse(ctx, target, "NotReady", `no AuroraReplicaLag datapoints for ${to} in the last 5 minutes`);
    if ((lagMs as number) >= p.maxReplicaLagMs)
      await refuse(
        ctx,
        target,
        "NotReady",
        `${to}'s AuroraReplicaLag is ${lagMs} ms, not under ${p.maxReplicaLagMs} ms`,
      );
    await ctx.record({
      summary: `${verb} Aurora cluster ${p.cluster}: writer ${writer} → ${to} (replica lag ${lagMs} ms)`,
      targets: [
        {
          ...target,
          reason: `${verb} to ${to}`,
          details: { writer: `${writer} → ${to}`, "replica lag ms": lagMs as number },
        },
      ],
    });
    return { kind: "aurora-cluster", id: p.cluster, region, from: writer, to: to as string, lagMs };
  }
  const id = p.instance as string;
  const target: TargetResult = { id, kind: "rds-multi-az", status: "not-started" };
  const i = await instance(region, id).catch((e) => refuse(ctx, target, e.code ?? e.name, e.message));
  if (!hasTag(i.TagList, ctx.automationTag))
    await refuse(
      ctx,
      target,
      "NotTagged",
      `does not carry the automation tag ${ctx.automationTag.key}=${ctx.automationTag.value}`,
    );
  if (i.DBClusterIdentifier)
    await refuse(
      ctx,
      target,
      "NotMultiAZ",
      `is a member of Aurora cluster ${i.DBClusterIdentifier}: fail over the cluster (cluster, promote)`,
    );
  if (!i.MultiAZ || !i.SecondaryAvailabilityZone)
    await refuse(ctx, target, "NotMultiAZ", "is not Multi-AZ: it has no standby to fail over to");
  if (i.DBInstanceStatus !== "available")
    await refuse(ctx, target, "NotReady", `is ${i.DBInstanceStatus}, not available`);
  const from = i.AvailabilityZone ?? "";
  const to = i.SecondaryAvailabilityZone as string;
  await ctx.record({
    summary: `${verb} Multi-AZ DB instance ${id}: ${from} → ${to} (reboot with failover)`,
    targets: [{ ...target, reason: `${verb} to its standby in ${to}`, details: { zone: `${from} → ${to}` } }],
  });
  return { kind: "rds-multi-az", id, region, from, to };
}

/** Starts the failover unless it has started or happened already. */
async function moveTo(plan: Plan, to: string): Promise<"started" | "in-progress" | "there"> {
  if (plan.kind === "aurora-cluster") {
    const c = await cluster(plan.region, plan.id);
    if (c.Status === "failing-over") return "in-progress";
    if (writerOf(c) === to) return "there";
    await rds(plan.region).send(
      new FailoverDBClusterCommand({ DBClusterIdentifier: plan.id, TargetDBInstanceIdentifier: to }),
    );
    return "started";
  }
  const i = await instance(plan.region, plan.id);
  if (i.DBInstanceStatus === "rebooting") return "in-progress";
  if (i.AvailabilityZone === to) return "there";
  await rds(plan.region).send(
    new RebootDBInstanceCommand({ DBInstanceIdentifier: plan.id, ForceFailover: true }),
  );
  return "started";
}

async function switchOver(input: Input, ctx: StepContext): Promise<{ startedAt: string; outcome: string }> {
  const outcome = await moveTo(input.plan, input.plan.to);
  return { startedAt: ctx.now().toISOString(), outcome };
}

/** Is the database where `to` says, available (and its health alarm OK)? Undefined when yes, else why not. */
async function notThere(plan: Plan, to: string, healthAlarm?: string): Promise<string | undefined> {
  if (plan.kind === "aurora-cluster") {
    const c = await cluster(plan.region, plan.id);
    if (c.Status !== "available") return `cluster is ${c.Status}`;
    const writer = writerOf(c);
    if (writer !== to) return `the writer is ${writer}, not ${to}`;
    const w = await instance(plan.region, to);
    if (w.DBInstanceStatus !== "available") return `writer ${to} is ${w.DBInstanceStatus}`;
  } else {
    const i = await instance(plan.region, plan.id);
    if (i.DBInstanceStatus !== "available") return `instance is ${i.DBInstanceStatus}`;
    if (i.AvailabilityZone !== to) return `instance is in ${i.AvailabilityZone}, not ${to}`;
  }
  return alarmOk(plan.region, healthAlarm);
}

function target(plan: Plan, status: TargetResult["status"], reason: string): TargetResult {
  return {
    id: plan.id,
    kind: plan.kind,
    status,
    reason,
    details:
      plan.kind === "aurora-cluster"
        ? { writer: `${plan.from} → ${plan.to}` }
        : { zone: `${plan.from} → ${plan.to}` },
  };
}

/** Done once the writer is the replica (or the instance is in the standby's zone), available, and healthy; fails past the verify timeout. */
async function verify(input: Input, ctx: StepContext): Promise<{ done: boolean }> {
  const { plan } = input;
  const why = await notThere(plan, plan.to, input.params.healthAlarm);
  if (!why) {
    const took = ctx.now().getTime() - Date.parse(input.switch?.startedAt ?? input.execution.startedAt);
    await ctx.record({
      summary: `${plan.id} failed over: ${plan.kind === "aurora-cluster" ? "writer" : "zone"} ${plan.from} → ${plan.to}, verified in ${(took / 1000).toFixed(1)} s`,
      targets: [target(plan, "succeeded", `now on ${plan.to}, verified`)],
    });
    return { done: true };
  }
  const deadline =
    Date.parse(input.switch?.startedAt ?? input.execution.startedAt) +
    input.params.verifyTimeoutSeconds * 1000;
  if (ctx.now().getTime() > deadline)
    throw new StepExecutionError(
      "VerifyFailed",
      `not verified within ${input.params.verifyTimeoutSeconds} s: ${why}`,
    );
  return { done: false };
}

/** Rollback: moves the writer (or the zone) back once the failover has settled; done once the move back has started or is not needed. */
async function switchBack(input: Input, ctx: StepContext): Promise<{ done: boolean; startedAt?: string }> {
  const outcome = await moveTo(input.plan, input.plan.from);
  if (outcome === "in-progress") return { done: false };
  return { done: true, startedAt: ctx.now().toISOString() };
}

async function verifySwitchBack(input: Input, ctx: StepContext): Promise<{ done: boolean }> {
  const { plan } = input;
  const why = await notThere(plan, plan.from);
  const cause = `${input.failure?.Error ?? "error"}: ${input.failure?.Cause ?? ""}`.slice(0, 300);
  if (!why) {
    await ctx.record({
      summary: `${plan.id} did not fail over (${cause}); switched back to ${plan.from}, verified`,
      targets: [
        target(
          plan,
          "rolled-back",
          `switched back to ${plan.from} after ${input.failure?.Error ?? "a failure"}`,
        ),
      ],
    });
    return { done: true };
  }
  const since = Date.parse(input.switchBack?.startedAt ?? ctx.now().toISOString());
  if (ctx.now().getTime() > since + input.params.verifyTimeoutSeconds * 1000)
    throw new StepExecutionError("SwitchBackFailed", `switch back to ${plan.from} not verified: ${why}`);
  return { done: false };
}

export const implementation: Implementation = {
  steps: { readiness, switchOver, verify, switchBack, verifySwitchBack },
};
