/**
 * The one way the stacks make a Lambda function and a dead-letter queue, so every function
 * has a name the dashboard can use, its own log group with a retention, the handler
 * environment, and the same nag-reviewed role.
 */
import { createHash } from "node:crypto";
import { must } from "@reflex/core";
import { Duration } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { type IQueue, Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Function as SstFunction, type Stack, use } from "sst/constructs";
import {
  auditQueueUrl,
  configParameterArn,
  configParameterName,
  deploymentUnique,
  eventBusName,
  reflexConfig,
  removalPolicyFor,
  resourceName,
  stateMachineArnPrefix,
} from "./context.ts";
import { LAMBDA_ROLE, suppress } from "./nag.ts";
import { Storage } from "./storage.ts";

/** The environment every handler reads (see packages/functions/src/lib/runtime.ts and core's env). */
export function handlerEnvironment(stack: Stack): Record<string, string> {
  const { table, reports } = use(Storage);
  return {
    REFLEX_TABLE: table.tableName,
    REFLEX_BUCKET: reports.bucketName,
    REFLEX_STATE_MACHINE_ARN_PREFIX: stateMachineArnPrefix(stack),
    REFLEX_EVENT_BUS: eventBusName(stack),
    // Audit entries are handed to the one audit writer through this queue (stacks/audit.ts).
    REFLEX_AUDIT_QUEUE_URL: auditQueueUrl(stack),
    // The config itself is in SSM (it would not fit Lambda's 4 KB of environment); read at cold start.
    REFLEX_CONFIG_PARAMETER: configParameterName(stack),
    // The account events from POST /events are stamped with (never the caller's word).
    REFLEX_ACCOUNT: stack.account,
    // Alarm states Reflex has not seen change (or not lately) are read from CloudWatch.
    REFLEX_ALARM_STATE_SOURCE: "cloudwatch",
    // Changes with the config, so a deploy of a new config replaces warm containers holding the old one.
    REFLEX_CONFIG_SHA256: createHash("sha256").update(reflexConfig().json).digest("hex").slice(0, 16),
  };
}

export interface ReflexFunctionProps {
  /** The function is named `<app>-<stage>-<name>`. */
  name: string;
  /** `path/to/file.export`, from the project root. */
  handler: string;
  description: string;
  /** Added to the handler environment. */
  environment?: Record<string, string>;
  timeoutSeconds?: number;
  memoryMb?: number;
  /** Where asynchronous invocations go when they still fail after Lambda's own retries. */
  deadLetterQueue?: IQueue;
  /** False for a function that never reads the deployed config (the audit writer): no ssm:GetParameter. */
  readsConfig?: boolean;
}

/** A Reflex Lambda function: app defaults (runtime, arm64, esbuild, tracing), a named log group, the handler environment. */
export function reflexFunction(stack: Stack, id: string, props: ReflexFunctionProps): SstFunction {
  const functionName = resourceName(stack, props.name);
  const logGroup = new LogGroup(stack, `${id}Logs`, {
    // Unique per deployment of the stack: a prod log group outlives `sst remove`, and a redeploy
    // must not collide with it ("already exists"). The function logs here, not to /aws/lambda/<name>.
    logGroupName: deploymentUnique(stack, `/aws/lambda/${functionName}`),
    retention: RetentionDays.ONE_MONTH,
    removalPolicy: removalPolicyFor(stack),
  });
  const fn = new SstFunction(stack, id, {
    functionName,
    handler: props.handler,
    description: props.description,
    logGroup,
    timeout: props.timeoutSeconds ?? 30,
    memorySize: props.memoryMb ?? 512,
    environment: { ...handlerEnvironment(stack), ...props.environment },
    ...(props.deadLetterQueue
      ? { deadLetterQueue: props.deadLetterQueue, retryAttempts: 2, maxEventAge: Duration.hours(1) }
      : {}),
  });
  if (props.readsConfig !== false)
    fn.attachPermissions([
      new PolicyStatement({ actions: ["ssm:GetParameter"], resources: [configParameterArn(stack)] }),
    ]);
  suppress(must(fn.role, "fn.role"), LAMBDA_ROLE);
  // Config `organization`: whatever reads the config may admit a run in an OU's account, and
  // admission lists the OUs' accounts (packages/core/src/organization.ts). Read-only.
  if (props.readsConfig !== false && reflexConfig().config.organization) {
    fn.attachPermissions([
      new PolicyStatement({
        actions: ["organizations:ListAccountsForParent", "organizations:ListOrganizationalUnitsForParent"],
        resources: ["*"],
      }),
    ]);
    suppress(must(fn.role, "fn.role"), [
      {
        id: "AwsSolutions-IAM5",
        reason:
          "config organization: listing an OU's accounts and child OUs (read-only); the OUs' ARNs name the organization id and management account, which the hub's config does not know.",
        appliesTo: ["Resource::*"],
      },
    ]);
  }
  return fn;
}

/** An encrypted, TLS-only standard queue that keeps failed deliveries for 14 days. */
export function deadLetterQueue(stack: Stack, id: string, name: string): Queue {
  const queue = new Queue(stack, id, {
    queueName: resourceName(stack, name, 80),
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  return queue;
}
