/**
 * Where ChatOps messages go. Deployed: Slack, through `@slack/web-api` (chat.postMessage,
 * chat.update, usergroups.list) with `SLACK_BOT_TOKEN`, and `response_url` follow-ups. Local
 * mode: the outbox (Slack is unreachable), set with {@link useTransport}.
 */
import type { KnownBlock } from "@slack/types";
import { EnvironmentError } from "../errors.ts";

export interface PostMessage {
  channel: string;
  text: string;
  blocks?: KnownBlock[];
  thread_ts?: string;
}

/** What a `response_url` takes. */
export interface ResponseMessage {
  text: string;
  blocks?: KnownBlock[];
  response_type?: "ephemeral" | "in_channel";
  replace_original?: boolean;
}

export interface Transport {
  postMessage(m: PostMessage): Promise<{ channel: string; ts: string }>;
  updateMessage(m: { channel: string; ts: string; text: string; blocks?: KnownBlock[] }): Promise<void>;
  respond(responseUrl: string, m: ResponseMessage): Promise<void>;
  /** The Slack user groups a user is in (for `group:` role members). */
  userGroups(userId: string): Promise<string[]>;
}

let current: Transport | undefined;

export function useTransport(t: Transport | undefined): void {
  current = t;
}

/** The transport in force: the one set, else Slack with `SLACK_BOT_TOKEN`. */
export function transport(): Transport {
  current ??= slackTransport();
  return current;
}

/** The deployed transport. The SDK is imported on first use, so nothing loads it at init. */
export function slackTransport(token = process.env.SLACK_BOT_TOKEN): Transport {
  if (!token) throw new EnvironmentError("environment variable SLACK_BOT_TOKEN is not set");
  let client: Promise<import("@slack/web-api").WebClient> | undefined;
  const web = () => {
    client ??= import("@slack/web-api").then(({ WebClient }) => new WebClient(token));
    return client;
  };
  let groups: { at: number; byUser: Map<string, string[]> } | undefined;
  return {
    async postMessage(m) {
      const out = await (await web()).chat.postMessage({ ...m, unfurl_links: false } as never);
      return { channel: String(out.channel), ts: String(out.ts) };
    },
    async updateMessage(m) {
      await (await web()).chat.update(m as never);
    },
    async respond(url, m) {
      // response_url is a webhook, not a Web API method: a plain JSON POST.
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(m),
      });
      if (!res.ok) throw new Error(`response_url answered ${res.status}`);
    },
    async userGroups(userId) {
      // One usergroups.list (with members) per 5 minutes per container.
      if (!groups || Date.now() - groups.at > 300_000) {
        const out = await (await web()).usergroups.list({ include_users: true });
        const byUser = new Map<string, string[]>();
        for (const g of out.usergroups ?? [])
          for (const u of g.users ?? []) byUser.set(u, [...(byUser.get(u) ?? []), String(g.id)]);
        groups = { at: Date.now(), byUser };
      }
      return groups.byUser.get(userId) ?? [];
    },
  };
}

/** Slack's terms for response_url: at most 5 uses within 30 minutes of the request. */
export const RESPONSE_URL_USES = 5;
export const RESPONSE_URL_MS = 30 * 60_000;

/**
 * A response_url with its budget. One request is handled by one worker invocation, so counting
 * here counts every use; past the budget (or the 30 minutes) a follow-up is dropped with a log
 * line instead of failing the work it reports on.
 */
export function responder(url: string | undefined, receivedAt: number, t: Transport = transport()) {
  let used = 0;
  return {
    get used() {
      return used;
    },
    async send(m: ResponseMessage): Promise<boolean> {
      if (!url) return false;
      if (used >= RESPONSE_URL_USES || Date.now() - receivedAt > RESPONSE_URL_MS) {
        console.warn(JSON.stringify({ level: "WARN", message: "response_url budget spent", used }));
        return false;
      }
      used++;
      await t.respond(url, m);
      return true;
    },
  };
}
