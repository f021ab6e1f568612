/**
 * Target locations: one run of a runbook in many accounts and Regions, as SSM Automation's
 * `TargetLocations` — one child run per location, at most `locationConcurrency` at once, and
 * no new location started once more than `locationMaxErrors` have failed (both a number or a
 * percentage of the locations, as SSM takes them). Every child goes through `admit()`; a
 * location whose role cannot be assumed fails that child only, with the reason, and counts
 * against `locationMaxErrors`.
 *
 * The fan-out is durable: a state machine of its own ({@link fanOutStateMachine}), the same in
 * local mode and deployed, starts and waits for the children, so the process that answered the
 * request may go away at once (a Lambda frozen after answering, a local mode stopped).
 *
 * @example
 * const planned = Locations.plan(request, { accounts: ["tag:env=prod"] }, { locationConcurrency: 2, locationMaxErrors: "10%" });
 * await Locations.launch(request, planned); // 202 { parentId: planned.parentId, children: planned.children }
 */
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { z } from "zod";
import { type Limit, type LocationSelector, limitOf, MAX_LOCATIONS, resolveLocations } from "./accounts.ts";
import { type AdmitRequest, admit } from "./admission/index.ts";
import { client } from "./aws.ts";
import { currentConfig } from "./config/index.ts";
import { ConflictError, NotFoundError, ValidationError } from "./errors.ts";
import type { AslDefinition } from "./runbooks/asl.ts";
import * as Runbooks from "./runbooks/index.ts";
import { canonicalJson, newExecutionId, parseParams, stateMachineArn } from "./runs-api.ts";
import * as Audit from "./state/audit.ts";
import * as Executions from "./state/executions.ts";
import * as FanOuts from "./state/fan-outs.ts";

export { type Limit, limitOf, MAX_LOCATIONS } from "./accounts.ts";

export interface LocationLimits {
  /** How many locations run at once. Default 1 (one at a time, as the safest start). */
  locationConcurrency?: Limit;
  /** How many locations may fail before no new one starts. Default 0: stop after the first failure. */
  locationMaxErrors?: Limit;
}

/** How one location ended. `SKIPPED`: not started, because too many had failed. */
export interface LocationOutcome {
  account: string;
  accountName?: string;
  region: string;
  executionId?: string;
  status: string;
  reason?: string;
}

/** What a fan-out will do, before any child starts: its parent id and one child per location. */
export interface LocationPlan {
  parentId: string;
  runbook: string;
  concurrency: number;
  maxErrors: number;
  /** In order; child `i` is `<parentId>-<i + 1>`. */
  children: Array<{ account: string; accountName?: string; region: string; executionId: string }>;
  /**
   * The caller named the parent id (a rule's or a schedule's): its redelivery is this fan-out, so
   * a failed start is left RUNNING for the redelivery or the reconciler to start again.
   */
  parentNamed?: true;
}

/** Prefixes each issue's path with `at` (`accounts[0]` → `locations.accounts[0]`). */
function under(at: string, err: unknown): unknown {
  if (!(err instanceof ValidationError)) return err;
  const issues = err.issues.map((i) => ({ ...i, path: i.path ? `${at}.${i.path}` : at }));
  return new ValidationError(err.code, err.message, issues);
}

/**
 * Resolves the selector and the limits, and names the parent and the children — bad input
 * (a term matching no account, no location at all, a bad limit) throws a ValidationError naming
 * the field (`locations.accounts[0]`, `locationConcurrency`), before anything starts.
 */
