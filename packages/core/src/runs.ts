/**
 * Starting runs, running their steps, and closing them. The same functions serve every entry
 * point (API, CLI, schedules, the event gate) and both modes: in AWS they call Step Functions,
 * locally the local Step Functions API, through the same SDK client.
 */
import { randomBytes } from "node:crypto";
import {
  DescribeExecutionCommand,
  SendTaskFailureCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { locationKey } from "./accounts.ts";
import * as ApprovalAnswers from "./approvals.ts";
import { client } from "./aws.ts";
import { currentConfig, toIssues } from "./config/index.ts";
import { crashPoint } from "./crash.ts";
import { optionalEnv, region } from "./env.ts";
import { AccessDeniedError, ConflictError, NotFoundError, ValidationError } from "./errors.ts";
import * as Lifecycle from "./lifecycle.ts";
import * as Access from "./policy/access.ts";
import * as Guardrails from "./policy/guardrails.ts";
import * as People from "./policy/people.ts";
import { APPROVAL_ERRORS, RUN_ABORTED } from "./runbooks/asl.ts";
import * as Runbooks from "./runbooks/index.ts";
import * as Approvals from "./state/approvals.ts";
import * as Audit from "./state/audit.ts";
import * as Executions from "./state/executions.ts";
import * as Locks from "./state/locks.ts";

export interface StartRequest {
  runbook: string;
  params: unknown;
  dryRun?: boolean;
  trigger: Executions.Trigger;
  /** The execution name; the gate passes its dedup key so a retried start is the same run. */
  executionId?: string;
  /**
   * Something the caller reserves in parallel with the target lock (the gate's rate-limit
   * slot): resolves to undefined when granted, or the reason it was refused — then the run does
   * not start (ConflictError `reservation_refused`) and the lock is given back.
   */
  reservation?: Promise<string | undefined>;
  /** Whether the run waits for a person, decided by admission; part of the execution input. */
  approval?: Executions.ApprovalPlan;
  /** The maintenance window a run was started in. */
  window?: Executions.Execution["window"];
  /** The member account and Region the run acts in (admission checked the config names them). */
  location?: Executions.Execution["location"];
}

/** The ARN of a runbook's state machine: `REFLEX_STATE_MACHINE_ARN_PREFIX` + name. */
export function stateMachineArn(runbook: string): string {
  const prefix = optionalEnv(
    "REFLEX_STATE_MACHINE_ARN_PREFIX",
    `arn:aws:states:${region()}:000000000000:stateMachine:reflex-local-`,
  );
  return `${prefix}${runbook}`;
}

/** A fresh execution id: `<runbook>-<utc time>-<random>`, valid as a Step Functions name. */
export function newExecutionId(runbook: string, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${runbook}-${stamp}-${randomBytes(3).toString("hex")}`;
}

/** Validates params against the runbook's schema; ValidationError naming each bad path. */
export function parseParams(runbook: Runbooks.Runbook, params: unknown): Record<string, unknown> {
  const result = runbook.params.safeParse(params ?? {});
  if (!result.success) {
    const issues = toIssues(result.error, ["params"]);
    throw new ValidationError(
      "invalid_params",
      `invalid params for ${runbook.name}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
      issues,
    );
  }
  return result.data as Record<string, unknown>;
}

/** JSON with object keys sorted: the same run always gets the same Step Functions input. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v as object)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

/** The Step Functions input of a run (canonical JSON, so a retried start sends the same). */
export function executionInput(e: Executions.Execution): string {
  return canonicalJson({
    execution: {
      id: e.id,
      runbook: e.runbook,
      dryRun: e.dryRun,
      startedAt: e.startedAt,
      ...(e.window ? { window: e.window } : {}),
    },
    params: e.params,
    ...(e.approval ? { approval: e.approval } : {}),
  });
}

