/**
 * The deployed Slack acknowledgement and its signing secret: the stage's own SSM parameter and
 * nothing else; without it every request is refused with a log line that names what is missing.
 */
import { createHmac } from "node:crypto";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type AwsStub, awsError, defaultAnswer, startAwsStub } from "../../../test/support/aws-stub.ts";

const PARAMETER = "/sst/reflex/test/Secret/SLACK_SIGNING_SECRET/value";
const ENV = [
  "REFLEX_SLACK_WORKER",
  "REFLEX_SLACK_SIGNING_SECRET_PARAMETER",
  "SST_APP",
  "SST_STAGE",
  "REFLEX_ENDPOINT_SSM",
  "REFLEX_ENDPOINT_LAMBDA",
  "REFLEX_ENDPOINT_DYNAMODB",
];
/** SSM, Lambda and DynamoDB as the handler reaches them: signed requests, checked on arrival. */
let aws: AwsStub;
const calls = (operation: string) => aws.calls.filter((c) => c.operation === operation);

beforeAll(async () => {
  aws = await startAwsStub();
  process.env.REFLEX_SLACK_WORKER = "reflex-test-chatops-worker";
  process.env.REFLEX_SLACK_SIGNING_SECRET_PARAMETER = PARAMETER;
  // What SST's binding would have used to find an app-wide fallback: present, and never read.
  process.env.SST_APP = "reflex";
  process.env.SST_STAGE = "test";
  for (const service of ["SSM", "LAMBDA", "DYNAMODB"]) process.env[`REFLEX_ENDPOINT_${service}`] = aws.url;
});
afterAll(async () => {
  for (const name of ENV) delete process.env[name];
  await aws.close();
});
beforeEach(() => {
  aws.calls.length = 0;
  aws.answer = defaultAnswer;
});
afterEach(() => vi.restoreAllMocks());

function signed(body: string, secret: string): APIGatewayProxyEventV2 {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
  return {
    rawPath: "/slack/commands",
    body,
    isBase64Encoded: false,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": timestamp,
      "x-slack-signature": signature,
    },
  } as unknown as APIGatewayProxyEventV2;
}

describe("the Slack acknowledgement's signing secret", () => {
  it("refuses every request with 503 and one error line when the stage has no secret, reading no other stage's", async () => {
    aws.answer = (call) =>
      call.operation === "GetParameter"
        ? awsError(400, "ParameterNotFound")
        : call.operation === "GetParameters"
          ? { body: { Parameters: [{ Name: "x", Value: "another-stage-secret" }] } }
          : defaultAnswer(call);
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { handler } = await import("./slack.ts");

    const res = (await handler(
      signed("command=%2Freflex&text=status", "another-stage-secret"),
      {} as Context,
    )) as { statusCode: number; body: string };

    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body).error.code).toBe("not_configured");
    // Nothing handed on, nothing written, and no other parameter read than the stage's own.
    expect(aws.calls.map((c) => [c.operation, c.input])).toEqual([
      ["GetParameter", { Name: PARAMETER, WithDecryption: true }],
    ]);
    expect(errors).toHaveBeenCalledTimes(1);
    const line = JSON.parse(String(errors.mock.calls[0][0]));
    expect(line).toMatchObject({ level: "ERROR", parameter: PARAMETER });
    expect(line.message).toContain("SLACK_SIGNING_SECRET is not set for this stage");
  });

  it("verifies with the stage's own secret, read once with decryption from its one parameter", async () => {
    aws.answer = (call) =>
      call.operation === "GetParameter"
        ? { body: { Parameter: { Name: PARAMETER, Value: "this-stage-secret" } } }
        : defaultAnswer(call);
    const { handler } = await import("./slack.ts");

    const ok = (await handler(
      signed("command=%2Freflex&text=help&user_id=U123&channel_id=C1", "this-stage-secret"),
      {} as Context,
    )) as {
      statusCode: number;
    };
    const forged = (await handler(
      signed("command=%2Freflex&text=help&user_id=U123&x=1", "another-stage-secret"),
      {} as Context,
    )) as { statusCode: number };

    expect(ok.statusCode).toBe(200);
    expect(forged.statusCode).toBe(401);
    expect(calls("GetParameter").map((c) => c.input)).toEqual([{ Name: PARAMETER, WithDecryption: true }]);
    // The signed request was guarded against replay, then handed on; the forged one neither.
    expect(calls("PutItem")).toHaveLength(1);
    expect(calls("Invoke")).toHaveLength(1);
  });
});

describe("in Lambda, the signing secret's read during init", () => {
  beforeEach(() => {
    vi.resetModules();
    process.env.AWS_LAMBDA_FUNCTION_NAME = "reflex-test-slack";
  });
  afterEach(() => {
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
    vi.resetModules();
  });

  it("reads the parameter once while the module loads, so the first request goes straight to the replay guard", async () => {
    aws.answer = (call) =>
      call.operation === "GetParameter"
        ? { body: { Parameter: { Name: PARAMETER, Value: "this-stage-secret" } } }
        : defaultAnswer(call);
    const { handler } = await import("./slack.ts");
    expect(aws.calls.map((c) => c.operation)).toEqual(["GetParameter"]);

    const ok = (await handler(
      signed("command=%2Freflex&text=help&user_id=U123&channel_id=C1", "this-stage-secret"),
      {} as Context,
    )) as { statusCode: number };

    expect(ok.statusCode).toBe(200);
    expect(aws.calls.map((c) => c.operation)).toEqual(["GetParameter", "PutItem", "Invoke"]);
  });

  it("does not fail the init when the read fails: the request reads again and is refused while there is no secret", async () => {
    aws.answer = (call) =>
      call.operation === "GetParameter" ? awsError(400, "ParameterNotFound") : defaultAnswer(call);
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { handler } = await import("./slack.ts");

    const res = (await handler(signed("command=%2Freflex&text=status", "any-secret"), {} as Context)) as {
      statusCode: number;
    };

    expect(res.statusCode).toBe(503);
    expect(aws.calls.map((c) => c.operation)).toEqual(["GetParameter", "GetParameter"]);
    expect(errors).toHaveBeenCalledTimes(1);
  });
});
