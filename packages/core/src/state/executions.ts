/**
 * Execution records: one item per run (pk `EXEC#<id>`, sk `META`), one item per step
 * invocation (sk `STEP#<started>#<state>#<n>`), listed newest first through gsi1
 * (`EXECUTIONS`, `<started>#<id>`). A record is closed exactly once when its run ends
 * (conditional on still being RUNNING), so redelivered status events cannot rewrite history.
 *
 * Crash safety: a start writes the record first, as `STARTING` and unlisted (no gsi1 keys),
 * naming the locks it is about to take; only then takes them; then promotes the record to
 * `RUNNING` and lists it, in one conditional update. So a lock's holder always has a record
 * (the reconciler frees locks whose holder is missing, STARTING for too long, or ended), and
 * a process that dies before the promotion leaves nothing listed.
 *
 * What is running now has a listing of its own whose cost does not grow with history: one small
 * item per started run under pk {@link ACTIVE_PK} (sk `<startedAt>#<id>`), written before the
 * promotion and deleted when the run closes. A crash between the two writes leaves a marker
 * behind, never a running run without one; {@link active} reads each marked record back and
 * tidies markers whose run has ended or is gone. A re-run is linked from the run it repeats
 * (sk `RERUN#<startedAt>#<id>` in that run's partition), so {@link describe} reads it in the
 * same query as the steps.
 */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ConflictError, NotFoundError } from "../errors.ts";
import * as Audit from "./audit.ts";
import {
  conditionalWrite,
  db,
  decodeCursor,
  encodeCursor,
  isConditionFailure,
  LIST_READ_BUDGET,
  pageLimit,
  queryAll,
} from "./db.ts";
import { TABLE_KEYS, tableName } from "./table.ts";

export type ExecutionStatus =
  | "STARTING"
  | "RUNNING"
  | "WAITING_FOR_APPROVAL"
  | "SUCCEEDED"
  | "FAILED"
  | "ABORTED"
  | "TIMED_OUT";
/** A run that has started and not ended (it may be waiting for a person). */
export const ACTIVE: readonly ExecutionStatus[] = ["RUNNING", "WAITING_FOR_APPROVAL"];
export const TERMINAL: readonly ExecutionStatus[] = ["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"];

/** How much of an alarm's reason a run record keeps (CloudWatch allows 1,023 characters). */
export const MAX_ALARM_REASON_CHARS = 500;

export interface TriggerAlarm {
  name: string;
  state: string;
  reason?: string;
}

export interface Trigger {
  kind: "manual" | "schedule" | "window" | "rule" | "chatops" | "rerun";
  /** The schedule, rule or user that started it. */
  name?: string;
  actor: string;
  eventId?: string;
  /**
   * An alarm's transition started it (through a rule): the alarm, the state it entered and
   * CloudWatch's reason text (`detail.state.reason`, cut to {@link MAX_ALARM_REASON_CHARS}), so
   * the console and the CLI can say why without fetching the event.
   */
  alarm?: TriggerAlarm;
  /** A re-run: the run it repeats. */
  rerunOf?: string;
  /** A person started it during a freeze / while paused, with this reason (audited). */
  overrideFreeze?: string;
  overridePause?: string;
}

export interface Execution {
  id: string;
  runbook: string;
  status: ExecutionStatus;
  dryRun: boolean;
  params: Record<string, unknown>;
  trigger: Trigger;
  startedAt: string;
  endedAt?: string;
  /** What the run reports (per-target results, the plan in a dry-run), written by its steps. */
  result?: Record<string, unknown>;
  error?: string;
  cause?: string;
  /** What admission decided about approval (the approval state reads it from the input). */
  approval?: ApprovalPlan;
  /** Set when a person asked the run to stop (graceful abort): steps check it between targets. */
  cancel?: { by: string; reason: string; at: string };
  /** Window bounds, when a maintenance window started the run. */
  window?: { name: string; endsAt: string; cutoffAt: string };
  /**
   * The member account and Region the run acts in (one child run per location): its cloud
   * calls use that account's role, and its locks are keyed `account/region/resource`.
   */
  location?: { account: string; region: string };
  /** Lock keys held for this run (or about to be taken), released when it ends. */
  locks?: string[];
  /**
   * Set when the run ended in a way a person must look at: it was lost (Step Functions never
   * heard of it, or local mode restarted under it), with the steps it had completed.
   */
  attention?: { reason: string; completedSteps: string[]; inFlightSteps: string[]; report?: unknown };
}