/**
 * Validates, records, locks and starts a run. Nothing is written for invalid input.
 *
 * Write order (crash-safe): the locks (sorted, all or none), each naming the execution id as
 * its holder, with the caller's reservation; then the running marker; then the record, RUNNING
 * and listed, in one conditional write; then StartExecution. Dying anywhere leaves locks
 * without a record (the reconciler frees them once older than its cutoff), a marker without a
 * record (`Executions.active` tidies it after the same time), or a listed RUNNING record whose
 * execution the reconciler finds or reports lost. A start retried with the same id (an event
 * redelivered, a schedule fired twice) takes its locks again (they are re-entrant for their
 * holder) and finishes what a dead predecessor began; a run of that id that already exists is
 * `execution_exists`, and locks taken again for a run that has ended are given back.
 *
 * A lock held by another run is a ConflictError (`target_locked`); the caller's reservation
 * refused is `reservation_refused`. Either way nothing is left written.
 *
 * @example
 * const run = await Runs.start({ runbook: "scale", params: { autoScalingGroup: "web", change: "+1" },
 *   trigger: { kind: "manual", actor: "cli" } });
 */
export async function start(req: StartRequest, now = new Date()): Promise<Executions.Execution> {
  const runbook = Runbooks.get(req.runbook);
  const params = parseParams(runbook, req.params);
  const dryRun = req.dryRun ?? false;
  const id = req.executionId ?? newExecutionId(runbook.name, now);
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(id)) {
    throw new ValidationError("invalid_execution_id", `execution id '${id}' must be 1-80 of A-Z a-z 0-9 _ -`);
  }
  // A dry-run changes nothing, so it takes no lock and can run beside a real run.
  const own = runbook.locks?.(params as never) ?? [];
  const location = req.location;
  // One resource id in two accounts (or Regions) is two resources: two locks.
  const locks = dryRun ? [] : Locks.order(location ? own.map((l) => locationKey(location, l)) : own);
  const lease = currentConfig().guardrails.lockLease;

  // The locks first (with the caller's reservation), each naming this execution id; then the
  // running marker and the record, RUNNING and listed, in one write: no STARTING record and no
  // promotion. Nothing is written before a lock is held, so a refusal leaves nothing behind.
  const began = performance.now();
  // This attempt's mark on its locks: another start of the same id (a schedule fired twice) may
  // be under way with no record yet, holding the same locks (re-entrant); a refusal or a give-up
  // with no record to go by gives back only the locks this attempt took free and nobody took
  // again since (a dead start's locks it took again are left to the reconciler's cutoff).
  const attempt = randomBytes(8).toString("hex");
  const giveBackOwn = (fresh: string[]) => Promise.all(fresh.map((l) => Locks.release(l, id, attempt)));
  const [taking, reserving] = await Promise.allSettled([
    Locks.acquireAll(locks, id, lease, now.getTime(), attempt),
    req.reservation,
  ]);
  // The store failed to take the reservation (or a lock): none is left held, then the error.
  if (taking.status === "rejected" || reserving.status === "rejected") {
    if (taking.status === "fulfilled" && taking.value.ok) await giveBackOwn(taking.value.fresh);
    throw taking.status === "rejected" ? taking.reason : (reserving as PromiseRejectedResult).reason;
  }
  const got = taking.value;
  const refusal = reserving.value;
  if (refusal || !got.ok) {
    // A run of this id that already exists is a redelivery, whatever holds the target now; one
    // still active holds these locks itself (they are re-entrant), so they stay with it.
    const existing = await Executions.find(id);
    const running = existing && Executions.ACTIVE.includes(existing.status);
    if (got.ok && !existing) await giveBackOwn(got.fresh);
    else if (got.ok && !running) await Promise.all(locks.map((l) => Locks.release(l, id)));
    // A STARTING record an earlier version's start left, refused now as it would have been then.
    if (existing?.status === "STARTING") await Executions.discard(id);
    else if (existing) await alreadyStarted(existing);
    if (refusal) throw new ConflictError("reservation_refused", refusal);
    if (!got.ok)
      throw new ConflictError(
        "target_locked",
        `target '${got.target}' is locked by execution ${got.holder ?? "(released just now)"}`,
      );
  }
  crashPoint("start:after-locks");
  // The reconciler frees a lock without a record once it is older than its cutoff (10 minutes):
  // a start that took anywhere near that long between its locks and its record gives up instead
  // (unless a start of the same id wrote the record meanwhile: then the locks are that run's).
  if (performance.now() - began > START_GIVE_UP_MS) {
    const existing = await Executions.find(id);
    if (!existing) await giveBackOwn(got.fresh);
    else await alreadyStarted(existing);
    throw new Error(`the start of ${id} took over ${START_GIVE_UP_MS / 1000} s before its record; given up`);
  }

  let execution: Executions.Execution;
  let marked = false;
  try {
    execution = await Executions.createRunning(
      {
        id,
        runbook: runbook.name,
        dryRun,
        params,
        trigger: req.trigger,
        locks,
        ...(req.approval ? { approval: req.approval } : {}),
        ...(req.window ? { window: req.window } : {}),
        ...(location ? { location } : {}),
      },
      now,
      () => {
        marked = true;
        crashPoint("start:after-marker");
      },
    );
  } catch (err) {
    // The store failed to write the marker: no record was tried, so this attempt's locks go back.
    if (!marked) await giveBackOwn(got.fresh).catch(() => undefined);
    if (!(err instanceof ConflictError && err.code === "execution_exists")) throw err;
    const existing = await Executions.find(id);
    if (existing?.status === "STARTING") {
      // A STARTING record an earlier version's start left (it wrote the record before its
      // locks): finish it. Its locks are this start's (same id, same params), taken above.
      const promoted = await Executions.promote(id, now);
      if (!promoted) throw err;
      execution = promoted;
    } else {
      // Not this start's run: the marker just written is not that run's (its time differs).
      if (existing?.startedAt !== now.toISOString())
        await Executions.unmark(id, now.toISOString()).catch(() => undefined);
      // A run that ended released its locks: the ones just taken again under its id are not its.
      if (!existing || !Executions.ACTIVE.includes(existing.status))
        await Promise.all(locks.map((l) => Locks.release(l, id)));
      if (existing) await alreadyStarted(existing);
      throw err;
    }
  }
  crashPoint("start:after-record");

  // The audit entry, the lifecycle event and StartExecution go together: each only needs the
  // record to exist. If the start fails, the run is closed as FAILED (audited and published).
  const audit = Audit.record(
    {
      kind: "execution.started",
      actor: req.trigger.actor,
      // A named trigger (rule, schedule, window, the run repeated) by its name; a person by who.
      reason: `${dryRun ? "dry-run of " : ""}${runbook.name}${location ? ` in account ${location.account} ${location.region}` : ""} started by ${req.trigger.name ? `${req.trigger.kind} '${req.trigger.name}'` : `${req.trigger.actor} (${req.trigger.kind})`}`,
      executionId: id,
      runbook: runbook.name,
      eventId: req.trigger.eventId,
      data: { params, dryRun, locks, ...(location ? { location } : {}) },
    },
    now,
  );
  const published = Lifecycle.publish(
    "Execution Started",
    { executionId: id, runbook: runbook.name, dryRun, trigger: req.trigger, params },
    now,
  );
  try {
    await client(SFNClient, "sfn").send(
      new StartExecutionCommand({
        stateMachineArn: stateMachineArn(runbook.name),
        name: id,
        input: executionInput(execution),
      }),
    );
    crashPoint("start:after-start-execution");
  } catch (err) {
    await Promise.all([audit, published]);
    await finish(id, { status: "FAILED", error: "StartFailed", cause: (err as Error).message });
    throw err;
  }
  await Promise.all([audit, published]);
  return execution;
}

