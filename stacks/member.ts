/**
 * The member-account template: what each account a hub acts in must hold, generated from the
 * runbooks' declared permissions, so a member's IAM never drifts from code either.
 *
 * - `ReflexExecutionRole` (the name the hub assumes, `Accounts.DEFAULT_MEMBER_ROLE`): the
 *   runbooks' cloud permissions, fenced by the same automation tag as in the hub
 *   (`runbookStatements`), minus what runs in the hub (its table, bus, queues, reports bucket:
 *   `Aws.HUB_SERVICES`), trusting only the hub's step-worker roles (and the external id, when
 *   one is set), with sessions of at most an hour (role chaining's limit anyway);
 * - a rule on the member's default bus forwarding CloudWatch alarm state changes and EC2 state
 *   changes to the hub's bus, through a role that may only `events:PutEvents` on that bus (a
 *   target in another account under an organization-wide bus policy must have a `RoleArn`).
 *
 * And for the hub, {@link hubBusPolicy}: the bus policy letting the organization's accounts put
 * events on the hub's bus. Deploy the member template to every account as a service-managed
 * StackSet (AutoDeployment on) or export it (`cdk synth`); see docs/accounts.md.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Accounts, type Config, Runbooks } from "@reflex/core";
import { App, BootstraplessSynthesizer, CfnParameter, Fn, Stack, type StackProps } from "aws-cdk-lib";
import { CfnStackSet } from "aws-cdk-lib/aws-cloudformation";
import { CfnEventBusPolicy, CfnRule } from "aws-cdk-lib/aws-events";
import {
  ArnPrincipal,
  type CfnRole,
  Policy,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import { effectivePermissions, runbookStatements } from "./iam.ts";

/** IAM prefixes of the services a step reaches in the hub, never in a member (`Aws.HUB_SERVICES`). */
const HUB_PREFIXES = ["dynamodb", "s3", "states", "events", "scheduler", "sqs", "sts"];

export interface MemberTemplateProps extends StackProps {
  /** The hub's step-worker role ARNs: the only principals the member role trusts. */
  stepWorkerRoleArns: string[];
  /** The hub's Reflex bus, where the member's events go. */
  hubBusArn: string;
  automationTag: { key: string; value: string };
  /** The `sts:ExternalId` the hub sends (config `accounts[].externalId`), when there is one. */
  externalId?: string;
  /** The runbooks whose permissions the role gets; default every registered runbook. */
  runbooks?: Runbooks.Runbook[];
  config?: Config;
  /**
   * The template as a StackSet deploys it: the step-worker role ARNs and the hub's bus are
   * parameters (`HubStepWorkerRoleArns`, `HubBusArn`) the hub fills in, not literals.
   */
  parameterized?: boolean;
}

/** A runbook's permissions that act on the member's cloud (not the hub's own services). */
export function memberPermissions(runbook: Runbooks.Runbook, config?: Config): Runbooks.Permission[] {
  return effectivePermissions(runbook, config).filter(
    (p) => !p.actions.every((a) => HUB_PREFIXES.includes(a.split(":")[0]?.toLowerCase() ?? "")),
  );
}

export class MemberStack extends Stack {
  readonly role: Role;
  readonly forwarder: Role;
  readonly rule: CfnRule;

  constructor(scope: Construct, id: string, props: MemberTemplateProps) {
    super(scope, id, props);
    if (props.parameterized) {
      const workers = new CfnParameter(this, "HubStepWorkerRoleArns", {
        type: "CommaDelimitedList",
        description: "The hub's step-worker role ARNs: the only principals ReflexExecutionRole trusts",
      });
      const bus = new CfnParameter(this, "HubBusArn", {
        type: "String",
        description: "The hub's Reflex event bus, where this account's alarm and EC2 events go",
        allowedPattern: "^arn:aws[a-z-]*:events:[a-z0-9-]+:\\d{12}:event-bus/.+$",
      });
      props = { ...props, stepWorkerRoleArns: workers.valueAsList, hubBusArn: bus.valueAsString };
    }
    if (props.stepWorkerRoleArns.length === 0)
      throw new Error("the member role must trust the hub's step-worker roles");
    this.role = new Role(this, "ExecutionRole", {
      roleName: Accounts.DEFAULT_MEMBER_ROLE,
      description: "Reflex: what the hub's runbooks may do in this account",
      // Replaced below by the whole trust policy; a list parameter has no first element at synth.
      assumedBy: new ArnPrincipal(
        props.parameterized
          ? Fn.select(0, props.stepWorkerRoleArns)
          : (props.stepWorkerRoleArns[0] as string),
      ),
    });
    // Written out whole: CDK's CompositePrincipal loses all but its first principal once given
    // conditions (member.test.ts caught it), and the trust is the one thing that must be exact.
    (this.role.node.defaultChild as CfnRole).assumeRolePolicyDocument = {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: "sts:AssumeRole",
          Principal: { AWS: props.stepWorkerRoleArns },
          ...(props.externalId
            ? { Condition: { StringEquals: { "sts:ExternalId": props.externalId } } }
            : {}),
        },
      ],
    };
    const literals = { Partition: this.partition, Account: this.account, Region: this.region };
    const statements = (props.runbooks ?? Runbooks.list()).flatMap((runbook) => {
      const permissions = memberPermissions(runbook, props.config);
      if (permissions.length === 0) return [];
      return runbookStatements(
        { ...runbook, permissions },
        { automationTag: props.automationTag, substitutions: literals, config: undefined },
      );
    });
    new Policy(this, "ExecutionPermissions", { statements, roles: [this.role] });

    this.forwarder = new Role(this, "ForwardToHub", {
      assumedBy: new ServicePrincipal("events.amazonaws.com"),
      description: "Reflex: the member's rule puts events on the hub's bus, and nothing else",
    });
    this.forwarder.addToPolicy(
      new PolicyStatement({ actions: ["events:PutEvents"], resources: [props.hubBusArn] }),
    );
    this.rule = new CfnRule(this, "ForwardToHubRule", {
      description: "Reflex: alarm and EC2 state changes to the hub's bus",
      eventPattern: {
        source: ["aws.cloudwatch", "aws.ec2"],
        "detail-type": ["CloudWatch Alarm State Change", "EC2 Instance State-change Notification"],
      },
      targets: [{ id: "hub", arn: props.hubBusArn, roleArn: this.forwarder.roleArn }],
    });
  }
}