export function plan(
  req: Pick<AdmitRequest, "runbook" | "config" | "now"> & {
    params?: unknown;
    /** The parent's id when the caller names it (a rule's or a schedule's, so a redelivery is the same fan-out). */
    parentId?: string;
  },
  selector: LocationSelector,
  limits: LocationLimits,
): LocationPlan {
  const config = req.config ?? currentConfig();
  const runbook = Runbooks.get(req.runbook);
  let locations: ReturnType<typeof resolveLocations>;
  try {
    locations = resolveLocations(config.accounts, selector);
  } catch (err) {
    throw under("locations", err);
  }
  // A Region none of the chosen accounts has (a typo, a Region not enabled) is the caller's
  // mistake, named, never silently dropped from the fan-out.
  const chosenRegions = new Set(locations.map((l) => l.region));
  const unknown = (selector.regions ?? []).flatMap((r, i) =>
    chosenRegions.has(r)
      ? []
      : [{ path: `locations.regions[${i}]`, message: `'${r}' is a Region of no account the selector names` }],
  );
  if (locations.length > 0 && unknown.length)
    throw new ValidationError("unknown_location", unknown.map((u) => u.message).join("; "), unknown);
  if (locations.length === 0)
    throw new ValidationError("no_locations", "the selector names no account and Region", [
      { path: "locations", message: "no location" },
    ]);
  if (locations.length > MAX_LOCATIONS)
    throw new ValidationError(
      "too_many_locations",
      `the selector names ${locations.length} locations; one fan-out takes at most ${MAX_LOCATIONS}`,
      [{ path: "locations", message: `more than ${MAX_LOCATIONS} locations` }],
    );
  const concurrency = limitOf(limits.locationConcurrency ?? 1, locations.length, "locationConcurrency", 1);
  const maxErrors = limitOf(limits.locationMaxErrors ?? 0, locations.length, "locationMaxErrors", 0);
  // Params that no location could take are the caller's mistake, not N refused children.
  if (req.params !== undefined) {
    const takesRegion = "region" in ((runbook.params as { shape?: object }).shape ?? {});
    parseParams(
      runbook,
      takesRegion ? { ...(req.params as object), region: locations[0]?.region } : req.params,
    );
  }
  const parentId = req.parentId ?? newExecutionId(runbook.name, req.now);
  return {
    parentId,
    ...(req.parentId ? { parentNamed: true as const } : {}),
    runbook: runbook.name,
    concurrency,
    maxErrors,
    children: locations.map((l, i) => ({
      account: l.account,
      ...(l.accountName ? { accountName: l.accountName } : {}),
      region: l.region,
      executionId: `${parentId}-${i + 1}`,
    })),
  };
}

/** The fan-out's state machine (not a runbook's: runbook names have no `_`). */
export const FAN_OUT_MACHINE = "fan_out";
/** The placeholder for the fan-out function's ARN in {@link fanOutStateMachine}. */
export const FAN_OUT_HANDLER = "${FanOutHandlerArn}";
/** How long a child is waited for between looks: from the first to the longest (seconds). */
export const CHECK_SECONDS = { first: 5, longest: 60 } as const;

const RETRY = [
  {
    ErrorEquals: ["States.ALL"],
    IntervalSeconds: 2,
    MaxAttempts: 6,
    BackoffRate: 2,
    MaxDelaySeconds: 60,
    JitterStrategy: "FULL" as const,
  },
];

/**
 * The parent of a fan-out, as a state machine: a Distributed Map over the children's indices,
 * at most `concurrency` at once (`MaxConcurrencyPath`), each iteration a child workflow that
 * starts its location's run through `admit()` and looks at the run's record until it ends (a
 * Wait of 5 s, doubling to 60 s, between looks), then `Finish` lists every location's outcome.
 *
 * `locationMaxErrors` is not the Map's `ToleratedFailureCount`: past that threshold Step
 * Functions fails the Map Run and stops the child workflows still running, so runs already
 * started would be left unwatched, where SSM lets them finish. Each iteration records its
 * location's outcome and never fails for a failed location; one that starts after more than
 * `maxErrors` have failed is `SKIPPED`. `ToleratedFailurePercentage: 100` keeps an iteration
 * that broke (its Lambda failing past the retries) from stopping the others; `Finish` reads
 * those locations' runs from their records.
 *
 * History: each iteration is a child workflow with its own 25,000-event history: 11 events to
 * start and end, 9 per look (Wait 2, Lambda Task 5, Choice 2), so one location may be waited
 * for (25,000 - 11) / 9 ≈ 2,776 looks — some 46 hours at one a minute. The parent's own history
 * holds the Map Run's events only (11, whatever the count of locations; test/locations.e2e.test.ts
 * counts both on the local engine).
 */
