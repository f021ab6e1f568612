import { GetParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const ssm = mockClient(SSMClient);
const PATH = "/sst/reflex/test/Secret/SLACK_SIGNING_SECRET/value";
const FALLBACK = "/sst/reflex/.fallback/Secret/SLACK_SIGNING_SECRET/value";

async function freshSecret() {
  vi.resetModules();
  return (await import("./secrets.ts")).secret;
}

beforeEach(() => {
  ssm.reset();
  vi.stubEnv("SST_APP", "reflex");
  vi.stubEnv("SST_STAGE", "test");
  vi.stubEnv("SST_SSM_PREFIX", "/sst/reflex/test/");
  vi.stubEnv("SST_Secret_value_SLACK_SIGNING_SECRET", "__FETCH_FROM_SSM__");
});
afterEach(() => vi.unstubAllEnvs());

describe("secret", () => {
  it("reads a bound secret from its stage's SSM parameter, decrypted, once", async () => {
    ssm.on(GetParametersCommand).resolves({ Parameters: [{ Name: PATH, Value: "s3cret" }] });
    const secret = await freshSecret();

    expect(await secret("SLACK_SIGNING_SECRET")).toBe("s3cret");
    expect(await secret("SLACK_SIGNING_SECRET")).toBe("s3cret");

    expect(ssm.commandCalls(GetParametersCommand).map((c) => c.args[0].input)).toEqual([
      { Names: [PATH], WithDecryption: true },
    ]);
  });

  it("falls back to the app-wide value when the stage has none, as SST's binding does", async () => {
    ssm
      .on(GetParametersCommand, { Names: [PATH] })
      .resolves({ Parameters: [], InvalidParameters: [PATH] })
      .on(GetParametersCommand, { Names: [FALLBACK] })
      .resolves({ Parameters: [{ Name: FALLBACK, Value: "shared" }] });
    const secret = await freshSecret();

    expect(await secret("SLACK_SIGNING_SECRET")).toBe("shared");
  });

  it("says which secret is not set, and reads again on the next request", async () => {
    ssm.on(GetParametersCommand).resolves({ Parameters: [] });
    const secret = await freshSecret();

    await expect(secret("SLACK_SIGNING_SECRET")).rejects.toThrow(
      /SLACK_SIGNING_SECRET is not set in the "test" stage/,
    );
    ssm
      .on(GetParametersCommand, { Names: [PATH] })
      .resolves({ Parameters: [{ Name: PATH, Value: "now set" }] });
    expect(await secret("SLACK_SIGNING_SECRET")).toBe("now set");
  });

  it("uses a value bound in the environment as it is, with no SSM call", async () => {
    vi.stubEnv("SST_Secret_value_SLACK_SIGNING_SECRET", "local-value");
    const secret = await freshSecret();

    expect(await secret("SLACK_SIGNING_SECRET")).toBe("local-value");
    expect(ssm.commandCalls(GetParametersCommand)).toEqual([]);
  });

  it("refuses a secret that is not bound to the function", async () => {
    const secret = await freshSecret();

    await expect(secret("SLACK_BOT_TOKEN")).rejects.toThrow(/SLACK_BOT_TOKEN is not bound/);
  });
});
