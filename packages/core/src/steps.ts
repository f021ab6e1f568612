/**
 * Running one step of a runbook: the step worker's (Lambda's) whole job. Apart from `runs.ts`
 * because it loads the runbook's step implementations (from its manifest, on first use) and
 * their cloud clients, which the code that only starts runs must not carry.
 */

import { locationKey, roleArnOf } from "./accounts.ts";
import * as Approvals from "./approvals.ts";
import * as Aws from "./aws.ts";
import "./aws-sts.ts";
import { classify, TRANSIENT_ERROR } from "./aws-errors.ts";
import { currentConfig } from "./config/index.ts";
import { StepExecutionError, ValidationError } from "./errors.ts";
import * as Lifecycle from "./lifecycle.ts";
import * as Access from "./policy/access.ts";
import * as People from "./policy/people.ts";
import { APPROVAL_STEP, RUN_ABORTED, VERIFY_APPROVAL_STEP } from "./runbooks/asl.ts";
import type { StepContext } from "./runbooks/index.ts";
import * as Runbooks from "./runbooks/index.ts";
import { canonicalJson } from "./runs-api.ts";
import * as ApprovalRecords from "./state/approvals.ts";
import * as Audit from "./state/audit.ts";
import * as Executions from "./state/executions.ts";
import * as Locks from "./state/locks.ts";
import * as RunbookItems from "./state/runbook-items.ts";

/** After this long a step gets a RUNNING record of its own. */
const SLOW_STEP_MS = 2000;

/**
 * One lock per target, in sorted order, each named on the run's record before it is taken (so
 * closing the run releases it, and a crash in between leaves nothing the reconciler cannot
 * find). Not all-or-nothing: a target held by another run is reported, the rest are kept.
 */
export async function lockTargets(
  executionId: string,
  targets: string[],
  leaseMs: number,
  now: Date,
): Promise<{ held: string[]; locked: Array<{ target: string; holder?: string }> }> {
  const ordered = Locks.order(targets);
  await Executions.addLocks(executionId, ordered);
  const held: string[] = [];
  const locked: Array<{ target: string; holder?: string }> = [];
  for (const target of ordered) {
    if (await Locks.acquire(target, executionId, leaseMs, now.getTime())) held.push(target);
    else locked.push({ target, holder: (await Locks.holder(target, now.getTime()))?.owner });
  }
  return { held, locked };
}

/** The member account a run's location names, as the client factory assumes its role. */
function memberAccount(id: string): Aws.MemberAccount {
  const account = currentConfig().accounts.find((a) => a.id === id);
  if (!account)
    throw new StepExecutionError("UnknownAccount", `account ${id} is no longer in config accounts`);
  return {
    id: account.id,
    roleArn: roleArnOf(account),
    ...(account.externalId ? { externalId: account.externalId } : {}),
  };
}

/** The Lambda payload of every Task state. */
export interface StepEvent {
  runbook: string;
  step: string;
  input: Runbooks.RunInput & Record<string, unknown>;
}

/**
 * Runs one step of a runbook and records it (a step record, and an audit entry).
 * Errors are rethrown renamed for the state machine's Retry/Catch (see "Errors" in
 * `runbooks/define.ts`): a transient AWS error by its code (or `Reflex.TransientError`), which
 * the retriers retry for minutes; a permanent one by its own code, which fails the step at once.
 */
const beforeApproval = new Map<string, Set<string>>();

/**
 * Whether this payload is a step of a run admission started, as admission started it: a Lambda
 * payload is no authority by itself (anyone allowed `lambda:InvokeFunction` on the step worker
 * could otherwise make any change its role may, skipping admission and approvals). The run's
 * record must exist for this runbook and still run; the payload's execution (id, dry-run flag,
 * window) and params must be the ones Step Functions was started with (`Runs.executionInput`,
 * copied from the record); and a step the run reaches only after its approval needs the
 * approval recorded (the verify step after the wait checks it in full). Undefined when it is;
 * else why not.
 */
