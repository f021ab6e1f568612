/**
 * A run's Slack thread (pk `CHATOPS#<execution id>`): the channel and `ts` of its first message,
 * and of the approval message once one was posted, so any container can reply in the thread and
 * update the approval. Kept 30 days.
 */
import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { db } from "./db.ts";
import { tableName } from "./table.ts";

const THREAD_DAYS = 30;

export interface Thread {
  channel: string;
  ts: string;
  approvalTs?: string;
}

const key = (id: string) => ({ pk: `CHATOPS#${id}`, sk: "THREAD" });

/** The run's thread, if one was started. */
export async function find(id: string): Promise<Thread | undefined> {
  const out = await db().send(new GetCommand({ TableName: tableName(), Key: key(id), ConsistentRead: true }));
  return out.Item as Thread | undefined;
}

/** Keeps the run's thread. */
export async function save(id: string, thread: Thread): Promise<void> {
  await db().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        ...key(id),
        type: "chatops-thread",
        ...thread,
        expiresAt: Math.floor(Date.now() / 1000) + THREAD_DAYS * 86_400,
      },
    }),
  );
}

/** Notes the approval message's `ts` on the run's thread. */
export async function setApprovalTs(id: string, ts: string): Promise<void> {
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(id),
      UpdateExpression: "SET approvalTs = :ts",
      ExpressionAttributeValues: { ":ts": ts },
    }),
  );
}
