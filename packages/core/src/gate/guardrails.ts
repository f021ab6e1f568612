/**
 * Guardrails' state in DynamoDB: the pause switch and the circuit breaker (one item,
 * `GUARD#automation`), per-rule cooldowns and per-runbook rate windows. Each check that
 * consumes something (a cooldown, a slot in the rate window) is one conditional write, so two
 * concurrent events cannot both pass.
 */
import { randomUUID } from "node:crypto";
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { Config } from "../config/schema.ts";
import * as Audit from "../state/audit.ts";
import { db, isConditionFailure, queryAll } from "../state/db.ts";
import * as Executions from "../state/executions.ts";
import * as Locks from "../state/locks.ts";
import { TABLE_KEYS, tableName } from "../state/table.ts";

export interface AutomationState {
  /** Revision of the failure list, for optimistic concurrency. */
  rev?: string;
  paused: boolean;
  /** `breaker` when the circuit breaker tripped, else who paused. */
  pausedBy?: string;
  reason?: string;
  pausedAt?: string;
  /** Times (ms) of recent failed automatic runs, newest last. */
  failures: number[];
}

const AUTOMATION = { pk: "GUARD#automation", sk: "STATE" };

/*
 * The gate reads the pause/breaker state for every run it would start. In a storm that is
 * thousands of reads of one item, so a process keeps it for up to a second, and a burst of
 * admissions that find no copy share one read instead of each sending its own.
 *
 * Why that is safe: the only decision it can get wrong is admitting an automatic run after a
 * pause or a breaker trip made in ANOTHER process (another Lambda), for at most CACHE_MS after
 * that process wrote it (the age is counted from when the read was sent, not when it came back).
 * A pause, resume or breaker trip in this process drops the copy, and a read already in flight
 * when it did cannot put its older answer back (the generation below). Freezes are config, not
 * store state: they are read from the config on every admission, never cached here. People's
 * starts (and their pause override) go through the same copy, bounded the same way.
 */
const CACHE_MS = 1000;
let cached: { at: number; state: Promise<AutomationState> } | undefined;
let generation = 0;

/** Drops the gate's copy of the automation state (a pause, resume or breaker trip here). */
function invalidate(): void {
  cached = undefined;
  generation++;
}

/** The pause switch and breaker state, as the gate sees it (cached up to a second, one read per burst). */
export async function automationStateForGate(now = Date.now()): Promise<AutomationState> {
  if (cached && now - cached.at >= 0 && now - cached.at < CACHE_MS) return cached.state;
  const seen = generation;
  const state = automationState();
  const entry = { at: now, state };
  cached = entry;
  // A failed read is not kept: the next admission asks again.
  state.catch(() => {
    if (cached === entry) cached = undefined;
  });
  const answer = await state;
  if (seen !== generation && cached === entry) cached = undefined;
  return answer;
}

/** The pause switch and breaker state (not paused, no failures, when never written). */
export async function automationState(): Promise<AutomationState> {
  const out = await db().send(
    new GetCommand({ TableName: tableName(), Key: AUTOMATION, ConsistentRead: true }),
  );
  const item = out.Item as Partial<AutomationState> | undefined;
  return {
    paused: item?.paused ?? false,
    pausedBy: item?.pausedBy,
    reason: item?.reason,
    pausedAt: item?.pausedAt,
    failures: item?.failures ?? [],
    rev: item?.rev,
  };
}

/** Pauses automatic runs (a person, or the breaker). */
export async function pause(by: string, reason: string, now = new Date()): Promise<void> {
  invalidate();
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: AUTOMATION,
      UpdateExpression: "SET paused = :t, pausedBy = :by, reason = :reason, pausedAt = :at",
      ExpressionAttributeValues: { ":t": true, ":by": by, ":reason": reason, ":at": now.toISOString() },
    }),
  );
  // And again once written: a read sent while the write was on its way may hold the old state.
  invalidate();
  await Audit.record(
    {
      kind: "guardrail.changed",
      actor: by,
      reason: `automatic runs paused: ${reason}`,
      guardrail: by === "breaker" ? "breaker" : "pause",
    },
    now,
  );
}

/** Resumes automatic runs and resets the breaker's failure count. Only a person does this. */
export async function resume(by: string, now = new Date()): Promise<void> {
  invalidate();
  await db().send(
    new PutCommand({
      TableName: tableName(),
      Item: { ...AUTOMATION, type: "guard", paused: false, failures: [], rev: randomUUID() },
    }),
  );
  invalidate();
  await Audit.record(
    {
      kind: "guardrail.changed",
      actor: by,
      reason: "automatic runs resumed; breaker reset",
      guardrail: "pause",
    },
    now,
  );
}

