/**
 * `defineRunbook`: the one shape every runbook has. A runbook declares its params schema,
 * risk, blast-radius cap, IAM permissions (the stacks read them, so IAM never drifts from
 * code), its steps (one async function per Task state), its rollback steps, what it does in
 * dry-run, and its state machine as ASL data. Definitions are checked when they are defined:
 * a runbook with no rollback, or whose ASL breaks the Task conventions, is refused. The step
 * implementations live apart (`implementSteps`), so what only starts runs stays light.
 *
 * ## Errors: what a step throws, and what Step Functions sees
 *
 * The step runner (`steps.ts`) renames what a step throws before Step Functions sees it,
 * because Retry and Catch match on the error's *name* only:
 *
 * - A **transient** AWS error — throttling (`RequestLimitExceeded`, `Throttling`, …), a 5xx
 *   (`InternalError`, `ServiceUnavailable`, …), a timeout, a dropped connection — keeps its
 *   AWS code as its name when it is in `TRANSIENT_ERRORS` (asl.ts), and is renamed
 *   `Reflex.TransientError` otherwise (its message then starts with the original code).
 *   `RETRY_STEP` retries these for about 8 minutes, `RETRY_ROLLBACK` for about 26, with
 *   exponential backoff and jitter. Use `RETRY_ROLLBACK` on every compensation step.
 * - A **permanent** error — AccessDenied, a validation error, `*.NotFound`, or a Reflex
 *   `StepExecutionError` — is named by its code (`StepExecutionError("NoTargets", …)` reaches
 *   Step Functions as `NoTargets`), matches no retrier, and fails the step at once: the run's
 *   Catch sees it and the run fails with that name and the message as its cause.
 *
 * So a step needs no retry loop of its own: it must only be safe to repeat (read current
 * state first). A step that catches errors per target (to report one target failed and go
 * on) must rethrow transient ones (`isTransient` from `aws-errors.ts`), or a blip becomes a
 * failed target. `aws-errors.test.ts` and `test/chaos.test.ts` pin this behaviour.
 */

import { z } from "zod";
import type { Action, Config } from "../config/schema.ts";
import { type Issue, RunbookDefinitionError } from "../errors.ts";
import {
  APPROVAL_RESOURCE,
  APPROVAL_STEP,
  type AslDefinition,
  type AslState,
  STEP_HANDLER,
  VERIFY_APPROVAL_STEP,
} from "./asl.ts";
import { type ResultOf, runResultSchema } from "./result.ts";

export type Risk = "low" | "medium" | "high";

/**
 * One IAM statement a runbook's step worker needs. The stacks turn each into exactly one
 * statement (stacks/iam.ts); tests evaluate the synthesized policies (stacks/policy-matrix.test.ts).
 *
 * Declare per resource type when AWS authorizes a call against more than one resource: EC2
 * `CreateSnapshot` is checked against the source volume *and* the new snapshot, and only the
 * snapshot carries request tags, so it takes two permissions (volume/*, and snapshot/* with
 * `tagCondition: "request"`). Resource ARNs may use `${Partition}`, `${Account}`, `${Region}`
 * and the stacks' own placeholders (`${ReportsBucketArn}`). EC2 snapshot ARNs have no account
 * (`arn:${Partition}:ec2:*::snapshot/*`).
 *
 * @example
 * // tag only what this runbook creates, in the same call
 * { actions: ["ec2:CreateTags"], mutating: true, tagCondition: "request",
 *   resources: ["arn:${Partition}:ec2:*::snapshot/*"], onCreate: ["CreateSnapshot"] }
 */
