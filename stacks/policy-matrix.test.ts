/**
 * The IAM fence, evaluated: every Lambda role of the synthesized app, and the alarm topic's
 * policy, run through an IAM policy evaluator (stacks/support/policy-sim.ts) on requests an
 * attacker controlling that function would try, and on the work each runbook declares.
 *
 * The expectations are the security rules, not observed results: nothing Reflex did not
 * create in the same call can be tagged; nothing untagged can be stopped, modified or deleted;
 * each step worker (and state machine, for its `aws()` Tasks) can do its declared work on tagged
 * resources, and nothing else can. Who may do a runbook's work is read from the manifests
 * (./support/declared-work.ts): every registered runbook's, and a team's own from its config
 * (examples/runbooks/reflex.config.ts: restart-service, scale-service, db-backup and db-failover, synthesized
 * beside the fixture app).
 */
import { type Config, loadConfig, Runbooks } from "@reflex/core";
import { Template } from "aws-cdk-lib/assertions";
import { getStack } from "sst/constructs";
import { beforeAll, describe, expect, it } from "vitest";
import { Api } from "./api.ts";
import { Audit } from "./audit.ts";
import { Observability } from "./observability.ts";
import { Runbooks as RunbooksStack } from "./runbooks.ts";
import {
  coveredFor,
  type Declaration,
  declarations,
  declaredWork,
  isAwsOwnedDocument,
} from "./support/declared-work.ts";
import {
  type Decision,
  evaluate,
  type PolicyDocument,
  resolveTokens,
  type SimRequest,
} from "./support/policy-sim.ts";
import { SHARED_SYNTH_TIMEOUT, sharedSynth } from "./support/shared-synth.ts";
import { FIXTURE_CONFIG, ROOT, synthApp, TEST_ENV } from "./support/synth.ts";
import { Triggers } from "./triggers.ts";

type Resources = Record<string, { Type: string; Properties?: any }>;