async function whyNotAdmitted(
  event: StepEvent,
  runbook: Runbooks.Runbook,
  record: Executions.Execution | undefined,
): Promise<string | undefined> {
  const execution = event.input?.execution;
  if (!record || record.runbook !== runbook.name || record.status === "STARTING")
    return `no run ${String(execution?.id).slice(0, 100)} of ${runbook.name} was admitted`;
  if (record.status !== "RUNNING" && record.status !== "WAITING_FOR_APPROVAL")
    return `run ${record.id} has ended (${record.status})`;
  if (Boolean(execution.dryRun) !== record.dryRun)
    return `run ${record.id} is ${record.dryRun ? "a dry-run" : "not a dry-run"}; the payload says otherwise`;
  if (
    (execution.runbook !== undefined && execution.runbook !== record.runbook) ||
    (execution.startedAt !== undefined && execution.startedAt !== record.startedAt) ||
    canonicalJson((execution as { window?: unknown }).window) !== canonicalJson(record.window)
  )
    return `the payload's execution is not run ${record.id} as it was started`;
  if ("params" in event.input && canonicalJson(event.input.params) !== canonicalJson(record.params))
    return `the payload's params are not run ${record.id}'s`;
  if (!record.approval?.required || event.step === APPROVAL_STEP || event.step === VERIFY_APPROVAL_STEP)
    return undefined;
  const before = beforeApproval.get(runbook.name) ?? Runbooks.stepsBeforeApproval(runbook.stateMachine);
  beforeApproval.set(runbook.name, before);
  if (before.has(event.step)) return undefined;
  // Fails closed: a runbook with no approval states cannot wait, so nothing of it runs unapproved.
  if (before.size === 0 && !Runbooks.hasApprovalWait(runbook.stateMachine))
    return `run ${record.id} needs approval (${record.approval.reasons.join("; ") || "required"}) and runbook ${runbook.name} has no approval states to wait in; '${event.step}' may not run unapproved`;
  const approval = await ApprovalRecords.find(record.id);
  if (approval?.status !== "APPROVED" || record.status !== "RUNNING")
    return `run ${record.id} has not been approved (${approval ? `its approval is ${approval.status}` : "no approval is recorded"}); '${event.step}' comes after the approval`;
  return undefined;
}

