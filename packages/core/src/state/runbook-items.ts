/**
 * A runbook's own small records (off-hours' overrides and the targets it stopped), one item each
 * under its runbook (pk `ITEMS#<runbook>`, sk `<key>`). Steps reach them through
 * `ctx.items`; `GET /api/runbooks/:name/items` lists them. An item may expire: expiry is
 * checked on read (TTL deletes late, and dynalite never does), so an expired item is gone for
 * every reader at once, whoever deletes it.
 */
import { DeleteCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { db, queryAll } from "./db.ts";
import { tableName } from "./table.ts";

export interface RunbookItem {
  key: string;
  value: Record<string, unknown>;
  /** ISO instant after which the item no longer exists for any reader. */
  expiresAt?: string;
  updatedAt: string;
}

const pk = (runbook: string) => `ITEMS#${runbook}`;

/** Writes (or replaces) one item. */
export async function put(
  runbook: string,
  key: string,
  value: Record<string, unknown>,
  opts: { expiresAt?: Date; now?: Date } = {},
): Promise<void> {
  const now = opts.now ?? new Date();
  await db().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        pk: pk(runbook),
        sk: key,
        type: "runbook-item",
        value,
        updatedAt: now.toISOString(),
        ...(opts.expiresAt
          ? {
              until: opts.expiresAt.toISOString(),
              // TTL only tidies up (a day late); readers compare `until` themselves.
              expiresAt: Math.ceil(opts.expiresAt.getTime() / 1000) + 86_400,
            }
          : {}),
      },
    }),
  );
}

/** The items whose key starts with `prefix`, in key order, without those expired at `now`. */
export async function list(runbook: string, prefix = "", now = new Date()): Promise<RunbookItem[]> {
  const items = await queryAll({
    TableName: tableName(),
    KeyConditionExpression: prefix ? "pk = :pk AND begins_with(sk, :prefix)" : "pk = :pk",
    ExpressionAttributeValues: { ":pk": pk(runbook), ...(prefix ? { ":prefix": prefix } : {}) },
    ConsistentRead: true,
  });
  return items
    .filter((i) => typeof i.until !== "string" || Date.parse(i.until) > now.getTime())
    .map((i) => ({
      key: String(i.sk),
      value: (i.value ?? {}) as Record<string, unknown>,
      ...(typeof i.until === "string" ? { expiresAt: i.until } : {}),
      updatedAt: String(i.updatedAt),
    }));
}

/** Deletes one item (no error when it is not there). */
export async function remove(runbook: string, key: string): Promise<void> {
  await db().send(new DeleteCommand({ TableName: tableName(), Key: { pk: pk(runbook), sk: key } }));
}
