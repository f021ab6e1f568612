/**
 * The audit queue, locally: what SQS is deployed (stacks/audit.ts), in-process. Entries recorded
 * by a function are batched per sender (up to 10, as SendMessageBatch takes) and delivered to
 * the audit writer's own handler as an SQS event, each record carrying `SenderId` =
 * `LOCAL:<function name>` (the function the entry was recorded in, see lambda.ts) and
 * `SentTimestamp`, as SQS stamps them. Records the writer reports as failed are delivered again
 * (new receipt handles, as SQS does), up to five receives; then the recording caller's promise
 * rejects (deployed, the entry would go to the dead-letter queue and page).
 *
 * Unlike SQS, `Audit.record` resolves only once the writer has stored the entry, so what a run
 * audited is readable as soon as the run is (tests read the trail right after `local.idle()`);
 * it resolves with the message's id, as SendMessageBatch answers it, which is the entry's id in
 * the trail.
 */
import { randomUUID } from "node:crypto";
import type { Audit } from "@reflex/core";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { currentFunction } from "./lambda.ts";

/** As many as SendMessageBatch takes, and the event source's batch size deployed. */
const BATCH = 10;
/** As the deployed queue's redrive policy: a sixth receive would be the dead-letter queue's. */
const MAX_RECEIVES = 5;
/** How long the first entry of a batch waits for more (core's audit transport waits as long). */
const BATCH_WAIT_MS = 10;

export const LOCAL_AUDIT_QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:reflex-local-audit";

interface Pending {
  body: string;
  sender: string;
  /** With the message's id: the entry's id in the trail. */
  resolve: (id: string) => void;
  reject: (e: unknown) => void;
}

export class LocalAuditQueue implements Audit.Transport {
  private readonly waiting = new Map<string, Pending[]>();
  private readonly inFlight = new Set<string>();

  /** `deliver` runs the audit writer's handler on one event (as the event source mapping does). */
  constructor(private readonly deliver: (event: SQSEvent) => Promise<SQSBatchResponse | undefined>) {}

  send(entry: Audit.AuditEntry): Promise<string> {
    // The sender is the function recording the entry, taken now (not when the batch goes out).
    const sender = `LOCAL:${currentFunction() ?? "reflex-local"}`;
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(sender) ?? [];
      queue.push({ body: JSON.stringify(entry), sender, resolve, reject });
      this.waiting.set(sender, queue);
      if (queue.length >= BATCH) void this.flush(sender);
      else if (queue.length === 1) setTimeout(() => void this.flush(sender), BATCH_WAIT_MS);
    });
  }

  /** The writer's receipt check: which records this queue has delivered and not yet settled. */
  readonly confirm = async (records: SQSRecord[]): Promise<Set<string>> =>
    new Set(records.filter((r) => this.inFlight.has(r.receiptHandle)).map((r) => r.messageId));

  private async flush(sender: string): Promise<void> {
    const queue = this.waiting.get(sender) ?? [];
    const batch = queue.splice(0, BATCH);
    if (queue.length === 0) this.waiting.delete(sender);
    else if (queue.length >= BATCH) void this.flush(sender);
    else setTimeout(() => void this.flush(sender), BATCH_WAIT_MS);
    if (batch.length === 0) return;
    const sentAt = String(Date.now());
    let pending = batch.map((p) => ({ p, messageId: randomUUID() }));
    for (let receive = 1; pending.length > 0; receive++) {
      const records: SQSRecord[] = pending.map(({ p, messageId }) => ({
        messageId,
        receiptHandle: randomUUID(),
        body: p.body,
        attributes: {
          SenderId: p.sender,
          SentTimestamp: sentAt,
          ApproximateReceiveCount: String(receive),
          ApproximateFirstReceiveTimestamp: sentAt,
        },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: LOCAL_AUDIT_QUEUE_ARN,
        awsRegion: "us-east-1",
      }));
      for (const r of records) this.inFlight.add(r.receiptHandle);
      let failed: Set<string>;
      try {
        const out = await this.deliver({ Records: records });
        failed = new Set((out?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      } catch (err) {
        // The handler failed as a whole: every record comes back.
        failed = new Set(records.map((r) => r.messageId));
        if (receive >= MAX_RECEIVES) {
          for (const { p } of pending) p.reject(err);
          return;
        }
      } finally {
        for (const r of records) this.inFlight.delete(r.receiptHandle);
      }
      for (const item of pending) if (!failed.has(item.messageId)) item.p.resolve(item.messageId);
      pending = pending.filter((item) => failed.has(item.messageId));
      if (pending.length > 0 && receive >= MAX_RECEIVES) {
        const error = new Error(
          `audit: the audit writer could not store ${pending.length} entries after ${MAX_RECEIVES} receives`,
        );
        for (const { p } of pending) p.reject(error);
        return;
      }
    }
  }
}
