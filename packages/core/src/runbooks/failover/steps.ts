/**
 * The failover steps, one per Task state: readiness of the standby → the plan → (approval) →
 * the switch (Elastic IP and/or Route 53 record) → wait for the record change to be INSYNC →
 * verify → record the new roles. Every mutating step reads the current state first and does
 * only what is still missing, so a retried step never acts twice.
 */
import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import {
  type Address,
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeInstanceStatusCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from "@aws-sdk/client-route-53";
import { client } from "../../aws.ts";
import { currentConfig } from "../../config/index.ts";
import type { Pair } from "../../config/schema.ts";
import { region as defaultRegion } from "../../env.ts";
import { must, StepExecutionError } from "../../errors.ts";
import * as Executions from "../../state/executions.ts";
import * as Pairs from "../../state/pairs.ts";
import type { RunInput, StepContext } from "../define.ts";
import type { FailoverParams } from "./params.ts";
import { probeHealth } from "./probe.ts";

export const RUNBOOK = "failover";

type Side = Pair["primary"];

/** One side of the pair as a run sees it. */
export interface SideView {
  instance: string;
  recordValue?: string;
}

/** One check of the standby, with what it found. */
export interface Check {
  check: "instance" | "status-checks" | "health" | "readiness-metric";
  ok: boolean;
  detail: string;
}

export interface Readiness {
  pair: string;
  region: string;
  /** The current primary (the run moves away from it) and the standby (it moves to). */
  from: SideView;
  to: SideView;
  /** Set when the run has nothing to do (the event was not about the current primary). */
  skipped?: string;
  checks: Check[];
}

export interface SwitchPlan {
  pair: string;
  region: string;
  from: SideView;
  to: SideView;
  elasticIp?: { allocationId: string; publicIp?: string; from?: string; to: string };
  record?: { hostedZoneId: string; name: string; type: string; ttl: number; from: string[]; to: string };
  actions: string[];
}

/** Progress of a switch (or a switch back): what it did, and whether the record change is INSYNC. */
export interface SwitchProgress {
  towards: string;
  actions: string[];
  changeId?: string;
  inSync: boolean;
  since: string;
}

export interface VerifyProgress {
  done: boolean;
  checks: Check[];
  since: string;
}

export type FailoverInput = RunInput<FailoverParams> & {
  readiness?: Readiness;
  plan?: SwitchPlan;
  switch?: SwitchProgress;
  verify?: VerifyProgress;
  switchBack?: SwitchProgress;
  switchBackVerify?: VerifyProgress;
  failure?: { Error?: string; Cause?: string };
};

/** The pair from the config in force; a run of a pair the config no longer has fails clearly. */
export function pairOf(name: string): Pair {
  const pairs = currentConfig().pairs;
  const pair = pairs.find((p) => p.name === name);
  if (!pair)
    throw new StepExecutionError(
      "UnknownPair",
      `unknown pair '${name}'; ${pairs.length ? `known pairs: ${pairs.map((p) => p.name).join(", ")}` : "the config defines no pairs"}`,
    );
  return pair;
}

export const regionOf = (pair: Pair) => pair.region ?? defaultRegion();
const view = (s: Side): SideView => ({
  instance: s.instance,
  ...(s.recordValue ? { recordValue: s.recordValue } : {}),
});
const sideOf = (pair: Pair, instance: string): Side =>
  pair.primary.instance === instance ? pair.primary : pair.standby;
const route53 = () => client(Route53Client, "route53", "us-east-1");
// Not adapters/ec2.ts: it carries the snapshot paginators, which failover neither calls nor is granted.
const ec2 = (region: string) => client(EC2Client, "ec2", region);
const fqdn = (name: string) => `${name.toLowerCase().replace(/\.$/, "")}.`;
const zoneId = (id: string) => id.replace(/^\/hostedzone\//, "");

/** What serves the pair's traffic now, read back from the cloud. */
export interface Serving {
  /** The instance the Elastic IP is associated with (null: none), when the pair has one. */
  elasticIpOn?: string | null;
  /** The record's values, when the pair has one. */
  recordValues?: string[];
  /** The side everything points at; undefined when the pointers disagree or name neither side. */
  primary?: string;
  /** Why no side is primary. */
  why?: string;
}

/** Reads the Elastic IP's association and the record's value, and says which side they point at. */
export async function servingNow(pair: Pair): Promise<Serving> {
  const region = regionOf(pair);
  const out: Serving = {};
  const pointers: Array<{ what: string; at?: string }> = [];
  if (pair.elasticIp) {
    const address = await describeAddress(region, pair.elasticIp.allocationId);
    out.elasticIpOn = address.InstanceId ?? null;
    pointers.push({
      what: `Elastic IP ${address.PublicIp} is on ${address.InstanceId ?? "nothing"}`,
      at: address.InstanceId,
    });
  }
  if (pair.record) {
    const { values } = await recordValues(pair);
    out.recordValues = values;
    const side = [pair.primary, pair.standby].find((s) => values.length === 1 && s.recordValue === values[0]);
    pointers.push({
      what: `${fqdn(pair.record.name)} is ${values.join(", ") || "(none)"}`,
      at: side?.instance,
    });
  }
  const members = [pair.primary.instance, pair.standby.instance];
  const first = pointers[0]?.at;
  if (first && members.includes(first) && pointers.every((p) => p.at === first))
    return { ...out, primary: first };
  return {
    ...out,
    why: `what serves traffic does not name one side of the pair (${members.join(", ")}): ${pointers.map((p) => p.what).join("; ")}`,
  };
}

/**
 * Who is primary now: the side that serves traffic (the Elastic IP's association and the
 * record's value, read back from the cloud), not only what was recorded — a run that died
 * mid-switch left the record behind the cloud. When the record disagrees, or a switch was left
 * intended, the roles are recorded from the cloud; when the cloud itself disagrees (the Elastic
 * IP on one side, the record on the other), the pair is marked as needing attention and nothing
 * is decided (`PairNeedsAttention`).
 */
export async function currentRoles(
  pair: Pair,
  ctx: Pick<StepContext, "executionId" | "now">,
): Promise<{ from: Side; to: Side }> {
  const recorded = await Pairs.get(pair.name);
  const primary = await reconcileRoles(pair, recorded, ctx.executionId, ctx.now());
  const from = sideOf(pair, primary);
  return { from, to: from === pair.primary ? pair.standby : pair.primary };
}

/**
 * Puts the pair's record right from what serves traffic; returns the primary. Used by every
 * failover before it decides anything, and by the reconciler for a lost failover run.
 */
export async function reconcileRoles(
  pair: Pair,
  recorded: Pairs.PairRecord | undefined,
  by: string,
  now: Date,
): Promise<string> {
  const serving = await servingNow(pair);
  if (!serving.primary) {
    await Pairs.markAttention(pair.name, {
      reason: must(serving.why, "serving.why"),
      since: recorded?.attention?.since ?? now.toISOString(),
      ...(serving.elasticIpOn !== undefined ? { elasticIpOn: serving.elasticIpOn } : {}),
      ...(serving.recordValues ? { recordValues: serving.recordValues } : {}),
    });
    throw new StepExecutionError(
      "PairNeedsAttention",
      `pair ${pair.name} needs a person: ${serving.why}${recorded?.switching ? `; run ${recorded.switching.executionId} was switching it to ${recorded.switching.towards}` : ""}. Point the Elastic IP and the record at one side; the next run records it`,
    );
  }
  const recordedPrimary = recorded?.primary ?? pair.primary.instance;
  if (serving.primary !== recordedPrimary || recorded?.switching || recorded?.attention) {
    await Pairs.settle({
      pair: pair.name,
      primary: serving.primary,
      standby: serving.primary === pair.primary.instance ? pair.standby.instance : pair.primary.instance,
      since: now.toISOString(),
      executionId: recorded?.switching?.executionId ?? by,
    });
  }
  return serving.primary;
}

async function instanceChecks(instance: string, region: string): Promise<Check[]> {
  const out = await ec2(region).send(
    new DescribeInstanceStatusCommand({ InstanceIds: [instance], IncludeAllInstances: true }),
  );
  const status = out.InstanceStatuses?.[0];
  const state = status?.InstanceState?.Name ?? "not found";
  const system = status?.SystemStatus?.Status ?? "unknown";
  const own = status?.InstanceStatus?.Status ?? "unknown";
  return [
    { check: "instance", ok: state === "running", detail: `instance ${instance} is ${state}` },
    {
      check: "status-checks",
      ok: system === "ok" && own === "ok",
      detail: `system status ${system}, instance status ${own}`,
    },
  ];
}

async function metricCheck(
  pair: Pair,
  standby: string,
  region: string,
  now: Date,
): Promise<Check | undefined> {
  const r = pair.readiness;
  if (!r) return undefined;
  const dimensions = Object.entries(r.dimensions).map(([Name, Value]) => ({
    Name,
    Value: Value === "$instance" ? standby : Value,
  }));
  const out = await client(CloudWatchClient, "cloudwatch", region).send(
    new GetMetricDataCommand({
      StartTime: new Date(now.getTime() - r.within),
      EndTime: now,
      ScanBy: "TimestampDescending",
      MetricDataQueries: [
        {
          Id: "readiness",
          MetricStat: {
            Metric: { Namespace: r.namespace, MetricName: r.metricName, Dimensions: dimensions },
            Period: 60,
            Stat: r.statistic,
          },
        },
      ],
    }),
  );
  const result = out.MetricDataResults?.find((m) => m.Id === "readiness");
  const value = result?.Values?.[0];
  const what = `${r.namespace}/${r.metricName} (${r.statistic})`;
  if (value === undefined)
    return {
      check: "readiness-metric",
      ok: false,
      detail: `${what}: no datapoint in the last ${r.within / 1000}s`,
    };
  const ok =
    r.comparison === "<"
      ? value < r.threshold
      : r.comparison === "<="
        ? value <= r.threshold
        : r.comparison === ">"
          ? value > r.threshold
          : value >= r.threshold;
  return {
    check: "readiness-metric",
    ok,
    detail: `${what} is ${value}; must be ${r.comparison} ${r.threshold}`,
  };
}

/**
 * Is the standby ready to take over? Running, both status checks OK, its health probe OK, the
 * readiness metric within bounds. Not ready: fails with `StandbyNotReady` and every reason,
 * before anything changed. An event about an instance that is not the current primary ends
 * the run, skipped.
 */
export async function checkReadiness(input: FailoverInput, ctx: StepContext): Promise<Readiness> {
  const pair = pairOf(input.params.pair);
  const region = regionOf(pair);
  const { from, to } = await currentRoles(pair, ctx);
  const base = { pair: pair.name, region, from: view(from), to: view(to) };
  const about = input.params.ifPrimary;
  if (
    about &&
    about !== from.instance &&
    !(from.health && "alarm" in from.health && from.health.alarm === about)
  ) {
    const skipped = `${about} is not the current primary of pair ${pair.name} (${from.instance}): nothing to fail over`;
    await Executions.setResult(ctx.executionId, { summary: `skipped: ${skipped}` });
    return { ...base, skipped, checks: [] };
  }
  const health = await probeHealth(to.health, region);
  const checks: Check[] = [
    ...(await instanceChecks(to.instance, region)),
    { check: "health", ok: health.ok, detail: health.detail },
  ];
  const metric = await metricCheck(pair, to.instance, region, ctx.now());
  if (metric) checks.push(metric);
  await Executions.setResult(ctx.executionId, { readiness: { standby: to.instance, checks } });
  const failed = checks.filter((c) => !c.ok);
  if (failed.length)
    throw new StepExecutionError(
      "StandbyNotReady",
      `standby ${to.instance} of pair ${pair.name} is not ready: ${failed.map((c) => c.detail).join("; ")}`,
    );
  return { ...base, checks };
}

async function describeAddress(region: string, allocationId: string): Promise<Address> {
  const out = await ec2(region).send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }));
  const address = out.Addresses?.[0];
  if (!address)
    throw new StepExecutionError("AddressNotFound", `Elastic IP ${allocationId} does not exist in ${region}`);
  return address;
}

