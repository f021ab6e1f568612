/**
 * The embedded DynamoDB for tests: dynalite in memory on 127.0.0.1, with the state table,
 * wired into the client factory. Each call gets a fresh server (and a fresh table).
 */
import { randomUUID } from "node:crypto";
import { Audit, Aws, tableName } from "@reflex/core";
import {
  ensureTable,
  S3RVER_CREDENTIALS,
  type Storage,
  startStorage,
} from "../../packages/local/src/storage.ts";

export async function startTestDynamo(): Promise<Storage> {
  const storage = await startStorage({ region: "us-east-1" });
  await ensureTable(storage.dynamoEndpoint, "us-east-1", tableName());
  Aws.configure({
    endpoints: { dynamodb: storage.dynamoEndpoint, s3: storage.s3Endpoint },
    credentials: { s3: S3RVER_CREDENTIALS },
  });
  return storage;
}

/**
 * In Lambda, audit entries go to the audit writer's queue; in a test of a deployed handler run
 * in-process, the writer stores each at once, as the queue would hand it over from `sender`.
 * Returns the undo for `afterAll`.
 */
export function storeAuditAtOnce(sender: string): () => void {
  Audit.useTransport({
    send: async (entry) =>
      (
        await Audit.store({
          body: JSON.stringify(entry),
          sender,
          sentAt: Date.now(),
          messageId: randomUUID(),
        })
      ).id,
  });
  return () => Audit.useTransport(undefined);
}