/**
 * How long a start may take from taking its locks to writing its record before it gives up
 * (and gives them back): well under the reconciler's cutoff, after which a lock without a
 * record is taken for a dead start's and freed.
 */
export const START_GIVE_UP_MS = 60_000;

/** A start whose id is already a run's: completes a RUNNING one's start, then `execution_exists`. */
async function alreadyStarted(existing: Executions.Execution): Promise<never> {
  if (existing.status === "RUNNING") await ensureStarted(existing);
  throw new ConflictError("execution_exists", `execution '${existing.id}' already exists`);
}

/**
 * Makes sure a RUNNING run's execution exists in Step Functions: a start that died between
 * listing the record and StartExecution is completed by its retry, instead of waiting for the
 * reconciler to report it lost. StartExecution with the same name and input is idempotent;
 * an execution that already ended is ExecutionAlreadyExists, which is fine.
 */
async function ensureStarted(e: Executions.Execution): Promise<void> {
  try {
    await client(SFNClient, "sfn").send(
      new StartExecutionCommand({
        stateMachineArn: stateMachineArn(e.runbook),
        name: e.id,
        input: executionInput(e),
      }),
    );
  } catch (err) {
    if ((err as Error).name !== "ExecutionAlreadyExists") throw err;
  }
}

/** Runs started by rules and schedules (not by a person) count toward the circuit breaker. */
const AUTOMATIC: ReadonlyArray<Executions.Trigger["kind"]> = ["rule", "schedule", "window"];

