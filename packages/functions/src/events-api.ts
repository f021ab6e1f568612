/**
 * `POST /events`: one EventBridge event, or `{ "Entries": [...] }` in either envelope form or
 * PutEvents form (`Source`, `DetailType`, `Detail` as a JSON string). Answers the gate's
 * decision for each: `{ results: [{ eventId, decision, executionId?, reason? }] }`.
 */
import { randomUUID } from "node:crypto";
import { Audit, currentConfig, Gate, Validate, ValidationError } from "@reflex/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { callerOf, refusedSource, stampAccount } from "./lib/event-source.ts";
import { errorResponse, json, parseBody, type Response } from "./lib/http.ts";

/**
 * EventBridge's PutEvents takes at most 10 entries a call, and this endpoint stands in for it:
 * more is refused whole (400, as PutEvents answers ValidationException), never cut silently.
 */
const MAX_ENTRIES = Validate.EVENTBRIDGE_LIMITS.entriesPerCall;

/** A PutEvents entry as the envelope EventBridge would deliver; other shapes pass through for the gate to judge. */
export function toEnvelope(entry: unknown, now = new Date()): unknown {
  const e = entry as Record<string, unknown>;
  if (!e || typeof e !== "object" || !("DetailType" in e || "Source" in e)) return entry;
  let detail: unknown = e.Detail;
  if (typeof detail === "string") {
    try {
      // The same parse as a body's, so a `__proto__` key cannot hide in Detail either.
      detail = Validate.parseJson(detail, "Detail");
    } catch (err) {
      // Not an object, so the gate rejects the entry (a `rejected` decision, audited).
      detail = `(Detail refused: ${(err as Error).message.slice(0, 200)})`;
    }
  }
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": e.DetailType,
    source: e.Source,
    account: process.env.REFLEX_ACCOUNT ?? "000000000000",
    time: timeOf(e.Time, now),
    region: process.env.AWS_REGION ?? "us-east-1",
    resources: e.Resources ?? [],
    detail,
  };
}

/**
 * An entry's `Time` as the envelope's `time`: epoch seconds (as the SDK sends it) or an RFC
 * 3339 instant; absent means now. Anything else is passed on as it is, for the gate to reject.
 */
function timeOf(time: unknown, now: Date): unknown {
  const ms =
    time === undefined || time === null
      ? now.getTime()
      : typeof time === "number"
        ? time * 1000
        : typeof time === "string"
          ? Validate.parseInstant(time)
          : undefined;
  const date = ms === undefined ? undefined : new Date(ms);
  if (!date || Number.isNaN(date.getTime())) return time;
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export async function route(event: APIGatewayProxyEventV2): Promise<Response> {
  try {
    if (event.requestContext.http.method !== "POST") {
      return json(405, { error: { code: "method_not_allowed", message: "use POST /events" } });
    }
    const body = parseBody(event) as { Entries?: unknown };
    const entries = body && typeof body === "object" && "Entries" in body ? body.Entries : [body];
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_ENTRIES) {
      const got = Array.isArray(entries) ? `${entries.length} entries` : "not an array";
      throw new ValidationError(
        "invalid_entries",
        `Entries must be an array of 1 to ${MAX_ENTRIES} events (EventBridge's PutEvents limit); got ${got}`,
        [{ path: "Entries", message: `must hold 1 to ${MAX_ENTRIES} entries` }],
      );
    }
    const config = currentConfig();
    const caller = callerOf(event, config);
    const from = caller.raw ? `${caller.id} (${caller.raw})` : caller.id;
    const results: Gate.Decision[] = [];
    for (const entry of entries) {
      const envelope = stampAccount(toEnvelope(entry)) as { id?: string; source?: unknown };
      const refused = refusedSource(envelope?.source, config);
      await Audit.record({
        kind: "api.event",
        actor: caller.id,
        eventId: envelope?.id === undefined ? undefined : String(envelope.id),
        reason: refused ? `${refused} (from ${from})` : `received from ${from}`,
      });
      if (refused)
        results.push({ eventId: String(envelope?.id ?? ""), decision: "rejected", reason: refused });
      else results.push(...(await Gate.handleEvent(envelope, { config })));
    }
    // An entry still being handled by another delivery: 503 with Retry-After, so a caller
    // that retries on 503 sends the batch again (every entry is idempotent; the others answer
    // `duplicate`). The body still lists each entry's decision.
    const pending = results.filter((r) => r.decision === "in-progress");
    if (pending.length > 0) {
      const after = Math.max(...pending.map((r) => r.retryAfterSeconds ?? 1));
      return json(503, { results }, { "retry-after": String(after) });
    }
    return json(200, { results });
  } catch (err) {
    return errorResponse(err);
  }
}
