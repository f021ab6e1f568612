/**
 * Slack's two routes, `POST /slack/commands` and `POST /slack/interactions` (no IAM: the v0
 * signature is the authentication). This is the acknowledgement path and only that: it
 * verifies, parses, hands the work to the ChatOps worker (an asynchronous invocation) and
 * answers within Slack's 3 seconds. It must not load runbooks, admission or cloud clients:
 * it imports core's chatops/ack, the replay guard (the state table) and one signed request
 * (`@reflex/core/aws-signed`) for each of its three AWS calls, no SDK client (bench/chatops).
 */
import middy from "@middy/core";
import { signedRequest } from "@reflex/core/aws-signed";
import { acknowledge, type Work } from "@reflex/core/chatops/ack";
import { dynamoReplayGuard } from "@reflex/core/chatops/replay";
import { requireEnv } from "@reflex/core/env";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { SecretNotSetError, secret } from "./slack/secrets.ts";

const WORKER = requireEnv("REFLEX_SLACK_WORKER");

/** Lambda's Invoke, asynchronous (`X-Amz-Invocation-Type: Event`): answered 202 once queued. */
async function dispatch(work: Work): Promise<void> {
  await signedRequest("lambda", {
    method: "POST",
    path: `/2015-03-31/functions/${encodeURIComponent(WORKER)}/invocations`,
    headers: { "content-type": "application/json", "x-amz-invocation-type": "Event" },
    body: JSON.stringify(work),
  });
}

/**
 * The stage's signing secret, or undefined when the stage has none: then every request is
 * refused (503), with one error line saying which parameter is missing. Never another stage's.
 */
async function signingSecret(): Promise<string | undefined> {
  try {
    return await secret("SLACK_SIGNING_SECRET");
  } catch (err) {
    if (!(err instanceof SecretNotSetError)) throw err;
    console.error(JSON.stringify({ level: "ERROR", message: err.message, parameter: err.parameter }));
    return undefined;
  }
}

/*
 * In Lambda the secret is read during init (awaited here, at the module's top level): Lambda
 * finishes init before it hands the container its first event, so the first request goes
 * straight to verification instead of first waiting on SSM (bench/chatops: first ack over warm).
 * Nothing is decided here: a failed read is not kept, so each request reads again and is
 * refused while the secret cannot be read.
 */
if (process.env.AWS_LAMBDA_FUNCTION_NAME) await secret("SLACK_SIGNING_SECRET").catch(() => undefined);

export const handler = middy<APIGatewayProxyEventV2>().handler(async (event) => {
  // Slack only POSTs; another method is a 405, as on every other route (before any secret is read).
  const method = event.requestContext?.http?.method ?? "POST";
  if (method !== "POST")
    return {
      statusCode: 405,
      headers: { "content-type": "application/json", allow: "POST" },
      body: JSON.stringify({
        error: {
          code: "method_not_allowed",
          message: `${method} is not allowed on ${event.rawPath}; use POST`,
        },
      }),
    };
  const key = await signingSecret();
  if (key === undefined)
    return {
      statusCode: 503,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        error: { code: "not_configured", message: "Slack is not configured for this stage" },
      }),
    };
  return acknowledge({
    route: event.rawPath.endsWith("/interactions") ? "interactions" : "commands",
    rawBody: Buffer.from(event.body ?? "", event.isBase64Encoded ? "base64" : "utf8").toString("utf8"),
    headers: event.headers ?? {},
    secret: key,
    replay: dynamoReplayGuard,
    dispatch,
  });
});