/** The terminal statuses Step Functions reports, as Reflex records them. */
export type FinalStatus = Exclude<
  Executions.ExecutionStatus,
  "RUNNING" | "STARTING" | "WAITING_FOR_APPROVAL"
>;

/**
 * Errors that end a run that a person (or the lack of one) stopped, not one that broke: it is
 * recorded ABORTED, and it does not count toward the circuit breaker.
 */
const STOPPED_BY_PEOPLE = new Set<string>([APPROVAL_ERRORS.rejected, APPROVAL_ERRORS.timedOut, RUN_ABORTED]);

/**
 * Closes a run: marks the record, releases its locks, audits. Safe to call twice (a
 * redelivered status event); only the first call does anything. Returns the closed record.
 */
export async function finish(
  id: string,
  outcome: {
    status: FinalStatus;
    error?: string;
    cause?: string;
    attention?: Executions.Execution["attention"];
  },
  now = new Date(),
): Promise<Executions.Execution | undefined> {
  outcome = await unrecordedStop(id, outcome, now);
  outcome = await lateAnswer(id, outcome, now);
  if (outcome.status === "FAILED" && outcome.error && STOPPED_BY_PEOPLE.has(outcome.error))
    outcome = { ...outcome, status: "ABORTED" };
  const closed = await Executions.complete(id, outcome, now);
  if (!closed) return undefined;
  const succeeded = outcome.status === "SUCCEEDED";
  const aborted = outcome.status === "ABORTED";
  const lost = outcome.error === LOST;
  const failedAutomatically =
    (outcome.status === "FAILED" || outcome.status === "TIMED_OUT") &&
    AUTOMATIC.includes(closed.trigger.kind) &&
    !closed.dryRun;
  // Once the record is closed, the rest are independent of each other.
  await Promise.all([
    ...(closed.locks ?? []).map((lock) => Locks.release(lock, id)),
    Audit.record(
      {
        kind: succeeded
          ? "execution.succeeded"
          : lost
            ? "execution.lost"
            : aborted
              ? "execution.aborted"
              : "execution.failed",
        actor: `runbook:${closed.runbook}`,
        reason: succeeded
          ? `${closed.runbook} succeeded`
          : `${closed.runbook} ${outcome.status.toLowerCase()}: ${outcome.error ?? ""}${outcome.cause ? ` — ${outcome.cause}` : ""}`,
        executionId: id,
        runbook: closed.runbook,
      },
      now,
    ),
    Lifecycle.publish(
      succeeded
        ? "Execution Succeeded"
        : lost
          ? "Execution Lost"
          : aborted
            ? "Execution Aborted"
            : "Execution Failed",
      {
        executionId: id,
        runbook: closed.runbook,
        status: outcome.status,
        error: outcome.error,
        cause: outcome.cause,
        trigger: closed.trigger,
        result: closed.result,
        attention: closed.attention,
      },
      now,
    ),
    failedAutomatically ? Guardrails.recordFailure(currentConfig(), id, now.getTime()) : undefined,
    // A request nobody answered before the run ended is closed with it.
    closed.approval?.required
      ? Approvals.close(id, outcome.error === APPROVAL_ERRORS.timedOut ? "TIMED_OUT" : "CLOSED")
      : undefined,
  ]);
  return closed;
}

/**
 * A wait for approval failed with a person's error (rejected, aborted) while its request is
 * still pending: nobody answered through Reflex — the task token was used outside it (it is a
 * bearer credential). The run ends FAILED `ApprovalNotRecorded`, audited, not as a person's
 * rejection or abort with the sender's words as the cause. Nothing was changed either way.
 */
async function unrecordedStop<O extends { status: FinalStatus; error?: string; cause?: string }>(
  id: string,
  outcome: O,
  now: Date,
): Promise<O> {
  if (
    outcome.status !== "FAILED" ||
    (outcome.error !== APPROVAL_ERRORS.rejected && outcome.error !== RUN_ABORTED)
  )
    return outcome;
  const req = await Approvals.find(id);
  if (req?.status !== "PENDING") return outcome;
  const cause = `approval not recorded: the wait for approval was failed with ${outcome.error} ("${outcome.cause ?? ""}") but no rejection is recorded and nobody aborted the run through Reflex (a task token used outside it?); nothing was changed`;
  await Audit.record(
    {
      kind: "approval.unverified",
      actor: `runbook:${req.runbook}`,
      reason: cause,
      executionId: id,
      runbook: req.runbook,
    },
    now,
  );
  return { ...outcome, error: APPROVAL_ERRORS.notRecorded, cause };
}

