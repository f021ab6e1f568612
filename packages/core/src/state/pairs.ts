/**
 * Who is primary in each failover pair now (pk `PAIR#<name>`, sk `ROLES`). The config names the
 * starting roles; every completed failover records the new ones here, so the next failover of
 * the pair goes the other way and `reflex pairs` shows the truth. A pair with no record has
 * the roles its config gives it.
 */
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { ConflictError } from "../errors.ts";
import { db, isConditionFailure } from "./db.ts";
import { tableName } from "./table.ts";

export interface PairRoles {
  pair: string;
  primary: string;
  standby: string;
  /** When these roles were recorded, and by which run. */
  since: string;
  executionId: string;
}

const key = (pair: string) => ({ pk: `PAIR#${pair}`, sk: "ROLES" });

/** The recorded roles of a pair, or undefined when no failover has run (the config's roles hold). */
export async function get(pair: string): Promise<PairRoles | undefined> {
  const out = await db().send(
    new GetCommand({ TableName: tableName(), Key: key(pair), ConsistentRead: true }),
  );
  if (!out.Item) return undefined;
  const { primary, standby, since, executionId } = out.Item as PairRoles;
  return { pair, primary, standby, since, executionId };
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
        ConditionExpression: "attribute_not_exists(pk) OR #primary = :was OR executionId = :run",
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
        ...(roles ? { since: roles.since, executionId: roles.executionId } : {}),
        ...(p.elasticIp ? { elasticIp: p.elasticIp.allocationId } : {}),
        ...(p.record ? { record: `${p.record.type} ${p.record.name}` } : {}),
      };
    }),
  );
}
