/**
 * The ChatOps worker: the work behind a Slack command or button click, invoked asynchronously
 * by the acknowledgement handler (`slack.ts`). Answers through the request's response_url.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { ChatOps } from "@reflex/core";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";
import { useSlack } from "./slack/bot.ts";

loadConfigFromEnv();

export const handler = middy<ChatOps.Ack.Work, void>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (work) => {
    await useSlack();
    await ChatOps.Worker.handle(work);
  });
