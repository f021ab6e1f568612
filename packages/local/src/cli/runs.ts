/**
 * The commands about runs: `run`, `show`, `logs`, `executions`, `audit`, `runbooks`, `status`.
 * Each asks the API and prints; filtering and paging are the server's.
 */
import { Executions, parseDuration } from "@reflex/core";
import { type ApiClient, type ExecutionView, isTerminal, nextCursor } from "./client.ts";
import { follow, RunLog, StepProgress } from "./follow.ts";
import {
  formatAuditEntry,
  formatExecution,
  formatExecutionList,
  formatRunbook,
  formatRunbookList,
  shellWord,
  statusWord,
} from "./format.ts";
import { clientFor, coloursFor, type Io, type ServerOptions, UsageError } from "./io.ts";
import { parseParamPairs } from "./params.ts";

export interface RunOptions extends ServerOptions {
  param: string[];
  dryRun?: boolean;
  wait?: boolean;
  json?: boolean;
  overrideFreeze?: string;
  overridePause?: string;
  /** A location selector: account ids, names, `tag:key=value` or `*`, comma-separated. */
  accounts?: string;
  regions?: string;
  excludeAccounts?: string;
  locationConcurrency?: string;
  locationMaxErrors?: string;
}

const list = (text: string | undefined) =>
  text === undefined
    ? undefined
    : text
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean);
/** `2` as a number, `50%` as is: the API takes both. */
const limit = (text: string | undefined) =>
  text === undefined ? undefined : /^\d+$/.test(text) ? Number(text) : text;

/** Exit code of a run the CLI followed to its end. */
const exitOf = (e: ExecutionView) => (e.status === "SUCCEEDED" ? 0 : 1);

function followHint(id: string): string {
  return `  follow it: reflex show ${id} --follow\n         or: reflex logs ${id} --follow`;
}

/**
 * Runs `fn` with a signal that Ctrl-C aborts. Ctrl-C detaches the CLI from the run; it never
 * aborts the run itself (that is `reflex abort`).
 */
