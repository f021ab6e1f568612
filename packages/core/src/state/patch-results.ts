/**
 * Per-target results of a patch run, one item each in the run's partition (`EXEC#<id>`,
 * `PATCH#TARGET#<instanceId>`), and the run's error counter (`PATCH#COUNTS`). Apart from the
 * execution record so a 5,000-instance run never nears DynamoDB's 400 KB item limit, and so
 * every target's begin step reads the error count with one consistent read.
 */
import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { db, queryAll } from "./db.ts";
import { tableName } from "./table.ts";

export type TargetStatus = "patched" | "rolled-back" | "failed" | "skipped" | "not-started";

export interface TargetResult {
  instanceId: string;
  name?: string;
  status: TargetStatus;
  /** Why: `cutoff`, `maxErrors`, `aborted`, `not SSM-managed`, the error that failed it… */
  reason?: string;
  snapshotId?: string;
  rebooted?: boolean;
  installed?: number;
  targetGroups?: string[];
  rollbackTaskId?: string;
  restoredVolumeId?: string;
  startedAt?: string;
  endedAt: string;
}

const pk = (executionId: string) => `EXEC#${executionId}`;
const SK_PREFIX = "PATCH#TARGET#";

/** Records a target's outcome (the last write wins: a retried finish writes the same). */
export async function put(executionId: string, result: TargetResult): Promise<void> {
  await db().send(
    new PutCommand({
      TableName: tableName(),
      Item: { pk: pk(executionId), sk: `${SK_PREFIX}${result.instanceId}`, ...result },
    }),
  );
}

/** Every target result of a run. */
export async function list(executionId: string): Promise<TargetResult[]> {
  const items = await queryAll({
    TableName: tableName(),
    KeyConditionExpression: "pk = :pk AND begins_with(sk, :sk)",
    ExpressionAttributeValues: { ":pk": pk(executionId), ":sk": SK_PREFIX },
    ConsistentRead: true,
  });
  return items.map(({ pk: _p, sk: _s, ...rest }) => rest as unknown as TargetResult);
}

/**
 * Counts one failed target, once per target (a retried step does not count twice): the set
 * of failed ids only grows. Returns the count after this one.
 */
export async function countFailure(executionId: string, instanceId: string): Promise<number> {
  const out = await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: { pk: pk(executionId), sk: "PATCH#COUNTS" },
      UpdateExpression: "ADD failedIds :id",
      ExpressionAttributeValues: { ":id": new Set([instanceId]) },
      ReturnValues: "ALL_NEW",
    }),
  );
  return (out.Attributes?.failedIds as Set<string> | undefined)?.size ?? 1;
}

/** How many targets of the run have failed so far (a consistent read). */
export async function failures(executionId: string): Promise<number> {
  const out = await db().send(
    new GetCommand({
      TableName: tableName(),
      Key: { pk: pk(executionId), sk: "PATCH#COUNTS" },
      ConsistentRead: true,
    }),
  );
  return (out.Item?.failedIds as Set<string> | undefined)?.size ?? 0;
}
