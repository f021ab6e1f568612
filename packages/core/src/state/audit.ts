/**
 * The append-only audit trail. Every decision (started, deduplicated, suppressed, denied)
 * and every step writes one entry with its reason. Entries are never updated or overwritten:
 * each key is new (time + UUID).
 *
 * Layout: pk `AUDIT#<yyyy-mm-dd>` (a partition per day, so an event storm spreads over time
 * instead of heating one key forever), sk `<iso time>#<id>`. Entries about an execution are
 * also indexed on gsi1 under `EXEC#<id>`, so `reflex show` reads them in one query.
 */
import { randomUUID } from "node:crypto";
import { BatchWriteCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { batcher } from "../batch.ts";
import { must } from "../errors.ts";
import { db, decodeCursor, encodeCursor, queryAll, TableKey } from "./db.ts";
import { TABLE_KEYS, tableName } from "./table.ts";

export type AuditKind =
  | "execution.started"
  | "execution.succeeded"
  | "execution.failed"
  | "execution.aborted"
  | "execution.rejected"
  | "step.succeeded"
  | "step.failed"
  | "event.started"
  | "event.duplicate"
  | "event.suppressed"
  | "event.no-match"
  | "event.rejected"
  | "lock.acquired"
  | "lock.released"
  | "guardrail.changed"
  | "schedule.fired"
  | (string & {});

export interface AuditInput {
  kind: AuditKind;
  /** Who or what caused it: `schedule:nightly-backup`, `cli`, `rule:web-cpu-high`, `slack:U123`. */
  actor: string;
  /** What the actor arrived as, when `actor` does not say it: the identity a person (`people:`) acted as, or a role session's full ARN. */
  identity?: string;
  /** Why, in words an on-call engineer can act on. */
  reason: string;
  executionId?: string;
  runbook?: string;
  eventId?: string;
  /** The guardrail that decided, when one did. */
  guardrail?: string;
  data?: Record<string, unknown>;
}

export interface AuditEntry extends AuditInput {
  id: string;
  at: string;
}

/** How long audit entries are kept before TTL removes them (days). */
const RETENTION_DAYS = 400;

/**
 * Appends one entry to the audit trail.
 *
 * @example
 * await Audit.record({ kind: "event.suppressed", actor: "rule:web-cpu-high", reason: "cooldown until 10:42Z", guardrail: "cooldown" });
 */
export async function record(input: AuditInput, now = new Date()): Promise<AuditEntry> {
  const at = now.toISOString();
  const id = randomUUID();
  const entry: AuditEntry = { ...input, id, at };
  const { partitionKey, sortKey, gsi1, ttlAttribute } = TABLE_KEYS;
  await write({
    [partitionKey]: `AUDIT#${at.slice(0, 10)}`,
    [sortKey]: `${at}#${id}`,
    ...(input.executionId
      ? { [gsi1.partitionKey]: `EXEC#${input.executionId}`, [gsi1.sortKey]: `AUDIT#${at}#${id}` }
      : {}),
    [ttlAttribute]: Math.floor(now.getTime() / 1000) + RETENTION_DAYS * 86_400,
    type: "audit",
    ...entry,
  });
  return entry;
}

/*
 * Writes are grouped: entries recorded in the same tick go out in one BatchWriteItem (up to 25),
 * and each caller's promise settles only when its entry is stored, so "audited" still means
 * "written" before anyone answers. In an event storm this turns thousands of audit writes into
 * a few hundred requests. Keys are new (time + UUID), so the batch (which takes no conditions)
 * can never overwrite an entry: the trail stays append-only.
 */
/**
 * A batch waits this long for more entries: 10 ms more per audited decision, for about a third
 * of the requests in a storm (measured with bench/alarm-storm: ratio 0.38 → 0.45).
 */
const AUDIT_BATCH_WAIT_MS = 10;
const write = batcher<Record<string, unknown>, void>(
  25,
  async (items) => {
    let requests = items.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 8) throw new Error(`audit: ${requests.length} entries still unprocessed after retries`);
      if (attempt > 0) await new Promise((r) => setTimeout(r, 2 ** attempt * 10));
      const out = await db().send(new BatchWriteCommand({ RequestItems: { [tableName()]: requests } }));
      requests = (out.UnprocessedItems?.[tableName()] ?? []) as typeof requests;
    }
    return items.map(() => undefined);
  },
  AUDIT_BATCH_WAIT_MS,
);

function strip(item: Record<string, unknown>): AuditEntry {
  const { pk, sk, gsi1pk, gsi1sk, expiresAt, type, ...entry } = item;
  return entry as unknown as AuditEntry;
}

/** The audit entries about one execution, oldest first. */
export async function forExecution(executionId: string): Promise<AuditEntry[]> {
  const out = (
    await queryAll({
      TableName: tableName(),
      IndexName: TABLE_KEYS.gsi1.indexName,
      KeyConditionExpression: "gsi1pk = :pk AND begins_with(gsi1sk, :audit)",
      ExpressionAttributeValues: { ":pk": `EXEC#${executionId}`, ":audit": "AUDIT#" },
    })
  ).map(strip);
  return out;
}

/** A day of the trail (a partition), `yyyy-mm-dd`, that is a real date. */
const Day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a day as yyyy-mm-dd")
  .refine(
    (d) => {
      const t = new Date(`${d}T00:00:00Z`);
      return !Number.isNaN(t.getTime()) && t.toISOString().startsWith(d);
    },
    { message: "must be a real date" },
  );

