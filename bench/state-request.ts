/**
 * bench/state-request: the CPU time of one state request, the way Reflex sends it (`db()`: the
 * factory's DynamoDB client, its Sha256 for signing, the document command sent as the plain one
 * it wraps) against the way it did (the document client's own `send` over a client with the SDK's
 * defaults) and against the alarm storm's baseline (a plain conditional PutItem), on the same
 * embedded store (dynalite, in this process, so its work is counted too), 50 in flight. Two
 * shapes: a dedup claim (a conditional put of a small item, as most of the gate's writes are) and
 * an audit batch (a BatchWriteItem of 10 audit rows, per row). The variants take turns, round by
 * round (`BENCH_STATE_ROUNDS`, 10, of `BENCH_STATE_REQUESTS`, 1,000 each), so a change in the
 * machine's load hits all alike; the figures are each variant's median round.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { Aws, tableName } from "@reflex/core";
import { db } from "../packages/core/src/state/db.ts";
import { ensureTable, startStorage } from "../packages/local/src/storage.ts";
import { pool } from "./support/pool.ts";

const ROUNDS = Number(process.env.BENCH_STATE_ROUNDS ?? 10);
const REQUESTS = Number(process.env.BENCH_STATE_REQUESTS ?? 1000);
const IN_FLIGHT = 50;
const BATCH = 10;

export async function stateRequestBench(): Promise<Array<Record<string, unknown>>> {
  const storage = await startStorage({ region: "us-east-1" });
  const TableName = tableName();
  await ensureTable(storage.dynamoEndpoint, "us-east-1", TableName);
  Aws.configure({ endpoints: { dynamodb: storage.dynamoEndpoint } });
  const plain = () =>
    new DynamoDBClient({
      endpoint: storage.dynamoEndpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
  const raw = plain();
  const documentClient = DynamoDBDocumentClient.from(plain(), {
    marshallOptions: { removeUndefinedValues: true },
  });
  let seq = 0;
  const claim = () =>
    new PutCommand({
      TableName,
      Item: {
        pk: `DEDUP#alarm:arn:aws:cloudwatch:us-east-1:123456789012:alarm:bench-${seq++}:ALARM:2026-12-07T10:00:00.000Z`,
        sk: "DEDUP",
        type: "dedup",
        owner: randomUUID(),
        status: "IN_PROGRESS",
        leaseUntil: Date.now() + 60_000,
        expiresAt: Math.floor(Date.now() / 1000) + 3 * 86_400,
      },
      ConditionExpression: "attribute_not_exists(pk) OR leaseUntil < :now",
      ExpressionAttributeValues: { ":now": Date.now() },
    });
  const row = () => {
    const id = randomUUID();
    const at = new Date().toISOString();
    return {
      pk: `AUDIT#${at.slice(0, 10)}`,
      sk: `${at}#${id}`,
      expiresAt: Math.floor(Date.now() / 1000) + 400 * 86_400,
      type: "audit",
      kind: "event.duplicate",
      actor: "event:aws.cloudwatch",
      reason: `already handled this alarm transition (alarm:arn:aws:cloudwatch:us-east-1:123456789012:alarm:bench-${seq++}:ALARM:${at})`,
      eventId: randomUUID(),
      at,
      id,
      sender: "LOCAL:reflex-local-trigger",
      receivedAt: at,
    };
  };
  const batch = () =>
    new BatchWriteCommand({
      RequestItems: { [TableName]: Array.from({ length: BATCH }, () => ({ PutRequest: { Item: row() } })) },
    });
  const variants: Record<string, { per: number; send: () => Promise<unknown> }> = {
    rawPutItem: {
      per: 1,
      send: () =>
        raw.send(
          new PutItemCommand({
            TableName,
            Item: { pk: { S: `BENCH#${seq++}` }, sk: { S: "B" }, n: { N: String(seq) } },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        ),
    },
    claimViaDocumentClient: { per: 1, send: () => documentClient.send(claim()) },
    claimViaDb: { per: 1, send: () => db().send(claim()) },
    auditRowViaDocumentClient: { per: BATCH, send: () => documentClient.send(batch()) },
    auditRowViaDb: { per: BATCH, send: () => db().send(batch()) },
  };
  try {
    // Warm-up: module loading and the JIT's first passes, not counted.
    for (const v of Object.values(variants))
      await pool(
        Array.from({ length: 200 / v.per }, (_, i) => i),
        IN_FLIGHT,
        v.send,
      );
    const cpuMs: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, v] of Object.entries(variants)) {
        const n = Math.ceil(REQUESTS / v.per);
        const from = process.cpuUsage();
        await pool(
          Array.from({ length: n }, (_, i) => i),
          IN_FLIGHT,
          v.send,
        );
        const used = process.cpuUsage(from);
        cpuMs[name].push((used.user + used.system) / 1000 / (n * v.per));
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const m = Object.fromEntries(Object.entries(cpuMs).map(([k, xs]) => [k, median(xs)]));
    const round3 = (x: number) => +x.toFixed(3);
    return [
      {
        figure: "state-request",
        rounds: ROUNDS,
        requestsPerRound: REQUESTS,
        inFlight: IN_FLIGHT,
        // CPU ms per request (per row for the audit batch), each variant's median round.
        cpuMsPerRequest: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round3(v)])),
        claimDbOverDocumentClient: round3(m.claimViaDb / m.claimViaDocumentClient),
        claimDbOverRawPutItem: round3(m.claimViaDb / m.rawPutItem),
        auditRowDbOverDocumentClient: round3(m.auditRowViaDb / m.auditRowViaDocumentClient),
      },
    ];
  } finally {
    raw.destroy();
    documentClient.destroy();
    await storage.close();
  }
}
