/**
 * The trigger: every EventBridge rule Reflex deploys (one per config rule) targets this. It
 * runs the event gate; the gate validates the event with Powertools' EventBridge schema and
 * answers bad input with a `rejected` decision (audited), never an error, so EventBridge does
 * not retry garbage. Store failures do throw, so EventBridge retries (the gate gave its dedup
 * claims back first).
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { currentConfig, Gate } from "@reflex/core";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";

loadConfigFromEnv();

/** Thrown so EventBridge redelivers an event whose handling is still in progress elsewhere. */
export class InProgressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InProgressError";
  }
}

export const handler = middy<unknown, Gate.Decision[]>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    const decisions = await Gate.handleEvent(event, { config: currentConfig() });
    for (const d of decisions) logger.info("gate decision", { ...d });
    // Another delivery holds the claim and has not finished (maybe it died): throw, so
    // EventBridge retries this one later instead of counting it delivered.
    const pending = decisions.find((d) => d.decision === "in-progress");
    if (pending) throw new InProgressError(pending.reason);
    return decisions;
  });