/** Whether a run must wait for a person, and on what terms (decided at admission). */
export interface ApprovalPlan {
  required: boolean;
  reasons: string[];
  approvers: string[];
  minApprovers: number;
  deadlineSeconds: number;
  selfApproval: boolean;
  requestedBy: string;
}

export interface StepRecord {
  state: string;
  step: string;
  status: "RUNNING" | "SUCCEEDED" | "FAILED";
  target?: string;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  output?: unknown;
  error?: string;
  cause?: string;
}

const key = (id: string) => ({ pk: `EXEC#${id}`, sk: "META" });

/**
 * The partition of running-run markers. `~` is not in an execution id (`A-Za-z0-9_-`), so it
 * cannot be a run's own partition; it keeps the `EXEC#` prefix the roles that start and close
 * runs may already write.
 */
export const ACTIVE_PK = "EXEC#~ACTIVE";
const activeKey = (id: string, startedAt: string) => ({ pk: ACTIVE_PK, sk: `${startedAt}#${id}` });

/** Marks a run as started, before its record says RUNNING (see {@link active}). */
async function markActive(id: string, startedAt: string): Promise<void> {
  await db().send(
    new PutCommand({ TableName: tableName(), Item: { ...activeKey(id, startedAt), type: "active", id } }),
  );
}

async function unmarkActive(id: string, startedAt: string): Promise<void> {
  await db().send(new DeleteCommand({ TableName: tableName(), Key: activeKey(id, startedAt) }));
}

/**
 * How long a running-run marker (or a lock) may stand without its run's record before it is
 * taken for a start that died: a start writes its locks and its marker before the record (see
 * {@link createRunning}), and gives up itself when that takes longer than a minute
 * (`Runs.start`). The reconciler's own cutoff (10 minutes) is of the same kind.
 */
export const START_UNDER_WAY_MS = 10 * 60_000;

/**
 * Writes the record of a run that starts now, RUNNING and listed, in one conditional write,
 * after its running marker. For a start that already holds its locks (`Runs.start` takes them
 * first, naming the execution id): the record is the last of its writes before StartExecution,
 * so no promotion is needed. A crash between the marker and the record leaves a marker without
 * a record (skipped by {@link active} while the start may be under way, tidied after) and locks
 * without a record (the reconciler frees them once older than its cutoff).
 * ConflictError `execution_exists` when the id is taken (the marker is then left for
 * {@link active} to tidy, or for the caller to remove).
 */
export async function createRunning(
  input: Omit<Execution, "status" | "startedAt">,
  now = new Date(),
  beforeRecord?: () => void,
): Promise<Execution> {
  await markActive(input.id, now.toISOString());
  beforeRecord?.();
  return putNew(input, "RUNNING", now, { marked: true });
}

/** Removes a marker this start wrote for a record that turned out to be another start's. */
export async function unmark(id: string, startedAt: string): Promise<void> {
  await unmarkActive(id, startedAt);
}

/**
 * Writes the record of a run about to start, as STARTING and unlisted, naming the locks it
 * will take. ConflictError `execution_exists` when the id is taken. (Starts through admission
 * write their record RUNNING at once, {@link createRunning}; STARTING records are what earlier
 * versions left, which {@link promote} and the reconciler still finish or clean up.)
 */
