/**
 * The append-only audit trail. Every decision (started, deduplicated, suppressed, denied)
 * and every step writes one entry with its reason. Entries are never updated or overwritten.
 *
 * One writer: a function records an entry ({@link record}) by handing it to the audit writer,
 * which alone may put `AUDIT#` rows. Deployed, the hand-over is the audit queue (SQS,
 * `REFLEX_AUDIT_QUEUE_URL`): the functions may only send to it, and the writer
 * (packages/functions/src/audit-writer.ts) stores each message with {@link store}, stamped with
 * who sent it as SQS reports it (`SenderId`: the sending role's id and session, which a sender
 * cannot choose) and when. Local mode runs the same writer handler in-process
 * ({@link useTransport}); elsewhere (core's own tests) {@link store} is called in-process.
 *
 * Layout: pk `AUDIT#<yyyy-mm-dd>` (a partition per day, so an event storm spreads over time
 * instead of heating one key forever), sk `<iso time>#<id>`, where the id is the queue's message
 * id (SQS's, locally a new UUID per message), never the sender's: no sender can name a key
 * another entry holds. Entries about an execution are also indexed on gsi1 under `EXEC#<id>`, so
 * `reflex show` reads them in one query.
 */
import { randomUUID } from "node:crypto";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
  BatchWriteCommand,
  type BatchWriteCommandOutput,
  PutCommand,
  QueryCommand,
} from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { client } from "../aws.ts";
import { batcher } from "../batch.ts";
import { EnvironmentError, must } from "../errors.ts";
import {
  conditionalWrite,
  db,
  decodeCursor,
  encodeCursor,
  LIST_READ_BUDGET,
  pageLimit,
  queryAll,
  TableKey,
} from "./db.ts";
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
  | "audit.malformed"
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
  /**
   * The entry's id in the trail: the id of the queue message that carried it to the writer (the
   * writer keys the row by it). A sender puts an id of its own in the body, which the writer does
   * not keep; {@link record} answers with the trail's id once the queue has given it.
   */
  id: string;
  /** When the decision was made, as its sender says. */
  at: string;
  /**
   * Who handed the entry to the audit writer, as the queue reports it, never as the entry says:
   * deployed, SQS's `SenderId` (`<role id>:<session>`, for a Lambda function its role's id and
   * the function's name); locally `LOCAL:<function name>`. Set by the writer.
   */
  sender?: string;
  /** When the audit writer's queue received it (SQS's `SentTimestamp`). Set by the writer. */
  receivedAt?: string;
}

/** How long audit entries are kept before TTL removes them (days), counted from when the writer received them. */
const RETENTION_DAYS = 400;

/**
 * Appends one entry to the audit trail: hands it to the audit writer, and resolves once the
 * writer's queue holds it (deployed; it is stored within seconds) or, locally, once it is stored.
 *
 * @example
 * await Audit.record({ kind: "event.suppressed", actor: "rule:web-cpu-high", reason: "cooldown until 10:42Z", guardrail: "cooldown" });
 */
export async function record(input: AuditInput, now = new Date()): Promise<AuditEntry> {
  const entry: AuditEntry = { ...input, id: randomUUID(), at: now.toISOString() };
  const id = await transport().send(entry);
  return id ? { ...entry, id } : entry;
}

/** How entries reach the audit writer. */
export interface Transport {
  /**
   * Resolves once the entry is in the writer's hands for good, with the id of the message that
   * carries it (the entry's id in the trail) when the transport knows it; rejects when it could
   * not be handed over.
   */
  send(entry: AuditEntry): Promise<string | undefined>;
}

let chosen: Transport | undefined;
let queued: { url: string; transport: Transport } | undefined;
let inProcess: Transport | undefined;

/** Sets how entries reach the writer (local mode's in-process queue); undefined goes back to the default. */
export function useTransport(next?: Transport): void {
  chosen = next;
}

/**
 * The audit queue when `REFLEX_AUDIT_QUEUE_URL` names one (every deployed function's
 * environment); in a Lambda function without it, an error (it could not write the trail: only
 * the writer may); elsewhere the writer's code in this process.
 */