const { region, account } = TEST_ENV;
const TAG = "aws:ResourceTag/reflex:managed";
const REQUEST_TAG = { "aws:RequestTag/reflex:managed": "true", "aws:TagKeys": ["reflex:managed"] };
const ARN = {
  instance: `arn:aws:ec2:${region}:${account}:instance/i-0123456789abcdef0`,
  volume: `arn:aws:ec2:${region}:${account}:volume/vol-0123456789abcdef0`,
  snapshot: `arn:aws:ec2:${region}::snapshot/snap-0123456789abcdef0`,
  drSnapshot: "arn:aws:ec2:eu-west-1::snapshot/snap-0fedcba9876543210",
  group: `arn:aws:autoscaling:${region}:${account}:autoScalingGroup:0b7a1c7e-1111-2222-3333-444455556666:autoScalingGroupName/web`,
  key: `arn:aws:kms:${region}:${account}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
  alarm: `arn:aws:cloudwatch:${region}:${account}:alarm:web-cpu-high`,
  table: `arn:aws:dynamodb:${region}:${account}:table/state`,
  /** The fixture config's pair `db`: record DB.example.internal. (A) in this zone. */
  zone: "arn:aws:route53:::hostedzone/Z0FIXTUREZONE01",
  foreignZone: "arn:aws:route53:::hostedzone/Z0SOMEONEELSE99",
  // An AWS-owned document's ARN has no account (…::document/AWS-RunPatchBaseline), which the
  // evaluator cannot parse: the document half is evaluated in stacks/iam.test.ts instead, and
  // here with a document of the account's own.
  ownDocument: `arn:aws:ssm:${region}:${account}:document/RunAnything`,
  targetGroup: `arn:aws:elasticloadbalancing:${region}:${account}:targetgroup/web/0123456789abcdef`,
  elasticIp: `arn:aws:ec2:${region}:${account}:elastic-ip/eipalloc-0e0e0e0e0e0e0e0e5`,
  db: `arn:aws:rds:${region}:${account}:db:orders-db`,
  cluster: `arn:aws:rds:${region}:${account}:cluster:payments`,
  reflexDbSnapshot: `arn:aws:rds:${region}:${account}:snapshot:reflex-202612210200-0123abcd-orders-db`,
  /** db-backup's DR copy of it (copyToRegion). */
  drDbSnapshot: `arn:aws:rds:eu-west-1:${account}:snapshot:reflex-202612210200-0123abcd-orders-db`,
  drClusterSnapshot: `arn:aws:rds:eu-west-1:${account}:cluster-snapshot:reflex-202612210200-0123abcd-payments`,
  userDbSnapshot: `arn:aws:rds:${region}:${account}:snapshot:before-upgrade`,
  userClusterSnapshot: `arn:aws:rds:${region}:${account}:cluster-snapshot:before-upgrade`,
  userTable: `arn:aws:dynamodb:${region}:${account}:table/orders`,
};
/** A team's config listing its own runbooks (outside packages/). */
const EXAMPLE_CONFIG = `${ROOT}/examples/runbooks/reflex.config.ts`;
const EXAMPLE_RUNBOOK = "restart-service";
/** The example config's runbooks whose roles the matrix evaluates (restore's are stacks/config-runbook.test.ts's). */
const EXAMPLE_RUNBOOKS = [EXAMPLE_RUNBOOK, "scale-service", "db-backup", "db-failover"];
/** The platform's own functions' roles; each runbook adds its step worker's and its state machine's. */
const PLATFORM_ROLES = [
  "api",
  // Slack: the acknowledgement, its worker, and the notifier; the same table statements.
  "chatops",
  "chatops-worker",
  "chatops-notifier",
  "execution-status",
  "reconcile",
  "schedule",
  "trigger",
  // The one writer of the audit trail (stacks/audit.ts): it alone puts AUDIT# rows.
  "audit-writer",
  // The audit sealer (stacks/audit.ts): it alone writes digests (SEAL#) and signs them.
  "audit-sealer",
  // The fan-out over locations (its Task states): admits each location's run.
  "fan-out",
];
const RUNBOOKS = [...Runbooks.list().map((r) => r.name), ...EXAMPLE_RUNBOOKS].sort();
const STEPS = RUNBOOKS.map((name) => `step-${name}`);
const MACHINES = [...RUNBOOKS.map((name) => `machine-${name}`), "machine-fan_out"];
const FUNCTION_ROLES = [...PLATFORM_ROLES, ...STEPS];
const ALL_ROLES = [...FUNCTION_ROLES, ...MACHINES];
const AUDIT_ROW = { "dynamodb:LeadingKeys": ["AUDIT#2026-03-01"] };
/**
 * Provisioned concurrency is put on a Lambda alias or version (`function:<name>:<qualifier>`),
 * two resource types whose ARNs the evaluator cannot tell apart: scale-service's statement for
 * them is left out here and evaluated as written in stacks/config-runbook.test.ts.
 */
const QUALIFIED_LAMBDA = [
  "lambda:PutProvisionedConcurrencyConfig",
  "lambda:DeleteProvisionedConcurrencyConfig",
];
/** The audit writer's queue, by its deterministic name (stacks/audit.ts). */
const AUDIT_QUEUE = `arn:aws:sqs:${region}:${account}:reflex-${TEST_ENV.stage}-audit`;

/** A change to one record, as Route 53 puts it into the request's condition keys. */
const recordChange = (name: string, type: string, action = "UPSERT") => ({
  "route53:ChangeResourceRecordSetsNormalizedRecordNames": [name],
  "route53:ChangeResourceRecordSetsRecordTypes": [type],
  "route53:ChangeResourceRecordSetsActions": [action],
});

/**
 * Who may put, update or delete each kind of row (by partition-key prefix), as the security
 * rules say — written out here, not read from the stacks: the Slack acknowledgement only its
 * replay guard; the notifier only its threads; dedup claims and alarm states only the event
 * gate (trigger, and the API's POST /events); pause and breaker only who admits or closes
 * runs; cooldowns and rate windows only admission; a pair's roles only a step worker.
 */
const ADMITTERS = ["api", "chatops-worker", "trigger", "schedule", "fan-out"];
const CLOSERS = [...ADMITTERS, "execution-status", "reconcile"];
const ROW_WRITERS: Record<string, string[]> = {
  "EXEC#run-1": [...CLOSERS, ...STEPS],
  "LOCK#asg:web": [...CLOSERS, ...STEPS],
  "APPROVAL#run-1": [...CLOSERS, ...STEPS],
  "GUARD#automation": CLOSERS,
  "COOLDOWN#web-cpu-high#asg:web": ADMITTERS,
  "RATE#scale#123": ADMITTERS,
  "DEDUP#event-1": ["api", "trigger"],
  "ALARM#web-cpu-high": ["api", "trigger"],
  "PAIR#db": STEPS,
  "CHATOPS#run-1": ["chatops-notifier"],
  "SLACKSIG#v0=abc": ["chatops"],
  // A runbook's own records: its step worker alone (restart-service's; no other step's).
  "ITEMS#restart-service": ["step-restart-service"],
  "ITEMS#db-backup": ["step-db-backup"],
  "ITEMS#off-hours": [],
  // The audit trail's signed digests: the sealer alone.
  "SEAL#audit": ["audit-sealer"],
  // A fan-out over locations: who starts one (API, rules, schedules), its own steps, and the
  // reconciler (settling one whose machine ended without its Finish).
  "FANOUT#run-1": ["api", "trigger", "schedule", "fan-out", "reconcile"],
};
const ROWS: Case[] = Object.entries(ROW_WRITERS).flatMap(([key, writers]) =>
  ["dynamodb:PutItem", "dynamodb:DeleteItem"].map((action) => ({
    what: `${action} a ${key.split("#")[0]}# row`,
    action,
    resource: ARN.table,
    context: { "dynamodb:LeadingKeys": [key] },
    allowedFor: writers,
  })),
);

interface Case extends SimRequest {
  what: string;
  /** How every other role must be refused: implicitly (no grant) unless an explicit Deny is the rule. */
  deniedAs?: "ExplicitlyDenied";
  /** The roles (by function name suffix) this request must be allowed for; every other role is denied. */
  allowedFor: string[];
}

const tagged = (extra: Record<string, string | string[]> = {}) => ({ [TAG]: "true", ...extra });

