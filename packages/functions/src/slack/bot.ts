/**
 * The functions that post to Slack as the bot (the notifier, the ChatOps worker): the Web API
 * with the stage's bot token, bound as ChatOps' transport.
 */
import { ChatOps } from "@reflex/core";
import { secret } from "./secrets.ts";

let slack: Promise<void> | undefined;

/** Slack through the Web API with the bound bot token, set up once per container (on the first event); a failed read is tried again on the next. */
export function useSlack(): Promise<void> {
  slack ??= secret("SLACK_BOT_TOKEN").then((token) => {
    ChatOps.Transport.useTransport(ChatOps.Transport.slackTransport(token));
  });
  slack.catch(() => {
    slack = undefined;
  });
  return slack;
}