export interface Permission {
  /** IAM actions, never `*`. */
  actions: string[];
  /**
   * True for actions that change the cloud. The stacks scope these to resources carrying the
   * automation tag (`aws:ResourceTag/<key>`), where the service supports the condition.
   */
  mutating: boolean;
  /** Resource ARNs (patterns); default `*` for read-only describes, which have no resource-level scoping. */
  resources?: string[];
  /**
   * Which automation-tag condition scopes a mutating action: on the resource (`aws:ResourceTag`,
   * the default), on the request (`aws:RequestTag`, for what the call creates), or none.
   * `"none"` on EC2, Auto Scaling, SSM or Route 53 needs named resources and a `why`.
   */
  tagCondition?: "resource" | "request" | "none";
  /**
   * Tagging actions (`ec2:CreateTags`): allowed only as part of these creating calls
   * (`ec2:CreateAction`), so tags can never be put on something that already exists. Required
   * for every tagging action. Services without such a key (RDS authorizes a Create* call's
   * `Tags` as `rds:AddTagsToResource`) are fenced by the named resources instead (e.g. only
   * `snapshot:reflex-*`) and the request tag.
   */
  onCreate?: string[];
  /**
   * Further conditions the service supports, added to the tag condition: e.g.
   * `{ StringLike: { "ec2:Attribute/InstanceType": "*" } }` (only the instance type may change),
   * `{ Bool: { "kms:GrantIsForAWSResource": "true" } }`, Route 53's
   * `route53:ChangeResourceRecordSetsNormalizedRecordNames`.
   */
  conditions?: Record<string, Record<string, string | string[]>>;
  /**
   * Actions AWS authorizes on the caller *during* these calls, which the code never sends
   * itself (`kms:CreateGrant` while `ec2:StartInstances` attaches an encrypted volume). The
   * SDK-import check in stacks/iam.test.ts counts them as used when those calls are.
   */
  during?: string[];
  /** Why an unusual permission is safe; required for `tagCondition: "none"` on a tag-scoped service. Shown in the cdk-nag suppression. */
  why?: string;
  /**
   * The actions have no resource type in AWS's Service Authorization Reference
   * (`ssm:CancelCommand`), so IAM can grant them only on `*`, in a statement of their own.
   * Needs `tagCondition: "none"`, no `resources` and a `why`; stacks/iam.test.ts checks each
   * such action really is wildcard-only.
   */
  wildcardOnly?: true;
  /**
   * Narrows the permission to what the deployed config names: one statement per scope
   * returned (its resources and conditions replace the declared ones), none when the config
   * names nothing it could act on. The stacks apply it at synth, so a config change that
   * would widen it takes a redeploy (`reflex config check` says so).
   */
  forConfig?: (config: Config) => PermissionScope[];
}

/** What {@link Permission.forConfig} narrows a permission to. */
export interface PermissionScope {
  resources: string[];
  conditions?: Record<string, Record<string, string | string[]>>;
}

/** Services whose mutating actions must be fenced by the automation tag (or, for Route 53, by record conditions). */
export const TAG_SCOPED_SERVICES = ["ec2", "autoscaling", "ssm", "route53"];

/** Actions that put tags on a resource: never allowed except on what the same call creates. */
export const TAGGING_ACTIONS =
  /^(ec2:CreateTags|[a-z0-9-]+:TagResource|elasticloadbalancing:AddTags|ssm:AddTagsToResource|rds:AddTagsToResource)$/;

/** Problems with one declared permission (empty when it is sound). */
export function permissionProblems(p: Permission): string[] {
  const problems: string[] = [];
  for (const a of p.actions) {
    if (a.includes("*")) problems.push(`permission '${a}' uses a wildcard`);
    if (!/^[a-z0-9-]+:[A-Za-z0-9]+$/.test(a)) problems.push(`permission '${a}' is not service:Action`);
  }
  const tagging = p.actions.filter((a) => TAGGING_ACTIONS.test(a));
  if (tagging.length > 0) {
    if (!p.onCreate?.length) {
      problems.push(
        `${tagging.join(", ")} must say which creating calls it tags (onCreate), so existing resources can never be tagged`,
      );
    }
    if (!p.resources?.length || p.resources.includes("*")) {
      problems.push(`${tagging.join(", ")} must name the resource types it tags, not '*'`);
    }
  } else if (p.onCreate?.length) {
    problems.push(`onCreate is only for tagging actions, not ${p.actions.join(", ")}`);
  }
  if (p.wildcardOnly) {
    if (p.tagCondition !== "none")
      problems.push(`wildcard-only ${p.actions.join(", ")} cannot carry a tag condition`);
    if (p.resources?.length) problems.push(`wildcard-only ${p.actions.join(", ")} must not name resources`);
    if (!p.why?.trim()) problems.push(`wildcard-only ${p.actions.join(", ")} must say why (why)`);
    return problems;
  }
  const fenced = p.actions.filter((a) => TAG_SCOPED_SERVICES.includes(a.split(":")[0]));
  if (p.mutating && p.tagCondition === "none" && fenced.length > 0) {
    if (!p.why?.trim()) problems.push(`${fenced.join(", ")} without a tag condition must say why (why)`);
    if (!p.resources?.length || p.resources.includes("*")) {
      problems.push(`${fenced.join(", ")} without a tag condition must name its resource types, not '*'`);
    }
  }
  return problems;
}

