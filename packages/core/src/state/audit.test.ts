/**
 * The one audit writer: how entries reach it (the SQS transport deployed) and how it stores
 * them (never over another row, keys and provenance of its own making).
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../test/support/dynamo.ts";
import type { Storage } from "../../../local/src/storage.ts";
import { client } from "../aws.ts";
import { EnvironmentError } from "../errors.ts";
import * as Audit from "./audit.ts";
import { db } from "./db.ts";
import { tableName } from "./table.ts";

let storage: Storage;
beforeAll(async () => {
  storage = await startTestDynamo();
});
afterAll(async () => storage.close());

const entry = (over: Partial<Audit.AuditEntry> = {}): Audit.AuditEntry => ({
  id: randomUUID(),
  at: new Date().toISOString(),
  kind: "test.entry",
  actor: "test",
  reason: "because",
  ...over,
});
const received = (body: unknown, over: Partial<Audit.Received> = {}): Audit.Received => ({
  body: typeof body === "string" ? body : JSON.stringify(body),
  sender: "AROAEXAMPLEROLEID0001:reflex-test-trigger",
  sentAt: Date.now(),
  messageId: randomUUID(),
  ...over,
});
async function row(e: { at: string; id: string }) {
  const out = await db().send(
    new GetCommand({
      TableName: tableName(),
      Key: { pk: `AUDIT#${e.at.slice(0, 10)}`, sk: `${e.at}#${e.id}` },
    }),
  );
  return out.Item;
}

describe("the audit writer (Audit.store)", () => {
  it("stamps each entry with the sender and receive time the queue reports, not what the entry says", async () => {
    const forged = {
      ...entry(),
      sender: "AROAAPIROLE:reflex-test-api",
      receivedAt: "2020-01-01T00:00:00.000Z",
    };
    const msg = received(forged);

    await Audit.store(msg);

    const stored = await row({ at: forged.at, id: msg.messageId });
    expect(stored?.sender).toBe("AROAEXAMPLEROLEID0001:reflex-test-trigger");
    expect(stored?.receivedAt).toBe(new Date(msg.sentAt).toISOString());
  });

  it("makes the keys and the expiry itself: a body's pk, sk or expiresAt is not taken", async () => {
    const e = { ...entry(), pk: "LOCK#asg:web", sk: "x", expiresAt: 1, gsi1pk: "EXEC#other" };
    const msg = received(e);

    await Audit.store(msg);

    const stored = await row({ at: e.at, id: msg.messageId });
    expect(stored?.pk).toBe(`AUDIT#${e.at.slice(0, 10)}`);
    expect(stored?.gsi1pk).toBeUndefined();
    expect(stored?.expiresAt).toBeGreaterThan(Math.floor(msg.sentAt / 1000) + 399 * 86_400);
  });

  it("keys each entry by the queue's message id, not the id the sender chose: two messages claiming one id and time are both kept, neither over the other", async () => {
    const first = entry({ reason: "the first" });
    const original = received(first);
    await Audit.store(original);

    const forgery = received({ ...first, reason: "the forgery" });
    const out = await Audit.store(forgery);

    expect(out.id).toBe(forgery.messageId);
    expect((await row({ at: first.at, id: original.messageId }))?.reason).toBe("the first");
    expect((await row({ at: first.at, id: forgery.messageId }))?.reason).toBe("the forgery");
    expect(await row(first)).toBeUndefined();
  });

  it("stores a message delivered twice once", async () => {
    const e = entry({ executionId: `run-${randomUUID()}` });
    const msg = received(e);

    await Audit.store(msg);
    await Audit.store(msg);

    expect((await Audit.forExecution(e.executionId!)).map((x) => x.id)).toEqual([msg.messageId]);
  });

  it("stores a body that is not an entry as audit.malformed, naming its sender", async () => {
    const runId = `run-${randomUUID()}`;
    const out = await Audit.store(
      received({ kind: "x", actor: "y", reason: "no id or time", executionId: runId }),
    );
    const junk = await Audit.store(received("not json"));

    expect(out.status).toBe("malformed");
    expect(junk.status).toBe("malformed");
    const page = await Audit.list({ kind: "audit.malformed", limit: 10 });
    expect(page.entries.map((e) => e.id)).toEqual(expect.arrayContaining([out.id, junk.id]));
    expect(page.entries.find((e) => e.id === out.id)).toMatchObject({
      actor: "audit-writer",
      sender: "AROAEXAMPLEROLEID0001:reflex-test-trigger",
      reason: expect.stringMatching(/AROAEXAMPLEROLEID0001:reflex-test-trigger .*id/),
    });
  });
});

describe("the audit writer's batches (Audit.storeAll)", () => {
  /**
   * Counts the batch requests the table client sends, and makes the first `unprocessed` of
   * them answer as DynamoDB does when it throttles: every put left in UnprocessedItems, none
   * written.
   */
  function watchBatches(unprocessed: number) {
    const sent = { get: 0, write: 0, put: 0 };
    let left = unprocessed;
    const stack = client(DynamoDBClient, "dynamodb").middlewareStack;
    stack.add(
      ((next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: { input: { RequestItems?: Record<string, unknown> } }) => {
          if (context.commandName === "BatchGetItemCommand") sent.get++;
          if (context.commandName === "PutItemCommand") sent.put++;
          if (context.commandName !== "BatchWriteItemCommand") return next(args);
          sent.write++;
          if (left-- > 0)
            return { output: { UnprocessedItems: args.input.RequestItems, $metadata: {} }, response: {} };
          return next(args);
        }) as never,
      { step: "initialize", name: "auditTestBatches" },
    );
    return { sent, done: () => stack.remove("auditTestBatches") };
  }

  it("stores a first delivery's batch in one write and no read: its keys are the queue's message ids, new to the table", async () => {
    const runId = `run-${randomUUID()}`;
    const batch = Array.from({ length: 10 }, (_, i) =>
      received(entry({ reason: `n${i}`, executionId: runId })),
    );
    const watch = watchBatches(0);

    const out = await Audit.storeAll(batch).finally(watch.done);

    expect(watch.sent).toEqual({ get: 0, write: 1, put: 0 });
    expect(out.map((o) => (o instanceof Error ? o.message : o.status))).toEqual(batch.map(() => "stored"));
    const stored = await Audit.forExecution(runId);
    expect(stored.map((e) => e.reason).sort()).toEqual(batch.map((_, i) => `n${i}`).sort());
    expect(stored[0].sender).toBe("AROAEXAMPLEROLEID0001:reflex-test-trigger");
  });

  it("sends again the puts DynamoDB left unprocessed, until each is stored", async () => {
    const batch = Array.from({ length: 3 }, () => received(entry()));
    const watch = watchBatches(2);

    const out = await Audit.storeAll(batch).finally(watch.done);

    expect(watch.sent.write).toBe(3);
    expect(out.every((o) => !(o instanceof Error) && o.status === "stored")).toBe(true);
    for (const m of batch) expect(await row({ at: JSON.parse(m.body).at, id: m.messageId })).toBeDefined();
  });

  it("answers an error for an entry left unprocessed every time, so the queue delivers it again", async () => {
    const entries = [entry(), entry(), entry()];
    const watch = watchBatches(1_000);

    const messages = entries.map((e) => received(e));
    const out = await Audit.storeAll(messages).finally(watch.done);

    for (const [i, e] of entries.entries()) {
      expect(out[i]).toBeInstanceOf(Error);
      expect(await row({ at: e.at, id: messages[i].messageId })).toBeUndefined();
    }
  });

  it("stores a batch of two in one write too, and one alone with a conditional put: one request, no read", async () => {
    for (const size of [1, 2]) {
      const runId = `run-${randomUUID()}`;
      const batch = Array.from({ length: size }, (_, i) =>
        received(entry({ reason: `s${i}`, executionId: runId })),
      );
      const watch = watchBatches(0);

      const out = await Audit.storeAll(batch).finally(watch.done);

      expect(watch.sent).toEqual(size === 1 ? { get: 0, write: 0, put: 1 } : { get: 0, write: 1, put: 0 });
      expect(out.map((o) => (o instanceof Error ? o.message : o.status))).toEqual(batch.map(() => "stored"));
      expect((await Audit.forExecution(runId)).map((e) => e.reason).sort()).toEqual(
        batch.map((_, i) => `s${i}`),
      );
    }
  });

  it("stores a message the queue delivers again (receive count above 1) with a conditional put that leaves its row as it is", async () => {
    const e = entry({ reason: "once" });
    const first = received(e);
    await Audit.storeAll([first]);
    // What the row holds now stays: the redelivery must not write it again.
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: { pk: `AUDIT#${e.at.slice(0, 10)}`, sk: `${e.at}#${first.messageId}` },
        UpdateExpression: "SET marker = :m",
        ExpressionAttributeValues: { ":m": "kept" },
      }),
    );
    const watch = watchBatches(0);

    const out = await Audit.storeAll([
      { ...first, receiveCount: 2 },
      received(entry()),
      received(entry()),
    ]).finally(watch.done);

    expect(out.map((o) => (o instanceof Error ? o.message : o.id))).toEqual([
      first.messageId,
      expect.any(String),
      expect.any(String),
    ]);
    expect(watch.sent).toEqual({ get: 0, write: 1, put: 1 });
    expect(await row({ at: e.at, id: first.messageId })).toMatchObject({ reason: "once", marker: "kept" });
  });

  it("loses nothing when the writer dies before its write, and doubles nothing when it dies after it: the queue's redelivery stores each entry once", async () => {
    const runId = `run-${randomUUID()}`;
    const before = Array.from({ length: 4 }, (_, i) =>
      received(entry({ reason: `b${i}`, executionId: runId })),
    );
    const after = Array.from({ length: 4 }, (_, i) =>
      received(entry({ reason: `a${i}`, executionId: runId })),
    );
    // Dies before the write: the store fails, every entry is an error (reported; delivered again).
    const broken = client(DynamoDBClient, "dynamodb").middlewareStack;
    broken.add(
      (() => async () => {
        throw new Error("the writer died");
      }) as never,
      { step: "initialize", name: "auditTestCrash" },
    );
    const died = await Audit.storeAll(before).finally(() => broken.remove("auditTestCrash"));
    expect(died.every((o) => o instanceof Error)).toBe(true);
    // Dies after the write (it never answered the queue): the batch is delivered again whole.
    await Audit.storeAll(after);

    await Audit.storeAll([...before, ...after]);

    const reasons = (await Audit.forExecution(runId)).map((e) => e.reason).sort();
    expect(reasons).toEqual([...before, ...after].map((m) => JSON.parse(m.body).reason).sort());
  });

  it("never writes over another message's row: a redelivered batch is stored once, a reused id and time stored apart", async () => {
    const first = entry({ reason: "the first" });
    const original = received(first);
    await Audit.storeAll([original]);

    const forgery = received({ ...first, reason: "the forgery" });
    const again = await Audit.storeAll([original, forgery, original]);

    expect(again.map((o) => (o as Audit.Stored).id)).toEqual([
      original.messageId,
      forgery.messageId,
      original.messageId,
    ]);
    expect((await row({ at: first.at, id: original.messageId }))?.reason).toBe("the first");
    expect((await row({ at: first.at, id: forgery.messageId }))?.reason).toBe("the forgery");
  });
});

