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

function holderOf(route: string): Runbooks.Runbook & { history: Runbooks.RunHistory } {
  const r = Runbooks.list().find((x) => x.history?.route === route);
  if (!r?.history) throw new NotFoundError("history", route);
  return r as Runbooks.Runbook & { history: Runbooks.RunHistory };
}

function entriesOf(config: Config, r: Runbooks.Runbook & { history: Runbooks.RunHistory }): string[] {
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
      const row: HistoryRow = {
        executionId: e.id,
        status: e.status,
        startedAt: e.startedAt,
        ...(e.endedAt ? { endedAt: e.endedAt } : {}),
        trigger: `${e.trigger.kind}${e.trigger.name ? `:${e.trigger.name}` : ""}`,
        ...r.history.row(e),
      };
      out.set(name, [...(out.get(name) ?? []), row]);
    }
    scanned += page.executions.length;
    cursor = page.next;
  } while (cursor && scanned < SCAN);
  for (const list of out.values()) list.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  return out;
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