async function detachable<T>(io: Io, id: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const detach = new AbortController();
  const onSigint = () => detach.abort();
  process.once("SIGINT", onSigint);
  try {
    return await fn(detach.signal);
  } catch (e) {
    // The server went away (or answered an error) while following: the run itself may well go
    // on, so say so and how to pick it up again, before the error is reported.
    io.err(`\nstopped following ${id}; the run may still be going`);
    io.err(followHint(id));
    throw e;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

function detached(io: Io, id: string): number {
  io.err(`\ndetached from ${id}; it goes on running (Ctrl-C does not abort a run: reflex abort does)`);
  io.err(followHint(id));
  return 130;
}

export async function run(io: Io, runbook: string, o: RunOptions): Promise<number> {
  const api = await clientFor(o);
  const c = coloursFor(io, o);
  const schema = await api.runbookSchema(runbook);
  let params: Record<string, unknown>;
  try {
    params = parseParamPairs(o.param, schema);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (o.accounts !== undefined) return runInLocations(io, api, runbook, params, o);
  if (o.regions ?? o.excludeAccounts ?? o.locationConcurrency ?? o.locationMaxErrors)
    throw new UsageError("--regions, --exclude-accounts and the location limits need --accounts");
  const started = await api.startExecution(runbook, params, Boolean(o.dryRun), {
    overrideFreeze: o.overrideFreeze,
    overridePause: o.overridePause,
  });
  const id = started.executionId;
  // On stderr even with --json when waiting: otherwise `run --wait --json` sits silent until
  // someone happens to approve.
  if (started.approval?.required && (!o.json || o.wait))
    io.err(
      `${id} waits for approval (${started.approval.reasons?.join("; ")}); approvers: ${started.approval.approvers?.join(", ") || "anyone allowed to approve"} — reflex approve ${id}`,
    );
  if (!o.wait) {
    if (o.json) io.out(JSON.stringify(started));
    else io.out(`started ${id}${o.dryRun ? " (dry-run)" : ""}\n${followHint(id)}`);
    return 0;
  }
  if (!o.json)
    io.err(`started ${id}${o.dryRun ? " (dry-run)" : ""}; waiting… (Ctrl-C detaches; the run goes on)`);
  const progress = new StepProgress(c, io.tty);
  const done = await detachable(io, id, (signal) =>
    follow(
      api,
      id,
      (e) => {
        if (!o.json) for (const line of progress.lines(e)) io.out(line);
      },
      { signal },
    ),
  );
  if (!done) return detached(io, id);
  io.out(o.json ? JSON.stringify(done) : `\n${formatExecution(done, c)}`);
  return exitOf(done);
}

/**
 * `reflex run <runbook> --accounts tag:env=prod [--regions …]`: one child run per location;
 * with --wait, waits for the fan-out's end (its `locations.finished` audit entry) and prints
 * each location's outcome; exit 1 unless every location succeeded.
 */
async function runInLocations(
  io: Io,
  api: ApiClient,
  runbook: string,
  params: Record<string, unknown>,
  o: RunOptions,
): Promise<number> {
  const started = await api.startInLocations(
    runbook,
    params,
    Boolean(o.dryRun),
    {
      locations: {
        accounts: list(o.accounts) ?? [],
        ...(o.regions !== undefined ? { regions: list(o.regions) } : {}),
        ...(o.excludeAccounts !== undefined ? { excludeAccounts: list(o.excludeAccounts) } : {}),
      },
      ...(o.locationConcurrency !== undefined ? { locationConcurrency: limit(o.locationConcurrency) } : {}),
      ...(o.locationMaxErrors !== undefined ? { locationMaxErrors: limit(o.locationMaxErrors) } : {}),
    },
    { overrideFreeze: o.overrideFreeze, overridePause: o.overridePause },
  );
  const where = (l: (typeof started.children)[number]) =>
    `${l.account}${l.accountName ? ` (${l.accountName})` : ""} ${l.region}`;
  if (!o.wait && o.json) io.out(JSON.stringify(started));
  else if (!o.json) {
    io.out(
      `started ${started.parentId}${o.dryRun ? " (dry-run)" : ""} in ${started.children.length} location(s), ${started.locationConcurrency} at a time, stop after ${started.locationMaxErrors} error(s)`,
    );
    for (const l of started.children) io.out(`  ${l.executionId}  ${where(l)}`);
  }
  if (!o.wait) return 0;
  const finished = await detachable(io, started.parentId, async (signal) => {
    for (let everyMs = 200; !signal.aborted; everyMs = Math.min(2000, everyMs * 2)) {
      const { entries } = await api.audit({
        execution: started.parentId,
        kind: "locations.finished",
        limit: 1,
      });
      if (entries[0]) return entries[0];
      await new Promise((r) => setTimeout(r, everyMs));
    }
    return undefined;
  });
  if (!finished) return detached(io, started.parentId);
  const outcomes = [];
  for (const l of started.children) {
    const e = await api.getExecution(l.executionId).catch(() => undefined);
    outcomes.push({ ...l, status: e?.status ?? "SKIPPED", ...(e?.error ? { error: e.error } : {}) });
  }
  if (o.json) io.out(JSON.stringify({ parentId: started.parentId, locations: outcomes }));
  else {
    for (const l of outcomes) io.out(`${l.status.padEnd(9)} ${l.executionId}  ${where(l)}`);
    io.out(finished.reason ?? "");
  }
  return outcomes.every((l) => l.status === "SUCCEEDED") ? 0 : 1;
}

/** `latest`, a unique prefix of a recent run's id, or the id itself. */
export async function resolveId(api: ApiClient, wanted: string): Promise<string> {
  // An empty prefix would match every run: with one run, `reflex abort ""` would abort it.
  if (wanted.trim() === "")
    throw new UsageError("an execution id is empty; give an id, a prefix of one, or latest");
  if (wanted !== "latest" && /-\d{8}T\d{6}Z-[0-9a-f]{6}$/.test(wanted)) return wanted;
  if (wanted === "latest") {
    const { executions } = await api.listExecutions({ limit: 1 });
    if (!executions[0]) throw new UsageError("there are no executions yet");
    return executions[0].id;
  }
  const { executions } = await api.listExecutions({ limit: 200 });
  const matches = executions.filter((e) => e.id.startsWith(wanted));
  if (matches.length === 1) return matches[0].id;
  if (matches.length > 1)
    throw new UsageError(
      `'${wanted}' matches ${matches.length} runs: ${matches
        .slice(0, 5)
        .map((e) => e.id)
        .join(", ")}${matches.length > 5 ? ", …" : ""}; give more of the id`,
    );
  return wanted; // not among the recent ones: let the server say whether it exists
}

/**
 * Like resolveId, for a filter (`--execution`): a mistyped id must not read as "this run has
 * nothing", so the run is asked for and an unknown one is answered as `show` answers it (exit 2).
 */
export async function resolveExisting(api: ApiClient, wanted: string): Promise<string> {
  const id = await resolveId(api, wanted);
  await api.getExecution(id);
  return id;
}

/** Re-runs of a run: the newest runs of its runbook that name it as `rerunOf`. */
async function rerunsOf(api: ApiClient, e: ExecutionView): Promise<string[]> {
  const given = (e as { reruns?: string[] }).reruns;
  if (Array.isArray(given)) return given;
  const { executions } = await api.listExecutions({ runbook: e.runbook, limit: 100 });
  return executions.filter((x) => x.trigger.rerunOf === e.id).map((x) => x.id);
}

export async function show(
  io: Io,
  wanted: string,
  o: ServerOptions & { json?: boolean; follow?: boolean },
): Promise<number> {
  const api = await clientFor(o);
  const c = coloursFor(io, o);
  const id = await resolveId(api, wanted);
  const view = async (e: ExecutionView) => formatExecution(e, c, { reruns: await rerunsOf(api, e) });
  if (!o.follow) {
    const e = await api.getExecution(id);
    io.out(o.json ? JSON.stringify(e) : await view(e));
    return 0;
  }
  // Following: on a terminal, redraw the whole view in place; in a pipe, append each step
  // transition, then print the whole view once the run has ended.
  const progress = new StepProgress(c);
  let first = true;
  let last = "";
  const done = await detachable(io, id, (signal) =>
    follow(
      api,
      id,
      (e) => {
        if (o.json) return;
        if (io.tty) {
          const text = formatExecution(e, c);
          if (text !== last) io.out(`\u001b[H\u001b[2J${text}`);
          last = text;
          return;
        }
        const lines = progress.lines(e);
        if (first) io.out(`${e.id}  ${e.runbook}  ${statusWord(c, e.status)}`);
        first = false;
        if (!isTerminal(e.status)) for (const line of lines) io.out(line);
      },
      { signal },
    ),
  );
  if (!done) return detached(io, id);
  io.out(o.json ? JSON.stringify(done) : `${io.tty ? "\u001b[H\u001b[2J" : "\n"}${await view(done)}`);
  // Followed to its end, the run's outcome is the exit code, as with run --wait.
  return exitOf(done);
}

export async function logs(
  io: Io,
  wanted: string,
  o: ServerOptions & { json?: boolean; follow?: boolean },
): Promise<number> {
  const api = await clientFor(o);
  const c = coloursFor(io, o);
  const id = await resolveId(api, wanted);
  const log = new RunLog(c);
  const print = (e: ExecutionView) => {
    for (const l of log.next(e))
      io.out(o.json ? JSON.stringify({ at: l.at, kind: l.kind, ...l.data }) : `${l.at}  ${l.text}`);
  };
  if (!o.follow) {
    print(await api.getExecution(id));
    return 0;
  }
  const done = await detachable(io, id, (signal) => follow(api, id, print, { signal }));
  if (!done) return detached(io, id);
  if (!o.json) io.out(`${id} ended: ${statusWord(c, done.status)}`);
  return exitOf(done);
}

/** The statuses the API filters by. */
const STATUSES: readonly string[] = Executions.STATUSES;

/** `2h`, `30m`, `1d` back from now, or an RFC 3339 time; sent to the server as RFC 3339. */
export function parseSince(text: string, now = Date.now()): string {
  const back = parseDuration(text);
  if (back !== undefined) return new Date(now - back).toISOString();
  if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) && !Number.isNaN(Date.parse(text)))
    return new Date(text).toISOString();
  throw new UsageError(`--since '${text}' is neither a duration (30m, 2h, 7d) nor an RFC 3339 time`);
}

export function parseLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 500)
    throw new UsageError(`--limit '${text}' must be from 1 to 500`);
  return n;
}

