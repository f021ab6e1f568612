import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  ExecuteStatementCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestDynamo } from "../../../../test/support/dynamo.ts";
import type { Storage } from "../../../local/src/storage.ts";
import { db, isConditionFailure, LIST_READ_BUDGET, pageLimit } from "./db.ts";
import { tableName } from "./table.ts";

/** What a client put on the wire: the operation, the body, and whether the document client's own middleware ran. */
interface Sent {
  target: string;
  body: string;
  documentMiddleware: boolean;
}

function capture(client: { middlewareStack: DynamoDBClient["middlewareStack"] }, into: Sent[]): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers: Record<string, string>; body: string | Uint8Array };
      const features = (context as { __aws_sdk_context?: { features?: Record<string, string> } })
        .__aws_sdk_context?.features;
      into.push({
        target: request.headers["x-amz-target"],
        body: typeof request.body === "string" ? request.body : Buffer.from(request.body).toString("utf8"),
        documentMiddleware: features?.DDB_MAPPER !== undefined,
      });
      return next(args);
    },
    { step: "build", name: `capture-${into.length}-${Math.random()}` },
  );
}

let storage: Storage;
let reference: DynamoDBDocumentClient;
const viaDb: Sent[] = [];
const viaDocumentClient: Sent[] = [];

beforeAll(async () => {
  storage = await startTestDynamo();
  capture(db(), viaDb);
  reference = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: storage.dynamoEndpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  capture(reference, viaDocumentClient);
});
afterAll(async () => {
  reference?.destroy();
  await storage?.close();
});

const TableName = tableName();
const item = {
  pk: "DBTEST#1",
  sk: "A",
  text: "x",
  count: 3,
  ratio: 0.25,
  flag: false,
  nothing: null,
  gone: undefined,
  list: [1, "two", { three: 3, no: undefined }, [4]],
  map: { nested: { deep: ["a"], n: 1 }, skipped: undefined },
  set: new Set(["a", "b"]),
  bytes: new Uint8Array([1, 2, 3]),
};

/** Each command, as a function so both clients get a fresh instance of the same one. */
const commands: Array<[string, () => unknown]> = [
  ["put", () => new PutCommand({ TableName, Item: item })],
  [
    "conditional put that fails",
    () =>
      new PutCommand({
        TableName,
        Item: item,
        ConditionExpression: "attribute_not_exists(pk)",
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
  ],
  ["get", () => new GetCommand({ TableName, Key: { pk: "DBTEST#1", sk: "A" }, ConsistentRead: true })],
  ["get of nothing", () => new GetCommand({ TableName, Key: { pk: "DBTEST#none", sk: "A" } })],
  [
    "update",
    () =>
      new UpdateCommand({
        TableName,
        Key: { pk: "DBTEST#2", sk: "A" },
        UpdateExpression: "SET #m = :m, #l = list_append(if_not_exists(#l, :empty), :l) ADD #n :one",
        ExpressionAttributeNames: { "#m": "map", "#l": "list", "#n": "n" },
        ExpressionAttributeValues: { ":m": { a: [1, { b: "c" }] }, ":l": ["x"], ":empty": [], ":one": 1 },
        ReturnValues: "ALL_NEW",
      }),
  ],
  [
    "batch write",
    () =>
      new BatchWriteCommand({
        RequestItems: {
          [TableName]: [
            { PutRequest: { Item: { ...item, pk: "DBTEST#3" } } },
            { PutRequest: { Item: { pk: "DBTEST#3", sk: "B", list: [{ a: undefined, b: 1 }] } } },
            { DeleteRequest: { Key: { pk: "DBTEST#4", sk: "A" } } },
          ],
        },
      }),
  ],
  [
    "query",
    () =>
      new QueryCommand({
        TableName,
        KeyConditionExpression: "pk = :pk",
        FilterExpression: "#t <> :t",
        ExpressionAttributeNames: { "#t": "text" },
        ExpressionAttributeValues: { ":pk": "DBTEST#3", ":t": "y" },
        ScanIndexForward: false,
      }),
  ],
  [
    "scan",
    () =>
      new ScanCommand({
        TableName,
        FilterExpression: "begins_with(pk, :p)",
        ExpressionAttributeValues: { ":p": "DBTEST#" },
      }),
  ],
  [
    "delete",
    () => new DeleteCommand({ TableName, Key: { pk: "DBTEST#9", sk: "A" }, ReturnValues: "ALL_OLD" }),
  ],
  // A list of values with a function in it (a method passed by mistake): the document client
  // leaves the function out, as it does a map's (the local store knows no PartiQL: both refused).
  [
    "statement with a function among its parameters",
    () =>
      new ExecuteStatementCommand({
        Statement: `SELECT * FROM "${TableName}" WHERE pk = ?`,
        Parameters: ["DBTEST#3", () => "not a value"],
      }),
  ],
];

it("sends what the document client sends, and answers what it answers, without the document client's middleware", async () => {
  for (const [name, make] of commands) {
    const answers: unknown[] = [];
    for (const client of [db(), reference]) {
      try {
        const { $metadata, ...output } = (await client.send(make() as never)) as Record<string, unknown>;
        answers.push(output);
      } catch (err) {
        answers.push({ error: (err as Error).name, conditionFailure: isConditionFailure(err) });
      }
    }
    expect(viaDb.at(-1)?.body, name).toBe(viaDocumentClient.at(-1)?.body);
    expect(viaDb.at(-1)?.target, name).toBe(viaDocumentClient.at(-1)?.target);
    // Writes change what the next one answers; reads and refusals answer alike.
    if (!/^(put|update|batch write|delete)$/.test(name)) expect(answers[0], name).toEqual(answers[1]);
  }
  expect(viaDb).toHaveLength(commands.length);
  expect(viaDb.filter((s) => s.documentMiddleware)).toEqual([]);
  expect(viaDocumentClient.every((s) => s.documentMiddleware)).toBe(true);
});

it("answers a write's returned values as the document client does", async () => {
  const key = { pk: "DBTEST#5", sk: "A" };
  const update = () =>
    new UpdateCommand({
      TableName,
      Key: key,
      UpdateExpression: "SET v = :v",
      ExpressionAttributeValues: { ":v": { list: [1, "a"], set: new Set([1, 2]) } },
      ReturnValues: "ALL_NEW",
    });
  const fast = await db().send(update());
  const slow = await reference.send(update());
  expect(fast.Attributes).toEqual(slow.Attributes);
  expect(fast.Attributes).toEqual({ ...key, v: { list: [1, "a"], set: new Set([1, 2]) } });
});

it("a listing's next query asks for what is left of its page unfiltered; filtered, at least 100, never past the read budget", () => {
  expect(pageLimit(false, 7, 0)).toBe(7);
  expect(pageLimit(false, 500, 1_999)).toBe(500);
  expect(pageLimit(true, 7, 0)).toBe(100);
  expect(pageLimit(true, 300, 0)).toBe(300);
  expect(pageLimit(true, 300, LIST_READ_BUDGET - 40)).toBe(40);
});