/** The values the pair's record has now (empty when it does not exist). */
async function recordValues(pair: Pair): Promise<{ values: string[]; ttl?: number }> {
  const r = must(pair.record, "pair.record");
  const out = await route53().send(
    new ListResourceRecordSetsCommand({
      HostedZoneId: zoneId(r.hostedZoneId),
      StartRecordName: r.name,
      StartRecordType: r.type,
      MaxItems: 1,
    }),
  );
  const set = out.ResourceRecordSets?.find((s) => fqdn(s.Name ?? "") === fqdn(r.name) && s.Type === r.type);
  return { values: (set?.ResourceRecords ?? []).map((v) => v.Value ?? ""), ttl: set?.TTL };
}

/** What will move where: the Elastic IP's association, the record's value and TTL. Read-only. */
export async function planSwitch(input: FailoverInput, ctx: StepContext): Promise<SwitchPlan> {
  const readiness = must(input.readiness, "input.readiness");
  const pair = pairOf(readiness.pair);
  const { region, from, to } = readiness;
  const actions: string[] = [];
  const plan: SwitchPlan = { pair: pair.name, region, from, to, actions };
  if (pair.elasticIp) {
    const address = await describeAddress(region, pair.elasticIp.allocationId);
    plan.elasticIp = {
      allocationId: pair.elasticIp.allocationId,
      publicIp: address.PublicIp,
      from: address.InstanceId,
      to: to.instance,
    };
    actions.push(
      address.InstanceId === to.instance
        ? `Elastic IP ${address.PublicIp} is already on ${to.instance}`
        : `move Elastic IP ${address.PublicIp} (${pair.elasticIp.allocationId}) from ${address.InstanceId ?? "nothing"} to ${to.instance} (AssociateAddress, AllowReassociation)`,
    );
  }
  if (pair.record) {
    const now = await recordValues(pair);
    plan.record = {
      hostedZoneId: zoneId(pair.record.hostedZoneId),
      name: fqdn(pair.record.name),
      type: pair.record.type,
      ttl: pair.record.ttl,
      from: now.values,
      to: must(to.recordValue, "to.recordValue"),
    };
    actions.push(
      `set ${pair.record.type} ${fqdn(pair.record.name)} from ${now.values.join(", ") || "(none)"} to ${to.recordValue} (UPSERT, TTL ${pair.record.ttl}s; clients may keep the old value up to ${now.ttl ?? pair.record.ttl}s) and wait for INSYNC`,
    );
  }
  actions.push(`verify, then record ${to.instance} as primary of ${pair.name}`);
  await Executions.setResult(ctx.executionId, {
    plan,
    summary: `${ctx.dryRun ? "dry-run: would fail over" : "planned: fail over"} ${pair.name} from ${from.instance} to ${to.instance}`,
  });
  return plan;
}

