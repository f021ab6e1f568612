/**
 * The last state Reflex saw for each CloudWatch alarm (pk `ALARM#<name>`, sk `STATE`), written
 * by the event gate from "CloudWatch Alarm State Change" events. Runbooks read it, e.g. the
 * scaling runbook scales in only after the alarm has been OK for a while. A state change is
 * applied only if it is newer than the one stored, so late or redelivered events cannot move
 * the state backwards.
 */
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
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

/** Records an alarm's state if it is newer than what is stored. Returns true when applied. */
export async function record(s: AlarmState): Promise<boolean> {
  try {
    await db().send(
      new PutCommand({
        TableName: tableName(),
        Item: { ...key(s.alarmName), type: "alarm", ...s },
        ConditionExpression: "attribute_not_exists(pk) OR since < :since",
        ExpressionAttributeValues: { ":since": s.since },
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
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
