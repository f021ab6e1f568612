/**
 * Human approvals, for any runbook: the request (made by the built-in `requestApproval` step
 * when a run reaches its approval state) and the answer (a person, through the API, CLI,
 * console or Slack). The answer reaches Step Functions as SendTaskSuccess / SendTaskFailure
 * with the request's task token; locally, the local engine serves the same API.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from "@aws-sdk/client-sfn";
import * as Access from "./admission/access.ts";
import * as People from "./admission/people.ts";
import { client } from "./aws.ts";
import { currentConfig } from "./config/index.ts";
import type { Config } from "./config/schema.ts";
import { AccessDeniedError, ConflictError, NotFoundError, ValidationError } from "./errors.ts";
import * as Lifecycle from "./lifecycle.ts";
import { APPROVAL_ERRORS } from "./runbooks/asl.ts";
import * as ApprovalRecords from "./state/approvals.ts";
import * as Audit from "./state/audit.ts";
import * as Executions from "./state/executions.ts";

export type { ApprovalRequest } from "./state/approvals.ts";

/** The payload of the approval Task (see `approvalStates`). */
export interface ApprovalTaskEvent {
  runbook: string;
  step: string;
  taskToken: string;
  /** The approval state's name (local mode resumes a waiting run there). */
  state?: string;
  input: { execution: { id: string }; approval?: Executions.ApprovalPlan; plan?: unknown } & Record<
    string,
    unknown
  >;
}

/**
 * Records an approval request and marks the run WAITING_FOR_APPROVAL; the run then waits for
 * the token. Publishes `Approval Requested` (ChatOps posts it) and audits it.
 */
export async function request(event: ApprovalTaskEvent, now = new Date()): Promise<void> {
  const { input } = event;
  const plan = input.approval;
  if (!event.taskToken)
    throw new ValidationError("missing_task_token", "the approval Task passed no task token");
  if (!plan) throw new ValidationError("missing_approval_plan", "the run's input has no approval plan");
  const id = input.execution.id;
  // Asked again for the same wait (a retried request step, or local mode resuming a waiting
  // run after a restart): the new token replaces the old; the request keeps its deadline.
  const earlier = await ApprovalRecords.find(id);
  const again = earlier?.status === "PENDING";
  const deadline = again
    ? earlier.deadline
    : new Date(now.getTime() + plan.deadlineSeconds * 1000).toISOString();
  await ApprovalRecords.put({
    executionId: id,
    runbook: event.runbook,
    state: event.state ?? "ApprovalWait",
    token: event.taskToken,
    requestedBy: plan.requestedBy,
    requestedAt: again ? earlier.requestedAt : now.toISOString(),
    deadline,
    reasons: plan.reasons,
    approvers: plan.approvers,
    minApprovers: plan.minApprovers,
    selfApproval: plan.selfApproval,
    plan: input.plan,
    stateInput: input,
  });
  await Executions.setWaiting(id, true);
  if (again) return;
  await Promise.all([
    Audit.record(
      {
        kind: "approval.requested",
        actor: `runbook:${event.runbook}`,
        reason: `${event.runbook} waits for approval until ${deadline}: ${plan.reasons.join("; ")}`,
        executionId: id,
        runbook: event.runbook,
      },
      now,
    ),
    Lifecycle.publish(
      "Approval Requested",
      {
        executionId: id,
        runbook: event.runbook,
        requestedBy: plan.requestedBy,
        approvers: plan.approvers,
        deadline,
        reasons: plan.reasons,
        plan: input.plan,
      },
      now,
    ),
  ]);
}

/** May this actor answer this request? Undefined when yes, else why not. */
export function whyNot(
  config: Config,
  req: ApprovalRecords.ApprovalRequest,
  actor: Access.Actor,
  answer: "approve" | "reject",
): string | undefined {
  const approver =
    req.approvers.length > 0
      ? Access.rolesOf(config, actor).some((r) => req.approvers.includes(r))
      : Access.may(config, actor, "approve", req.runbook);
  // People, not strings: the requester through another channel or role session is still the requester.
  const requester = People.samePerson(config, actor.id, req.requestedBy);
  const who = People.personOf(config, actor.id).name;
  // The requester may always withdraw (reject) their own request.
  if (answer === "reject" && requester) return undefined;
  if (!approver)
    return `${who} is not an approver of ${req.runbook}${req.approvers.length ? ` (roles: ${req.approvers.join(", ")})` : ""}`;
  if (answer === "approve" && requester && !req.selfApproval)
    return `${who} asked for this run and may not approve it (access.selfApproval is off)`;
  return undefined;
}

/**
 * Answers a waiting run. 404 for an unknown run; 409 when it is not waiting or this person
 * already answered; 403 (audited) for someone who may not. The run goes on once
 * `minApprovers` people approved; one rejection ends it.
 *
 * @example
 * await Approvals.answer({ executionId, actor: { id: "cli:bob" }, answer: "approve", comment: "go" });
 */