export async function runStep(event: StepEvent, now: () => Date = () => new Date()): Promise<unknown> {
  const runbook = Runbooks.get(event.runbook);
  const id = event.input?.execution?.id;
  const record = typeof id === "string" && id ? await Executions.find(id) : undefined;
  const refused = await whyNotAdmitted(event, runbook, record);
  if (refused) {
    if (record)
      await Audit.record({
        kind: "step.refused",
        actor: `runbook:${runbook.name}`,
        reason: `step ${event.step} refused: ${refused}`,
        executionId: record.id,
        runbook: runbook.name,
      });
    throw new ValidationError("step_not_admitted", `step ${event.step} refused: ${refused}`);
  }
  // The approval state's built-in step: record the request; the run then waits for its token.
  if (event.step === APPROVAL_STEP) {
    await Approvals.request(event as unknown as Approvals.ApprovalTaskEvent, now());
    return { requested: true };
  }
  // After the wait: the approval record, not the token's answer, decides whether the run goes
  // on. Recorded like any step (the console and `reflex show` see it pass or fail). Exempt
  // from the abort check below: an abort after the approval is for the next step to see, so
  // that the runbook's rollback (its Catch) runs as the abort's answer said it would.
  const verify = event.step === VERIFY_APPROVAL_STEP;
  // Graceful abort: a person asked the run to stop. No new step starts, except the runbook's
  // rollback steps, which undo what was done; steps in flight have finished by now.
  if (!verify && !runbook.rollback.includes(event.step)) {
    if (record?.cancel) {
      const e = new StepExecutionError(
        RUN_ABORTED,
        `aborted by ${record.cancel.by}: ${record.cancel.reason}`,
      );
      e.name = RUN_ABORTED;
      throw e;
    }
  }
  const fn = verify
    ? () => Approvals.verify(event, now())
    : (await Runbooks.stepsOf(runbook.name))[event.step];
  if (!fn) throw new ValidationError("unknown_step", `runbook ${runbook.name} has no step '${event.step}'`);
  const execution = event.input.execution;
  const config = currentConfig();
  // A run in a member account: its cloud calls carry that account's session, its locks its keys.
  const location = record?.location;
  const keyed = (target: string) => (location ? locationKey(location, target) : target);
  const unkeyed = (key: string) => (location ? key.slice(locationKey(location, "").length) : key);
  const ctx: StepContext & { maxTargets: number } = {
    executionId: execution.id,
    runbook: runbook.name,
    dryRun: execution.dryRun,
    state: event.step,
    now,
    automationTag: config.automationTag,
    maxTargets: Math.min(runbook.cap.maxTargets, config.guardrails.maxTargetsPerRun),
    lockTargets: async (targets) => {
      const got = await lockTargets(execution.id, targets.map(keyed), config.guardrails.lockLease, now());
      return {
        held: got.held.map(unkeyed),
        locked: got.locked.map((l) => ({ ...l, target: unkeyed(l.target) })),
      };
    },
    record: (fields) => Executions.setResult(execution.id, fields),
    page: async (reason) => {
      // On the run's record first: the notifier posts the page from there, never from the event.
      await Executions.setResult(execution.id, { page: { reason, at: now().toISOString() } });
      await Lifecycle.publish(
        "Attention Needed",
        { executionId: execution.id, runbook: runbook.name, reason },
        now(),
      );
    },
    items: {
      put: (key, value, opts) => RunbookItems.put(runbook.name, key, value, { ...opts, now: now() }),
      list: (prefix) => RunbookItems.list(runbook.name, prefix, now()),
      remove: (key) => RunbookItems.remove(runbook.name, key),
    },
    actor: async () => (await Executions.find(execution.id))?.trigger.actor ?? "unknown",
    person: async () =>
      People.personOf(currentConfig(), (await Executions.find(execution.id))?.trigger.actor ?? "unknown")
        .name,
    may: async (action) => {
      const trigger = (await Executions.find(execution.id))?.trigger;
      // Automation (rules, schedules, windows) has the config's authority, never a person's extras.
      if (!trigger || ["rule", "schedule", "window"].includes(trigger.kind)) return false;
      return Access.may(currentConfig(), { id: trigger.actor }, action, runbook.name);
    },
    config: Object.fromEntries(
      Object.keys(runbook.config ?? {}).map((k) => [
        k,
        config.runbookConfig?.[k] ?? (config as unknown as Record<string, unknown>)[k],
      ]),
    ),
  };
  const target = (event.input.target as { instanceId?: string } | undefined)?.instanceId;
  const step = { state: event.step, step: event.step, target };
  const startedAt = now();
  const sk = Executions.stepKey(step, startedAt);
  // Most steps take milliseconds: one write records them. A step still running after a while
  // gets a RUNNING record, so `reflex show` can say what a run is doing right now.
  let started: Promise<void> | undefined;
  const watch = setTimeout(() => {
    started = Executions.startStep(execution.id, sk, step, startedAt).catch(() => undefined);
  }, SLOW_STEP_MS);
  const settle = async () => {
    clearTimeout(watch);
    await started; // the RUNNING record must land before the outcome, never after it
  };
  try {
    const output = await Aws.withStep(
      execution.id,
      location ? { account: memberAccount(location.account), region: location.region } : undefined,
      () => Promise.resolve(fn(event.input, ctx)),
    );
    await settle();
    await Executions.endStep(execution.id, sk, step, { status: "SUCCEEDED", output, startedAt }, now());
    return output;
  } catch (err) {
    const e = err as Error & { code?: string };
    const { kind, name } = classify(e);
    await settle();
    await Executions.endStep(
      execution.id,
      sk,
      step,
      { status: "FAILED", error: name, cause: e.message, startedAt },
      now(),
    );
    await Audit.record({
      kind: "step.failed",
      actor: `runbook:${runbook.name}`,
      reason: `step ${event.step}${target ? ` on ${target}` : ""} failed: ${name}: ${e.message} (${kind === "transient" ? "transient: retried with backoff" : "permanent: not retried"})`,
      executionId: execution.id,
      runbook: runbook.name,
    });
    // Step Functions matches Retry/Catch on the error's name.
    if (name !== e.name) {
      // A renamed error keeps what it was in its message, so the run's cause still says it.
      if (name === TRANSIENT_ERROR && !e.message.startsWith(e.name))
        e.message = `${e.code ?? e.name}: ${e.message}`;
      e.name = name;
    }
    throw err;
  }
}