/** What every step gets besides its input. */
export interface StepContext {
  executionId: string;
  runbook: string;
  dryRun: boolean;
  /** The Task state that invoked the step. */
  state: string;
  now(): Date;
  /** The tag that marks resources Reflex may act on (and that Reflex puts on what it creates). */
  automationTag: { key: string; value: string };
  /**
   * Locks targets this run resolved itself (a selector's instances), one lock per target, in
   * sorted order. Each is named on the run's record before it is taken, so closing the run
   * releases it. Returns the targets now held by this run and those another run holds.
   */
  lockTargets(
    targets: string[],
  ): Promise<{ held: string[]; locked: Array<{ target: string; holder?: string }> }>;
  /**
   * Merges fields into what the run records (`summary`, `targets`, …): what the manifest's
   * `result` turns into the one result shape. Written at once, so a lost run still shows it.
   */
  record(fields: Record<string, unknown>): Promise<void>;
  /** The config keys its manifest declares (`config`), as the config in force has them. */
  config: Record<string, unknown>;
  /** The most targets this run may touch: the manifest's cap, lowered by `guardrails.maxTargetsPerRun`. */
  maxTargets?: number;
  /**
   * The runbook's own small records, kept across runs (off-hours' overrides, what it stopped):
   * `put(key, value, { expiresAt })`, `list(prefix)` (items expired at `now()` left out: expiry
   * is checked on read), `remove(key)`. `GET /api/runbooks/:name/items` lists them. Always set
   * by the step runner; optional only so a hand-built context in a unit test need not fake it.
   */
  items?: RunbookItemStore;
  /**
   * Pages a person now, before the run ends: a state no step can put right alone (restore's
   * root replacement ended `failed-detached`: the instance has no root volume). Published as
   * the run's record (`result.page`) and the lifecycle event `Reflex Attention Needed` (Slack
   * posts it to the run's channel, from the record);
   * the run then fails as usual, which the failed-executions alarm pages too. Set by the step
   * runner; optional only so a hand-built context in a unit test need not fake it.
   */
  page?(reason: string): Promise<void>;
  /** Who started the run, as its record names them (`cli:alice`, `schedule:office`). Set by the step runner. */
  actor?: () => Promise<string>;
  /** The person who started it: `actor` through the config's `people` (`slack:U123` → `alice`), else `actor`. Set by the step runner. */
  person?: () => Promise<string>;
  /** May the run's starter take `action` on this runbook (config `access`)? Set by the step runner. */
  may?: (action: Action) => Promise<boolean>;
}

/** What {@link StepContext.items} offers: one runbook's records, nobody else's. */
export interface RunbookItemStore {
  put(key: string, value: Record<string, unknown>, opts?: { expiresAt?: Date }): Promise<void>;
  list(prefix?: string): Promise<Array<{ key: string; value: Record<string, unknown>; expiresAt?: string }>>;
  remove(key: string): Promise<void>;
}

/** The input every Task receives: the execution, the validated params, and what earlier steps added. */
export interface RunInput<P = Record<string, unknown>> {
  execution: { id: string; runbook: string; dryRun: boolean; startedAt: string };
  params: P;
  [key: string]: unknown;
}

/**
 * One step: `(input, ctx) => output`. Written as a method's type, whose parameter TypeScript
 * compares both ways, so each step declares the input its state passes it (`RunInput<P> & {...}`,
 * a Map item's own shape) and still fits the one map of steps.
 */
export type StepFn = { step(input: object, ctx: StepContext): Promise<unknown> }["step"];