/**
 * Points the Elastic IP and/or the record at `target`, doing only what is not already so, and
 * reports whether the record change is INSYNC yet. Used for the switch and the switch back.
 */
export async function pointAt(
  pair: Pair,
  target: SideView,
  ctx: StepContext,
  previous?: SwitchProgress,
): Promise<SwitchProgress> {
  const region = regionOf(pair);
  const actions = [...(previous?.actions ?? [])];
  let changeId = previous?.changeId;
  if (pair.elasticIp) {
    const address = await describeAddress(region, pair.elasticIp.allocationId);
    if (address.InstanceId !== target.instance) {
      await ec2(region).send(
        new AssociateAddressCommand({
          AllocationId: pair.elasticIp.allocationId,
          InstanceId: target.instance,
          AllowReassociation: true,
        }),
      );
      actions.push(`AssociateAddress ${address.PublicIp} → ${target.instance}`);
    }
  }
  if (pair.record) {
    const { values } = await recordValues(pair);
    if (values.length !== 1 || values[0] !== target.recordValue) {
      const out = await route53().send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId(pair.record.hostedZoneId),
          ChangeBatch: {
            Comment: `Reflex ${RUNBOOK} ${ctx.executionId}: ${pair.name} → ${target.instance}`,
            Changes: [
              {
                Action: "UPSERT",
                ResourceRecordSet: {
                  Name: fqdn(pair.record.name),
                  Type: pair.record.type,
                  TTL: pair.record.ttl,
                  ResourceRecords: [{ Value: target.recordValue }],
                },
              },
            ],
          },
        }),
      );
      changeId = out.ChangeInfo?.Id;
      actions.push(`UPSERT ${pair.record.type} ${fqdn(pair.record.name)} → ${target.recordValue}`);
    }
  }
  const progress: SwitchProgress = {
    towards: target.instance,
    actions,
    ...(changeId ? { changeId } : {}),
    inSync: false,
    since: previous?.since ?? ctx.now().toISOString(),
  };
  return { ...progress, inSync: await changeInSync(progress) };
}

