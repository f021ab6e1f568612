/**
 * Local mode's audit queue with the real writer handler behind it: what the writer did not answer
 * for comes back with its receive count, as SQS delivers it, and the writer stores it once.
 */
import { randomUUID } from "node:crypto";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { Audit, tableName } from "@reflex/core";
import { handler as auditWriter, useReceiptCheck } from "@reflex/functions/audit-writer";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestDynamo } from "../../../test/support/dynamo.ts";
import { db } from "../../core/src/state/db.ts";
import { LocalAuditQueue } from "./audit-queue.ts";
import { invoke } from "./lambda.ts";
import type { Storage } from "./storage.ts";

let storage: Storage;
beforeAll(async () => {
  storage = await startTestDynamo();
});
afterAll(async () => {
  Audit.useTransport(undefined);
  useReceiptCheck(undefined);
  await storage.close();
});

it("delivers again what the writer stored but did not answer for, with its receive count; the writer's conditional put leaves each row as it is", async () => {
  const executionId = `run-${randomUUID()}`;
  const receives: string[][] = [];
  const queue = new LocalAuditQueue(async (event: SQSEvent) => {
    receives.push(event.Records.map((r) => r.attributes.ApproximateReceiveCount));
    const out = await invoke(auditWriter, "reflex-local-audit-writer", event);
    if (receives.length > 1) return out;
    // Stored, then the writer dies before it answers: the queue delivers the batch again. What
    // the rows hold now must stay as it is.
    for (const r of event.Records) {
      const at = JSON.parse(r.body).at as string;
      await db().send(
        new UpdateCommand({
          TableName: tableName(),
          Key: { pk: `AUDIT#${at.slice(0, 10)}`, sk: `${at}#${r.messageId}` },
          UpdateExpression: "SET marker = :m",
          ExpressionAttributeValues: { ":m": "first" },
        }),
      );
    }
    throw new Error("the writer died after storing");
  });
  Audit.useTransport(queue);
  useReceiptCheck(queue.confirm);

  const recorded = await Promise.all(
    ["a", "b", "c"].map((reason) => Audit.record({ kind: "test.entry", actor: "test", reason, executionId })),
  );

  expect(receives).toEqual([
    ["1", "1", "1"],
    ["2", "2", "2"],
  ]);
  const stored = await Audit.forExecution(executionId);
  expect(stored.map((e) => e.id).sort()).toEqual(recorded.map((e) => e.id).sort());
  expect(stored.map((e) => (e as unknown as { marker?: string }).marker)).toEqual([
    "first",
    "first",
    "first",
  ]);
});
