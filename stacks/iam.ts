/**
 * Least-privilege IAM for Reflex's functions. A runbook's step worker gets exactly the
 * permissions the runbook declares (`permissions` in core), so IAM never drifts from code:
 *
 * - read-only actions: on the declared resources, else `*` (EC2/ASG/SSM describes have no
 *   resource-level scoping);
 * - mutating actions, `tagCondition: "resource"` (the default): only on resources that carry the
 *   automation tag (`aws:ResourceTag/<key>`);
 * - mutating actions, `"request"`: only when the request puts the automation tag on what it
 *   creates (`aws:RequestTag/<key>`);
 * - mutating actions, `"none"`: only on the declared resources, which must be given. EC2, Auto
 *   Scaling, SSM and Route 53 support tag conditions, so their mutating actions may not use it.
 */
import { RunbookDefinitionError, type Runbooks, TABLE_KEYS } from "@reflex/core";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";

/**
 * What core calls on the table: single-item reads and writes, queries, batched audit writes.
 * No Scan, no table management. stacks/iam.test.ts checks this against the DynamoDB commands
 * core imports, so a new call fails the tests, not the deployed function.
 */
export const TABLE_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:Query",
  "dynamodb:BatchWriteItem",
];

/** Services whose mutating actions must always be scoped by the automation tag. */
export const TAG_SCOPED_SERVICES = ["ec2", "autoscaling", "ssm", "route53"];

export interface RunbookPolicyContext {
  automationTag: { key: string; value: string };
  /** Values for `${...}` placeholders in declared resources, e.g. `ReportsBucketArn`. */
  substitutions: Record<string, string>;
}

function substitute(resource: string, runbook: string, values: Record<string, string>): string {
  return resource.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_whole, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new RunbookDefinitionError(
        `runbook '${runbook}' declares a resource with \${${name}}, which the stacks do not provide (known: ${Object.keys(values).join(", ")})`,
      );
    }
    return value;
  });
}

/** The IAM statements for one runbook's declared permissions. Throws on a permission that cannot be scoped safely. */
export function runbookStatements(runbook: Runbooks.Runbook, ctx: RunbookPolicyContext): PolicyStatement[] {
  return runbook.permissions.map((p, i) => {
    const where = `runbook '${runbook.name}' permissions[${i}]`;
    for (const action of p.actions) {
      if (action.includes("*"))
        throw new RunbookDefinitionError(`${where}: action '${action}' uses a wildcard`);
    }
    const resources = p.resources?.map((r) => substitute(r, runbook.name, ctx.substitutions));
    if (!p.mutating) return new PolicyStatement({ actions: p.actions, resources: resources ?? ["*"] });

    const condition = p.tagCondition ?? "resource";
    if (condition === "none") {
      const unscoped = p.actions.filter((a) => TAG_SCOPED_SERVICES.includes(a.split(":")[0].toLowerCase()));
      if (unscoped.length > 0) {
        throw new RunbookDefinitionError(
          `${where}: mutating ${unscoped.join(", ")} must be scoped by the automation tag (tagCondition "resource" or "request")`,
        );
      }
      if (!resources?.length || resources.includes("*")) {
        throw new RunbookDefinitionError(
          `${where}: a mutating permission without a tag condition must name its resources`,
        );
      }
      return new PolicyStatement({ actions: p.actions, resources });
    }
    const key = condition === "resource" ? "aws:ResourceTag" : "aws:RequestTag";
    return new PolicyStatement({
      actions: p.actions,
      resources: resources ?? ["*"],
      conditions: { StringEquals: { [`${key}/${ctx.automationTag.key}`]: ctx.automationTag.value } },
    });
  });
}

/** Read/write on the state table and its index, nothing else (no Scan, no table management). */
export function tableStatement(tableArn: string): PolicyStatement {
  return new PolicyStatement({
    actions: TABLE_ACTIONS,
    resources: [tableArn, `${tableArn}/index/${TABLE_KEYS.gsi1.indexName}`],
  });
}

/** Starting runs: StartExecution on Reflex's own state machines, each named. */
export function startExecutionStatement(stateMachineArns: string[]): PolicyStatement {
  return new PolicyStatement({ actions: ["states:StartExecution"], resources: stateMachineArns });
}

/** Reading Reflex's own executions (the reconciler). */
export function describeExecutionStatement(executionArnPrefix: string): PolicyStatement {
  return new PolicyStatement({
    actions: ["states:DescribeExecution"],
    resources: [`${executionArnPrefix}*`],
  });
}

/** Publishing lifecycle events to Reflex's bus only. */
export function putEventsStatement(eventBusArn: string): PolicyStatement {
  return new PolicyStatement({ actions: ["events:PutEvents"], resources: [eventBusArn] });
}

/**
 * Answering approvals and aborting runs (the API): SendTaskSuccess / SendTaskFailure take a task
 * token, not an ARN — the service authorization reference lists no resource type for them, so
 * they can only be granted on `*`; the token itself is the capability, and only this function
 * reads tokens (from the state table). StopExecution is scoped to this stage's executions.
 */
export function runControlStatements(executionArnPrefix: string): PolicyStatement[] {
  return [
    new PolicyStatement({
      actions: ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
      resources: ["*"],
    }),
    new PolicyStatement({ actions: ["states:StopExecution"], resources: [`${executionArnPrefix}*`] }),
  ];
}