async function changeInSync(progress: SwitchProgress): Promise<boolean> {
  if (!progress.changeId) return true;
  const out = await route53().send(new GetChangeCommand({ Id: progress.changeId }));
  return out.ChangeInfo?.Status === "INSYNC";
}

/** How long a switch may take to be INSYNC and verified, from the time it began. */
function checkDeadline(pair: Pair, since: string, ctx: StepContext, error: string, what: () => string): void {
  const waited = ctx.now().getTime() - Date.parse(since);
  if (waited > pair.verifyTimeout)
    throw new StepExecutionError(
      error,
      `${what()} after ${Math.round(waited / 1000)}s (verifyTimeout ${pair.verifyTimeout / 1000}s)`,
    );
}

/** The switch: the Elastic IP to the standby (AllowReassociation) and/or the record UPSERT. */
export async function switchOver(input: FailoverInput, ctx: StepContext): Promise<SwitchProgress> {
  const pair = pairOf(input.params.pair);
  // The intent first: a crash after AssociateAddress or the record change leaves it, and the
  // next run (or the reconciler) settles the roles from what the cloud then says.
  await Pairs.recordIntent(pair.name, {
    executionId: ctx.executionId,
    from: must(input.plan, "input.plan").from.instance,
    towards: must(input.plan, "input.plan").to.instance,
    since: ctx.now().toISOString(),
  });
  const progress = await pointAt(pair, must(input.plan, "input.plan").to, ctx);
  await Executions.setResult(ctx.executionId, { switched: { ...progress, at: ctx.now().toISOString() } });
  return progress;
}

