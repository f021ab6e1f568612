/**
 * The JSON API (API Gateway HTTP API, payload v2; behind IAM auth in AWS), routed by Hono.
 * `app` holds every route; `handler` is the Lambda entry: middy (Powertools logger) around
 * Hono's AWS Lambda adapter. The local server turns each Node request into the same v2 event
 * and calls `handler`, so local mode runs the adapter and the app exactly as Lambda does.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import {
  ACTIONS,
  AccessDeniedError,
  Accounts,
  type Action,
  Admission,
  Approvals,
  Audit,
  AuditTrail,
  currentConfig,
  decodeCursor,
  Executions,
  History,
  indexPageKey,
  Locations,
  Locks,
  Organization,
  Pairs,
  Policy,
  ReflexError,
  Reports,
  RunbookItems,
  Runbooks,
  Runs,
  UnauthenticatedError,
  Validate,
  ValidationError,
} from "@reflex/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { type Context, Hono } from "hono";
import { etag } from "hono/etag";
import { z } from "zod";
import { route as routeEvents } from "./events-api.ts";
import { iamCaller, type JwtClaims, oidcCaller } from "./lib/event-source.ts";
import { type LambdaBindings, lambdaHandler } from "./lib/hono.ts";
import { errorResponse, json, parseJsonBody, type Response, toFetchResponse } from "./lib/http.ts";
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
    /** Run in a member account (id or name in config `accounts`) and one of its Regions. */
    location: z
      .object({ account: z.string().min(1).max(64), region: z.string().min(1).max(32) })
      .strict()
      .optional(),
    /** Run in many locations: one child run per account and Region the selector names. */
    locations: z
      .object({
        accounts: z.array(z.string().min(1).max(128)).min(1).max(50),
        regions: z.array(z.string().min(1).max(32)).min(1).max(50).optional(),
        excludeAccounts: z.array(z.string().min(1).max(128)).max(50).optional(),
      })
      .strict()
      .optional(),
    locationConcurrency: z.union([z.number().int().min(1).max(1000), z.string().max(8)]).optional(),
    locationMaxErrors: z.union([z.number().int().min(0).max(1000), z.string().max(8)]).optional(),
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

/** Off-hours' targets: an instance id or `asg:<group>` (the runbook's params check the form). */
const offHoursTargets = z.array(z.string().min(1).max(300)).min(1).max(50);
/** `POST /api/offhours/overrides`: keep targets running until a time (or for a while), and why. */
const KeepBody = z
  .object({
    targets: offHoursTargets,
    /** HH:MM in the target's schedule zone, or an ISO instant. */
    until: z.string().min(1).max(40).optional(),
    /** `3h`, `90m`: from now. */
    for: z.string().min(1).max(16).optional(),
    reason: reasonText,
    start: z.boolean().default(false),
    dryRun: z.boolean().default(false),
  })
  .strict();
/** `DELETE /api/offhours/overrides`: cancel the overrides on targets, and why. */
const ReleaseBody = z
  .object({ targets: offHoursTargets, reason: reasonText.optional(), dryRun: z.boolean().default(false) })
  .strict();

type C = Context<LambdaBindings>;

/**
 * `POST /api/runbooks/:name/executions` with `locations`: the selector and limits checked (400
 * naming the field, nothing started), then the fan-out's state machine started, which admits one
 * child per location through `admit()` and waits for each; 202 with the parent id and each
 * child's id and location.
 */