/**
 * A wait for approval that timed out: its request is closed TIMED_OUT here, before the run is,
 * so no answer can decide it afterwards. One that an answer decided all the same (it won its
 * write after the Task had timed out, or its sender died before telling the run) did not count:
 * the request is marked so and audited (`Approvals.expireLate`), and the run's cause names that
 * answer, so the record, the audit and the run tell one story. Safe to repeat.
 */
async function lateAnswer<O extends { status: FinalStatus; error?: string; cause?: string }>(
  id: string,
  outcome: O,
  now: Date,
): Promise<O> {
  if (outcome.error !== APPROVAL_ERRORS.timedOut) return outcome;
  if (await Approvals.close(id, "TIMED_OUT")) return outcome;
  // A moment before `now`: the expiry is audited before the run's close (`execution.aborted`).
  const req = await ApprovalAnswers.expireLate(id, new Date(now.getTime() - 1));
  if (!req?.expired) return outcome;
  return {
    ...outcome,
    cause: `the wait for approval ended at its deadline before the answer reached the run: ${ApprovalAnswers.describeDecision(req)}; nothing was changed`,
  };
}

/** The ARN of a run's Step Functions execution (its name is the execution id). */
export function executionArn(runbook: string, id: string): string {
  return `${stateMachineArn(runbook).replace(":stateMachine:", ":execution:")}:${id}`;
}

/** The error a run closed by the reconciler carries: Step Functions has no execution for it. */
export const LOST = "ExecutionLost";

/**
 * What a runbook can tell about a lost run of its own (the snapshots a lost backup left behind):
 * given by the caller, because finding out needs the steps' cloud clients, which this module
 * must not load.
 */
export type InspectLost = (e: Executions.Execution) => Promise<unknown>;

export interface Reconciled {
  executionId: string;
  status: FinalStatus | "DISCARDED";
  reason: string;
}

/**
 * Puts right what a crash, a lost status event or a local restart left behind. Runs on a
 * schedule in AWS (every 15 minutes) and when local mode starts.
 *
 * - Executions: each RUNNING run older than `olderThanMs` is asked of Step Functions; an ended
 *   execution closes the run with its real status; a missing one closes it ABORTED
 *   (`ExecutionLost`) with `attention` — the steps it completed, the ones in flight, and what
 *   its runbook finds it left behind — and publishes `Execution Lost`, because a half-done
 *   change needs a person to look at it.
 * - Locks: every lock is walked; one whose holder has no record, ended, or is a start that died
 *   before it was promoted (STARTING for longer than `olderThanMs`) is released, and such a
 *   dead start's record is removed.
 * - Listings: an index entry whose record is gone (dynalite writes the index before the item, so
 *   a crash between them leaves one) is cleared, so no half-written execution is listed.
 *
 * @example
 * const closed = await Runs.reconcile({ olderThanMs: 10 * 60_000 });
 */
export async function reconcile(
  opts: { olderThanMs?: number; now?: Date; scanLimit?: number; inspectLost?: InspectLost } = {},
): Promise<Reconciled[]> {
  const now = opts.now ?? new Date();
  const cutoff = now.getTime() - (opts.olderThanMs ?? 10 * 60_000);
  const closed: Reconciled[] = [];
  let scanned = 0;
  let cursor: string | undefined;
  do {
    const page = await Executions.list({ limit: 100, cursor });
    for (const listed of page.executions) {
      if (!Executions.ACTIVE.includes(listed.status) || Date.parse(listed.startedAt) > cutoff) continue;
      const e = await Executions.find(listed.id);
      if (!e || e.status === "STARTING") {
        // Listed, but the record is missing or was never promoted: a start that died mid-write.
        if (e) await discardStart(e);
        await Executions.forgetListing(listed.id, `${listed.startedAt}#${listed.id}`);
        closed.push({ executionId: listed.id, status: "DISCARDED", reason: "HalfWrittenStart" });
        continue;
      }
      if (!Executions.ACTIVE.includes(e.status)) continue;
      const outcome = await askStepFunctions(e, opts.inspectLost);
      if (outcome && (await finish(e.id, outcome, now))) {
        closed.push({ executionId: e.id, status: outcome.status, reason: outcome.error ?? outcome.status });
      }
    }
    scanned += page.executions.length;
    cursor = page.next;
  } while (cursor && scanned < (opts.scanLimit ?? 2000));
  closed.push(...(await reconcileLocks(cutoff, now)));
  // Running markers a dead start left without a record (and any whose run has ended): tidied.
  await Executions.active({ now: now.getTime(), underWayMs: now.getTime() - cutoff });
  return closed;
}

