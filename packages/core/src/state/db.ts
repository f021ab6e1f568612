import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { client } from "../aws.ts";

const docs = new WeakMap<DynamoDBClient, DynamoDBDocumentClient>();

/** The document client over the factory's DynamoDB client (rebuilt when the factory is reconfigured). */
export function db(): DynamoDBDocumentClient {
  const raw = client(DynamoDBClient, "dynamodb");
  let doc = docs.get(raw);
  if (!doc) {
    doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    docs.set(raw, doc);
  }
  return doc;
}

/** True when a write lost its condition. */
export function isConditionFailure(err: unknown): boolean {
  return (err as { name?: string })?.name === "ConditionalCheckFailedException";
}

/** Encodes a DynamoDB LastEvaluatedKey as an opaque cursor for HTTP paging. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** Decodes a cursor made by {@link encodeCursor}; undefined for none, throws for garbage. */
export function decodeCursor<T>(cursor: string | undefined): T | undefined {
  if (!cursor) return undefined;
  return JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as T;
}
