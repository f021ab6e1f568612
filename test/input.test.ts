/**
 * Bad input never gets a 5xx and never writes anything (issue 7, items 4–6): each class of
 * malformed request the hostile-SRE fuzzing found, sent to a real local server.
 */
import { Alarms, Gate, tableName, validateConfig } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { alarmEvent } from "./support/events.ts";
import { rawRequest } from "./support/http.ts";
import { api, startTestLocal } from "./support/local.ts";

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal({});
});
afterAll(async () => {
  await local?.stop();
});

const JSON_HEADERS = { "content-type": "application/json" };

async function executionCount(): Promise<number> {
  return (await api(local, "GET", "/api/executions?limit=500")).body.executions.length;
}

/** Sends a request and checks the answer is the given 4xx with a well-formed error body. */
async function expectClientError(
  req: Parameters<typeof rawRequest>[1],
  status: number,
): Promise<{ code: string; message: string; path?: string }> {
  const res = await rawRequest(local.url, req);
  expect({ status: res.status, body: res.json }).toMatchObject({
    status,
    body: { error: { code: expect.any(String), message: expect.any(String) } },
  });
  return res.json.error;
}

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("paths", () => {
  it("answers 400 for malformed percent-encoding in an execution id", async () => {
    const error = await expectClientError({ method: "GET", path: "/api/executions/%E0%A4%A" }, 400);
    expect(error.path).toBe("path");
  });

  it("answers 400 for malformed percent-encoding in a runbook name, and starts nothing", async () => {
    const before = await executionCount();
    await expectClientError(
      { method: "POST", path: "/api/runbooks/%ZZscale/executions", headers: JSON_HEADERS, body: "{}" },
      400,
    );
    expect(await executionCount()).toBe(before);
  });

  it("answers 400 for an execution id longer than any Reflex makes, instead of a DynamoDB key error", async () => {
    const error = await expectClientError(
      { method: "GET", path: `/api/executions/${"x".repeat(3000)}` },
      400,
    );
    expect(error.message).toMatch(/execution id/);
  });

  it("answers 404, not the events route, for a path that only starts like /events", async () => {
    await expectClientError(
      { method: "POST", path: "/events/extra", headers: JSON_HEADERS, body: "{}" },
      404,
    );
  });
});

describe("cursors", () => {
  it("answers 400 for an executions cursor that is not base64 JSON", async () => {
    const error = await expectClientError(
      { method: "GET", path: "/api/executions?cursor=%7B%7Bnot-json" },
      400,
    );
    expect(error.path).toBe("cursor");
  });

  it("answers 400 for an executions cursor that decodes to something other than a page key", async () => {
    await expectClientError({ method: "GET", path: `/api/executions?cursor=${cursorOf({ pk: 5 })}` }, 400);
    await expectClientError({ method: "GET", path: `/api/executions?cursor=${cursorOf([1, 2])}` }, 400);
  });

  it.each([
    ["the table's key without the index's", { pk: "EXEC#x", sk: "META" }],
    ["another index partition", { pk: "EXEC#x", sk: "META", gsi1pk: "OTHER", gsi1sk: "2026#x" }],
    ["a key over DynamoDB's size", { pk: "p".repeat(3000), sk: "META", gsi1pk: "EXECUTIONS", gsi1sk: "x" }],
  ])("answers 4xx, never 5xx, for an executions cursor holding %s", async (_what, key) => {
    const res = await rawRequest(local.url, {
      method: "GET",
      path: `/api/executions?cursor=${cursorOf(key)}`,
    });
    expect(res.status).toBe(400);
  });

  it.each([
    ["index keys", { day: "2026-03-01", key: { pk: "AUDIT#2026-03-01", sk: "x", gsi1pk: "a", gsi1sk: "b" } }],
    ["a key from another day", { day: "2026-03-01", key: { pk: "AUDIT#2026-02-01", sk: "x" } }],
    ["a day that does not exist", { day: "2026-02-30" }],
  ])("answers 400 for an audit cursor with %s", async (_what, cursor) => {
    const res = await rawRequest(local.url, { method: "GET", path: `/api/audit?cursor=${cursorOf(cursor)}` });
    expect(res.status).toBe(400);
  });

  it("answers 400 for an audit cursor that is not base64 JSON", async () => {
    await expectClientError({ method: "GET", path: "/api/audit?cursor=garbage" }, 400);
  });

  it("answers 400 for an audit cursor whose day is not a date", async () => {
    const error = await expectClientError(
      { method: "GET", path: `/api/audit?cursor=${cursorOf({ day: "not-a-day" })}` },
      400,
    );
    expect(error.path).toBe("cursor");
  });
});