export function fanOutStateMachine(): AslDefinition {
  const call = (action: string, extra: Record<string, unknown> = {}) => ({
    Type: "Task" as const,
    Resource: FAN_OUT_HANDLER,
    Parameters: { action, "parentId.$": "$.parentId", "index.$": "$.index", ...extra },
    Retry: RETRY,
  });
  return {
    Comment: "Reflex fan-out: one child run per location, admitted on its own, each waited for",
    StartAt: "Locations",
    States: {
      Locations: {
        Type: "Map",
        ItemsPath: "$.children",
        ItemSelector: { "parentId.$": "$.parentId", "index.$": "$$.Map.Item.Value" },
        MaxConcurrencyPath: "$.concurrency",
        ToleratedFailurePercentage: 100,
        ItemProcessor: {
          ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
          StartAt: "StartChild",
          States: {
            StartChild: { ...call("start"), Next: "ChildEnded" },
            ChildEnded: {
              Type: "Choice",
              Choices: [{ Variable: "$.ended", BooleanEquals: true, Next: "ChildDone" }],
              Default: "WaitForChild",
            },
            WaitForChild: { Type: "Wait", SecondsPath: "$.waitSeconds", Next: "CheckChild" },
            CheckChild: { ...call("check", { "waitSeconds.$": "$.waitSeconds" }), Next: "ChildEnded" },
            ChildDone: { Type: "Succeed" },
          },
        },
        ResultPath: null,
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Finish" }],
        Next: "Finish",
      },
      Finish: {
        Type: "Task",
        Resource: FAN_OUT_HANDLER,
        Parameters: { action: "finish", "parentId.$": "$.parentId" },
        Retry: RETRY,
        // Past the retries (a location still running after a broken iteration, the table
        // unreachable): the execution ends FAILED, named, and the reconciler settles the
        // fan-out from its item once Step Functions says the parent has ended (resume).
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.finishError", Next: "FinishFailed" }],
        End: true,
      },
      FinishFailed: {
        Type: "Fail",
        Error: "FanOutFinishFailed",
        Cause: "the fan-out's Finish failed past its retries; the reconciler settles it from its item",
      },
    },
  };
}

/** What starts a fan-out's children: an admission request without its location and id. */
export type FanOutRequest = Omit<AdmitRequest, "location" | "executionId" | "config" | "now">;

/** The fan-out's input: small whatever the count of locations (the plan is in its item). */
function fanOutInput(planned: LocationPlan): string {
  return canonicalJson({
    parentId: planned.parentId,
    concurrency: planned.concurrency,
    children: planned.children.map((_c, i) => i),
  });
}

/** Starts the fan-out's execution; false when one of that name exists already (and is not this one running). */
async function startParent(planned: LocationPlan): Promise<boolean> {
  try {
    await client(SFNClient, "sfn").send(
      new StartExecutionCommand({
        stateMachineArn: stateMachineArn(FAN_OUT_MACHINE),
        name: planned.parentId,
        input: fanOutInput(planned),
      }),
    );
  } catch (err) {
    // Started before (a resume after it ran) and ended, or named by another fan-out.
    if ((err as Error).name !== "ExecutionAlreadyExists") throw err;
    return false;
  }
  return true;
}

/**
 * Starts a {@link plan}: writes the fan-out's item (the request each child is admitted with),
 * audits `locations.started`, and starts the fan-out's state machine, named by the parent id.
 * The caller may go away at once: the children are started and waited for by the state machine,
 * and a fan-out whose start was cut short (the process died) is started again by {@link resume};
 * one whose StartExecution failed is marked finished, audited, and the error thrown (nothing
 * starts later behind the caller's back) — unless the caller named its id (a rule's or a
 * schedule's), whose redelivery starts it again.
 */
export async function launch(req: FanOutRequest, planned: LocationPlan, now = new Date()): Promise<void> {
  const { decisionTime, ...rest } = req;
  const created = await FanOuts.create({
    parentId: planned.parentId,
    runbook: planned.runbook,
    request: JSON.parse(
      JSON.stringify({ ...rest, ...(decisionTime ? { decisionTime: decisionTime.toISOString() } : {}) }),
    ),
    concurrency: planned.concurrency,
    maxErrors: planned.maxErrors,
    children: planned.children,
    createdAt: now.toISOString(),
  });
  if (!created) throw new ConflictError("execution_exists", `fan-out '${planned.parentId}' already exists`);
  const { children: locations, concurrency, maxErrors } = planned;
  await Audit.record({
    kind: "locations.started",
    actor: req.actor.id,
    reason: `${planned.runbook} in ${locations.length} location(s) (${locations.map((l) => `${l.account}/${l.region}`).join(", ")}), ${concurrency} at a time, stop after ${maxErrors} error(s)`,
    executionId: planned.parentId,
    runbook: planned.runbook,
  });
  try {
    await startParent(planned);
  } catch (err) {
    // A rule's or schedule's fan-out is started again by its redelivery (the same id) or the
    // reconciler. Any other caller is told it failed: the item may not stay RUNNING, or the
    // reconciler would start it later anyway (and a caller that retries, with a new id, would
    // get every location run twice).
    if (planned.parentNamed) throw err;
    await Audit.record({
      kind: "locations.finished",
      actor: req.actor.id,
      reason: `not started: the fan-out's state machine could not be started (${(err as Error).name}: ${(err as Error).message.slice(0, 200)}); no location was run`,
      executionId: planned.parentId,
      runbook: planned.runbook,
    });
    await FanOuts.finish(planned.parentId);
    throw err;
  }
}