/**
 * Counts a failed automatic run; trips the breaker (pauses automation) when `failures` of them
 * fall within `within`. Read-modify-write guarded by the revision it read, so concurrent
 * failures are all counted.
 */
export async function recordFailure(config: Config, executionId: string, now = Date.now()): Promise<boolean> {
  const { failures: limit, within } = config.guardrails.breaker;
  for (let attempt = 0; attempt < 10; attempt++) {
    const state = await automationState();
    const recent = [...state.failures.filter((t) => t > now - within), now].slice(-limit * 2);
    const trips = !state.paused && recent.filter((t) => t > now - within).length >= limit;
    try {
      await db().send(
        new UpdateCommand({
          TableName: tableName(),
          Key: AUTOMATION,
          UpdateExpression: "SET failures = :recent, rev = :next",
          ConditionExpression: state.rev ? "rev = :seen" : "attribute_not_exists(rev)",
          ExpressionAttributeValues: {
            ":recent": recent,
            ":next": randomUUID(),
            ...(state.rev ? { ":seen": state.rev } : {}),
          },
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) continue;
      throw err;
    }
    if (trips) {
      await pause(
        "breaker",
        `${recent.length} automatic runs failed within ${Math.round(within / 60_000)} min (last: ${executionId}); resume with: reflex resume`,
        new Date(now),
      );
    }
    return trips;
  }
  return false;
}

/** The freeze in force for a runbook at `now`, if any. */
export function activeFreeze(config: Config, runbook: string, now: Date) {
  return config.freezes.find(
    (f) =>
      Date.parse(f.from) <= now.getTime() &&
      now.getTime() < Date.parse(f.to) &&
      (!f.runbooks || f.runbooks.includes(runbook)),
  );
}

const cooldownKey = (rule: string, target: string) => ({ pk: `COOLDOWN#${rule}#${target}`, sk: "COOLDOWN" });

/**
 * Takes the cooldown of (rule, target) until now + `ms`. Returns undefined when taken, or the
 * time the current cooldown ends. `runbook` (what the rule runs) is kept for {@link listCooldowns}.
 */
export async function takeCooldown(
  rule: string,
  target: string,
  ms: number,
  owner: string,
  now = Date.now(),
  runbook?: string,
): Promise<string | undefined> {
  if (ms <= 0) return undefined;
  try {
    await db().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          ...cooldownKey(rule, target),
          // Listed under `COOLDOWNS`, so the console can show the ones running without a scan.
          [TABLE_KEYS.gsi1.partitionKey]: "COOLDOWNS",
          [TABLE_KEYS.gsi1.sortKey]: `${rule}#${target}`,
          type: "cooldown",
          rule,
          target,
          ...(runbook ? { runbook } : {}),
          until: now + ms,
          owner,
          expiresAt: Math.ceil((now + ms) / 1000) + 3600,
        },
        ConditionExpression: "attribute_not_exists(pk) OR #until <= :now",
        ExpressionAttributeNames: { "#until": "until" },
        ExpressionAttributeValues: { ":now": now },
      }),
    );
    return undefined;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const held = await db().send(
      new GetCommand({ TableName: tableName(), Key: cooldownKey(rule, target), ConsistentRead: true }),
    );
    return new Date((held.Item?.until as number | undefined) ?? now).toISOString();
  }
}

export interface Cooldown {
  /** `<rule>#<target>`: the cooldown's key. */
  key: string;
  rule: string;
  target: string;
  /** The runbook the rule runs, when it was recorded. */
  runbook?: string;
  /** The execution that took it. */
  owner: string;
  /** When it ends (ISO). */
  until: string;
}

/**
 * The cooldowns running at `now`, by key. The index lists them; each is confirmed with a
 * consistent read, and expiry is checked on read (TTL deletes late, and dynalite never).
 */
export async function listCooldowns(now = Date.now()): Promise<Cooldown[]> {
  const listed = (
    await queryAll({
      TableName: tableName(),
      IndexName: TABLE_KEYS.gsi1.indexName,
      KeyConditionExpression: "gsi1pk = :pk",
      FilterExpression: "#until > :now",
      ExpressionAttributeNames: { "#until": "until" },
      ExpressionAttributeValues: { ":pk": "COOLDOWNS", ":now": now },
    })
  ).map((i) => ({ rule: String(i.rule), target: String(i.target) }));
  const confirmed = await Promise.all(
    listed.map(async ({ rule, target }) => {
      const out = await db().send(
        new GetCommand({ TableName: tableName(), Key: cooldownKey(rule, target), ConsistentRead: true }),
      );
      const item = out.Item;
      if (!item || typeof item.until !== "number" || item.until <= now) return undefined;
      const cooldown: Cooldown = {
        key: `${rule}#${target}`,
        rule,
        target,
        owner: String(item.owner),
        until: new Date(item.until).toISOString(),
      };
      if (typeof item.runbook === "string") cooldown.runbook = item.runbook;
      return cooldown;
    }),
  );
  return confirmed.filter((c): c is Cooldown => c !== undefined);
}