async function startInLocations(c: C, runbook: string, body: z.infer<typeof StartBody>) {
  if (body.location)
    throw new ValidationError("invalid_request", "give `location` or `locations`, not both", [
      { path: "locations", message: "with location" },
    ]);
  // Who acts is checked before anything is planned; each child is admitted again on its own.
  const who = actor(c);
  const action = body.dryRun ? "dry-run" : "run";
  if (!Admission.Access.may(currentConfig(), who, action, runbook)) {
    // Audited as admit() audits a refused start: this refusal is made before any child's admission.
    const why = `${who.id} may not ${action} ${runbook}`;
    await Audit.record({
      kind: "start.refused",
      actor: who.id,
      reason: `${runbook} refused (access) for manual in locations: ${why}`,
      runbook,
      guardrail: "access",
      data: { trigger: { kind: "manual" }, dryRun: body.dryRun },
    });
    throw new AccessDeniedError(why);
  }
  // The OUs' accounts are in the selector's reach only once resolved (a cold start has none yet).
  await Organization.refresh(currentConfig());
  const selector = body.locations ?? { accounts: [] };
  const limits = { locationConcurrency: body.locationConcurrency, locationMaxErrors: body.locationMaxErrors };
  const planned = Locations.plan({ runbook, params: body.params }, selector, limits);
  const req = {
    runbook,
    params: body.params,
    dryRun: body.dryRun,
    trigger: { kind: "manual" as const },
    actor: who,
    overrideFreeze: body.overrideFreeze,
    overridePause: body.overridePause,
  };
  // The fan-out's own state machine starts and waits for the children: this function may be
  // frozen (or this process stopped) as soon as it has answered.
  await Locations.launch(req, planned);
  return ok(
    c,
    {
      executionId: planned.parentId,
      parentId: planned.parentId,
      locationConcurrency: planned.concurrency,
      locationMaxErrors: planned.maxErrors,
      children: planned.children,
    },
    202,
  );
}

/** The request body as JSON, with every check of {@link parseJsonBody} (415, 413, 400). */
async function jsonBody(c: C): Promise<unknown> {
  return parseJsonBody(c.req.header("content-type"), new Uint8Array(await c.req.arrayBuffer()));
}