/** What an attacker holding any one role would try: each must be denied to every role. */
const ATTACKS: Case[] = [
  // Containers and functions (scale-service): nothing untagged is scaled, nothing is deleted or retagged.
  ...[
    ["ecs:UpdateService", `arn:aws:ecs:${region}:${account}:service/prod/api`],
    ["ecs:DeleteService", `arn:aws:ecs:${region}:${account}:service/prod/api`],
    [
      "application-autoscaling:RegisterScalableTarget",
      `arn:aws:application-autoscaling:${region}:${account}:scalable-target/0123456789abcdef0123456789abcdef`,
    ],
    [
      "application-autoscaling:DeregisterScalableTarget",
      `arn:aws:application-autoscaling:${region}:${account}:scalable-target/0123456789abcdef0123456789abcdef`,
    ],
    ["lambda:PutFunctionConcurrency", `arn:aws:lambda:${region}:${account}:function:checkout`],
    ["lambda:UpdateFunctionCode", `arn:aws:lambda:${region}:${account}:function:checkout`],
  ].map(([action, resource]) => ({
    what: `${action} on an untagged resource`,
    action,
    resource,
    allowedFor: [],
  })),
  // Databases (db-backup, db-failover): nothing untagged is snapshotted, failed over, rebooted,
  // tagged into the fence or deleted; only Reflex's own snapshots (reflex-…) may be tagged or deleted.
  ...[
    { action: "rds:CreateDBSnapshot", resource: ARN.db },
    { action: "rds:CreateDBClusterSnapshot", resource: ARN.cluster },
    { action: "rds:RebootDBInstance", resource: ARN.db },
    { action: "rds:FailoverDBCluster", resource: ARN.cluster },
    { action: "rds:FailoverDBCluster", resource: ARN.db },
    { action: "rds:DeleteDBSnapshot", resource: ARN.reflexDbSnapshot },
    { action: "dynamodb:CreateBackup", resource: ARN.userTable },
  ].map((c) => ({ what: `${c.action} on an untagged ${c.resource.split(":")[5]}`, ...c, allowedFor: [] })),
  // The DR copy (db-backup's copyToRegion): never of a snapshot Reflex did not make, never a copy
  // that does not carry the automation tag.
  ...[
    { action: "rds:CopyDBSnapshot", resource: ARN.userDbSnapshot, context: { ...REQUEST_TAG } },
    { action: "rds:CopyDBClusterSnapshot", resource: ARN.userClusterSnapshot, context: { ...REQUEST_TAG } },
    { action: "rds:CopyDBSnapshot", resource: ARN.drDbSnapshot },
    { action: "rds:CopyDBClusterSnapshot", resource: ARN.drClusterSnapshot },
  ].map((c) => ({
    what: `${c.action} ${c.context ? `of a snapshot Reflex did not make (${c.resource.split(":").pop()})` : "to a copy without the automation tag"}`,
    ...c,
    allowedFor: [],
  })),
  ...[ARN.db, ARN.cluster, ARN.userDbSnapshot].map((resource) => ({
    what: `tag an existing ${resource.split(":")[5]} (${resource.split(":").pop()}) into the fence`,
    action: "rds:AddTagsToResource",
    resource,
    context: { ...REQUEST_TAG },
    allowedFor: [],
  })),
  ...[ARN.userDbSnapshot, ARN.userClusterSnapshot].map((resource) => ({
    what: `delete a tagged snapshot Reflex did not make (${resource.split(":").slice(5).join(":")})`,
    action: resource.includes("cluster-snapshot") ? "rds:DeleteDBClusterSnapshot" : "rds:DeleteDBSnapshot",
    resource,
    context: tagged(),
    allowedFor: [],
  })),
  ...(["instance", "volume", "snapshot"] as const).map((type) => ({
    what: `tag an existing untagged ${type} into the fence`,
    action: "ec2:CreateTags",
    resource: ARN[type],
    context: { ...REQUEST_TAG },
    allowedFor: [],
  })),
  ...(["instance", "volume"] as const).map((type) => ({
    what: `tag a ${type}, claiming to be a CreateSnapshot`,
    action: "ec2:CreateTags",
    resource: ARN[type],
    context: { ...REQUEST_TAG, "ec2:CreateAction": "CreateSnapshot" },
    allowedFor: [],
  })),
  ...["ec2:StopInstances", "ec2:StartInstances", "ec2:TerminateInstances", "ec2:RebootInstances"].map(
    (action) => ({
      what: `${action} on an untagged instance`,
      action,
      resource: ARN.instance,
      allowedFor: [],
    }),
  ),
  {
    what: "change the instance type of an untagged instance",
    action: "ec2:ModifyInstanceAttribute",
    resource: ARN.instance,
    context: { "ec2:Attribute/InstanceType": "m5.large" },
    allowedFor: [],
  },
  {
    what: "change the user data of a tagged instance",
    action: "ec2:ModifyInstanceAttribute",
    resource: ARN.instance,
    context: tagged({ "ec2:Attribute/UserData": "IyEvYmluL3NoCg==" }),
    allowedFor: [],
  },
  {
    what: "terminate a tagged instance",
    action: "ec2:TerminateInstances",
    resource: ARN.instance,
    context: tagged(),
    allowedFor: [],
  },
  {
    what: "delete an untagged snapshot",
    action: "ec2:DeleteSnapshot",
    resource: ARN.snapshot,
    allowedFor: [],
  },
  ...["ec2:DeleteVolume", "ec2:DetachVolume", "ec2:ModifyVolume"].map((action) => ({
    what: `${action} on an untagged volume`,
    action,
    resource: ARN.volume,
    allowedFor: [],
  })),
  {
    what: "delete a tagged volume",
    action: "ec2:DeleteVolume",
    resource: ARN.volume,
    context: tagged(),
    allowedFor: [],
  },
  {
    what: "remove tags from a tagged snapshot",
    action: "ec2:DeleteTags",
    resource: ARN.snapshot,
    context: tagged(),
    allowedFor: [],
  },
  {
    what: "create a snapshot that does not carry the automation tag",
    action: "ec2:CreateSnapshot",
    resource: ARN.snapshot,
    allowedFor: [],
  },
  {
    what: "copy a snapshot without the automation tag on the copy",
    action: "ec2:CopySnapshot",
    resource: ARN.drSnapshot,
    allowedFor: [],
  },
  {
    what: "set the capacity of an untagged group",
    action: "autoscaling:SetDesiredCapacity",
    resource: ARN.group,
    allowedFor: [],
  },
  // Audit rows are appended by the audit writer alone; nobody updates or deletes them.
  ...["dynamodb:DeleteItem", "dynamodb:UpdateItem"].map((action) => ({
    what: `${action} on an audit row`,
    action,
    resource: ARN.table,
    context: AUDIT_ROW,
    allowedFor: [],
  })),
  {
    what: "empty the audit queue before the writer reads it (sqs:PurgeQueue)",
    action: "sqs:PurgeQueue",
    resource: AUDIT_QUEUE,
    allowedFor: [],
  },
  {
    what: "BatchWriteItem on rows other than the audit trail's",
    action: "dynamodb:BatchWriteItem",
    resource: ARN.table,
    context: { "dynamodb:LeadingKeys": ["LOCK#asg:web"] },
    allowedFor: [],
  },
  { what: "scan the state table", action: "dynamodb:Scan", resource: ARN.table, allowedFor: [] },
  {
    what: "sign with any other KMS key",
    action: "kms:Sign",
    resource: ARN.key,
    allowedFor: [],
  },
  {
    what: "create a KMS grant for itself (not for an AWS resource)",
    action: "kms:CreateGrant",
    resource: ARN.key,
    context: { "kms:GrantIsForAWSResource": "false" },
    allowedFor: [],
  },
  {
    what: "UPSERT the pair's record name in a zone that is not the pair's",
    action: "route53:ChangeResourceRecordSets",
    resource: ARN.foreignZone,
    context: recordChange("db.example.internal", "A"),
    allowedFor: [],
  },
  {
    what: "UPSERT another name in the pair's zone (a CNAME that validates a certificate)",
    action: "route53:ChangeResourceRecordSets",
    resource: ARN.zone,
    context: recordChange("_acme.example.internal", "CNAME"),
    allowedFor: [],
  },
  {
    what: "UPSERT the pair's name with another record type",
    action: "route53:ChangeResourceRecordSets",
    resource: ARN.zone,
    context: recordChange("db.example.internal", "CNAME"),
    allowedFor: [],
  },
  {
    what: "DELETE the pair's record",
    action: "route53:ChangeResourceRecordSets",
    resource: ARN.zone,
    context: recordChange("db.example.internal", "A", "DELETE"),
    allowedFor: [],
  },
  {
    what: "change a record without naming it (no record-name key in the request)",
    action: "route53:ChangeResourceRecordSets",
    resource: ARN.zone,
    context: {
      "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
      "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
    },
    allowedFor: [],
  },
  {
    what: "run a document of the account's own through SSM (any but AWS-RunPatchBaseline)",
    action: "ssm:SendCommand",
    resource: ARN.ownDocument,
    allowedFor: [],
  },
  {
    what: "send a command to an untagged instance",
    action: "ssm:SendCommand",
    resource: ARN.instance,
    allowedFor: [],
  },
  ...["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"].map((action) => ({
    what: `${action} on an untagged target group`,
    action,
    resource: ARN.targetGroup,
    allowedFor: [],
  })),
  {
    what: "move an untagged Elastic IP (AssociateAddress)",
    action: "ec2:AssociateAddress",
    resource: ARN.elasticIp,
    allowedFor: [],
  },
  {
    what: "move an Elastic IP onto an untagged instance (AssociateAddress)",
    action: "ec2:AssociateAddress",
    resource: ARN.instance,
    allowedFor: [],
  },
  {
    what: "replace the root volume of an untagged instance",
    action: "ec2:CreateReplaceRootVolumeTask",
    resource: ARN.instance,
    allowedFor: [],
  },
  {
    what: "replace a tagged instance's root volume from an untagged snapshot",
    action: "ec2:CreateReplaceRootVolumeTask",
    resource: ARN.snapshot,
    allowedFor: [],
  },
];

