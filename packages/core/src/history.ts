/**
 * Histories of a runbook's runs grouped by one param (restore's drills: `GET /api/drills`):
 * each config entry's last run, its trend and how many met or missed, and one entry's every
 * run. The runbook's manifest (`history`) says which route, config key and param, and reads
 * each run's record into a row, so this module knows no runbook's record shape.
 */
import { currentConfig } from "./config/index.ts";
import type { Config } from "./config/schema.ts";
import { NotFoundError } from "./errors.ts";
import * as Runbooks from "./runbooks/index.ts";
import * as Executions from "./state/executions.ts";

/** One run in a history: when, how it ended, and the runbook's row (verdict, RTO/RPO, cleanup…). */
export interface HistoryRow extends Record<string, unknown> {
  executionId: string;
  status: string;
  startedAt: string;
  endedAt?: string;
  trigger: string;
  verdict: string;
  /** Where its S3 report is (`s3://…/reports/<route>/<name>/<date>.json`), or why it is not yet (`pending: …`). */
  report?: string;
}

/** One entry (a drill) with its last run, its trend (newest first) and its counts. */
export interface HistoryEntry {
  name: string;
  runbook: string;
  last?: HistoryRow;
  /** The verdicts of the last runs, newest first (at most 10). */
  trend: string[];
  runs: number;
  met: number;
  missed: number;
  failed: number;
}

/** How many of a runbook's runs a history reads, newest first. */
const SCAN = 500;

export function holderOf(route: string): Runbooks.Runbook & { history: Runbooks.RunHistory } {
  const r = Runbooks.list().find((x) => x.history?.route === route);
  if (!r?.history) throw new NotFoundError("history", route);
  return r as Runbooks.Runbook & { history: Runbooks.RunHistory };
}

export function entriesOf(config: Config, r: Runbooks.Runbook & { history: Runbooks.RunHistory }): string[] {
  const key = r.history.configKey;
  const value =
    config.runbookConfig?.[key] ?? (config as unknown as Record<string, unknown>)[key] ?? ([] as unknown[]);
  return (Array.isArray(value) ? value : [])
    .map((e) => (e as { name?: unknown }).name)
    .filter((n): n is string => typeof n === "string");
}

async function rows(
  r: Runbooks.Runbook & { history: Runbooks.RunHistory },
): Promise<Map<string, HistoryRow[]>> {
  const out = new Map<string, HistoryRow[]>();
  let cursor: string | undefined;
  let scanned = 0;
  do {
    const page = await Executions.list({ runbook: r.name, limit: 100, cursor });
    const found = await Promise.all(page.executions.map((e) => Executions.find(e.id)));
    for (const e of found) {
      const name = e?.params?.[r.history.param];
      if (!e || e.dryRun || typeof name !== "string" || e.status === "STARTING") continue;
      out.set(name, [...(out.get(name) ?? []), rowOf(r, e)]);
    }
    scanned += page.executions.length;
    cursor = page.next;
  } while (cursor && scanned < SCAN);
  for (const list of out.values()) list.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  return out;
}

/** One run as a history row: when, how it ended, the runbook's own row, and its S3 report. */
export function rowOf(
  r: Runbooks.Runbook & { history: Runbooks.RunHistory },
  e: Executions.Execution,
): HistoryRow {
  const written = e.result?.historyReport as { key?: string; pending?: boolean; error?: string } | undefined;
  return {
    executionId: e.id,
    status: e.status,
    startedAt: e.startedAt,
    ...(e.endedAt ? { endedAt: e.endedAt } : {}),
    trigger: `${e.trigger.kind}${e.trigger.name ? `:${e.trigger.name}` : ""}`,
    ...r.history.row(e),
    ...(written?.key
      ? { report: written.key }
      : written?.pending
        ? { report: `pending: ${written.error ?? "not written yet"} (retried by the reconciler)` }
        : {}),
  };
}

/** Compliance over a period, per entry and overall: runs ended in it and how many met, missed, failed. */
export interface Compliance {
  runs: number;
  met: number;
  missed: number;
  failed: number;
  lost: number;
  /** Met of the runs that ended, in percent (null when none ended). */
  metPercent: number | null;
}