export interface RunbookSpec<S extends z.ZodType> {
  name: string;
  summary: string;
  risk: Risk;
  /**
   * The risk of one run, when its params raise it above `risk` (restore in place replaces a
   * root volume: `high`; side by side it makes new volumes: `medium`). The approval policy reads
   * this one.
   */
  riskFor?: (params: z.output<S>) => Risk;
  params: S;
  /** A valid params object, shown by `GET /api/runbooks` and used in docs and tests. */
  example: z.input<S>;
  /** The most targets one run may touch, before any config lowers it. */
  cap: { maxTargets: number };
  permissions: Permission[];
  /** Names of the steps that compensate a failed run. */
  rollback: string[];
  /** What a dry-run does, in one sentence (it must make no mutating call). */
  dryRun: string;
  /** The state machine. Task states call `${StepHandlerArn}` with `{ runbook, step, input }`. */
  stateMachine: AslDefinition;
  /**
   * The targets a run locks before it starts, when its params name them (`asg:web`,
   * `instance:i-…`): all or none, or the start is refused (`target_locked`). Runbooks whose
   * targets are only known after a cloud lookup (a tag selector) lock them in a step with
   * `ctx.lockTargets` instead. Targets, never params: two selectors naming one instance must
   * meet at one lock.
   */
  locks?: (params: z.output<S>) => string[];
  /**
   * How many targets a run with these params may touch, when the params alone tell (instances
   * named, instances added by a scale-out). The event gate checks it against the cap before it
   * starts anything; steps enforce the cap again once they have looked at the cloud.
   */
  blastRadius?: (params: z.output<S>) => number | undefined;
  /**
   * Read-only reports over its own records (off-hours' `savings`), served at
   * `GET /api/runbooks/:name/reports/:report?…` with the query as strings. A report answers
   * `{ invalid: { path, message } }` for a bad query (a 400 naming it), else its body.
   */
  reports?: Record<string, RunbookReport>;
  /**
   * A history of its runs grouped by one param, named by a config key's entries (restore: the
   * `drills:` entries, run with `drill: <name>`): `GET /api/<route>` lists each entry's last run,
   * its trend and a met/missed count; `GET /api/<route>/:name/history` every run. `row` reads one
   * run's record (RTO/RPO, checksum, cleanup), so the API knows no runbook's record shape.
   */
  history?: RunHistory;
  /**
   * Checks a start needs the cloud for — the snapshot it names exists and is ready, the drill
   * is in the config — asked by admission after access, pause, freeze and blast radius and
   * before anything is written, so bad input is a 400 or 409 with a named code instead of a
   * run whose first step fails. Loaded only when asked (like `implementation`), so the manifest
   * never loads cloud clients; read-only: it may describe, never change.
   *
   * @example
   * precheck: () => import("./precheck.ts").then((m) => m.precheck),
   */
  precheck?: () => Promise<Precheck>;
  /**
   * What its precheck reads, declared as steps' permissions are (read-only only): the precheck
   * runs in whichever function admits the start (the API, the schedule and event-gate functions,
   * the Slack worker), and the stacks give exactly those roles these grants. Required with
   * `precheck` (an empty list when it reads nothing in the cloud).
   *
   * @example
   * precheckPermissions: [{ actions: ["ec2:DescribeSnapshots", "ec2:DescribeInstances"], mutating: false }],
   */
  precheckPermissions?: Permission[];
  /**
   * Loads its step implementations (and its lost-run inspector), only when a step runs: the
   * event gate, the API and the schedule handler read the manifest but never load the steps'
   * cloud clients. Required when its state machine calls steps.
   *
   * @example
   * implementation: () => import("./handlers.ts").then((m) => m.backupSteps),
   */
  implementation?: () => Promise<Implementation>;
  /**
   * What the reconciler needs to inspect a lost run of this runbook (the implementation's
   * `inspectLost`, read-only) and to sweep what it made (`sweepLost`: mutating permissions
   * fenced by the automation tag), added to the reconciler's role.
   */
  lostRun?: { permissions: Permission[] };
  /** The AWS services its steps call (`ec2`, `ssm`, …): local mode's simulated cloud must answer for each. */
  services?: string[];
  /**
   * Config keys it reads (failover's `pairs`), with their schema: `reflex config check` checks
   * them, and the docs list them.
   */
  config?: Record<string, z.ZodType>;
  /**
   * Schedules it adds, from its own config keys (validated): off-hours ticks every 5 minutes per
   * schedule it is given. Each becomes one of the config's `schedules` (run: this runbook), so it
   * fires like any schedule — EventBridge Scheduler deployed, the local scheduler locally — and
   * every tick is a start through `admit()` with the trigger `schedule` and its name.
   *
   * @example
   * schedules: (c) => (c.offHours as OffHours).schedules.map((s) => ({ name: `off-hours-${s.name}`,
   *   cron: "rate(5 minutes)", with: { schedule: s.name } })),
   */
  /**
   * What an automatic run (a rule, a schedule, a window) may still do during a change freeze:
   * its params narrowed so the run is safe then (off-hours: starts only, stops suppressed), or
   * undefined to be refused as any other run is. Admission audits the narrowing with the freeze.
   */
  duringFreeze?: (
    params: z.output<S>,
    freeze: { name: string; to: string },
    config: Record<string, unknown>,
  ) => z.output<S> | undefined;
  schedules?: (config: Record<string, unknown>) => Array<{
    name: string;
    cron: string;
    timezone?: string;
    with: Record<string, unknown>;
    /** Where in the config it comes from (`["drills", 2]`): its problems are reported there (`drills[2].cron`). */
    at?: PropertyKey[];
  }>;
  /**
   * Its results in the one result shape (`result.ts`), from what its steps recorded on the run.
   * Omitted: the record already is that shape (`summary`, `targets`, `artifacts`).
   */
  result?: ResultOf;
}

/** One report over a runbook's own records (see {@link RunbookSpec.reports}). */
export type RunbookReport = (
  query: Record<string, string>,
  ctx: {
    /** The runbook's records under a prefix, expired ones left out. */
    items(prefix: string): Promise<Array<{ key: string; value: Record<string, unknown> }>>;
    config: Record<string, unknown>;
  },
) => Promise<{ invalid: { path: string; message: string } } | Record<string, unknown>>;

