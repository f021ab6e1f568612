/**
 * What the CLI prints for people: executions, steps, targets, plans, rollbacks, audit entries,
 * runbooks. Every function takes the colours to use (none under `NO_COLOR`, a pipe or `--json`);
 * colour only repeats what a word or a mark already says.
 */

import type { AuditEntryView, ExecutionView, RunbookView, StepView } from "./client.ts";
import { type Colours, colours, mark, status } from "./colour.ts";

const PLAIN = colours(false);

/** Visible width, ignoring colour escapes. */
function width(s: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping SGR escapes is the point
  return s.replace(/\u001b\[[0-9;]*m/g, "").length;
}

function pad(s: string, n: number): string {
  const w = width(s);
  return w >= n ? s : s + " ".repeat(n - w);
}

/** Columns padded to the widest cell; trailing spaces trimmed. */
export function table(header: string[], rows: string[][], c: Colours = PLAIN): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => width(r[i] ?? ""))));
  return [header.map((h) => c.bold(h)), ...rows]
    .map((r) =>
      r
        .map((cell, i) => pad(cell ?? "", widths[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** `26 ms`, `1.4 s`, `2m 05s`, `1h 02m`. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function trigger(e: ExecutionView): string {
  const t = e.trigger;
  return `${t.kind}${t.name ? `:${t.name}` : ""}${t.alarm ? ` (${t.alarm.name} ${t.alarm.state})` : ""}`;
}

function elapsed(e: ExecutionView): number | undefined {
  const start = Date.parse(e.startedAt);
  const end = e.endedAt ? Date.parse(e.endedAt) : Date.now();
  return Number.isFinite(start) && Number.isFinite(end) ? end - start : undefined;
}

/** The status word with its mark, e.g. `✓ SUCCEEDED`. */
export function statusWord(c: Colours, word: string): string {
  return `${mark(c, word === "WAITING_FOR_APPROVAL" ? "pending" : word)} ${status(c, word)}`;
}

export function formatExecutionList(list: ExecutionView[], c: Colours = PLAIN): string {
  if (list.length === 0) return "no executions match";
  const rows = list.map((e) => [
    e.id,
    e.runbook +
      (e.dryRun ? " (dry-run)" : "") +
      (e.location ? ` @${e.location.account}/${e.location.region}` : ""),
    // A lost run may have left a change half-done: say so where the eye lands.
    e.attention ? `${statusWord(c, e.status)} ${c.red("⚠ LOST — check targets")}` : statusWord(c, e.status),
    trigger(e),
    e.startedAt,
    formatMs(elapsed(e)),
  ]);
  return table(["ID", "RUNBOOK", "STATUS", "TRIGGER", "STARTED", "TOOK"], rows, c);
}

/** One step as a line: mark, name, target, status, duration and the error if it failed. */
export function formatStep(s: StepView, c: Colours = PLAIN): string {
  const ended = s.status !== "RUNNING";
  return [
    mark(c, s.status),
    pad(s.step, 22),
    pad(s.target ?? "", 21),
    pad(ended ? status(c, s.status) : status(c, "RUNNING"), 9),
    ended ? formatMs(s.durationMs) : "",
    s.status === "FAILED" ? c.red(`${s.error ?? "error"}${s.cause ? `: ${s.cause}` : ""}`) : "",
  ]
    .join(" ")
    .trimEnd();
}

/**
 * The steps of a run. A state that polls (checkSnapshots) repeats: consecutive repeats of a
 * step on the same target with the same outcome fold into one line (×N, total time). Many
 * steps still (a run over a fleet has hundreds) are summed up per state, failures listed one by one.
 */
export function formatSteps(steps: StepView[], c: Colours = PLAIN, limit = 40): string[] {
  if (steps.length === 0) return ["  (no step has run yet)"];
  const folded: Array<{ step: StepView; times: number; total: number }> = [];
  for (const s of steps) {
    const last = folded.at(-1);
    if (
      last &&
      last.step.step === s.step &&
      last.step.target === s.target &&
      last.step.status === s.status &&
      s.status !== "FAILED"
    ) {
      last.times++;
      last.total += s.durationMs ?? 0;
    } else folded.push({ step: s, times: 1, total: s.durationMs ?? 0 });
  }
  if (folded.length <= limit)
    return folded.map(({ step, times, total }) =>
      times === 1
        ? `  ${formatStep(step, c)}`
        : `  ${formatStep({ ...step, step: `${step.step} ×${times}`, durationMs: total }, c)} in all`,
    );
  const byState = new Map<string, StepView[]>();
  for (const s of steps) byState.set(s.step, [...(byState.get(s.step) ?? []), s]);
  const lines = [`  ${steps.length} steps, by state (first seen first):`];
  for (const [name, group] of byState) {
    const count = (st: string) => group.filter((s) => s.status === st).length;
    const total = group.reduce((n, s) => n + (s.durationMs ?? 0), 0);
    const worst = count("FAILED") ? "FAILED" : count("RUNNING") ? "RUNNING" : "SUCCEEDED";
    lines.push(
      `  ${mark(c, worst)} ${pad(name, 22)} ×${pad(String(group.length), 4)} ${[
        count("SUCCEEDED") && `${count("SUCCEEDED")} succeeded`,
        count("FAILED") && c.red(`${count("FAILED")} failed`),
        count("RUNNING") && `${count("RUNNING")} running`,
      ]
        .filter(Boolean)
        .join(", ")}  ${formatMs(total)} in all`,
    );
  }
  const failed = steps.filter((s) => s.status === "FAILED");
  for (const s of failed.slice(0, limit)) lines.push(`    ${formatStep(s, c)}`);
  if (failed.length > limit) lines.push(`    … and ${failed.length - limit} more failed steps (reflex logs)`);
  return lines;
}

/** One audit entry as a line. */
export function formatAuditEntry(a: AuditEntryView, c: Colours = PLAIN, withExecution = false): string {
  return [
    a.at,
    pad(a.kind, 20),
    pad(a.actor, 18),
    withExecution && a.executionId ? a.executionId : "",
    a.guardrail ? c.yellow(`[${a.guardrail}]`) : "",
    a.reason,
  ]
    .filter(Boolean)
    .join("  ");
}

function paramPairs(params: Record<string, unknown> | undefined, prefix = ""): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(params ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v))
      out.push(...paramPairs(v as Record<string, unknown>, key));
    else if (Array.isArray(v))
      out.push(
        v.every((x) => typeof x !== "object") ? `${key}=${v.join(",")}` : `${key}:=${JSON.stringify(v)}`,
      );
    else out.push(`${key}=${String(v)}`);
  }
  return out;
}

/** A shell word: quoted when the shell would otherwise split or expand it. */
export function shellWord(s: string): string {
  return /^[\w.,:/@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `reflex run <runbook> --param …` for these params, as a person would type it. */
export function runCommand(runbook: string, params: Record<string, unknown> | undefined): string {
  return ["reflex run", runbook, ...paramPairs(params).map((p) => `--param ${shellWord(p)}`)].join(" ");
}

function section(lines: string[], title: string, body: string[], c: Colours): void {
  if (body.length === 0) return;
  lines.push("", c.bold(title), ...body);
}

/**
 * A run's results, in the one result shape every runbook reports (`outcome`): a line per
 * target with its status and why, its details and artifacts under it. Knows no runbook.
 */
function targetLines(e: ExecutionView, c: Colours): string[] {
  const lines: string[] = [];
  for (const t of e.outcome?.targets ?? []) {
    lines.push(
      `  ${mark(c, t.status)} ${t.id}${t.name ? ` (${t.name})` : ""}  ${t.status === "failed" ? c.red(t.status) : t.status}${t.reason ? ` — ${t.reason}` : ""}`,
    );
    for (const [k, v] of Object.entries(t.details ?? {})) lines.push(`      ${k}: ${v}`);
    for (const a of t.artifacts ?? []) lines.push(`      ${a.id}  ${a.note ? `${a.note}  ` : ""}(${a.kind})`);
  }
  return lines;
}

function artifactLines(e: ExecutionView): string[] {
  return (e.outcome?.artifacts ?? []).map((a) => `  ${a.kind}  ${a.id}${a.note ? `  ${a.note}` : ""}`);
}

/** The human view of `reflex show`: everything the API knows about one run. */
export function formatExecution(
  e: ExecutionView,
  c: Colours = PLAIN,
  links: { reruns?: string[] } = {},
): string {
  const lines = [
    `${c.bold(e.id)}  ${e.runbook}${e.dryRun ? " (dry-run: nothing was changed)" : ""}  ${statusWord(c, e.status)}`,
  ];
  if (e.attention) {
    lines.push(`  ${c.red("⚠ NEEDS ATTENTION")}: ${e.attention.reason}`);
    lines.push(`    completed: ${e.attention.completedSteps.join(", ") || "no step"}`);
    if (e.attention.inFlightSteps.length)
      lines.push(`    in flight: ${e.attention.inFlightSteps.join(", ")}`);
    if (e.attention.report) lines.push(`    left behind: ${JSON.stringify(e.attention.report)}`);
  }
  const started = (e.audit ?? []).find((a) => a.kind === "execution.started");
  lines.push(
    `  trigger   ${trigger(e)} by ${e.trigger.actor}${e.trigger.eventId ? ` (event ${e.trigger.eventId})` : ""}`,
  );
  const alarm = e.trigger.alarm;
  if (e.location) lines.push(`  location  account ${e.location.account}, Region ${e.location.region}`);
  if (alarm)
    lines.push(`  alarm     ${alarm.name} → ${alarm.state}${alarm.reason ? `: ${alarm.reason}` : ""}`);
  if (started) lines.push(`  why       ${started.reason}`);
  if (e.trigger.overrideFreeze) lines.push(`  override  freeze: ${e.trigger.overrideFreeze}`);
  if (e.trigger.overridePause) lines.push(`  override  pause: ${e.trigger.overridePause}`);
  if (e.window)
    lines.push(`  window    ${e.window.name} (cutoff ${e.window.cutoffAt}, ends ${e.window.endsAt})`);
  lines.push(
    `  started   ${e.startedAt}${e.endedAt ? `   ended ${e.endedAt}` : ""}   (${formatMs(elapsed(e))}${e.endedAt ? "" : " so far"})`,
  );
  if (e.params && Object.keys(e.params).length) lines.push(`  params    ${paramPairs(e.params).join(" ")}`);
  if (e.approval?.required)
    lines.push(
      `  approval  required: ${e.approval.reasons.join("; ")}; approvers: ${e.approval.approvers.join(", ") || "anyone allowed"}`,
    );
  if (e.cancel)
    lines.push(`  ${c.yellow("abort")}     asked by ${e.cancel.by} at ${e.cancel.at}: ${e.cancel.reason}`);
  if (e.locks?.length) lines.push(`  locks     ${e.locks.join(", ")}`);
  if (e.error) lines.push(`  ${c.red("error")}     ${e.error}${e.cause ? `: ${e.cause}` : ""}`);
  if (e.outcome?.summary) lines.push(`  summary   ${e.outcome.summary}`);
  if (e.trigger.rerunOf) lines.push(`  rerun of  ${e.trigger.rerunOf}`);
  if (links.reruns?.length) lines.push(`  re-runs   ${links.reruns.join(", ")}`);

  section(lines, `Steps (${(e.steps ?? []).length})`, formatSteps(e.steps ?? [], c), c);
  section(lines, e.dryRun ? "Targets (dry-run: nothing was changed)" : "Targets", targetLines(e, c), c);
  section(lines, "Artifacts", artifactLines(e), c);
  section(
    lines,
    `Audit (${(e.audit ?? []).length})`,
    (e.audit ?? []).map((a) => `  ${formatAuditEntry(a, c)}`),
    c,
  );
  return lines.join("\n");
}

/** The runbooks as a table: name, risk, summary. */
export function formatRunbookList(list: RunbookView[], c: Colours = PLAIN): string {
  return table(
    ["NAME", "RISK", "SUMMARY"],
    list.map((r) => [r.name, r.risk === "high" ? c.red(r.risk) : r.risk, r.summary]),
    c,
  );
}

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  default?: unknown;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  minimum?: number;
  maximum?: number;
  pattern?: string;
};

function typeOf(s: Schema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  let t = types.join(" | ") || "any";
  if (types.includes("array") && s.items) t = `${typeOf(s.items)}[]`;
  if (types.includes("object") && !s.properties && typeof s.additionalProperties === "object")
    t = `map of ${typeOf(s.additionalProperties)}`;
  const range =
    s.minimum !== undefined || s.maximum !== undefined ? ` ${s.minimum ?? ""}..${s.maximum ?? ""}` : "";
  return t + range;
}

/** The rows of a params schema, nested objects flattened to dotted keys as `--param` takes them. */
function paramRows(s: Schema, prefix = "", required = true): string[][] {
  const rows: string[][] = [];
  for (const [k, p] of Object.entries(s.properties ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    const req = required && (s.required ?? []).includes(k);
    if (p.properties) {
      rows.push([key, "object", "", req ? "yes" : "", p.description ?? ""]);
      rows.push(...paramRows(p, key, req));
      continue;
    }
    rows.push([
      key,
      typeOf(p),
      p.default === undefined ? "" : JSON.stringify(p.default),
      req ? "yes" : "",
      p.description ?? "",
    ]);
  }
  return rows;
}

/** `reflex runbooks <name>`: what it does, its params with types and defaults, an example. */
export function formatRunbook(r: RunbookView, c: Colours = PLAIN): string {
  const lines = [
    `${c.bold(r.name)}  risk ${r.risk}${r.cap ? `, at most ${r.cap.maxTargets} targets per run` : ""}`,
  ];
  lines.push(`  ${r.summary}`);
  if (r.dryRun) lines.push(`  dry-run: ${r.dryRun}`);
  const schema = r.params as Schema;
  const variants = schema.oneOf ?? schema.anyOf;
  const header = ["PARAM", "TYPE", "DEFAULT", "REQUIRED", "DESCRIPTION"];
  if (variants) {
    variants.forEach((v, i) => {
      const mode = v.properties?.mode;
      const label = mode?.const ?? mode?.default ?? `variant ${i + 1}`;
      lines.push("", c.bold(`Params (${String(label)})`), indent(table(header, paramRows(v), c)));
    });
  } else lines.push("", c.bold("Params"), indent(table(header, paramRows(schema), c)));
  if (r.example) {
    lines.push("", c.bold("Example"), `  ${runCommand(r.name, r.example)} --dry-run`);
    lines.push(`  params as JSON: ${JSON.stringify(r.example)}`);
  }
  return lines.join("\n");
}

function indent(s: string): string {
  return s
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}
