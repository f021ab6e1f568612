/**
 * CloudWatch, as far as failover needs it: alarms (DescribeAlarms) and metric datapoints
 * (GetMetricData with MetricStat queries), both set by tests and `reflex chaos` through the
 * cloud's failover controls rather than by the code under test.
 */
import type { CompositeAlarm, MetricAlarm, MetricDataResult, StateValue } from "@aws-sdk/client-cloudwatch";
import { must } from "@reflex/core";
import { CloudApiError } from "./api-error.ts";
import type { OpContext, OpInput } from "./fleet.ts";
import { rdsMetricPoints } from "./rds.ts";

export interface AlarmRecord {
  name: string;
  /** A composite alarm (a rule over other alarms) rather than a metric alarm; default metric. */
  composite?: boolean;
  state: StateValue;
  reason: string;
  updatedAt: number;
}

export interface MetricPointRecord {
  namespace: string;
  metricName: string;
  /** `Name=Value` pairs, sorted, joined with `,`: one metric per distinct set. */
  dimensions: string;
  at: number;
  value: number;
}

export interface CloudWatchState {
  alarms: AlarmRecord[];
  metrics: MetricPointRecord[];
}

export function cloudWatchState(ctx: Pick<OpContext, "rs">): CloudWatchState {
  ctx.rs.cloudwatch ??= { alarms: [], metrics: [] };
  return ctx.rs.cloudwatch;
}

export const dimensionKey = (dims: Array<{ Name?: string; Value?: string }> | Record<string, string> = []) =>
  (Array.isArray(dims)
    ? dims.map((d) => `${d.Name}=${d.Value}`)
    : Object.entries(dims).map(([k, v]) => `${k}=${v}`)
  )
    .sort()
    .join(",");

/**
 * DescribeAlarms as AWS answers it: without `AlarmTypes` only metric alarms are returned
 * (composite alarms must be asked for with `AlarmTypes: ["CompositeAlarm"]`).
 */
function describeAlarms(
  ctx: OpContext,
  input: { AlarmNames?: string[]; AlarmNamePrefix?: string; StateValue?: string; AlarmTypes?: string[] },
) {
  const types = input.AlarmTypes?.length ? input.AlarmTypes : ["MetricAlarm"];
  for (const t of types)
    if (t !== "MetricAlarm" && t !== "CompositeAlarm")
      throw new CloudApiError(
        "ValidationError",
        `1 validation error detected: Value '${t}' at 'alarmTypes' failed to satisfy constraint: Member must satisfy enum value set: [CompositeAlarm, MetricAlarm]`,
      );
  const alarms = cloudWatchState(ctx).alarms.filter(
    (a) =>
      (!input.AlarmNames?.length || input.AlarmNames.includes(a.name)) &&
      (!input.AlarmNamePrefix || a.name.startsWith(input.AlarmNamePrefix)) &&
      (!input.StateValue || a.state === input.StateValue),
  );
  const common = (a: AlarmRecord) => ({
    AlarmName: a.name,
    AlarmArn: `arn:aws:cloudwatch:${ctx.region}:${ctx.state.accountId}:alarm:${a.name}`,
    StateValue: a.state,
    StateReason: a.reason,
    StateUpdatedTimestamp: new Date(a.updatedAt),
  });
  const metric: MetricAlarm[] = types.includes("MetricAlarm")
    ? alarms.filter((a) => !a.composite).map(common)
    : [];
  const composite: CompositeAlarm[] = types.includes("CompositeAlarm")
    ? alarms.filter((a) => a.composite).map((a) => ({ ...common(a), AlarmRule: "TRUE" }))
    : [];
  return { MetricAlarms: metric, CompositeAlarms: composite };
}

const STATS: Record<string, (v: number[]) => number> = {
  Maximum: (v) => Math.max(...v),
  Minimum: (v) => Math.min(...v),
  Sum: (v) => v.reduce((a, b) => a + b, 0),
  Average: (v) => v.reduce((a, b) => a + b, 0) / v.length,
  SampleCount: (v) => v.length,
};

/** MetricStat queries only (no expressions): datapoints in [StartTime, EndTime), per Period, newest first by default. */
function getMetricData(
  ctx: OpContext,
  input: {
    StartTime?: Date;
    EndTime?: Date;
    ScanBy?: string;
    MetricDataQueries?: Array<{
      Id?: string;
      MetricStat?: {
        Metric?: {
          Namespace?: string;
          MetricName?: string;
          Dimensions?: Array<{ Name?: string; Value?: string }>;
        };
        Period?: number;
        Stat?: string;
      };
    }>;
  },
) {
  const start = new Date(input.StartTime ?? 0).getTime();
  const end = new Date(input.EndTime ?? ctx.now).getTime();
  if (!(start < end))
    throw new CloudApiError(
      "ValidationError",
      "The parameter StartTime must be less than the parameter EndTime.",
    );
  const results: MetricDataResult[] = (input.MetricDataQueries ?? []).map((q) => {
    const stat = q.MetricStat;
    if (!stat?.Metric?.MetricName || !stat.Period || !stat.Stat || !STATS[stat.Stat])
      throw new CloudApiError(
        "ValidationError",
        `query ${q.Id}: the simulated cloud supports MetricStat queries with ${Object.keys(STATS).join(", ")}`,
      );
    const key = dimensionKey(stat.Metric.Dimensions);
    const periodMs = stat.Period * 1000;
    const buckets = new Map<number, number[]>();
    // Aurora readers report their replica lag themselves (rds.ts), beside the points tests put.
    for (const p of [...cloudWatchState(ctx).metrics, ...rdsMetricPoints(ctx)]) {
      if (
        p.namespace !== stat.Metric.Namespace ||
        p.metricName !== stat.Metric.MetricName ||
        p.dimensions !== key
      )
        continue;
      if (p.at < start || p.at >= end) continue;
      const bucket = Math.floor(p.at / periodMs) * periodMs;
      buckets.set(bucket, [...(buckets.get(bucket) ?? []), p.value]);
    }
    const times = [...buckets.keys()].sort((a, b) => (input.ScanBy === "TimestampAscending" ? a - b : b - a));
    return {
      Id: q.Id,
      Label: stat.Metric.MetricName,
      Timestamps: times.map((t) => new Date(t)),
      Values: times.map((t) => STATS[must(stat.Stat, "stat.Stat")](must(buckets.get(t), "buckets.get(t)"))),
      StatusCode: "Complete",
    };
  });
  return { MetricDataResults: results, Messages: [] };
}

export const cloudWatchOperations: Record<string, (ctx: OpContext, input: OpInput) => object> = {
  DescribeAlarms: describeAlarms,
  GetMetricData: getMetricData,
};