/** Parses a JSON body against a schema; ValidationError naming the first bad field. */
async function bodyOf<T>(schema: z.ZodType<T>, c: C): Promise<T> {
  const body = schema.safeParse(await jsonBody(c));
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

/**
 * Who is asking, as an identity the caller cannot choose. In AWS the API is behind IAM auth and
 * Hono's Lambda adapter passes the invoking event as `c.env.event`: the authorizer's `userArn`
 * is resolved by `People.identityOf` (an Identity Center user, an IAM user, a role — never a
 * role-session name the caller picked); the ARN as it arrived is kept as `raw`. In local mode the
 * `x-reflex-actor` header (the CLI sends `cli:<user>`, or `--as`), else the local user.
 */
function actor(c: C): Admission.Access.Actor {
  const claims = jwtClaims(c);
  if (claims) return oidcCaller(claims);
  const context = c.env?.event?.requestContext as
    | { authorizer?: { iam?: { userArn?: unknown } } }
    | undefined;
  const iam = context?.authorizer?.iam;
  if (iam) {
    if (typeof iam.userArn === "string")
      Validate.checkLength(iam.userArn, MAX_ACTOR_BYTES, "x-reflex-actor", "the actor");
    return iamCaller(iam.userArn, currentConfig());
  }
  const claimed = c.req.header("x-reflex-actor");
  const who = process.env.REFLEX_LOCAL_MODE === "1" ? (claimed ?? "cli:local") : "anonymous";
  Validate.checkLength(who, MAX_ACTOR_BYTES, "x-reflex-actor", "the actor");
  return { id: who };
}

/**
 * The claims of the console's token, when the request came through the JWT authorizer (the
 * console's API in AWS; `reflex start --sso` locally): the person is the token's `sub`
 * through `people` (`oidc:` entries), and `x-reflex-actor` is never read.
 */
function jwtClaims(c: C): JwtClaims | undefined {
  const context = c.env?.event?.requestContext as
    | { authorizer?: { jwt?: { claims?: JwtClaims } } }
    | undefined;
  const jwt = context?.authorizer?.jwt;
  return jwt ? (jwt.claims ?? {}) : undefined;
}

/**
 * A signed-in person the config does not know may do nothing, reads included: a valid token
 * says who they are, `people` says whether they are one of us. Refused with a 403 that names
 * them (the console's no-access page shows it) and an audit entry.
 */
async function refuseStrangers(c: C): Promise<globalThis.Response | undefined> {
  const claims = jwtClaims(c);
  const who = claims && oidcCaller(claims);
  if (!claims || !who || Admission.People.personOf(currentConfig(), who.id).linked) return undefined;
  const shown = [claims.name, claims.email].filter((v): v is string => typeof v === "string").join(", ");
  const named = `${who.id}${shown ? ` (${shown.slice(0, 200)})` : ""}`;
  const why = `you are signed in as ${named}, who is not among this Reflex's people: ask an admin to add your subject to people (oidc:) in the config`;
  await Audit.record({
    kind: "access.refused",
    actor: who.id,
    reason: `${named} is signed in but not in people: ${c.req.method} ${rawPath(c)} refused`,
    ...(typeof claims.iss === "string" ? { data: { issuer: claims.iss } } : {}),
  });
  return toFetchResponse(json(403, { error: { code: "not_a_member", message: why } }));
}

/**
 * What each route that changes state takes, and where that is checked. `routes.test` (test/
 * route-access.test.ts) walks `app.routes`: a state-changing route missing here fails it, and
 * each one here is called as a person without the action (403, audited) and with it (2xx).
 */
export const ROUTE_ACCESS: Record<string, { action: Action | "gate"; checkedBy: string }> = {
  "ALL /events": {
    action: "gate",
    checkedBy:
      "IAM auth; aws.* sources refused unless api.eventSources lists them (events-api.ts); every start is admitted as its rule",
  },
  "POST /api/runbooks/:name/executions": { action: "run", checkedBy: "Admission.admit (run or dry-run)" },
  "POST /api/executions/:id/approve": { action: "approve", checkedBy: "Approvals.answer" },
  "POST /api/executions/:id/reject": { action: "approve", checkedBy: "Approvals.answer (or the requester)" },
  "POST /api/executions/:id/abort": { action: "abort", checkedBy: "Runs.abort (or whoever started it)" },
  "POST /api/executions/:id/rerun": { action: "run", checkedBy: "Admission.rerun" },
  "POST /api/offhours/overrides": {
    action: "run",
    checkedBy: "Admission.admit (an off-hours run, action keep)",
  },
  "DELETE /api/offhours/overrides": {
    action: "run",
    checkedBy: "Admission.admit (an off-hours run, action release)",
  },
  "POST /api/guardrails/pause": { action: "override-pause", checkedBy: "mayPause, this file" },
  "POST /api/guardrails/resume": { action: "override-pause", checkedBy: "mayPause, this file" },
};

/**
 * Pausing and resuming take `override-pause` on some runbook, as in Slack (`/reflex pause`):
 * resuming also resets the circuit breaker, so it is no less than starting while paused.
 * A refusal is a 403 and an audit entry with the actor and the reason.
 */
async function mayPause(c: C, what: "pause" | "resume"): Promise<Admission.Access.Actor> {
  const who = actor(c);
  const config = currentConfig();
  if (Runbooks.list().some((r) => Admission.Access.may(config, who, "override-pause", r.name))) return who;
  const person = Admission.People.personOf(config, who.id);
  const why = `${person.name} may not ${what} automation (it takes the override-pause action)`;
  await Audit.record({
    kind: "guardrail.refused",
    actor: person.name,
    ...((who.raw ?? who.id) !== person.name ? { identity: who.raw ?? who.id } : {}),
    reason: why,
    guardrail: "pause",
  });
  throw new AccessDeniedError(why);
}

/**
 * `GET /api/accounts?check=true` makes the server assume every member role and read in every
 * location: a reader may list the accounts, only an operator (one who may run some runbook, and
 * so act in the members anyway) may set those calls off. A refusal is a 403, audited.
 */
async function mayCheckAccounts(c: C): Promise<void> {
  const who = actor(c);
  const config = currentConfig();
  if (Runbooks.list().some((r) => Admission.Access.may(config, who, "run", r.name))) return;
  const person = Admission.People.personOf(config, who.id);
  const why = `${person.name} may not check the member accounts (it assumes a role in each; it takes the run action on some runbook)`;
  await Audit.record({
    kind: "access.refused",
    actor: person.name,
    ...((who.raw ?? who.id) !== person.name ? { identity: who.raw ?? who.id } : {}),
    reason: why,
  });
  throw new AccessDeniedError(why);
}

/**
 * Who may read what (every GET route): a runbook's reports that hold what its runs found in the
 * accounts take the reader's access to that runbook here, as a start does; the rest are the
 * team's shared view, open to anyone signed in (a person in `people` with the console's SSO, a
 * principal IAM lets call the API, the local user) — the reason is given with each. A GET route
 * missing here fails `test/route-access.test.ts`.
 */
export const READ_ACCESS: Record<string, { runbook: string } | { open: string }> = {
  // Restore's drill reports: instance and snapshot ids, RTO/RPO, the verification's output.
  // (Their runbook is the one holding the `drills` history: restore.)
  "GET /api/drills": { runbook: "restore" },
  "GET /api/drills/:name/history": { runbook: "restore" },
  "GET /api/pairs": { open: "the config's failover pairs and which side is primary (no run's output)" },
  "GET /api/accounts": {
    open: "the config's member accounts (external ids hidden); ?check=true takes run on some runbook (mayCheckAccounts)",
  },
  "GET /api/runbooks": { open: "the registered runbooks' definitions (code, not data)" },
  "GET /api/runbooks/:name": { open: "one runbook's definition and state machine (code, not data)" },
  "GET /api/runbooks/:name/items": {
    open: "a runbook's own records, as off-hours' overrides: shown to every member in the console and Slack (/reflex offhours)",
  },
  "GET /api/runbooks/:name/reports/:report": {
    open: "a runbook's report over those records (off-hours' estimated savings), as `reflex offhours report`",
  },
  "GET /api/offhours/savings": { open: "off-hours' estimated savings, as above" },
  "GET /api/offhours/overrides": { open: "off-hours' overrides in force, as above" },
  "GET /api/approvals": { open: "runs waiting for a person: any member may be asked to approve" },
  "GET /api/whoami": { open: "the caller's own identities and roles" },
  "GET /api/executions": { open: "the runs list: the team's shared history, as posted to Slack" },
  "GET /api/executions/:id": { open: "one run: the team's shared history, as posted to Slack" },
  "GET /api/guardrails": { open: "pause, breaker, freezes, locks and cooldowns: what stops a start" },
  "GET /api/locks": { open: "locks held: what stops a start" },
  "GET /api/audit": { open: "the audit trail: every member may check who did what" },
  "GET /api/audit/verify": { open: "the sealed trail's check (read only)" },
  "GET /api/audit/keys": { open: "the trail's public keys" },
};

/**
 * A read of one runbook's data takes some action on that runbook in this environment (the
 * reader's access to it, as a start takes `run`): nobody at all (no authorizer's claims, outside
 * local mode) is a 401; a person with no such role a 403 naming why, audited as `access.refused`.
 */
async function mayRead(c: C, runbookOf: () => string): Promise<void> {
  const who = actor(c);
  if (who.id === "anonymous")
    throw new UnauthenticatedError(`${c.req.method} ${rawPath(c)} needs a signed-in caller (SSO or SigV4)`);
  const runbook = runbookOf();
  const config = currentConfig();
  if (ACTIONS.some((a) => Admission.Access.may(config, who, a, runbook))) return;
  const person = Admission.People.personOf(config, who.id);
  const why = `${person.name} may not read ${rawPath(c)}: it takes a role with an action on ${runbook} in ${config.environment}`;
  await Audit.record({
    kind: "access.refused",
    actor: person.name,
    ...((who.raw ?? who.id) !== person.name ? { identity: who.raw ?? who.id } : {}),
    reason: why,
    runbook,
  });
  throw new AccessDeniedError(why);
}

/**
 * Segment `index` of the path as the client sent it (still percent-encoded). Hono matches on a
 * decoded path and decodes parameters leniently (a bad escape passes through as it is); ids
 * are decoded here exactly once, and a bad escape is a 400.
 */
function rawSegment(c: C, index: number): string {
  return new URL(c.req.url).pathname.split("/")[index] ?? "";
}

/** The path as sent, for logs and messages. */
function rawPath(c: C): string {
  return new URL(c.req.url).pathname;
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

/** `execution=<id>`: of the form Reflex gives ids; 400 naming `execution` otherwise. */
function executionFilterOf(id: string): string {
  if (!Validate.EXECUTION_ID.test(id))
    throw new ValidationError("invalid_query", "execution must be an execution id: 1-80 of A-Z a-z 0-9 _ -", [
      { path: "execution", message: "not an execution id" },
    ]);
  return id;
}

/** A runbook name from the path, decoded; longer than any name is a 400, an unknown one a 404. */
function runbookNameOf(segment: string): string {
  const name = Validate.decodePathSegment(segment, "runbook name");
  Validate.checkLength(name, 128, "path", "the runbook name");
  return name;
}

function limitOf(c: C): number | undefined {
  const raw = c.req.query("limit");
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
function executionsCursorOf(c: C): string | undefined {
  const cursor = c.req.query("cursor");
  decodeCursor(cursor, indexPageKey("EXECUTIONS"));
  return cursor;
}

/** A filter that is compared with stored values: bounded, so it can never be a 5xx from the store. */
function textFilterOf(c: C, name: string, maxBytes = 256): string | undefined {
  const value = c.req.query(name);
  if (value !== undefined) Validate.checkLength(value, maxBytes, name, `the ${name} filter`);
  return value;
}

/** A report's query: each parameter once, each at most 256 bytes. */
function reportQueryOf(c: C): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.req.query())) {
    Validate.checkLength(v, 256, k, `the ${k} parameter`);
    out[k] = v;
  }
  return out;
}

