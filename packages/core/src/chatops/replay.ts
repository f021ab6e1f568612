/**
 * The replay guard shared by every container: a seen signature is one conditional put
 * (pk `SLACKSIG#<signature>`), gone by TTL after the 300 s window. Two deliveries of the same
 * signed request, to two containers at once, cannot both pass.
 *
 * On the acknowledgement path: one signed PutItem (`aws-signed.ts`) to the factory's DynamoDB
 * endpoint, not a DynamoDB client or `state/db.ts` (the SDK's core, the document client and zod,
 * most of the acknowledgement's cold start). The same call in local mode, against dynalite.
 */
import { awsJson } from "../aws-signed.ts";
import { tableName } from "../state/table.ts";
import type { ReplayGuard } from "./signature.ts";

export const dynamoReplayGuard: ReplayGuard = async (signature, expiresAt) => {
  try {
    await awsJson("dynamodb", "DynamoDB_20120810.PutItem", {
      TableName: tableName(),
      Item: {
        pk: { S: `SLACKSIG#${signature}` },
        sk: { S: "SLACKSIG" },
        type: { S: "slack-signature" },
        expiresAt: { N: String(expiresAt) },
      },
      // An expired item TTL has not removed yet does not count.
      ConditionExpression: "attribute_not_exists(pk) OR expiresAt < :now",
      ExpressionAttributeValues: { ":now": { N: String(Math.floor(Date.now() / 1000)) } },
    });
    return true;
  } catch (err) {
    if ((err as { name?: string }).name === "ConditionalCheckFailedException") return false;
    throw err;
  }
};
