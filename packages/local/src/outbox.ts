/**
 * The outbox: in local mode Slack is unreachable, so what would have been posted — channel
 * messages (threaded per run), message updates, `response_url` follow-ups — is kept here,
 * newest last, for `GET /api/outbox` and `reflex outbox`. It is the ChatOps transport locally.
 */

import type { ChatOps } from "@reflex/core";
import type { KnownBlock } from "@slack/types";

export interface OutboxEntry {
  /** `message`: chat.postMessage; `response`: a response_url follow-up. */
  kind: "message" | "response";
  at: string;
  text: string;
  blocks?: KnownBlock[];
  channel?: string;
  ts?: string;
  thread_ts?: string;
  responseUrl?: string;
  response_type?: string;
  /** chat.update calls on this message, oldest first (the message shows the last). */
  edits?: Array<{ at: string; text: string; blocks?: KnownBlock[] }>;
}

export class Outbox implements ChatOps.Transport.Transport {
  private readonly entries: OutboxEntry[] = [];
  private seq = 0;
  /** Slack user groups by user id (what usergroups.list would say), for `group:` role members. */
  readonly groups = new Map<string, string[]>();

  constructor(private readonly keep = 1000) {}

  private push(e: OutboxEntry): void {
    this.entries.push(e);
    if (this.entries.length > this.keep) this.entries.shift();
  }

  async postMessage(m: ChatOps.Transport.PostMessage) {
    const ts = `${Math.floor(Date.now() / 1000)}.${String(++this.seq).padStart(6, "0")}`;
    this.push({ kind: "message", at: new Date().toISOString(), ts, ...m });
    return { channel: m.channel, ts };
  }

  async updateMessage(m: { channel: string; ts: string; text: string; blocks?: KnownBlock[] }) {
    const e = this.entries.find((x) => x.kind === "message" && x.channel === m.channel && x.ts === m.ts);
    if (!e) throw new Error(`outbox: no message ${m.ts} in ${m.channel}`);
    e.edits = [...(e.edits ?? []), { at: new Date().toISOString(), text: e.text, blocks: e.blocks }];
    e.text = m.text;
    e.blocks = m.blocks;
  }

  async respond(responseUrl: string, m: ChatOps.Transport.ResponseMessage) {
    this.push({ kind: "response", at: new Date().toISOString(), responseUrl, ...m });
  }

  async userGroups(userId: string) {
    return this.groups.get(userId) ?? [];
  }

  /** Entries newest first; `thread` keeps a run's thread (its root and the replies). */
  list(opts: { channel?: string; thread?: string; limit?: number } = {}): OutboxEntry[] {
    return this.entries
      .filter((e) => !opts.channel || e.channel === opts.channel)
      .filter((e) => !opts.thread || e.ts === opts.thread || e.thread_ts === opts.thread)
      .slice(-(opts.limit ?? 100))
      .reverse();
  }
}

/** One entry as a line or two of text, for `reflex outbox`. */
export function formatEntry(e: OutboxEntry): string {
  const where =
    e.kind === "response"
      ? `response_url (${e.response_type ?? "ephemeral"})`
      : `${e.channel}${e.thread_ts ? ` thread ${e.thread_ts}` : ""} ts ${e.ts}`;
  const buttons = (e.blocks ?? [])
    .flatMap((b) => (b.type === "actions" ? b.elements : []))
    .map((el) => ("text" in el && el.text && "text" in el.text ? `[${el.text.text}]` : ""))
    .join(" ");
  return `${e.at}  ${where}${e.edits?.length ? " (edited)" : ""}\n  ${e.text}${buttons ? `\n  ${buttons}` : ""}`;
}