function parseStatuses(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const list = text.split(",").map((s) => s.trim().toUpperCase().replace(/-/g, "_"));
  const bad = list.filter((s) => !STATUSES.includes(s));
  if (bad.length) throw new UsageError(`--status '${bad.join(",")}' is not one of ${STATUSES.join(", ")}`);
  return list.join(",");
}

/** The command that fetches the next page: the same flags, with the cursor. */
function nextPageCommand(command: string, flags: Record<string, string | undefined>, cursor: string): string {
  const words = [`reflex ${command}`];
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) words.push(`--${k} ${shellWord(v)}`);
  words.push(`--cursor ${shellWord(cursor)}`);
  return words.join(" ");
}

export interface ExecutionsOptions extends ServerOptions {
  status?: string;
  runbook?: string;
  since?: string;
  limit?: string;
  cursor?: string;
  all?: boolean;
  json?: boolean;
}

export async function executions(io: Io, o: ExecutionsOptions): Promise<number> {
  const filter = {
    status: parseStatuses(o.status),
    runbook: o.runbook,
    since: o.since === undefined ? undefined : parseSince(o.since),
    limit: parseLimit(o.limit) ?? 25,
  };
  const api = await clientFor(o);
  let page = await api.listExecutions({ ...filter, cursor: o.cursor });
  const list = [...page.executions];
  while (o.all && nextCursor(page)) {
    page = await api.listExecutions({ ...filter, cursor: nextCursor(page) });
    list.push(...page.executions);
  }
  // A mistyped --runbook (`backup` for backup-snapshot) must not read as "no runs": when
  // nothing matched, an unknown name is answered as `reflex runbooks <name>` answers it.
  if (list.length === 0 && o.runbook !== undefined) await api.runbook(o.runbook);
  const cursor = nextCursor(page);
  if (o.json) {
    io.out(JSON.stringify({ executions: list, ...(cursor && !o.all ? { cursor } : {}) }));
    return 0;
  }
  io.out(formatExecutionList(list, coloursFor(io, o)));
  if (cursor && !o.all)
    io.out(
      `\nmore: ${nextPageCommand(
        "executions",
        { status: filter.status, runbook: o.runbook, since: o.since, limit: o.limit, url: o.url },
        cursor,
      )}`,
    );
  return 0;
}

