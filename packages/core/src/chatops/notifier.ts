/**
 * Lifecycle events to Slack: each run gets one thread in the channel configured for its
 * runbook (or environment); started, waiting for approval (with the buttons), answered (the
 * approval message is updated with who and when), succeeded (a dry-run's plan with "Run it"),
 * failed (the failing step and why), rolled back, aborted, lost — each with what to do next.
 * Suppressed starts go to the channel unthreaded. The thread's `ts` is kept in the state table
 * (pk `CHATOPS#<execution id>`), so any container can reply in it.
 */
import { currentConfig } from "../config/index.ts";
import type { Config } from "../config/schema.ts";
import * as ApprovalRecords from "../state/approvals.ts";
import * as Threads from "../state/chatops-threads.ts";
import * as Executions from "../state/executions.ts";
import {
  approvalAnswered,
  approvalRequest,
  context,
  dryRunPlan,
  esc,
  type Message,
  mention,
  section,
} from "./blocks.ts";
import { type Transport, transport } from "./transport.ts";

/** The channel for a runbook's notifications, or undefined when none is configured. */
export function channelFor(config: Config, runbook?: string): string | undefined {
  const c = config.chatops;
  return (runbook ? c.runbooks[runbook] : undefined) ?? c.environments[config.environment] ?? c.channel;
}

export interface NotifyOptions {
  config?: Config;
  transport?: Transport;
  /** When the event happened (the answer's time on an updated approval message). */
  time?: string;
}

/**
 * A lifecycle event's detail as the bus carries it (lifecycle.ts). Each kind fills its own
 * fields; those typed as present are present on every kind that reads them (an approval's
 * `requestedBy` and `deadline`, an answer's `by`), as lifecycle.ts publishes them.
 */
interface Detail {
  executionId: string;
  runbook: string;
  dryRun?: boolean;
  trigger?: { actor?: string; kind?: string; name?: string };
  requestedBy: string;
  deadline: string;
  reasons?: string[];
  approvers?: string[];
  plan?: Record<string, unknown>;
  location?: { account: string; accountName?: string; region: string };
  answer: "approve" | "reject";
  by: string;
  comment?: string;
  status: string;
  result?: { summary?: string; plan?: Record<string, unknown> } & Record<string, unknown>;
  error?: string;
  cause?: string;
  attention?: { reason?: string; completedSteps?: string[]; inFlightSteps?: string[] };
  check?: string;
  reason?: string;
  mode?: string;
  rollback?: string;
}

/** The run's root message (the thread starts here). */
function rootMessage(d: Detail): Message {
  const by = d.trigger?.actor ? ` by ${mention(String(d.trigger.actor))}` : "";
  const text = `:arrow_forward: *${esc(d.runbook)}*${d.dryRun ? " (dry-run)" : ""} \`${esc(d.executionId)}\` started${by}${d.trigger?.kind ? ` (${esc(d.trigger.kind)}${d.trigger.name ? ` ${esc(d.trigger.name)}` : ""})` : ""}`;
  return {
    text: esc(`${d.runbook} ${d.executionId} started`),
    blocks: [
      section(text),
      context(
        `Next: follow this thread · \`/reflex status ${esc(d.executionId)}\` · \`/reflex abort ${esc(d.executionId)} &lt;reason&gt;\``,
      ),
    ],
  };
}

async function failure(d: Detail): Promise<Message> {
  const run = await Executions.describe(String(d.executionId)).catch(() => undefined);
  const steps = run?.steps ?? [];
  const failed = steps.filter((s) => s.status === "FAILED").at(-1);
  const rolledBack = steps.filter((s) => /rollback|compensat|restore|revert/i.test(`${s.state} ${s.step}`));
  const lines = [
    `:x: *${esc(d.runbook)}* \`${esc(d.executionId)}\` ${esc(String(d.status ?? "FAILED").toLowerCase())}${failed ? ` at step *${esc(failed.step)}*${failed.target ? ` (${esc(failed.target)})` : ""}` : ""}: ${esc(d.error ?? failed?.error ?? "unknown error")}${d.cause || failed?.cause ? ` — ${esc(String(d.cause ?? failed?.cause).slice(0, 1500))}` : ""}`,
    rolledBack.length
      ? `Rolled back: ${esc(rolledBack.map((s) => `${s.step} ${s.status}`).join(", "))}`
      : "No rollback step ran (nothing had changed, or the runbook stopped before changing anything).",
  ];
  return {
    text: esc(`${d.runbook} ${d.executionId} failed: ${d.error ?? ""}`),
    blocks: [
      section(lines.join("\n")),
      context(
        `Next: check the targets, \`/reflex status ${esc(d.executionId)}\` for every step; fix the cause, then run again`,
      ),
    ],
  };
}

