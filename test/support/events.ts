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

/** The event EventBridge delivers when EC2 instance `instance` (in 123456789012, us-east-1) is stopped. */
export function instanceStoppedEvent(instance: string, id: string) {
  return {
    id,
    version: "0",
    source: "aws.ec2",
    account: "123456789012",
    time: new Date().toISOString(),
    region: "us-east-1",
    resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${instance}`],
    "detail-type": "EC2 Instance State-change Notification",
    detail: { "instance-id": instance, state: "stopped" },
  };
}