/**
 * Runbook work with concrete resources (both halves of a call, a DR copy, a KMS grant during a
 * start): who may do it is read from the manifests' declarations (`coveredFor`), beside the
 * requests generated from every declaration (`declaredWork`).
 */
const RUNBOOK_REQUESTS: Array<Omit<Case, "allowedFor">> = [
  {
    what: "fail over a tagged Aurora cluster",
    action: "rds:FailoverDBCluster",
    resource: ARN.cluster,
    context: tagged(),
  },
  {
    what: "reboot a tagged DB instance with failover",
    action: "rds:RebootDBInstance",
    resource: ARN.db,
    context: tagged(),
  },
  {
    what: "snapshot a tagged DB instance (the DB half of CreateDBSnapshot)",
    action: "rds:CreateDBSnapshot",
    resource: ARN.db,
    context: tagged(),
  },
  {
    what: "copy Reflex's tagged snapshot to the DR Region (the source half of CopyDBSnapshot)",
    action: "rds:CopyDBSnapshot",
    resource: ARN.reflexDbSnapshot,
    context: tagged(),
  },
  {
    what: "create the DR copy carrying the automation tag (the copy half of CopyDBSnapshot)",
    action: "rds:CopyDBSnapshot",
    resource: ARN.drDbSnapshot,
    context: { ...REQUEST_TAG },
  },
  {
    what: "back up a tagged DynamoDB table",
    action: "dynamodb:CreateBackup",
    resource: ARN.userTable,
    context: tagged(),
  },
  {
    what: "snapshot an untagged source volume (the volume half of CreateSnapshot, as AWS documents it)",
    action: "ec2:CreateSnapshot",
    resource: ARN.volume,
  },
  {
    what: "create a snapshot carrying the automation tag (the snapshot half of CreateSnapshot)",
    action: "ec2:CreateSnapshot",
    resource: ARN.snapshot,
    context: { ...REQUEST_TAG },
  },
  {
    what: "tag the snapshot CreateSnapshot is creating",
    action: "ec2:CreateTags",
    resource: ARN.snapshot,
    context: { ...REQUEST_TAG, "ec2:CreateAction": "CreateSnapshot" },
  },
  {
    what: "copy a snapshot to the DR region, the copy carrying the automation tag",
    action: "ec2:CopySnapshot",
    resource: ARN.drSnapshot,
    context: { ...REQUEST_TAG },
  },
  {
    what: "tag the copy CopySnapshot is creating",
    action: "ec2:CreateTags",
    resource: ARN.drSnapshot,
    context: { ...REQUEST_TAG, "ec2:CreateAction": "CopySnapshot" },
  },
  {
    what: "delete a tagged snapshot",
    action: "ec2:DeleteSnapshot",
    resource: ARN.snapshot,
    context: tagged(),
  },
  {
    what: "write a run manifest",
    action: "s3:PutObject",
    resource: "arn:aws:s3:::reports-bucket/manifests/backup-snapshot/2026-01-01/run.json",
  },
  {
    what: "write outside the manifests prefix",
    action: "s3:PutObject",
    resource: "arn:aws:s3:::reports-bucket/other.json",
  },
  ...["ec2:StopInstances", "ec2:StartInstances"].map((action) => ({
    what: `${action} on a tagged instance`,
    action,
    resource: ARN.instance,
    context: tagged(),
  })),
  {
    what: "change the instance type of a tagged instance",
    action: "ec2:ModifyInstanceAttribute",
    resource: ARN.instance,
    context: tagged({ "ec2:Attribute/InstanceType": "m5.large" }),
  },
  {
    what: "set the capacity of a tagged group",
    action: "autoscaling:SetDesiredCapacity",
    resource: ARN.group,
    context: tagged(),
  },
  {
    what: "let EC2 create a grant to start an instance with a KMS-encrypted volume",
    action: "kms:CreateGrant",
    resource: ARN.key,
    context: { "kms:GrantIsForAWSResource": "true" },
  },
  {
    what: "read an alarm's current state",
    action: "cloudwatch:DescribeAlarms",
    resource: ARN.alarm,
  },
  {
    what: "UPSERT the configured pair's record in its zone",
    action: "route53:ChangeResourceRecordSets",
    resource: ARN.zone,
    context: recordChange("db.example.internal", "A"),
  },
  {
    what: "send a command to a tagged instance",
    action: "ssm:SendCommand",
    resource: ARN.instance,
    context: tagged(),
  },
  {
    what: "cancel a command (ssm:CancelCommand has no resource type: '*')",
    action: "ssm:CancelCommand",
    resource: "*",
  },
  ...["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"].map((action) => ({
    what: `${action} on a tagged target group`,
    action,
    resource: ARN.targetGroup,
    context: tagged(),
  })),
  {
    what: "move a tagged Elastic IP onto a tagged instance (both halves of AssociateAddress)",
    action: "ec2:AssociateAddress",
    resource: ARN.elasticIp,
    context: tagged(),
  },
  {
    what: "replace a tagged instance's root volume (the instance half)",
    action: "ec2:CreateReplaceRootVolumeTask",
    resource: ARN.instance,
    context: tagged(),
  },
];

