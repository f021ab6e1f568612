/**
 * The deployed Slack acknowledgement and its signing secret: the stage's own SSM parameter and
 * nothing else; without it every request is refused with a log line that names what is missing.
 */
import { createHmac } from "node:crypto";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { GetParameterCommand, GetParametersCommand, ParameterNotFound, SSMClient } from "@aws-sdk/client-ssm";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

const PARAMETER = "/sst/reflex/test/Secret/SLACK_SIGNING_SECRET/value";
const ssm = mockClient(SSMClient);
const lambda = mockClient(LambdaClient);
const dynamo = mockClient(DynamoDBClient);

beforeAll(() => {
  process.env.REFLEX_SLACK_WORKER = "reflex-test-chatops-worker";
  process.env.REFLEX_SLACK_SIGNING_SECRET_PARAMETER = PARAMETER;
  // What SST's binding would have used to find an app-wide fallback: present, and never read.
  process.env.SST_APP = "reflex";
  process.env.SST_STAGE = "test";
});
afterAll(() => {
  for (const name of ["REFLEX_SLACK_WORKER", "REFLEX_SLACK_SIGNING_SECRET_PARAMETER", "SST_APP", "SST_STAGE"])
    delete process.env[name];
  ssm.restore();
  lambda.restore();
  dynamo.restore();
});
beforeEach(() => {
  ssm.reset();
  lambda.reset();
  dynamo.reset();
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
    ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: "not found", $metadata: {} }));
    ssm.on(GetParametersCommand).resolves({ Parameters: [{ Name: "x", Value: "another-stage-secret" }] });
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { handler } = await import("./slack.ts");

    const res = (await handler(
      signed("command=%2Freflex&text=status", "another-stage-secret"),
      {} as Context,
    )) as { statusCode: number; body: string };

    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body).error.code).toBe("not_configured");
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    const names = [
      ...ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input.Name),
      ...ssm.commandCalls(GetParametersCommand).flatMap((c) => c.args[0].input.Names ?? []),
    ];
    expect(names).toEqual([PARAMETER]);
    expect(errors).toHaveBeenCalledTimes(1);
    const line = JSON.parse(String(errors.mock.calls[0][0]));
    expect(line).toMatchObject({ level: "ERROR", parameter: PARAMETER });
    expect(line.message).toContain("SLACK_SIGNING_SECRET is not set for this stage");
  });

  it("verifies with the stage's own secret, read once with decryption from its one parameter", async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Name: PARAMETER, Value: "this-stage-secret" } });
    dynamo.on(PutItemCommand).resolves({});
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
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
    expect(ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input)).toEqual([
      { Name: PARAMETER, WithDecryption: true },
    ]);
  });
});
