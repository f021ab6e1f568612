/**
 * Human approvals, for any runbook: the request (made by the built-in `requestApproval` step
 * when a run reaches its approval state) and the answer (a person, through the API, CLI,
 * console or Slack). The answer reaches Step Functions as SendTaskSuccess / SendTaskFailure
 * with the request's task token; locally, the local engine serves the same API.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from "@aws-sdk/client-sfn";
import { client } from "./aws.ts";
import { currentConfig } from "./config/index.ts";
import type { Config } from "./config/schema.ts";
import { crashPoint } from "./crash.ts";
import {
  AccessDeniedError,
  ConflictError,
  NotFoundError,
  StepExecutionError,
  ValidationError,
} from "./errors.ts";
import * as Lifecycle from "./lifecycle.ts";
import * as Access from "./policy/access.ts";
import * as People from "./policy/people.ts";
import { APPROVAL_ERRORS, RUN_ABORTED } from "./runbooks/asl.ts";
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
 *
 * The policy (approvers, minApprovers, self-approval, who asked) is the one admission fixed on
 * the run's record, written once and never updated — not what the step's payload says.
 */
/** The error a retried approval-request step fails with when it may not answer its new wait (deployed). */
export const APPROVAL_ALREADY_DECIDED = "ApprovalAlreadyDecided";

