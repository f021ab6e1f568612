/**
 * The last state Reflex saw for each CloudWatch alarm (pk `ALARM#<name>`, sk `STATE`), written
 * by the event gate from "CloudWatch Alarm State Change" events. Runbooks read it, e.g. the
 * scaling runbook scales in only after the alarm has been OK for a while. A state change is
 * applied only if it is newer than the one stored, so late or redelivered events cannot move
 * the state backwards.
 *
 * Events can be missed (an alarm created before Reflex, a rule added later, a lost delivery),
 * so {@link current} asks CloudWatch itself (`DescribeAlarms`) when the stored state is missing
 * or old, in AWS: the stacks set `REFLEX_ALARM_STATE_SOURCE=cloudwatch`. Local mode has no
 * CloudWatch; its bus forwards every alarm event, so the stored state is the whole truth there.
 */
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { client, endpointFor } from "../aws.ts";
import { optionalEnv } from "../env.ts";
import { ValidationError } from "../errors.ts";
import { parseInstant } from "../validate.ts";
import { db, isConditionFailure } from "./db.ts";
import { tableName } from "./table.ts";

export interface AlarmState {
  alarmName: string;
  state: string;
  /** When the alarm entered this state (the event's `state.timestamp`). */
  since: string;
  reason?: string;
}

const key = (alarmName: string) => ({ pk: `ALARM#${alarmName}`, sk: "STATE" });

/*
 * What this process knows the store holds: per alarm (in this table, at this endpoint), an
 * instant the stored state is at least as new as — from its own write, or from a write the store
 * refused as not newer. The stored state only ever moves forward, so a state no newer than that
 * would be refused: in a storm (each transition delivered several times, out of order) it is not
 * sent. Kept a while and bounded, as Dedup's local cache; a newer state is always written.
 */
const LOCAL_MS = 10 * 60_000;
const LOCAL_MAX = 50_000;
const known = new Map<string, { sinceMs: number; until: number }>();

function knownKey(alarmName: string): string {
  return `${endpointFor("dynamodb") ?? "aws"}\n${tableName()}\n${alarmName}`;
}

function learn(k: string, sinceMs: number): void {
  const had = known.get(k);
  known.delete(k);
  known.set(k, { sinceMs: Math.max(sinceMs, had?.sinceMs ?? sinceMs), until: Date.now() + LOCAL_MS });
  if (known.size > LOCAL_MAX) known.delete(known.keys().next().value as string);
}

/** Forgets what this process learned about stored alarm states (a new store: local mode start, tests). */
export function forgetLocal(): void {
  known.clear();
}

/** Records an alarm's state if it is newer than what is stored. Returns true when applied. */
export async function record(s: AlarmState): Promise<boolean> {
  // Newer means a later instant, not later text: `since` comes in more than one format
  // (`…+0000`, `…Z`, other offsets), so the comparison is on `sinceMs`. A record from before
  // `sinceMs` existed (or with a `since` that was no timestamp) is replaced by any valid state.
  const sinceMs = parseInstant(s.since);
  if (sinceMs === undefined)
    throw new ValidationError(
      "invalid_timestamp",
      `alarm ${s.alarmName}: since '${s.since}' is not a timestamp`,
      [{ path: "since", message: "not an RFC 3339 timestamp" }],
    );
  const k = knownKey(s.alarmName);
  const seen = known.get(k);
  if (seen && seen.until > Date.now() && seen.sinceMs >= sinceMs) return false;
  try {
    await db().send(
      new PutCommand({
        TableName: tableName(),
        Item: { ...key(s.alarmName), type: "alarm", ...s, sinceMs },
        ConditionExpression:
          "attribute_not_exists(pk) OR attribute_not_exists(sinceMs) OR sinceMs < :sinceMs",
        ExpressionAttributeValues: { ":sinceMs": sinceMs },
      }),
    );
    learn(k, sinceMs);
    return true;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    // Refused: the stored state is at least this new.
    learn(k, sinceMs);
    return false;
  }
}

/** The last state seen for an alarm, or undefined if Reflex never saw it change. */
export async function get(alarmName: string): Promise<AlarmState | undefined> {
  const out = await db().send(
    new GetCommand({ TableName: tableName(), Key: key(alarmName), ConsistentRead: true }),
  );
  if (!out.Item) return undefined;
  const { alarmName: name, state, since, reason } = out.Item as AlarmState;
  return { alarmName: name, state, since, reason };
}

/** A stored state older than this is checked against CloudWatch before a runbook relies on it. */
export const MAX_STORED_AGE_MS = 3_600_000;

/**
 * The alarm's state for a decision: the stored one when it is recent, else CloudWatch's (when
 * deployed to read it), which is also stored. Undefined when neither knows the alarm.
 *
 * @example
 * const alarm = await Alarms.current("web-cpu-high", new Date());
 * if (alarm?.state === "OK") { ... }
 */
export async function current(
  alarmName: string,
  now: Date,
  maxAgeMs = MAX_STORED_AGE_MS,
): Promise<AlarmState | undefined> {
  const stored = await get(alarmName);
  const fresh = stored && now.getTime() - Date.parse(stored.since) < maxAgeMs;
  if (fresh || optionalEnv("REFLEX_ALARM_STATE_SOURCE") !== "cloudwatch") return stored;
  const out = await client(CloudWatchClient, "cloudwatch").send(
    new DescribeAlarmsCommand({ AlarmNames: [alarmName], AlarmTypes: ["MetricAlarm", "CompositeAlarm"] }),
  );
  const alarm = out.MetricAlarms?.[0] ?? out.CompositeAlarms?.[0];
  if (!alarm?.StateValue || !alarm.StateUpdatedTimestamp) return stored;
  const seen: AlarmState = {
    alarmName,
    state: alarm.StateValue,
    since: alarm.StateUpdatedTimestamp.toISOString(),
    reason: alarm.StateReason,
  };
  if (stored && Date.parse(stored.since) > Date.parse(seen.since)) return stored;
  await record(seen);
  return seen;
}