describe("bodies", () => {
  it("answers a 5 MB body with 413 and a JSON error instead of resetting the connection", async () => {
    const error = await expectClientError(
      {
        method: "POST",
        path: "/api/runbooks/scale/executions",
        headers: JSON_HEADERS,
        body: `{"params":{"x":"${"a".repeat(5 * 1024 * 1024)}"}}`,
      },
      413,
    );
    expect(error.code).toBe("too_large");
  });

  it("refuses a __proto__ key in params with 400 instead of dropping it and starting a scale", async () => {
    const before = await executionCount();
    const error = await expectClientError(
      {
        method: "POST",
        path: "/api/runbooks/scale/executions",
        headers: JSON_HEADERS,
        body: '{"params":{"autoScalingGroup":"web","change":"+1","__proto__":{"change":"+9"}}}',
      },
      400,
    );
    expect(error.path).toBe("params.__proto__");
    expect(await executionCount()).toBe(before);
  });

  it("refuses constructor and prototype keys anywhere in a body", async () => {
    await expectClientError(
      {
        method: "POST",
        path: "/api/guardrails/pause",
        headers: JSON_HEADERS,
        body: '{"reason":"x","nested":[{"constructor":{"prototype":1}}]}',
      },
      400,
    );
    expect((await api(local, "GET", "/api/guardrails")).body.paused).toBe(false);
  });

  it("refuses a body that is not valid UTF-8 instead of reading it with U+FFFD", async () => {
    const before = await executionCount();
    const error = await expectClientError(
      {
        method: "POST",
        path: "/api/runbooks/scale/executions",
        headers: JSON_HEADERS,
        body: Buffer.concat([
          Buffer.from('{"params":{"autoScalingGroup":"web'),
          Buffer.from([0xff, 0xfe]),
          Buffer.from('","change":"+1"},"dryRun":true}'),
        ]),
      },
      400,
    );
    expect(error.code).toBe("invalid_utf8");
    expect(await executionCount()).toBe(before);
  });

  it("answers 415 for a JSON route sent text/plain, and starts nothing", async () => {
    const before = await executionCount();
    await expectClientError(
      {
        method: "POST",
        path: "/api/runbooks/scale/executions",
        headers: { "content-type": "text/plain" },
        body: '{"params":{"autoScalingGroup":"web","change":"+1"},"dryRun":true}',
      },
      415,
    );
    expect(await executionCount()).toBe(before);
  });

  it("answers 400 for a tag key longer than AWS allows, instead of failing on the lock's key", async () => {
    const before = await executionCount();
    const error = await expectClientError(
      {
        method: "POST",
        path: "/api/runbooks/backup-snapshot/executions",
        headers: JSON_HEADERS,
        body: JSON.stringify({ params: { selector: { tag: { ["k".repeat(3000)]: "v" } } } }),
      },
      400,
    );
    expect(error.path).toMatch(/^params\.selector\.tag/);
    expect(await executionCount()).toBe(before);
  });

  it("answers 400 for a pause reason too long to audit, and stays unpaused", async () => {
    await expectClientError(
      {
        method: "POST",
        path: "/api/guardrails/pause",
        headers: JSON_HEADERS,
        body: JSON.stringify({ reason: "r".repeat(500_000) }),
      },
      400,
    );
    expect((await api(local, "GET", "/api/guardrails")).body.paused).toBe(false);
  });

  it("answers 400 to the Step Functions endpoint for a body that is JSON but not an object", async () => {
    const res = await rawRequest(local.url, {
      method: "POST",
      path: "/",
      headers: {
        "x-amz-target": "AWSStepFunctions.DescribeExecution",
        "content-type": "application/x-amz-json-1.0",
      },
      body: "null",
    });
    expect(res.status).toBe(400);
  });
});