function transport(): Transport {
  if (chosen) return chosen;
  const url = process.env.REFLEX_AUDIT_QUEUE_URL;
  if (url) {
    if (queued?.url !== url) queued = { url, transport: sqsTransport(url) };
    return queued.transport;
  }
  if (process.env.AWS_LAMBDA_FUNCTION_NAME && !process.env.REFLEX_LOCAL_MODE)
    throw new EnvironmentError(
      "environment variable REFLEX_AUDIT_QUEUE_URL is not set: a deployed function hands its audit entries to the audit writer's queue",
    );
  inProcess ??= {
    send: async (entry) => {
      const stored = await store({
        body: JSON.stringify(entry),
        sender: "LOCAL:in-process",
        sentAt: Date.now(),
        messageId: randomUUID(),
      });
      if (stored.status === "malformed") throw new Error(`audit: entry refused: ${stored.problem}`);
      return stored.id;
    },
  };
  return inProcess;
}

/**
 * How long a message the audit writer has received stays hidden from other receivers while it
 * is stored: the audit queue's visibility timeout (stacks/audit.ts), six times the writer's
 * 30 s Lambda timeout as AWS advises for an SQS event source.
 */
export const WRITER_VISIBILITY_SECONDS = 180;

/** SQS takes at most 10 messages a batch, and 256 KiB in all. */
const SQS_BATCH = 10;
const SQS_BATCH_BYTES = 256 * 1024;
/**
 * A batch waits this long for more entries: 10 ms more per audited decision, for far fewer
 * requests in a storm (measured with bench/alarm-storm when audit rows were batch-written).
 */
const AUDIT_BATCH_WAIT_MS = 10;

/**
 * Entries recorded in the same tick go out in one SendMessageBatch (up to 10), and each
 * caller's promise settles only when SQS has its entry, so "audited" means held by the queue
 * before anyone answers. Entries SQS did not take are sent again (a few times, then the
 * caller's record() rejects with SQS's reason).
 */
function sqsTransport(url: string): Transport {
  const sendBatch = async (entries: AuditEntry[]): Promise<Array<Error | string>> => {
    const results: Array<Error | string> = entries.map(
      () => new Error("audit: SQS did not answer for the entry"),
    );
    // Split by size: a few large entries (big params) can pass SQS's 256 KiB per request.
    const groups: number[][] = [[]];
    let bytes = 0;
    const bodies = entries.map((e) => JSON.stringify(e));
    for (const [i, body] of bodies.entries()) {
      const size = Buffer.byteLength(body);
      let group = groups[groups.length - 1];
      if (group.length > 0 && bytes + size > SQS_BATCH_BYTES) {
        group = [];
        groups.push(group);
        bytes = 0;
      }
      group.push(i);
      bytes += size;
    }
    await Promise.all(
      groups.map(async (group) => {
        let pending = group;
        for (let attempt = 0; pending.length > 0; attempt++) {
          if (attempt > 0) await new Promise((r) => setTimeout(r, 2 ** attempt * 20));
          const out = await client(SQSClient, "sqs").send(
            new SendMessageBatchCommand({
              QueueUrl: url,
              Entries: pending.map((i) => ({ Id: String(i), MessageBody: bodies[i] })),
            }),
          );
          for (const ok of out.Successful ?? []) results[Number(ok.Id)] = ok.MessageId ?? "";
          const failed = out.Failed ?? [];
          pending = [];
          for (const f of failed) {
            const i = Number(f.Id);
            if (f.SenderFault || attempt >= 4)
              results[i] = new Error(`audit: the audit queue refused an entry: ${f.Code} ${f.Message ?? ""}`);
            else pending.push(i);
          }
        }
      }),
    );
    return results;
  };
  const send = batcher<AuditEntry, Error | string>(SQS_BATCH, sendBatch, AUDIT_BATCH_WAIT_MS);
  return {
    send: async (entry) => {
      const out = await send(entry);
      if (out instanceof Error) throw out;
      return out || undefined;
    },
  };
}

/** One message the audit writer received: its body (an entry), and what the queue says about it. */
export interface Received {
  body: string;
  /** Who sent it, as the queue reports it (SQS `SenderId`). */
  sender: string;
  /** When the queue received it, ms since the epoch (SQS `SentTimestamp`). */
  sentAt: number;
  /**
   * The queue's id for the message: the same when the queue delivers it again, and never another
   * message's. The writer keys the entry's row by it, so only the same message can find its key
   * held.
   */
  messageId: string;
  /**
   * How many times the queue has delivered it (SQS `ApproximateReceiveCount`). Above 1 it may be
   * stored already (the writer died, or did not answer, after storing it): the writer then puts
   * it with a condition instead of in the batch. Absent: a first delivery.
   */
  receiveCount?: number;
}

