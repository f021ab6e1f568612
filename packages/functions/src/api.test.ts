/**
 * The API as Lambda runs it: middy, Hono's AWS Lambda adapter and the app, invoked with an API
 * Gateway v2 event. The caller is the IAM principal in the event, never a header.
 */
import { useConfig, validateConfig } from "@reflex/core";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { lambdaContext } from "../../local/src/lambda.ts";
import { handler } from "./api.ts";

const CALLER = "arn:aws:sts::123456789012:assumed-role/oncall/alice";

function event(
  method: string,
  path: string,
  opts: { body?: string; headers?: Record<string, string>; iam?: string } = {},
): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: { host: "api.example.com", ...opts.headers },
    requestContext: {
      domainName: "api.example.com",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "10.0.0.1", userAgent: "test" },
      ...(opts.iam ? { authorizer: { iam: { userArn: opts.iam } } } : {}),
    },
    body: opts.body,
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
}

const call = (e: APIGatewayProxyEventV2) => handler(e, lambdaContext("reflex-test-api") as Context);

beforeEach(() => {
  delete process.env.REFLEX_LOCAL_MODE;
  useConfig(validateConfig({ environment: "test" }));
});
afterEach(() => {
  delete process.env.REFLEX_LOCAL_MODE;
});

describe("the API handler in Lambda", () => {
  it("takes the caller from the IAM authorizer, not from x-reflex-actor, as the role and not its session name", async () => {
    const res = await call(
      event("GET", "/api/whoami", { iam: CALLER, headers: { "x-reflex-actor": "cli:mallory" } }),
    );

    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).actor).toBe("arn:aws:iam::123456789012:role/oncall");
  });

  it("refuses a fan-out over many locations (400 naming `locations`): a frozen Lambda could not drive its children", async () => {
    const res = await call(
      event("POST", "/api/runbooks/backup-snapshot/executions", {
        iam: CALLER,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ params: {}, dryRun: true, locations: { accounts: ["*"] } }),
      }),
    );

    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error.path).toBe("locations");
  });

  it("treats an unsigned caller as anonymous outside local mode, whatever the header says", async () => {
    const res = await call(event("GET", "/api/whoami", { headers: { "x-reflex-actor": "cli:mallory" } }));

    expect(JSON.parse(res.body).actor).toBe("anonymous");
  });

  it("answers an unknown route 404 and a known path with another method 405, as JSON", async () => {
    const missing = await call(event("GET", "/api/nope"));
    const wrong = await call(event("DELETE", "/api/runbooks"));

    expect([missing.statusCode, JSON.parse(missing.body).error.code]).toEqual([404, "not_found"]);
    expect([wrong.statusCode, JSON.parse(wrong.body).error.code]).toEqual([405, "method_not_allowed"]);
    expect(wrong.headers?.["content-type"]).toMatch(/^application\/json/);
  });

  it("ignores a body on a GET instead of failing to build the request", async () => {
    const res = await call(
      event("GET", "/api/runbooks", { body: "{}", headers: { "content-type": "application/json" } }),
    );

    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).runbooks.length).toBeGreaterThan(0);
  });

  it("answers a body that is not JSON 415 and a malformed id 400, in the error shape", async () => {
    const media = await call(
      event("POST", "/api/executions/some-run/abort", {
        iam: CALLER,
        body: "x",
        headers: { "content-type": "text/plain" },
      }),
    );
    const id = await call(event("GET", "/api/executions/%E0%A4%A"));

    expect([media.statusCode, JSON.parse(media.body).error.code]).toEqual([415, expect.any(String)]);
    expect(id.statusCode).toBe(400);
    expect(JSON.parse(id.body).error.message).toBeTruthy();
  });
});