/** The platform's own work, by the security rules (docs/security.md), not by any runbook. */
const PLATFORM_WORK: Case[] = [
  // What a table administrator cannot forge: a digest's signature. Only the audit sealer signs
  // (the key's own policy also denies Sign to every other principal, stacks/audit.ts).
  {
    what: "sign with the audit key (a digest of the audit trail)",
    action: "kms:Sign",
    resource: `arn:aws:kms:${region}:${account}:key/audit-signing`,
    allowedFor: ["audit-sealer"],
  },
  {
    what: "read the audit key's public half (verify the trail)",
    action: "kms:GetPublicKey",
    resource: `arn:aws:kms:${region}:${account}:key/audit-signing`,
    allowedFor: ["api", "audit-sealer"],
  },
  {
    what: "append an audit row",
    action: "dynamodb:PutItem",
    resource: ARN.table,
    context: AUDIT_ROW,
    allowedFor: ["audit-writer"],
    // Every other role carries an explicit Deny of writing an audit row (stacks/iam.ts).
    deniedAs: "ExplicitlyDenied",
  },
  {
    // The writer stores a queue batch in one BatchWriteItem of puts (core's Audit.storeAll); IAM
    // cannot tell a batch's DeleteRequest apart, so no other role may batch-write an audit row.
    what: "batch-write audit rows (the writer's batches)",
    action: "dynamodb:BatchWriteItem",
    resource: ARN.table,
    context: AUDIT_ROW,
    allowedFor: ["audit-writer"],
    deniedAs: "ExplicitlyDenied",
  },
  {
    what: "read an audit row (the writer: whether a redelivered entry is already stored)",
    action: "dynamodb:GetItem",
    resource: ARN.table,
    context: AUDIT_ROW,
    allowedFor: FUNCTION_ROLES.filter((r) => r !== "chatops"),
  },
  {
    what: "hand audit entries to the audit writer (SendMessage, SendMessageBatch's action too)",
    action: "sqs:SendMessage",
    resource: AUDIT_QUEUE,
    allowedFor: [...CLOSERS, ...STEPS],
  },
  ...["sqs:ReceiveMessage", "sqs:DeleteMessage"].map((action) => ({
    what: `${action} on the audit queue (take entries off it)`,
    action,
    resource: AUDIT_QUEUE,
    allowedFor: ["audit-writer"],
  })),
  ...ROWS,
  {
    what: "the Slack acknowledgement reads an approval row (and its task token)",
    action: "dynamodb:GetItem",
    resource: ARN.table,
    context: { "dynamodb:LeadingKeys": ["APPROVAL#run-1"] },
    // Every other function reads the table; the acknowledgement, public, reads nothing, and the
    // audit writer reads audit rows only.
    allowedFor: FUNCTION_ROLES.filter((r) => r !== "chatops" && r !== "audit-writer"),
  },
  {
    what: "answer an approval with a task token (states:SendTaskSuccess has no resource type: '*')",
    action: "states:SendTaskSuccess",
    resource: "*",
    // Who answers approvals: the API and the ChatOps worker. A token is not, by itself,
    // authority: the run re-reads the approval record after the wait (docs/security.md).
    allowedFor: ["api", "chatops-worker"],
  },
];