describe("POST /events", () => {
  const post = (body: unknown) =>
    rawRequest(local.url, {
      method: "POST",
      path: "/events",
      headers: JSON_HEADERS,
      body: JSON.stringify(body),
    });

  it("answers 400 for more Entries than EventBridge's PutEvents takes (10)", async () => {
    const entries = Array.from({ length: 11 }, () => alarmEvent("many", "ALARM", new Date()));
    const res = await post({ Entries: entries });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/10/);
  });

  it("rejects an entry over EventBridge's 256 KB entry limit, and still decides the others", async () => {
    const big = alarmEvent("big", "ALARM", new Date());
    (big.detail as Record<string, unknown>).padding = "p".repeat(300 * 1024);
    const small = alarmEvent("small", "ALARM", new Date());
    const res = await post({ Entries: [big, small] });
    expect(res.status).toBe(200);
    expect(res.json.results[0]).toMatchObject({ decision: "rejected", reason: expect.stringMatching(/256/) });
    expect(res.json.results[1].decision).not.toBe("rejected");
  });

  it.each([
    ["an event id", (e: any) => Object.assign(e, { id: "i".repeat(3000) })],
    ["an alarm name", (e: any) => Object.assign(e.detail, { alarmName: "a".repeat(3000) })],
    ["a resource", (e: any) => Object.assign(e, { resources: ["r".repeat(3000)] })],
    ["a state reason", (e: any) => Object.assign(e.detail.state, { reason: "why".repeat(120_000) })],
  ])("rejects an event whose %s is longer than the state store can key or hold", async (_what, spoil) => {
    const event = spoil(alarmEvent("long", "ALARM", new Date()));
    const res = await post(event);
    expect(res.status).toBe(200);
    expect(res.json.results).toEqual([expect.objectContaining({ decision: "rejected" })]);
  });

  it("rejects an alarm event whose state timestamp is not a timestamp, and records no state", async () => {
    const event = alarmEvent("pinned", "ALARM", new Date());
    event.detail.state.timestamp = "not-a-timestamp";
    const res = await post(event);
    expect(res.json.results[0]).toMatchObject({
      decision: "rejected",
      reason: expect.stringMatching(/detail\.state\.timestamp/),
    });
    expect(await Alarms.get("pinned")).toBeUndefined();
  });
});

describe("alarm timestamps", () => {
  it("orders alarm states by instant, not by text, across time-zone offsets", async () => {
    const config = validateConfig({});
    // 10:00+01:00 is 09:00Z: an hour before the OK at 09:30Z, although it sorts after it as text.
    const alarm = alarmEvent("offsets", "ALARM", new Date("2026-03-01T09:00:00Z"));
    alarm.detail.state.timestamp = "2026-03-01T10:00:00.000+01:00";
    const ok = alarmEvent("offsets", "OK", new Date("2026-03-01T09:30:00Z"));
    await Gate.handleEvent(alarm, { config });
    await Gate.handleEvent(ok, { config });
    expect((await Alarms.get("offsets"))?.state).toBe("OK");
  });

  it("lets a valid state replace one recorded with a garbage timestamp before timestamps were checked", async () => {
    // What main accepted: an ALARM whose `since` sorts after every real timestamp as text.
    const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
    const { DynamoDBDocumentClient, PutCommand } = await import("@aws-sdk/lib-dynamodb");
    const doc = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: local.storage.dynamoEndpoint, region: "us-east-1" }),
    );
    await doc.send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          pk: "ALARM#pinned-before",
          sk: "STATE",
          type: "alarm",
          alarmName: "pinned-before",
          state: "ALARM",
          since: "not-a-timestamp",
        },
      }),
    );
    await Gate.handleEvent(alarmEvent("pinned-before", "OK", new Date()), { config: validateConfig({}) });
    expect((await Alarms.get("pinned-before"))?.state).toBe("OK");
  });
});
