/**
 * The replay guard shared by every container: a seen signature is one conditional put
 * (pk `SLACKSIG#<signature>`), gone by TTL after the 300 s window. Two deliveries of the same
 * signed request, to two containers at once, cannot both pass.
 *
 * On the acknowledgement path: the plain DynamoDB client from the factory, not `state/db.ts`
 * (which brings the document client and zod for the other state modules).
 */
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { client } from "../aws.ts";
import { tableName } from "../state/table.ts";
import type { ReplayGuard } from "./signature.ts";

export const dynamoReplayGuard: ReplayGuard = async (signature, expiresAt) => {
  try {
    await client(DynamoDBClient, "dynamodb").send(
      new PutItemCommand({
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
      }),
    );
    return true;
  } catch (err) {
    if ((err as { name?: string }).name === "ConditionalCheckFailedException") return false;
    throw err;
  }
};