/** `status=RUNNING,FAILED`: execution statuses, any case; an unknown one is a 400 naming `status`. */
function statusFilterOf(c: C): Executions.ExecutionStatus[] | undefined {
  const raw = c.req.query("status");
  if (raw === undefined) return undefined;
  const wanted = raw
    .split(",")
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  const unknown = wanted.filter((s) => !Executions.STATUSES.includes(s as Executions.ExecutionStatus));
  if (wanted.length === 0 || unknown.length > 0) {
    throw new ValidationError(
      "invalid_query",
      `status must be one or more of ${Executions.STATUSES.join(", ")} (comma-separated); got '${(unknown[0] ?? raw).slice(0, 60)}'`,
      [{ path: "status", message: "not an execution status" }],
    );
  }
  return [...new Set(wanted)] as Executions.ExecutionStatus[];
}

/** `since=<RFC 3339 instant | duration back from now>`; 400 naming `since` otherwise. */
function sinceOf(c: C): number | undefined {
  const raw = c.req.query("since");
  return raw === undefined ? undefined : Validate.parseSince(raw);
}

/**
 * `from=` and `to=` (a date `2026-12-01` or an RFC 3339 instant): a period [from, to), the
 * first of this month (UTC) and now by default when only one is given; undefined when neither
 * is; a 400 naming the field for a bad one or an empty period.
 */
