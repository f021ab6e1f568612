/**
 * A fan-out over many locations (see `locations.ts`): one item, pk `FANOUT#<parentId>`, sk
 * `FANOUT`, written before its state machine starts, so whoever resumes it (local mode after a
 * restart, the reconciler) knows what to start again. It holds the request each child is
 * admitted with, the plan, and each location's outcome once known; running fan-outs are listed
 * through gsi1 (`FANOUTS#RUNNING`), which the item leaves when it finishes.
 *
 * Each outcome is written once (`attribute_not_exists`), in the same update as the error count,
 * so a step repeated by a retry or a resumed fan-out never counts one location's failure twice.
 */
import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { conditionalWrite, db, queryAll } from "./db.ts";
import { TABLE_KEYS, tableName } from "./table.ts";

/** How one location ended. `SKIPPED`: not started, because too many had failed. */
export interface Outcome {
  status: string;
  executionId?: string;
  reason?: string;
}

export interface FanOut {
  parentId: string;
  runbook: string;
  status: "RUNNING" | "FINISHED";
  /** The admission request every child gets (its location and execution id added). */
  request: Record<string, unknown>;
  concurrency: number;
  maxErrors: number;
  children: Array<{ account: string; accountName?: string; region: string; executionId: string }>;
  /** Locations that failed (refused, or a child that did not succeed). */
  errors: number;
  /** By child index (`"0"`, `"1"`…). */
  outcomes: Record<string, Outcome>;
  /**
   * The indices of the locations that have taken a slot ({@link takeSlot}): started, or
   * refused or skipped at their turn. Absent until the first takes one.
   */
  started?: Set<number>;
  createdAt: string;
  finishedAt?: string;
}

const key = (parentId: string) => ({ pk: `FANOUT#${parentId}`, sk: "FANOUT" });
const RUNNING = "FANOUTS#RUNNING";
/** A finished fan-out's item is kept as long as an execution's record (TTL, 90 days). */
const KEEP_SECONDS = 90 * 86_400;

/** Writes a new fan-out, RUNNING; false when one of that id exists already. */
export async function create(
  f: Omit<FanOut, "status" | "errors" | "outcomes" | "finishedAt">,
): Promise<boolean> {
  return conditionalWrite(
    new PutCommand({
      TableName: tableName(),
      Item: {
        ...key(f.parentId),
        type: "fan-out",
        ...f,
        status: "RUNNING",
        errors: 0,
        outcomes: {},
        [TABLE_KEYS.gsi1.partitionKey]: RUNNING,
        [TABLE_KEYS.gsi1.sortKey]: `${f.createdAt}#${f.parentId}`,
      },
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
}

export async function find(parentId: string): Promise<FanOut | undefined> {
  const out = await db().send(
    new GetCommand({ TableName: tableName(), Key: key(parentId), ConsistentRead: true }),
  );
  if (!out.Item) return undefined;
  const { pk: _pk, sk: _sk, type: _t, gsi1pk: _g, gsi1sk: _s, expiresAt: _e, ...rest } = out.Item;
  return rest as FanOut;
}

/**
 * Records one location's outcome, once: true when this call recorded it (and counted it as an
 * error when `failed`), false when it was recorded already.
 */
export async function recordOutcome(
  parentId: string,
  index: number,
  outcome: Outcome,
  failed: boolean,
): Promise<boolean> {
  return conditionalWrite(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(parentId),
      UpdateExpression: "SET outcomes.#i = :o ADD #errors :n",
      ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(outcomes.#i)",
      ExpressionAttributeNames: { "#i": String(index), "#errors": "errors" },
      ExpressionAttributeValues: { ":o": outcome, ":n": failed ? 1 : 0 },
    }),
  );
}

/**
 * Takes a slot for location `index` of a RUNNING fan-out: true when taken, false when the
 * fan-out is not running, the location has an outcome, or every slot is taken. The slots are
 * `cap` = outcomes recorded + concurrency (the caller reads the outcomes; they only grow, so an
 * older count is only stricter): every location that takes one is in `started`, and every
 * outcome of a running fan-out is of a location in `started`, so the locations started and not
 * ended are never more than the concurrency — whoever invokes the fan-out function, and however
 * many at once (the set's size is checked and grown in one conditional write).
 */
export async function takeSlot(parentId: string, index: number, cap: number): Promise<boolean> {
  return conditionalWrite(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(parentId),
      UpdateExpression: "ADD #started :i",
      ConditionExpression:
        "#status = :running AND attribute_not_exists(outcomes.#index) AND (attribute_not_exists(#started) OR size(#started) < :cap)",
      ExpressionAttributeNames: { "#status": "status", "#started": "started", "#index": String(index) },
      ExpressionAttributeValues: { ":running": "RUNNING", ":i": new Set([index]), ":cap": cap },
    }),
  );
}

/** How long one settling of a fan-out holds it before another may try (one that died midway). */
export const FINISH_CLAIM_MS = 60_000;

/**
 * Takes the settling of a RUNNING fan-out for `FINISH_CLAIM_MS`: true for the one caller that
 * audits and marks it FINISHED; false when it is FINISHED, or another (the state machine's
 * Finish, a reconciler) holds it. Two finishing at once audited `locations.finished` twice.
 */
export async function claimFinish(parentId: string, now = Date.now()): Promise<boolean> {
  return conditionalWrite(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(parentId),
      UpdateExpression: "SET finishingUntil = :until",
      ConditionExpression:
        "attribute_exists(pk) AND #status = :running AND (attribute_not_exists(finishingUntil) OR finishingUntil < :now)",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":running": "RUNNING", ":now": now, ":until": now + FINISH_CLAIM_MS },
    }),
  );
}

/** Marks a fan-out FINISHED (it leaves the running list; TTL removes it later). */
export async function finish(parentId: string, now = new Date()): Promise<void> {
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(parentId),
      UpdateExpression:
        "SET #status = :done, finishedAt = :at, expiresAt = :ttl REMOVE gsi1pk, gsi1sk, finishingUntil",
      ConditionExpression: "attribute_exists(pk)",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":done": "FINISHED",
        ":at": now.toISOString(),
        ":ttl": Math.floor(now.getTime() / 1000) + KEEP_SECONDS,
      },
    }),
  );
}

/** The fan-outs still running, oldest first. */
export async function running(): Promise<FanOut[]> {
  const items = await queryAll({
    TableName: tableName(),
    IndexName: TABLE_KEYS.gsi1.indexName,
    KeyConditionExpression: "gsi1pk = :pk",
    ExpressionAttributeValues: { ":pk": RUNNING },
  });
  const found = await Promise.all(items.map((i) => find(String(i.parentId))));
  return found.filter((f): f is FanOut => f?.status === "RUNNING");
}
