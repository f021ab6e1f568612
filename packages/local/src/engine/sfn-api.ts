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

/** Answers one Step Functions API call. Returns the HTTP status and JSON body. */
export function handleSfn(
  engine: LocalStepFunctions,
  target: string,
  body: Record<string, any>,
): { status: number; body: unknown } {
  const op = target.replace(/^AWSStepFunctions\./, "");
  try {
    switch (op) {
      case "StartExecution": {
        const out = engine.startExecution({
          stateMachineArn: body.stateMachineArn,
          name: body.name,
          input: body.input,
        });
        return { status: 200, body: { executionArn: out.executionArn, startDate: seconds(out.startDate) } };
      }
      case "DescribeExecution":
        return { status: 200, body: describe(engine.describeExecution(body.executionArn)) };
      case "StopExecution":
        return {
          status: 200,
          body: {
            stopDate: seconds(engine.stopExecution(body.executionArn, body.error, body.cause).stopDate),
          },
        };
      case "ListExecutions":
        return {
          status: 200,
          body: {
            executions: engine
              .list(body.stateMachineArn)
              .filter((e) => !body.statusFilter || e.status === body.statusFilter)
              .map((e) => {
                const { input, output, error, cause, ...rest } = describe(e);
                return rest;
              }),
          },
        };
      case "GetExecutionHistory": {
        const e = engine.describeExecution(body.executionArn);
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
        engine.tokens.fail(body.taskToken, body.error, body.cause);
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
