// @ts-check
/** What a run is, in words: its trigger, why it started, how long it took. Shared by the views. */
import { duration } from "../graph.js";
import { h, short } from "./dom.js";

/**
 * A run as `GET /api/executions` and `/api/executions/:id` answer (core's `Execution`, with the
 * run page's extras: `steps`, `audit`, `outcome`, `stateMachine`, `reruns`).
 * @typedef {{ name: string, state?: string, reason?: string }} TriggerAlarm
 * @typedef {{ kind?: string, name?: string, actor?: string, eventId?: string, alarm?: TriggerAlarm,
 *   rerunOf?: string, executionId?: string, reason?: string }} Trigger
 * @typedef {{ state?: string, step: string, status: string, target?: string, startedAt: string,
 *   endedAt?: string, durationMs?: number, output?: unknown, error?: string, cause?: string }} StepRecord
 * @typedef {{ id: string, kind?: string, name?: string, status?: string, reason?: string,
 *   details?: Record<string, unknown>, artifacts?: Array<{ id: string, kind: string, note?: string }> }} OutcomeTarget
 * @typedef {{ summary?: string, targets: OutcomeTarget[], artifacts?: Array<{ id: string, kind: string, note?: string }> }} Outcome
 * @typedef {{ at: string, kind: string, actor: string, reason?: string }} AuditEntry
 * @typedef {{ id: string, runbook: string, status: string, dryRun?: boolean, params?: Record<string, unknown>,
 *   trigger?: Trigger, startedAt: string, endedAt?: string, error?: string, cause?: string, locks?: string[],
 *   result?: unknown, outcome?: Outcome, steps?: StepRecord[], audit?: AuditEntry[], stateMachine?: unknown,
 *   reruns?: string[], rerunOf?: string, location?: { account: string, region: string },
 *   approval?: { approvers?: string[], selfApproval?: boolean, requestedBy?: string } }} Run
 */

export const POLL_MS = 1500;
export const TERMINAL = ["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"];
export const STATUSES = ["RUNNING", "WAITING_FOR_APPROVAL", ...TERMINAL];
export const TRIGGERS = ["rule", "schedule", "window", "manual", "chatops", "rerun"];

/** Where a run acts (issue 26: a member account and Region), or "" when it has no location. @param {Run} run */
export function locationText(run) {
  return run.location ? `${run.location.account} / ${run.location.region}` : "";
}

/** @param {Run} run */
export function runDuration(run) {
  const end = run.endedAt ? Date.parse(run.endedAt) : Date.now();
  return duration(end - Date.parse(run.startedAt));
}

/** Who or what started it, in a few words. @param {Trigger} [t] */
export function triggerText(t = {}) {
  const rerunOf = t.rerunOf ?? t.executionId;
  switch (t.kind) {
    case "rule":
      return `rule ${t.name ?? "?"}`;
    case "schedule":
      return `schedule ${t.name ?? "?"}`;
    case "window":
      return `window ${t.name ?? "?"}`;
    case "chatops":
      return `Slack: ${t.name ?? t.actor}`;
    case "rerun":
      return `re-run of ${short(rerunOf)} by ${t.actor}`;
    default:
      return `${t.kind ?? "manual"} by ${t.actor ?? "?"}`;
  }
}

/** The alarm transition that started a run, in words: `alarm web-cpu-high → ALARM`. @param {TriggerAlarm} a */
export const alarmText = (a) => `alarm ${a.name}${a.state ? ` → ${a.state}` : ""}`;

/** Why the run started, in one line: the alarm and its reason, else what triggered it. @param {Run} run */
export function triggerReason(run) {
  const t = run.trigger ?? {};
  if (t.alarm) return `${alarmText(t.alarm)}${t.alarm.reason ? `: ${t.alarm.reason}` : ""}`;
  if (t.reason) return t.reason;
  if (t.kind === "schedule" || t.kind === "window") return "on its schedule";
  return "";
}

/** The runs list's trigger cell: who or what, the alarm and its reason, the event. @param {Run} run */
export function triggerCell(run) {
  const t = run.trigger ?? {};
  const reason = triggerReason(run);
  return [
    triggerText(t),
    reason ? h("div", { class: "small why", title: reason }, reason) : "",
    t.eventId ? h("div", { class: "small muted" }, `event ${t.eventId}`) : "",
  ];
}

/** The run a run repeats (a re-run from the console, the CLI or Slack), if any. @param {Run} run */
export const repeats = (run) =>
  run.trigger?.rerunOf ??
  run.rerunOf ??
  (run.trigger?.kind === "rerun" ? run.trigger.executionId : undefined);
