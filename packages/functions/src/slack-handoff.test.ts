/**
 * The Slack acknowledgement never awaits the command's work. Deployed: the work is handed to
 * the worker with one asynchronous Lambda invoke (InvocationType Event, answered 202 before the
 * worker runs) and the ack writes nothing but its replay guard. Local mode: the ack answers
 * while the work it queued has not finished (here it is held until the answer is read).
 */
import { createHmac } from "node:crypto";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { type ChatOps, tableName } from "@reflex/core";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type AwsStub, defaultAnswer, startAwsStub } from "../../../test/support/aws-stub.ts";
import { startTestDynamo } from "../../../test/support/dynamo.ts";
import { db } from "../../core/src/state/db.ts";
import { SimulatedCloud } from "../../local/src/cloud/index.ts";
import { localApp } from "../../local/src/local-api.ts";
import { SlackWork } from "../../local/src/slack-work.ts";
import type { Storage } from "../../local/src/storage.ts";

const SECRET = "handoff-secret";
const PARAMETER = "/sst/reflex/test/Secret/SLACK_SIGNING_SECRET/value";
const ENV = [
  "REFLEX_SLACK_WORKER",
  "REFLEX_SLACK_SIGNING_SECRET_PARAMETER",
  "SLACK_SIGNING_SECRET",
  "REFLEX_ENDPOINT_SSM",
  "REFLEX_ENDPOINT_LAMBDA",
];
let storage: Storage;
/** SSM and Lambda as the handler reaches them (signed requests, checked on arrival); DynamoDB is dynalite. */
let aws: AwsStub;

beforeAll(async () => {
  storage = await startTestDynamo();
  aws = await startAwsStub({
    answer: (call) =>
      call.operation === "GetParameter" && call.input.Name === PARAMETER
        ? { body: { Parameter: { Name: PARAMETER, Value: SECRET } } }
        : defaultAnswer(call),
  });
  process.env.REFLEX_ENDPOINT_SSM = aws.url;
  process.env.REFLEX_ENDPOINT_LAMBDA = aws.url;
  process.env.REFLEX_SLACK_WORKER = "reflex-test-chatops-worker";
  process.env.REFLEX_SLACK_SIGNING_SECRET_PARAMETER = PARAMETER;
  process.env.SLACK_SIGNING_SECRET = SECRET;
});
afterAll(async () => {
  for (const name of ENV) delete process.env[name];
  await aws.close();
  await storage.close();
});

let n = 0;
function signedBody(text: string): { body: string; headers: Record<string, string> } {
  const body = new URLSearchParams({
    user_id: "UONCALL",
    channel_id: "CONCALL",
    text,
    trigger_id: `t.${++n}`,
    response_url: "https://hooks.slack.com/commands/T/1/x",
  }).toString();
  const ts = String(Math.floor(Date.now() / 1000));
  return {
    body,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": ts,
      "x-slack-signature": `v0=${createHmac("sha256", SECRET).update(`v0:${ts}:${body}`).digest("hex")}`,
    },
  };
}

describe("the Slack acknowledgement hands the work off and does not wait for it", () => {
  it("deployed: one asynchronous invoke of the worker with the command, and only the replay guard written", async () => {
    const { handler } = await import("./slack.ts");
    const { body, headers } = signedBody("status");
    const res = (await handler(
      {
        rawPath: "/slack/commands",
        body,
        headers,
        isBase64Encoded: false,
      } as unknown as APIGatewayProxyEventV2,
      {} as Context,
    )) as { statusCode: number; body: string };
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).text).toContain("on it");
    const invokes = aws.calls.filter((c) => c.service === "lambda");
    expect(invokes).toHaveLength(1);
    expect(invokes[0].headers["x-amz-invocation-type"]).toBe("Event");
    expect(invokes[0].path).toBe("/2015-03-31/functions/reflex-test-chatops-worker/invocations");
    expect(invokes[0].input).toMatchObject({
      kind: "command",
      command: { kind: "status" },
      user: { id: "UONCALL" },
    });
    const items = (await db().send(new ScanCommand({ TableName: tableName() }))).Items ?? [];
    expect(items.map((i) => i.type)).toEqual(["slack-signature"]);
  });

  it("local mode: the answer comes while the command's work is still held", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const started: ChatOps.Ack.Work[] = [];
    let finished = false;
    const work = new SlackWork(async (w: ChatOps.Ack.Work) => {
      started.push(w);
      await held;
      finished = true;
    });
    const app = localApp({
      cloud: SimulatedCloud.seeded(),
      bus: {} as never,
      outbox: {} as never,
      slackWork: work,
    });
    const { body, headers } = signedBody("status");
    const res = await app.request("/slack/commands", { method: "POST", headers, body });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { text: string }).text).toContain("on it");
    expect(finished).toBe(false);
    await vi.waitFor(() => expect(started).toHaveLength(1));
    expect(finished).toBe(false);
    release();
    await work.stop();
    expect(finished).toBe(true);
  });
});
