/**
 * Approval requests: one item per waiting run (pk `APPROVAL#<execution id>`, sk `APPROVAL`),
 * listed through gsi1 (`APPROVALS#PENDING`, `<deadline>#<id>`) only while pending. Each answer
 * is one conditional update (still pending, and this person has not answered), so two people
 * clicking at once, or one clicking twice, cannot both count.
 */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { conditionalWrite, db, isConditionFailure } from "./db.ts";
import { TABLE_KEYS, tableName } from "./table.ts";

export type ApprovalStatus = "PENDING" | "APPROVED" | "REJECTED" | "TIMED_OUT" | "CLOSED";

export interface Answer {
  /** The person who answered (`People.personOf(...).key`): one answer per person. */
  actor: string;
  /** The identity they answered as, when it differs from `actor` (a linked Slack id, IAM role…). */
  identity?: string;
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
  status: ApprovalStatus;
  answers: Answer[];
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
 * Records a request (or re-records it: a retried request step brings a new token, which
 * replaces the old one while the request is still pending).
 */
export async function put(req: Omit<ApprovalRequest, "status" | "answers">): Promise<void> {
  await conditionalWrite(
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
        expiresAt: Math.floor(Date.parse(req.deadline) / 1000) + 90 * 86_400,
      },
      ConditionExpression: "attribute_not_exists(pk) OR #status = :pending",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":pending": "PENDING" },
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
 * Adds one person's answer. Returns the updated request, or undefined when it is no longer
 * pending or this person already answered.
 */
export async function addAnswer(executionId: string, answer: Answer): Promise<ApprovalRequest | undefined> {
  try {
    const out = await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: key(executionId),
        UpdateExpression:
          "SET answers = list_append(answers, :a), answeredBy = list_append(if_not_exists(answeredBy, :empty), :who)",
        ConditionExpression: "#status = :pending AND NOT contains(answeredBy, :actor)",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":a": [answer],
          ":who": [answer.actor],
          ":empty": [],
          ":actor": answer.actor,
          ":pending": "PENDING",
        },
        ReturnValues: "ALL_NEW",
      }),
    );
    return strip(out.Attributes ?? {});
  } catch (err) {
    if (isConditionFailure(err)) return undefined;
    throw err;
  }
}

/** Closes a pending request with its outcome and takes it off the pending list. */
export async function close(
  executionId: string,
  status: Exclude<ApprovalStatus, "PENDING">,
): Promise<boolean> {
  return conditionalWrite(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(executionId),
      UpdateExpression: "SET #status = :status, closedAt = :at REMOVE gsi1pk, gsi1sk, stateInput",
      ConditionExpression: "#status = :pending",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":status": status,
        ":pending": "PENDING",
        ":at": new Date().toISOString(),
      },
    }),
  );
}