/** How a runbook's runs group into a history (see {@link RunbookSpec.history}). */
/**
 * The key segment of a history's monthly summaries (`reports/<route>/summary/<YYYY-MM>.json`),
 * beside each entry's own reports (`reports/<route>/<name>/…`): no entry may be named so.
 */
export const HISTORY_SUMMARY = "summary";

export interface RunHistory {
  /** The API route's name: `drills` → `GET /api/drills`. */
  route: string;
  /** The config key whose entries (each with a `name`) the history is of. */
  configKey: string;
  /** The param a run names its entry by. */
  param: string;
  /** One ended or running run as a row: `verdict` (`met`, `missed`, `failed`, …) and what else a person reads. */
  row(run: {
    id: string;
    status: string;
    result?: Record<string, unknown>;
    error?: string;
    cause?: string;
    attention?: { reason: string; report?: unknown };
  }): { verdict: string } & Record<string, unknown>;
}

/** What a {@link RunbookSpec.precheck} gets besides the params: no run exists yet. */
export interface PrecheckContext {
  now(): Date;
  automationTag: { key: string; value: string };
  /** The config keys its manifest declares (`config`), as the config in force has them. */
  config: Record<string, unknown>;
  dryRun: boolean;
  /** Which of these targets another run holds now (`restore-source:…`), and which run. */
  heldBy(targets: string[]): Promise<Array<{ target: string; holder: string }>>;
  /** The one asking, as admission names them (`cli:alice`, `schedule:office`). */
  actor: string;
  /** May the one asking take `action` on this runbook (config `access`; automation never has a person's extras)? */
  may(action: Action): boolean;
}

/**
 * Why a start is refused before it is written: a 400 (bad input), a 403 (this person may not:
 * audited as an `access` refusal) or a 409 (the world is not ready), with a named code.
 */
export interface PrecheckRefusal {
  status: 400 | 403 | 409;
  /** Named, e.g. `SnapshotNotFound`: what the caller's `error.code` says. */
  code: string;
  message: string;
  /** The param at fault (`source.snapshotId`), when one is. */
  path?: string;
}

/** A runbook's pre-start check: undefined to let the start go on. */
export type Precheck = (
  params: Record<string, unknown>,
  ctx: PrecheckContext,
) => Promise<PrecheckRefusal | undefined>;

/** A runbook's step implementations and what else needs its cloud clients. */
export interface Implementation {
  steps: StepMap;
  inspectLost?: InspectLost;
  /**
   * Puts right what a lost run of its own made and would have deleted itself (a drill's
   * scratch volumes): asked by the reconciler after `inspectLost`, its answer reported as
   * `attention.report.swept`. Only what the run made, found by its tag and by the ids it
   * recorded; its permissions are `lostRun.permissions`, each mutating one fenced by the
   * automation tag. Must be safe to repeat.
   */
  sweepLost?: InspectLost;
  /**
   * Deletes what an ended run kept on purpose for a while (a drill's `keepFor`: `result.kept`
   * with `until`), once `until` has passed and not before; undefined while there is nothing to
   * do. Asked by the reconciler on every pass for the ended runs (started in the last 14 days)
   * of a runbook with a `history`, with `result.kept`
   * not yet swept; its answer is recorded as `result.kept.swept`. Same permissions and care as
   * `sweepLost`.
   */
  sweepKept?: (
    execution: { id: string; params: Record<string, unknown>; result?: Record<string, unknown> },
    now: Date,
  ) => Promise<unknown | undefined>;
}

export type Runbook<S extends z.ZodType = z.ZodType> = RunbookSpec<S> & {
  /** Params as JSON Schema, for the API and the docs. */
  jsonSchema: Record<string, unknown>;
  /** The steps its Task states call, in the order they appear. */
  steps: string[];
};

/** A runbook's step implementations: one async function per step its state machine calls. */
export type StepMap = Record<string, StepFn>;

const NAME = /^[a-z][a-z0-9-]{1,40}$/;

/** Every Task state in a definition, Map iterators included, with its name. */
export function taskStates(def: AslDefinition): Array<[string, AslState]> {
  const out: Array<[string, AslState]> = [];
  for (const [name, state] of Object.entries(def.States)) {
    if (state.Type === "Task") out.push([name, state]);
    const inner = state.ItemProcessor ?? state.Iterator;
    if (state.Type === "Map" && inner) out.push(...taskStates(inner));
    if (state.Type === "Parallel") for (const b of state.Branches ?? []) out.push(...taskStates(b));
  }
  return out;
}

/** Every state of a definition by name, Map iterators and Parallel branches included. */
function allStates(def: AslDefinition): Map<string, AslState> {
  const out = new Map<string, AslState>();
  for (const [name, state] of Object.entries(def.States)) {
    out.set(name, state);
    const inner = state.ItemProcessor ?? state.Iterator;
    for (const d of [...(inner ? [inner] : []), ...(state.Branches ?? [])])
      for (const [n, st] of allStates(d)) out.set(n, st);
  }
  return out;
}