export interface AuditOptions extends ServerOptions {
  execution?: string;
  actor?: string;
  kind?: string;
  since?: string;
  limit?: string;
  cursor?: string;
  json?: boolean;
}

export async function audit(io: Io, o: AuditOptions): Promise<number> {
  const api = await clientFor(o);
  const execution = o.execution === undefined ? undefined : await resolveExisting(api, o.execution);
  const page = await api.audit({
    execution,
    actor: o.actor,
    kind: o.kind,
    since: o.since === undefined ? undefined : parseSince(o.since),
    limit: parseLimit(o.limit) ?? 50,
    cursor: o.cursor,
  });
  const cursor = nextCursor(page);
  if (o.json) {
    io.out(JSON.stringify({ entries: page.entries, ...(cursor ? { cursor } : {}) }));
    return 0;
  }
  const c = coloursFor(io, o);
  if (page.entries.length === 0) io.out("no audit entries match");
  for (const a of page.entries) io.out(formatAuditEntry(a, c, true));
  if (cursor)
    io.out(
      `\nmore: ${nextPageCommand(
        "audit",
        {
          execution: o.execution,
          actor: o.actor,
          kind: o.kind,
          since: o.since,
          limit: o.limit,
          url: o.url,
        },
        cursor,
      )}`,
    );
  return 0;
}

export async function runbooks(
  io: Io,
  name: string | undefined,
  o: ServerOptions & { json?: boolean },
): Promise<number> {
  const api = await clientFor(o);
  const c = coloursFor(io, o);
  if (name) {
    const r = await api.runbook(name);
    io.out(o.json ? JSON.stringify(r) : formatRunbook(r, c));
    return 0;
  }
  const { runbooks } = await api.runbooks();
  if (o.json) io.out(JSON.stringify({ runbooks }));
  else io.out(`${formatRunbookList(runbooks, c)}\n\nparams and an example: reflex runbooks <name>`);
  return 0;
}

