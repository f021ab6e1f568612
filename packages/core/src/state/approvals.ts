/**
 * Approval requests: one item per waiting run (pk `APPROVAL#<execution id>`, sk `APPROVAL`),
 * listed through gsi1 (`APPROVALS#PENDING`, `<deadline>#<id>`) only while pending.
 *
 * Every answer (and an abort of the waiting run) is ONE conditional update that both adds the
 * answer and, when it decides, closes the request with its `decision` — conditional on the
 * request being still pending at the `version` the answerer read. Two people answering at
 * once therefore cannot both win: the second write's condition fails, it re-reads, and finds
 * the request decided (by whom, with what) or, when the first answer did not decide (one
 * approval of two), answers again on top of it. There is no read-then-close gap.
 */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { conditionalWrite, db } from "./db.ts";
import { TABLE_KEYS, tableName } from "./table.ts";

export type ApprovalStatus = "PENDING" | "APPROVED" | "REJECTED" | "TIMED_OUT" | "CLOSED";

/** What closed a request, and who: the one write that won. */
export interface Decision {
  /** `abort`: a person aborted the waiting run; `ended`: the run ended (deadline, stopped). */
  outcome: "approve" | "reject" | "abort" | "ended";
  by: string;
  at: string;
  comment?: string;
}

export interface Answer {
  /** The person who answered (`People.personOf(...).key`): one answer per person. */
  actor: string;
  /** The identity they answered as, when it differs from `actor` (a linked Slack id, IAM role…). */
  identity?: string;
  /**
   * The ARN they arrived with when it is not `identity` (an Identity Center or role session):
   * a role pattern in `access.roles` (a permission set's `AWSReservedSSO_*` role) matches the
   * session's role, which the identity (`sso:<user>`) does not show.
   */
  raw?: string;
  /**
   * The Slack user groups named by `group:` role members that they were in when they answered:
   * the verify step after the wait cannot ask Slack, and a `group:` approver must still count.
   */
  groups?: string[];
  answer: "approve" | "reject";
  comment?: string;
  at: string;
}

export interface ApprovalRequest {
  executionId: string;
  runbook: string;
  /** The ASL state that waits (local mode resumes a waiting run there after a restart). */
  state: string;
  token: string;
  /** Who started the run. */
  requestedBy: string;
  requestedAt: string;
  deadline: string;
  /** Why this run needs a person (policy, rule, freeze override). */
  reasons: string[];
  /** Roles whose members may answer; empty: anyone allowed `approve` on the runbook. */
  approvers: string[];
  minApprovers: number;
  selfApproval: boolean;
  /** What the approver is asked to allow: the plan step's output. */
  plan?: unknown;
  /** The member account (and its name in config) and Region the run acts in, when not the hub. */
  location?: { account: string; accountName?: string; region: string };
  status: ApprovalStatus;
  answers: Answer[];
  /** Set by the write that closed the request (absent on requests closed before it existed). */
  decision?: Decision;
  /**
   * Set when the answer that decided the request (`decision`) reached the run only after its
   * wait had ended at the deadline: it did not count, and the request is TIMED_OUT (see
   * {@link expire}). `decision` stays, so everyone can see whose answer came too late.
   */
  expired?: { at: string; reason: string };
  /** Bumped by every answer: the next answer's write is conditional on the version it read. */
  version?: number;
  /** The waiting state's input, kept so local mode can resume the run after a restart. */
  stateInput?: unknown;
}

const key = (id: string) => ({ pk: `APPROVAL#${id}`, sk: "APPROVAL" });
const PENDING = "APPROVALS#PENDING";

function strip(item: Record<string, unknown>): ApprovalRequest {
  const { pk, sk, gsi1pk, gsi1sk, type, expiresAt, ...rest } = item;
  return rest as unknown as ApprovalRequest;
}

/**
 * Records a new request. False when the run already has one (see {@link renew} for a retried
 * request step).
 */
export async function put(
  req: Omit<ApprovalRequest, "status" | "answers" | "decision" | "version">,
): Promise<boolean> {
  return conditionalWrite(
    new PutCommand({
      TableName: tableName(),
      Item: {
        ...key(req.executionId),
        [TABLE_KEYS.gsi1.partitionKey]: PENDING,
        [TABLE_KEYS.gsi1.sortKey]: `${req.deadline}#${req.executionId}`,
        type: "approval",
        ...req,
        status: "PENDING",
        answers: [],
        version: 0,
        expiresAt: Math.floor(Date.parse(req.deadline) / 1000) + 90 * 86_400,
      },
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
}

/**
 * Asked again for the same wait (a retried request step, or local mode resuming a waiting run
 * after a restart): the new token replaces the old while the request is still pending. The
 * answers given so far, the policy and the deadline stay as they are. False when it is no
 * longer pending.
 */
export async function renew(
  executionId: string,
  change: { token: string; state: string; stateInput: unknown },
) {
  return conditionalWrite(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(executionId),
      UpdateExpression: "SET #token = :token, #state = :state, stateInput = :input",
      ConditionExpression: "#status = :pending",
      ExpressionAttributeNames: { "#status": "status", "#token": "token", "#state": "state" },
      ExpressionAttributeValues: {
        ":pending": "PENDING",
        ":token": change.token,
        ":state": change.state,
        ":input": change.stateInput,
      },
    }),
  );
}

export async function find(executionId: string): Promise<ApprovalRequest | undefined> {
  const out = await db().send(
    new GetCommand({ TableName: tableName(), Key: key(executionId), ConsistentRead: true }),
  );
  return out.Item ? strip(out.Item) : undefined;
}

/** Pending requests, soonest deadline first. */
export async function listPending(limit = 100): Promise<ApprovalRequest[]> {
  const out = await db().send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: TABLE_KEYS.gsi1.indexName,
      KeyConditionExpression: "gsi1pk = :pk",
      ExpressionAttributeValues: { ":pk": PENDING },
      Limit: limit,
    }),
  );
  // The index may lag an answer by a moment: re-read each, keep those still pending.
  const fresh = await Promise.all((out.Items ?? []).map((i) => find(i.executionId as string)));
  return fresh.filter((a): a is ApprovalRequest => a?.status === "PENDING");
}

