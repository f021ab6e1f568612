/**
 * The events the gate understands. Every event must be a valid EventBridge envelope
 * (Powertools' schema); the three kinds Reflex knows well are checked in detail, so a
 * malformed alarm event is rejected with the field that is wrong instead of half-matching.
 */
import { EventBridgeSchema } from "@aws-lambda-powertools/parser/schemas/eventbridge";
import { z } from "zod";
import { formatPath } from "../config/load.ts";
import type { Issue } from "../errors.ts";

export const AlarmStateChangeDetail = z
  .object({
    alarmName: z.string().min(1),
    state: z.object({
      value: z.enum(["OK", "ALARM", "INSUFFICIENT_DATA"]),
      reason: z.string().optional(),
      timestamp: z.string().min(1),
    }),
    previousState: z.object({ value: z.string(), timestamp: z.string().optional() }).loose().optional(),
  })
  .loose();

export const InstanceStateChangeDetail = z
  .object({
    "instance-id": z.string().regex(/^i-[0-9a-f]+$/, "must be an instance id"),
    state: z.enum(["pending", "running", "shutting-down", "terminated", "stopping", "stopped"]),
  })
  .loose();

export const HealthEventDetail = z
  .object({
    service: z.string().min(1),
    eventTypeCode: z.string().min(1),
    eventTypeCategory: z.string().min(1),
  })
  .loose();

/** Known (source, detail-type) pairs and the detail schema each must satisfy. */
const KNOWN: Array<{ source: string; detailType: string; schema: z.ZodType }> = [
  { source: "aws.cloudwatch", detailType: "CloudWatch Alarm State Change", schema: AlarmStateChangeDetail },
  {
    source: "aws.ec2",
    detailType: "EC2 Instance State-change Notification",
    schema: InstanceStateChangeDetail,
  },
  { source: "aws.health", detailType: "AWS Health Event", schema: HealthEventDetail },
];

export type EventEnvelope = z.infer<typeof EventBridgeSchema> & { detail: Record<string, unknown> };

export type ParsedEvent =
  | { ok: true; event: EventEnvelope; kind: "alarm" | "instance" | "health" | "other" }
  | { ok: false; eventId: string; reason: string; issues: Issue[] };

const KINDS = ["alarm", "instance", "health"] as const;

/**
 * Validates one EventBridge event. Never throws: bad input comes back as `{ ok: false }` with
 * the reason and the path of each problem.
 *
 * @example
 * const parsed = parseEvent(JSON.parse(body)); if (!parsed.ok) return reject(parsed.reason);
 */
export function parseEvent(raw: unknown): ParsedEvent {
  const eventId = typeof (raw as { id?: unknown })?.id === "string" ? (raw as { id: string }).id : "(none)";
  const envelope = EventBridgeSchema.safeParse(raw);
  if (!envelope.success) {
    const issues = envelope.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
    return {
      ok: false,
      eventId,
      reason: `not an EventBridge event: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
      issues,
    };
  }
  const event = envelope.data as EventEnvelope;
  if (typeof event.detail !== "object" || event.detail === null || Array.isArray(event.detail)) {
    return {
      ok: false,
      eventId,
      reason: "detail: must be a JSON object",
      issues: [{ path: "detail", message: "must be an object" }],
    };
  }
  const index = KNOWN.findIndex((k) => k.source === event.source && k.detailType === event["detail-type"]);
  if (index === -1) return { ok: true, event, kind: "other" };
  const detail = KNOWN[index].schema.safeParse(event.detail);
  if (!detail.success) {
    const issues = detail.error.issues.map((i) => ({
      path: formatPath(["detail", ...i.path]),
      message: i.message,
    }));
    return {
      ok: false,
      eventId,
      reason: `malformed ${event["detail-type"]}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
      issues,
    };
  }
  return { ok: true, event, kind: KINDS[index] };
}

/**
 * The key of the thing that happened, beyond the event id: one alarm transition (alarm ARN +
 * new state + the state's timestamp) is one happening, even when CloudWatch emits it twice
 * with different event ids. Other events are identified by their id.
 */
export function happeningKey(parsed: Extract<ParsedEvent, { ok: true }>): string | undefined {
  if (parsed.kind !== "alarm") return undefined;
  const detail = parsed.event.detail as z.infer<typeof AlarmStateChangeDetail>;
  const alarm =
    parsed.event.resources[0] ?? `${parsed.event.account}:${parsed.event.region}:${detail.alarmName}`;
  return `alarm:${alarm}:${detail.state.value}:${detail.state.timestamp}`;
}

/**
 * Reads a JSONPath of the simple forms rules use (`$.detail.alarmName`, `$.resources[0]`,
 * `$.detail['instance-id']`). Returns undefined when the event has no such value.
 */
export function readPath(event: unknown, path: string): unknown {
  if (path === "$") return event;
  const tokens = [...path.slice(1).matchAll(/\.([^.[\]]+)|\[(\d+)\]|\[['"]([^'"]+)['"]\]/g)];
  let node: unknown = event;
  for (const [, dotted, index, quoted] of tokens) {
    if (node === null || typeof node !== "object") return undefined;
    node =
      index !== undefined
        ? (node as unknown[])[Number(index)]
        : (node as Record<string, unknown>)[dotted ?? quoted];
  }
  return node;
}