/** The step a Task state runs (`stepTask`'s Parameters, or an approval's Payload). */
export function stepOf(state: AslState): string | undefined {
  const p = (state.Parameters?.Payload ?? state.Parameters) as { step?: unknown } | undefined;
  return typeof p?.step === "string" ? p.step : undefined;
}

/**
 * The steps a run may take while its approval is pending: those of the states on the way to an
 * approval wait — reachable from StartAt (by Next, Default, Choices and Catch) without passing a
 * wait or the Choice that leads to one, and from which a wait can still be reached — with the
 * bodies of the Maps and Parallels among them. The plan and its prechecks, read-only by the
 * runbook contract. A step on no way to a wait is not "before the approval", it is a step the
 * approval never guards: with no approval states at all, none is (fails closed: a run that needs
 * approval takes no step of a runbook that cannot wait for one).
 */
export function stepsBeforeApproval(def: AslDefinition): Set<string> {
  const waits = (name: string) => def.States[name]?.Resource === APPROVAL_RESOURCE;
  const edges = (state: AslState) => [
    ...[state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next)],
    ...(state.Catch ?? []).map((c) => c.Next),
  ];
  // The states from which a wait can be reached.
  const leads = new Map<string, boolean>();
  const leadsToWait = (name: string | undefined, path = new Set<string>()): boolean => {
    if (name === undefined || !def.States[name] || path.has(name)) return false;
    if (waits(name)) return true;
    const known = leads.get(name);
    if (known !== undefined) return known;
    path.add(name);
    const yes = edges(def.States[name]).some((n) => leadsToWait(n, path));
    path.delete(name);
    leads.set(name, yes);
    return yes;
  };
  const out = new Set<string>();
  const bodySteps = (d: AslDefinition) => {
    for (const state of Object.values(d.States)) {
      const step = stepOf(state);
      if (step && state.Resource !== APPROVAL_RESOURCE) out.add(step);
      for (const inner of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])])
        if (inner) bodySteps(inner);
    }
  };
  const seen = new Set<string>();
  const visit = (name: string | undefined) => {
    const state = name === undefined ? undefined : def.States[name];
    if (!state || seen.has(name as string) || waits(name as string)) return;
    seen.add(name as string);
    if (state.Type === "Choice" && state.Choices?.some((c) => waits(c.Next))) return;
    if (leadsToWait(name)) {
      const step = stepOf(state);
      if (step) out.add(step);
      for (const inner of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])])
        if (inner) bodySteps(inner);
    }
    for (const next of edges(state)) visit(next);
  };
  visit(def.StartAt);
  return out;
}

/** Whether a definition has an approval wait (`approvalStates`), Map and Parallel bodies included. */
export function hasApprovalWait(def: AslDefinition): boolean {
  return taskStates(def).some(([, t]) => t.Resource === APPROVAL_RESOURCE);
}

/**
 * Every problem with a runbook's manifest, each with the field it is in (`permissions[2]`,
 * `stateMachine.States.Apply`), and the steps its state machine calls.
 */
