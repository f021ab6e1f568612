/**
 * The event gate: one code path from "an event arrived" to "a run started, or why not".
 *
 *   parse → dedup (event id, then alarm transition) → route (config rules) → guardrails → start
 *
 * Guardrails, in this order (the read-only checks first, then those that consume something;
 * anything consumed is given back if a later guardrail says no):
 *   1. pause     — the global pause switch (config `guardrails.paused`, or `reflex pause`)
 *   2. breaker   — N failed automatic runs within a window paused automation until a person resumes
 *   3. freeze    — a change freeze covers this runbook now
 *   4. blast-radius — the params name more targets than the cap
 *   5. cooldown  — this rule acted on this target less than `cooldown` ago
 *   6. rate-limit — the runbook's runs-per-window budget is spent
 *   7. lock      — another run holds the target (taken by Runs.start)
 * Then StartExecution with the dedup key as the execution name, so a retried start is the same
 * run. Every decision is audited with its reason and guardrail.
 */
import { createHash, randomUUID } from "node:crypto";
import { type LocationsConfig, resolveLocations } from "../accounts.ts";
import * as Admission from "../admission/index.ts";
import type { Config } from "../config/schema.ts";
import { crashPoint } from "../crash.ts";
import { ConflictError, ValidationError } from "../errors.ts";
import * as Locations from "../locations.ts";
import * as Organization from "../organization.ts";
import { compilePattern } from "../patterns/index.ts";
import * as Alarms from "../state/alarms.ts";
import * as Audit from "../state/audit.ts";
import * as Dedup from "../state/dedup.ts";
import * as Executions from "../state/executions.ts";
import { type EventEnvelope, happeningKey, parseEvent, readPath } from "./events.ts";

/**
 * What the gate did with an event. `in-progress` means another delivery of the same happening
 * holds the dedup claim and has not finished (it may have died mid-way): nothing is known to
 * have happened, so the sender must retry after `retryAfterSeconds` — the trigger Lambda
 * throws (EventBridge retries), `POST /events` answers 503 with `Retry-After`.
 */
export type DecisionKind = "started" | "duplicate" | "suppressed" | "no-match" | "rejected" | "in-progress";

export interface Decision {
  eventId: string;
  decision: DecisionKind;
  rule?: string;
  runbook?: string;
  executionId?: string;
  /** For `in-progress`: when to send it again. */
  retryAfterSeconds?: number;
  /**
   * For `suppressed`: the admission check that said no. Params that do not fit are `rejected`,
   * and access is not checked for a rule's runs (the config is their authority).
   */
  guardrail?: Exclude<Admission.Check, "params" | "access">;
  reason: string;
}

type Rule = Config["rules"][number];
const compiled = new WeakMap<Config, Array<{ rule: Rule; matches: (e: unknown) => boolean }>>();

function rulesOf(config: Config) {
  let rules = compiled.get(config);
  if (!rules) {
    rules = config.rules.filter((r) => r.enabled).map((rule) => ({ rule, matches: compilePattern(rule.on) }));
    compiled.set(config, rules);
  }
  return rules;
}

/** Replaces `$.…` strings in a rule's params with values from the event. */
export function resolveParams(value: unknown, event: unknown, at = "with"): unknown {
  if (typeof value === "string" && /^\$(\.|\[)/.test(value)) {
    const found = readPath(event, value);
    if (found === undefined)
      throw new ValidationError(
        "missing_event_field",
        `${at} takes ${value}, which the event does not have`,
        [{ path: at, message: `${value} not in event` }],
      );
    return found;
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveParams(v, event, `${at}[${i}]`));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, resolveParams(v, event, `${at}.${k}`)]),
    );
  }
  return value;
}

/** A Step Functions execution name from a rule and a dedup key: stable, ≤ 80 chars. */
export function executionName(rule: string, dedupKey: string): string {
  return `${rule.slice(0, 56)}-${createHash("sha256").update(`${rule}\n${dedupKey}`).digest("hex").slice(0, 20)}`;
}

async function audited(d: Decision, actor: string, now: Date): Promise<Decision> {
  await Audit.record(
    {
      kind: `event.${d.decision}`,
      actor,
      reason: d.reason,
      eventId: d.eventId,
      runbook: d.runbook,
      executionId: d.executionId,
      guardrail: d.guardrail,
      data: d.rule ? { rule: d.rule } : undefined,
    },
    now,
  );
  return d;
}

/**
 * Decides what one event does. Never throws for bad input (that is a `rejected` decision);
 * throws only when the state store fails, after giving its dedup claims back so a
 * redelivery can try again.
 *
 * @example
 * const decisions = await Gate.handleEvent(event, { config });
 */
export async function handleEvent(raw: unknown, opts: { config: Config; now?: Date }): Promise<Decision[]> {
  const now = opts.now ?? new Date();
  const parsed = parseEvent(raw);
  if (!parsed.ok) {
    return [
      await audited({ eventId: parsed.eventId, decision: "rejected", reason: parsed.reason }, "gate", now),
    ];
  }
  const event = parsed.event;
  // One claim per happening: an alarm transition (whatever event id carries it — the same id
  // always carries the same transition), else the event id.
  const happening = happeningKey(parsed);
  const dedupKey = happening ?? `event:${event.id}`;
  return Dedup.oneAtATime(dedupKey, now.getTime(), () =>
    decideEvent(parsed, event, happening, dedupKey, opts.config, now),
  );
}