export async function createStarting(
  input: Omit<Execution, "status" | "startedAt">,
  now = new Date(),
): Promise<Execution> {
  return putNew(input, "STARTING", now);
}

/** Writes a new record; STARTING ones are unlisted and expire, RUNNING ones are listed. */
async function putNew(
  input: Omit<Execution, "status" | "startedAt">,
  status: "STARTING" | "RUNNING",
  now: Date,
  opts: { marked?: boolean } = {},
): Promise<Execution> {
  const execution: Execution = { result: {}, ...input, status, startedAt: now.toISOString() };
  const made = await conditionalWrite(
    new PutCommand({
      TableName: tableName(),
      Item: {
        ...key(input.id),
        type: "execution",
        ...execution,
        ...(status === "RUNNING"
          ? {
              [TABLE_KEYS.gsi1.partitionKey]: "EXECUTIONS",
              [TABLE_KEYS.gsi1.sortKey]: `${execution.startedAt}#${input.id}`,
            }
          : // A start that died before its promotion leaves this behind, unlisted; TTL tidies it.
            { expiresAt: Math.floor(now.getTime() / 1000) + 7 * 86_400 }),
      },
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
  if (!made) throw new ConflictError("execution_exists", `execution '${input.id}' already exists`);
  // create(): one write for callers without locks, a crash before the marker leaves this run
  // out of `active()`. Starts through admission go through createRunning(), which marks first.
  // A re-run is linked once it is listed: a crash before the link loses only the link.
  if (status === "RUNNING" && !opts.marked) await markActive(input.id, execution.startedAt);
  if (status === "RUNNING" && opts.marked && input.trigger?.rerunOf)
    await linkRerun(input.trigger.rerunOf, execution);
  return execution;
}

/**
 * Promotes a STARTING record to RUNNING and lists it (one conditional update). Returns the
 * record, or undefined when it is no longer STARTING (another delivery promoted it first).
 */
export async function promote(id: string, now = new Date()): Promise<Execution | undefined> {
  // The marker first: a crash after it leaves a marker whose record is STARTING (skipped, and
  // tidied once the record is gone), never a RUNNING record that `active()` cannot see.
  await markActive(id, now.toISOString());
  let promoted: Execution;
  try {
    const out = await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: key(id),
        UpdateExpression:
          "SET #status = :running, startedAt = :at, gsi1pk = :list, gsi1sk = :sort REMOVE expiresAt",
        ConditionExpression: "#status = :starting",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":running": "RUNNING",
          ":starting": "STARTING",
          ":at": now.toISOString(),
          ":list": "EXECUTIONS",
          ":sort": `${now.toISOString()}#${id}`,
        },
        ReturnValues: "ALL_NEW",
      }),
    );
    promoted = strip<Execution>(out.Attributes ?? {});
  } catch (err) {
    if (isConditionFailure(err)) return undefined;
    throw err;
  }
  const of = promoted.trigger?.rerunOf;
  if (of) await linkRerun(of, promoted);
  return promoted;
}

/**
 * Links a re-run from the run it repeats, so that run's page lists it without reading the
 * history. After the promotion: a crash before it loses only the link, never names a run that
 * did not start.
 */
async function linkRerun(of: string, rerun: Pick<Execution, "id" | "startedAt">): Promise<void> {
  await db().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        pk: `EXEC#${of}`,
        sk: `RERUN#${rerun.startedAt}#${rerun.id}`,
        type: "rerun",
        id: rerun.id,
        startedAt: rerun.startedAt,
      },
    }),
  );
}

/** Deletes a record that never got past STARTING (its start was refused or abandoned). */
export async function discard(id: string): Promise<boolean> {
  return conditionalWrite(
    new DeleteCommand({
      TableName: tableName(),
      Key: key(id),
      ConditionExpression: "#status = :starting",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":starting": "STARTING" },
    }),
  );
}

/**
 * Names more locks on a running run's record — before they are taken, so that a lock's
 * holder always lists it and closing the run releases it.
 */
