/**
 * The one audit writer: how entries reach it (the SQS transport deployed) and how it stores
 * them (never over another row, keys and provenance of its own making).
 */
import { randomUUID } from "node:crypto";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../test/support/dynamo.ts";
import type { Storage } from "../../../local/src/storage.ts";
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

    const stored = await row(forged);
    expect(stored?.sender).toBe("AROAEXAMPLEROLEID0001:reflex-test-trigger");
    expect(stored?.receivedAt).toBe(new Date(msg.sentAt).toISOString());
  });

  it("makes the keys and the expiry itself: a body's pk, sk or expiresAt is not taken", async () => {
    const e = { ...entry(), pk: "LOCK#asg:web", sk: "x", expiresAt: 1, gsi1pk: "EXEC#other" };
    const msg = received(e);

    await Audit.store(msg);

    const stored = await row(e);
    expect(stored?.pk).toBe(`AUDIT#${e.at.slice(0, 10)}`);
    expect(stored?.gsi1pk).toBeUndefined();
    expect(stored?.expiresAt).toBeGreaterThan(Math.floor(msg.sentAt / 1000) + 399 * 86_400);
  });

  it("never overwrites: an entry whose key another entry holds is stored under a new id, the first kept", async () => {
    const first = entry({ reason: "the first" });
    await Audit.store(received(first));

    const out = await Audit.store(received({ ...first, reason: "the forgery" }));

    expect((await row(first))?.reason).toBe("the first");
    expect(out.id).not.toBe(first.id);
    expect(await row({ at: first.at, id: out.id })).toMatchObject({
      reason: "the forgery",
      requestedId: first.id,
    });
  });

  it("stores a message delivered twice once", async () => {
    const e = entry({ executionId: `run-${randomUUID()}` });
    const msg = received(e);

    await Audit.store(msg);
    await Audit.store(msg);

    expect((await Audit.forExecution(e.executionId!)).map((x) => x.id)).toEqual([e.id]);
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

describe("handing entries to the writer (Audit.record)", () => {
  const sqs = mockClient(SQSClient);
  afterEach(() => {
    sqs.reset();
    delete process.env.REFLEX_AUDIT_QUEUE_URL;
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
  });

  it("deployed, sends the entries recorded at once in SendMessageBatch requests of at most 10", async () => {
    process.env.REFLEX_AUDIT_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/reflex-test-audit";
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({
      Successful: input.Entries.map((e) => ({ Id: e.Id })),
      Failed: [],
    }));

    const entries = await Promise.all(
      Array.from({ length: 23 }, (_, i) => Audit.record({ kind: "test.sqs", actor: "t", reason: `n${i}` })),
    );

    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    expect(calls[0].args[0].input.QueueUrl).toBe(process.env.REFLEX_AUDIT_QUEUE_URL);
    const bodies = calls.flatMap((c) => c.args[0].input.Entries!.map((e) => JSON.parse(e.MessageBody!).id));
    expect(bodies.sort()).toEqual(entries.map((e) => e.id).sort());
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
