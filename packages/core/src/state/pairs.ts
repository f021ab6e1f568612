/**
 * Who is primary in each failover pair now (pk `PAIR#<name>`, sk `ROLES`). The config names the
 * starting roles; every completed failover records the new ones here, so the next failover of
 * the pair goes the other way and `reflex pairs` shows the truth. A pair with no record has
 * the roles its config gives it.
 *
 * Crash safety: a switch is recorded as intended (`switching`) before its first mutating call,
 * and the intent is cleared by the write that records the new roles (or by a verified switch
 * back). An intent left behind means a run died mid-switch: the pair's roles are then decided
 * from what serves traffic (the Elastic IP's association and the record's value, read back from
 * the cloud), and the pair is marked as needing attention (`attention`) while those disagree.
 */
import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ConflictError } from "../errors.ts";
import { conditionalWrite, db, isConditionFailure } from "./db.ts";
import { tableName } from "./table.ts";

export interface PairRoles {
  pair: string;
  primary: string;
  standby: string;
  /** When these roles were recorded, and by which run. */
  since: string;
  executionId: string;
}

/** A switch a run is making: recorded before its first mutating call, cleared when it is recorded done. */
export interface Switching {
  executionId: string;
  from: string;
  towards: string;
  since: string;
}

/** Why a pair needs a person: what serves traffic does not say who is primary. */
export interface PairAttention {
  reason: string;
  since: string;
  /** The instance the Elastic IP is associated with (null: none), when the pair has one. */
  elasticIpOn?: string | null;
  /** The record's values, when the pair has one. */
  recordValues?: string[];
}

/** What is recorded about a pair: its roles once a failover (or a reconciliation) set them, a switch under way, attention. */
export type PairRecord = { pair: string } & Partial<Omit<PairRoles, "pair">> & {
    switching?: Switching;
    attention?: PairAttention;
  };

const key = (pair: string) => ({ pk: `PAIR#${pair}`, sk: "ROLES" });

/** What is recorded for a pair, or undefined when nothing is (the config's roles hold). */
export async function get(pair: string): Promise<PairRecord | undefined> {
  const out = await db().send(
    new GetCommand({ TableName: tableName(), Key: key(pair), ConsistentRead: true }),
  );
  if (!out.Item) return undefined;
  const { primary, standby, since, executionId, switching, attention } = out.Item as PairRecord;
  return {
    pair,
    ...(primary ? { primary, standby, since, executionId } : {}),
    ...(switching ? { switching } : {}),
    ...(attention ? { attention } : {}),
  };
}

/**
 * Records the switch a run is about to make, before its first mutating call (a run's switch
 * back replaces its own intent). The pair lock means no other run writes it meanwhile.
 */
export async function recordIntent(pair: string, switching: Switching): Promise<void> {
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(pair),
      UpdateExpression: "SET switching = :s, #type = :t",
      ExpressionAttributeNames: { "#type": "type" },
      ExpressionAttributeValues: { ":s": switching, ":t": "pair" },
    }),
  );
}

/** Clears a run's own intent (its switch back was verified: the roles did not change). */
export async function clearIntent(pair: string, executionId: string): Promise<boolean> {
  return conditionalWrite(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(pair),
      UpdateExpression: "REMOVE switching",
      ConditionExpression: "switching.executionId = :run",
      ExpressionAttributeValues: { ":run": executionId },
    }),
  );
}

/**
 * Records the roles read back from the cloud (the Elastic IP and the record agree on who
 * serves), clearing any intent and attention: what serves traffic is the truth.
 */
export async function settle(roles: PairRoles): Promise<void> {
  await db().send(
    new PutCommand({ TableName: tableName(), Item: { ...key(roles.pair), type: "pair", ...roles } }),
  );
}

/** Marks the pair as needing a person (kept until a reconciliation finds the cloud agrees). */
export async function markAttention(pair: string, attention: PairAttention): Promise<void> {
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: key(pair),
      UpdateExpression: "SET attention = :a, #type = :t",
      ExpressionAttributeNames: { "#type": "type" },
      ExpressionAttributeValues: { ":a": attention, ":t": "pair" },
    }),
  );
}

/**
 * Records that `roles.primary` is now primary, if the pair's primary is still `was` (or this
 * very run already recorded it: a retried step). ConflictError when another run moved the
 * roles in between; the pair lock makes that a bug, not a race, so it is loud.
 *
 * @example
 * await Pairs.recordRoles({ pair: "app", primary: "i-0b…", standby: "i-0a…", executionId, since }, "i-0a…");
 */
export async function recordRoles(roles: PairRoles, was: string): Promise<void> {
  try {
    await db().send(
      new PutCommand({
        TableName: tableName(),
        Item: { ...key(roles.pair), type: "pair", ...roles },
        // No roles yet (maybe only this run's intent), or still `was`, or this very run's retry.
        ConditionExpression: "attribute_not_exists(#primary) OR #primary = :was OR executionId = :run",
        ExpressionAttributeNames: { "#primary": "primary" },
        ExpressionAttributeValues: { ":was": was, ":run": roles.executionId },
      }),
    );
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const now = await get(roles.pair);
    throw new ConflictError(
      "roles_changed",
      `pair ${roles.pair}: expected primary ${was}, but run ${now?.executionId} recorded ${now?.primary}`,
    );
  }
}

/** A configured pair with its roles as they now stand. */
export interface PairView {
  name: string;
  primary: string;
  standby: string;
  /** Set once a failover recorded these roles; otherwise the config's roles hold. */
  since?: string;
  executionId?: string;
  elasticIp?: string;
  record?: string;
  /** A switch recorded as intended and never recorded done: a run died mid-switch (or is switching now). */
  switching?: Switching;
  /** Set while what serves traffic does not say who is primary: a person must look. */
  attention?: PairAttention;
}

/**
 * Every pair in the config, with who is primary now (for `GET /api/pairs` and `reflex pairs`).
 *
 * @example
 * for (const p of await Pairs.list(currentConfig().pairs)) console.log(p.name, p.primary);
 */
export async function list(
  pairs: ReadonlyArray<{
    name: string;
    primary: { instance: string };
    standby: { instance: string };
    elasticIp?: { allocationId: string };
    record?: { name: string; type: string };
  }>,
): Promise<PairView[]> {
  return Promise.all(
    pairs.map(async (p) => {
      const roles = await get(p.name);
      return {
        name: p.name,
        primary: roles?.primary ?? p.primary.instance,
        standby: roles?.standby ?? p.standby.instance,
        ...(roles?.primary ? { since: roles.since, executionId: roles.executionId } : {}),
        ...(roles?.switching ? { switching: roles.switching } : {}),
        ...(roles?.attention ? { attention: roles.attention } : {}),
        ...(p.elasticIp ? { elasticIp: p.elasticIp.allocationId } : {}),
        ...(p.record ? { record: `${p.record.type} ${p.record.name}` } : {}),
      };
    }),
  );
}
