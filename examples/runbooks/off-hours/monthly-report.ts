/**
 * The monthly savings report, `reports/offhours/<yyyy-mm>.json` in the reports bucket: written
 * by the first tick after a (UTC) month closes — the ticks already run every few minutes, so no
 * other schedule is needed — and once: a `report#<yyyy-mm>` item says it is written, and the
 * report is computed only from stops that ended inside the month, so a second writer (two
 * schedules' ticks at once) writes the same bytes. A report that cannot be written is tried again
 * by the next tick; it never fails the tick.
 *
 * What it holds: instance-hours avoided and dollars saved in total and by target, by schedule and
 * by the CostCenter tag; the stops whose type the price table lacks (unpriced, never $0); EBS
 * volumes "still billed" (not in the figures). A stop across the month's end counts in the month
 * it ended, as `GET /api/offhours/savings` counts it.
 */
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { client, type StepContext } from "@reflex/sdk";
import { type Saving, totals } from "./savings.ts";
import type { OffHours } from "./schedule.ts";

/** Where a month's report goes in the reports bucket. */
export const reportKey = (month: string) => `reports/offhours/${month}.json`;

/** The month (`yyyy-mm`, UTC) before the one `at` is in: the last one closed. */
export function closedMonth(at: Date): { month: string; from: string; to: string } {
  const to = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
  const from = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth() - 1, 1));
  return { month: from.toISOString().slice(0, 7), from: from.toISOString(), to: to.toISOString() };
}

const rows = (t: ReturnType<typeof totals>) =>
  Object.entries(t)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([group, g]) => ({ group, ...g }));

/** The report of one closed month, from the savings its stops recorded. Pure: the same savings, the same report. */
export function monthlyReport(
  savings: Saving[],
  month: ReturnType<typeof closedMonth>,
  prices: OffHours["prices"],
): Record<string, unknown> {
  const inMonth = savings
    .filter((s) => s.to >= month.from && s.to < month.to)
    .sort((a, b) => a.to.localeCompare(b.to) || a.target.localeCompare(b.target));
  const all = totals(inMonth).all ?? { instanceHours: 0, dollars: 0, unpriced: 0 };
  return {
    report: "off-hours savings",
    month: month.month,
    from: month.from,
    to: month.to,
    estimate: true,
    prices: prices ? { asOf: prices.asOf, region: prices.region } : null,
    ebs: "still billed: the EBS volumes of stopped instances are billed as before and are not in these figures",
    stops: inMonth.length,
    instanceHours: all.instanceHours,
    dollars: all.dollars,
    unpriced: inMonth
      .filter((s) => s.dollars === "unpriced")
      .map((s) => ({
        target: s.target,
        instanceType: s.instanceType ?? null,
        instanceHours: Math.round((s.instanceMinutes / 60) * 100) / 100,
      })),
    byTarget: rows(totals(inMonth, (s) => s.target)),
    bySchedule: rows(totals(inMonth, (s) => s.schedule ?? "(none)")),
    byTag: { CostCenter: rows(totals(inMonth, (s) => s.costCenter ?? "(none)")) },
  };
}

/**
 * Writes the last closed month's report unless it is written; answers what it did. Never throws:
 * a failure is reported and the next tick tries again.
 */
export async function writeMonthlyReport(
  ctx: StepContext,
  cfg: OffHours,
  at: Date,
): Promise<{ month: string; key?: string; written: boolean; error?: string }> {
  const month = closedMonth(at);
  const items = ctx.items;
  if (!items) return { month: month.month, written: false, error: "no item store" };
  try {
    if ((await items.list(`report#${month.month}`)).length > 0) return { month: month.month, written: false };
    const savings = (await items.list("saving#")).map((i) => i.value as unknown as Saving);
    const report = monthlyReport(savings, month, cfg.prices);
    const bucket = process.env.REFLEX_BUCKET;
    if (!bucket) throw new Error("REFLEX_BUCKET is not set: there is no reports bucket to write to");
    const key = reportKey(month.month);
    await client(S3Client, "s3").send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: `${JSON.stringify(report, null, 2)}\n`,
        ContentType: "application/json",
      }),
    );
    await items.put(`report#${month.month}`, {
      month: month.month,
      key: `s3://${bucket}/${key}`,
      at: at.toISOString(),
    });
    return { month: month.month, key: `s3://${bucket}/${key}`, written: true };
  } catch (err) {
    return { month: month.month, written: false, error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}