async function askStepFunctions(
  e: Executions.Execution,
  inspectLost?: InspectLost,
): Promise<
  | { status: FinalStatus; error?: string; cause?: string; attention?: Executions.Execution["attention"] }
  | undefined
> {
  try {
    const found = await client(SFNClient, "sfn").send(
      new DescribeExecutionCommand({ executionArn: executionArn(e.runbook, e.id) }),
    );
    if (found.status === "RUNNING" || found.status === "PENDING_REDRIVE" || !found.status) return undefined;
    return { status: found.status as FinalStatus, error: found.error, cause: found.cause };
  } catch (err) {
    if ((err as Error).name !== "ExecutionDoesNotExist") throw err;
  }
  const described = await Executions.describe(e.id);
  const completedSteps = described.steps
    .filter((s) => s.status === "SUCCEEDED")
    .map((s) => (s.target ? `${s.state} (${s.target})` : s.state));
  const inFlightSteps = described.steps
    .filter((s) => s.status === "RUNNING")
    .map((s) => (s.target ? `${s.state} (${s.target})` : s.state));
  let report: unknown;
  if (inspectLost && !e.dryRun) {
    try {
      report = await inspectLost(e);
    } catch (err) {
      report = { error: `could not inspect what the run left behind: ${(err as Error).message}` };
    }
  }
  const did = completedSteps.length
    ? `it had completed ${completedSteps.join(", ")}${inFlightSteps.length ? `; in flight: ${inFlightSteps.join(", ")}` : ""}`
    : "it had completed no step";
  return {
    status: "ABORTED",
    error: LOST,
    cause: `Step Functions has no execution for this run (it never started, or local mode restarted while it ran); ${did}. Check the targets: a change may be half-done.`,
    attention: {
      reason: "lost: the run's end was never observed; check whether its change was half-done",
      completedSteps,
      inFlightSteps,
      ...(report !== undefined ? { report } : {}),
    },
  };
}

/** Releases a dead start's locks (if it still holds them), then removes its record. */
async function discardStart(e: Executions.Execution): Promise<void> {
  await Promise.all((e.locks ?? []).map((l) => Locks.release(l, e.id)));
  await Executions.discard(e.id);
}

async function reconcileLocks(cutoff: number, now: Date): Promise<Reconciled[]> {
  const out: Reconciled[] = [];
  for (const target of await Locks.listed()) {
    const lock = await Locks.holder(target, now.getTime());
    if (!lock) {
      await Locks.forget(target); // the index outlived the item, or the lease ran out
      continue;
    }
    const holder = await Executions.find(lock.owner);
    if (holder && Executions.ACTIVE.includes(holder.status)) continue;
    // A start takes its locks before it writes its record: one under way right now has none yet.
    if (!holder && Date.parse(lock.acquiredAt) > cutoff) continue;
    if (holder?.status === "STARTING") {
      if (Date.parse(holder.startedAt) > cutoff) continue; // a start under way right now
      await discardStart(holder);
      out.push({ executionId: holder.id, status: "DISCARDED", reason: "StartDiedHoldingLocks" });
      continue;
    }
    // No such run, or it ended without releasing (a crash between closing and releasing).
    if (await Locks.release(target, lock.owner)) {
      out.push({
        executionId: lock.owner,
        status: "DISCARDED",
        reason: holder ? `LockOfEndedRun:${target}` : `LockWithoutRun:${target}`,
      });
    }
  }
  return out;
}

