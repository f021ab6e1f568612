/**
 * `POST /events` deployed (in Lambda, behind IAM): a caller can send its own events, never
 * forge AWS's; the audit trail names the IAM caller; events carry the real account.
 */
import { Audit, useConfig, validateConfig } from "@reflex/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { deployedEventsApi, iamPost } from "../../../test/support/events-api.ts";
import { route } from "./events-api.ts";
import { stampAccount } from "./lib/event-source.ts";

const CALLER = "arn:aws:sts::123456789012:assumed-role/ops/alice";

deployedEventsApi({ environment: "test" });
const request = (body: unknown) => iamPost(CALLER, body);

const alarm = {
  version: "0",
  id: "forged-1",
  "detail-type": "CloudWatch Alarm State Change",
  source: "aws.cloudwatch",
  account: "000000000000",
  time: "2026-03-01T12:00:00Z",
  region: "us-east-1",
  // The deployment's account (REFLEX_ACCOUNT): events on this route are stamped with it.
  resources: ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-cpu-high"],
  detail: { alarmName: "web-cpu-high", state: { value: "ALARM", timestamp: "2026-03-01T12:00:00Z" } },
};

describe("POST /events in Lambda", () => {
  it("rejects an aws.* event from an API caller and audits the caller", async () => {
    const res = await route(request(alarm));

    const body = JSON.parse(res.body);
    expect(body.results).toEqual([
      { eventId: "forged-1", decision: "rejected", reason: expect.stringMatching(/AWS's own/) },
    ]);
    const trail = await Audit.list({ limit: 20 });
    expect(trail.entries).toContainEqual(
      expect.objectContaining({
        kind: "api.event",
        actor: "arn:aws:iam::123456789012:role/ops",
        eventId: "forged-1",
        reason: expect.stringContaining(CALLER),
      }),
    );
  });

  it("names a role session by its role in the audit (the session name is the caller's choice), keeping the ARN in the reason", async () => {
    const chosen = "arn:aws:sts::123456789012:assumed-role/ops/the-ceo-approved-this";
    const res = await route({
      ...request({ ...alarm, id: "named-1", source: "custom.app" }),
      requestContext: { http: { method: "POST" }, authorizer: { iam: { userArn: chosen } } },
    } as unknown as APIGatewayProxyEventV2);

    expect(res.statusCode).toBeLessThan(300);
    const entry = (await Audit.list({ limit: 50 })).entries.find(
      (e) => e.eventId === "named-1" && e.kind === "api.event",
    );
    expect(entry).toMatchObject({ kind: "api.event", actor: "arn:aws:iam::123456789012:role/ops" });
    expect(entry?.reason).toContain(chosen);
  });

  it("refuses a caller whose userArn is not an IAM ARN (400), auditing nothing as that caller", async () => {
    for (const userArn of [42, { arn: CALLER }, "person:alice", ""]) {
      const res = await route({
        ...request({ ...alarm, id: "odd-1", source: "custom.app" }),
        requestContext: { http: { method: "POST" }, authorizer: { iam: { userArn } } },
      } as unknown as APIGatewayProxyEventV2);

      expect(res.statusCode, JSON.stringify(userArn)).toBe(400);
      expect(JSON.parse(res.body).error.code).toBe("invalid_caller");
    }
  });

  it("accepts a source the config allows on the route", async () => {
    useConfig(validateConfig({ environment: "test", api: { eventSources: ["aws.cloudwatch"] } }));
    const res = await route(request({ ...alarm, id: "allowed-1" }));
    expect(JSON.parse(res.body).results[0].decision).not.toBe("rejected");
  });

  it("stamps events with the deployment's account, whatever the body says", () => {
    expect(stampAccount(alarm)).toMatchObject({ account: "123456789012" });
  });
});