/**
 * Starts a running fan-out's state machine again (StartExecution by its name and input is
 * idempotent while it runs): local mode after a restart, whose engine lost it. Every step is
 * safe to repeat: a child already started is not started again, an outcome is recorded once.
 */
export async function resume(parentId: string): Promise<boolean> {
  const f = await FanOuts.find(parentId);
  if (f?.status !== "RUNNING") return false;
  const started = await startParent({ ...f, runbook: f.runbook });
  if (started) return true;
  // Its execution exists and has another input or has ended: an ended parent never ran (or
  // failed in) its Finish, so the fan-out is settled here from its item once every location
  // it started has ended; until then the next pass looks again.
  const parent = await parentStatus(parentId);
  if (!parent || parent === "RUNNING") return true;
  try {
    await finishFanOut(f, parent);
    return false;
  } catch (err) {
    if (err instanceof ConflictError) return true;
    throw err;
  }
}

/** What Step Functions says of a fan-out's execution: its status, or undefined when it has none. */
async function parentStatus(parentId: string): Promise<string | undefined> {
  const arn = stateMachineArn(FAN_OUT_MACHINE).replace(":stateMachine:", ":execution:");
  try {
    const out = await client(SFNClient, "sfn").send(
      new DescribeExecutionCommand({ executionArn: `${arn}:${parentId}` }),
    );
    return out.status;
  } catch (err) {
    // The gate's and the schedule's redeliveries resume too, without DescribeExecution: the
    // reconciler, which may, settles it.
    if (["ExecutionDoesNotExist", "AccessDeniedException", "AccessDenied"].includes((err as Error).name))
      return undefined;
    throw err;
  }
}

/** The fan-outs still running: what {@link resume} takes. */
export const running = FanOuts.running;

/** The event of the fan-out's Task states. */
export interface FanOutStep {
  action: "start" | "check" | "finish";
  parentId: string;
  index?: number;
  waitSeconds?: number;
}

const STEP_EVENT = z
  .object({
    action: z.enum(["start", "check", "finish"]),
    parentId: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, "must be a fan-out id"),
    index: z
      .number()
      .int()
      .min(0)
      .max(MAX_LOCATIONS - 1)
      .optional(),
    waitSeconds: z.number().min(0).max(3600).optional(),
  })
  // Anything else in the event is dropped, never read: outcomes come from the stored items.
  .refine((e) => e.action === "finish" || e.index !== undefined, {
    path: ["index"],
    message: "start and check name a location's index",
  });

