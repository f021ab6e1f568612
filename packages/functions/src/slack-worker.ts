/**
 * The ChatOps worker: the work behind a Slack command or button click, invoked asynchronously
 * by the acknowledgement handler (`slack.ts`). Answers through the request's response_url.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { ChatOps } from "@reflex/core";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";
import { secret } from "./slack/secrets.ts";

loadConfigFromEnv();

let slack: Promise<void> | undefined;
/** Slack through the Web API with the bound bot token, set up once per container (on the first event). */
function useSlack(): Promise<void> {
  slack ??= secret("SLACK_BOT_TOKEN").then((token) => {
    ChatOps.Transport.useTransport(ChatOps.Transport.slackTransport(token));
  });
  slack.catch(() => {
    slack = undefined;
  });
  return slack;
}

export const handler = middy<ChatOps.Ack.Work, void>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (work) => {
    await useSlack();
    await ChatOps.Worker.handle(work);
  });