export async function request(event: ApprovalTaskEvent, now = new Date()): Promise<void> {
  const { input } = event;
  if (!event.taskToken)
    throw new ValidationError("missing_task_token", "the approval Task passed no task token");
  const id = input.execution.id;
  const execution = await Executions.find(id);
  const plan = execution?.approval;
  if (!execution || !plan?.required)
    throw new ValidationError("missing_approval_plan", `run ${id} has no approval recorded at admission`);
  // Aborted before it reached its approval: it does not wait for a person.
  if (execution.cancel) {
    const e = new StepExecutionError(
      RUN_ABORTED,
      `aborted by ${execution.cancel.by}: ${execution.cancel.reason}`,
    );
    e.name = RUN_ABORTED;
    throw e;
  }
  const state = event.state ?? "ApprovalWait";
  // Asked again for the same wait (a retried request step, or local mode resuming a waiting
  // run after a restart): the new token replaces the old; answers, policy and deadline stay.
  const earlier = await ApprovalRecords.find(id);
  if (earlier) {
    if (earlier.status === "PENDING") {
      await ApprovalRecords.renew(id, { token: event.taskToken, state, stateInput: input });
      await Executions.setWaiting(id, true);
      return;
    }
    // Already decided (the step was retried after an answer, or the answering process died
    // before it told the run): give the new token that answer; the verify step after the wait
    // still checks the record. The step worker may not send task answers (states:SendTask* is
    // the API's and the ChatOps worker's only), so deployed that send is refused: the step then
    // fails closed, ApprovalAlreadyDecided, naming the decision, rather than wait forever or
    // fail with a bare AccessDenied. Locally the engine takes the answer (no IAM), which is how
    // a restarted local mode resumes a run whose decision it never delivered.
    const sfn = client(SFNClient, "sfn");
    try {
      if (earlier.status === "APPROVED") {
        await Executions.setWaiting(id, false);
        await sfn.send(
          new SendTaskSuccessCommand({
            taskToken: event.taskToken,
            output: JSON.stringify({ approved: true }),
          }),
        );
      } else
        await sfn.send(
          new SendTaskFailureCommand({
            taskToken: event.taskToken,
            error:
              earlier.decision?.outcome === "abort"
                ? RUN_ABORTED
                : earlier.status === "TIMED_OUT"
                  ? APPROVAL_ERRORS.timedOut
                  : APPROVAL_ERRORS.rejected,
            cause: `the approval request was already ${describeDecision(earlier)}`,
          }),
        );
    } catch (err) {
      if ((err as Error).name !== "AccessDeniedException") throw err;
      const e = new StepExecutionError(
        "approval_already_decided",
        `the approval request of run ${id} was already ${describeDecision(earlier)}; this retried request step may not answer its new wait (the step worker has no states:SendTask* permission), so the run ends here: start it again`,
        { cause: err },
      );
      e.name = APPROVAL_ALREADY_DECIDED;
      throw e;
    }
    return;
  }
  const deadline = new Date(now.getTime() + plan.deadlineSeconds * 1000).toISOString();
  // Where the run acts, so the approver sees which account before pressing Approve.
  const accountName = execution.location
    ? currentConfig().accounts.find((a) => a.id === execution.location?.account)?.name
    : undefined;
  const location = execution.location && { ...execution.location, ...(accountName ? { accountName } : {}) };
  const made = await ApprovalRecords.put({
    executionId: id,
    runbook: event.runbook,
    state,
    token: event.taskToken,
    requestedBy: plan.requestedBy,
    requestedAt: now.toISOString(),
    deadline,
    reasons: plan.reasons,
    approvers: plan.approvers,
    minApprovers: plan.minApprovers,
    selfApproval: plan.selfApproval,
    plan: input.plan,
    ...(location ? { location } : {}),
    stateInput: input,
  });
  // Two invocations of this step at once (a retry overlapping the first): the other recorded
  // the request; this one is a renewal of it.
  if (!made) return request(event, now);
  await Executions.setWaiting(id, true);
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

/** The policy fixed at admission (the run's record), over the request's copy of it. */
function policyOf(
  req: ApprovalRecords.ApprovalRequest,
  execution: Executions.Execution | undefined,
): ApprovalRecords.ApprovalRequest {
  const plan = execution?.approval;
  if (!plan) return req;
  return {
    ...req,
    runbook: execution.runbook,
    approvers: plan.approvers,
    minApprovers: plan.minApprovers,
    selfApproval: plan.selfApproval,
    requestedBy: plan.requestedBy,
  };
}

/**
 * The distinct people (`People.personOf(...).key`) whose approvals count under `policy`: two
 * identities of one person (Slack and IAM, two sessions of one role) are one approver, judged
 * by the identity they answered as.
 */
function validApprovers(
  config: Config,
  policy: ApprovalRecords.ApprovalRequest,
  answers: ApprovalRecords.Answer[],
): string[] {
  const byPerson = new Map<string, string>();
  for (const a of answers.filter((x) => x.answer === "approve")) {
    const identity = a.identity ?? a.actor;
    const key = People.personOf(config, identity).key;
    if (
      !byPerson.has(key) &&
      !whyNot(config, policy, { id: identity, raw: a.raw, groups: a.groups }, "approve")
    )
      byPerson.set(key, identity);
  }
  return [...byPerson.keys()];
}

/** Of an actor's (Slack user) groups, those a `group:` role member names: kept with the answer. */
function groupsNamed(config: Config, groups: string[] | undefined): string[] {
  const named = new Set(
    Object.values(config.access.roles)
      .flat()
      .filter((m) => m.startsWith("group:"))
      .map((m) => m.slice("group:".length)),
  );
  return [...new Set(groups ?? [])].filter((g) => named.has(g));
}

/** A person key (`person:<name>` or an identity) as people read it. */
function nameOf(key: string): string {
  return key.startsWith("person:") ? key.slice("person:".length) : key;
}

const PAST = { approve: "approved", reject: "rejected", abort: "aborted" } as const;

/**
 * "approved by cli:carol at …", from the write that closed the request; an answer that reached
 * the run only after its wait had ended says so ("…, too late: the wait had ended at …").
 */
export function describeDecision(req: ApprovalRecords.ApprovalRequest): string {
  const d = req.decision;
  if (!d) return `${req.status.toLowerCase().replace("_", " ")}`;
  if (d.outcome === "ended") return `closed (${req.status}) when the run ended, at ${d.at}`;
  const given = `${PAST[d.outcome]} by ${nameOf(d.by)} at ${d.at}`;
  return req.expired ? `${given}, ${req.expired.reason} (it did not count)` : given;
}

/**
 * The run's wait for approval ended at its deadline (Step Functions timed the Task out) while
 * an answer that decided the request had not reached it: that answer did not count. Marks the
 * request TIMED_OUT beside its decision (one conditional write: of the answering process, told
 * TaskTimedOut, and the run's close, only the first makes it) and audits `approval.expired`
 * once, after the answer's own entry. Returns the request as it now stands.
 */
export async function expireLate(
  executionId: string,
  now = new Date(),
): Promise<ApprovalRecords.ApprovalRequest | undefined> {
  const req = await ApprovalRecords.find(executionId);
  const d = req?.decision;
  if (!req || !d || req.expired || (d.outcome !== "approve" && d.outcome !== "reject")) return req;
  const expired = { at: now.toISOString(), reason: `too late: the wait had ended at ${req.deadline}` };
  if (!(await ApprovalRecords.expire(executionId, expired))) return ApprovalRecords.find(executionId);
  // After the answer's own entry (the decision's time), whoever makes this write.
  const at = new Date(Math.max(now.getTime(), (Date.parse(d.at) || 0) + 1));
  await Audit.record(
    {
      kind: "approval.expired",
      actor: `runbook:${req.runbook}`,
      reason: `${PAST[d.outcome]} by ${nameOf(d.by)} at ${d.at} did not count: the wait for approval had ended at its deadline (${req.deadline}) before the answer reached the run, which ends ${APPROVAL_ERRORS.timedOut}; nothing was changed`,
      executionId,
      runbook: req.runbook,
    },
    at,
  );
  return { ...req, status: "TIMED_OUT", expired };
}

/**
 * An answer (or an abort) that came after the request was decided: audited after the winner
 * (its entry is later than the decision), then a 409 naming the winning answer and who gave it.
 */
async function lost(
  req: ApprovalRecords.ApprovalRequest,
  actor: string,
  attempt: "approve" | "reject" | "abort",
  now: Date,
  /** The identity `actor` (a person's name) acted as, kept beside it in the audit. */
  identity?: string,
): Promise<never> {
  const decided = describeDecision(req);
  const decidedAt = Date.parse(req.decision?.at ?? "");
  const at = new Date(Math.max(now.getTime(), Number.isNaN(decidedAt) ? 0 : decidedAt + 1, Date.now()));
  await Audit.record(
    {
      kind: "approval.conflict",
      actor,
      ...(identity && identity !== actor ? { identity } : {}),
      reason: `${attempt} by ${actor} did not count: the request was already ${decided}`,
      executionId: req.executionId,
      runbook: req.runbook,
    },
    at,
  );
  throw new ConflictError(
    "already_decided",
    `execution ${req.executionId} was already ${decided}; your ${attempt} did not count`,
  );
}

/**
 * Sends the answer that decided the request to the waiting Task. A wait that already ended is
 * a 409; one that ended at its deadline (TaskTimedOut) means this answer did not count, and the
 * request is marked so before the 409 says it (see {@link expireLate}).
 */
async function sendToTask(
  command: SendTaskSuccessCommand | SendTaskFailureCommand,
  executionId: string,
  what: "approve" | "reject",
) {
  try {
    await client(SFNClient, "sfn").send(command as never);
  } catch (err) {
    const name = (err as Error).name;
    if (name === "TaskTimedOut") {
      const req = await expireLate(executionId);
      throw new ConflictError(
        "wait_ended",
        `execution ${executionId} had stopped waiting: its deadline${req ? ` (${req.deadline})` : ""} passed before your ${what === "approve" ? "approval" : "rejection"} reached it, so it did not count; the run ends ${APPROVAL_ERRORS.timedOut} and nothing was changed`,
      );
    }
    if (name === "TaskDoesNotExist")
      throw new ConflictError(
        "wait_ended",
        `execution ${executionId} had stopped waiting (${name}) before the answer reached it`,
      );
    throw err;
  }
}

/** How often an answer re-reads and writes again because another answer landed first (each retry means someone else wrote). */
const MAX_ANSWER_ATTEMPTS = 20;

/**
 * Answers a waiting run. 404 for an unknown run; 409 when it is not waiting, this person
 * already answered, or another answer decided first (naming it and who gave it); 403
 * (audited) for someone who may not. The run goes on once `minApprovers` people approved; one
 * rejection ends it. Exactly one answer decides: the answer and the decision are one
 * conditional write (see `state/approvals.ts`).
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
  let req = await ApprovalRecords.find(input.executionId);
  if (!req || (execution.status !== "WAITING_FOR_APPROVAL" && req.status === "PENDING")) {
    throw new ConflictError(
      "not_waiting",
      `execution ${input.executionId} is ${execution.status}, not waiting for approval`,
    );
  }
  const policy = policyOf(req, execution);
  const person = People.personOf(config, input.actor.id);
  // The audit names the person, and keeps what they arrived as (a role session's full ARN too).
  const arrived = input.actor.raw ?? input.actor.id;
  const identity = arrived !== person.name ? { identity: arrived } : {};
  const denied = whyNot(config, policy, input.actor, input.answer);
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
  // Decided already (a moment ago by a racing answer, or long ago): told who won, audited.
  if (req.status !== "PENDING") {
    if (req.decision) await lost(req, person.name, input.answer, now, input.actor.id);
    throw new ConflictError(
      "not_waiting",
      `execution ${input.executionId} is ${execution.status} (its approval is ${req.status}), not waiting for approval`,
    );
  }
  if (input.answer === "reject" && !input.comment?.trim())
    throw new ValidationError("missing_reason", "a rejection needs a reason", [
      { path: "reason", message: "required" },
    ]);
  // One answer per person: recorded under the person, so a second identity of theirs (Slack
  // after IAM, another session of one role) is "already answered", not a second approver.
  const groups = groupsNamed(config, input.actor.groups);
  const mine: ApprovalRecords.Answer = {
    actor: person.key,
    ...(person.key !== input.actor.id ? { identity: input.actor.id } : {}),
    ...(input.actor.raw && input.actor.raw !== input.actor.id ? { raw: input.actor.raw } : {}),
    ...(groups.length ? { groups } : {}),
    answer: input.answer,
    comment: input.comment?.trim() || undefined,
    at: now.toISOString(),
  };
  let status: ApprovalRecords.ApprovalStatus = "PENDING";
  let approvals = 0;
  for (let attempt = 0; ; attempt++) {
    const earlier = req.answers.find(
      (a) => People.personOf(config, a.identity ?? a.actor).key === person.key,
    );
    if (earlier) {
      // A second identity of one person (or the same one twice, at once): the attempt is
      // audited after the answer that counted, as a lost race is.
      const why = `${person.name} already answered (${earlier.answer}${earlier.identity ? ` as ${earlier.identity}` : ""} at ${earlier.at}); this ${input.answer} did not count`;
      await Audit.record(
        {
          kind: "approval.conflict",
          actor: person.name,
          ...identity,
          reason: why,
          executionId: input.executionId,
          runbook: req.runbook,
        },
        new Date(Math.max(now.getTime(), (Date.parse(earlier.at) || 0) + 1, Date.now())),
      );
      throw new ConflictError("already_answered", why);
    }
    const answers = [...req.answers, mine];
    approvals = validApprovers(config, policy, answers).length;
    status =
      input.answer === "reject" ? "REJECTED" : approvals >= policy.minApprovers ? "APPROVED" : "PENDING";
    const decision: ApprovalRecords.Decision | undefined =
      status === "PENDING"
        ? undefined
        : { outcome: input.answer, by: person.key, at: now.toISOString(), comment: mine.comment };
    if (await ApprovalRecords.decide(req, { answer: mine, status, decision })) break;
    // Another write landed first: see what it did.
    const fresh = await ApprovalRecords.find(input.executionId);
    if (!fresh) throw new NotFoundError("execution", input.executionId);
    if (fresh.status !== "PENDING") await lost(fresh, person.name, input.answer, now, input.actor.id);
    if (attempt >= MAX_ANSWER_ATTEMPTS)
      throw new ConflictError("busy", `execution ${input.executionId}: too many answers at once; try again`);
    req = fresh;
  }
  // This answer decided: the token it sends is the request's latest (a retried request step
  // may have replaced it since it was read).
  const token = (await ApprovalRecords.find(input.executionId))?.token ?? req.token;
  const audit = () =>
    Audit.record(
      {
        kind: input.answer === "approve" ? "approval.approved" : "approval.rejected",
        actor: person.name,
        ...identity,
        reason: `${input.answer === "approve" ? "approved" : "rejected"} ${req.runbook} ${input.executionId}${input.comment ? `: ${input.comment}` : ""}${status === "PENDING" ? ` (${approvals} of ${policy.minApprovers} approvals)` : ""}`,
        executionId: input.executionId,
        runbook: req.runbook,
      },
      now,
    );
  // Audited before the run is told, so the decision's entry precedes what the run does next.
  await audit();
  crashPoint("approval:after-decide");
  if (status === "REJECTED") {
    await sendToTask(
      new SendTaskFailureCommand({
        taskToken: token,
        error: APPROVAL_ERRORS.rejected,
        cause: `rejected by ${person.name}: ${input.comment}`,
      }),
      input.executionId,
      input.answer,
    );
  } else if (status === "APPROVED") {
    await Executions.setWaiting(input.executionId, false);
    await sendToTask(
      new SendTaskSuccessCommand({
        taskToken: token,
        // Informational only: the verify step after the wait reads the record, not this.
        output: JSON.stringify({
          approvedBy: validApprovers(config, policy, [...req.answers, mine]).map(nameOf),
          at: now.toISOString(),
        }),
      }),
      input.executionId,
      input.answer,
    );
  }
  await Lifecycle.publish(
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
  );
  return { status, approvals, needed: policy.minApprovers };
}

/**
 * An abort of a run whose approval request is still pending is an answer too, and races the
 * others by the same rule: one conditional write closes the request (decision `abort`). True
 * when the abort won (the caller ends the wait: nothing was changed); false when there is no
 * pending request to contend for. Another answer that decided first: audited, 409 naming it.
 */
export async function closeForAbort(input: {
  executionId: string;
  /** The identity aborting: the decision names its person, the audit both. */
  actor: string;
  reason: string;
  now: Date;
  /** The run was seen waiting: a request decided since was decided under this abort's feet. */
  waiting: boolean;
}): Promise<ApprovalRecords.ApprovalRequest | undefined> {
  const person = People.personOf(currentConfig(), input.actor);
  let req = await ApprovalRecords.find(input.executionId);
  for (let attempt = 0; req; attempt++) {
    if (req.status !== "PENDING") {
      // Seen waiting, and an answer decided first: this abort lost the race. Otherwise the run
      // is past its approval, and this is an abort of a running run.
      if (input.waiting && req.decision) await lost(req, person.name, "abort", input.now, input.actor);
      return undefined;
    }
    const decision: ApprovalRecords.Decision = {
      outcome: "abort",
      by: person.key,
      at: input.now.toISOString(),
      comment: input.reason,
    };
    if (await ApprovalRecords.decide(req, { status: "CLOSED", decision }))
      return (await ApprovalRecords.find(input.executionId)) ?? req;
    if (attempt >= MAX_ANSWER_ATTEMPTS)
      throw new ConflictError("busy", `execution ${input.executionId}: too many answers at once; try again`);
    req = await ApprovalRecords.find(input.executionId);
  }
  return undefined;
}

/**
 * The built-in step after an approval wait: the run goes on only if its approval record is
 * APPROVED, with a decision by an approver, by at least `minApprovers` valid approvers under
 * the policy admission fixed on the run's record. Anything else — a SendTaskSuccess with a
 * token read from the table or from Step Functions' history, a record written by hand —
 * fails the run with `ApprovalNotRecorded` ("approval not recorded: …"), audited, before any
 * step that changes something.
 */
export async function verify(
  event: { runbook: string; input: { execution: { id: string } } },
  now = new Date(),
): Promise<{ approvedBy: string[]; at: string }> {
  const id = event.input.execution.id;
  const [execution, req] = await Promise.all([Executions.find(id), ApprovalRecords.find(id)]);
  const config = currentConfig();
  let why: string | undefined;
  let approvedBy: string[] = [];
  if (!execution?.approval?.required) why = "the run's record asks for no approval";
  else if (!req) why = "no approval request is recorded";
  else if (req.status !== "APPROVED") why = `the request is ${req.status}`;
  else if (req.decision?.outcome !== "approve") why = `the request was ${describeDecision(req)}`;
  else if (req.answers.some((a) => a.answer !== "approve"))
    why = "the request has an answer that is not an approval";
  else {
    const policy = policyOf(req, execution);
    approvedBy = validApprovers(config, policy, req.answers);
    if (!approvedBy.includes(req.decision.by))
      why = `${nameOf(req.decision.by)}, who decided it, may not approve it`;
    else if (approvedBy.length < policy.minApprovers)
      why = `${approvedBy.length} of ${policy.minApprovers} required approvals are valid`;
  }
  if (why) {
    const message = `approval not recorded: ${why}; the wait for approval ended without one (a task token used outside Reflex?), so nothing was changed`;
    await Audit.record(
      {
        kind: "approval.unverified",
        actor: `runbook:${event.runbook}`,
        reason: message,
        executionId: id,
        runbook: event.runbook,
      },
      now,
    );
    const e = new StepExecutionError(APPROVAL_ERRORS.notRecorded, message);
    e.name = APPROVAL_ERRORS.notRecorded;
    throw e;
  }
  return { approvedBy: approvedBy.map(nameOf), at: req?.decision?.at ?? now.toISOString() };
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
