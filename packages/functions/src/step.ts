/**
 * The step worker: every Task state of every runbook invokes this with
 * `{ runbook, step, input }`. It runs the step from core and records it.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { Steps } from "@reflex/core";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";

loadConfigFromEnv();

export const handler = middy<Steps.StepEvent, unknown>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    logger.appendKeys({ executionId: event.input?.execution?.id, runbook: event.runbook, step: event.step });
    return Steps.runStep(event);
  });