export async function addLocks(id: string, locks: string[]): Promise<void> {
  if (locks.length === 0) return;
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(id),
      UpdateExpression: "SET #locks = list_append(if_not_exists(#locks, :empty), :locks)",
      ConditionExpression: "#status = :running",
      ExpressionAttributeNames: { "#status": "status", "#locks": "locks" },
      ExpressionAttributeValues: { ":empty": [], ":locks": locks, ":running": "RUNNING" },
    }),
  );
}

/**
 * Creates a RUNNING, listed record in one write (for callers that take no locks before the
 * record exists, e.g. tests). Fails with ConflictError if the id is taken.
 */
export async function create(
  input: Omit<Execution, "status" | "startedAt">,
  now = new Date(),
): Promise<Execution> {
  return putNew(input, "RUNNING", now);
}

function strip<T>(item: Record<string, unknown>): T {
  const { pk, sk, gsi1pk, gsi1sk, type, expiresAt, ...rest } = item;
  return rest as T;
}

/** One execution's record, or undefined. */
export async function find(id: string): Promise<Execution | undefined> {
  const out = await db().send(new GetCommand({ TableName: tableName(), Key: key(id), ConsistentRead: true }));
  return out.Item ? strip<Execution>(out.Item) : undefined;
}

/** One execution's record; NotFoundError when there is none. */
export async function get(id: string): Promise<Execution> {
  const found = await find(id);
  if (!found) throw new NotFoundError("execution", id);
  return found;
}

/** An execution with its steps (in order), its audit entries and the ids of the runs that repeated it (oldest first). */
export async function describe(
  id: string,
): Promise<Execution & { steps: StepRecord[]; audit: Audit.AuditEntry[]; reruns: string[] }> {
  const items = await queryAll({
    TableName: tableName(),
    KeyConditionExpression: "pk = :pk",
    ExpressionAttributeValues: { ":pk": `EXEC#${id}` },
    ConsistentRead: true,
  });
  const meta = items.find((i) => i.sk === "META");
  if (!meta) throw new NotFoundError("execution", id);
  const steps = items.filter((i) => String(i.sk).startsWith("STEP#")).map((i) => strip<StepRecord>(i));
  const reruns = items.filter((i) => String(i.sk).startsWith("RERUN#")).map((i) => String(i.id));
  return { ...strip<Execution>(meta), steps, audit: await Audit.forExecution(id), reruns };
}

/** Every status a listed execution can have (STARTING records are unlisted). */
export const STATUSES: readonly ExecutionStatus[] = [
  "STARTING",
  "RUNNING",
  "WAITING_FOR_APPROVAL",
  ...TERMINAL,
];

export interface ListOptions {
  /** Most executions in a page, 1-500 (default 50). */
  limit?: number;
  /** The `next` of the previous page (same filters). */
  cursor?: string;
  /** Only this runbook's executions. */
  runbook?: string;
  /** Only executions in one of these statuses. */
  status?: readonly ExecutionStatus[];
  /** Only executions started at or after this instant (ms since the epoch). */
  since?: number;
}

export { LIST_READ_BUDGET };

/**
 * Executions newest first, a page at a time. Filters are applied in the query: `since` bounds
 * the index's sort key (`<startedAt>#<id>`), so the walk stops at it; `runbook` and `status`
 * filter what is read. A filtered page reads further index pages until it holds `limit`
 * executions, the listing ends, or {@link LIST_READ_BUDGET} items were read; so a page may be
 * short (even empty) and still have a `next`. The listing has ended only when there is no
 * `next`. `next` is the index key of the last item the page covered: following it with the same
 * filters continues exactly after it, never skipping or repeating an execution.
 *
 * @example
 * const { executions, next } = await Executions.list({ status: ["FAILED"], since: Date.now() - 86_400_000 });
 */
