/**
 * Dedup records: EventBridge delivers at least once (and retries for up to 24 h), so the
 * gate claims each event id (and each alarm transition) with one conditional write before it
 * does anything. The claim carries a short lease: if the claimant dies mid-way, a redelivery
 * after the lease may claim it again; anything after the claim is idempotent too (the execution
 * name is the dedup key), so a second pass cannot start a second run.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { db, isConditionFailure } from "./db.ts";
import { tableName } from "./table.ts";

/** How long dedup records are kept: EventBridge's retry horizon (24 h) plus margin. */
const KEEP_SECONDS = 3 * 86_400;
/** How long a claim stays exclusive while its holder works. */
const CLAIM_LEASE_MS = 60_000;

const key = (k: string) => ({ pk: `DEDUP#${k}`, sk: "DEDUP" });

/*
 * What this process itself finished recently. Such a key's claim in DynamoDB is certain to
 * fail (finished claims never expire), so a redelivery to the same process is known to be a
 * duplicate without asking the table — as Powertools Idempotency's local cache does. Only
 * facts this process wrote are cached, and only finished ones: a claim still in progress is
 * not a duplicate (see {@link ClaimResult}).
 */
const LOCAL_MS = 10 * 60_000;
const LOCAL_MAX = 50_000;
const known = new Map<string, number>();

function remember(k: string, until: number): void {
  known.delete(k);
  known.set(k, until);
  if (known.size > LOCAL_MAX) known.delete(known.keys().next().value as string);
}

/** Forgets the local cache (a new store was configured: local mode start, tests). */
export function forgetLocal(): void {
  known.clear();
}

/** Whether this process finished `k` itself (recently): a redelivery is a duplicate. */
export function isKnownDone(k: string, now: number): boolean {
  const until = known.get(k);
  return until !== undefined && until > now;
}

/*
 * Deliveries of one happening that this process is handling right now. A second delivery that
 * arrives meanwhile (a storm's duplicates, many at once) waits here for the first one's outcome
 * instead of claiming in the table, losing, reading the claim back and being sent away to come
 * again (in-progress): once the first has finished, the second is a known duplicate without a
 * request; if the first failed (and gave its claim back), the second handles the event itself.
 * In-progress is left for claims held by another process, which this one cannot wait on. A
 * Lambda container handles one event at a time, so there this only matters to local mode and
 * `POST /events`, where one process takes many at once.
 */
const working = new Map<string, Promise<unknown>>();

/**
 * Runs `handle` for one delivery of `k` once no other delivery of it is being handled in this
 * process; deliveries of a happening this process has finished go straight through.
 */
export async function oneAtATime<T>(k: string, now: number, handle: () => Promise<T>): Promise<T> {
  for (;;) {
    if (isKnownDone(k, now)) return handle();
    const held = working.get(k);
    if (!held) break;
    await held.catch(() => undefined);
  }
  const work = handle();
  working.set(k, work);
  try {
    return await work;
  } finally {
    if (working.get(k) === work) working.delete(k);
  }
}

/**
 * The answer to a claim:
 * - `claimed`: it is ours; do the work, then {@link complete} or {@link release} it.
 * - `done`: handled before — a duplicate.
 * - `in-progress`: someone holds it and has not finished (perhaps a process that died mid-way,
 *   whose lease has not run out yet). NOT a duplicate: nothing may have happened yet, so the
 *   sender must retry later (EventBridge retries when the trigger throws), never drop it.
 */
export type ClaimResult =
  | { status: "claimed" }
  | { status: "done" }
  | { status: "in-progress"; retryAfterMs: number };

/** Claims `k` for `owner`. */
export async function claim(k: string, owner: string, now = Date.now()): Promise<ClaimResult> {
  return put(k, owner, now);
}

/**
 * Claims `k` and closes it in the same write, with what was decided: for a decision known
 * before anything is done (no rule matches), so it needs no second write to finish. `claimed`
 * means the decision is ours to act on (audit it); `done` and `in-progress` as for {@link claim}.
 */
export async function claimDone(
  k: string,
  owner: string,
  outcome: Record<string, unknown>,
  now = Date.now(),
): Promise<ClaimResult> {
  const result = await put(k, owner, now, outcome);
  if (result.status === "claimed") remember(k, Date.now() + LOCAL_MS);
  return result;
}

async function put(
  k: string,
  owner: string,
  now: number,
  outcome?: Record<string, unknown>,
): Promise<ClaimResult> {
  if (isKnownDone(k, now)) return { status: "done" };
  try {
    await db().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          ...key(k),
          type: "dedup",
          owner,
          ...(outcome
            ? { status: "DONE", outcome, leaseUntil: Number.MAX_SAFE_INTEGER }
            : { status: "IN_PROGRESS", leaseUntil: now + CLAIM_LEASE_MS }),
          expiresAt: Math.floor(now / 1000) + KEEP_SECONDS,
        },
        // A finished claim's lease never ends (complete sets it to the far future). Dedup keys
        // are unique per happening (event ids are UUIDs, alarm transitions carry their time),
        // so a record past its TTL is never asked for again; TTL only tidies up.
        ConditionExpression: "attribute_not_exists(pk) OR leaseUntil < :now",
        ExpressionAttributeValues: { ":now": now },
      }),
    );
    return { status: "claimed" };
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
  const held = await db().send(new GetCommand({ TableName: tableName(), Key: key(k), ConsistentRead: true }));
  if (!held.Item || held.Item.status === "DONE") {
    if (held.Item) remember(k, now + LOCAL_MS);
    return { status: "done" };
  }
  return { status: "in-progress", retryAfterMs: Math.max(1000, (held.Item.leaseUntil as number) - now) };
}

/** Marks a claim done, with what was decided. */
export async function complete(k: string, owner: string, outcome: Record<string, unknown>): Promise<void> {
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(k),
      UpdateExpression: "SET #status = :done, outcome = :outcome, leaseUntil = :never",
      ConditionExpression: "#owner = :owner",
      ExpressionAttributeNames: { "#status": "status", "#owner": "owner" },
      ExpressionAttributeValues: {
        ":done": "DONE",
        ":outcome": outcome,
        ":owner": owner,
        ":never": Number.MAX_SAFE_INTEGER,
      },
    }),
  );
  remember(k, Date.now() + LOCAL_MS);
}

/** Gives a claim back (processing failed before anything happened), so a redelivery can retry. */
export async function release(k: string, owner: string): Promise<void> {
  known.delete(k);
  try {
    await db().send(
      new DeleteCommand({
        TableName: tableName(),
        Key: key(k),
        ConditionExpression: "#owner = :owner AND #status = :inProgress",
        ExpressionAttributeNames: { "#owner": "owner", "#status": "status" },
        ExpressionAttributeValues: { ":owner": owner, ":inProgress": "IN_PROGRESS" },
      }),
    );
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
}