/**
 * The hub bus's policy: the organization's accounts may put events on it (each member's rule
 * does, through its forwarding role). One statement for the whole organization keeps the
 * policy far under EventBridge's 10 KB, however many accounts join.
 */
export function hubBusPolicy(
  scope: Construct,
  id: string,
  props: { eventBusName: string; organizationId: string },
): CfnEventBusPolicy {
  if (!/^o-[a-z0-9]{10,32}$/.test(props.organizationId))
    throw new Error(`'${props.organizationId}' is not an organization id (o-…)`);
  return new CfnEventBusPolicy(scope, id, {
    eventBusName: props.eventBusName,
    statementId: "reflex-members",
    statement: {
      Effect: "Allow",
      Principal: "*",
      Action: "events:PutEvents",
      Resource: `arn:${Stack.of(scope).partition}:events:${Stack.of(scope).region}:${Stack.of(scope).account}:event-bus/${props.eventBusName}`,
      Condition: { StringEquals: { "aws:PrincipalOrgID": props.organizationId } },
    },
  });
}

/** The stack name of the exported member template (`npm run synth` writes `<out>/ReflexMember.template.json`). */
export const MEMBER_TEMPLATE_STACK = "ReflexMember";

/**
 * The member template as a StackSet deploys it (parameterized: the hub fills in its step-worker
 * role ARNs and its bus), synthesized in an app of its own: the CloudFormation JSON.
 */
export function memberTemplate(props: {
  automationTag: { key: string; value: string };
  externalId?: string;
  config?: Config;
}): Record<string, unknown> {
  // The cloud assembly goes to a dir of its own, removed once the template is read (an App with
  // no outdir makes a cdk.out* dir in the system's temp dir that nothing removes).
  const outdir = mkdtempSync(join(tmpdir(), "reflex-member-template-"));
  try {
    // No CDK bootstrap in member accounts: no BootstrapVersion parameter or rule, no metadata.
    const app = new App({ analyticsReporting: false, outdir });
    const stack = new MemberStack(app, MEMBER_TEMPLATE_STACK, {
      ...props,
      synthesizer: new BootstraplessSynthesizer(),
      stepWorkerRoleArns: ["parameter"],
      hubBusArn: "parameter",
      parameterized: true,
    });
    return app.synth().getStackByName(stack.stackName).template as Record<string, unknown>;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * The hub's service-managed StackSet delivering the member template to every account of the
 * config's `organization.ous` (and, with `AutoDeployment`, to accounts that join them later;
 * removed with an account that leaves). One Region (the organization's first): the template
 * holds a named IAM role, which a second Region's instance would collide with. From a
 * delegated administrator (`organization.delegatedAdmin`), `CallAs: DELEGATED_ADMIN`.
 */
export function memberStackSet(
  scope: Construct,
  id: string,
  props: {
    organization: NonNullable<Config["organization"]>;
    automationTag: { key: string; value: string };
    stepWorkerRoleArns: string[];
    hubBusArn: string;
    config?: Config;
  },
): CfnStackSet {
  const org = props.organization;
  const template = memberTemplate({
    automationTag: props.automationTag,
    ...(org.externalId ? { externalId: org.externalId } : {}),
    config: props.config,
  });
  return new CfnStackSet(scope, id, {
    stackSetName: `${Stack.of(scope).stackName}-member`,
    description: "Reflex member accounts: ReflexExecutionRole and the rule forwarding events to the hub",
    permissionModel: "SERVICE_MANAGED",
    autoDeployment: { enabled: true, retainStacksOnAccountRemoval: false },
    callAs: org.delegatedAdmin ? "DELEGATED_ADMIN" : "SELF",
    capabilities: ["CAPABILITY_NAMED_IAM"],
    managedExecution: { Active: true },
    operationPreferences: { failureTolerancePercentage: 10, maxConcurrentPercentage: 25 },
    templateBody: JSON.stringify(template),
    parameters: [
      { parameterKey: "HubStepWorkerRoleArns", parameterValue: Fn.join(",", props.stepWorkerRoleArns) },
      { parameterKey: "HubBusArn", parameterValue: props.hubBusArn },
    ],
    stackInstancesGroup: [
      { deploymentTargets: { organizationalUnitIds: org.ous }, regions: [org.regions[0] as string] },
    ],
  });
}