/** The message for one lifecycle event (in the run's thread), or undefined for none. */
async function messageFor(type: string, d: Detail): Promise<Message | undefined> {
  const id = `\`${esc(d.executionId)}\``;
  switch (type) {
    case "Approval Requested":
      return approvalRequest({
        executionId: d.executionId,
        runbook: d.runbook,
        requestedBy: d.requestedBy,
        deadline: d.deadline,
        reasons: d.reasons ?? [],
        approvers: d.approvers ?? [],
        plan: d.plan,
        ...(d.location ? { location: d.location } : {}),
      });
    case "Approval Answered":
      return {
        text: esc(`${d.answer === "approve" ? "approved" : "rejected"} by ${d.by}`),
        blocks: [
          section(
            `${d.answer === "approve" ? ":white_check_mark: Approved" : ":x: Rejected"} by ${mention(d.by)}${d.comment ? `: ${esc(d.comment)}` : ""}${d.status === "PENDING" ? " — more approvals needed" : ""}`,
          ),
        ],
      };
    case "Execution Succeeded": {
      const run = await Executions.find(String(d.executionId));
      if (run?.dryRun)
        return dryRunPlan({
          executionId: d.executionId,
          runbook: d.runbook,
          summary: typeof d.result?.summary === "string" ? d.result.summary : undefined,
          plan: d.result?.plan ?? d.result ?? {},
        });
      return {
        text: esc(`${d.runbook} ${d.executionId} succeeded`),
        blocks: [
          section(
            `:white_check_mark: *${esc(d.runbook)}* ${id} succeeded${d.result?.summary ? `: ${esc(d.result.summary)}` : ""}`,
          ),
          context("Next: nothing — check the service is healthy."),
        ],
      };
    }
    case "Execution Failed":
      return failure(d);
    case "Execution Aborted":
      return {
        text: esc(`${d.runbook} ${d.executionId} aborted`),
        blocks: [
          section(`:octagonal_sign: *${esc(d.runbook)}* ${id} aborted${d.cause ? `: ${esc(d.cause)}` : ""}`),
        ],
      };
    case "Execution Lost":
      return {
        text: esc(`${d.runbook} ${d.executionId} lost`),
        blocks: [
          section(
            `:warning: *${esc(d.runbook)}* ${id} was lost: ${esc(d.attention?.reason ?? d.cause ?? "")}\nCompleted steps: ${esc((d.attention?.completedSteps ?? []).join(", ")) || "none"}; in flight: ${esc((d.attention?.inFlightSteps ?? []).join(", ")) || "none"}`,
          ),
          context(
            "Next: check the targets by hand — a step may have half-finished; then run again if needed.",
          ),
        ],
      };
    case "Attention Needed":
      return {
        text: esc(`${d.runbook} ${d.executionId} needs a person now: ${d.reason ?? ""}`),
        blocks: [
          section(`:rotating_light: *${esc(d.runbook)}* ${id} needs a person now: ${esc(d.reason ?? "")}`),
          context(`Next: \`/reflex status ${esc(d.executionId)}\` — the run is putting back what it can`),
        ],
      };
    case "Abort Requested":
      return {
        text: esc(`abort requested by ${d.by}`),
        blocks: [
          section(
            `:octagonal_sign: Abort (${esc(d.mode)}) requested by ${mention(d.by)}: ${esc(d.reason)}; rollback ${esc(d.rollback)}`,
          ),
        ],
      };
    default:
      return undefined;
  }
}

/**
 * Posts one lifecycle event. `type` is the event's detail-type without the `Reflex ` prefix.
 * Resolves without posting when no channel is configured for the run.
 *
 * @example
 * await Notifier.notify("Execution Started", { executionId, runbook: "scale", trigger });
 */