const roles = new Map<string, PolicyDocument[]>();
/** The admitting functions' roles of the example app, whose config lists restore (a runbook with a precheck). */
const exampleAdmitters = new Map<string, PolicyDocument[]>();
/** The runbooks' work (read from the manifests) and the platform's: filled once the configs are loaded. */
let WORK: Case[] = [];
let declared: Declaration[] = [];
/** Declared requests on AWS-owned documents, which the evaluator cannot take (see isAwsOwnedDocument). */
let ownedDocuments: string[] = [];
let topicPolicy: PolicyDocument;
let topicArn: string;
let alarmNames: string[];

/**
 * The two tests that evaluate the whole matrix take 15-20 s on a quiet 2-core machine and went
 * past the default 60 s at a load of 20 (80 s): a timeout for a loaded machine, not a limit.
 */
const EVALUATION_TIMEOUT = 300_000;
/**
 * A role's decision on a request, evaluated once per file: the attack and work tests and the
 * printed matrix read the same ~20,000 decisions (3 ms each), which were evaluated twice.
 * Computed on first use, so each test gets the same answer whether or not another ran first.
 */
const decisions = new WeakMap<PolicyDocument[], Map<Case, Promise<Decision>>>();
function decide(c: Case, policies: PolicyDocument[]): Promise<Decision> {
  const byCase = decisions.get(policies) ?? new Map<Case, Promise<Decision>>();
  decisions.set(policies, byCase);
  const decision = byCase.get(c) ?? evaluate(c, policies);
  byCase.set(c, decision);
  return decision;
}

/**
 * Every Reflex function's role (by function name suffix) and every state machine's role
 * (`machine-<runbook>`) in a template, with their policies; `only` keeps the roles named.
 */
function rolesOf(
  raw: { Resources: Resources },
  only?: (role: string) => boolean,
  into: Map<string, PolicyDocument[]> = roles,
): void {
  const env = { region, account };
  // A queue of the same stack is named by its logical id (GetAtt): put its ARN in its place.
  const queues = Object.entries(raw.Resources).filter(([, r]) => r.Type === "AWS::SQS::Queue");
  const template = JSON.parse(
    queues.reduce(
      (text, [id, q]) =>
        text.replaceAll(
          JSON.stringify({ "Fn::GetAtt": [id, "Arn"] }),
          JSON.stringify(`arn:aws:sqs:${region}:${account}:${q.Properties.QueueName}`),
        ),
      JSON.stringify(raw),
    ),
  ) as { Resources: Resources };
  const prefix = `reflex-${TEST_ENV.stage}-`;
  const policies = Object.values(template.Resources).filter((r) => r.Type === "AWS::IAM::Policy");
  const policiesOf = (roleId: string) =>
    policies
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .map((p) => resolveTokens(p.Properties.PolicyDocument, env) as PolicyDocument);
  for (const r of Object.values(template.Resources)) {
    const fn = r.Type === "AWS::Lambda::Function" ? String(r.Properties.FunctionName ?? "") : "";
    const machine =
      r.Type === "AWS::StepFunctions::StateMachine" ? String(r.Properties.StateMachineName) : "";
    if (fn.startsWith(prefix)) {
      const name = fn.slice(prefix.length);
      if (!only || only(name)) into.set(name, policiesOf(r.Properties.Role["Fn::GetAtt"][0]));
    } else if (machine.startsWith(prefix)) {
      const name = `machine-${machine.slice(prefix.length)}`;
      if (!only || only(name)) into.set(name, policiesOf(r.Properties.RoleArn["Fn::GetAtt"][0]));
    } // else SST's own handler
  }
}

