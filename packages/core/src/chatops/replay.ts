/**
 * The replay guard shared by every container: a seen signature is one conditional put
 * (pk `SLACKSIG#<signature>`), gone by TTL after the 300 s window. Two deliveries of the same
 * signed request, to two containers at once, cannot both pass.
 */
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { db, isConditionFailure } from "../state/db.ts";
import { tableName } from "../state/table.ts";
import type { ReplayGuard } from "./signature.ts";

export const dynamoReplayGuard: ReplayGuard = async (signature, expiresAt) => {
  try {
    await db().send(
      new PutCommand({
        TableName: tableName(),
        Item: { pk: `SLACKSIG#${signature}`, sk: "SLACKSIG", type: "slack-signature", expiresAt },
        // An expired item TTL has not removed yet does not count.
        ConditionExpression: "attribute_not_exists(pk) OR expiresAt < :now",
        ExpressionAttributeValues: { ":now": Math.floor(Date.now() / 1000) },
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
};
