/**
 * The reconciler, on a schedule (every 15 minutes): closes runs whose end Reflex never heard of
 * (a lost status event, a start that never reached Step Functions), releasing their locks.
 *
 * Each closed run is a lost run, which pages: the count goes out as an EMF metric
 * (`Reflex/RunsLost`, dimension `Deployment` = `<app>-<stage>`, the bus name), which the
 * Observability stack alarms on.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { AuditExport, HistoryReports, Locations, Runs, requireEnv, Steps } from "@reflex/core";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";

loadConfigFromEnv();

/** Must match stacks/observability.ts's LOST_RUNS_METRIC (stacks.test.ts checks it). */
export const LOST_RUNS_METRIC = { namespace: "Reflex", name: "RunsLost", dimension: "Deployment" } as const;

/** One CloudWatch embedded-metric-format line: Lambda's stdout is read as EMF when a line is this JSON. */
export function lostRunsEmf(count: number, deployment: string, now = Date.now()): string {
  return JSON.stringify({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: LOST_RUNS_METRIC.namespace,
          Dimensions: [[LOST_RUNS_METRIC.dimension]],
          Metrics: [{ Name: LOST_RUNS_METRIC.name, Unit: "Count" }],
        },
      ],
    },
    [LOST_RUNS_METRIC.dimension]: deployment,
    [LOST_RUNS_METRIC.name]: count,
  });
}

/** Must match stacks/observability.ts's audit alarm: minutes the sealed, exported audit trail lags behind now. */
export const AUDIT_LAG_METRIC = {
  namespace: "Reflex",
  name: "AuditExportLagMinutes",
  dimension: "Deployment",
} as const;

/** The audit export's lag as one EMF line (core's AuditExport.exportLagMinutes). */
export function auditLagEmf(minutes: number, deployment: string, now = Date.now()): string {
  return JSON.stringify({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: AUDIT_LAG_METRIC.namespace,
          Dimensions: [[AUDIT_LAG_METRIC.dimension]],
          Metrics: [{ Name: AUDIT_LAG_METRIC.name, Unit: "None" }],
        },
      ],
    },
    [AUDIT_LAG_METRIC.dimension]: deployment,
    [AUDIT_LAG_METRIC.name]: minutes,
  });
}

export const handler = middy<unknown, { closed: number }>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async () => {
    const closed = await Runs.reconcile({ olderThanMs: 10 * 60_000, inspectLost: Steps.inspectLost });
    for (const c of closed) logger.warn("closed a run Reflex had lost track of", { ...c });
    // Drill reports not written yet: a lost drill closed now, or one whose write failed before.
    for (const r of await HistoryReports.catchUp())
      if (r.error) logger.error("a run's report could not be written; the next pass retries", { ...r });
    // What ended drills kept for their keepFor hours, once those passed (and not before).
    for (const k of await Steps.sweepKept()) logger.info("deleted what a run kept, its time up", { ...k });
    // A fan-out whose start was cut short (its item written, its machine never started) starts;
    // for one already running, StartExecution by the same name and input changes nothing.
    for (const f of await Locations.running()) await Locations.resume(f.parentId);
    // Written even when zero, so the alarm sees data and a quiet stage reads as OK, not missing.
    process.stdout.write(`${lostRunsEmf(closed.length, requireEnv("REFLEX_EVENT_BUS"))}\n`);
    // The sealed audit trail's export, watched from here so a sealer that stopped still pages.
    process.stdout.write(
      `${auditLagEmf(await AuditExport.exportLagMinutes(), requireEnv("REFLEX_EVENT_BUS"))}\n`,
    );
    return { closed: closed.length };
  });