async function decideEvent(
  parsed: Extract<ReturnType<typeof parseEvent>, { ok: true }>,
  event: EventEnvelope,
  happening: string | undefined,
  dedupKey: string,
  config: Config,
  now: Date,
): Promise<Decision[]> {
  const source = `event:${event.source}`;
  const duplicate = (): Decision => ({
    eventId: event.id,
    decision: "duplicate",
    reason: happening
      ? `already handled this alarm transition (${happening})`
      : `event ${event.id} was delivered before`,
  });
  // A redelivery of what this process finished (most of a storm): the claim would answer `done`
  // without a request, so it is answered here, before the owner, the alarm and the rules are made.
  if (Dedup.isKnownDone(dedupKey, now.getTime())) return [await audited(duplicate(), source, now)];
  const owner = randomUUID();
  const alarm = parsed.kind === "alarm" ? alarmOf(event) : undefined;
  // The alarm's state is recorded beside the routing: nothing below reads it.
  const recordAlarm = () =>
    alarm
      ? Alarms.record({
          alarmName: alarm.name,
          state: alarm.state,
          since: (event.detail as { state: { timestamp: string } }).state.timestamp,
          reason: (event.detail as { state: { reason?: string } }).state.reason,
        })
      : Promise.resolve(true);
  // Matching is pure, so when no rule matches the decision is known before anything is done:
  // the claim is written already closed (one write, not a claim and then its completion).
  const matched = rulesOf(config).filter((r) => r.matches(event));
  const noMatch: Decision | undefined =
    matched.length === 0
      ? {
          eventId: event.id,
          decision: "no-match",
          reason: `no rule matches ${event.source} / ${event["detail-type"]}`,
        }
      : undefined;
  // The alarm's state goes before a closed claim: if recording it fails, nothing is claimed and
  // a redelivery records it (after the claim, a redelivery would be a duplicate and never
  // would). Recording it again is harmless: only a newer state is applied.
  if (noMatch && alarm && !Dedup.isKnownDone(dedupKey, now.getTime())) await recordAlarm();
  const claim = noMatch
    ? await Dedup.claimDone(dedupKey, owner, { decisions: [noMatch] }, now.getTime())
    : await Dedup.claim(dedupKey, owner, now.getTime());
  if (claim.status === "claimed") crashPoint("gate:after-claim");
  if (claim.status === "done") return [await audited(duplicate(), source, now)];
  if (claim.status === "in-progress") {
    // Not audited: the delivery that holds the claim audits what it decides, and a retry
    // storm must not multiply audit writes. Nothing is known to have happened yet.
    const retryAfterSeconds = Math.ceil(claim.retryAfterMs / 1000);
    return [
      {
        eventId: event.id,
        decision: "in-progress",
        retryAfterSeconds,
        reason: `another delivery of ${happening ?? `event ${event.id}`} is being handled and has not finished; send it again in ${retryAfterSeconds} s`,
      },
    ];
  }
  if (noMatch) return [await audited(noMatch, source, now)];
  try {
    const [, decisions] = await Promise.all([
      recordAlarm(),
      Promise.all(matched.map(({ rule }) => decide(rule, event, alarm, dedupKey, config, now))),
    ]);
    await Dedup.complete(dedupKey, owner, { decisions });
    return decisions;
  } catch (err) {
    await Dedup.release(dedupKey, owner);
    throw err;
  }
}

/**
 * The alarm transition an alarm event reports, as a run's trigger keeps it: the reason cut to
 * `MAX_ALARM_REASON_CHARS` (whole characters, an ellipsis marking the cut) so a record stays small.
 */
export function alarmOf(event: EventEnvelope): Executions.TriggerAlarm {
  const detail = event.detail as { alarmName: string; state: { value: string; reason?: string } };
  const chars = detail.state.reason === undefined ? undefined : Array.from(detail.state.reason);
  const max = Executions.MAX_ALARM_REASON_CHARS;
  return {
    name: detail.alarmName,
    state: detail.state.value,
    ...(chars
      ? { reason: chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : chars.join("") }
      : {}),
  };
}

