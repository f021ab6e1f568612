/**
 * The one DynamoDB table Reflex keeps its state in (single-table design, see docs/state.md).
 * Local mode creates it in dynalite from this definition; the Storage stack deploys it from
 * the same definition, so the two cannot drift.
 */
import { optionalEnv } from "../env.ts";

export const TABLE_KEYS = {
  partitionKey: "pk",
  sortKey: "sk",
  gsi1: { indexName: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
  ttlAttribute: "expiresAt",
} as const;

/** The table name: `REFLEX_TABLE`, else `reflex-state`. */
export function tableName(): string {
  return optionalEnv("REFLEX_TABLE", "reflex-state");
}

/** A CreateTable request for the state table (used by local mode and by tests). */
export function createTableInput(name = tableName()) {
  const { partitionKey, sortKey, gsi1 } = TABLE_KEYS;
  return {
    TableName: name,
    BillingMode: "PAY_PER_REQUEST" as const,
    AttributeDefinitions: [
      { AttributeName: partitionKey, AttributeType: "S" as const },
      { AttributeName: sortKey, AttributeType: "S" as const },
      { AttributeName: gsi1.partitionKey, AttributeType: "S" as const },
      { AttributeName: gsi1.sortKey, AttributeType: "S" as const },
    ],
    KeySchema: [
      { AttributeName: partitionKey, KeyType: "HASH" as const },
      { AttributeName: sortKey, KeyType: "RANGE" as const },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: gsi1.indexName,
        KeySchema: [
          { AttributeName: gsi1.partitionKey, KeyType: "HASH" as const },
          { AttributeName: gsi1.sortKey, KeyType: "RANGE" as const },
        ],
        Projection: { ProjectionType: "ALL" as const },
      },
    ],
  };
}
