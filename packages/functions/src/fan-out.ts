/**
 * The fan-out's Task states (core's `Locations.fanOutStateMachine`): `start` admits one
 * location's child run, `check` looks whether it has ended, `finish` lists every location's
 * outcome. Invoked by the fan-out's state machine only; its input names a fan-out whose item
 * (written by whoever was allowed to start it) holds the request, so a payload alone starts
 * nothing that was not asked for.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { Locations } from "@reflex/core";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";

loadConfigFromEnv();

export const handler = middy<Locations.FanOutStep, unknown>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    logger.appendKeys({ parentId: event.parentId, action: event.action, index: event.index });
    return Locations.step(event);
  });