beforeAll(async () => {
  const synth = await sharedSynth();
  for (const stackFn of [RunbooksStack, Triggers, Api, Audit])
    rolesOf(synth.template(stackFn).toJSON() as never);
  // A team's own runbook, from its own config: that app synthesized too (the fixture's bundles
  // reused), its runbook's two roles taken into the matrix.
  const example = await synthApp({ configFile: EXAMPLE_CONFIG, bundlesFrom: synth.bundles });
  try {
    rolesOf(Template.fromStack(getStack(RunbooksStack)).toJSON() as never, (role) =>
      EXAMPLE_RUNBOOKS.some((name) => role === `step-${name}` || role === `machine-${name}`),
    );
    // The admitters: the API's, the gate's and the schedule function's, and the fan-out's (in Runbooks).
    for (const stackFn of [Triggers, Api, RunbooksStack])
      rolesOf(
        Template.fromStack(getStack(stackFn)).toJSON() as never,
        (role) => ADMITTERS.includes(role),
        exampleAdmitters,
      );
  } finally {
    example.cleanup();
  }
  // Who may do a runbook's work: its manifest's declarations, narrowed by the config it is deployed with.
  const fixture: Config = await loadConfig(FIXTURE_CONFIG);
  const exampleConfig: Config = await loadConfig(EXAMPLE_CONFIG);
  const env = { region, account };
  declared = [
    ...declarations(
      // What the fixture deploys: the built-ins (the example config registers more runbooks, and
      // the reconciler role here is the fixture's, which holds no lost-run grant for those).
      Runbooks.list().filter((r) => Runbooks.isBuiltIn(r.name)),
      fixture,
    ),
    ...declarations(
      EXAMPLE_RUNBOOKS.map((name) => Runbooks.get(name)),
      exampleConfig,
    ),
  ].map((d) => ({
    ...d,
    permissions: d.permissions.filter((p) => !p.actions.some((a) => QUALIFIED_LAMBDA.includes(a))),
  }));
  const generated = declaredWork(declared, env);
  ownedDocuments = generated.filter((c) => isAwsOwnedDocument(c.resource)).map((c) => c.resource);
  WORK = [
    ...generated.filter((c) => !isAwsOwnedDocument(c.resource)),
    ...RUNBOOK_REQUESTS.map((c) => ({ ...c, allowedFor: coveredFor(declared, c, env) })),
    ...PLATFORM_WORK,
  ];
  const observability = synth.template(Observability).toJSON() as { Resources: Resources };
  const [topicId] = Object.entries(observability.Resources).find(([, r]) => r.Type === "AWS::SNS::Topic")!;
  topicArn = `arn:aws:sns:${region}:${account}:reflex-${TEST_ENV.stage}-alarms`;
  const policy = Object.values(observability.Resources).find((r) => r.Type === "AWS::SNS::TopicPolicy")!;
  topicPolicy = JSON.parse(
    JSON.stringify(resolveTokens(policy.Properties.PolicyDocument, { region, account })).replaceAll(
      `arn:aws:sns:${region}:${account}:${topicId}`,
      topicArn,
    ),
  );
  alarmNames = Object.values(observability.Resources)
    .filter((r) => r.Type === "AWS::CloudWatch::Alarm")
    .map((r) => r.Properties.AlarmName);
}, 2 * SHARED_SYNTH_TIMEOUT); // two syntheses: the fixture app (shared) and the example's

describe("the IAM fence, evaluated per role", () => {
  it("covers every Reflex function's role and every state machine's, each runbook's among them (a config's own too)", () => {
    expect([...roles.keys()].sort()).toEqual([...ALL_ROLES].sort());
    expect(RUNBOOKS).toContain(EXAMPLE_RUNBOOK);
  });

  it("reads each runbook's work from its manifest: every declared permission is some request's, allowed for its role", () => {
    const unexercised = declared.flatMap(({ role, permissions }) =>
      permissions
        .filter((p) => !WORK.some((c) => c.allowedFor.includes(role) && p.actions.includes(c.action)))
        .map((p) => `${role}: ${p.actions.join(", ")}`),
    );
    expect(unexercised).toEqual([]);
    // restart-service's SendCommand is its state machine's (an aws() Task), not its step worker's.
    const send = WORK.filter((c) => c.action === "ssm:SendCommand").flatMap((c) => c.allowedFor);
    expect(send).toContain(`machine-${EXAMPLE_RUNBOOK}`);
    expect(send).not.toContain(`step-${EXAMPLE_RUNBOOK}`);
    // Left out of the evaluation, and checked as written elsewhere: the two AWS-owned documents only.
    expect(ownedDocuments.sort()).toEqual([
      `arn:aws:ssm:${region}::document/AWS-RunPatchBaseline`,
      `arn:aws:ssm:${region}::document/AWS-RunShellScript`,
    ]);
  });

  it(
    "lets no role tag, stop, modify or delete what it did not create or the automation tag does not mark",
    async () => {
      const allowed: string[] = [];
      for (const [role, policies] of roles) {
        for (const c of ATTACKS) {
          if ((await decide(c, policies)) === "Allowed") allowed.push(`${role}: ${c.what}`);
        }
      }
      expect(allowed).toEqual([]);
    },
    EVALUATION_TIMEOUT,
  );

  it(
    "lets each runbook's roles do their declared work on tagged resources, and no other role do it",
    async () => {
      const wrong: string[] = [];
      for (const [role, policies] of roles) {
        for (const c of WORK) {
          const decision = await decide(c, policies);
          // The explicit Deny is on every function's role; a state machine's role has no table grant at all.
          const denied = c.deniedAs && FUNCTION_ROLES.includes(role) ? c.deniedAs : "ImplicitlyDenied";
          const expected = c.allowedFor.includes(role) ? "Allowed" : denied;
          if (decision !== expected) wrong.push(`${role}: ${c.what}: ${decision}, expected ${expected}`);
        }
      }
      expect(wrong).toEqual([]);
    },
    EVALUATION_TIMEOUT,
  );

  it("prints the allowed/denied matrix per role", async () => {
    const rows: Record<string, { allowed: number; denied: number }> = {};
    for (const [role, policies] of roles) {
      rows[role] = { allowed: 0, denied: 0 };
      for (const c of [...ATTACKS, ...WORK]) {
        if ((await decide(c, policies)) === "Allowed") rows[role].allowed++;
        else rows[role].denied++;
      }
    }
    console.log(
      `IAM matrix (${ATTACKS.length + WORK.length} requests per role: ${ATTACKS.length} attacks, ${WORK.length} pieces of work):`,
    );
    console.table(rows);
    expect(rows["step-backup-snapshot"].allowed).toBe(
      WORK.filter((c) => c.allowedFor.includes("step-backup-snapshot")).length,
    );
  });
});