describe("handing entries to the writer (Audit.record)", () => {
  const sqs = mockClient(SQSClient);
  afterEach(() => {
    sqs.reset();
    delete process.env.REFLEX_AUDIT_QUEUE_URL;
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
  });

  it("deployed, sends the entries recorded at once in SendMessageBatch requests of at most 10", async () => {
    process.env.REFLEX_AUDIT_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/reflex-test-audit";
    sqs
      .on(SendMessageBatchCommand)
      .callsFake((input: { Entries: Array<{ Id: string; MessageBody: string }> }) => ({
        Successful: input.Entries.map((e) => ({
          Id: e.Id,
          MessageId: `sqs-${JSON.parse(e.MessageBody).reason.slice(1)}`,
        })),
        Failed: [],
      }));

    const entries = await Promise.all(
      Array.from({ length: 23 }, (_, i) => Audit.record({ kind: "test.sqs", actor: "t", reason: `n${i}` })),
    );

    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    expect(calls[0].args[0].input.QueueUrl).toBe(process.env.REFLEX_AUDIT_QUEUE_URL);
    const bodies = calls.flatMap((c) =>
      c.args[0].input.Entries!.map((e) => JSON.parse(e.MessageBody!).reason),
    );
    expect(bodies.sort()).toEqual(entries.map((e) => e.reason).sort());
    // Each entry's id is the one the trail keeps: SQS's message id for it.
    expect(entries.map((e) => e.id)).toEqual(entries.map((_, i) => `sqs-${i}`));
  });

  it("sends again what SQS did not take, and rejects the entry SQS refuses as the sender's fault", async () => {
    process.env.REFLEX_AUDIT_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/reflex-test-audit";
    sqs
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [],
        Failed: [
          { Id: "0", Code: "InternalError", SenderFault: false },
          { Id: "1", Code: "InvalidMessageContents", SenderFault: true },
        ],
      })
      .resolves({ Successful: [{ Id: "0", MessageId: "m0", MD5OfMessageBody: "" }], Failed: [] });

    const [retried, refused] = await Promise.allSettled([
      Audit.record({ kind: "test.sqs", actor: "t", reason: "retried" }),
      Audit.record({ kind: "test.sqs", actor: "t", reason: "refused" }),
    ]);

    expect(retried.status).toBe("fulfilled");
    expect(refused).toMatchObject({
      status: "rejected",
      reason: { message: expect.stringMatching(/InvalidMessageContents/) },
    });
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(2);
  });

  it("in a Lambda function with no audit queue, refuses to record rather than write the table itself", async () => {
    process.env.AWS_LAMBDA_FUNCTION_NAME = "reflex-test-trigger";

    await expect(Audit.record({ kind: "test.x", actor: "t", reason: "r" })).rejects.toBeInstanceOf(
      EnvironmentError,
    );
  });
});