/** Where the next page starts: the day, and the key within it when the day was not finished. */
const AuditCursor = z
  .object({ day: Day, key: TableKey.optional() })
  .strict()
  .refine((c) => !c.key || c.key.pk === `AUDIT#${c.day}`, { message: "key is not in that day" });
type AuditCursor = z.infer<typeof AuditCursor>;

/** Days with no entries that a page walks back over before it concludes the trail has ended. */
const EMPTY_DAYS_BEFORE_END = 31;

export interface ListOptions {
  /** Most entries in a page, 1-500 (default 50). */
  limit?: number;
  /** The `next` of the previous page (same filters). */
  cursor?: string;
  /** Only entries about this execution. */
  execution?: string;
  /** Only entries by this actor (exactly, e.g. `cli:alice`, `rule:web-cpu-high`), or by a person acting as this identity. */
  actor?: string;
  /** Only entries of this kind (exactly, e.g. `execution.started`). */
  kind?: string;
  /** Only entries at or after this instant (ms since the epoch): the walk stops there. */
  since?: number;
  now?: Date;
}

/** Entries a filtered page reads at most before it answers with what it has. */
export const LIST_READ_BUDGET = 2000;

/**
 * The audit trail newest first, a page at a time. `cursor` is the `next` of the previous page.
 * Filters are applied in the query (`since` bounds the days walked and the sort key; the others
 * filter what is read). A filtered page reads on until it holds `limit` entries, the trail
 * ends, or {@link LIST_READ_BUDGET} entries were read, so a page may be short (even empty) and
 * still have a `next`; the trail has ended only when there is no `next`.
 *
 * @example
 * const { entries, next } = await Audit.list({ limit: 50, kind: "execution.started" });
 */
export async function list(opts: ListOptions = {}): Promise<{ entries: AuditEntry[]; next?: string }> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  const start = decodeCursor(opts.cursor, AuditCursor);
  const since = opts.since === undefined ? undefined : new Date(opts.since).toISOString();
  const sinceDay = since?.slice(0, 10);
  const filters: string[] = [];
  const values: Record<string, unknown> = {};
  const names: Record<string, string> = {};
  for (const [field, value] of [
    ["executionId", opts.execution],
    ["actor", opts.actor],
    ["kind", opts.kind],
  ] as const) {
    if (value === undefined) continue;
    names[`#${field}`] = field;
    values[`:${field}`] = value;
    // An actor is a person's name or the identity they acted as: either finds the entry.
    if (field === "actor") {
      names["#identity"] = "identity";
      filters.push("(#actor = :actor OR #identity = :actor)");
    } else filters.push(`#${field} = :${field}`);
  }
  const filtered = filters.length > 0;
  let day = start?.day ?? (opts.now ?? new Date()).toISOString().slice(0, 10);
  let key: Record<string, unknown> | undefined = start?.key;
  // A cursor from before `since` (a listing with other filters) is past the end.
  if (since && (day < must(sinceDay, "sinceDay") || (key && String(key.sk) < since))) return { entries: [] };
  const entries: AuditEntry[] = [];
  let emptyDays = 0;
  let read = 0;
  while (entries.length < limit && emptyDays < EMPTY_DAYS_BEFORE_END && read < LIST_READ_BUDGET) {
    if (sinceDay && day < sinceDay) return { entries };
    const bounded = since !== undefined && day === sinceDay;
    const page = await db().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: bounded ? "pk = :pk AND sk >= :since" : "pk = :pk",
        ExpressionAttributeValues: {
          ":pk": `AUDIT#${day}`,
          ...(bounded ? { ":since": since } : {}),
          ...values,
        },
        ...(filtered ? { FilterExpression: filters.join(" AND "), ExpressionAttributeNames: names } : {}),
        ScanIndexForward: false,
        Limit: filtered
          ? Math.min(Math.max(limit - entries.length, 100), LIST_READ_BUDGET - read)
          : limit - entries.length,
        ExclusiveStartKey: key,
      }),
    );
    read += page.ScannedCount ?? 0;
    const items = page.Items ?? [];
    const room = limit - entries.length;
    if (items.length > room) {
      // More matched than the page holds: it ends at the last one it returns.
      const last = items[room - 1];
      for (const item of items.slice(0, room)) entries.push(strip(item));
      return {
        entries,
        next: encodeCursor({ day, key: { pk: last.pk, sk: last.sk } } satisfies AuditCursor),
      };
    }
    for (const item of items) entries.push(strip(item));
    if (page.LastEvaluatedKey) {
      key = page.LastEvaluatedKey;
      if (entries.length >= limit || read >= LIST_READ_BUDGET)
        return { entries, next: encodeCursor({ day, key: { pk: key.pk, sk: key.sk } } as AuditCursor) };
      continue;
    }
    emptyDays = (page.ScannedCount ?? 0) > 0 ? 0 : emptyDays + 1;
    key = undefined;
    day = previousDay(day);
  }
  const more = entries.length >= limit || read >= LIST_READ_BUDGET;
  return {
    entries,
    next: more && !(sinceDay && day < sinceDay) ? encodeCursor({ day } satisfies AuditCursor) : undefined,
  };
}

function previousDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}
