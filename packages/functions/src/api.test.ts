/**
 * The API as Lambda runs it: middy, Hono's AWS Lambda adapter and the app, invoked with an API
 * Gateway v2 event. The caller is the IAM principal in the event, never a header.
 */
import { SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { Audit, useConfig, validateConfig } from "@reflex/core";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { httpApiEvent } from "../../../test/support/api-event.ts";
import { lambdaContext } from "../../local/src/lambda.ts";
import { handler } from "./api.ts";

const CALLER = "arn:aws:sts::123456789012:assumed-role/oncall/alice";

const event = (
  method: string,
  path: string,
  opts: { body?: string; headers?: Record<string, string>; iam?: string } = {},
) =>
  httpApiEvent(method, path, {
    headers: opts.headers,
    body: opts.body,
    authorizer: opts.iam ? { iam: { userArn: opts.iam } } : undefined,
  });

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

  it("starts a fan-out over many locations deployed: its item written, then its state machine, named by the parent id (202)", async () => {
    // Deployed, the fan-out is a state machine of its own (a frozen Lambda drives nothing): the
    // API writes the fan-out's item and starts that machine, and answers.
    process.env.REFLEX_STATE_MACHINE_ARN_PREFIX =
      "arn:aws:states:us-east-1:123456789012:stateMachine:reflex-test-";
    useConfig(
      validateConfig({
        environment: "test",
        people: [{ name: "alice", iam: ["arn:aws:iam::123456789012:role/oncall"] }],
        access: { roles: { oncall: ["person:alice"] }, allow: [{ role: "oncall", runbooks: ["*"] }] },
        accounts: [
          { id: "111111111111", name: "prod-a", regions: ["us-east-1", "eu-west-1"], tags: { env: "prod" } },
        ],
      }),
    );
    const dynamo = mockClient(DynamoDBDocumentClient);
    const sfn = mockClient(SFNClient);
    const audited: Audit.AuditEntry[] = [];
    Audit.useTransport({ send: async (e) => void audited.push(e) });
    dynamo.on(PutCommand).resolves({});
    sfn.on(StartExecutionCommand).resolves({ executionArn: "arn", startDate: new Date() });
    try {
      const res = await call(
        event("POST", "/api/runbooks/backup-snapshot/executions", {
          iam: CALLER,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            params: { selector: { tag: { Backup: "daily" } } },
            locations: { accounts: ["tag:env=prod"] },
            locationConcurrency: 2,
          }),
        }),
      );

      expect(res.statusCode, res.body).toBe(202);
      const body = JSON.parse(res.body);
      expect(body.children.map((c: { region: string }) => c.region)).toEqual(["us-east-1", "eu-west-1"]);
      const item = dynamo.commandCalls(PutCommand)[0]?.args[0].input.Item;
      expect([item?.pk, item?.status, item?.concurrency]).toEqual([`FANOUT#${body.parentId}`, "RUNNING", 2]);
      const started = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
      expect(started).toEqual([
        {
          stateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:reflex-test-fan_out",
          name: body.parentId,
          input: JSON.stringify({ children: [0, 1], concurrency: 2, parentId: body.parentId }),
        },
      ]);
      expect(audited.map((e) => e.kind)).toEqual(["locations.started"]);
    } finally {
      dynamo.restore();
      sfn.restore();
      Audit.useTransport(undefined);
      delete process.env.REFLEX_STATE_MACHINE_ARN_PREFIX;
    }
  });

  it("refuses a fan-out to a caller who may not run the runbook: 403, audited with the person, nothing written or started", async () => {
    useConfig(
      validateConfig({
        environment: "test",
        people: [{ name: "bob", iam: ["arn:aws:iam::123456789012:role/viewer"] }],
        access: { roles: { oncall: ["person:alice"] }, allow: [{ role: "oncall", runbooks: ["*"] }] },
        accounts: [{ id: "111111111111", name: "prod-a", regions: ["us-east-1"], tags: { env: "prod" } }],
      }),
    );
    const dynamo = mockClient(DynamoDBDocumentClient);
    const sfn = mockClient(SFNClient);
    const audited: Audit.AuditEntry[] = [];
    Audit.useTransport({ send: async (e) => void audited.push(e) });
    try {
      const res = await call(
        event("POST", "/api/runbooks/backup-snapshot/executions", {
          iam: "arn:aws:sts::123456789012:assumed-role/viewer/bob",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            params: { selector: { tag: { Backup: "daily" } } },
            locations: { accounts: ["*"] },
          }),
        }),
      );

      expect(res.statusCode, res.body).toBe(403);
      expect(dynamo.commandCalls(PutCommand)).toHaveLength(0);
      expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
      // As admit() audits a refused single run: the decision, with the person and the reason.
      expect(audited.map((e) => [e.kind, e.guardrail, e.actor])).toEqual([
        ["start.refused", "access", "arn:aws:iam::123456789012:role/viewer"],
      ]);
    } finally {
      dynamo.restore();
      sfn.restore();
      Audit.useTransport(undefined);
    }
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
