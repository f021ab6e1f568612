/**
 * The JSON API (API Gateway HTTP API, payload v2; behind IAM auth in AWS). The local server
 * turns each request into the same event and calls this handler.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import {
  Admission,
  Approvals,
  Audit,
  currentConfig,
  decodeCursor,
  Executions,
  Gate,
  indexPageKey,
  Locks,
  Pairs,
  ReflexError,
  Runbooks,
  Runs,
  Validate,
  ValidationError,
} from "@reflex/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { z } from "zod";
import { route as routeEvents } from "./events-api.ts";
import { errorResponse, json, parseBody, type Response } from "./lib/http.ts";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";

loadConfigFromEnv();

const reasonText = z.string().trim().min(1).max(1000);
const StartBody = z
  .object({
    params: z.record(z.string(), z.unknown()).default({}),
    dryRun: z.boolean().default(false),
    /** Start during a change freeze: the reason (needs the override-freeze action; always approved by a person). */
    overrideFreeze: reasonText.optional(),
    /** Start while Reflex is paused: the reason (needs the override-pause action). */
    overridePause: reasonText.optional(),
  })
  .strict();
const AnswerBody = z
  .object({ comment: z.string().max(1000).optional(), reason: z.string().max(1000).optional() })
  .strict();
const AbortBody = z.object({ reason: reasonText, now: z.boolean().default(false) }).strict();
const RerunBody = z
  .object({
    dryRun: z.boolean().optional(),
    overrideFreeze: reasonText.optional(),
    overridePause: reasonText.optional(),
  })
  .strict();

/** Parses a JSON body against a schema; ValidationError naming the first bad field. */
function bodyOf<T>(schema: z.ZodType<T>, event: APIGatewayProxyEventV2): T {
  const body = schema.safeParse(parseBody(event));
  if (!body.success) {
    const issue = body.error.issues[0];
    throw new ValidationError(
      "invalid_body",
      `request body: ${issue.path.join(".") || "(root)"}: ${issue.message}`,
      [{ path: issue.path.join(".") || "body", message: issue.message }],
    );
  }
  return body.data;
}

/**
 * Bounds on what a caller puts into params: any one string may end up in a key (a lock, a
 * cooldown), and the whole is stored in the execution record and its audit entry (one item
 * each, 400 KB at most).
 */
const PARAMS_LIMITS = { maxStringBytes: Validate.MAX_KEY_PART_BYTES, maxTotalBytes: 64 * 1024 };
/** An actor or a reason is written into audit entries; a paragraph is plenty. */
const MAX_ACTOR_BYTES = 256;
const MAX_REASON_BYTES = 1024;

type Route = (m: RegExpMatchArray, event: APIGatewayProxyEventV2) => Promise<Response>;

/**
 * Who is asking: the IAM principal in AWS (the API is behind IAM auth, so nobody can claim to
 * be someone else); in local mode the `x-reflex-actor` header (the CLI sends `cli:<user>`, or
 * `--as`), else the local user.
 */
function actor(event: APIGatewayProxyEventV2): string {
  const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: string } } }).authorizer?.iam
    ?.userArn;
  let who = iam;
  if (!who) {
    const claimed = event.headers?.["x-reflex-actor"];
    who = process.env.REFLEX_LOCAL_MODE === "1" ? (claimed ?? "cli:local") : "anonymous";
  }
  Validate.checkLength(who, MAX_ACTOR_BYTES, "x-reflex-actor", "the actor");
  return who;
}

/** An execution id from the path: decoded, and of the form Reflex gives ids (so it can be a key). */
function executionIdOf(segment: string): string {
  const id = Validate.decodePathSegment(segment, "execution id");
  if (!Validate.EXECUTION_ID.test(id)) {
    throw new ValidationError(
      "invalid_execution_id",
      `'${id.slice(0, 100)}${id.length > 100 ? "…" : ""}' is not an execution id: ids are 1-80 of A-Z a-z 0-9 _ -`,
      [{ path: "path", message: "not an execution id" }],
    );
  }
  return id;
}

