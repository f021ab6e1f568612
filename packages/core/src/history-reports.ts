/**
 * A history's reports in the reports bucket (restore's drills, the manifest's `history`), written
 * when a run ends, so an auditor reads them without Reflex:
 *
 * - `reports/<route>/<name>/<YYYY-MM-DD>T<HHMMSS>Z.json` per run (its start time): the verdict
 *   and what the runbook's row says (for a drill: RTO by phase and RPO against the targets,
 *   the checksum, what it created, deleted and left);
 * - `reports/<route>/summary/<YYYY-MM>.json`: the month's compliance summary (History.summary),
 *   rewritten each time a run of that month is reported.
 *
 * The run has ended before its report is written (the execution-status function, after it closed
 * the run; the reconciler, after it closed a lost one), so a report that cannot be written never
 * changes the run's verdict: the failure is recorded on the run (`result.historyReport.pending`,
 * shown as the row's `report: pending: …`) and logged, and the reconciler writes it on its next
 * pass (every 15 minutes deployed; when local mode starts). Writing again is harmless: the same
 * keys, the same content.
 */
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { client } from "./aws.ts";
import { currentConfig } from "./config/index.ts";
import { requireEnv } from "./env.ts";
import * as History from "./history.ts";
import * as Runbooks from "./runbooks/index.ts";
import * as Executions from "./state/executions.ts";

const ENDED = new Set(["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]);
/** How many of each history runbook's newest runs the reconciler looks at for a report not written. */
const CATCH_UP = 100;

export interface Written {
  executionId: string;
  /** `s3://bucket/reports/<route>/<name>/<date>.json`. */
  report?: string;
  summary?: string;
  /** Why it could not be written (recorded on the run; the reconciler retries). */
  error?: string;
}

/** `2026-12-07T03:04:05.678Z` → `2026-12-07T030405Z`: sortable, no `:` in the key. */
function stamp(iso: string): string {
  return `${iso.slice(0, 10)}T${iso.slice(11, 19).replaceAll(":", "")}Z`;
}

function monthOf(iso: string): { month: string; from: string; to: string } {
  const d = new Date(iso);
  const from = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
  const to = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
  return { month: from.toISOString().slice(0, 7), from: from.toISOString(), to: to.toISOString() };
}

async function put(bucket: string, key: string, body: unknown): Promise<string> {
  await client(S3Client, "s3").send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: JSON.stringify(body, null, 2),
      ContentType: "application/json",
    }),
  );
  return `s3://${bucket}/${key}`;
}

/** The runbook keeping a history whose run this is, and the entry it names; undefined when none. */
function historyOf(e: Executions.Execution) {
  const r = Runbooks.list().find((x) => x.name === e.runbook && x.history);
  const name = r?.history ? e.params?.[r.history.param] : undefined;
  if (!r?.history || typeof name !== "string" || e.dryRun || !ENDED.has(e.status)) return undefined;
  return { r: r as Runbooks.Runbook & { history: Runbooks.RunHistory }, name };
}

/**
 * Writes the report of run `id` and its month's summary, when it is an ended run of a runbook
 * that keeps a history and its report is not written yet. Never throws for S3: a failure is
 * recorded on the run and returned (`error`), for the reconciler to retry.
 *
 * @example
 * await HistoryReports.write("drill-db-1-2026-12-07"); // { report: "s3://…/reports/drills/db-1/2026-12-07T040000Z.json", summary: "…/summary/2026-12.json" }
 */
export async function write(
  id: string,
  config = currentConfig(),
  now = new Date(),
): Promise<Written | undefined> {
  // Most runs are of runbooks that keep no history: no read of the record for them.
  if (!Runbooks.list().some((r) => r.history)) return undefined;
  const e = await Executions.find(id);
  const of = e && historyOf(e);
  if (!e || !of) return undefined;
  const previous = e.result?.historyReport as
    | { key?: string; summary?: string; attempts?: number }
    | undefined;
  if (previous?.key) return { executionId: id, report: previous.key, summary: previous.summary };
  const route = of.r.history.route;
  try {
    const bucket = requireEnv("REFLEX_BUCKET");
    // The entry's name as one key segment: a param with `/` or `..` stays under its own prefix.
    const report = await put(
      bucket,
      `reports/${route}/${encodeURIComponent(of.name)}/${stamp(e.startedAt)}.json`,
      {
        [route === "drills" ? "drill" : "name"]: of.name,
        runbook: of.r.name,
        ...History.rowOf(of.r, e),
        params: e.params,
        result: e.result,
        writtenAt: now.toISOString(),
      },
    );
    const period = monthOf(e.startedAt);
    const summary = await put(bucket, `reports/${route}/${Runbooks.HISTORY_SUMMARY}/${period.month}.json`, {
      ...(await History.summary(route, period, config)),
      writtenAt: now.toISOString(),
    });
    await Executions.setResult(id, { historyReport: { key: report, summary, writtenAt: now.toISOString() } });
    return { executionId: id, report, summary };
  } catch (err) {
    const error = `${(err as Error).name}: ${(err as Error).message}`.slice(0, 500);
    await Executions.setResult(id, {
      historyReport: { pending: true, error, attempts: (previous?.attempts ?? 0) + 1, at: now.toISOString() },
    });
    return { executionId: id, error };
  }
}

/**
 * The reconciler's pass: writes every report not written yet among the newest runs of each
 * runbook keeping a history (one that failed before, or a run the reconciler itself closed),
 * then this month's summary again — two drills ending at once each write the month's summary,
 * and the one computed first may land last; this pass puts the whole month back.
 */
export async function catchUp(config = currentConfig(), now = new Date()): Promise<Written[]> {
  const out: Written[] = [];
  for (const r of Runbooks.list().filter((x) => x.history)) {
    const route = (r.history as Runbooks.RunHistory).route;
    const page = await Executions.list({ runbook: r.name, limit: CATCH_UP });
    for (const listed of page.executions) {
      const e = await Executions.find(listed.id);
      if (!e || !historyOf(e) || (e.result?.historyReport as { key?: string } | undefined)?.key) continue;
      const written = await write(e.id, config, now);
      if (written) out.push(written);
    }
    const period = monthOf(now.toISOString());
    try {
      await put(
        requireEnv("REFLEX_BUCKET"),
        `reports/${route}/${Runbooks.HISTORY_SUMMARY}/${period.month}.json`,
        {
          ...(await History.summary(route, period, config)),
          writtenAt: now.toISOString(),
        },
      );
    } catch (err) {
      out.push({
        executionId: `summary:${route}/${period.month}`,
        error: `${(err as Error).name}: ${(err as Error).message}`,
      });
    }
  }
  return out;
}