const Text = (max: number) => z.string().min(1).max(max);
/** What an entry must look like to be stored as it says; anything else is stored as `audit.malformed`. */
const Entry = z.object({
  id: z.uuid(),
  at: z.iso.datetime(),
  kind: Text(200),
  actor: Text(2048),
  identity: Text(2048).optional(),
  reason: z.string().max(16_384),
  executionId: Text(256).optional(),
  runbook: Text(256).optional(),
  eventId: Text(512).optional(),
  guardrail: Text(256).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});

/** A received message made ready to store: its entry (or the malformed one standing for it) and its row. */
interface Prepared {
  message: Received;
  entry: AuditEntry;
  parsed: boolean;
  problem?: string;
  row: Record<string, unknown>;
}

function prepare(message: Received): Prepared {
  let parsed: z.infer<typeof Entry> | undefined;
  let problem: string | undefined;
  try {
    const result = Entry.safeParse(JSON.parse(message.body));
    if (result.success) parsed = result.data;
    else
      problem = result.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join(".") || "entry"}: ${i.message}`)
        .join("; ");
  } catch (e) {
    problem = `not JSON: ${(e as Error).message}`;
  }
  const receivedAt = new Date(message.sentAt).toISOString();
  const entry: AuditEntry = parsed ?? {
    id: message.messageId,
    at: receivedAt,
    kind: "audit.malformed",
    actor: "audit-writer",
    reason: `an entry handed to the audit writer by ${message.sender} is not an audit entry (${problem}); stored as received`,
    data: { body: message.body.slice(0, 4096) },
  };
  const { partitionKey, sortKey, gsi1, ttlAttribute } = TABLE_KEYS;
  // The message's id is the entry's: the sender's own id is not kept, so a message delivered
  // again makes the same row, and no two messages make the same key.
  const id = message.messageId;
  const row = {
    [partitionKey]: `AUDIT#${entry.at.slice(0, 10)}`,
    [sortKey]: `${entry.at}#${id}`,
    ...(entry.executionId
      ? { [gsi1.partitionKey]: `EXEC#${entry.executionId}`, [gsi1.sortKey]: `AUDIT#${entry.at}#${id}` }
      : {}),
    [ttlAttribute]: Math.floor(message.sentAt / 1000) + RETENTION_DAYS * 86_400,
    type: "audit",
    ...entry,
    id,
    sender: message.sender,
    receivedAt,
  };
  return { message, entry: { ...entry, id }, parsed: parsed !== undefined, problem, row };
}

export interface Stored {
  status: "stored" | "malformed";
  id: string;
  problem?: string;
}

/**
 * The audit writer's one job: stores one received entry as a new row, never over another.
 * The writer makes every key itself — the day partition and sort key from the entry's time and
 * the queue's message id, the execution index from its execution, the expiry from when the queue
 * received it — and adds who sent it and when ({@link AuditEntry.sender},
 * {@link AuditEntry.receivedAt}), which the entry cannot say. The put is conditional
 * (`attribute_not_exists`): the key names the message, so a key already held is this message's
 * own row (delivered again) and the entry is stored. A body that is not an entry is stored as an
 * `audit.malformed` entry naming its sender, so nothing handed to the writer is dropped.
 */
export async function store(message: Received): Promise<Stored> {
  return storeOne(prepare(message));
}

function storedAs(p: Prepared): Stored {
  return { status: p.parsed ? "stored" : "malformed", id: p.entry.id, problem: p.problem };
}

async function storeOne(p: Prepared): Promise<Stored> {
  // Refused: the message's own row is there (no other message makes its key), left as it is.
  await conditionalWrite(
    new PutCommand({
      TableName: tableName(),
      Item: p.row,
      ConditionExpression: "attribute_not_exists(#pk)",
      ExpressionAttributeNames: { "#pk": TABLE_KEYS.partitionKey },
    }),
  );
  return storedAs(p);
}

/** BatchWriteItem takes at most 25 puts a request. */
const WRITE_BATCH = 25;
/** Sends of the items a BatchWriteItem left unprocessed (throttled) before those entries fail. */
const UNPROCESSED_ATTEMPTS = 6;
const UNPROCESSED_BASE_MS = 25;

