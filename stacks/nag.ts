/**
 * cdk-nag suppressions, each next to the resource it concerns and each with its reason. The
 * stacks pass the AwsSolutions checks with these and nothing broader: no stack-wide
 * suppression, and IAM wildcard findings are suppressed only for the exact wildcard they name.
 */
import { NagSuppressions } from "cdk-nag";
import type { IConstruct } from "constructs";

export interface Suppression {
  id: string;
  reason: string;
  /** The finding's exact subjects (e.g. `Resource::*`); leave out only when the rule has none. */
  appliesTo?: Array<string | { regex: string }>;
}

/** Suppresses findings on a construct and the CloudFormation resources under it. */
export function suppress(construct: IConstruct, suppressions: Suppression[], applyToChildren = true): void {
  for (const s of suppressions) {
    if (s.reason.trim().length < 20) throw new Error(`cdk-nag suppression ${s.id} needs a real reason`);
  }
  NagSuppressions.addResourceSuppressions(construct, suppressions, applyToChildren);
}

/** Every Lambda role: CloudWatch Logs via AWS's basic execution policy, X-Ray via CDK's tracing grant. */
export const LAMBDA_ROLE: Suppression[] = [
  {
    id: "AwsSolutions-IAM4",
    reason:
      "AWSLambdaBasicExecutionRole grants only logs:CreateLogGroup/CreateLogStream/PutLogEvents, AWS's standard minimum for a function to write its logs; each function writes to its own named log group.",
    appliesTo: ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
  },
  {
    id: "AwsSolutions-IAM5",
    reason:
      "Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support resource-level permissions, so AWS requires Resource '*'.",
    appliesTo: ["Resource::*"],
  },
];

/** Every state machine role: vended-log delivery and X-Ray, neither of which can be scoped to a resource. */
export const STATE_MACHINE_ROLE: Suppression[] = [
  {
    id: "AwsSolutions-IAM5",
    reason:
      "Logging level ALL needs the logs:*LogDelivery / Describe* actions and tracing needs xray:PutTraceSegments etc.; none of them support resource-level permissions, so AWS requires Resource '*'. Lambda invocation is scoped to the runbook's own step function.",
    appliesTo: ["Resource::*"],
  },
];