export async function answer(input: {
  executionId: string;
  actor: Access.Actor;
  answer: "approve" | "reject";
  comment?: string;
  config?: Config;
  now?: Date;
}): Promise<{ status: ApprovalRecords.ApprovalStatus; approvals: number; needed: number }> {
  const config = input.config ?? currentConfig();
  const now = input.now ?? new Date();
  const execution = await Executions.find(input.executionId);
  if (!execution || execution.status === "STARTING") throw new NotFoundError("execution", input.executionId);
  const req = await ApprovalRecords.find(input.executionId);
  if (execution.status !== "WAITING_FOR_APPROVAL" || !req || req.status !== "PENDING") {
    throw new ConflictError(
      "not_waiting",
      `execution ${input.executionId} is ${execution.status}${req && req.status !== "PENDING" ? ` (its approval is ${req.status})` : ""}, not waiting for approval`,
    );
  }
  const person = People.personOf(config, input.actor.id);
  // The audit names the person, and keeps what they arrived as (a role session's full ARN too).
  const arrived = input.actor.raw ?? input.actor.id;
  const identity = arrived !== person.name ? { identity: arrived } : {};
  const denied = whyNot(config, req, input.actor, input.answer);
  if (denied) {
    await Audit.record(
      {
        kind: "approval.refused",
        actor: person.name,
        ...identity,
        reason: denied,
        executionId: input.executionId,
        runbook: req.runbook,
      },
      now,
    );
    throw new AccessDeniedError(denied);
  }
  if (input.answer === "reject" && !input.comment?.trim())
    throw new ValidationError("missing_reason", "a rejection needs a reason", [
      { path: "reason", message: "required" },
    ]);
  // One answer per person: the answer is recorded under the person, so a second identity of
  // theirs (Slack after IAM, another role session) is "already answered", not a second approver.
  const updated = await ApprovalRecords.addAnswer(input.executionId, {
    actor: person.key,
    ...(person.key !== input.actor.id ? { identity: input.actor.id } : {}),
    answer: input.answer,
    comment: input.comment?.trim() || undefined,
    at: now.toISOString(),
  });
  if (!updated)
    throw new ConflictError(
      "already_answered",
      `${person.name} already answered, or the request was just closed`,
    );
  const approvers = [
    ...new Set(
      updated.answers
        .filter((a) => a.answer === "approve")
        .map((a) => People.personOf(config, a.identity ?? a.actor).key),
    ),
  ];
  const approvals = approvers.length;
  const sfn = client(SFNClient, "sfn");
  let status: ApprovalRecords.ApprovalStatus = "PENDING";
  if (input.answer === "reject") {
    status = "REJECTED";
    if (await ApprovalRecords.close(input.executionId, status)) {
      await sfn.send(
        new SendTaskFailureCommand({
          taskToken: req.token,
          error: APPROVAL_ERRORS.rejected,
          cause: `rejected by ${person.name}: ${input.comment}`,
        }),
      );
    }
  } else if (approvals >= req.minApprovers) {
    status = "APPROVED";
    if (await ApprovalRecords.close(input.executionId, status)) {
      await Executions.setWaiting(input.executionId, false);
      await sfn.send(
        new SendTaskSuccessCommand({
          taskToken: req.token,
          output: JSON.stringify({
            approvedBy: approvers.map((key) => People.personOf(config, key).name),
            at: now.toISOString(),
          }),
        }),
      );
    }
  }
  await Promise.all([
    Audit.record(
      {
        kind: input.answer === "approve" ? "approval.approved" : "approval.rejected",
        actor: person.name,
        ...identity,
        reason: `${input.answer === "approve" ? "approved" : "rejected"} ${req.runbook} ${input.executionId}${input.comment ? `: ${input.comment}` : ""}${status === "PENDING" ? ` (${approvals} of ${req.minApprovers} approvals)` : ""}`,
        executionId: input.executionId,
        runbook: req.runbook,
      },
      now,
    ),
    Lifecycle.publish(
      "Approval Answered",
      {
        executionId: input.executionId,
        runbook: req.runbook,
        answer: input.answer,
        by: person.linked ? person.name : input.actor.id,
        comment: input.comment,
        status,
      },
      now,
    ),
  ]);
  return { status, approvals, needed: req.minApprovers };
}

/** Requests waiting for a person; with `actor`, only those this actor may approve. */
export async function pending(
  opts: { actor?: Access.Actor; config?: Config } = {},
): Promise<ApprovalRecords.ApprovalRequest[]> {
  const config = opts.config ?? currentConfig();
  const all = await ApprovalRecords.listPending();
  const visible = opts.actor
    ? all.filter((r) => !whyNot(config, r, opts.actor as Access.Actor, "approve"))
    : all;
  return visible.map(({ token, stateInput, ...rest }) => rest as ApprovalRecords.ApprovalRequest);
}

/** A run's approval request, whatever its status (with its token: for the local engine only). */
export const find = ApprovalRecords.find;