/** Gives a cooldown back when the run it was taken for did not start. */
export async function returnCooldown(rule: string, target: string, owner: string): Promise<void> {
  try {
    await db().send(
      new DeleteCommand({
        TableName: tableName(),
        Key: cooldownKey(rule, target),
        ConditionExpression: "#owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":owner": owner },
      }),
    );
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
}

/**
 * Takes one slot in the runbook's fixed rate window (`runs` per `per`). False when the window
 * is full.
 */
export async function takeRateSlot(
  runbook: string,
  runs: number,
  per: number,
  now = Date.now(),
): Promise<boolean> {
  const window = Math.floor(now / per);
  try {
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: { pk: `RATE#${runbook}#${window}`, sk: "RATE" },
        UpdateExpression: "ADD #n :one SET expiresAt = :exp",
        ConditionExpression: "attribute_not_exists(#n) OR #n < :limit",
        ExpressionAttributeNames: { "#n": "count" },
        ExpressionAttributeValues: {
          ":one": 1,
          ":limit": runs,
          ":exp": Math.ceil(((window + 1) * per) / 1000) + 3600,
        },
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** Gives a rate slot back when the run did not start after all. */
export async function returnRateSlot(runbook: string, per: number, now = Date.now()): Promise<void> {
  await db()
    .send(
      new UpdateCommand({
        TableName: tableName(),
        Key: { pk: `RATE#${runbook}#${Math.floor(now / per)}`, sk: "RATE" },
        UpdateExpression: "ADD #n :minus",
        ConditionExpression: "attribute_exists(#n) AND #n > :zero",
        ExpressionAttributeNames: { "#n": "count" },
        ExpressionAttributeValues: { ":minus": -1, ":zero": 0 },
      }),
    )
    .catch((err) => {
      if (!isConditionFailure(err)) throw err;
    });
}

/**
 * What Reflex holds back at `now`, as the API and the console's banner show it: the pause
 * switch (the config's or a person's, or the breaker's), the breaker's recent failures,
 * freezes (active or not), caps, the locks held (with the runbook of the run holding each) and
 * the cooldowns running.
 *
 * @example
 * const { paused, locks, cooldowns } = await Guardrails.describe(currentConfig());
 */
export async function describe(config: Config, now = new Date()) {
  const [automation, locks, cooldowns] = await Promise.all([
    automationState(),
    Locks.list(now.getTime()),
    listCooldowns(now.getTime()),
  ]);
  // A lock's holder is an execution: its record says which runbook holds the target.
  const holders = new Map(
    await Promise.all(
      [...new Set(locks.map((l) => l.owner))].map(async (id) => [id, await Executions.find(id)] as const),
    ),
  );
  return {
    paused: config.guardrails.paused || automation.paused,
    pausedBy: config.guardrails.paused ? "config" : automation.pausedBy,
    reason: config.guardrails.paused ? "guardrails.paused is true in the config" : automation.reason,
    breaker: {
      ...config.guardrails.breaker,
      recentFailures: automation.failures.filter((t) => t > now.getTime() - config.guardrails.breaker.within)
        .length,
    },
    freezes: config.freezes.map((f) => ({
      ...f,
      active: Date.parse(f.from) <= now.getTime() && now.getTime() < Date.parse(f.to),
    })),
    maxTargetsPerRun: config.guardrails.maxTargetsPerRun,
    rateLimit: config.guardrails.rateLimit,
    locks: locks.map((l) => ({
      key: l.target,
      target: l.target,
      executionId: l.owner,
      runbook: holders.get(l.owner)?.runbook,
      since: l.acquiredAt,
      expiresAt: new Date(l.leaseUntil).toISOString(),
    })),
    cooldowns: cooldowns.map((cd) => ({
      key: cd.key,
      rule: cd.rule,
      target: cd.target,
      runbook: cd.runbook ?? config.rules.find((r) => r.name === cd.rule)?.run,
      executionId: cd.owner,
      until: cd.until,
    })),
  };
}