/** The Task's event, checked: a malformed one (a direct invoke) is bad input, nothing read or written. */
function stepEvent(raw: unknown): FanOutStep {
  const parsed = STEP_EVENT.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.join(".") || "event", message: i.message }));
  throw new ValidationError(
    "invalid_step",
    `not a fan-out step: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
    issues,
  );
}

type StepOut = { parentId: string; index: number; ended: boolean; waitSeconds?: number };

function requestOf(f: FanOuts.FanOut): FanOutRequest {
  const r = f.request as unknown as FanOutRequest & { decisionTime?: string };
  return { ...r, ...(r.decisionTime ? { decisionTime: new Date(r.decisionTime) } : {}) };
}

/**
 * Records one location's outcome in the fan-out's item, sized so that 1,000 locations each
 * failing with a long reason still fit DynamoDB's 400 KB item (the item holds the children too):
 * the reason is cut to what the count of locations leaves (500 characters for a few, 60 for
 * 1,000), and the run's id is not repeated when it is the child's own (read back from the child).
 */
async function record(f: FanOuts.FanOut, index: number, o: FanOuts.Outcome, failed: boolean) {
  return FanOuts.recordOutcome(f.parentId, index, storedOutcome(f, index, o), failed);
}

/** An outcome as the fan-out's item stores it (see {@link record}). */
export function storedOutcome(
  f: Pick<FanOuts.FanOut, "children">,
  index: number,
  o: FanOuts.Outcome,
): FanOuts.Outcome {
  const cap = Math.max(40, Math.min(500, Math.floor(60_000 / Math.max(1, f.children.length))));
  const { executionId, reason, ...rest } = o;
  return {
    ...rest,
    ...(executionId && executionId !== f.children[index]?.executionId ? { executionId } : {}),
    ...(reason ? { reason: reason.length > cap ? `${reason.slice(0, cap - 1)}…` : reason } : {}),
  };
}

/** Records a child's end when it has ended; the next look's wait otherwise. */
async function look(f: FanOuts.FanOut, index: number, waitSeconds: number): Promise<StepOut> {
  const child = f.children[index] as FanOuts.FanOut["children"][number];
  const e = await Executions.find(child.executionId);
  const ended = e && (Executions.TERMINAL as readonly string[]).includes(e.status);
  if (!ended) return { parentId: f.parentId, index, ended: false, waitSeconds };
  const failed = e.status !== "SUCCEEDED";
  await record(
    f,
    index,
    {
      status: e.status,
      executionId: e.id,
      ...(failed ? { reason: `${e.error ?? ""}: ${e.cause ?? ""}`.slice(0, 500) } : {}),
    },
    failed,
  );
  return { parentId: f.parentId, index, ended: true };
}

/**
 * One Task of the fan-out's state machine. `start`: the location's child through `admit()`
 * (REFUSED with the reason, counted as a failure, when admission says no; SKIPPED when more
 * than `maxErrors` locations have failed; a child started before is not started again), once
 * the location holds one of the `concurrency` slots ({@link slotFor}; none free: a
 * ConflictError, nothing written). `check`: has the child ended? `finish`: every location's outcome, audited as
 * `locations.finished`; the fan-out's item is marked FINISHED, after which `start` and `check`
 * are a ConflictError (nothing started or recorded).
 */
export async function step(raw: FanOutStep): Promise<unknown> {
  const event = stepEvent(raw);
  let f = await FanOuts.find(event.parentId);
  if (!f) throw new NotFoundError("not_found", `no fan-out '${event.parentId}'`);
  if (event.action === "finish") return finishFanOut(f);
  // Finish has settled and audited every location's outcome: a late retry or a replayed
  // invocation may not start (or record) a child after it.
  if (f.status !== "RUNNING")
    throw new ConflictError(
      "fan_out_finished",
      `fan-out ${f.parentId} has finished: no child is started after it`,
    );
  const index = Number(event.index);
  const child = f.children[index];
  if (!child) throw new ValidationError("invalid_step", `fan-out ${f.parentId} has no child ${index}`);
  const done = { parentId: f.parentId, index, ended: true };
  if (f.outcomes[String(index)]) return done;
  if (event.action === "check") {
    const wait = Math.min(CHECK_SECONDS.longest, Math.max(CHECK_SECONDS.first, (event.waitSeconds ?? 0) * 2));
    return look(f, index, wait);
  }
  if (!(await Executions.find(child.executionId))) {
    f = await slotFor(f, index);
    if (f.outcomes[String(index)]) return done;
    if (f.errors > f.maxErrors) {
      await record(
        f,
        index,
        { status: "SKIPPED", reason: `more than ${f.maxErrors} location(s) failed` },
        false,
      );
      return done;
    }
    const req = requestOf(f);
    const runbook = Runbooks.get(f.runbook);
    const takesRegion = "region" in ((runbook.params as { shape?: object }).shape ?? {});
    const admitted = await admit({
      ...req,
      runbook: runbook.name,
      params: takesRegion ? { ...(req.params as object), region: child.region } : req.params,
      executionId: child.executionId,
      location: { account: child.account, region: child.region },
    });
    if (!admitted.admitted && !admitted.duplicate) {
      await record(f, index, { status: "REFUSED", reason: admitted.reason }, true);
      return done;
    }
  }
  return look(f, index, CHECK_SECONDS.first);
}

/**
 * A slot for location `index` before it is admitted (or skipped), decided from the fan-out's item
 * alone: the location keeps the one it took before (a retry), or takes one while fewer locations
 * are started and not ended than the concurrency (see `FanOuts.takeSlot`). None free: the
 * locations holding one whose run has ended (an iteration that broke before recording it) are
 * recorded, and the slot asked for once more; still none, a ConflictError and nothing written —
 * a `start` sent straight to the function cannot start a location past the concurrency, and the
 * state machine's own iteration is retried. Answers the item as it stands after the take.
 */
async function slotFor(f: FanOuts.FanOut, index: number): Promise<FanOuts.FanOut> {
  for (let attempt = 0; attempt < 2; attempt++) {
    if (f.started?.has(index) || f.outcomes[String(index)]) return f;
    const cap = Object.keys(f.outcomes).length + f.concurrency;
    if (await FanOuts.takeSlot(f.parentId, index, cap)) return (await FanOuts.find(f.parentId)) ?? f;
    const now = await FanOuts.find(f.parentId);
    if (now?.status !== "RUNNING")
      throw new ConflictError(
        "fan_out_finished",
        `fan-out ${f.parentId} has finished: no child is started after it`,
      );
    // Taken by the same location's other call at the same time (a retry racing the first).
    if (now.started?.has(index) || now.outcomes[String(index)]) return now;
    if (attempt === 0) await settleEnded(now);
    f = (await FanOuts.find(f.parentId)) ?? now;
  }
  throw new ConflictError(
    "fan_out_no_slot",
    `fan-out ${f.parentId} runs ${f.concurrency} location(s) at a time and none of them has ended: location ${index} (${f.children[index]?.account}/${f.children[index]?.region}) may not start yet`,
  );
}

/** Records the end of each location holding a slot whose run has ended (its iteration did not). */
async function settleEnded(f: FanOuts.FanOut): Promise<void> {
  const holding = [...(f.started ?? [])].filter((i) => !f.outcomes[String(i)] && f.children[i]);
  await Promise.all(holding.map((i) => look(f, i, CHECK_SECONDS.first)));
}

/** One location's outcome as stored, the location named. */
function located(c: FanOuts.FanOut["children"][number], o: FanOuts.Outcome): LocationOutcome {
  return {
    account: c.account,
    ...(c.accountName ? { accountName: c.accountName } : {}),
    region: c.region,
    status: o.status,
    // A location that ran: its run is the child's (stored only when it is another).
    ...(o.executionId || !NO_RUN.has(o.status) ? { executionId: o.executionId ?? c.executionId } : {}),
    ...(o.reason ? { reason: o.reason } : {}),
  };
}

/** Outcomes of a location whose run never started. */
const NO_RUN = new Set(["SKIPPED", "REFUSED"]);

/** The failures the `locations.finished` audit entry names one by one; the rest are counted (an entry stays small). */
const AUDIT_FAILURES = 20;

/**
 * Settles a fan-out from what is stored, never from who asks: each location's recorded outcome;
 * for one whose iteration broke before recording, its run's record once that run has ended
 * (recorded now); one never started is SKIPPED only when `parentEnded` (Step Functions says the
 * parent's execution has ended, so nothing will start it). A location that has not ended — a
 * run still going, or one not started while the parent still runs — refuses the finish with a
 * ConflictError and nothing written: a `finish` sent straight to the function (whoever IAM lets
 * invoke it) cannot end a fan-out early. Audits `locations.finished` and marks it FINISHED once.
 */
async function finishFanOut(
  f: FanOuts.FanOut,
  parentEnded?: string,
): Promise<{ parentId: string; locations: LocationOutcome[] }> {
  const settled = await Promise.all(
    f.children.map(async (c, i): Promise<{ outcome?: FanOuts.Outcome; failed?: boolean }> => {
      const recorded = f.outcomes[String(i)];
      if (recorded) return { outcome: recorded };
      const e = await Executions.find(c.executionId);
      // Finished before every outcome was stored (a launch that failed, an item from before
      // outcomes were stored at finish): what the run's record says, read only.
      if (f.status !== "RUNNING")
        return {
          outcome: e
            ? {
                status: e.status,
                executionId: e.id,
                ...(e.error ? { reason: `${e.error}: ${e.cause ?? ""}` } : {}),
              }
            : { status: "SKIPPED", reason: "not started: the fan-out failed before it" },
        };
      if (e && (Executions.TERMINAL as readonly string[]).includes(e.status))
        return {
          outcome: {
            status: e.status,
            executionId: e.id,
            ...(e.error ? { reason: `${e.error}: ${e.cause ?? ""}`.slice(0, 500) } : {}),
          },
          failed: e.status !== "SUCCEEDED",
        };
      if (!e && parentEnded)
        return {
          outcome: {
            status: "SKIPPED",
            reason: `not started: the fan-out's state machine ended (${parentEnded}) before it`,
          },
          failed: false,
        };
      return {};
    }),
  );
  const pending = settled.flatMap((s, i) => (s.outcome ? [] : [i]));
  if (f.status === "RUNNING") {
    if (pending.length)
      throw new ConflictError(
        "fan_out_running",
        `fan-out ${f.parentId} has not finished: location(s) ${pending.map((i) => `${f.children[i]?.account}/${f.children[i]?.region}`).join(", ")} have not ended`,
      );
    // Outcomes read from the runs' records are stored, once, so the item alone tells the end.
    for (const [i, s] of settled.entries())
      if (s.failed !== undefined && s.outcome) await record(f, i, s.outcome, s.failed);
    // One settles it (audits, marks FINISHED); another at the same time is told to look again,
    // and then finds it FINISHED. A holder that died midway is outlived by its claim's end.
    if (!(await FanOuts.claimFinish(f.parentId)))
      throw new ConflictError(
        "fan_out_finishing",
        `fan-out ${f.parentId} is being finished by another caller (or has finished); ask again`,
      );
  }
  const outcomes = f.children.map((c, i) =>
    located(c, settled[i]?.outcome ?? { status: "RUNNING", reason: "has not ended" }),
  );
  const failed = outcomes.filter((o) => o.status !== "SUCCEEDED");
  const actor = (f.request as { actor?: { id?: string } }).actor?.id ?? "reflex";
  if (f.status === "RUNNING") {
    await Audit.record({
      kind: "locations.finished",
      actor,
      reason: `${outcomes.length - failed.length} of ${outcomes.length} location(s) succeeded${
        failed.length
          ? `; ${failed
              .slice(0, AUDIT_FAILURES)
              .map(
                (o) =>
                  `${o.account}/${o.region} ${o.status}${o.reason ? ` (${o.reason.slice(0, 200)})` : ""}`,
              )
              .join(
                "; ",
              )}${failed.length > AUDIT_FAILURES ? `; and ${failed.length - AUDIT_FAILURES} more` : ""}`
          : ""
      }${parentEnded ? ` (settled after the fan-out's state machine ended ${parentEnded})` : ""}`,
      executionId: f.parentId,
      runbook: f.runbook,
    });
    await FanOuts.finish(f.parentId);
  }
  return { parentId: f.parentId, locations: outcomes };
}

