/**
 * The Slack notifier: a rule on Reflex's bus sends every lifecycle event (source `reflex`)
 * here; each is posted to the run's thread in the configured channel (`@slack/web-api`).
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { ChatOps } from "@reflex/core";
import type { EventBridgeEvent } from "aws-lambda";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";
import { useSlack } from "./slack/bot.ts";

loadConfigFromEnv();

export const handler = middy<EventBridgeEvent<string, Record<string, unknown>>, void>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    await useSlack();
    await ChatOps.Notifier.notify(event["detail-type"], event.detail, { time: event.time });
  });