export async function list(opts: ListOptions = {}): Promise<{ executions: Execution[]; next?: string }> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  const filters: string[] = [];
  const values: Record<string, unknown> = { ":pk": "EXECUTIONS" };
  const names: Record<string, string> = {};
  if (opts.runbook !== undefined) {
    filters.push("runbook = :runbook");
    values[":runbook"] = opts.runbook;
  }
  if (opts.status?.length) {
    names["#status"] = "status";
    const keys = opts.status.map((st, i) => {
      values[`:status${i}`] = st;
      return `:status${i}`;
    });
    filters.push(`#status IN (${keys.join(", ")})`);
  }
  let keyCondition = "gsi1pk = :pk";
  if (opts.since !== undefined) {
    keyCondition += " AND gsi1sk >= :since";
    values[":since"] = new Date(opts.since).toISOString();
  }
  const filtered = filters.length > 0;
  const executions: Execution[] = [];
  let start: Record<string, unknown> | undefined = decodeCursor(opts.cursor);
  // A cursor older than `since` (from a listing with other filters) is past the end: DynamoDB
  // would refuse a start key outside the key condition.
  if (
    start?.gsi1sk !== undefined &&
    values[":since"] !== undefined &&
    String(start.gsi1sk) < String(values[":since"])
  )
    return { executions: [] };
  let read = 0;
  do {
    const page = await db().send(
      new QueryCommand({
        TableName: tableName(),
        IndexName: TABLE_KEYS.gsi1.indexName,
        KeyConditionExpression: keyCondition,
        ExpressionAttributeValues: values,
        ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
        ...(filtered ? { FilterExpression: filters.join(" AND ") } : {}),
        ScanIndexForward: false,
        Limit: pageLimit(filtered, limit - executions.length, read),
        ExclusiveStartKey: start,
      }),
    );
    read += page.ScannedCount ?? 0;
    const items = page.Items ?? [];
    const room = limit - executions.length;
    if (items.length > room) {
      // More matched than the page holds: it ends at the last one it returns.
      const last = items[room - 1];
      executions.push(...items.slice(0, room).map((i) => strip<Execution>(i)));
      return { executions, next: encodeCursor(indexKeyOf(last)) };
    }
    executions.push(...items.map((i) => strip<Execution>(i)));
    start = page.LastEvaluatedKey;
  } while (start && executions.length < limit && read < LIST_READ_BUDGET);
  return { executions, next: start ? encodeCursor(start) : undefined };
}

/** The index key of a listed execution, as DynamoDB's LastEvaluatedKey would give it. */
function indexKeyOf(item: Record<string, unknown>): Record<string, unknown> {
  const { partitionKey, sortKey, gsi1 } = TABLE_KEYS;
  return {
    [partitionKey]: item[partitionKey],
    [sortKey]: item[sortKey],
    [gsi1.partitionKey]: item[gsi1.partitionKey],
    [gsi1.sortKey]: item[gsi1.sortKey],
  };
}

/** The sort key of a step record. */
export function stepKey(step: Pick<StepRecord, "state" | "target">, startedAt: Date): string {
  return `STEP#${startedAt.toISOString()}#${step.state}#${step.target ?? ""}#${Math.random().toString(36).slice(2, 8)}`;
}

/** Records that a step began (for steps that run long enough to be watched). */
export async function startStep(
  id: string,
  sk: string,
  step: Pick<StepRecord, "state" | "step" | "target">,
  startedAt: Date,
): Promise<void> {
  await db().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        pk: `EXEC#${id}`,
        sk,
        type: "step",
        ...step,
        status: "RUNNING",
        startedAt: startedAt.toISOString(),
      },
    }),
  );
}