export function checkSpec(spec: RunbookSpec<z.ZodType>): { problems: Issue[]; steps: string[] } {
  const problems: Issue[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  if (typeof spec.name !== "string" || !NAME.test(spec.name))
    add("name", `'${String(spec.name)}' must be kebab-case (a-z, 0-9, -), 2 to 41 characters`);
  if (typeof spec.summary !== "string" || !spec.summary.trim()) add("summary", "it has no summary");
  if (!["low", "medium", "high"].includes(spec.risk)) add("risk", "must be low, medium or high");
  if (!(spec.cap?.maxTargets > 0)) add("cap.maxTargets", "must be a positive number of targets");
  if (!Array.isArray(spec.rollback) || spec.rollback.length === 0)
    add("rollback", "it declares no rollback step");
  if (typeof spec.dryRun !== "string" || !spec.dryRun.trim())
    add("dryRun", "it does not say what its dry-run does");
  (spec.permissions ?? []).forEach((p, i) => {
    for (const m of permissionProblems(p)) add(`permissions[${i}]`, m);
  });
  (spec.lostRun?.permissions ?? []).forEach((p, i) => {
    // A sweep (sweepLost) deletes what the lost run made: only on resources carrying the automation tag.
    if (p.mutating && p.tagCondition !== "resource")
      add(
        `lostRun.permissions[${i}]`,
        "a lost-run inspector only reads; a sweep may change only what carries the automation tag (tagCondition: resource)",
      );
    for (const m of permissionProblems(p)) add(`lostRun.permissions[${i}]`, m);
  });
  if (spec.precheck && !Array.isArray(spec.precheckPermissions))
    add(
      "precheckPermissions",
      "a precheck runs in the admitting functions: declare what it reads (an empty list when nothing)",
    );
  (spec.precheckPermissions ?? []).forEach((p, i) => {
    // The admitting roles (API, schedule, gate, Slack worker) must never gain a mutation.
    if (p.mutating) add(`precheckPermissions[${i}]`, "a precheck only reads: mutating must be false");
    for (const m of permissionProblems(p)) add(`precheckPermissions[${i}]`, m);
  });
  const steps: string[] = [];
  if (!spec.stateMachine?.States || typeof spec.stateMachine.StartAt !== "string") {
    add("stateMachine", "it has no state machine (StartAt and States)");
    return { problems, steps };
  }
  const states = allStates(spec.stateMachine);
  for (const [state, task] of taskStates(spec.stateMachine)) {
    const at = `stateMachine.States.${state}`;
    // Three kinds of Task, and only these: the step worker, a human approval (the step
    // worker's built-in `requestApproval`, through `lambda:invoke.waitForTaskToken`; see
    // `approvalStates` in asl.ts), and an AWS SDK call (`aws()` in sdk-tasks.ts).
    if (task.Resource === APPROVAL_RESOURCE) {
      const p = task.Parameters as { FunctionName?: unknown; Payload?: Record<string, unknown> } | undefined;
      if (
        p?.FunctionName !== STEP_HANDLER ||
        p.Payload?.step !== APPROVAL_STEP ||
        p.Payload?.runbook !== spec.name
      )
        add(at, `approval Task must be built with approvalStates('${spec.name}', …)`);
      if (!task.TimeoutSeconds && !task.TimeoutSecondsPath)
        add(at, "approval Task needs a deadline (TimeoutSeconds or TimeoutSecondsPath)");
      // The token is a bearer credential: a wait that ended is no approval until the record says so.
      const after = task.Next ? states.get(task.Next) : undefined;
      const verify = after?.Parameters as Record<string, unknown> | undefined;
      if (
        after?.Type !== "Task" ||
        after.Resource !== STEP_HANDLER ||
        verify?.step !== VERIFY_APPROVAL_STEP ||
        verify.runbook !== spec.name ||
        after.Catch?.length
      )
        add(
          at,
          `approval Task must be followed by its '${VERIFY_APPROVAL_STEP}' step (build it with approvalStates('${spec.name}', …))`,
        );
      // Nor around it: an error sent with the token (SendTaskFailure) may only end the run.
      for (const c of task.Catch ?? [])
        if (states.get(c.Next)?.Type !== "Fail")
          add(at, `approval Task may only catch into a Fail state, not '${c.Next}'`);
      continue;
    }
    const sdk = sdkAction(task.Resource);
    if (sdk) {
      const covered = (spec.permissions ?? []).some((p) => p.actions.includes(sdk));
      if (!covered) add(at, `calls ${sdk}, which its permissions do not declare`);
      continue;
    }
    const params = task.Parameters as Record<string, unknown> | undefined;
    const step = params?.step;
    // The built-in verify step is the step worker's own, not the runbook's (checked above).
    if (step === VERIFY_APPROVAL_STEP) {
      if (params?.runbook !== spec.name) add(at, `must pass runbook '${spec.name}'`);
      if (task.Resource !== STEP_HANDLER) add(at, "must call ${StepHandlerArn}");
      continue;
    }
    if (task.Resource !== "${StepHandlerArn}")
      add(at, "a Task must call ${StepHandlerArn}, an approval, or an AWS SDK integration (aws())");
    if (typeof step !== "string" || !/^[a-z][A-Za-z0-9]*$/.test(step)) {
      add(at, `calls a step with a bad name '${String(step)}'`);
    } else if (!steps.includes(step)) steps.push(step);
    if (params?.runbook !== spec.name) add(at, `must pass runbook '${spec.name}'`);
  }
  // The default policy sends medium risk (in prod) and high risk to a person, and riskFor may
  // raise any run's: such a runbook must be able to wait. Without approval states the step
  // runner would refuse every step of a run that needs approval (stepsBeforeApproval).
  if ((spec.risk === "medium" || spec.risk === "high" || spec.riskFor) && !hasApprovalWait(spec.stateMachine))
    add(
      "stateMachine",
      `risk ${spec.risk}${spec.riskFor ? " (or more, by riskFor)" : ""} can need a person's approval, but its state machine has no approval states: put approvalStates('${spec.name}', …) after its plan`,
    );
  for (const r of spec.rollback ?? []) {
    if (!steps.includes(r) && !allStateNames(spec.stateMachine).includes(r))
      add("rollback", `rollback step '${r}' is not called by its state machine`);
  }
  if (steps.length > 0 && typeof spec.implementation !== "function")
    add("implementation", `its state machine calls steps (${steps.join(", ")}) but it has no implementation`);
  if (spec.result !== undefined && typeof spec.result !== "function")
    add("result", "must be a function from the run's record to the result shape");
  else if (spec.result) {
    // What it reports before any step recorded anything must already be the one result shape.
    try {
      const out = runResultSchema.safeParse(spec.result({}, { dryRun: true, status: "RUNNING" }));
      if (!out.success)
        add(
          "result",
          `does not return the result shape ({ summary, targets[] }): ${out.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
        );
    } catch (err) {
      add("result", `throws on a run that has recorded nothing yet: ${(err as Error).message}`);
    }
  }
  if (spec.params && typeof (spec.params as z.ZodType).safeParse === "function") {
    const example = spec.params.safeParse(spec.example);
    if (!example.success)
      add(
        "example",
        `does not validate against its params: ${example.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
      );
  } else add("params", "must be a zod schema");
  return { problems, steps };
}

/** `ec2:rebootInstances` for `arn:aws:states:::aws-sdk:ec2:rebootInstances`, as IAM spells it (`ec2:RebootInstances`). */
export function sdkAction(resource: string | undefined): string | undefined {
  const m = /^arn:aws:states:::aws-sdk:([a-z0-9-]+):([A-Za-z0-9]+)$/.exec(resource ?? "");
  if (!m) return undefined;
  return `${m[1]}:${m[2][0].toUpperCase()}${m[2].slice(1)}`;
}

/** Every state name in a definition, Map and Parallel branches included. */
function allStateNames(def: AslDefinition): string[] {
  const out: string[] = [];
  for (const [name, state] of Object.entries(def.States)) {
    out.push(name);
    const inner = state.ItemProcessor ?? state.Iterator;
    if (inner) out.push(...allStateNames(inner));
    for (const b of state.Branches ?? []) out.push(...allStateNames(b));
  }
  return out;
}

/**
 * Defines a runbook and checks it.
 *
 * @example
 * export const hello = defineRunbook({ name: "hello", summary: "Says hello", risk: "low", params: z.object({}),
 *   example: {}, cap: { maxTargets: 1 }, permissions: [], rollback: ["greet"],
 *   dryRun: "Reports the greeting.", stateMachine: { StartAt: "Greet", States: { Greet: { Type: "Task", Resource: "${StepHandlerArn}", Parameters: { runbook: "hello", step: "greet", "input.$": "$" }, End: true } } } });
 */
export function defineRunbook<S extends z.ZodType>(spec: RunbookSpec<S>): Runbook<S> {
  const { problems, steps } = checkSpec(spec);
  if (problems.length > 0) {
    throw new RunbookDefinitionError(
      `runbook '${spec.name}' is not valid: ${problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
      { runbook: spec.name, issues: problems },
    );
  }
  let jsonSchema: Record<string, unknown> | undefined;
  return {
    ...spec,
    steps,
    // Computed on first use (the API), not at every cold start of every handler.
    get jsonSchema() {
      jsonSchema ??= z.toJSONSchema(spec.params, { io: "input", unrepresentable: "any" }) as Record<
        string,
        unknown
      >;
      return jsonSchema;
    },
  };
}

/**
 * Pairs a runbook with its step implementations, checking that every step its state machine
 * calls is implemented and nothing else is. Kept apart from `defineRunbook` so that code which
 * only starts runs (the event gate) never loads the steps' cloud clients.
 *
 * @example
 * export const backupSteps = implementSteps(backupSnapshot, { plan, snapshotInstance, ... });
 */
export function implementSteps(
  runbook: Pick<Runbook, "name" | "steps">,
  steps: StepMap,
  extras: { inspectLost?: InspectLost } = {},
): { runbook: string; steps: StepMap; inspectLost?: InspectLost } {
  const missing = runbook.steps.filter((s) => !steps[s]);
  const extra = Object.keys(steps).filter((s) => !runbook.steps.includes(s));
  if (missing.length || extra.length) {
    throw new RunbookDefinitionError(
      `runbook '${runbook.name}' steps do not match its state machine:${missing.length ? ` no implementation for: ${missing.join(", ")};` : ""}${extra.length ? ` not called: ${extra.join(", ")}` : ""}`,
    );
  }
  return { runbook: runbook.name, steps, ...extras };
}

/**
 * What a runbook finds a lost run of its own left behind (the snapshots of a backup whose end
 * was never observed), for the reconciler's report to a person. Read-only.
 */
export type InspectLost = (execution: {
  id: string;
  params: Record<string, unknown>;
  startedAt: string;
}) => Promise<unknown>;