function periodOf(c: C): { from: string; to: string } | undefined {
  const raw = { from: c.req.query("from"), to: c.req.query("to") };
  if (raw.from === undefined && raw.to === undefined) return undefined;
  const when = (name: "from" | "to") => {
    const v = raw[name];
    if (v === undefined) return undefined;
    const m = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.exec(v);
    // Date.parse rolls a day the month lacks into the next (2026-02-31 is March 3): refused here.
    const day = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
    const real = day && day.getUTCMonth() === Number(m?.[2]) - 1 && day.getUTCDate() === Number(m?.[3]);
    const t = real ? Date.parse(v) : NaN;
    if (Number.isNaN(t))
      throw new ValidationError(
        "invalid_query",
        `${name} must be a date (2026-12-01) or an RFC 3339 instant; got '${v.slice(0, 60)}'`,
        [{ path: name, message: "not a date" }],
      );
    return t;
  };
  const now = new Date();
  const from = when("from") ?? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const to = when("to") ?? now.getTime();
  // The field the caller gave is at fault: a from in the future with no to is an empty period to now.
  if (from >= to)
    throw new ValidationError(
      "invalid_query",
      raw.to === undefined ? "from must be before now (to defaults to now)" : "to must be after from",
      [{ path: raw.to === undefined ? "from" : "to", message: "the period is empty" }],
    );
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

type Handler = (c: C) => Promise<globalThis.Response>;

/** What a start answers (202): the run's id and status, and whether it waits for a person. */
function startedBody(admission: Extract<Admission.Admission, { admitted: true }>) {
  const e = admission.execution;
  return {
    executionId: e.id,
    status: e.status,
    dryRun: e.dryRun,
    approval: admission.approval.required
      ? { required: true, reasons: admission.approval.reasons, approvers: admission.approval.approvers }
      : { required: false },
  };
}

/** Admits an off-hours run as the caller (access checked and audited there); 202 with the run. */
async function admitOffHours(c: C, params: Record<string, unknown>, dryRun: boolean) {
  const admission = await Admission.admit({
    runbook: "off-hours",
    params,
    dryRun,
    trigger: { kind: "manual" },
    actor: actor(c),
  });
  if (!admission.admitted) throw Admission.refusalError(admission);
  return ok(c, startedBody(admission), 202);
}

const ok = (c: C, body: unknown, status: 200 | 202 = 200) => c.json(body as object, status);

/** Every route of the JSON API: [method, Hono path, handler]. */
const routes: Array<[string, string, Handler]> = [
  // Failover pairs, with who is primary now (the roles the last failover recorded).
  ["GET", "/api/pairs", async (c) => ok(c, { pairs: await Pairs.list(currentConfig().pairs) })],
  // Recovery drills (restore's `drills:`): each drill's last run, trend and met/missed counts.
  // `?from=&to=` adds the compliance summary over that period (runs met, missed, failed; per drill and overall).
  [
    "GET",
    "/api/drills",
    async (c) => {
      await mayRead(c, () => History.holderOf("drills").name);
      const period = periodOf(c);
      const drills = (await History.list("drills")).entries;
      return ok(c, period ? { drills, summary: await History.summary("drills", period) } : { drills });
    },
  ],
  [
    "GET",
    "/api/drills/:name/history",
    async (c) => {
      await mayRead(c, () => History.holderOf("drills").name);
      const name = Validate.decodePathSegment(rawSegment(c, 3), "drill name");
      Validate.checkLength(name, 128, "path", "the drill name");
      return ok(c, await History.of("drills", name));
    },
  ],
  // Member accounts; `?check=true` assumes each role and makes one read call per Region.
  [
    "GET",
    "/api/accounts",
    async (c) => {
      // Config `organization`: the OUs' accounts too, each saying where it came from.
      await Organization.refresh(currentConfig());
      // The external id guards each member's trust policy: said to be set, never shown.
      const accounts = currentConfig().accounts.map((a) => ({
        ...a,
        ...(a.externalId ? { externalId: "(set)" } : {}),
        source: Organization.sourceOf(a.id),
      }));
      const issues = Organization.issues();
      if (c.req.query("check") !== "true") return ok(c, { accounts, ...(issues.length ? { issues } : {}) });
      await mayCheckAccounts(c);
      // A call every runbook's member role allows (the member template grants it).
      const { EC2Client, DescribeInstancesCommand } = await import("@aws-sdk/client-ec2");
      const checks = await Accounts.checkAccounts(currentConfig().accounts, (clients) =>
        clients.client(EC2Client, "ec2").send(new DescribeInstancesCommand({ MaxResults: 5 })),
      );
      return ok(c, { accounts, checks });
    },
  ],
  [
    "GET",
    "/api/runbooks",
    async (c) =>
      ok(c, {
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
    "/api/runbooks/:name",
    async (c) => {
      const r = Runbooks.get(runbookNameOf(rawSegment(c, 3)));
      const { name, summary, risk, cap, dryRun, jsonSchema: params, example, stateMachine } = r;
      return ok(c, { name, summary, risk, cap, dryRun, params, example, stateMachine });
    },
  ],
  [
    // A runbook's own records (off-hours' overrides, what it stopped), expired ones left out.
    "GET",
    "/api/runbooks/:name/items",
    async (c) => {
      const r = Runbooks.get(runbookNameOf(rawSegment(c, 3)));
      return ok(c, { items: await RunbookItems.list(r.name, textFilterOf(c, "prefix", 128) ?? "") });
    },
  ],
  [
    // A runbook's read-only report over its own records (off-hours' savings), query as strings.
    "GET",
    "/api/runbooks/:name/reports/:report",
    async (c) => {
      const name = runbookNameOf(rawSegment(c, 3));
      const report = Validate.decodePathSegment(rawSegment(c, 5), "report name");
      return ok(c, await Reports.run(name, report, reportQueryOf(c)));
    },
  ],
  [
    // Off-hours' savings (estimated, from the price table), as `reflex offhours report` shows them.
    "GET",
    "/api/offhours/savings",
    async (c) => ok(c, await Reports.run("off-hours", "savings", reportQueryOf(c))),
  ],
  // Off-hours' overrides in force (expired ones are gone), each with who set it, why and its end.
  [
    "GET",
    "/api/offhours/overrides",
    async (c) => {
      Runbooks.get("off-hours"); // 404 naming the known runbooks when the config does not list it
      const items = await RunbookItems.list("off-hours", "override#");
      return ok(c, { overrides: items.map((i) => i.value) });
    },
  ],
  // Keep targets running until a time: an off-hours run (action keep) through admit(), so the
  // caller's access is checked and the override is audited with who and why; it expires by itself.
  [
    "POST",
    "/api/offhours/overrides",
    async (c) => {
      Runbooks.get("off-hours");
      const body = await bodyOf(KeepBody, c);
      const { dryRun, ...keep } = body;
      return admitOffHours(c, { action: "keep", ...keep }, dryRun);
    },
  ],
  // Cancel overrides (the schedule acts again at the next tick): an off-hours run, action release.
  [
    "DELETE",
    "/api/offhours/overrides",
    async (c) => {
      Runbooks.get("off-hours");
      const { dryRun, ...release } = await bodyOf(ReleaseBody, c);
      return admitOffHours(c, { action: "release", ...release }, dryRun);
    },
  ],
  [
    "POST",
    "/api/runbooks/:name/executions",
    async (c) => {
      const runbook = Runbooks.get(runbookNameOf(rawSegment(c, 3)));
      const body = await bodyOf(StartBody, c);
      Validate.checkSizes(body.params, "params", PARAMS_LIMITS);
      if (body.locations) return startInLocations(c, runbook.name, body);
      if (body.locationConcurrency !== undefined || body.locationMaxErrors !== undefined)
        throw new ValidationError("invalid_request", "location limits need `locations`", [
          {
            path: body.locationConcurrency !== undefined ? "locationConcurrency" : "locationMaxErrors",
            message: "without locations",
          },
        ]);
      const admission = await Admission.admit({
        runbook: runbook.name,
        params: body.params,
        dryRun: body.dryRun,
        trigger: { kind: "manual" },
        actor: actor(c),
        overrideFreeze: body.overrideFreeze,
        overridePause: body.overridePause,
        ...(body.location ? { location: body.location } : {}),
      });
      if (!admission.admitted) throw Admission.refusalError(admission);
      return ok(c, startedBody(admission), 202);
    },
  ],
  [
    "GET",
    "/api/approvals",
    async (c) =>
      ok(c, { approvals: await Approvals.pending(c.req.query("mine") ? { actor: actor(c) } : {}) }),
  ],
  ...(["approve", "reject"] as const).map((answer): [string, string, Handler] => [
    "POST",
    `/api/executions/:id/${answer}`,
    async (c) => {
      const executionId = executionIdOf(rawSegment(c, 3));
      const body = await bodyOf(AnswerBody, c);
      const out = await Approvals.answer({
        executionId,
        actor: actor(c),
        answer,
        comment: body.comment ?? body.reason,
      });
      return ok(c, { executionId, ...out });
    },
  ]),
  [
    "POST",
    "/api/executions/:id/abort",
    async (c) => {
      const executionId = executionIdOf(rawSegment(c, 3));
      const body = await bodyOf(AbortBody, c);
      return ok(
        c,
        await Runs.abort({ executionId, actor: actor(c), reason: body.reason, now: body.now }),
        202,
      );
    },
  ],
  [
    "POST",
    "/api/executions/:id/rerun",
    async (c) => {
      const executionId = executionIdOf(rawSegment(c, 3));
      const body = await bodyOf(RerunBody, c);
      const admission = await Admission.rerun({ executionId, actor: actor(c), ...body });
      if (!admission.admitted) throw Admission.refusalError(admission);
      return ok(
        c,
        { executionId: admission.execution.id, rerunOf: executionId, status: admission.execution.status },
        202,
      );
    },
  ],
  [
    "GET",
    "/api/whoami",
    async (c) =>
      ok(
        c,
        Admission.Access.describeActor(
          currentConfig(),
          actor(c),
          Runbooks.list().map((r) => r.name),
        ),
      ),
  ],
  [
    "GET",
    "/api/executions",
    async (c) => {
      const page = await Executions.list({
        limit: limitOf(c),
        cursor: executionsCursorOf(c),
        runbook: textFilterOf(c, "runbook", 128),
        status: statusFilterOf(c),
        since: sinceOf(c),
      });
      return ok(c, {
        ...page,
        executions: page.executions.map((e) => ({ ...e, outcome: Runbooks.outcomeOf(e) })),
      });
    },
  ],
  [
    "GET",
    "/api/executions/:id",
    async (c) => {
      const e = await Executions.describe(executionIdOf(rawSegment(c, 3)));
      // `outcome`: the run's results in the one result shape, which every view renders.
      // `stateMachine`: its runbook's, so a run page needs this one request (absent when the
      // runbook is no longer registered); `reruns` (from describe): the runs that repeated it.
      const stateMachine = Runbooks.has(e.runbook) ? Runbooks.get(e.runbook).stateMachine : undefined;
      return ok(c, { ...e, outcome: Runbooks.outcomeOf(e), ...(stateMachine ? { stateMachine } : {}) });
    },
  ],
  ["GET", "/api/guardrails", async (c) => ok(c, await Policy.Guardrails.describe(currentConfig()))],
  [
    "POST",
    "/api/guardrails/pause",
    async (c) => {
      const who = await mayPause(c, "pause");
      const body = (await jsonBody(c)) as { reason?: unknown };
      const reason =
        typeof body?.reason === "string" && body.reason.trim() ? body.reason.trim() : "paused by hand";
      Validate.checkLength(reason, MAX_REASON_BYTES, "reason", "the reason");
      await Policy.Guardrails.pause(who.id, reason);
      return ok(c, { paused: true, reason });
    },
  ],
  [
    "POST",
    "/api/guardrails/resume",
    async (c) => {
      await Policy.Guardrails.resume((await mayPause(c, "resume")).id);
      return ok(c, { paused: false });
    },
  ],
  ["GET", "/api/locks", async (c) => ok(c, { locks: await Locks.list() })],
  [
    "GET",
    "/api/audit",
    async (c) => {
      const execution = c.req.query("execution");
      return ok(
        c,
        await Audit.list({
          limit: limitOf(c),
          cursor: c.req.query("cursor"),
          execution: execution === undefined ? undefined : executionFilterOf(execution),
          actor: textFilterOf(c, "actor"),
          kind: textFilterOf(c, "kind", 128),
          since: sinceOf(c),
        }),
      );
    },
  ],
  // The sealed trail checked against its signed digests (docs/security.md): read only.
  [
    "GET",
    "/api/audit/verify",
    async (c) =>
      ok(
        c,
        await AuditTrail.verifyTrail({
          source: c.req.query("source"),
          from: c.req.query("from"),
          to: c.req.query("to"),
        }),
      ),
  ],
  ["GET", "/api/audit/keys", async (c) => ok(c, { keys: await AuditTrail.keys() })],
];

/** The Lambda event behind this request (Hono's AWS Lambda adapter passes it as `c.env.event`). */
function eventOf(c: C): APIGatewayProxyEventV2 {
  const event = c.env?.event;
  if (!event) throw new Error("POST /events needs the API Gateway event: call the app through `handler`");
  return event;
}

export const app = new Hono<LambdaBindings>();
// The console polls a run and the runs list every 1.5 s: an answer that has not changed since
// the ETag it holds is a 304 with no body (the digest of the answer, so nothing is stored).
for (const path of ["/api/executions", "/api/executions/:id"]) app.use(path, etag());
// The event gate over HTTP answers every method itself (405 with how to call it).
app.all("/events", async (c) => toFetchResponse(await routeEvents(eventOf(c))));
// Each route behind the stranger check (one handler per route, so app.routes lists the routes alone).
for (const [method, path, fn] of routes)
  app.on(method, path, async (c) => (await refuseStrangers(c)) ?? fn(c));
// A known path asked with another method: 405 (Hono runs routes in the order they were added).
for (const path of new Set(routes.map(([, p]) => p)))
  app.all(path, (c) =>
    toFetchResponse(
      json(405, {
        error: { code: "method_not_allowed", message: `${c.req.method} is not allowed on ${rawPath(c)}` },
      }),
    ),
  );
app.notFound((c) =>
  toFetchResponse(
    json(404, { error: { code: "not_found", message: `no route ${c.req.method} ${rawPath(c)}` } }),
  ),
);
app.onError((err, c) => {
  const route = `${c.req.method} ${rawPath(c)}`;
  // The caller's mistakes (bad input, unknown ids, conflicts) are answered, and logged at
  // INFO without a stack; only what Reflex did not expect is an error with its stack.
  if (err instanceof ReflexError && !(err.name === "ReflexError" || err.name === "StepExecutionError"))
    logger.info("request refused", { route, code: err.code, message: err.message });
  else logger.error("request failed", { route, error: err as Error });
  return toFetchResponse(errorResponse(err));
});

export const handler = middy<APIGatewayProxyEventV2, Response>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(lambdaHandler(app));