/**
 * Stops a run a person no longer wants. Graceful (the default, like SSM's cancel): the run
 * starts no new target, steps in flight finish, its rollback steps undo what was done, and it
 * ends ABORTED with the reason; a run waiting for approval ends at once (nothing was changed).
 * `now`: StopExecution at once — no rollback; whatever was half-done stays so (said in the
 * answer). Both audited with the actor. 404 unknown run, 409 a run that is not active, 403 a
 * person who may not abort it.
 *
 * @example
 * await Runs.abort({ executionId, actor: { id: "cli:alice" }, reason: "wrong group" });
 */
export async function abort(input: {
  executionId: string;
  actor: Access.Actor;
  reason: string;
  now?: boolean;
  at?: Date;
}): Promise<{
  executionId: string;
  mode: "graceful" | "now";
  rollback: "will run" | "skipped" | "nothing to undo";
}> {
  const at = input.at ?? new Date();
  const reason = input.reason?.trim();
  if (!reason)
    throw new ValidationError("missing_reason", "an abort needs a reason", [
      { path: "reason", message: "required" },
    ]);
  const e = await Executions.find(input.executionId);
  if (!e || e.status === "STARTING") throw new NotFoundError("execution", input.executionId);
  if (!Executions.ACTIVE.includes(e.status))
    throw new ConflictError(
      "not_running",
      `execution ${e.id} is ${e.status}; only a running run can be aborted`,
    );
  const config = currentConfig();
  // The audit names the person (`people:`) and keeps the identity they acted as, as answers do.
  const person = People.personOf(config, input.actor.id);
  const who = { actor: person.name, ...(person.linked ? { identity: input.actor.id } : {}) };
  if (
    !Access.may(config, input.actor, "abort", e.runbook) &&
    !People.samePerson(config, input.actor.id, e.trigger.actor)
  ) {
    const why = `${person.name} may not abort ${e.runbook} runs`;
    await Audit.record(
      { kind: "abort.refused", ...who, reason: why, executionId: e.id, runbook: e.runbook },
      at,
    );
    throw new AccessDeniedError(why);
  }
  const sfn = client(SFNClient, "sfn");
  // A run whose approval request is still pending: the abort is one more answer to it, and
  // races the others by the same rule — one conditional write decides (Approvals.closeForAbort;
  // a 409 naming the answer that won first). Won: the wait ends here and nothing was changed.
  // Lost to an approval: the run goes on as approved, and this abort is refused, not half-done.
  const waiting = e.approval?.required
    ? await ApprovalAnswers.closeForAbort({
        executionId: e.id,
        actor: input.actor.id,
        reason,
        now: at,
        waiting: e.status === "WAITING_FOR_APPROVAL",
      })
    : undefined;
  const flagged = await Executions.requestCancel(e.id, { by: input.actor.id, reason, at: at.toISOString() });
  if (!flagged && !input.now && !waiting)
    throw new ConflictError("already_aborting", `execution ${e.id} is already being aborted`);
  let rollback: "will run" | "skipped" | "nothing to undo" = "will run";
  if (waiting) {
    rollback = "nothing to undo";
    try {
      await sfn.send(
        new SendTaskFailureCommand({
          taskToken: waiting.token,
          error: RUN_ABORTED,
          cause: `aborted by ${person.name}: ${reason}${input.now ? "" : " (while it waited for approval: nothing was changed)"}`,
        }),
      );
    } catch (err) {
      // The wait had just ended (its deadline): the run ends ABORTED without changing anything.
      if (!["TaskTimedOut", "TaskDoesNotExist"].includes((err as Error).name)) throw err;
    }
  } else if (input.now) {
    rollback = "skipped";
    await sfn.send(
      new StopExecutionCommand({
        executionArn: executionArn(e.runbook, e.id),
        error: RUN_ABORTED,
        cause: `aborted now by ${person.name}: ${reason} (rollback skipped)`,
      }),
    );
  }
  await Promise.all([
    Audit.record(
      {
        kind: "execution.abort-requested",
        ...who,
        reason: `${input.now ? "abort now (no rollback)" : "graceful abort"} of ${e.runbook} ${e.id}: ${reason}`,
        executionId: e.id,
        runbook: e.runbook,
      },
      at,
    ),
    Lifecycle.publish(
      "Abort Requested",
      {
        executionId: e.id,
        runbook: e.runbook,
        by: person.name,
        reason,
        mode: input.now ? "now" : "graceful",
        rollback,
      },
      at,
    ),
  ]);
  return { executionId: e.id, mode: input.now ? "now" : "graceful", rollback };
}
