/**
 * The JSON API (API Gateway HTTP API, payload v2; behind IAM auth in AWS). The local server
 * turns each request into the same event and calls this handler.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import {
  Audit,
  currentConfig,
  Executions,
  Gate,
  Locks,
  ReflexError,
  Runbooks,
  Runs,
  ValidationError,
} from "@reflex/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { z } from "zod";
import { route as routeEvents } from "./events-api.ts";
import { errorResponse, json, parseBody, type Response } from "./lib/http.ts";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";

loadConfigFromEnv();

const StartBody = z
  .object({ params: z.record(z.string(), z.unknown()).default({}), dryRun: z.boolean().default(false) })
  .strict();

type Route = (m: RegExpMatchArray, event: APIGatewayProxyEventV2) => Promise<Response>;

/** Who is asking: the IAM principal in AWS, the `x-reflex-actor` header locally. */
function actor(event: APIGatewayProxyEventV2): string {
  const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: string } } }).authorizer?.iam
    ?.userArn;
  return iam ?? event.headers?.["x-reflex-actor"] ?? "api";
}

function limitOf(event: APIGatewayProxyEventV2): number | undefined {
  const raw = event.queryStringParameters?.limit;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 500) {
    throw new ValidationError("invalid_query", "limit must be an integer from 1 to 500", [
      { path: "limit", message: "out of range" },
    ]);
  }
  return n;
}

const routes: Array<[string, RegExp, Route]> = [
  [
    "GET",
    /^\/api\/runbooks$/,
    async () =>
      json(200, {
        runbooks: Runbooks.list().map((r) => ({
          name: r.name,
          summary: r.summary,
          risk: r.risk,
          cap: r.cap,
          dryRun: r.dryRun,
          params: r.jsonSchema,
          example: r.example,
        })),
      }),
  ],
  [
    "POST",
    /^\/api\/runbooks\/([^/]+)\/executions$/,
    async (m, event) => {
      const runbook = Runbooks.get(decodeURIComponent(m[1]));
      const body = StartBody.safeParse(parseBody(event));
      if (!body.success) {
        const issue = body.error.issues[0];
        throw new ValidationError(
          "invalid_body",
          `request body: ${issue.path.join(".") || "(root)"}: ${issue.message}`,
          [{ path: issue.path.join(".") || "body", message: issue.message }],
        );
      }
      const execution = await Runs.start({
        runbook: runbook.name,
        params: body.data.params,
        dryRun: body.data.dryRun,
        trigger: { kind: "manual", actor: actor(event) },
      });
      return json(202, { executionId: execution.id, status: execution.status, dryRun: execution.dryRun });
    },
  ],
  [
    "GET",
    /^\/api\/executions$/,
    async (_m, event) =>
      json(
        200,
        await Executions.list({
          limit: limitOf(event),
          cursor: event.queryStringParameters?.cursor,
          runbook: event.queryStringParameters?.runbook,
        }),
      ),
  ],
  [
    "GET",
    /^\/api\/executions\/([^/]+)$/,
    async (m) => json(200, await Executions.describe(decodeURIComponent(m[1]))),
  ],
  [
    "GET",
    /^\/api\/guardrails$/,
    async () => {
      const config = currentConfig();
      const automation = await Gate.Guardrails.automationState();
      const now = new Date();
      return json(200, {
        paused: config.guardrails.paused || automation.paused,
        pausedBy: config.guardrails.paused ? "config" : automation.pausedBy,
        reason: config.guardrails.paused ? "guardrails.paused is true in the config" : automation.reason,
        breaker: {
          ...config.guardrails.breaker,
          recentFailures: automation.failures.filter(
            (t) => t > now.getTime() - config.guardrails.breaker.within,
          ).length,
        },
        freezes: config.freezes.map((f) => ({
          ...f,
          active: Date.parse(f.from) <= now.getTime() && now.getTime() < Date.parse(f.to),
        })),
        maxTargetsPerRun: config.guardrails.maxTargetsPerRun,
        rateLimit: config.guardrails.rateLimit,
      });
    },
  ],
  [
    "POST",
    /^\/api\/guardrails\/pause$/,
    async (_m, event) => {
      const body = parseBody(event) as { reason?: unknown };
      const reason =
        typeof body?.reason === "string" && body.reason.trim() ? body.reason.trim() : "paused by hand";
      await Gate.Guardrails.pause(actor(event), reason);
      return json(200, { paused: true, reason });
    },
  ],
  [
    "POST",
    /^\/api\/guardrails\/resume$/,
    async (_m, event) => {
      await Gate.Guardrails.resume(actor(event));
      return json(200, { paused: false });
    },
  ],
  ["GET", /^\/api\/locks$/, async () => json(200, { locks: await Locks.list() })],
  [
    "GET",
    /^\/api\/audit$/,
    async (_m, event) =>
      json(200, await Audit.list({ limit: limitOf(event), cursor: event.queryStringParameters?.cursor })),
  ],
];

/** Routes one request; exported without middleware for the local server. */
export async function route(event: APIGatewayProxyEventV2): Promise<Response> {
  const method = event.requestContext.http.method.toUpperCase();
  const path = event.rawPath;
  if (path === "/events") return routeEvents(event);
  try {
    let pathMatched = false;
    for (const [verb, pattern, fn] of routes) {
      const m = path.match(pattern);
      if (!m) continue;
      pathMatched = true;
      if (verb === method) return await fn(m, event);
    }
    return pathMatched
      ? json(405, { error: { code: "method_not_allowed", message: `${method} is not allowed on ${path}` } })
      : json(404, { error: { code: "not_found", message: `no route ${method} ${path}` } });
  } catch (err) {
    // The caller's mistakes (bad input, unknown ids, conflicts) are answered, and logged at
    // INFO without a stack; only what Reflex did not expect is an error with its stack.
    if (err instanceof ReflexError && !(err.name === "ReflexError" || err.name === "StepExecutionError"))
      logger.info("request refused", { route: `${method} ${path}`, code: err.code, message: err.message });
    else logger.error("request failed", { route: `${method} ${path}`, error: err as Error });
    return errorResponse(err);
  }
}

export const handler = middy<APIGatewayProxyEventV2, Response>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(route);
