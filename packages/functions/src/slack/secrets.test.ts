import { Aws } from "@reflex/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type AwsStub, awsError, defaultAnswer, startAwsStub } from "../../../../test/support/aws-stub.ts";

const PARAMETER = "/sst/reflex/test/Secret/SLACK_SIGNING_SECRET/value";
let ssm: AwsStub;

async function freshSecrets() {
  vi.resetModules();
  return import("./secrets.ts");
}

beforeAll(async () => {
  ssm = await startAwsStub();
});
afterAll(async () => {
  Aws.configure({});
  await ssm.close();
});
beforeEach(() => {
  ssm.calls.length = 0;
  ssm.answer = defaultAnswer;
  vi.stubEnv("REFLEX_ENDPOINT_SSM", ssm.url);
  vi.stubEnv("REFLEX_SLACK_SIGNING_SECRET_PARAMETER", PARAMETER);
  // What SST's binding would have used to find an app-wide fallback: present, and never read.
  vi.stubEnv("SST_APP", "reflex");
  vi.stubEnv("SST_STAGE", "test");
});
afterEach(() => vi.unstubAllEnvs());

describe("secret", () => {
  it("reads the stage's own SSM parameter, decrypted, once", async () => {
    ssm.answer = () => ({ body: { Parameter: { Name: PARAMETER, Type: "SecureString", Value: "s3cret" } } });
    const { secret } = await freshSecrets();

    expect(await secret("SLACK_SIGNING_SECRET")).toBe("s3cret");
    expect(await secret("SLACK_SIGNING_SECRET")).toBe("s3cret");

    expect(ssm.calls.map((c) => [c.service, c.operation, c.input])).toEqual([
      ["ssm", "GetParameter", { Name: PARAMETER, WithDecryption: true }],
    ]);
  });

  it("fails closed when the stage has no value, reading no app-wide fallback", async () => {
    ssm.answer = (call) =>
      call.operation === "GetParameter"
        ? awsError(400, "ParameterNotFound")
        : { body: { Parameters: [{ Name: "x", Value: "another-stage" }] } };
    const { secret, SecretNotSetError } = await freshSecrets();

    await expect(secret("SLACK_SIGNING_SECRET")).rejects.toBeInstanceOf(SecretNotSetError);
    await expect(secret("SLACK_SIGNING_SECRET")).rejects.toThrow(
      /SLACK_SIGNING_SECRET is not set for this stage/,
    );
    expect(ssm.calls.map((c) => [c.operation, c.input.Name])).toEqual([
      ["GetParameter", PARAMETER],
      ["GetParameter", PARAMETER],
    ]);
  });

  it("fails closed when the parameter exists with an empty value", async () => {
    ssm.answer = () => ({ body: { Parameter: { Name: PARAMETER, Type: "SecureString", Value: "" } } });
    const { secret, SecretNotSetError } = await freshSecrets();

    await expect(secret("SLACK_SIGNING_SECRET")).rejects.toBeInstanceOf(SecretNotSetError);
  });

  it("reads again on the next request after a failed read", async () => {
    const answers = [
      awsError(400, "AccessDeniedException", "not allowed yet"),
      { body: { Parameter: { Name: PARAMETER, Value: "s3cret" } } },
    ];
    ssm.answer = () => answers.shift()!;
    const { secret } = await freshSecrets();

    await expect(secret("SLACK_SIGNING_SECRET")).rejects.toThrow(/not allowed yet/);
    expect(await secret("SLACK_SIGNING_SECRET")).toBe("s3cret");
  });

  it("names the missing environment variable when the stack bound no parameter", async () => {
    vi.stubEnv("REFLEX_SLACK_BOT_TOKEN_PARAMETER", "");
    delete process.env.REFLEX_SLACK_BOT_TOKEN_PARAMETER;
    const { secret } = await freshSecrets();

    await expect(secret("SLACK_BOT_TOKEN")).rejects.toThrow(/REFLEX_SLACK_BOT_TOKEN_PARAMETER/);
    expect(ssm.calls).toHaveLength(0);
  });
});
