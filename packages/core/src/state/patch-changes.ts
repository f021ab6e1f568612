/**
 * What a patch run changes on an instance, written to DynamoDB *before* the change is made, so
 * a run that dies mid-target (a crash, a lost execution, an abort with no rollback) leaves a
 * record of what is still undone: the target groups it took the instance out of, the patch
 * command it sent, the reboot it asked for, the root-volume replacement it started.
 *
 * One item per run and instance, in the run's partition (`EXEC#<id>`, `PATCH#CHANGES#<instance>`),
 * and listed by instance (gsi1 `PATCH#CHANGES#<instance>` / `<executionId>`) until the instance is
 * back in every target group it was taken out of. So:
 * - `finishTarget` re-registers the recorded groups (not only those a step's output names) and
 *   then marks the record restored, which takes it off the instance's listing;
 * - the next patch of the instance finds what an earlier run recorded and did not restore, and
 *   puts the instance back too;
 * - a lost run's report (the reconciler's) names each instance and what is still undone.
 */
import { GetCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { conditionalWrite, db, queryAll } from "./db.ts";
import { TABLE_KEYS, tableName } from "./table.ts";

export interface InstanceChanges {
  executionId: string;
  instanceId: string;
  region: string;
  /** Target groups the instance was taken out of (recorded before DeregisterTargets). */
  targetGroups: string[];
  /** The patch command, recorded before SendCommand (`commandId` once AWS answered). */
  command?: { at: string; commandId?: string };
  /** A reboot, recorded before RebootInstances. */
  reboot?: { at: string };
  /** A root-volume replacement, recorded before CreateReplaceRootVolumeTask (`taskId` once started). */
  rootVolume?: { at: string; snapshotId: string; taskId?: string };
  /** When the instance was back in every recorded target group. */
  restoredAt?: string;
  updatedAt: string;
}

const pk = (executionId: string) => `EXEC#${executionId}`;
const SK_PREFIX = "PATCH#CHANGES#";
const byInstance = (instanceId: string) => `${SK_PREFIX}${instanceId}`;
const key = (executionId: string, instanceId: string) => ({
  pk: pk(executionId),
  sk: `${SK_PREFIX}${instanceId}`,
});

function fromItem(item: Record<string, unknown>): InstanceChanges {
  const { pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _gs, targetGroups, ...rest } = item;
  return {
    ...(rest as unknown as InstanceChanges),
    targetGroups: [...((targetGroups as Set<string> | undefined) ?? [])].sort(),
  };
}

/**
 * Records, before they are deregistered, the target groups the instance is taken out of (a
 * retried step adds the same ones again: a set). Also (re)lists the record under the instance.
 */
export async function recordOut(
  executionId: string,
  region: string,
  instanceId: string,
  targetGroups: string[],
  at: Date,
): Promise<void> {
  const groups = targetGroups.length > 0;
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(executionId, instanceId),
      UpdateExpression: `SET executionId = :e, instanceId = :i, #region = :r, updatedAt = :at, ${TABLE_KEYS.gsi1.partitionKey} = :g, ${TABLE_KEYS.gsi1.sortKey} = :e${groups ? " ADD targetGroups :tg" : ""} REMOVE restoredAt`,
      ExpressionAttributeNames: { "#region": "region" },
      ExpressionAttributeValues: {
        ":e": executionId,
        ":i": instanceId,
        ":r": region,
        ":at": at.toISOString(),
        ":g": byInstance(instanceId),
        ...(groups ? { ":tg": new Set(targetGroups) } : {}),
      },
    }),
  );
}

/** Records a change to the instance itself, before it is made (or, with its id, once it was). */
export async function recordChange<K extends "command" | "reboot" | "rootVolume">(
  executionId: string,
  instanceId: string,
  what: K,
  value: NonNullable<InstanceChanges[K]>,
  at: Date,
): Promise<void> {
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(executionId, instanceId),
      UpdateExpression: "SET #what = :v, updatedAt = :at, executionId = :e, instanceId = :i",
      ExpressionAttributeNames: { "#what": what },
      ExpressionAttributeValues: {
        ":v": value,
        ":at": at.toISOString(),
        ":e": executionId,
        ":i": instanceId,
      },
    }),
  );
}

/** The instance is back in every recorded target group: off the instance's listing, kept for the report. */
export async function markRestored(executionId: string, instanceId: string, at: Date): Promise<void> {
  // Conditional: an instance nothing was recorded for (never taken out) gets no record now.
  await conditionalWrite(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(executionId, instanceId),
      UpdateExpression: `SET restoredAt = :at, updatedAt = :at REMOVE ${TABLE_KEYS.gsi1.partitionKey}, ${TABLE_KEYS.gsi1.sortKey}`,
      ConditionExpression: "attribute_exists(pk)",
      ExpressionAttributeValues: { ":at": at.toISOString() },
    }),
  );
}

/** What this run recorded for the instance (a consistent read). */
export async function get(executionId: string, instanceId: string): Promise<InstanceChanges | undefined> {
  const out = await db().send(
    new GetCommand({ TableName: tableName(), Key: key(executionId, instanceId), ConsistentRead: true }),
  );
  return out.Item ? fromItem(out.Item) : undefined;
}

/** Every instance a run recorded changes for. */
export async function ofRun(executionId: string): Promise<InstanceChanges[]> {
  const items = await queryAll({
    TableName: tableName(),
    KeyConditionExpression: "pk = :pk AND begins_with(sk, :sk)",
    ExpressionAttributeValues: { ":pk": pk(executionId), ":sk": SK_PREFIX },
    ConsistentRead: true,
  });
  return items.map(fromItem);
}

/** Records of any run that took the instance out of target groups and did not put it back. */
export async function unrestored(instanceId: string): Promise<InstanceChanges[]> {
  const out = await db().send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: TABLE_KEYS.gsi1.indexName,
      KeyConditionExpression: `${TABLE_KEYS.gsi1.partitionKey} = :g`,
      ExpressionAttributeValues: { ":g": byInstance(instanceId) },
    }),
  );
  return (out.Items ?? []).map(fromItem).filter((c) => !c.restoredAt);
}
