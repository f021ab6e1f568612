/**
 * The Step Functions API (AWS JSON 1.0 protocol: POST /, `X-Amz-Target: AWSStepFunctions.<Op>`)
 * over the local engine, so core's `SFNClient` works unchanged against local mode.
 */
import { AwsError, type LocalExecution, type LocalStepFunctions } from "./local-sfn.ts";

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

function describe(e: LocalExecution) {
  return {
    executionArn: e.executionArn,
    stateMachineArn: e.stateMachineArn,
    name: e.name,
    status: e.status,
    startDate: seconds(e.startDate),
    stopDate: seconds(e.stopDate),
    input: e.input,
    output: e.output,
    error: e.error,
    cause: e.cause,
  };
}

/**
 * A string field of the request body: undefined when absent, refused (as Step Functions refuses a
 * request of the wrong shape) when it is something else.
 */
function optional(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new AwsError("ValidationException", `${name} must be a string`);
  return v;
}

/** A string field the operation cannot do without. */
function required(body: Record<string, unknown>, name: string): string {
  const v = optional(body, name);
  if (v === undefined) throw new AwsError("ValidationException", `${name} is required`);
  return v;
}

/** Answers one Step Functions API call. Returns the HTTP status and JSON body. */
export function handleSfn(
  engine: LocalStepFunctions,
  target: string,
  body: Record<string, unknown>,
): { status: number; body: unknown } {
  const op = target.replace(/^AWSStepFunctions\./, "");
  try {
    switch (op) {
      case "StartExecution": {
        const out = engine.startExecution({
          stateMachineArn: required(body, "stateMachineArn"),
          name: optional(body, "name"),
          input: optional(body, "input"),
        });
        return { status: 200, body: { executionArn: out.executionArn, startDate: seconds(out.startDate) } };
      }
      case "DescribeExecution":
        return { status: 200, body: describe(engine.describeExecution(required(body, "executionArn"))) };
      case "StopExecution":
        return {
          status: 200,
          body: {
            stopDate: seconds(
              engine.stopExecution(
                required(body, "executionArn"),
                optional(body, "error"),
                optional(body, "cause"),
              ).stopDate,
            ),
          },
        };
      case "ListExecutions": {
        const statusFilter = optional(body, "statusFilter");
        return {
          status: 200,
          body: {
            executions: engine
              .list(optional(body, "stateMachineArn"))
              .filter((e) => !statusFilter || e.status === statusFilter)
              .map((e) => {
                const { input, output, error, cause, ...rest } = describe(e);
                return rest;
              }),
          },
        };
      }
      case "GetExecutionHistory": {
        const e = engine.describeExecution(required(body, "executionArn"));
        return {
          status: 200,
          body: {
            events: e.history.map((h, i) => ({
              id: i + 1,
              timestamp: seconds(h.timestamp),
              type: h.type,
              // The local engine's own event shape, kept whole for debugging.
              details: JSON.stringify(h),
            })),
          },
        };
      }
      // `.waitForTaskToken`: answers to a waiting Task (human approvals).
      case "SendTaskSuccess":
        engine.tokens.succeed(body.taskToken, body.output);
        return { status: 200, body: {} };
      case "SendTaskFailure":
        engine.tokens.fail(body.taskToken, optional(body, "error"), optional(body, "cause"));
        return { status: 200, body: {} };
      case "SendTaskHeartbeat":
        engine.tokens.heartbeat(body.taskToken);
        return { status: 200, body: {} };
      default:
        throw new AwsError("UnknownOperationException", `local Step Functions does not implement ${op}`);
    }
  } catch (err) {
    if (err instanceof AwsError)
      return { status: err.status, body: { __type: err.type, message: err.message } };
    return { status: 500, body: { __type: "InternalFailure", message: (err as Error).message } };
  }
}