/** A runbook name from the path, decoded; longer than any name is a 400, an unknown one a 404. */
function runbookNameOf(segment: string): string {
  const name = Validate.decodePathSegment(segment, "runbook name");
  Validate.checkLength(name, 128, "path", "the runbook name");
  return name;
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

/**
 * The executions cursor, checked to be a page key of the executions listing (gsi1 partition
 * `EXECUTIONS`) before it reaches DynamoDB, which refuses any other start key with a 500.
 */
function executionsCursorOf(event: APIGatewayProxyEventV2): string | undefined {
  const cursor = event.queryStringParameters?.cursor;
  decodeCursor(cursor, indexPageKey("EXECUTIONS"));
  return cursor;
}

function runbookFilterOf(event: APIGatewayProxyEventV2): string | undefined {
  const name = event.queryStringParameters?.runbook;
  if (name !== undefined) Validate.checkLength(name, 128, "runbook", "the runbook filter");
  return name;
}

const routes: Array<[string, RegExp, Route]> = [
  // Failover pairs, with who is primary now (the roles the last failover recorded).
  ["GET", /^\/api\/pairs$/, async () => json(200, { pairs: await Pairs.list(currentConfig().pairs) })],
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
    // One runbook with its state machine (ASL), for the console's run graph.
    "GET",
    /^\/api\/runbooks\/([^/]+)$/,
    async (m) => {
      const r = Runbooks.get(decodeURIComponent(m[1]));
      const { name, summary, risk, cap, dryRun, jsonSchema: params, example, stateMachine } = r;
      return json(200, { name, summary, risk, cap, dryRun, params, example, stateMachine });
    },
  ],
  [
    "POST",
    /^\/api\/runbooks\/([^/]+)\/executions$/,
    async (m, event) => {
      const runbook = Runbooks.get(runbookNameOf(m[1]));
      const body = bodyOf(StartBody, event);
      Validate.checkSizes(body.params, "params", PARAMS_LIMITS);
      const admission = await Admission.admit({
        runbook: runbook.name,
        params: body.params,
        dryRun: body.dryRun,
        trigger: { kind: "manual" },
        actor: { id: actor(event) },
        overrideFreeze: body.overrideFreeze,
        overridePause: body.overridePause,
      });
      if (!admission.admitted) throw Admission.refusalError(admission);
      const e = admission.execution;
      return json(202, {
        executionId: e.id,
        status: e.status,
        dryRun: e.dryRun,
        approval: admission.approval.required
          ? { required: true, reasons: admission.approval.reasons, approvers: admission.approval.approvers }
          : { required: false },
      });
    },
  ],
  [
    "GET",
    /^\/api\/approvals$/,
    async (_m, event) =>
      json(200, {
        approvals: await Approvals.pending(
          event.queryStringParameters?.mine ? { actor: { id: actor(event) } } : {},
        ),
      }),
  ],
  [
    "POST",
    /^\/api\/executions\/([^/]+)\/(approve|reject)$/,
    async (m, event) => {
      const body = bodyOf(AnswerBody, event);
      const out = await Approvals.answer({
        executionId: executionIdOf(m[1]),
        actor: { id: actor(event) },
        answer: m[2] === "approve" ? "approve" : "reject",
        comment: body.comment ?? body.reason,
      });
      return json(200, { executionId: executionIdOf(m[1]), ...out });
    },
  ],
  [
    "POST",
    /^\/api\/executions\/([^/]+)\/abort$/,
    async (m, event) => {
      const body = bodyOf(AbortBody, event);
      return json(
        202,
        await Runs.abort({
          executionId: executionIdOf(m[1]),
          actor: { id: actor(event) },
          reason: body.reason,
          now: body.now,
        }),
      );
    },
  ],
  [
    "POST",
    /^\/api\/executions\/([^/]+)\/rerun$/,
    async (m, event) => {
      const body = bodyOf(RerunBody, event);
      const admission = await Admission.rerun({
        executionId: executionIdOf(m[1]),
        actor: { id: actor(event) },
        ...body,
      });
      if (!admission.admitted) throw Admission.refusalError(admission);
      return json(202, {
        executionId: admission.execution.id,
        rerunOf: executionIdOf(m[1]),
        status: admission.execution.status,
      });
    },
  ],
  [
    "GET",
    /^\/api\/whoami$/,
    async (_m, event) =>
      json(
        200,
        Admission.Access.describeActor(
          currentConfig(),
          { id: actor(event) },
          Runbooks.list().map((r) => r.name),
        ),
      ),
  ],
  [
    "GET",
    /^\/api\/executions$/,
    async (_m, event) =>
      json(
        200,
        await Executions.list({
          limit: limitOf(event),
          cursor: executionsCursorOf(event),
          runbook: runbookFilterOf(event),
        }),
      ),
  ],
  [
    "GET",
    /^\/api\/executions\/([^/]+)$/,
    async (m) => json(200, await Executions.describe(executionIdOf(m[1]))),
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
      Validate.checkLength(reason, MAX_REASON_BYTES, "reason", "the reason");
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