export interface Summary {
  route: string;
  runbook: string;
  /** The period: runs started at or after `from` and before `to`. */
  from: string;
  to: string;
  overall: Compliance & { entries: number; neverRun: string[] };
  entries: Array<
    Compliance & { name: string; last?: { executionId: string; startedAt: string; verdict: string } }
  >;
}

function compliance(runs: HistoryRow[]): Compliance {
  const ended = runs.filter((x) => x.verdict !== "running");
  const count = (v: string) => ended.filter((x) => x.verdict === v).length;
  const met = count("met");
  return {
    runs: ended.length,
    met,
    missed: count("missed"),
    failed: count("failed"),
    lost: count("lost"),
    metPercent: ended.length ? Math.round((met / ended.length) * 1000) / 10 : null,
  };
}

/**
 * The compliance summary of the history `route` over [from, to): for each entry (every drill of
 * the config, run or not, and any other a run named) how many runs ended, met, missed, failed or
 * were lost, and overall; entries with no run in the period are named in `overall.neverRun`.
 *
 * @example
 * const s = await History.summary("drills", { from: "2026-12-01T00:00:00Z", to: "2027-01-01T00:00:00Z" });
 * s.overall; // { runs: 4, met: 3, missed: 1, failed: 0, lost: 0, metPercent: 75, entries: 2, neverRun: [] }
 */
export async function summary(
  route: string,
  period: { from: string; to: string },
  config = currentConfig(),
): Promise<Summary> {
  const r = holderOf(route);
  const byName = await rows(r);
  const names = [...new Set([...entriesOf(config, r), ...byName.keys()])];
  const from = Date.parse(period.from);
  const to = Date.parse(period.to);
  const inPeriod = (x: HistoryRow) => {
    const t = Date.parse(x.startedAt);
    return t >= from && t < to;
  };
  const entries = names.map((name) => {
    const runs = (byName.get(name) ?? []).filter(inPeriod);
    const last = runs.find((x) => x.verdict !== "running");
    return {
      name,
      ...compliance(runs),
      ...(last
        ? { last: { executionId: last.executionId, startedAt: last.startedAt, verdict: last.verdict } }
        : {}),
    };
  });
  const all = names.flatMap((name) => (byName.get(name) ?? []).filter(inPeriod));
  return {
    route,
    runbook: r.name,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    overall: {
      ...compliance(all),
      entries: entries.length,
      neverRun: entries.filter((e) => e.runs === 0).map((e) => e.name),
    },
    entries,
  };
}

/**
 * Every entry of the history `route` (the config's drills), each with its last run and trend.
 * NotFoundError when no runbook in the config keeps that history.
 *
 * @example
 * const { entries } = await History.list("drills"); // [{ name: "db-1", last: { verdict: "met", … }, trend: ["met"] }]
 */
export async function list(route: string, config = currentConfig()): Promise<{ entries: HistoryEntry[] }> {
  const r = holderOf(route);
  const byName = await rows(r);
  const names = [...new Set([...entriesOf(config, r), ...byName.keys()])];
  return {
    entries: names.map((name) => {
      const runs = byName.get(name) ?? [];
      const count = (v: string) => runs.filter((x) => x.verdict === v).length;
      return {
        name,
        runbook: r.name,
        ...(runs[0] ? { last: runs[0] } : {}),
        trend: runs.slice(0, 10).map((x) => x.verdict),
        runs: runs.length,
        met: count("met"),
        missed: count("missed"),
        failed: count("failed"),
      };
    }),
  };
}

/** Every run of one entry, newest first; NotFoundError for a name the config does not have and no run named. */
export async function of(
  route: string,
  name: string,
  config = currentConfig(),
): Promise<{ name: string; runbook: string; runs: HistoryRow[] }> {
  const r = holderOf(route);
  const runs = (await rows(r)).get(name) ?? [];
  if (!runs.length && !entriesOf(config, r).includes(name)) throw new NotFoundError(route, name);
  return { name, runbook: r.name, runs };
}
