/** The deployed Slack acknowledgement answers another method than POST with 405, before any secret or signature. */
import { describe, expect, it } from "vitest";

process.env.REFLEX_SLACK_WORKER ??= "reflex-test-chatops-worker";
const { handler } = await import("./slack.ts");

const event = (method: string, path: string) =>
  ({
    version: "2.0",
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: "",
    headers: {},
    requestContext: { http: { method, path } },
    body: "",
    isBase64Encoded: false,
  }) as never;

describe("the Slack acknowledgement handler", () => {
  it.each([
    ["PUT", "/slack/commands"],
    ["GET", "/slack/interactions"],
    ["DELETE", "/slack/commands"],
  ])("answers %s %s with 405 and Allow: POST", async (method, path) => {
    const res = (await handler(event(method, path), {} as never)) as {
      statusCode: number;
      headers: Record<string, string>;
      body: string;
    };
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe("POST");
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: "method_not_allowed" } });
  });
});