describe("a runbook's precheck, deployed (restore, from the example config)", () => {
  const restore = () => Runbooks.get("restore");
  it("lets every admitting role read what restore's precheck reads, so a bad snapshot is refused before the run", async () => {
    expect([...exampleAdmitters.keys()].sort()).toEqual([...ADMITTERS].sort());
    const reads = (restore().precheckPermissions ?? []).flatMap((p) => p.actions);
    expect(reads).toContain("ec2:DescribeSnapshots");
    const denied: string[] = [];
    for (const [role, policies] of exampleAdmitters)
      for (const action of reads)
        if ((await evaluate({ action, resource: "*" }, policies)) !== "Allowed")
          denied.push(`${role}: ${action}`);
    expect(denied).toEqual([]);
  });

  it("gives the admitting roles no change restore's steps make, tagged or not, nor any attack", async () => {
    const changes = declaredWork(declarations([restore()]), { region, account }).filter(
      (c) => !isAwsOwnedDocument(c.resource) && !c.action.includes(":Describe") && !c.action.includes(":Get"),
    );
    expect(changes.map((c) => c.action)).toEqual(
      expect.arrayContaining(["ec2:CreateVolume", "ec2:DeleteVolume"]),
    );
    const allowed: string[] = [];
    for (const [role, policies] of exampleAdmitters)
      for (const c of [...changes, ...ATTACKS])
        if ((await decide(c, policies)) === "Allowed") allowed.push(`${role}: ${c.what}`);
    expect(allowed).toEqual([]);
  });
});

describe("CreateSnapshot in the form AWS documents", () => {
  it("is refused on the source volume when the only statement is Resource '*' with a request-tag condition", async () => {
    // The shape Reflex used to deploy: the volume check carries no aws:RequestTag, so it had no Allow.
    const old: PolicyDocument = {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: ["ec2:CreateSnapshot"],
          Resource: "*",
          Condition: { StringEquals: { "aws:RequestTag/reflex:managed": "true" } },
        },
      ],
    };
    expect(
      await evaluate({ action: "ec2:CreateSnapshot", resource: ARN.volume, context: { ...REQUEST_TAG } }, [
        old,
      ]),
    ).toBe("ImplicitlyDenied");
    expect(
      await evaluate({ action: "ec2:CreateSnapshot", resource: ARN.snapshot, context: { ...REQUEST_TAG } }, [
        old,
      ]),
    ).toBe("Allowed");
  });

  it("is allowed on both of its resources for backup-snapshot's deployed role", async () => {
    const policies = roles.get("step-backup-snapshot")!;
    const volume = await evaluate(
      { action: "ec2:CreateSnapshot", resource: ARN.volume, context: { ...REQUEST_TAG } },
      policies,
    );
    const snapshot = await evaluate(
      { action: "ec2:CreateSnapshot", resource: ARN.snapshot, context: { ...REQUEST_TAG } },
      policies,
    );
    expect([volume, snapshot]).toEqual(["Allowed", "Allowed"]);
  });
});

describe("the alarm topic's policy", () => {
  const publish = (alarm: string, sourceAccount: string = account) =>
    evaluate(
      {
        action: "sns:Publish",
        resource: topicArn,
        context: {
          "aws:SourceArn": `arn:aws:cloudwatch:${region}:${sourceAccount}:alarm:${alarm}`,
          "aws:SourceAccount": sourceAccount,
        },
      },
      [],
      { principal: "cloudwatch.amazonaws.com", resourcePolicy: topicPolicy },
    );

  it("lets CloudWatch publish every alarm of this stage", async () => {
    expect(alarmNames.length).toBeGreaterThan(0);
    for (const name of alarmNames)
      expect(await publish(name), `${name} ${JSON.stringify(topicPolicy)}`).toBe("Allowed");
  });

  it("refuses another stage's alarm with a longer name, and another account's", async () => {
    const other = alarmNames[0].replace(`reflex-${TEST_ENV.stage}-`, `reflex-${TEST_ENV.stage}-alice-`);
    expect(await publish(other)).not.toBe("Allowed");
    expect(await publish(alarmNames[0], "210987654321")).not.toBe("Allowed");
  });
});
