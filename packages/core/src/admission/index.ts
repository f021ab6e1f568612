/**
 * Admission: the one function every start goes through — event rules (the gate), schedules,
 * maintenance windows, people (API, CLI, console, ChatOps) and re-runs. It validates the
 * params, then applies, in this order, the checks that fit the trigger, and either starts the
 * run or says which check refused it and why. Every refusal is audited with the actor and the
 * check (one line), and published on the bus.
 *
 *   1. params        — the runbook's schema                                    (400)
 *   2. access        — people only: the actor's roles allow this action        (403)
 *   3. pause         — automatic: suppressed; people: only with overridePause  (409)
 *   4. breaker       — automatic only: N failed automatic runs paused them     (409)
 *   5. freeze        — every non-dry-run; people may override with a reason    (409)
 *   6. blast-radius  — the params name more targets than the cap               (409)
 *   6b. precheck     — the runbook's own look at the cloud (the snapshot named
 *                      exists and is ready): a named 400 or 409                (400/409)
 *   7. cooldown      — rules: this rule acted on this target too recently      (409)
 *   8. rate-limit    — automatic: the runbook's runs per window are spent      (409)
 *   9. approval      — not a refusal: decides whether the run waits for a person
 *  10. lock          — another run holds the target (taken with the record)    (409)
 *
 * docs/guardrails.md has the matrix (which check applies to which trigger, and why).
 */