/**
 * Stores a batch of received entries (the writer's SQS batch) as {@link store} stores each —
 * the same rows, never one over another's — in one BatchWriteItem (up to 25 puts) for the whole
 * batch instead of a request per entry. No key needs reading first: a row's key holds its
 * message's id, which no other message has, so a first delivery's key is free. A message the
 * queue delivers again (`receiveCount` above 1) may have its row already; it takes
 * {@link store}'s conditional put, which leaves that row as it is. (Were a message delivered
 * twice with a count of 1, as SQS's at-least-once delivery allows, its put would write the same
 * row again with the same content: every attribute comes from the message.) A message twice in
 * one batch is stored once, and an entry alone takes the conditional put (one request either
 * way). Puts DynamoDB leaves unprocessed (throttling) are sent again with
 * backoff; what is still unprocessed after that is that entry's error, so the writer reports it
 * and the queue delivers it again. Each result is the entry's, in order; an entry is stored
 * before its result is given.
 */
export async function storeAll(messages: Received[]): Promise<Array<Stored | Error>> {
  const prepared = messages.map(prepare);
  const results: Array<Stored | Error | undefined> = prepared.map(() => undefined);
  const { partitionKey, sortKey } = TABLE_KEYS;
  const keyOf = (item: Record<string, unknown>) => `${item[partitionKey]}\n${item[sortKey]}`;
  // The same message twice in a batch: stored once, both answered alike.
  const firstOf = new Map<string, number>();
  const again: number[] = [];
  const fresh: number[] = [];
  for (const [i, p] of prepared.entries()) {
    const k = keyOf(p.row);
    if (firstOf.has(k)) continue;
    firstOf.set(k, i);
    if ((p.message.receiveCount ?? 1) > 1) again.push(i);
    else fresh.push(i);
  }
  // One alone takes the conditional put: as few requests, and no unconditional one.
  if (fresh.length === 1) again.push(...fresh.splice(0));
  const writeFresh = chunks(fresh, WRITE_BATCH).map(async (chunk) => {
    let pending = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= UNPROCESSED_ATTEMPTS) {
        for (const i of pending)
          results[i] = new Error(
            `audit: the store left the entry unprocessed ${UNPROCESSED_ATTEMPTS} times (throttled)`,
          );
        return;
      }
      if (attempt > 0) await backoff(attempt);
      let out: BatchWriteCommandOutput;
      try {
        out = await db().send(
          new BatchWriteCommand({
            RequestItems: { [tableName()]: pending.map((i) => ({ PutRequest: { Item: prepared[i].row } })) },
          }),
        );
      } catch (err) {
        for (const i of pending) results[i] = err as Error;
        return;
      }
      const left = new Set(
        (out.UnprocessedItems?.[tableName()] ?? []).map((r) => keyOf(r.PutRequest?.Item ?? {})),
      );
      for (const i of pending) if (!left.has(keyOf(prepared[i].row))) results[i] = storedAs(prepared[i]);
      pending = pending.filter((i) => left.has(keyOf(prepared[i].row)));
    }
  });
  const putAgain = again.map(async (i) => {
    try {
      results[i] = await storeOne(prepared[i]);
    } catch (err) {
      results[i] = err as Error;
    }
  });
  await Promise.all([...writeFresh, ...putAgain]);
  return prepared.map(
    (p, i) => results[firstOf.get(keyOf(p.row)) ?? i] ?? new Error("audit: the entry was not stored"),
  );
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Exponential backoff with full jitter, as AWS advises for unprocessed batch items. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * UNPROCESSED_BASE_MS * 2 ** attempt;
  return new Promise((r) => setTimeout(r, ms));
}

function strip(item: Record<string, unknown>): AuditEntry {
  const { pk, sk, gsi1pk, gsi1sk, expiresAt, type, messageId, ...entry } = item;
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
/**
 * How far ahead of the reader's clock a sender's may be (the entry's `at` is the sender's): the
 * walk starts at the day of that instant, so an entry stamped just past UTC midnight by a clock
 * ahead of the reader's is listed (it costs one more read in a day's last 5 minutes).
 */
const CLOCK_AHEAD_MS = 5 * 60_000;

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

export { LIST_READ_BUDGET };

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
  let day =
    start?.day ?? new Date((opts.now ?? new Date()).getTime() + CLOCK_AHEAD_MS).toISOString().slice(0, 10);
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
        Limit: pageLimit(filtered, limit - entries.length, read),
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