/** Writes a step's outcome: closes its RUNNING record, or writes the whole record if there was none. */
export async function endStep(
  id: string,
  sk: string,
  step: Pick<StepRecord, "state" | "step" | "target">,
  outcome: {
    status: "SUCCEEDED" | "FAILED";
    output?: unknown;
    error?: string;
    cause?: string;
    startedAt: Date;
  },
  now = new Date(),
): Promise<void> {
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: { pk: `EXEC#${id}`, sk },
      UpdateExpression:
        "SET #type = :type, #state = :state, step = :step, target = :target, startedAt = :startedAt, #status = :status, endedAt = :endedAt, durationMs = :ms, #output = :output, #error = :error, #cause = :cause",
      ExpressionAttributeNames: {
        "#type": "type",
        "#state": "state",
        "#status": "status",
        "#output": "output",
        "#error": "error",
        "#cause": "cause",
      },
      ExpressionAttributeValues: {
        ":type": "step",
        ":state": step.state,
        ":step": step.step,
        ":target": step.target ?? null,
        ":startedAt": outcome.startedAt.toISOString(),
        ":status": outcome.status,
        ":endedAt": now.toISOString(),
        ":ms": now.getTime() - outcome.startedAt.getTime(),
        ":output": outcome.output ?? null,
        ":error": outcome.error ?? null,
        ":cause": outcome.cause ?? null,
      },
    }),
  );
}

/** Merges fields into the run's reported result (per-target results, plan, manifest location). */
export async function setResult(id: string, result: Record<string, unknown>): Promise<void> {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets = Object.entries(result).map(([k, v], i) => {
    names[`#k${i}`] = k;
    values[`:v${i}`] = v;
    return `#result.#k${i} = :v${i}`;
  });
  if (sets.length === 0) return;
  // `result` exists from creation (an empty map) so nested SETs always have a parent.
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(id),
      UpdateExpression: `SET ${sets.join(", ")}`,
      ConditionExpression: "attribute_exists(pk)",
      ExpressionAttributeNames: { "#result": "result", ...names },
      ExpressionAttributeValues: values,
    }),
  );
}

/**
 * Closes a run exactly once. Returns the closed record, or undefined when it was already
 * closed (a redelivered status event), so callers release locks and notify only once.
 */
export async function complete(
  id: string,
  outcome: {
    status: Exclude<ExecutionStatus, "RUNNING" | "STARTING" | "WAITING_FOR_APPROVAL">;
    error?: string;
    cause?: string;
    attention?: Execution["attention"];
  },
  now = new Date(),
): Promise<Execution | undefined> {
  try {
    const out = await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: key(id),
        UpdateExpression: `SET #status = :status, endedAt = :endedAt, #error = :error, #cause = :cause${outcome.attention ? ", attention = :attention" : ""}`,
        ConditionExpression: "#status IN (:running, :waiting)",
        ExpressionAttributeNames: { "#status": "status", "#error": "error", "#cause": "cause" },
        ExpressionAttributeValues: {
          ":status": outcome.status,
          ":running": "RUNNING",
          ":waiting": "WAITING_FOR_APPROVAL",
          ":endedAt": now.toISOString(),
          ":error": outcome.error ?? null,
          ":cause": outcome.cause ?? null,
          ...(outcome.attention ? { ":attention": outcome.attention } : {}),
        },
        ReturnValues: "ALL_NEW",
      }),
    );
    const closed = strip<Execution>(out.Attributes ?? {});
    await unmarkActive(id, closed.startedAt);
    return closed;
  } catch (err) {
    if (isConditionFailure(err)) return undefined;
    throw err;
  }
}

/**
 * The runs that are running or waiting for approval, newest first, read from their markers
 * (one query of the marker partition, then each marked record), so the cost follows what is
 * running, not how many runs were ever stored. A marker whose run has ended, is gone or was
 * started again under another start time is deleted on the way (best effort: another reader
 * or the next call tidies what this one could not); one whose record is still STARTING is
 * left, since its promotion may be under way, and so is one whose record is missing while its
 * start may still be writing it ({@link START_UNDER_WAY_MS}: the marker comes before the record).
 */
