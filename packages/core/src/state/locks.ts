/**
 * Per-target locks with leases. A lock is one item (pk `LOCK#<target>`, sk `LOCK`) written
 * with a condition: it is free, or its lease has run out, or we already hold it. A lock names
 * its holder (the execution id), and every lock is listed in gsi1 (`LOCKS`), so the
 * reconciler can walk locks as well as executions and free those whose holder has ended or
 * never existed. Expiry is checked on read (the condition), not left to TTL, which deletes
 * late.
 *
 * Targets are what a run acts on — `instance:i-…`, `asg:web`, `pair:db` — never a selector:
 * two selectors naming the same instance must meet at the same lock. A run that needs several
 * takes them in sorted order ({@link acquireAll}), so two runs cannot deadlock.
 */
import { DeleteCommand, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { conditionalWrite, db, isConditionFailure, queryAll } from "./db.ts";
import { TABLE_KEYS, tableName } from "./table.ts";

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
  attempt?: string,
): Promise<boolean> {
  return (await take(target, owner, leaseMs, now, attempt)) !== false;
}

/**
 * Takes the lock; false when refused, otherwise whether it was free (or its lease had run out)
 * before, as opposed to held already by `owner` (taken again: locks are re-entrant).
 */
async function take(
  target: string,
  owner: string,
  leaseMs: number,
  now: number,
  attempt?: string,
): Promise<false | { fresh: boolean }> {
  try {
    const out = await db().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          ...lockItem(target, owner),
          acquiredAt: new Date(now).toISOString(),
          leaseUntil: now + leaseMs,
          // TTL only tidies up; correctness comes from the condition below.
          expiresAt: Math.ceil((now + leaseMs) / 1000) + 86_400,
          ...(attempt ? { attempt } : {}),
        },
        ConditionExpression: "attribute_not_exists(pk) OR leaseUntil < :now OR #owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":now": now, ":owner": owner },
        ...(attempt ? { ReturnValues: "ALL_OLD" as const } : {}),
      }),
    );
    const old = out.Attributes as { owner?: string; leaseUntil?: number } | undefined;
    return { fresh: !old || old.owner !== owner || (old.leaseUntil ?? 0) < now };
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** A lock item, listed under `LOCKS` so the reconciler can walk every lock. */
function lockItem(target: string, owner: string) {
  return {
    ...key(target),
    [TABLE_KEYS.gsi1.partitionKey]: "LOCKS",
    [TABLE_KEYS.gsi1.sortKey]: target,
    type: "lock",
    target,
    owner,
  };
}

/**
 * Takes every lock in `targets` (sorted, one at a time, so two runs wanting overlapping sets
 * cannot deadlock), or none: on the first refusal, gives back what it took and names the
 * target and its holder.
 *
 * @example
 * const got = await Locks.acquireAll(["asg:web"], executionId, lease);
 * if (!got.ok) throw new ConflictError("target_locked", `${got.target} is held by ${got.holder}`);
 */
export async function acquireAll(
  targets: string[],
  owner: string,
  leaseMs: number,
  now = Date.now(),
  attempt?: string,
): Promise<{ ok: true; fresh: string[] } | { ok: false; target: string; holder?: string }> {
  const taken: string[] = [];
  const fresh: string[] = [];
  // Given an attempt, only what it took free goes back, and only if no other start of the same
  // owner took it again since (that one may be under way with no record yet).
  const giveBack = () =>
    attempt
      ? Promise.all(fresh.map((t) => release(t, owner, attempt)))
      : Promise.all(taken.map((t) => release(t, owner)));
  for (const target of order(targets)) {
    let got: Awaited<ReturnType<typeof take>>;
    try {
      got = await take(target, owner, leaseMs, now, attempt);
    } catch (err) {
      // The store failed (throttled): none is held, as on a refusal.
      await giveBack().catch(() => undefined);
      throw err;
    }
    if (got) {
      taken.push(target);
      if (got.fresh) fresh.push(target);
      continue;
    }
    const held = await holder(target, now);
    await giveBack();
    return { ok: false, target, holder: held?.owner };
  }
  return { ok: true, fresh };
}

/** The deterministic order locks are taken in: sorted, without duplicates. */
export function order(targets: string[]): string[] {
  return [...new Set(targets)].sort();
}

/**
 * Releases the lock if `owner` still holds it (and, given `attempt`, if no other start of the
 * same owner took it again since that attempt did). Returns false when someone else does (or
 * nobody).
 */
export async function release(target: string, owner: string, attempt?: string): Promise<boolean> {
  return conditionalWrite(
    new DeleteCommand({
      TableName: tableName(),
      Key: key(target),
      ConditionExpression: attempt ? "#owner = :owner AND attempt = :attempt" : "#owner = :owner",
      ExpressionAttributeNames: { "#owner": "owner" },
      ExpressionAttributeValues: { ":owner": owner, ...(attempt ? { ":attempt": attempt } : {}) },
    }),
  );
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

/**
 * Every lock held now, by target. The index lists them; each is confirmed with a consistent
 * read of the lock itself, because an index entry can outlive its item (DynamoDB's indexes are
 * eventually consistent, and dynalite writes the index before the item, so a crash between
 * the two leaves one behind — {@link forget} clears such an entry).
 */
export async function list(now = Date.now()): Promise<Lock[]> {
  const held = await Promise.all((await listed()).map((t) => holder(t, now)));
  return held.filter((l): l is Lock => l !== undefined);
}

/** Targets the index lists as locked, whether or not the lock item still exists. */
export async function listed(): Promise<string[]> {
  const out = (
    await queryAll({
      TableName: tableName(),
      IndexName: TABLE_KEYS.gsi1.indexName,
      KeyConditionExpression: "gsi1pk = :pk",
      ExpressionAttributeValues: { ":pk": "LOCKS" },
    })
  ).map((i) => i.target as string);
  return out;
}

/**
 * Clears a stale index entry of a lock whose item is gone, by writing the item again and
 * deleting it (only when no lock item exists, so a live lock is never touched).
 */
export async function forget(target: string): Promise<void> {
  const owner = `forget:${target}`;
  const written = await conditionalWrite(
    new PutCommand({
      TableName: tableName(),
      Item: { ...lockItem(target, owner), leaseUntil: 0 },
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
  if (written) await release(target, owner);
}
