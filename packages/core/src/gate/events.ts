/**
 * The events the gate understands. Every event must be a valid EventBridge envelope
 * (Powertools' schema); the three kinds Reflex knows well are checked in detail, so a
 * malformed alarm event is rejected with the field that is wrong instead of half-matching.
 */
import { EventBridgeSchema } from "@aws-lambda-powertools/parser/schemas/eventbridge";
import { z } from "zod";
import { formatPath } from "../config/load.ts";
import type { Issue } from "../errors.ts";
import { byteLength, EVENTBRIDGE_LIMITS, instant, MAX_KEY_PART_BYTES, parseInstant } from "../validate.ts";

export const AlarmStateChangeDetail = z
  .object({
    // CloudWatch's own limits: alarm names of 1-255 characters, state reasons of at most 1023.
    alarmName: z.string().min(1).max(255),
    state: z.object({
      value: z.enum(["OK", "ALARM", "INSUFFICIENT_DATA"]),
      reason: z.string().max(1023).optional(),
      // Compared as an instant when the alarm's state is recorded, so it must be one.
      timestamp: instant(),
    }),
    previousState: z.object({ value: z.string(), timestamp: instant().optional() }).loose().optional(),
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
  const eventId = eventIdOf(raw);
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
  const tooBig = checkSizes(event);
  if (tooBig) return { ok: false, eventId, reason: `${tooBig.path}: ${tooBig.message}`, issues: [tooBig] };
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
  const kind = KINDS[index];
  if (kind === "alarm") {
    const issue = alarmProvenance(event);
    if (issue) return { ok: false, eventId, reason: `${issue.path}: ${issue.message}`, issues: [issue] };
  }
  return { ok: true, event, kind };
}

/**
 * Whether an alarm event names its alarm as CloudWatch does: its ARN
 * (`arn:aws:cloudwatch:<region>:<account>:alarm:<name>`) in `resources`, for the event's own
 * account, Region and `detail.alarmName`, and — deployed — that account and Region are the
 * deployment's (`REFLEX_ACCOUNT`, and `REFLEX_REGION` or, in Lambda, `AWS_REGION`). An envelope
 * forged by someone who can invoke the trigger, or one from another account's alarm of the same
 * name, is rejected instead of matching a rule on `detail.alarmName` alone.
 */
function alarmProvenance(event: EventEnvelope): Issue | undefined {
  const name = (event.detail as { alarmName: string }).alarmName;
  const account = process.env.REFLEX_ACCOUNT;
  const region =
    process.env.REFLEX_REGION ?? (process.env.AWS_LAMBDA_FUNCTION_NAME ? process.env.AWS_REGION : undefined);
  if (account && event.account !== account)
    return {
      path: "account",
      message: `an alarm of account ${event.account}, not this deployment's (${account})`,
    };
  if (region && event.region !== region)
    return {
      path: "region",
      message: `an alarm in Region ${event.region}, not this deployment's (${region})`,
    };
  const arn = `:cloudwatch:${event.region}:${event.account}:alarm:${name}`;
  const named = event.resources.some((r) => {
    const at = r.indexOf(":cloudwatch:");
    return at > 0 && /^arn:aws[a-z-]*$/.test(r.slice(0, at)) && r.slice(at) === arn;
  });
  if (!named)
    return {
      path: "resources",
      message: `an alarm event must name its alarm's ARN (arn:aws:cloudwatch:${event.region}:${event.account}:alarm:${name}) in resources`,
    };
  return undefined;
}

/** An event id, as far as it can be reported: ids too long to store are cut (the event is rejected anyway). */
function eventIdOf(raw: unknown): string {
  const id = (raw as { id?: unknown } | null)?.id;
  if (typeof id !== "string") return "(none)";
  return byteLength(id) <= MAX_ID_BYTES ? id : `${id.slice(0, 64)}… (${byteLength(id)} bytes)`;
}

/** Event ids are UUIDs from EventBridge; the dedup key is made of one, so it must fit a key. */
const MAX_ID_BYTES = 256;

/**
 * The size of an event as EventBridge counts a PutEvents entry (Time 14 bytes, then the UTF-8
 * bytes of Source, DetailType, Detail and each Resource), which must stay under 256 KB; and
 * the fields Reflex turns into keys (id, source, resources), which must fit DynamoDB's.
 * An event EventBridge itself would never carry is rejected here rather than by the store.
 */
function checkSizes(event: EventEnvelope): Issue | undefined {
  const entryBytes =
    14 +
    byteLength(event.source) +
    byteLength(event["detail-type"]) +
    byteLength(JSON.stringify(event.detail) ?? "") +
    event.resources.reduce((n, r) => n + byteLength(r), 0);
  if (entryBytes > EVENTBRIDGE_LIMITS.entryBytes) {
    return {
      path: "(event)",
      message: `the event is ${entryBytes} bytes as a PutEvents entry; EventBridge's limit is 256 KB (${EVENTBRIDGE_LIMITS.entryBytes} bytes)`,
    };
  }
  const fields: Array<[string, string, number]> = [
    ["id", event.id, MAX_ID_BYTES],
    ["source", event.source, 256],
    ["detail-type", event["detail-type"], 256],
    ["account", event.account, 64],
    ["region", event.region, 64],
    ...event.resources.map((r, i): [string, string, number] => [`resources[${i}]`, r, MAX_KEY_PART_BYTES]),
  ];
  for (const [path, value, max] of fields) {
    if (byteLength(value) > max)
      return { path, message: `${byteLength(value)} bytes; at most ${max} are allowed` };
  }
  return undefined;
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
  // The instant, not its text: "…T09:00:00.000+0000" and "…T09:00:00Z" are one transition.
  const at = new Date(parseInstant(detail.state.timestamp) ?? Number.NaN);
  return `alarm:${alarm}:${detail.state.value}:${Number.isNaN(at.getTime()) ? detail.state.timestamp : at.toISOString()}`;
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
