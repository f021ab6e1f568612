/**
 * Block Kit messages: approval requests with Approve / Reject buttons, a dry-run's plan with
 * "Run it", run notifications, and plain replies. Types come from `@slack/types`; text is cut to
 * Slack's limits (3,000 characters in a section, 50 blocks a message) so a long plan or error
 * never gets the whole message refused. Every value a person or the world supplied (params,
 * reasons, comments, errors, names, tags) goes in through {@link esc}; only the markup Reflex
 * writes itself (a mention of a Slack user id, a date) is left as markup.
 */
import type { ActionsBlock, ContextBlock, InputBlock, KnownBlock, SectionBlock } from "@slack/types";
import { esc } from "./command.ts";

export { esc };

/** Slack refuses a section whose text is over 3,000 characters, and a message over 50 blocks. */
export const SECTION_LIMIT = 3000;
export const BLOCK_LIMIT = 50;

export const ACTIONS = {
  approve: "reflex.approve",
  reject: "reflex.reject",
  rejectReason: "reflex.reject-reason",
  runIt: "reflex.run-it",
} as const;
export const REASON_BLOCK = "reflex.reason";

export interface Message {
  text: string;
  blocks?: KnownBlock[];
}

export function clip(text: string, limit = SECTION_LIMIT): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

export function section(text: string): SectionBlock {
  return { type: "section", text: { type: "mrkdwn", text: clip(text || " ") } };
}

export function context(text: string): ContextBlock {
  return { type: "context", elements: [{ type: "mrkdwn", text: clip(text || " ", 2000) }] };
}

/** A plain message: the text, as one or more sections. */
export function reply(text: string): Message {
  const blocks: KnownBlock[] = [];
  for (let i = 0; i < text.length && blocks.length < BLOCK_LIMIT; i += SECTION_LIMIT - 1)
    blocks.push(section(text.slice(i, i + SECTION_LIMIT - 1)));
  return { text: clip(text, 40_000), blocks };
}

/** JSON in a code block, escaped, cut to fit a section. */
export function code(value: unknown): string {
  const json = esc(JSON.stringify(value, null, 1) ?? "");
  return `\`\`\`${clip(json, SECTION_LIMIT - 8)}\`\`\``;
}

/** A Slack user id as Slack writes one (`U…`, `W…`); anything else is not mentioned. */
const SLACK_USER = /^[UW][A-Z0-9]{1,40}$/;

/** An actor: a mention for a Slack user id, else the actor's name as code, escaped. */
const who = (actor: unknown) => {
  const a = String(actor ?? "");
  return a.startsWith("slack:") && SLACK_USER.test(a.slice(6)) ? `<@${a.slice(6)}>` : `\`${esc(a)}\``;
};
export const mention = who;

export interface ApprovalView {
  executionId: string;
  runbook: string;
  requestedBy: string;
  deadline: string;
  reasons: string[];
  approvers: string[];
  plan?: unknown;
  location?: { account: string; accountName?: string; region: string };
}

/** `111111111111 (prod-a) us-east-1`: where a run acts, when not in the hub. */
export const whereText = (l: { account: string; accountName?: string; region: string }) =>
  `${l.account}${l.accountName ? ` (${l.accountName})` : ""} ${l.region}`;

/** An approval request: the plan, who asked, the deadline, a reason box and the two buttons. */
export function approvalRequest(a: ApprovalView): Message {
  const deadline = Math.floor(Date.parse(a.deadline) / 1000);
  const actions: ActionsBlock = {
    type: "actions",
    block_id: `reflex.answer.${a.executionId}`.slice(0, 255),
    elements: [
      {
        type: "button",
        action_id: ACTIONS.approve,
        style: "primary",
        text: { type: "plain_text", text: "Approve" },
        value: a.executionId,
      },
      {
        type: "button",
        action_id: ACTIONS.reject,
        style: "danger",
        text: { type: "plain_text", text: "Reject" },
        value: a.executionId,
      },
    ],
  };
  const reason: InputBlock = {
    type: "input",
    block_id: REASON_BLOCK,
    optional: true,
    label: { type: "plain_text", text: "Reason (needed to reject)" },
    element: { type: "plain_text_input", action_id: ACTIONS.rejectReason, max_length: 1000 },
  };
  return {
    text: esc(
      `${a.runbook} ${a.executionId}${a.location ? ` in ${whereText(a.location)}` : ""} waits for approval (requested by ${a.requestedBy})`,
    ),
    blocks: [
      section(
        `:raised_hand: *${esc(a.runbook)}* \`${esc(a.executionId)}\` waits for approval${a.location ? `\n*In* account ${esc(whereText(a.location))}` : ""}\n*Requested by* ${who(a.requestedBy)} · *deadline* ${Number.isFinite(deadline) ? `<!date^${deadline}^{date_short_pretty} {time}|${esc(a.deadline)}>` : esc(a.deadline)}${a.approvers.length ? ` · *approvers* ${esc(a.approvers.join(", "))}` : ""}\n*Why:* ${esc(a.reasons.join("; ")) || "policy"}`,
      ),
      ...(a.plan !== undefined ? [section(`*Plan*\n${code(a.plan)}`)] : []),
      reason,
      actions,
    ],
  };
}

/** The approval message once answered: the buttons go, who answered and when stays. */
export function approvalAnswered(
  a: Pick<ApprovalView, "executionId" | "runbook">,
  answer: { by: string; answer: "approve" | "reject"; status: string; comment?: string; at: string },
): Message {
  const verb = answer.answer === "approve" ? "Approved" : "Rejected";
  const text = `${answer.answer === "approve" ? ":white_check_mark:" : ":x:"} *${esc(a.runbook)}* \`${esc(a.executionId)}\`: ${verb} by ${who(answer.by)} at ${esc(answer.at)}${answer.comment ? ` — ${esc(answer.comment)}` : ""}${answer.status === "PENDING" ? " (more approvals needed)" : ""}`;
  return {
    text: esc(`${a.runbook} ${a.executionId}: ${verb.toLowerCase()} by ${answer.by}`),
    blocks: [section(text)],
  };
}

/** A dry-run's plan, with the button that starts the real run. */
export function dryRunPlan(d: {
  executionId: string;
  runbook: string;
  summary?: string;
  plan: unknown;
}): Message {
  return {
    text: esc(`dry-run of ${d.runbook} ${d.executionId}: ${d.summary ?? "plan ready"}`),
    blocks: [
      section(
        `:mag: Dry-run of *${esc(d.runbook)}* \`${esc(d.executionId)}\`${d.summary ? `: ${esc(d.summary)}` : ""}`,
      ),
      section(`*Plan*\n${code(d.plan)}`),
      {
        type: "actions",
        elements: [
          {
            type: "button",
            action_id: ACTIONS.runIt,
            style: "primary",
            text: { type: "plain_text", text: "Run it" },
            value: d.executionId,
            confirm: {
              title: { type: "plain_text", text: "Start the real run?" },
              text: { type: "mrkdwn", text: `Runs *${esc(d.runbook)}* with the same params, for real.` },
              confirm: { type: "plain_text", text: "Run it" },
              deny: { type: "plain_text", text: "Cancel" },
            },
          },
        ],
      },
    ],
  };
}