/**
 * Writes one answer, or one decision, on top of the request as the writer read it (`read`):
 * conditional on the request being still PENDING at that version, and (for an answer) on this
 * person not having answered. `status` other than PENDING closes the request in the same
 * write, with `decision`. True when this write was made; false when someone else wrote first
 * (re-read, and see who decided, or answer again on top).
 */
export async function decide(
  read: Pick<ApprovalRequest, "executionId" | "version">,
  change: { answer?: Answer; status: ApprovalStatus; decision?: Decision },
): Promise<boolean> {
  const version = read.version ?? 0;
  const set = ["version = :next"];
  const remove: string[] = [];
  const values: Record<string, unknown> = { ":pending": "PENDING", ":next": version + 1 };
  // A request written before versions existed has none: version 0.
  const conditions = [
    "#status = :pending",
    version === 0 ? "(attribute_not_exists(version) OR version = :v)" : "version = :v",
  ];
  values[":v"] = version;
  if (change.answer) {
    set.push(
      "answers = list_append(answers, :a)",
      "answeredBy = list_append(if_not_exists(answeredBy, :empty), :who)",
    );
    conditions.push("NOT contains(answeredBy, :actor)");
    Object.assign(values, {
      ":a": [change.answer],
      ":who": [change.answer.actor],
      ":empty": [],
      ":actor": change.answer.actor,
    });
  }
  if (change.status !== "PENDING") {
    if (!change.decision) throw new Error("closing an approval request needs its decision");
    // The waiting state's input stays: a process that dies before it tells the run can resume
    // the wait, which is then answered from this decision (see Approvals.request).
    set.push("#status = :status", "decision = :decision", "closedAt = :at");
    remove.push("gsi1pk", "gsi1sk");
    Object.assign(values, {
      ":status": change.status,
      ":decision": change.decision,
      ":at": change.decision.at,
    });
  }
  return conditionalWrite(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(read.executionId),
      UpdateExpression: `SET ${set.join(", ")}${remove.length ? ` REMOVE ${remove.join(", ")}` : ""}`,
      ConditionExpression: conditions.join(" AND "),
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: values,
    }),
  );
}

/**
 * Closes a still-pending request because its run ended without an answer (the deadline passed,
 * the run was stopped or lost). A request an answer already decided keeps that decision.
 */
export async function close(
  executionId: string,
  status: Exclude<ApprovalStatus, "PENDING">,
  by = "reflex",
): Promise<boolean> {
  return conditionalWrite(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(executionId),
      UpdateExpression:
        "SET #status = :status, closedAt = :at, decision = if_not_exists(decision, :decision) REMOVE gsi1pk, gsi1sk, stateInput",
      ConditionExpression: "#status = :pending",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":status": status,
        ":pending": "PENDING",
        ":at": new Date().toISOString(),
        ":decision": { outcome: "ended", by, at: new Date().toISOString() },
      },
    }),
  );
}

/**
 * Marks a request that an answer decided (APPROVED or REJECTED) as TIMED_OUT because that
 * answer never reached the run: its wait had ended at the deadline first (Step Functions said
 * TaskTimedOut, or the run closed with ApprovalTimedOut). One conditional write, so of the
 * answering process and the run's close, only one makes it (and audits it). The decision is
 * kept beside `expired`; the waiting state's input goes, so nothing resumes the ended wait.
 */
export async function expire(executionId: string, expired: { at: string; reason: string }): Promise<boolean> {
  return conditionalWrite(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(executionId),
      UpdateExpression: "SET #status = :timedOut, expired = :expired REMOVE stateInput",
      ConditionExpression:
        "#status IN (:approved, :rejected) AND decision.outcome IN (:approve, :reject) AND attribute_not_exists(expired)",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":timedOut": "TIMED_OUT",
        ":approved": "APPROVED",
        ":rejected": "REJECTED",
        ":approve": "approve",
        ":reject": "reject",
        ":expired": expired,
      },
    }),
  );
}
