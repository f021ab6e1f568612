/**
 * What `reflex start` prints while it runs: one line per event decision (the gate's answer for
 * each event that arrived) and per run transition (from the lifecycle events on the local
 * bus: started, waiting for approval, approved, abort requested, succeeded, failed, aborted,
 * lost), so a person watching the terminal sees what Reflex did and why.
 *
 *   14:02:11 event  aws.cloudwatch alarm web-cpu-high ALARM → started scale scale-web-on-cpu-1f3a… (rule scale-web-on-cpu)
 *   14:02:12 run    scale scale-web-on-cpu-1f3a… RUNNING → SUCCEEDED (4.2 s)
 */
import type { Gate } from "@reflex/core";
import type { BusEvent, LocalBus } from "./bus.ts";

export type Writer = (line: string) => void;

export interface ActivityLog {
  /** The gate's decisions for one event (from `POST /events` or the local bus); undefined when it is not known. */
  decided(event: unknown, decisions: Gate.Decision[]): void;
  /** Stops following the bus. */
  stop(): void;
}

interface Tracked {
  runbook: string;
  status: string;
  startedAt?: number;
}

/** Follows the bus's lifecycle events and prints each gate decision it is given. */
export function followActivity(
  bus: LocalBus,
  write: Writer,
  clock: () => Date = () => new Date(),
): ActivityLog {
  const runs = new Map<string, Tracked>();
  const line = (at: Date, kind: string, text: string) =>
    write(`${hms(at)} ${kind.padEnd(6)} ${terminalSafe(text)}`);
  const track = (id: string, runbook: string, status: string, at?: number): Tracked => {
    const t = runs.get(id) ?? { runbook, status, startedAt: at };
    runs.set(id, t);
    // Runs that never report an end (a stop mid-run) must not grow the map forever.
    if (runs.size > 10_000) runs.delete(runs.keys().next().value as string);
    return t;
  };
  const unsubscribe = bus.subscribe((e) => {
    const text = describeLifecycle(e, runs, track);
    if (text) line(new Date(e.time), text.kind, text.text);
  });
  return {
    decided(event, decisions) {
      for (const d of decisions)
        line(
          clock(),
          "event",
          `${event === undefined ? `event ${d.eventId}` : describeEvent(event)} → ${describeDecision(d)}`,
        );
    },
    stop: unsubscribe,
  };
}

/**
 * Text from events (alarm names, sources, causes, comments, actors) made safe for a terminal:
 * whoever names an alarm or sends an event chooses these characters, and an escape sequence
 * written as is could clear the operator's screen, retitle it, forge or hide lines. Control
 * characters (C0, DEL, C1), line and paragraph separators and bidirectional overrides are
 * shown escaped (`\x1b`, `\n`, `\u202e`), so one decision stays one line and reads as it is.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function hms(d: Date): string {
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** An event in a few words: its source and what happened, e.g. `aws.cloudwatch alarm web-cpu-high ALARM`. */
export function describeEvent(raw: unknown): string {
  const e = fields(raw);
  const source = typeof e.source === "string" ? e.source : "(no source)";
  const d = fields(e.detail);
  if (source === "aws.cloudwatch" && typeof d.alarmName === "string")
    return `${source} alarm ${d.alarmName} ${fields(d.state).value ?? ""}`.trimEnd();
  if (source === "aws.ec2" && typeof d["instance-id"] === "string")
    return `${source} instance ${d["instance-id"]} ${d.state ?? ""}`.trimEnd();
  if (source === "aws.health" && typeof d.eventTypeCode === "string") return `${source} ${d.eventTypeCode}`;
  return typeof e["detail-type"] === "string" ? `${source} ${e["detail-type"]}` : source;
}