/** One poll of the record change (GetChange), until INSYNC or the pair's verifyTimeout. */
export async function awaitChange(input: FailoverInput, ctx: StepContext): Promise<SwitchProgress> {
  return pollChange(input, must(input.switch, "input.switch"), ctx);
}

export async function pollChange(
  input: FailoverInput,
  progress: SwitchProgress,
  ctx: StepContext,
): Promise<SwitchProgress> {
  const pair = pairOf(input.params.pair);
  const inSync = await changeInSync(progress);
  if (!inSync)
    checkDeadline(
      pair,
      progress.since,
      ctx,
      "ChangeNotInSync",
      () => `Route 53 change ${progress.changeId} is still PENDING`,
    );
  return { ...progress, inSync };
}

/** Checks, once, that the Elastic IP and the record point at `target` and that it is healthy. */
export async function checkPointsAt(pair: Pair, target: SideView): Promise<Check[]> {
  const region = regionOf(pair);
  const side = sideOf(pair, target.instance);
  const checks: Check[] = [];
  if (pair.elasticIp) {
    const address = await describeAddress(region, pair.elasticIp.allocationId);
    checks.push({
      check: "instance",
      ok: address.InstanceId === target.instance,
      detail: `Elastic IP ${address.PublicIp} is on ${address.InstanceId ?? "nothing"}`,
    });
  }
  if (pair.record) {
    const { values } = await recordValues(pair);
    checks.push({
      check: "instance",
      ok: values.length === 1 && values[0] === target.recordValue,
      detail: `${fqdn(pair.record.name)} is ${values.join(", ") || "(none)"}`,
    });
  }
  const health = await probeHealth(side.health, region);
  checks.push({ check: "health", ok: health.ok, detail: `${target.instance}: ${health.detail}` });
  return checks;
}

