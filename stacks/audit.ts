/**
 * Audit: the one writer of the audit trail. Every function that audits hands its entries to
 * the audit queue (SQS, encrypted, TLS only), and may do nothing else with it; the audit-writer
 * function is the queue's event source and the only role that may put `AUDIT#` rows (puts only,
 * one or a batch: nobody updates or deletes them — stacks/iam.ts, proven in
 * stacks/policy-matrix.test.ts). Each stored entry carries who sent it as SQS reports it
 * (`SenderId`: the sending role's id and the function's name), so a role can no longer put an
 * entry in another's name, nor overwrite or delete one (docs/security.md).
 *
 * Entries appear in the trail within seconds of being recorded. One that cannot be stored is
 * delivered again; after five receives it is kept in the dead-letter queue, which pages
 * (Observability), as does a queue whose oldest entry waits longer than five minutes.
 *
 * The queue has a deterministic name, so the other stacks send to it by name (context.ts:
 * `REFLEX_AUDIT_QUEUE_URL` in every function's environment, `sqs:SendMessage` on its ARN)
 * without cross-stack references.
 */
import { Audit as AuditTrail, must } from "@reflex/core";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { AnyPrincipal, Effect, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Key, KeySpec, KeyUsage } from "aws-cdk-lib/aws-kms";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  ObjectLockRetention,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { type StackContext, use } from "sst/constructs";
import { auditQueueName, reflexConfig, resourceName } from "./context.ts";
import { deadLetterQueue, reflexFunction } from "./function.ts";
import {
  auditExportStatements,
  auditSignStatement,
  auditWriterStatements,
  TABLE_WRITES,
  tableStatements,
} from "./iam.ts";
import { suppress } from "./nag.ts";
import { Storage } from "./storage.ts";

export const AUDIT_WRITER_HANDLER = "packages/functions/src/audit-writer.handler";

/** Receives before an entry is given up to the dead-letter queue (each is retried on the next). */
export const AUDIT_MAX_RECEIVES = 5;
/** Entries in one invocation of the writer: SendMessageBatch's own maximum, so a storm's batches arrive whole. */
export const AUDIT_BATCH_SIZE = 10;

export function Audit({ stack }: StackContext) {
  const { table } = use(Storage);
  const dlq = deadLetterQueue(stack, "AuditDlq", "audit-dlq");
  const queue = new Queue(stack, "AuditQueue", {
    queueName: auditQueueName(stack),
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    // A writer that is down for days loses nothing: entries wait up to 14 days.
    retentionPeriod: Duration.days(14),
    visibilityTimeout: Duration.seconds(AuditTrail.WRITER_VISIBILITY_SECONDS),
    deadLetterQueue: { queue: dlq, maxReceiveCount: AUDIT_MAX_RECEIVES },
  });
  const writer = reflexFunction(stack, "AuditWriter", {
    name: "audit-writer",
    handler: AUDIT_WRITER_HANDLER,
    description: "Reflex audit writer: the only function that appends to the audit trail",
    timeoutSeconds: 30,
    readsConfig: false,
  });
  writer.attachPermissions(auditWriterStatements(table.tableArn));
  writer.addEventSource(
    new SqsEventSource(queue, { batchSize: AUDIT_BATCH_SIZE, reportBatchItemFailures: true }),
  );

  const sealed = auditSealer(stack, table.tableArn);

  return {
    queue,
    writer,
    sealed,
    monitored: {
      functions: [resourceName(stack, "audit-writer"), resourceName(stack, "audit-sealer")],
      queues: [resourceName(stack, "audit-dlq", 80)],
      auditQueue: auditQueueName(stack),
    },
  };
}

export const AUDIT_SEALER_HANDLER = "packages/functions/src/audit-sealer.handler";
/** How often the sealer looks for ended periods to seal (sealing waits for a period to end). */
export const AUDIT_SEAL_EVERY_MINUTES = 5;

/**
 * The sealed trail (core's state/audit-seal.ts, docs/security.md): the signing key, the locked
 * export bucket, and the scheduled sealer — the only principal that may `kms:Sign` with the key
 * (its IAM policy grants it; the key's policy denies Sign to every other principal, so a grant
 * added later to another role does not reach it).
 */
function auditSealer(stack: StackContext["stack"], tableArn: string) {
  const { config } = reflexConfig();
  const key = new Key(stack, "AuditSigningKey", {
    description: "Reflex: signs the audit trail's hourly digests (only the audit sealer may Sign)",
    keySpec: KeySpec.ECC_NIST_P256,
    keyUsage: KeyUsage.SIGN_VERIFY,
    // The key checks every digest ever signed: it outlives the stack.
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const bucket = new Bucket(stack, "AuditExport", {
    encryption: BucketEncryption.S3_MANAGED,
    versioned: true,
    objectLockEnabled: true,
    objectLockDefaultRetention:
      config.audit.lockMode === "GOVERNANCE"
        ? ObjectLockRetention.governance(Duration.days(config.audit.retainDays))
        : ObjectLockRetention.compliance(Duration.days(config.audit.retainDays)),
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  suppress(bucket, [
    {
      id: "AwsSolutions-S1",
      reason:
        "Every object is written once by the audit sealer and locked (Object Lock); reads and writes are in CloudTrail data events where the account records them. Access logs would add no evidence the lock does not already keep.",
    },
  ]);
  const sealer = reflexFunction(stack, "AuditSealer", {
    name: "audit-sealer",
    handler: AUDIT_SEALER_HANDLER,
    description: "Reflex audit sealer: signs each ended period's digest and exports it under Object Lock",
    timeoutSeconds: 300,
    environment: {
      REFLEX_AUDIT_KEY_ARN: key.keyArn,
      REFLEX_AUDIT_BUCKET: bucket.bucketName,
      REFLEX_AUDIT_HUB: resourceName(stack, "audit"),
    },
  });
  const role = must(sealer.role, "sealer.role");
  sealer.attachPermissions([
    ...tableStatements(tableArn, TABLE_WRITES.auditSealer),
    auditSignStatement(key.keyArn),
    ...auditExportStatements(bucket.bucketArn),
  ]);
  key.addToResourcePolicy(
    new PolicyStatement({
      sid: "OnlyTheAuditSealerSigns",
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: ["kms:Sign"],
      resources: ["*"],
      conditions: { ArnNotEquals: { "aws:PrincipalArn": role.roleArn } },
    }),
  );
  suppress(role, [
    {
      id: "AwsSolutions-IAM5",
      reason:
        "The export's objects are named per sealed period (audit/<hub>/digests/<sequence>.json), so the sealer puts under the audit/ prefix of its own bucket only.",
      appliesTo: [{ regex: "/^Resource::.*audit/\\*$/g" }],
    },
  ]);
  const rule = new Rule(stack, "AuditSealSchedule", {
    description: "Reflex: seal each ended audit period and export it",
    schedule: Schedule.rate(Duration.minutes(AUDIT_SEAL_EVERY_MINUTES)),
    targets: [new LambdaFunction(sealer, { retryAttempts: 2 })],
  });
  return { key, bucket, sealer, rule, hub: resourceName(stack, "audit") };
}