import { locationKey } from "../accounts.ts";
import { currentConfig } from "../config/index.ts";
import type { Config } from "../config/schema.ts";
import { AccessDeniedError, ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import * as Lifecycle from "../lifecycle.ts";
import * as Organization from "../organization.ts";
import * as Access from "../policy/access.ts";
import * as Guardrails from "../policy/guardrails.ts";
import * as Overrides from "../policy/overrides.ts";
import * as Runbooks from "../runbooks/index.ts";
import * as Runs from "../runs.ts";
import * as Audit from "../state/audit.ts";
import * as Executions from "../state/executions.ts";
import * as Locks from "../state/locks.ts";

export * as Access from "../policy/access.ts";
export * as People from "../policy/people.ts";

export type TriggerKind = Executions.Trigger["kind"];
export type Check =
  | "params"
  | "access"
  | "pause"
  | "breaker"
  | "freeze"
  | "blast-radius"
  | "precheck"
  | "cooldown"
  | "rate-limit"
  | "lock";

/** Starts no person asked for: the config set them up, so its rules are the authority. */
export const AUTOMATIC: readonly TriggerKind[] = ["rule", "schedule", "window"];

export interface AdmitRequest {
  runbook: string;
  params: unknown;
  dryRun?: boolean;
  trigger: {
    kind: TriggerKind;
    name?: string;
    eventId?: string;
    rerunOf?: string;
    /** The alarm transition that started it, kept on the run record (see `Executions.Trigger`). */
    alarm?: Executions.TriggerAlarm;
  };
  /** Who: an IAM principal ARN, `cli:<user>`, `slack:<user id>`, or `rule:<name>` etc. */
  actor: Access.Actor;
  /** The execution name; retried starts pass the same one (the gate's dedup key). */
  executionId?: string;
  /** A person starting during a freeze, with the reason (audited; always needs approval). */
  overrideFreeze?: string;
  /** A person starting while automation is paused, with the reason (audited). */
  overridePause?: string;
  /** Rules: the cooldown of (rule, target). */
  cooldown?: { rule: string; target?: string; ms: number };
  /** Rules: `required` makes the run wait for a person whatever the policy says. */
  approval?: "required" | "policy";
  /** Maintenance windows: when the window ends and when new work must stop. */
  window?: Executions.Execution["window"];
  /** A member account (id or name in config `accounts`) and one of its Regions: the run acts there. */
  location?: { account: string; region: string };
  config?: Config;
  now?: Date;
  /**
   * The instant a freeze is judged at, when not now: a schedule's fire time, so a redelivered
   * invocation gets the same answer. The run itself starts now.
   */
  decisionTime?: Date;
}

export type Admission =
  | { admitted: true; execution: Executions.Execution; approval: Executions.ApprovalPlan }
  | {
      admitted: false;
      /** A run of this id already exists (a redelivery): not a refusal, and not audited here. */
      duplicate?: true;
      check?: Check;
      reason: string;
      /** The HTTP status a person's request gets for it. */
      status: 400 | 403 | 409;
      executionId?: string;
      issues?: ValidationError["issues"];
      /** A runbook's precheck names its refusal (`SnapshotNotFound`): the caller's `error.code`. */
      code?: string;
    };

/** The HTTP status of each refusal. */
const STATUS: Record<Check, 400 | 403 | 409> = {
  params: 400,
  access: 403,
  pause: 409,
  breaker: 409,
  freeze: 409,
  "blast-radius": 409,
  precheck: 400,
  cooldown: 409,
  "rate-limit": 409,
  lock: 409,
};

/**
 * Decides whether a run may start, and starts it. Never throws for a refusal (that is the
 * answer); throws NotFoundError for an unknown runbook and whatever the state store throws.
 *
 * The phases, in order: the params; the {@link CHECKS} that take nothing (access, pause and
 * breaker, freeze, blast radius); the cooldown, which is taken; then the start itself, which
 * takes the rate slot and the locks with the record and gives back what it took when it fails.
 *
 * @example
 * const a = await admit({ runbook: "scale", params: { autoScalingGroup: "web", change: "+1" },
 *   trigger: { kind: "manual" }, actor: { id: "cli:alice" } });
 * if (!a.admitted) console.log(`refused by ${a.check}: ${a.reason}`);
 */
export async function admit(req: AdmitRequest): Promise<Admission> {
  const config = req.config ?? currentConfig();
  const now = req.now ?? new Date();
  const runbook = Runbooks.get(req.runbook);
  const dryRun = req.dryRun ?? false;
  const automatic = AUTOMATIC.includes(req.trigger.kind);
  const refuse = (r: Refusal) => refused(req, runbook.name, r, automatic, now);

  // 1. params (and the location, which is part of what the run is asked to do)
  const parsed = parsedParams(runbook, req.params);
  if ("check" in parsed) return refuse(parsed);
  // Config `organization`: the OUs' accounts, from the cache unless it is older than cacheMinutes.
  if (req.location && config.organization) await Organization.refresh(config);
  const location = req.location ? knownLocation(config, req.location, runbook, parsed.params) : undefined;
  if (location && "check" in location) return refuse(location);
  // A runbook that takes `region` and is given none acts in Reflex's Region (its steps read it
  // from the environment), not the location's: the location's is its region, as Locations.start sets.
  if (location && parsed.params.region === undefined && takesRegion(runbook))
    parsed.params = { ...parsed.params, region: location.region };
  const a: Admitting = {
    req,
    // A run in a member account is judged by that account's overrides too (only ever stricter).
    config: location ? Overrides.configForAccount(config, location.account) : config,
    now,
    runbook,
    params: parsed.params,
    dryRun,
    automatic,
    // A person's dry-run changes nothing, so pause and freeze let it through. A rule in shadow
    // mode (dry-run) meets every guardrail a real run would, so its record shows what the rule
    // would really have done — suppressed by a cooldown or a freeze included.
    guarded: automatic || !dryRun,
    reasonsForApproval: [],
    ...(location ? { location } : {}),
  };

  // 2-6. the checks that take nothing
  for (const check of CHECKS) {
    const refusal = await check(a);
    if (refusal) return refuse(refusal);
  }

  const executionId = req.executionId ?? Runs.newExecutionId(runbook.name, now);

  // 7. cooldown (rules), taken now and given back if a later check refuses
  const cooldown = await takeCooldown(a, executionId);
  if (cooldown && "check" in cooldown) return refuse(cooldown);

  // 8-10. rate limit, approval policy, lock with the record (Runs.start), and the run
  return start(a, executionId, cooldown, refuse);
}

/** A refusal, before it is audited and answered. */
interface Refusal {
  check: Check;
  reason: string;
  issues?: ValidationError["issues"];
  /** When not the check's own (a precheck says 400, 403 or 409). */
  status?: 400 | 403 | 409;
  code?: string;
}

/** What the phases of one admission share. */
interface Admitting {
  req: AdmitRequest;
  config: Config;
  now: Date;
  runbook: Runbooks.Runbook;
  params: Record<string, unknown>;
  dryRun: boolean;
  automatic: boolean;
  /** Whether pause and freeze apply: every automatic start, and a person's real run. */
  guarded: boolean;
  /** Why the run waits for a person besides the policy (a freeze override), filled by the checks. */
  reasonsForApproval: string[];
  /** The member account (by id) and Region the run acts in. */
  location?: { account: string; region: string };
}

/** Whether the runbook's params have a `region` (where its resources are). */
function takesRegion(runbook: Runbooks.Runbook): boolean {
  return "region" in ((runbook.params as { shape?: object }).shape ?? {});
}

/** The location as the config knows it (the account by id), or a refusal naming what is unknown. */
function knownLocation(
  config: Config,
  asked: { account: string; region: string },
  runbook: Runbooks.Runbook,
  params: Record<string, unknown>,
): { account: string; region: string } | Refusal {
  // An AWS SDK Task runs with the state machine's own role, in the hub: in a member account it
  // would act on the wrong account, so such a runbook takes no location (yet).
  if (JSON.stringify(runbook.stateMachine).includes('"arn:aws:states:::aws-sdk:'))
    return {
      check: "params",
      reason: `${runbook.name} calls AWS from its state machine (aws() Tasks), which acts in the hub's account only; it cannot run in a member account`,
      issues: [{ path: "location", message: "this runbook cannot run in a member account" }],
    };
  const account = config.accounts.find((a) => a.id === asked.account || a.name === asked.account);
  if (!account)
    return {
      check: "params",
      reason: `account '${String(asked.account).slice(0, 64)}' is not in config accounts`,
      issues: [{ path: "location.account", message: "not in config accounts" }],
    };
  if (!account.regions.includes(asked.region))
    return {
      check: "params",
      reason: `Region '${String(asked.region).slice(0, 32)}' is not one of account ${account.name}'s (${account.regions.join(", ")})`,
      issues: [{ path: "location.region", message: `not one of ${account.name}'s Regions` }],
    };
  // The params' `region` (where the resources are) names the Region the run's clients act in:
  // another than the location's would act in a Region the account may not list, under locks
  // keyed by the location's Region. Locations.start sets it to the location's; a caller may too.
  if (typeof params.region === "string" && params.region !== asked.region)
    return {
      check: "params",
      reason: `params.region '${params.region.slice(0, 32)}' is not the location's Region '${asked.region}': a run in a member account acts in its location's Region (leave region out, or name that one)`,
      issues: [{ path: "params.region", message: `not the location's Region (${asked.region})` }],
    };
  return { account: account.id, region: asked.region };
}

/** The cooldown an admission took, to give back when the start does not happen. */
interface TakenCooldown {
  rule: string;
  target: string;
}

function parsedParams(
  runbook: Runbooks.Runbook,
  raw: unknown,
): { params: Record<string, unknown> } | Refusal {
  try {
    return { params: Runs.parseParams(runbook, raw) };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return { check: "params", reason: err.message, issues: err.issues };
  }
}

/** 2. access: the config's own automation is not a person; its authority is the config. */
function checkAccess({ automatic, dryRun, config, req, runbook }: Admitting): Refusal | undefined {
  if (automatic) return undefined;
  const action = dryRun ? "dry-run" : "run";
  if (Access.may(config, req.actor, action, runbook.name)) return undefined;
  return {
    check: "access",
    reason: `${req.actor.id} may not ${action === "run" ? "run" : "dry-run"} ${runbook.name} in ${config.environment}${Access.accessConfigured(config) ? "" : " (the config lists nobody under access)"}`,
  };
}

/** 3-4. pause and breaker: automatic starts are held; a person may override a pause, never the breaker's. */
async function checkPause({
  guarded,
  automatic,
  config,
  req,
  runbook,
  now,
}: Admitting): Promise<Refusal | undefined> {
  if (!guarded) return undefined;
  const automation = await Guardrails.automationStateForGate(now.getTime());
  const pausedByConfig = config.guardrails.paused;
  const pausedBy = pausedByConfig ? "config" : automation.paused ? automation.pausedBy : undefined;
  if (!pausedBy) return undefined;
  const why = pausedByConfig
    ? "guardrails.paused is true in the config"
    : `${automation.pausedBy}: ${automation.reason ?? ""}`;
  if (automatic) {
    return pausedBy === "breaker"
      ? { check: "breaker", reason: `circuit breaker is open: ${automation.reason ?? ""}` }
      : { check: "pause", reason: `automatic runs are paused (${why})` };
  }
  if (pausedBy === "breaker") return undefined;
  if (!req.overridePause?.trim())
    return {
      check: "pause",
      reason: `Reflex is paused (${why}); start anyway with an explicit override and a reason`,
    };
  if (!Access.may(config, req.actor, "override-pause", runbook.name))
    return { check: "access", reason: `${req.actor.id} may not start runs while Reflex is paused` };
  return undefined;
}

/**
 * 5. freeze: automatic starts are held, unless the runbook narrows them to what is safe in a
 * freeze (off-hours: starts only; audited); a person allowed to override starts with a reason,
 * and waits for approval.
 */
async function checkFreeze(a: Admitting): Promise<Refusal | undefined> {
  const { guarded, automatic, config, req, runbook, now } = a;
  if (!guarded) return undefined;
  const freeze = Guardrails.activeFreeze(config, runbook.name, req.decisionTime ?? now);
  if (!freeze) return undefined;
  const what = `change freeze '${freeze.name}' until ${freeze.to}${freeze.reason ? ` (${freeze.reason})` : ""}`;
  const narrowed = automatic
    ? runbook.duringFreeze?.(a.params as never, freeze, config.runbookConfig ?? {})
    : undefined;
  if (narrowed) {
    a.params = narrowed as Record<string, unknown>;
    await Audit.record(
      {
        kind: "guardrail.narrowed",
        actor: req.actor.id,
        reason: `${runbook.name} admitted narrowed during ${what}: ${JSON.stringify(a.params)}`,
        runbook: runbook.name,
        guardrail: "freeze",
      },
      now,
    );
    return undefined;
  }
  if (automatic || !req.overrideFreeze?.trim()) return { check: "freeze", reason: what };
  if (!Access.may(config, req.actor, "override-freeze", runbook.name))
    return { check: "access", reason: `${req.actor.id} may not override ${what}` };
  a.reasonsForApproval.push(`freeze override of '${freeze.name}': ${req.overrideFreeze.trim()}`);
  return undefined;
}

/** 6. blast radius, when the params alone tell. */
function checkBlastRadius({ runbook, config, params }: Admitting): Refusal | undefined {
  const cap = Math.min(runbook.cap.maxTargets, config.guardrails.maxTargetsPerRun);
  const radius = runbook.blastRadius?.(params as never);
  if (radius !== undefined && radius > cap)
    return { check: "blast-radius", reason: `the run would touch ${radius} targets; the cap is ${cap}` };
  return undefined;
}

/**
 * 6b. The runbook's own pre-start check (restore: the snapshot exists, is Reflex's and is
 * completed; the drill is in the config; no other run restores that source). Asked after the
 * guardrails, so a caller refused access learns nothing of the cloud; read-only.
 */
async function checkPrecheck({
  runbook,
  config,
  params,
  dryRun,
  now,
  req,
  automatic,
}: Admitting): Promise<Refusal | undefined> {
  if (!runbook.precheck) return undefined;
  const check = await runbook.precheck();
  const refusal = await check(params, {
    now: () => now,
    automationTag: config.automationTag,
    dryRun,
    config: Object.fromEntries(
      Object.keys(runbook.config ?? {}).map((k) => [
        k,
        config.runbookConfig?.[k] ?? (config as unknown as Record<string, unknown>)[k],
      ]),
    ),
    heldBy: async (targets) => {
      const held = await Promise.all(targets.map((t) => Locks.holder(t, now.getTime())));
      return held.flatMap((l, i) => (l ? [{ target: targets[i] as string, holder: l.owner }] : []));
    },
    actor: req.actor.id,
    may: (action) => !automatic && Access.may(config, req.actor, action, runbook.name),
  });
  if (!refusal) return undefined;
  return {
    // A 403 is this person's access (`override-limits`), audited as such.
    check: refusal.status === 403 ? "access" : "precheck",
    reason: refusal.message,
    status: refusal.status,
    code: refusal.code,
    ...(refusal.path ? { issues: [{ path: refusal.path, message: refusal.message }] } : {}),
  };
}

/** The checks that take nothing, in the order they are asked (docs/guardrails.md has the matrix). */
const CHECKS: ((a: Admitting) => Refusal | undefined | Promise<Refusal | undefined>)[] = [
  checkAccess,
  checkPause,
  checkFreeze,
  checkBlastRadius,
  checkPrecheck,
];

/** 7. cooldown (rules): taken now; the start gives it back if it does not happen. */
async function takeCooldown(
  { req, runbook, params, now, location }: Admitting,
  executionId: string,
): Promise<TakenCooldown | Refusal | undefined> {
  const cooldown = req.cooldown;
  const own = cooldown ? (cooldown.target ?? runbook.locks?.(params as never)[0] ?? runbook.name) : undefined;
  // One target in two accounts (or Regions) is two targets, as it is two locks: each cools down
  // on its own (an alarm name repeated in every member account, a fan-out's children).
  const target = own && location ? locationKey(location, own) : own;
  if (!cooldown || !target) return undefined;
  const until = await Guardrails.takeCooldown(
    cooldown.rule,
    target,
    cooldown.ms,
    executionId,
    now.getTime(),
    runbook.name,
  );
  if (until)
    return {
      check: "cooldown",
      reason: `rule ${cooldown.rule} acted on ${target} recently; cooldown until ${until}`,
    };
  return { rule: cooldown.rule, target };
}

/**
 * 8-10. The rate slot (automatic starts), taken alongside the lock; the approval policy; the
 * record with its locks and the run (Runs.start). When the start fails, the cooldown and the
 * rate slot are given back and the failure is told as the check it was.
 */
async function start(
  a: Admitting,
  executionId: string,
  cooldown: TakenCooldown | undefined,
  refuse: (r: Refusal) => Promise<Admission>,
): Promise<Admission> {
  const { req, config, runbook, params, dryRun, automatic, now } = a;
  const giveBack = async (rateTaken: boolean) => {
    if (cooldown) await Guardrails.returnCooldown(cooldown.rule, cooldown.target, executionId);
    if (rateTaken)
      await Guardrails.returnRateSlot(runbook.name, config.guardrails.rateLimit.per, now.getTime());
  };

  // 8. rate limit (automatic), taken alongside the lock
  const { runs, per } = config.guardrails.rateLimit;
  const rateSlot = automatic ? Guardrails.takeRateSlot(runbook.name, runs, per, now.getTime()) : undefined;
  const rateRefusal = `${runbook.name} already ran ${runs} times in this ${Math.round(per / 60_000)}-minute window`;

  // 9. approval policy
  // A run's params may raise its risk (restore in place is high): the policy reads the run's.
  const risk = runbook.riskFor?.(params as never) ?? runbook.risk;
  const approval = approvalPlan(config, { ...runbook, risk }, req, dryRun, a.reasonsForApproval);

  // 10. lock, with the record (Runs.start), and the run
  try {
    const execution = await Runs.start(
      {
        runbook: runbook.name,
        params,
        dryRun,
        executionId,
        trigger: {
          kind: req.trigger.kind,
          name: req.trigger.name,
          actor: req.actor.id,
          eventId: req.trigger.eventId,
          ...(req.trigger.alarm ? { alarm: req.trigger.alarm } : {}),
          ...(req.trigger.rerunOf ? { rerunOf: req.trigger.rerunOf } : {}),
          ...(req.overrideFreeze ? { overrideFreeze: req.overrideFreeze } : {}),
          ...(req.overridePause ? { overridePause: req.overridePause } : {}),
        },
        reservation: rateSlot?.then((ok) => (ok ? undefined : rateRefusal)),
        approval,
        window: req.window,
        ...(a.location ? { location: a.location } : {}),
      },
      now,
    );
    if (req.overrideFreeze || req.overridePause) await auditOverride(req, runbook.name, executionId, now);
    return { admitted: true, execution, approval };
  } catch (err) {
    if (err instanceof ConflictError && err.code === "execution_exists") {
      // A redelivery starts nothing: the rate slot it took goes back (the cooldown, held under
      // this same execution id, is the run's own and stays).
      if (await rateSlot?.catch(() => false))
        await Guardrails.returnRateSlot(runbook.name, config.guardrails.rateLimit.per, now.getTime());
      return {
        admitted: false,
        duplicate: true,
        status: 409,
        executionId,
        reason: `run ${executionId} was already started`,
      };
    }
    await giveBack(Boolean(await rateSlot?.catch(() => false)));
    if (err instanceof ConflictError && err.code === "reservation_refused")
      return refuse({ check: "rate-limit", reason: rateRefusal });
    if (err instanceof ConflictError && err.code === "target_locked")
      return refuse({ check: "lock", reason: err.message });
    throw err;
  }
}

/** A started run that overrode a freeze or a pause: the override, with its reason, in the audit. */
async function auditOverride(
  req: AdmitRequest,
  runbook: string,
  executionId: string,
  now: Date,
): Promise<void> {
  await Audit.record(
    {
      kind: "guardrail.overridden",
      actor: req.actor.id,
      reason: [
        req.overrideFreeze ? `freeze overridden: ${req.overrideFreeze}` : undefined,
        req.overridePause ? `pause overridden: ${req.overridePause}` : undefined,
      ]
        .filter(Boolean)
        .join("; "),
      executionId,
      runbook,
      guardrail: req.overrideFreeze ? "freeze" : "pause",
    },
    now,
  );
}

/**
 * Whether the run waits for a person. First the rule (`approval: required`) and a freeze
 * override (always); then the config's policies, first match; then the defaults: `high` risk
 * always, `medium` in an environment named prod or production. Dry-runs never wait.
 */
export function approvalPlan(
  config: Config,
  runbook: Runbooks.Runbook,
  req: Pick<AdmitRequest, "approval" | "actor">,
  dryRun: boolean,
  reasons: string[] = [],
): Executions.ApprovalPlan {
  const why = [...reasons];
  if (req.approval === "required") why.push("the rule requires approval");
  const policy = [
    ...config.approvals.policies,
    { risks: ["high" as const], require: true },
    { risks: ["medium" as const], environments: ["prod", "production"], require: true },
  ].find(
    (p) =>
      (!("runbooks" in p) || !p.runbooks || p.runbooks.includes(runbook.name) || p.runbooks.includes("*")) &&
      (!p.risks || p.risks.includes(runbook.risk)) &&
      (!p.environments || p.environments.includes(config.environment)),
  );
  if (policy?.require) why.push(`policy: ${runbook.risk} risk in ${config.environment}`);
  const approvers = config.approvals.approvers ?? Access.rolesAllowed(config, "approve", runbook.name);
  return {
    required: !dryRun && why.length > 0,
    reasons: dryRun ? [] : why,
    approvers,
    minApprovers: config.approvals.minApprovers,
    deadlineSeconds: Math.max(1, Math.round(config.approvals.deadline / 1000)),
    selfApproval: config.access.selfApproval,
    requestedBy: req.actor.id,
  };
}

async function refused(
  req: AdmitRequest,
  runbook: string,
  { check, reason, issues, status, code }: Refusal,
  automatic: boolean,
  now: Date,
): Promise<Admission> {
  const trigger = `${req.trigger.kind}${req.trigger.name ? ` '${req.trigger.name}'` : ""}`;
  await Promise.all([
    Audit.record(
      {
        kind: automatic ? "start.suppressed" : "start.refused",
        actor: req.actor.id,
        reason: `${runbook} ${automatic ? "suppressed" : "refused"} (${check}) for ${trigger}: ${reason}`,
        runbook,
        eventId: req.trigger.eventId,
        guardrail: check,
        data: { trigger: req.trigger, dryRun: req.dryRun ?? false },
      },
      now,
    ),
    Lifecycle.publish(
      automatic ? "Event Suppressed" : "Start Refused",
      { runbook, check, reason, actor: req.actor.id, trigger: req.trigger, guardrail: check },
      now,
    ),
  ]);
  return {
    admitted: false,
    check,
    reason,
    status: status ?? STATUS[check],
    issues,
    ...(code ? { code } : {}),
  };
}

/** Turns a refusal into the error an HTTP caller gets (403 access, 409 guardrails, 400 params). */
export function refusalError(a: Extract<Admission, { admitted: false }>): Error {
  if (a.status === 400) return new ValidationError(a.code ?? "invalid_params", a.reason, a.issues ?? []);
  if (a.status === 403) return new AccessDeniedError(a.reason, a.issues?.[0]?.path);
  const code =
    a.code ??
    (a.duplicate ? "execution_exists" : a.check === "lock" ? "target_locked" : `refused_${a.check}`);
  return new ConflictError(code, a.reason);
}

/**
 * Starts a new run with the same runbook and params as an earlier one, through admission
 * again (access, freeze, locks… as of now). The new run's trigger names the one it repeats.
 *
 * @example
 * const again = await Admission.rerun({ executionId: "scale-20261128T100000Z-ab12cd", actor: { id: "cli:alice" } });
 */
export async function rerun(input: {
  executionId: string;
  actor: Access.Actor;
  dryRun?: boolean;
  overrideFreeze?: string;
  overridePause?: string;
  config?: Config;
  now?: Date;
}): Promise<Admission> {
  const original = await Executions.find(input.executionId);
  if (!original || original.status === "STARTING") throw new NotFoundError("execution", input.executionId);
  return admit({
    runbook: original.runbook,
    params: original.params,
    dryRun: input.dryRun ?? original.dryRun,
    trigger: { kind: "rerun", name: original.id, rerunOf: original.id },
    actor: input.actor,
    overrideFreeze: input.overrideFreeze,
    overridePause: input.overridePause,
    // Where the original acted: a rerun of a member account's run runs there again.
    ...(original.location ? { location: original.location } : {}),
    config: input.config,
    now: input.now,
  });
}
