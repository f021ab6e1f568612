/**
 * The audit writer: the one function that may put `AUDIT#` rows. Every other function hands
 * its entries to the audit queue (core's `Audit.record`); this function is the queue's event
 * source (batches, `ReportBatchItemFailures`) and stores each batch with core's `Audit.storeAll`,
 * stamped with the queue's `SenderId` and `SentTimestamp` — who sent it and when, as SQS
 * reports it, which no sender can choose.
 *
 * An SQS event is a Lambda payload like any other, so a direct invocation could claim any
 * `SenderId`. Before storing, the writer confirms that each record is a message the queue has
 * in flight to it: it extends the message's visibility with the record's receipt handle, which
 * only a real receive yields. A record the queue does not confirm is not stored (and logged).
 * Entries that fail to store are reported back to the queue, which delivers them again and,
 * after five receives, keeps them in the dead-letter queue (an alarm pages).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { ChangeMessageVisibilityBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import middy from "@middy/core";
import { storeAll, WRITER_VISIBILITY_SECONDS } from "@reflex/core/audit";
import { client } from "@reflex/core/aws";
import { requireEnv } from "@reflex/core/env";
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";

const logger = new Logger({
  serviceName: "reflex",
  logLevel: (process.env.POWERTOOLS_LOG_LEVEL ??
    (process.env.AWS_LAMBDA_FUNCTION_NAME ? "INFO" : "WARN")) as "INFO",
});

/** Which of the records the queue confirms it has in flight to this function, by message id. */
export type ReceiptCheck = (records: SQSRecord[]) => Promise<Set<string>>;

/** Deployed: ChangeMessageVisibilityBatch with each record's receipt handle; a forged one is refused. */
const sqsReceipts: ReceiptCheck = async (records) => {
  const confirmed = new Set<string>();
  for (let i = 0; i < records.length; i += 10) {
    const batch = records.slice(i, i + 10);
    const out = await client(SQSClient, "sqs").send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: requireEnv("REFLEX_AUDIT_QUEUE_URL"),
        Entries: batch.map((r, j) => ({
          Id: String(j),
          ReceiptHandle: r.receiptHandle,
          VisibilityTimeout: WRITER_VISIBILITY_SECONDS,
        })),
      }),
    );
    for (const ok of out.Successful ?? []) confirmed.add(batch[Number(ok.Id)].messageId);
  }
  return confirmed;
};

let receipts: ReceiptCheck = sqsReceipts;
/** Local mode's queue confirms its own receipt handles; undefined goes back to SQS. */
export function useReceiptCheck(check?: ReceiptCheck): void {
  receipts = check ?? sqsReceipts;
}

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    const records = event.Records ?? [];
    const confirmed = await receipts(records);
    const failures: SQSBatchItemFailure[] = [];
    const accepted = records.filter((r) => {
      if (confirmed.has(r.messageId)) return true;
      logger.error("refused a record the audit queue does not confirm (not delivered by the queue)", {
        messageId: r.messageId,
        claimedSender: r.attributes?.SenderId,
      });
      return false;
    });
    // The whole batch in one request (storeAll; a conditional put each for what the queue delivers
    // again); stored before the handler returns, so a crash before then has the queue deliver the
    // batch again, and a redelivery finds its rows.
    const results = await storeAll(
      accepted.map((r) => ({
        body: r.body,
        sender: r.attributes.SenderId,
        sentAt: Number(r.attributes.SentTimestamp),
        messageId: r.messageId,
        receiveCount: Number(r.attributes.ApproximateReceiveCount) || undefined,
      })),
    );
    for (const [i, out] of results.entries()) {
      const r = accepted[i];
      if (out instanceof Error) {
        logger.error("could not store an audit entry; the queue delivers it again", {
          messageId: r.messageId,
          error: out,
        });
        failures.push({ itemIdentifier: r.messageId });
      } else if (out.status === "malformed")
        logger.warn("stored a malformed audit entry as audit.malformed", {
          messageId: r.messageId,
          sender: r.attributes.SenderId,
          problem: out.problem,
        });
    }
    return { batchItemFailures: failures };
  });
