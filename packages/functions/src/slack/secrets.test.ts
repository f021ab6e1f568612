import { GetParameterCommand, GetParametersCommand, ParameterNotFound, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const ssm = mockClient(SSMClient);
const PARAMETER = "/sst/reflex/test/Secret/SLACK_SIGNING_SECRET/value";

async function freshSecrets() {
  vi.resetModules();
  return import("./secrets.ts");
}

beforeEach(() => {
  ssm.reset();
  vi.stubEnv("REFLEX_SLACK_SIGNING_SECRET_PARAMETER", PARAMETER);
  // What SST's binding would have used to find an app-wide fallback: present, and never read.
  vi.stubEnv("SST_APP", "reflex");
  vi.stubEnv("SST_STAGE", "test");
});
afterEach(() => vi.unstubAllEnvs());

describe("secret", () => {
  it("reads the stage's own SSM parameter, decrypted, once", async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Name: PARAMETER, Value: "s3cret" } });
    const { secret } = await freshSecrets();

    expect(await secret("SLACK_SIGNING_SECRET")).toBe("s3cret");
    expect(await secret("SLACK_SIGNING_SECRET")).toBe("s3cret");

    expect(ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input)).toEqual([
      { Name: PARAMETER, WithDecryption: true },
    ]);
  });

  it("fails closed when the stage has no value, reading no app-wide fallback", async () => {
    ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: "not found", $metadata: {} }));
    ssm.on(GetParametersCommand).resolves({ Parameters: [{ Name: "x", Value: "another-stage" }] });
    const { secret, SecretNotSetError } = await freshSecrets();

    await expect(secret("SLACK_SIGNING_SECRET")).rejects.toBeInstanceOf(SecretNotSetError);
    await expect(secret("SLACK_SIGNING_SECRET")).rejects.toThrow(
      /SLACK_SIGNING_SECRET is not set for this stage/,
    );
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(0);
    expect(ssm.commandCalls(GetParameterCommand).every((c) => c.args[0].input.Name === PARAMETER)).toBe(true);
  });

  it("reads again on the next request after a failed read", async () => {
    ssm
      .on(GetParameterCommand)
      .rejectsOnce(Object.assign(new Error("slow down"), { name: "ThrottlingException" }))
      .resolves({ Parameter: { Name: PARAMETER, Value: "s3cret" } });
    const { secret } = await freshSecrets();

    await expect(secret("SLACK_SIGNING_SECRET")).rejects.toThrow(/slow down/);
    expect(await secret("SLACK_SIGNING_SECRET")).toBe("s3cret");
  });

  it("names the missing environment variable when the stack bound no parameter", async () => {
    vi.stubEnv("REFLEX_SLACK_BOT_TOKEN_PARAMETER", "");
    delete process.env.REFLEX_SLACK_BOT_TOKEN_PARAMETER;
    const { secret } = await freshSecrets();

    await expect(secret("SLACK_BOT_TOKEN")).rejects.toThrow(/REFLEX_SLACK_BOT_TOKEN_PARAMETER/);
  });
});
