/**
 * The console's API in Lambda: API Gateway's JWT authorizer has checked the token and passes its
 * claims; the person is the token's `sub` through `people` (`oidc:` entries), never a header,
 * and a signed-in stranger may do nothing (403 naming them, audited).
 */
import { Audit, useConfig, validateConfig } from "@reflex/core";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { restore } from "../../../examples/runbooks/restore/index.ts";
import { httpApiEvent } from "../../../test/support/api-event.ts";
import { lambdaContext } from "../../local/src/lambda.ts";
import { handler } from "./api.ts";

const event = (method: string, path: string, claims: Record<string, unknown>) =>
  httpApiEvent(method, path, {
    host: "console-api.example.com",
    headers: { "x-reflex-actor": "cli:mallory" },
    authorizer: { jwt: { claims, scopes: [] } },
  });

const call = (e: APIGatewayProxyEventV2) => handler(e, lambdaContext("reflex-test-api") as Context);
const recorded: Audit.AuditEntry[] = [];

beforeEach(() => {
  delete process.env.REFLEX_LOCAL_MODE;
  recorded.length = 0;
  Audit.useTransport({ send: async (e) => void recorded.push(e) });
  useConfig(
    validateConfig({
      environment: "test",
      runbooks: [restore], // holds the drills' reports
      people: [
        { name: "alice", oidc: ["00u-alice"], slack: "UALICE" },
        { name: "bob", oidc: ["00u-bob"] },
      ],
      access: {
        roles: { oncall: ["person:alice"] },
        allow: [{ role: "oncall", runbooks: ["*"], actions: ["run", "dry-run", "approve"] }],
      },
    }),
  );
});
afterEach(() => Audit.useTransport(undefined));

describe("the console's API behind the JWT authorizer", () => {
  it("takes the person from the token's subject through people, not from x-reflex-actor", async () => {
    const res = await call(event("GET", "/api/whoami", { sub: "00u-alice", iss: "https://idp.example.com" }));

    expect(res.statusCode).toBe(200);
    const body = JSON.parse(res.body);
    expect([body.actor, body.person]).toEqual(["oidc:00u-alice", "alice"]);
    expect(body.may.scale).toContain("approve");
  });

  it("refuses a signed-in person the config does not know with a 403 that names them, and audits it", async () => {
    const res = await call(
      event("GET", "/api/executions", { sub: "00u-eve", name: "Eve", email: "eve@example.com" }),
    );

    expect(res.statusCode).toBe(403);
    const error = JSON.parse(res.body).error;
    expect(error.code).toBe("not_a_member");
    expect(error.message).toContain("oidc:00u-eve (Eve, eve@example.com)");
    expect(recorded).toMatchObject([{ kind: "access.refused", actor: "oidc:00u-eve" }]);
  });

  it("refuses a person with no role the drills' reports (restore's): 403 naming why, audited", async () => {
    for (const path of ["/api/drills", "/api/drills/db-1/history"]) {
      recorded.length = 0;
      const res = await call(event("GET", path, { sub: "00u-bob" }));

      expect(res.statusCode, path).toBe(403);
      const error = JSON.parse(res.body).error;
      expect(error.code).toBe("access_denied");
      expect(error.message).toContain("bob may not read");
      expect(recorded).toMatchObject([{ kind: "access.refused", actor: "bob" }]);
    }
  });

  it("answers a caller with no identity at all (no authorizer's claims, outside local mode) 401 on the drills' reports", async () => {
    for (const path of ["/api/drills", "/api/drills/db-1/history"]) {
      const unsigned = event("GET", path, {});
      delete (unsigned.requestContext as { authorizer?: unknown }).authorizer;
      const res = await call(unsigned);

      expect(res.statusCode, path).toBe(401);
      expect(JSON.parse(res.body).error.code).toBe("unauthenticated");
    }
  });

  it("refuses claims without a subject (400) instead of reading them as anyone", async () => {
    const res = await call(event("GET", "/api/whoami", { email: "alice@example.com" }));

    expect([res.statusCode, JSON.parse(res.body).error.code]).toEqual([400, "invalid_caller"]);
  });
});
