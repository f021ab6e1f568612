/**
 * Audit: the one writer of the audit trail. Every function that audits hands its entries to
 * the audit queue (SQS, encrypted, TLS only), and may do nothing else with it; the audit-writer
 * function is the queue's event source and the only role that may put `AUDIT#` rows (put only:
 * nobody updates, deletes or batch-writes them — stacks/iam.ts, proven in
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
import { Audit as AuditTrail } from "@reflex/core";
import { Duration } from "aws-cdk-lib";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { type StackContext, use } from "sst/constructs";
import { auditQueueName, resourceName } from "./context.ts";
import { deadLetterQueue, reflexFunction } from "./function.ts";
import { auditWriterStatements } from "./iam.ts";
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

  return {
    queue,
    writer,
    monitored: {
      functions: [resourceName(stack, "audit-writer")],
      queues: [resourceName(stack, "audit-dlq", 80)],
      auditQueue: auditQueueName(stack),
    },
  };
}