export async function active(
  opts: {
    now?: number;
    /** How long a marker without a record is taken for a start under way (the reconciler passes its cutoff). */
    underWayMs?: number;
  } = {},
): Promise<Execution[]> {
  const { now = Date.now(), underWayMs = START_UNDER_WAY_MS } = opts;
  const markers = await queryAll({
    TableName: tableName(),
    KeyConditionExpression: "pk = :pk",
    ExpressionAttributeValues: { ":pk": ACTIVE_PK },
    ConsistentRead: true,
  });
  const records = await Promise.all(markers.map((m) => find(String(m.id))));
  const runs = new Map<string, Execution>();
  const stale: Array<Record<string, unknown>> = [];
  markers.forEach((m, i) => {
    const e = records[i];
    if (e?.status === "STARTING") return;
    if (!e && Date.parse(String(m.sk).split("#")[0] as string) > now - underWayMs) return;
    if (!e || !ACTIVE.includes(e.status) || m.sk !== `${e.startedAt}#${e.id}`) stale.push(m);
    else runs.set(e.id, e);
  });
  await Promise.all(
    stale.map((m) =>
      db()
        .send(new DeleteCommand({ TableName: tableName(), Key: { pk: m.pk, sk: m.sk } }))
        .catch(() => undefined),
    ),
  );
  return [...runs.values()].sort((a, b) => `${b.startedAt}#${b.id}`.localeCompare(`${a.startedAt}#${a.id}`));
}

/**
 * Clears a listing whose record is gone or was never promoted (dynalite writes the index
 * before the item, so a crash between them leaves an index entry behind): writes a record
 * with the same index keys over whatever is there, then deletes it. Only for ids the caller
 * found missing or STARTING.
 */
export async function forgetListing(id: string, sort: string): Promise<void> {
  await conditionalWrite(
    new PutCommand({
      TableName: tableName(),
      Item: {
        ...key(id),
        [TABLE_KEYS.gsi1.partitionKey]: "EXECUTIONS",
        [TABLE_KEYS.gsi1.sortKey]: sort,
        type: "tombstone",
      },
      ConditionExpression: "attribute_not_exists(pk) OR #status = :starting",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":starting": "STARTING" },
    }),
  );
  await conditionalWrite(
    new DeleteCommand({
      TableName: tableName(),
      Key: key(id),
      ConditionExpression: "#type = :tombstone",
      ExpressionAttributeNames: { "#type": "type" },
      ExpressionAttributeValues: { ":tombstone": "tombstone" },
    }),
  );
}

/** Moves a run between RUNNING and WAITING_FOR_APPROVAL. False when it is in neither. */
export async function setWaiting(id: string, waiting: boolean): Promise<boolean> {
  return conditionalWrite(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(id),
      UpdateExpression: "SET #status = :to",
      ConditionExpression: "#status IN (:running, :waiting)",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":to": waiting ? "WAITING_FOR_APPROVAL" : "RUNNING",
        ":running": "RUNNING",
        ":waiting": "WAITING_FOR_APPROVAL",
      },
    }),
  );
}

/**
 * Asks a running run to stop (graceful abort): its steps see the flag before their next
 * target. Returns the record, or undefined when it is not running (or already asked).
 */
export async function requestCancel(
  id: string,
  cancel: { by: string; reason: string; at: string },
): Promise<Execution | undefined> {
  try {
    const out = await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: key(id),
        UpdateExpression: "SET #cancel = :cancel",
        ConditionExpression: "#status IN (:running, :waiting) AND attribute_not_exists(#cancel)",
        ExpressionAttributeNames: { "#status": "status", "#cancel": "cancel" },
        ExpressionAttributeValues: {
          ":cancel": cancel,
          ":running": "RUNNING",
          ":waiting": "WAITING_FOR_APPROVAL",
        },
        ReturnValues: "ALL_NEW",
      }),
    );
    return strip<Execution>(out.Attributes ?? {});
  } catch (err) {
    if (isConditionFailure(err)) return undefined;
    throw err;
  }
}
