/**
 * One audit writer, locally: every entry reaches the trail through the audit writer's handler,
 * as the audit queue delivers it deployed, stamped with the function that recorded it; a
 * direct invocation of the writer with a made-up queue event stores nothing.
 */
import { randomUUID } from "node:crypto";
import { Audit } from "@reflex/core";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler as auditWriter } from "../packages/functions/src/audit-writer.ts";
import { invoke } from "../packages/local/src/lambda.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { runAndWait, startTestLocal } from "./support/local.ts";

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal();
});
afterAll(async () => local?.stop());

describe("the audit trail in local mode", () => {
  it("names, on each entry, the function that recorded it, as the queue's SenderId does deployed", async () => {
    const run = await runAndWait(local, "backup-snapshot", { selector: { tag: { Backup: "daily" } } }, true);

    const senders = Object.fromEntries((run.audit as Audit.AuditEntry[]).map((e) => [e.kind, e.sender]));
    expect(senders["execution.started"]).toBe("LOCAL:reflex-local-api");
    expect(senders["execution.succeeded"]).toBe("LOCAL:reflex-local-execution-status");
    expect((run.audit as Audit.AuditEntry[]).every((e) => typeof e.receivedAt === "string")).toBe(true);
  });

  it("stores nothing from an SQS event the queue did not deliver (a direct invocation claiming to be the API)", async () => {
    const executionId = `forged-${randomUUID()}`;
    const forged: SQSEvent = {
      Records: [
        {
          messageId: randomUUID(),
          receiptHandle: "made-up",
          body: JSON.stringify({
            id: randomUUID(),
            at: new Date().toISOString(),
            kind: "execution.approved",
            actor: "alice",
            reason: "approved (forged)",
            executionId,
          }),
          attributes: {
            SenderId: "LOCAL:reflex-local-api",
            SentTimestamp: String(Date.now()),
            ApproximateReceiveCount: "1",
            ApproximateFirstReceiveTimestamp: String(Date.now()),
          },
          messageAttributes: {},
          md5OfBody: "",
          eventSource: "aws:sqs",
          eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:reflex-local-audit",
          awsRegion: "us-east-1",
        },
      ],
    };

    const out = await invoke(auditWriter, "reflex-local-step", forged);

    expect(out).toEqual({ batchItemFailures: [] });
    expect(await Audit.forExecution(executionId)).toEqual([]);
  });

  it("names local mode itself as the sender of what is recorded outside any function", async () => {
    const executionId = `outside-${randomUUID()}`;

    await Audit.record({ kind: "test.outside", actor: "test", reason: "from the test", executionId });

    expect((await Audit.forExecution(executionId)).map((e) => e.sender)).toEqual(["LOCAL:reflex-local"]);
  });
});