/** A fan-out's outcome per location, once it has finished; undefined while it runs. */
export async function outcome(
  parentId: string,
): Promise<{ parentId: string; locations: LocationOutcome[] } | undefined> {
  const f = await FanOuts.find(parentId);
  if (f?.status !== "FINISHED") return undefined;
  return finishFanOut(f);
}

/**
 * Plans, launches and waits for a fan-out: the children are started by its state machine (as
 * from the API), and this resolves with each location's outcome once it has finished.
 */
export async function start(
  req: FanOutRequest & { config?: AdmitRequest["config"]; now?: Date },
  selector: LocationSelector,
  limits: LocationLimits,
): Promise<{ parentId: string; locations: LocationOutcome[] }> {
  const planned = plan(req, selector, limits);
  const { config: _c, now: _n, ...request } = req;
  await launch(request, planned);
  for (let everyMs = 50; ; everyMs = Math.min(1000, everyMs * 2)) {
    const done = await outcome(planned.parentId);
    if (done) return done;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A run's end, read from its record — first after 100 ms, then less and less often, at most
 * every 2 s (a fan-out started from the API waits on state it does not own: the child runs in
 * the engine, its record says when it ended).
 */
export async function untilEnd(
  executionId: string,
): Promise<{ status: string; error?: string; cause?: string }> {
  for (let everyMs = 100; ; everyMs = Math.min(2000, everyMs * 2)) {
    await new Promise((r) => setTimeout(r, everyMs));
    const e = await Executions.find(executionId);
    if (e && (Executions.TERMINAL as readonly string[]).includes(e.status))
      return { status: e.status, error: e.error, cause: e.cause };
  }
}