/** A JSON value's fields, read without trusting its shape: none when it is not an object. */
function fields(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function describeDecision(d: Gate.Decision): string {
  const rule = d.rule ? ` (rule ${d.rule})` : "";
  switch (d.decision) {
    case "started":
      return `started ${d.runbook} ${d.executionId}${rule}${/waiting for approval/.test(d.reason) ? ", waits for approval" : ""}`;
    case "duplicate":
      return d.executionId ? `duplicate of ${d.executionId}${rule}` : `duplicate: ${d.reason}`;
    case "suppressed":
      return `suppressed: ${d.guardrail ?? "guardrail"} — ${d.reason}${rule}`;
    case "no-match":
      return "no rule matches";
    case "in-progress":
      return `in progress in another delivery; retried in ${d.retryAfterSeconds ?? 1} s`;
    default:
      return `${d.decision}: ${d.reason}`;
  }
}

function triggerOf(t: unknown): string {
  const trigger = fields(t);
  const what = `${trigger.kind ?? "unknown"}${trigger.name ? ` ${trigger.name}` : ""}`;
  return `${what}${trigger.actor && trigger.actor !== trigger.name ? ` by ${trigger.actor}` : ""}${trigger.rerunOf ? `, re-run of ${trigger.rerunOf}` : ""}`;
}

const ENDED: Record<string, string> = {
  "Reflex Execution Succeeded": "SUCCEEDED",
  "Reflex Execution Failed": "FAILED",
  "Reflex Execution Aborted": "ABORTED",
  "Reflex Execution Lost": "LOST",
};

function describeLifecycle(
  e: BusEvent,
  runs: Map<string, Tracked>,
  track: (id: string, runbook: string, status: string, at?: number) => Tracked,
): { kind: string; text: string } | undefined {
  const d = fields(e.detail);
  const id = typeof d.executionId === "string" ? d.executionId : undefined;
  const runbook = String(d.runbook);
  const trigger = fields(d.trigger);
  const at = Date.parse(e.time);
  const run = (text: string) => ({ kind: "run", text: `${runbook} ${id} ${text}` });
  switch (e["detail-type"]) {
    case "Reflex Execution Started": {
      if (!id) return undefined;
      track(id, runbook, "RUNNING", at);
      // A rule's start is already on its event's line.
      if (trigger.kind === "rule") return undefined;
      return run(`→ RUNNING (${triggerOf(d.trigger)}${d.dryRun ? ", dry-run" : ""})`);
    }
    case "Reflex Approval Requested": {
      if (!id) return undefined;
      const t = track(id, runbook, "RUNNING");
      const from = t.status;
      t.status = "WAITING_FOR_APPROVAL";
      const who = Array.isArray(d.approvers) && d.approvers.length ? `needs ${d.approvers.join(" or ")}` : "";
      return run(
        `${from} → WAITING_FOR_APPROVAL (${[who, `reflex approve ${id}`].filter(Boolean).join("; ")})`,
      );
    }
    case "Reflex Approval Answered": {
      if (!id) return undefined;
      const t = track(id, runbook, "WAITING_FOR_APPROVAL");
      if (d.status === "APPROVED") {
        t.status = "RUNNING";
        return run(`WAITING_FOR_APPROVAL → RUNNING (approved by ${d.by})`);
      }
      if (d.status === "REJECTED") return run(`rejected by ${d.by}${d.comment ? `: ${d.comment}` : ""}`);
      return run(`approved by ${d.by}; more approvals needed`);
    }
    case "Reflex Abort Requested":
      return id ? run(`abort requested by ${d.by} (${d.mode})${d.reason ? `: ${d.reason}` : ""}`) : undefined;
    case "Reflex Event Suppressed":
    case "Reflex Start Refused": {
      // A rule's refusal is already on its event's line.
      if (trigger.kind === "rule") return undefined;
      const verb = e["detail-type"] === "Reflex Event Suppressed" ? "suppressed" : "refused";
      return {
        kind: "start",
        text: `${runbook} (${triggerOf({ ...trigger, actor: trigger.actor ?? d.actor })}) → ${verb}: ${d.check} — ${d.reason}`,
      };
    }
    default: {
      const ended = ENDED[e["detail-type"]];
      if (!ended || !id) return undefined;
      const t = runs.get(id);
      runs.delete(id);
      const took = t?.startedAt !== undefined && !Number.isNaN(at) ? ` (${seconds(at - t.startedAt)})` : "";
      const why =
        ended === "FAILED" && d.error
          ? `: ${d.error}${d.cause ? ` — ${String(d.cause).slice(0, 160)}` : ""}`
          : ended === "LOST"
            ? ` ⚠ check its targets: reflex show ${id}`
            : "";
      return run(`${t?.status ?? "RUNNING"} → ${ended}${took}${why}`);
    }
  }
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}
