export { alarmEvent } from "../../packages/local/src/sample-events.ts";

/**
 * The event EventBridge delivers when a Step Functions execution ends FAILED: run `name` of
 * `stateMachineArn`, with the error and cause given (a test sends it as someone else's or forged).
 */
export function executionFailedEvent(stateMachineArn: string, name: string, error: string, cause: string) {
  return {
    version: "0",
    id: `evt-${name}`,
    "detail-type": "Step Functions Execution Status Change" as const,
    source: "aws.states",
    account: "000000000000",
    time: new Date().toISOString(),
    region: "us-east-1",
    resources: [],
    detail: {
      executionArn: `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`,
      stateMachineArn,
      name,
      status: "FAILED" as const,
      error,
      cause,
    },
  };
}