async function decide(
  rule: Rule,
  event: EventEnvelope,
  alarm: Executions.TriggerAlarm | undefined,
  dedupKey: string,
  config: Config,
  now: Date,
): Promise<Decision> {
  const actor = `rule:${rule.name}`;
  const base = { eventId: event.id, rule: rule.name, runbook: rule.run };
  let params: unknown;
  try {
    params = resolveParams(rule.with, event);
  } catch (err) {
    return audited(
      { ...base, decision: "rejected", reason: `rule ${rule.name}: ${(err as Error).message}` },
      actor,
      now,
    );
  }
  const targetValue = rule.target ? readPath(event, rule.target) : undefined;
  // The OUs' accounts are members too: resolved (or read from the cache) before the event's
  // account is looked up, or a cold start would run an OU account's event in the hub.
  if (config.organization) await Organization.refresh(config);
  const where = eventLocation(rule, event, config);
  if (where.outside) return audited({ ...base, decision: "no-match", reason: where.outside }, actor, now);
  const trigger = { kind: "rule" as const, name: rule.name, eventId: event.id, ...(alarm ? { alarm } : {}) };
  const target = targetValue !== undefined ? String(targetValue) : undefined;
  if (where.fanOut)
    return fanOut(rule, params, trigger, where.fanOut, executionName(rule.name, dedupKey), target, base, now);
  // Every check (pause, breaker, freeze, blast radius, cooldown, rate limit, approval, lock)
  // is admission's: the gate only turns its answer into a decision.
  const admission = await Admission.admit({
    runbook: rule.run,
    params,
    dryRun: rule.dryRun,
    executionId: executionName(rule.name, dedupKey),
    trigger,
    actor: { id: actor },
    cooldown: { rule: rule.name, target, ms: rule.cooldown },
    approval: rule.approval,
    ...(where.location ? { location: where.location } : {}),
    config,
    now,
  });
  if (admission.admitted) {
    return {
      ...base,
      decision: "started",
      executionId: admission.execution.id,
      reason: `rule ${rule.name} started ${rule.run}${admission.approval.required ? " (waiting for approval)" : ""}`,
    };
  }
  if (admission.duplicate) {
    return audited(
      {
        ...base,
        decision: "duplicate",
        executionId: admission.executionId,
        reason: `run ${admission.executionId} was already started for this event`,
      },
      actor,
      now,
    );
  }
  // Admission audited the refusal and published it; params that do not fit are bad input.
  if (admission.check === "params")
    return { ...base, decision: "rejected", reason: `rule ${rule.name}: ${admission.reason}` };
  return {
    ...base,
    decision: "suppressed",
    guardrail: admission.check as Decision["guardrail"],
    reason: admission.reason,
  };
}

/**
 * Where a rule's run acts for this event. An event carries the `account` and `region` it
 * happened in: from a member account (config `accounts`) the run acts there — with `locations`
 * on the rule only when its selector names that account and Region (otherwise the rule does not
 * match the event: `outside`, audited as no-match). From the hub (or any account the config does
 * not name) the run acts in the hub, or, with `locations`, fans out over every location the
 * selector names.
 */
function eventLocation(
  rule: Rule,
  event: EventEnvelope,
  config: Config,
): { location?: { account: string; region: string }; fanOut?: LocationsConfig; outside?: string } {
  const member = config.accounts.find((a) => a.id === event.account);
  if (!member) return rule.locations ? { fanOut: rule.locations } : {};
  const location = { account: member.id, region: event.region };
  if (!rule.locations) return { location };
  const named = resolveLocations(config.accounts, rule.locations).some(
    (l) => l.account === location.account && l.region === location.region,
  );
  return named
    ? { location }
    : {
        outside: `rule ${rule.name}: the event is from ${member.id} (${member.name}) ${event.region}, which its locations do not name`,
      };
}

/** A rule with `locations` on an event from the hub: one child run per location (the fan-out). */
async function fanOut(
  rule: Rule,
  params: unknown,
  trigger: Admission.AdmitRequest["trigger"],
  locations: LocationsConfig,
  id: string,
  target: string | undefined,
  base: Pick<Decision, "eventId" | "rule" | "runbook">,
  now: Date,
): Promise<Decision> {
  const actor = `rule:${rule.name}`;
  // Short enough for the children's ids (`<parent>-<n>`, 80 at most); the same for a redelivery.
  const parentId = `${rule.name.slice(0, 50)}-${id.slice(-20)}`;
  const { locationConcurrency, locationMaxErrors, ...selector } = locations;
  const request = {
    runbook: rule.run,
    params,
    dryRun: rule.dryRun,
    trigger,
    actor: { id: actor },
    approval: rule.approval,
    // Each child takes the cooldown of its own location (admission keys it so).
    cooldown: { rule: rule.name, target, ms: rule.cooldown },
  };
  let planned: Locations.LocationPlan;
  try {
    planned = Locations.plan({ ...request, parentId, now }, selector, {
      locationConcurrency,
      locationMaxErrors,
    });
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return audited(
      { ...base, decision: "rejected", reason: `rule ${rule.name}: ${err.message}` },
      actor,
      now,
    );
  }
  try {
    await Locations.launch(request, planned, now);
  } catch (err) {
    if (!(err instanceof ConflictError && err.code === "execution_exists")) throw err;
    await Locations.resume(parentId);
    return audited(
      {
        ...base,
        decision: "duplicate",
        executionId: parentId,
        reason: `fan-out ${parentId} was already started for this event`,
      },
      actor,
      now,
    );
  }
  return {
    ...base,
    decision: "started",
    executionId: parentId,
    reason: `rule ${rule.name} started ${rule.run} in ${planned.children.length} location(s)`,
  };
}
