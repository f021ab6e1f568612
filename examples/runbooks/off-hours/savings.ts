/**
 * Savings, estimated: the instance-hours a stop avoided × the on-demand price per hour of the
 * instance type, from the price table the user keeps in the config (`offHours.prices`, dated).
 * A stop is counted in whole minutes; a group counts its recorded desired capacity. A type the
 * table lacks is "unpriced" (never $0). EBS volumes of a stopped instance are still billed and
 * are not in the figure.
 */
import type { OffHours } from "./schedule.ts";

export interface Saving {
  target: string;
  kind: "instance" | "asg";
  from: string;
  to: string;
  /** Whole minutes stopped × instances (a group's recorded desired capacity). */
  instanceMinutes: number;
  instanceType?: string;
  /** USD, or "unpriced" when the price table has no price for the type. */
  dollars: number | "unpriced";
  priceAsOf?: string;
  costCenter?: string;
  /** The schedule the target was stopped by (stops recorded before it was kept have none). */
  schedule?: string;
  estimate: true;
  ebs: "still billed";
}

/** The saving of one stop that ended at `to`. */
export function savingOf(
  stop: {
    target: string;
    kind: "instance" | "asg";
    stoppedAt: string;
    instanceType?: string;
    capacity?: { desired: number };
    costCenter?: string;
    schedule?: string;
  },
  to: Date,
  prices: OffHours["prices"],
): Saving {
  const minutes = Math.max(0, Math.floor((to.getTime() - Date.parse(stop.stoppedAt)) / 60_000));
  const count = stop.kind === "asg" ? (stop.capacity?.desired ?? 0) : 1;
  const instanceMinutes = minutes * count;
  const price = stop.instanceType ? prices?.perHour[stop.instanceType] : undefined;
  return {
    target: stop.target,
    kind: stop.kind,
    from: stop.stoppedAt,
    to: to.toISOString(),
    instanceMinutes,
    ...(stop.instanceType ? { instanceType: stop.instanceType } : {}),
    dollars: price === undefined ? "unpriced" : Math.round((instanceMinutes / 60) * price * 100) / 100,
    ...(prices ? { priceAsOf: prices.asOf } : {}),
    ...(stop.costCenter ? { costCenter: stop.costCenter } : {}),
    ...(stop.schedule ? { schedule: stop.schedule } : {}),
    estimate: true,
    ebs: "still billed",
  };
}

/** Totals of a list of savings: instance-hours, dollars (priced ones), and how many were unpriced, by a key. */
export function totals(
  savings: Saving[],
  by: (s: Saving) => string = () => "all",
): Record<string, { instanceHours: number; dollars: number; unpriced: number }> {
  const out: Record<string, { instanceHours: number; dollars: number; unpriced: number }> = {};
  for (const s of savings) {
    const k = by(s);
    out[k] ??= { instanceHours: 0, dollars: 0, unpriced: 0 };
    out[k].instanceHours = Math.round((out[k].instanceHours + s.instanceMinutes / 60) * 100) / 100;
    if (s.dollars === "unpriced") out[k].unpriced++;
    else out[k].dollars = Math.round((out[k].dollars + s.dollars) * 100) / 100;
  }
  return out;
}

/** The query parameters the savings report takes. */
const REPORT_PARAMS = ["from", "to", "by"];

/**
 * The `savings` report (`GET /api/offhours/savings?from&to&by`, `reflex offhours report`): the
 * stops that ended in [from, to), totalled — instance-hours, estimated dollars, unpriced stops —
 * overall or by the CostCenter tag recorded with each stop.
 */
export async function savingsReport(
  query: Record<string, string>,
  ctx: { items(prefix: string): Promise<Array<{ key: string; value: Record<string, unknown> }>> },
): Promise<{ invalid: { path: string; message: string } } | Record<string, unknown>> {
  // A parameter it does not take (`since`, as /api/executions has) would be ignored: an all-time total.
  const unknown = Object.keys(query).find((k) => !REPORT_PARAMS.includes(k));
  if (unknown !== undefined)
    return {
      invalid: {
        path: unknown.slice(0, 64),
        message: `not a parameter of this report (it takes ${REPORT_PARAMS.join(", ")})`,
      },
    };
  const bound = (name: "from" | "to", none: number) => {
    const raw = query[name];
    if (raw === undefined) return none;
    const day = /^(\d{4})-(\d{2})-(\d{2})/.exec(raw);
    if (!day) return undefined;
    // Date.parse rolls a day the calendar lacks over (2026-02-30 is 2 March): refuse it instead.
    const [y, m, d] = [Number(day[1]), Number(day[2]), Number(day[3])];
    const date = new Date(Date.UTC(y, m - 1, d));
    if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d)
      return undefined;
    const t = Date.parse(raw);
    return Number.isNaN(t) ? undefined : t;
  };
  const from = bound("from", Number.NEGATIVE_INFINITY);
  const to = bound("to", Number.POSITIVE_INFINITY);
  if (from === undefined) return { invalid: { path: "from", message: "must be an ISO date or instant" } };
  if (to === undefined) return { invalid: { path: "to", message: "must be an ISO date or instant" } };
  // [from, to) with to not after from holds no stop: a typo, not "nothing saved".
  if (to <= from) return { invalid: { path: "to", message: `must be after from (${query.from})` } };
  if (query.by !== undefined && query.by !== "tag:CostCenter")
    return { invalid: { path: "by", message: "takes tag:CostCenter (the tag recorded with each stop)" } };
  const rows = (await ctx.items("saving#"))
    .map((i) => i.value as unknown as Saving)
    .filter((r) => Date.parse(r.to) >= from && Date.parse(r.to) < to);
  const byKey = totals(rows, query.by ? (s) => s.costCenter ?? "(none)" : undefined);
  return {
    estimate: true,
    ebs: "still billed",
    ...(query.from ? { from: query.from } : {}),
    ...(query.to ? { to: query.to } : {}),
    stops: rows.length,
    totals: Object.entries(byKey).map(([group, g]) => ({ group, ...g })),
  };
}
