/**
 * Closes runs. In AWS, an EventBridge rule sends Step Functions' "Execution Status Change"
 * events here; locally the engine sends the same event. The event is a hint, not the truth:
 * anyone able to invoke this function could forge one, and closing a run frees its locks. So
 * the execution is read back with DescribeExecution (the SFN client from the factory), and only
 * what Step Functions says — a machine of this stage, an execution that has ended, its own
 * status, error and cause — closes the run. A forged event for a run still RUNNING, or for an
 * execution that does not exist, changes nothing. Redelivery is harmless: a run is closed once.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  SFNClient,
} from "@aws-sdk/client-sfn";
import middy from "@middy/core";
import { Aws, HistoryReports, Locations, Runbooks, Runs, requireEnv } from "@reflex/core";
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

const ENDED = new Set(["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]);

/** What Step Functions says about an execution; undefined when it has no such execution. */
async function describe(executionArn: string): Promise<DescribeExecutionCommandOutput | undefined> {
  try {
    return await Aws.client(SFNClient, "sfn").send(new DescribeExecutionCommand({ executionArn }));
  } catch (err) {
    const name = (err as Error).name;
    if (name === "ExecutionDoesNotExist" || name === "InvalidArn") return undefined;
    throw err; // throttled or down: EventBridge retries the event
  }
}

export const handler = middy<EventBridgeEvent<"Step Functions Execution Status Change", StatusDetail>, void>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    const { executionArn, name, status, stateMachineArn } = event.detail ?? ({} as StatusDetail);
    if (status === "RUNNING" || status === "PENDING_REDRIVE") return;
    // A fan-out over many locations is no run: its Finish step records its end (Locations.step).
    if (stateMachineArn === `${requireEnv("REFLEX_STATE_MACHINE_ARN_PREFIX")}${Locations.FAN_OUT_MACHINE}`)
      return;
    // Runs are closed by execution name, and names repeat across stages (schedule run ids are
    // deterministic): only this stage's own machines may close this stage's runs.
    if (!ownMachines().has(stateMachineArn) || typeof executionArn !== "string") {
      logger.warn("ignored the status of a state machine that is not this stage's", {
        stateMachineArn,
        name,
      });
      return;
    }
    const truth = await describe(executionArn);
    if (
      !truth ||
      truth.name !== name ||
      !ownMachines().has(truth.stateMachineArn ?? "") ||
      !ENDED.has(truth.status ?? "")
    ) {
      logger.warn("ignored a status event Step Functions does not confirm", {
        executionArn,
        name,
        claimed: status,
        actual: truth?.status ?? "no such execution",
      });
      return;
    }
    const closed = await Runs.finish(name, {
      status: truth.status as Exclude<StatusDetail["status"], "RUNNING" | "PENDING_REDRIVE">,
      error: truth.error ?? undefined,
      cause: truth.cause ?? undefined,
    });
    logger.info("execution closed", { executionId: name, status: truth.status, alreadyClosed: !closed });
    // A drill's report to S3, once the run is closed: a failed write cannot change its verdict;
    // it is recorded on the run and the reconciler writes it on its next pass.
    const report = await HistoryReports.write(name);
    if (report?.error)
      logger.error("the run's report could not be written; the reconciler retries", { ...report });
  });

/**
 * The exact ARNs of this stage's state machines: `REFLEX_STATE_MACHINE_ARN_PREFIX` + each runbook.
 * Read from the registry each time, not kept: a runbook registered later (a config loaded again,
 * a second local mode in the process) would otherwise have its runs left RUNNING.
 */
function ownMachines(): Set<string> {
  const prefix = requireEnv("REFLEX_STATE_MACHINE_ARN_PREFIX");
  return new Set(Runbooks.list().map((r) => `${prefix}${r.name}`));
}
