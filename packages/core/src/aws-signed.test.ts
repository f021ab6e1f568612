/**
 * The Slack acknowledgement's own signed requests: signed so that AWS, checking what arrives,
 * gets the same signature; sent where the factory says (endpoint, credentials, guard); AWS's
 * errors named as the SDK names them; retried as the SDK retries.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type AwsStub, awsError, defaultAnswer, startAwsStub } from "../../../test/support/aws-stub.ts";
import { configure, EndpointRefusedError } from "./aws.ts";
import { awsJson, signedRequest } from "./aws-signed.ts";

let stub: AwsStub;
beforeAll(async () => {
  stub = await startAwsStub({ secrets: { local: "local", AKIDROLE: "role-secret" } });
});
afterAll(async () => {
  configure({});
  await stub.close();
});
afterEach(() => {
  stub.calls.length = 0;
  stub.answer = defaultAnswer;
  vi.unstubAllEnvs();
  configure({});
});
const toStub = () => configure({ endpoints: { ssm: stub.url, dynamodb: stub.url, lambda: stub.url } });

describe("a signed AWS request", () => {
  it("carries a SigV4 signature that verifies against the request as received, session token included", async () => {
    vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDROLE");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "role-secret");
    vi.stubEnv("AWS_SESSION_TOKEN", "session-token-of-the-execution-role");
    toStub();
    stub.answer = () => ({ body: { Parameter: { Value: "v" } } });

    const out = await awsJson(
      "ssm",
      "AmazonSSM.GetParameter",
      { Name: "/a/b", WithDecryption: true },
      "eu-west-1",
    );

    expect(out).toEqual({ Parameter: { Value: "v" } });
    expect(stub.calls).toHaveLength(1);
    const [call] = stub.calls;
    expect(call).toMatchObject({ service: "ssm", region: "eu-west-1", operation: "GetParameter" });
    expect(call.input).toEqual({ Name: "/a/b", WithDecryption: true });
    expect(call.headers["content-type"]).toBe("application/x-amz-json-1.1");
    expect(call.headers["x-amz-security-token"]).toBe("session-token-of-the-execution-role");
  });

  it("is refused by a server that checks signatures when it is signed with another secret", async () => {
    vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDROLE");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "not-the-role-secret");
    toStub();

    await expect(awsJson("dynamodb", "DynamoDB_20120810.PutItem", {})).rejects.toMatchObject({
      name: "InvalidSignatureException",
      $metadata: { httpStatusCode: 403 },
    });
    expect(stub.calls).toHaveLength(0);
  });

  it("signs a Lambda function name with characters to escape as AWS reads the path", async () => {
    toStub();
    const res = await signedRequest("lambda", {
      method: "POST",
      path: `/2015-03-31/functions/${encodeURIComponent("arn:aws:lambda:us-east-1:123456789012:function:w")}/invocations`,
      headers: { "x-amz-invocation-type": "Event" },
      body: JSON.stringify({ kind: "command" }),
    });
    expect(res.status).toBe(202);
    expect(stub.calls.map((c) => [c.service, c.operation])).toEqual([["lambda", "Invoke"]]);
  });

  it("names AWS's error by its code, as the SDK does, and does not retry a client error", async () => {
    toStub();
    stub.answer = () => awsError(400, "ConditionalCheckFailedException", "The conditional request failed");

    const err = await awsJson("dynamodb", "DynamoDB_20120810.PutItem", {}).catch((e) => e);

    expect(err).toMatchObject({
      name: "ConditionalCheckFailedException",
      message: "The conditional request failed",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
    });
    expect(stub.calls).toHaveLength(1);
  });

  it("retries throttling and 5xx answers, then answers what the next attempt got", async () => {
    toStub();
    const answers = [
      awsError(400, "ThrottlingException"),
      awsError(503, "ServiceUnavailable"),
      { body: { ok: 1 } },
    ];
    stub.answer = () => answers.shift()!;

    expect(await awsJson("ssm", "AmazonSSM.GetParameter", { Name: "/x" })).toEqual({ ok: 1 });
    expect(stub.calls).toHaveLength(3);
  });

  it("gives up after four attempts with the last error", async () => {
    toStub();
    stub.answer = () => awsError(500, "InternalServerError");

    await expect(awsJson("ssm", "AmazonSSM.GetParameter", { Name: "/x" })).rejects.toMatchObject({
      name: "InternalServerError",
      $fault: "server",
    });
    expect(stub.calls).toHaveLength(4);
  });

  it("sends nothing where the factory's guard refuses the host", async () => {
    configure({
      endpoints: { dynamodb: stub.url },
      guard: (service, host) => `${service} may not reach ${host} here`,
    });

    const err = await awsJson("dynamodb", "DynamoDB_20120810.PutItem", {}).catch((e) => e);

    expect(err).toBeInstanceOf(EndpointRefusedError);
    expect(err.message).toContain("dynamodb may not reach 127.0.0.1 here");
    expect(stub.calls).toHaveLength(0);
  });

  it("goes to AWS's own regional endpoint when none is configured, and the guard sees that host", async () => {
    const hosts: string[] = [];
    configure({
      guard: (_s, host) => {
        hosts.push(host);
        return "not in a test";
      },
    });

    await expect(awsJson("ssm", "AmazonSSM.GetParameter", {}, "eu-central-1")).rejects.toThrow(
      /not in a test/,
    );
    await expect(awsJson("dynamodb", "DynamoDB_20120810.PutItem", {}, "cn-north-1")).rejects.toThrow();

    expect(hosts).toEqual(["ssm.eu-central-1.amazonaws.com", "dynamodb.cn-north-1.amazonaws.com.cn"]);
  });

  it("fails with the name of the missing variable when there are no credentials", async () => {
    toStub();
    vi.stubEnv("AWS_ACCESS_KEY_ID", "");

    await expect(awsJson("ssm", "AmazonSSM.GetParameter", {})).rejects.toThrow(/AWS_ACCESS_KEY_ID/);
    expect(stub.calls).toHaveLength(0);
  });
});

describe("a signed request to an https endpoint", () => {
  it("goes over TLS (node:https, loaded on first use) and reads the answer", async () => {
    // A self-signed certificate for 127.0.0.1, made for this test; the client is told to accept it.
    const dir = mkdtempSync(join(tmpdir(), "reflex-tls-"));
    const made = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"].concat([
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ]),
      { encoding: "utf8" },
    );
    expect(made.status, made.stderr).toBe(0);
    const seen: Array<{ target?: string; authorization?: string }> = [];
    const server = createServer(
      { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) },
      (req, res) => {
        seen.push({
          target: String(req.headers["x-amz-target"]),
          authorization: String(req.headers.authorization),
        });
        req.resume();
        req.on("end", () => {
          res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
          res.end(JSON.stringify({ Parameter: { Value: "over-tls" } }));
        });
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      vi.stubEnv("NODE_TLS_REJECT_UNAUTHORIZED", "0");
      configure({ endpoints: { ssm: `https://127.0.0.1:${(server.address() as AddressInfo).port}` } });

      const out = await awsJson("ssm", "AmazonSSM.GetParameter", { Name: "/a/b" });

      expect(out).toEqual({ Parameter: { Value: "over-tls" } });
      expect(seen).toEqual([
        { target: "AmazonSSM.GetParameter", authorization: expect.stringMatching(/^AWS4-HMAC-SHA256 /) },
      ]);
    } finally {
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