export async function notify(
  type: string,
  event: Record<string, unknown>,
  opts: NotifyOptions = {},
): Promise<void> {
  // The bus's detail, as lifecycle.ts published it for this kind (see Detail).
  let detail = event as unknown as Detail;
  const config = opts.config ?? currentConfig();
  const t = opts.transport ?? transport();
  const kind = type.replace(/^Reflex /, "");
  if (kind === "Approval Requested" && detail.executionId) {
    // What an approver reads before pressing Approve comes from the approval record, never from
    // the event: anyone allowed events:PutEvents on the bus can send `source: reflex`. No
    // pending request, no message.
    const req = await ApprovalRecords.find(String(detail.executionId));
    if (req?.status !== "PENDING") return;
    detail = {
      executionId: req.executionId,
      runbook: req.runbook,
      requestedBy: req.requestedBy,
      approvers: req.approvers,
      deadline: req.deadline,
      reasons: req.reasons,
      plan: req.plan,
      ...(req.location ? { location: req.location } : {}),
    } as Detail;
  }
  if (kind === "Approval Answered" && detail.executionId) {
    // Likewise an answer: shown only as the record has it (who, what, the comment).
    const req = await ApprovalRecords.find(String(detail.executionId));
    const by = String(detail.by ?? "");
    const given = req?.answers.find(
      (a) =>
        a.answer === detail.answer && (a.actor === by || a.actor === `person:${by}` || a.identity === by),
    );
    if (!req || !given) return;
    detail = {
      executionId: req.executionId,
      runbook: req.runbook,
      answer: given.answer,
      by,
      comment: given.comment,
      status: detail.status === "PENDING" && req.status === "PENDING" ? "PENDING" : req.status,
    } as Detail;
  }
  if (kind === "Attention Needed") {
    // A page is posted only as the run's record has it (ctx.page writes it first): a forged
    // event on the bus posts nothing.
    const run = await Executions.find(String(detail.executionId ?? ""));
    const page = run?.result?.page as { reason?: string } | undefined;
    if (!run || !page?.reason) return;
    detail = { executionId: run.id, runbook: run.runbook, reason: page.reason } as Detail;
  }
  const channel = channelFor(config, detail.runbook);
  if (!channel) return;
  if (kind === "Event Suppressed") {
    await t.postMessage({
      channel,
      text: esc(`${detail.runbook} suppressed by ${detail.check}: ${detail.reason}`),
      blocks: [
        section(
          `:no_entry_sign: *${esc(detail.runbook)}* not started for ${esc(detail.trigger?.kind ?? "?")} ${esc(detail.trigger?.name ?? "")} — suppressed by *${esc(detail.check)}*: ${esc(detail.reason)}`,
        ),
        context(
          "Next: nothing if this is the guardrail working; `/reflex resume` if automation should run again.",
        ),
      ],
    });
    return;
  }
  if (!detail.executionId) return;
  const id = String(detail.executionId);
  let thread = await Threads.find(id);
  if (kind === "Execution Started" || !thread) {
    if (thread) return; // a redelivered Started
    const root = await t.postMessage({ channel, ...rootMessage(detail) });
    thread = { channel: root.channel, ts: root.ts };
    await Threads.save(id, thread);
    if (kind === "Execution Started") return;
  }
  // One approval message per request: a redelivered (or repeated) event posts it once.
  if (kind === "Approval Requested" && thread.approvalTs) return;
  const message = await messageFor(kind, detail);
  if (!message) return;
  if (kind === "Approval Answered" && thread.approvalTs) {
    await t.updateMessage({
      channel: thread.channel,
      ts: thread.approvalTs,
      ...approvalAnswered(
        { executionId: id, runbook: detail.runbook },
        {
          by: detail.by,
          answer: detail.answer,
          status: detail.status,
          comment: detail.comment,
          at: opts.time ?? new Date().toISOString(),
        },
      ),
    });
  }
  const posted = await t.postMessage({ channel: thread.channel, thread_ts: thread.ts, ...message });
  if (kind === "Approval Requested") await Threads.setApprovalTs(id, posted.ts);
}
