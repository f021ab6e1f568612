/**
 * The guardrails' items in the state table: the pause switch and the circuit breaker's failure
 * list (one item, `GUARD#automation`), per-rule cooldowns (`COOLDOWN#<rule>#<target>`) and
 * per-runbook rate windows (`RATE#<runbook>#<window>`). Each write that consumes something (a
 * cooldown, a slot in the rate window) is one conditional write, so two concurrent events cannot
 * both pass. What the guardrails decide from these items is in `policy/guardrails.ts`.
 */
import { randomUUID } from "node:crypto";
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { db, isConditionFailure, queryAll } from "./db.ts";
import { TABLE_KEYS, tableName } from "./table.ts";

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

/** Sets the pause switch, naming who paused and why. */
export async function setPaused(by: string, reason: string, now: Date): Promise<void> {
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: AUTOMATION,
      UpdateExpression: "SET paused = :t, pausedBy = :by, reason = :reason, pausedAt = :at",
      ExpressionAttributeValues: { ":t": true, ":by": by, ":reason": reason, ":at": now.toISOString() },
    }),
  );
}

/** Clears the pause switch and the breaker's failure list. */
export async function resetAutomation(): Promise<void> {
  await db().send(
    new PutCommand({
      TableName: tableName(),
      Item: { ...AUTOMATION, type: "guard", paused: false, failures: [], rev: randomUUID() },
    }),
  );
}

/**
 * Writes the breaker's failure list if it is still at the revision `seen` (read with it).
 * False when another writer got there first: read again and retry.
 */
export async function saveFailures(failures: number[], seen: string | undefined): Promise<boolean> {
  try {
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: AUTOMATION,
        UpdateExpression: "SET failures = :recent, rev = :next",
        ConditionExpression: seen ? "rev = :seen" : "attribute_not_exists(rev)",
        ExpressionAttributeValues: {
          ":recent": failures,
          ":next": randomUUID(),
          ...(seen ? { ":seen": seen } : {}),
        },
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
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
 *
 * A burst shares its writes: while one take of a window is on its way, the takes that arrive
 * wait, and go together in the next write, which takes as many slots as there are takers, only
 * if they all fit (`count <= runs - n`, one conditional update). When they do not all fit, each
 * is taken on its own as before, so the window never counts more than `runs` and a taker is
 * refused only when the window is full. A lone take goes at once, as one slot.
 */
export function takeRateSlot(runbook: string, runs: number, per: number, now = Date.now()): Promise<boolean> {
  const window = Math.floor(now / per);
  const key = `${runbook}#${window}#${runs}#${per}`;
  let takers = rateTakers.get(key);
  if (!takers) {
    takers = { waiting: [], sending: false };
    rateTakers.set(key, takers);
  }
  const t = takers;
  return new Promise<boolean>((resolve, reject) => {
    t.waiting.push({ resolve, reject });
    if (!t.sending) void sendRateTakes(key, t, { runbook, runs, per, window });
  });
}

interface RateTakers {
  waiting: Array<{ resolve: (ok: boolean) => void; reject: (err: unknown) => void }>;
  sending: boolean;
}
/** The takes of each window waiting for the one on its way (see {@link takeRateSlot}). */
const rateTakers = new Map<string, RateTakers>();

async function sendRateTakes(
  key: string,
  takers: RateTakers,
  w: { runbook: string; runs: number; per: number; window: number },
): Promise<void> {
  takers.sending = true;
  try {
    while (takers.waiting.length > 0) {
      const batch = takers.waiting.splice(0);
      const [one] = batch;
      if (one && batch.length === 1) {
        await takeSlots(w, 1).then(one.resolve, one.reject);
        continue;
      }
      // A failed write may still have counted: the takes below then find less room, never more.
      if (await takeSlots(w, batch.length).catch(() => false)) {
        for (const b of batch) b.resolve(true);
        continue;
      }
      // Not room for the whole burst: each on its own.
      await Promise.all(batch.map((b) => takeSlots(w, 1).then(b.resolve, b.reject)));
    }
  } finally {
    takers.sending = false;
    if (rateTakers.get(key) === takers && takers.waiting.length === 0) rateTakers.delete(key);
  }
}

/** Takes `n` slots of the window in one conditional update, only if all `n` fit. */
async function takeSlots(
  w: { runbook: string; runs: number; per: number; window: number },
  n: number,
): Promise<boolean> {
  if (n > w.runs) return false;
  try {
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: { pk: `RATE#${w.runbook}#${w.window}`, sk: "RATE" },
        UpdateExpression: "ADD #n :n SET expiresAt = :exp",
        ConditionExpression: "attribute_not_exists(#n) OR #n <= :room",
        ExpressionAttributeNames: { "#n": "count" },
        ExpressionAttributeValues: {
          ":n": n,
          ":room": w.runs - n,
          ":exp": Math.ceil(((w.window + 1) * w.per) / 1000) + 3600,
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