/** How many of a runbook's latest runs the reconciler looks at for kept resources (a week of daily drills, and more). */
const KEPT_SCAN = 100;
const KEPT_WINDOW_MS = 14 * 86_400_000;

/**
 * The reconciler's sweep of what ended runs kept on purpose (a drill's `keepFor`): for each
 * runbook with a history whose implementation can (`sweepKept`), its recent ended runs whose `result.kept` is
 * not swept yet are asked; what it deleted is recorded as `result.kept.swept`. Runs in the run's
 * own location, as `inspectLost` does.
 */
export async function sweepKept(now = new Date()): Promise<Array<{ executionId: string; swept: unknown }>> {
  const out: Array<{ executionId: string; swept: unknown }> = [];
  // Only runbooks whose runs form a history (restore's drills) keep things on purpose; a drill
  // keeps at most 168 h, so runs that started two weeks ago are long swept.
  for (const r of Runbooks.list().filter((x) => x.history)) {
    const page = await Executions.list({
      runbook: r.name,
      status: [...Executions.TERMINAL],
      since: now.getTime() - KEPT_WINDOW_MS,
      limit: KEPT_SCAN,
    });
    let impl: Runbooks.Implementation | undefined;
    for (const listed of page.executions) {
      const e = await Executions.find(listed.id);
      const kept = e?.result?.kept as { until?: string; swept?: unknown } | undefined;
      if (!e || !kept?.until || kept.swept || Date.parse(kept.until) > now.getTime()) continue;
      impl ??= await Runbooks.implementationOf(r.name);
      const sweep = impl.sweepKept;
      if (!sweep) break;
      const location = e.location;
      const swept = await Aws.withStep(
        e.id,
        location ? { account: memberAccount(location.account), region: location.region } : undefined,
        () => sweep(e, now),
      );
      if (swept === undefined) continue;
      await Executions.setResult(e.id, { kept: { ...kept, swept } });
      out.push({ executionId: e.id, swept });
    }
  }
  return out;
}

/**
 * The reconciler's hook for lost runs: asks the run's runbook what the run left behind, then
 * has it sweep what the run made when it says how (`sweepLost`: a drill's volumes). Lives
 * here, with the step implementations, because answering needs their cloud clients.
 */
export async function inspectLost(e: Executions.Execution): Promise<unknown> {
  if (!Runbooks.has(e.runbook)) return undefined;
  const impl = await Runbooks.implementationOf(e.runbook);
  // A run in a member account left its changes there: look (and sweep) there, with a session of its own.
  const location = e.location;
  return Aws.withStep(
    e.id,
    location ? { account: memberAccount(location.account), region: location.region } : undefined,
    async () => {
      const inspected = await impl.inspectLost?.(e);
      if (!impl.sweepLost) return inspected;
      const swept = await impl.sweepLost(e);
      return { ...(inspected && typeof inspected === "object" ? inspected : {}), swept };
    },
  );
}
