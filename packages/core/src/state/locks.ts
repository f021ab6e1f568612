/**
 * Per-target locks with leases. A lock is one item (pk `LOCK#<target>`, sk `LOCK`) written
 * with a condition: it is free, or its lease has run out, or we already hold it. A holder
 * that dies without releasing loses the lock when its lease ends; nobody has to clean up.
 * Expiry is checked on read (the condition), not left to TTL, which deletes late.
 */
import { DeleteCommand, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { db, isConditionFailure } from "./db.ts";
import { tableName } from "./table.ts";

export interface Lock {
  target: string;
  owner: string;
  acquiredAt: string;
  leaseUntil: number;
}

const key = (target: string) => ({ pk: `LOCK#${target}`, sk: "LOCK" });

/**
 * Takes the lock on `target` for `owner` for `leaseMs`. Returns true when held.
 *
 * @example
 * if (!(await Locks.acquire("asg:web", executionId, 3_600_000))) return suppress("locked");
 */
export async function acquire(
  target: string,
  owner: string,
  leaseMs: number,
  now = Date.now(),
): Promise<boolean> {
  try {
    await db().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          ...key(target),
          type: "lock",
          target,
          owner,
          acquiredAt: new Date(now).toISOString(),
          leaseUntil: now + leaseMs,
          // TTL only tidies up; correctness comes from the condition below.
          expiresAt: Math.ceil((now + leaseMs) / 1000) + 86_400,
        },
        ConditionExpression: "attribute_not_exists(pk) OR leaseUntil < :now OR #owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":now": now, ":owner": owner },
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** Releases the lock if `owner` still holds it. Returns false when someone else does (or nobody). */
export async function release(target: string, owner: string): Promise<boolean> {
  try {
    await db().send(
      new DeleteCommand({
        TableName: tableName(),
        Key: key(target),
        ConditionExpression: "#owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":owner": owner },
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** The current holder of a lock, or undefined when it is free or its lease has run out. */
export async function holder(target: string, now = Date.now()): Promise<Lock | undefined> {
  const out = await db().send(
    new GetCommand({ TableName: tableName(), Key: key(target), ConsistentRead: true }),
  );
  const item = out.Item as (Lock & Record<string, unknown>) | undefined;
  if (!item || item.leaseUntil < now) return undefined;
  return { target: item.target, owner: item.owner, acquiredAt: item.acquiredAt, leaseUntil: item.leaseUntil };
}
