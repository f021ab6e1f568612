/**
 * Closes runs. In AWS, an EventBridge rule sends Step Functions' "Execution Status Change"
 * events here; locally the engine sends the same event. Redelivery is harmless: a run is
 * closed once.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { Runs } from "@reflex/core";
import type { EventBridgeEvent } from "aws-lambda";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";

loadConfigFromEnv();

export interface StatusDetail {
  executionArn: string;
  name: string;
  status: "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "PENDING_REDRIVE";
  error?: string | null;
  cause?: string | null;
}

export const handler = middy<EventBridgeEvent<"Step Functions Execution Status Change", StatusDetail>, void>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    const { name, status, error, cause } = event.detail;
    if (status === "RUNNING" || status === "PENDING_REDRIVE") return;
    const closed = await Runs.finish(name, { status, error: error ?? undefined, cause: cause ?? undefined });
    logger.info("execution closed", { executionId: name, status, alreadyClosed: !closed });
  });