/** One round of verify: done when everything points at the standby and it is healthy. */
export async function verifySwitch(input: FailoverInput, ctx: StepContext): Promise<VerifyProgress> {
  return verifyRound(input, must(input.plan, "input.plan").to, input.verify, "VerifyFailed", ctx);
}

export async function verifyRound(
  input: FailoverInput,
  target: SideView,
  previous: VerifyProgress | undefined,
  error: string,
  ctx: StepContext,
): Promise<VerifyProgress> {
  const pair = pairOf(input.params.pair);
  const since = previous?.since ?? ctx.now().toISOString();
  const checks = await checkPointsAt(pair, target);
  const failed = checks.filter((c) => !c.ok);
  if (failed.length)
    checkDeadline(
      pair,
      since,
      ctx,
      error,
      () => `${target.instance} is not verified: ${failed.map((c) => c.detail).join("; ")}`,
    );
  return { done: failed.length === 0, checks, since };
}

/** Records the new roles, so the next failover of the pair goes the other way. */
export async function recordRoles(input: FailoverInput, ctx: StepContext): Promise<Pairs.PairRoles> {
  const plan = must(input.plan, "input.plan");
  const roles: Pairs.PairRoles = {
    pair: plan.pair,
    primary: plan.to.instance,
    standby: plan.from.instance,
    since: ctx.now().toISOString(),
    executionId: ctx.executionId,
  };
  await Pairs.recordRoles(roles, plan.from.instance);
  await Executions.setResult(ctx.executionId, {
    roles,
    verified: input.verify?.checks,
    summary: `failed over ${plan.pair}: ${plan.to.instance} is primary, ${plan.from.instance} standby`,
  });
  return roles;
}

/**
 * For the reconciler: a lost failover run may have moved the Elastic IP or the record and died
 * before it recorded the roles. Reads back what serves traffic and records the roles from it
 * (DynamoDB only; no change to the cloud), or marks the pair as needing attention when the
 * Elastic IP and the record disagree.
 */
export async function inspectLostFailover(e: {
  id: string;
  params: Record<string, unknown>;
}): Promise<Record<string, unknown>> {
  const pair = pairOf(String(e.params.pair));
  const recorded = await Pairs.get(pair.name);
  const intended = recorded?.switching?.executionId === e.id ? recorded.switching : undefined;
  try {
    const primary = await reconcileRoles(pair, recorded, e.id, new Date());
    return {
      pair: pair.name,
      ...(intended
        ? { intended: { from: intended.from, towards: intended.towards, since: intended.since } }
        : {}),
      primary,
      note: intended
        ? `the run was switching ${pair.name} to ${intended.towards}; what serves traffic says ${primary} is primary, and that is recorded`
        : `the run was lost before it began a switch; ${primary} serves traffic`,
    };
  } catch (err) {
    if (!(err instanceof StepExecutionError && err.code === "PairNeedsAttention")) throw err;
    return { pair: pair.name, ...(intended ? { intended } : {}), attention: (err as Error).message };
  }
}
