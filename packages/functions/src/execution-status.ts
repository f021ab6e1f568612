/**
 * Closes runs. In AWS, an EventBridge rule sends Step Functions' "Execution Status Change"
 * events here; locally the engine sends the same event. Redelivery is harmless: a run is
 * closed once.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { Runbooks, Runs, requireEnv } from "@reflex/core";
import type { EventBridgeEvent } from "aws-lambda";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";

loadConfigFromEnv();

export interface StatusDetail {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "PENDING_REDRIVE";
  error?: string | null;
  cause?: string | null;
}

export const handler = middy<EventBridgeEvent<"Step Functions Execution Status Change", StatusDetail>, void>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    const { name, status, error, cause, stateMachineArn } = event.detail;
    if (status === "RUNNING" || status === "PENDING_REDRIVE") return;
    // Runs are closed by execution name, and names repeat across stages (schedule run ids are
    // deterministic): only this stage's own machines may close this stage's runs.
    if (!ownMachines().has(stateMachineArn)) {
      logger.warn("ignored the status of a state machine that is not this stage's", {
        stateMachineArn,
        name,
      });
      return;
    }
    const closed = await Runs.finish(name, { status, error: error ?? undefined, cause: cause ?? undefined });
    logger.info("execution closed", { executionId: name, status, alreadyClosed: !closed });
  });

let own: Set<string> | undefined;
/** The exact ARNs of this stage's state machines: `REFLEX_STATE_MACHINE_ARN_PREFIX` + each runbook. */
function ownMachines(): Set<string> {
  own ??= new Set(Runbooks.list().map((r) => `${requireEnv("REFLEX_STATE_MACHINE_ARN_PREFIX")}${r.name}`));
  return own;
}