/**
 * Every running run. A filtered page may be short (the server stops reading after a while) and
 * still have a next page, so this follows the pages, a bounded number of them.
 */
async function activeRuns(api: ApiClient): Promise<ExecutionView[]> {
  const runs: ExecutionView[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 20; pages++) {
    const page = await api.listExecutions({ status: "RUNNING,WAITING_FOR_APPROVAL", limit: 200, cursor });
    runs.push(...page.executions);
    cursor = nextCursor(page);
    if (!cursor) break;
  }
  return runs;
}

interface Approval {
  executionId: string;
  runbook: string;
  requestedBy: string;
  deadline: string;
}

export async function status(io: Io, o: ServerOptions & { json?: boolean }): Promise<number> {
  const api = await clientFor(o);
  const c = coloursFor(io, o);
  const [running, recent, approvals, guardrails] = await Promise.all([
    activeRuns(api),
    // Lost runs have ended (they are marked, not running): look for them among the recent ones.
    api.listExecutions({ limit: 200 }),
    api.call<{ approvals: Approval[] }>("GET", "/api/approvals"),
    api.guardrails(),
  ]);
  // Servers that return `locks` with the guardrails save a request.
  const locks = guardrails.locks ?? (await api.locks()).locks;
  const lost = recent.executions.filter((e) => e.attention);
  const now = Date.now();
  const freezes = guardrails.freezes.filter((f) => f.active || Date.parse(f.from) > now);
  const cooldowns = guardrails.cooldowns ?? [];
  if (o.json) {
    io.out(
      JSON.stringify({
        running,
        approvals: approvals.approvals,
        guardrails,
        freezes,
        locks,
        cooldowns,
        needsAttention: lost,
      }),
    );
    return 0;
  }
  io.out(
    guardrails.paused
      ? `${c.yellow("⏸ PAUSED")} by ${guardrails.pausedBy}: ${guardrails.reason ?? ""} (reflex resume)`
      : `${c.green("✓")} automation: on`,
  );
  const tripped = guardrails.breaker.recentFailures >= guardrails.breaker.failures;
  io.out(
    `${tripped ? c.red("✗ breaker: OPEN,") : `${c.green("✓")} breaker:`} ${guardrails.breaker.recentFailures} of ${guardrails.breaker.failures} failures in its window`,
  );
  for (const f of freezes)
    io.out(
      `${f.active ? c.yellow("❄ freeze ACTIVE") : "· freeze"} ${f.name}: ${f.active ? "until" : `from ${f.from} to`} ${f.to}`,
    );
  io.out(`running: ${running.length}`);
  for (const e of running)
    io.out(
      `  ${e.id}  ${e.runbook}  ${statusWord(c, e.status)}  ${e.trigger.kind}${e.trigger.name ? `:${e.trigger.name}` : ""}`,
    );
  io.out(`waiting for approval: ${approvals.approvals.length}`);
  for (const a of approvals.approvals)
    io.out(`  ${a.executionId}  ${a.runbook}  asked by ${a.requestedBy}  deadline ${a.deadline}`);
  io.out(`locks held: ${locks.length}`);
  for (const l of locks)
    io.out(`  ${l.target}  by ${l.executionId ?? l.owner}${l.runbook ? ` (${l.runbook})` : ""}`);
  if (guardrails.cooldowns) {
    io.out(`cooldowns running: ${cooldowns.length}`);
    for (const k of cooldowns)
      io.out(
        `  ${k.rule ?? k.key ?? ""}${k.target ? ` on ${k.target}` : ""}${k.runbook ? ` (${k.runbook})` : ""}  until ${k.until}`,
      );
  }
  if (lost.length) {
    io.out(c.red(`needs attention (lost runs): ${lost.length}`));
    for (const e of lost) io.out(`  ${e.id}  ${e.runbook}  — reflex show ${e.id}`);
  }
  return 0;
}
