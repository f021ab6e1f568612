/**
 * Checks on raw input that every entry point shares: request bodies as JSON, sizes against the
 * limits of the stores behind them (DynamoDB keys and items, EventBridge entries), path
 * segments and timestamps. Each failure is a ValidationError that names the path of the bad
 * value, so a caller gets a 4xx that says what to fix, never a 5xx from a store that refused.
 */
import { z } from "zod";
import { parseDuration } from "./config/duration.ts";
import { must, ValidationError } from "./errors.ts";

/**
 * DynamoDB's limits: a partition key of at most 2048 bytes, a sort key of at most 1024 bytes,
 * an item of at most 400 KB. Keys Reflex builds add a prefix (`EXEC#`, `ALARM#`, `LOCK#…`) to
 * a caller's value, so values that become keys are held well under these.
 */
export const DYNAMODB_LIMITS = { partitionKeyBytes: 2048, sortKeyBytes: 1024, itemBytes: 400 * 1024 };

/** The most bytes one caller-given string may have when it may end up in a key. */
export const MAX_KEY_PART_BYTES = 1024;

/** EventBridge's PutEvents limits: 10 entries per call, each entry under 256 KB. */
export const EVENTBRIDGE_LIMITS = { entriesPerCall: 10, entryBytes: 256 * 1024 };

/** The largest request body the HTTP API reads (the local server and the deployed handlers). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Nesting deeper than this is refused when a body is parsed: DynamoDB stores documents only
 * 32 levels deep, and nothing Reflex takes needs more.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * The form of every execution id: a Step Functions execution name (1-80 characters) from the
 * characters Reflex uses. Ids come from `Runs.newExecutionId` and the gate's `executionName`.
 */
export const EXECUTION_ID = /^[A-Za-z0-9_-]{1,80}$/;

/** UTF-8 byte length of a string. */
export function byteLength(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/**
 * Keys that would reach an object's prototype when copied by assignment. `JSON.parse` makes
 * `__proto__` an own property, but zod's `z.record` (and any `out[key] = value` copy) assigns
 * it, which sets the copy's prototype instead: the key vanishes before a strict schema can
 * see it, and a body that should have been refused is accepted.
 */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Bytes as UTF-8 text; ValidationError `invalid_utf8` when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array, path = "body"): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ValidationError("invalid_utf8", `${path} is not valid UTF-8`, [
      { path, message: "not valid UTF-8" },
    ]);
  }
}

/**
 * Parses JSON that came from outside. Besides malformed JSON it refuses what would be
 * accepted silently and wrongly later: a `__proto__`, `constructor` or `prototype` key at any
 * depth, and nesting deeper than {@link MAX_JSON_DEPTH}.
 *
 * @example
 * const body = parseJson(event.body ?? "{}"); // ValidationError "forbidden_key" at params.__proto__
 */
export function parseJson(text: string, path = "body"): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ValidationError("invalid_json", `${path} is not JSON: ${(err as Error).message}`, [
      { path, message: "not JSON" },
    ]);
  }
  // Walked without recursion: a megabyte of `[` must not overflow the stack.
  const stack: Array<{ value: unknown; at: string[] }> = [{ value, at: [] }];
  while (stack.length > 0) {
    const { value: node, at } = must(stack.pop(), "stack.pop()");
    if (node === null || typeof node !== "object") continue;
    if (at.length >= MAX_JSON_DEPTH) {
      throw new ValidationError(
        "too_deep",
        `${path} is nested more than ${MAX_JSON_DEPTH} levels deep at ${formatAt(at) || "(root)"}`,
        [{ path: formatAt(at) || path, message: `nested more than ${MAX_JSON_DEPTH} levels` }],
      );
    }
    if (Array.isArray(node)) {
      node.forEach((v, i) => {
        stack.push({ value: v, at: [...at, String(i)] });
      });
      continue;
    }
    for (const key of Object.keys(node)) {
      if (FORBIDDEN_KEYS.has(key)) {
        const where = formatAt([...at, key]);
        throw new ValidationError("forbidden_key", `${where}: the key '${key}' is not allowed in input`, [
          { path: where, message: `'${key}' is not allowed` },
        ]);
      }
      stack.push({ value: (node as Record<string, unknown>)[key], at: [...at, key] });
    }
  }
  return value;
}

function formatAt(at: string[]): string {
  return at.join(".");
}

/**
 * Decodes one percent-encoded path segment; ValidationError `invalid_path` for malformed
 * encoding (`%E0%A4%A`, `%ZZ`) instead of the URIError `decodeURIComponent` throws.
 */
export function decodePathSegment(segment: string, what: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ValidationError("invalid_path", `the ${what} in the path is not valid percent-encoding`, [
      { path: "path", message: `malformed percent-encoding in the ${what}` },
    ]);
  }
}

/**
 * The string is at most `maxBytes` bytes of UTF-8; ValidationError `too_long` naming the path
 * otherwise.
 */
export function checkLength(value: string, maxBytes: number, path: string, what = path): void {
  const bytes = byteLength(value);
  if (bytes > maxBytes) {
    throw new ValidationError("too_long", `${what} is ${bytes} bytes; at most ${maxBytes} are allowed`, [
      { path, message: `longer than ${maxBytes} bytes` },
    ]);
  }
}

/**
 * Every string (and object key) in a value is at most `maxStringBytes`, and the value as JSON
 * at most `maxTotalBytes`: the bounds under which it can be stored in one item and any string
 * in it can become part of a key.
 */
export function checkSizes(
  value: unknown,
  path: string,
  limits: { maxStringBytes: number; maxTotalBytes: number },
): void {
  const total = byteLength(JSON.stringify(value) ?? "");
  if (total > limits.maxTotalBytes) {
    throw new ValidationError(
      "too_large",
      `${path} is ${total} bytes as JSON; at most ${limits.maxTotalBytes} are allowed`,
      [{ path, message: `larger than ${limits.maxTotalBytes} bytes` }],
    );
  }
  const stack: Array<{ value: unknown; at: string }> = [{ value, at: path }];
  while (stack.length > 0) {
    const { value: node, at } = must(stack.pop(), "stack.pop()");
    if (typeof node === "string") checkLength(node, limits.maxStringBytes, at);
    else if (Array.isArray(node)) {
      node.forEach((v, i) => {
        stack.push({ value: v, at: `${at}[${i}]` });
      });
    } else if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        checkLength(k, limits.maxStringBytes, `${at}.${k.slice(0, 40)}`, `a key in ${at}`);
        stack.push({ value: v, at: `${at}.${k}` });
      }
    }
  }
}

/**
 * An RFC 3339 instant: date, time, optional fraction, and `Z` or an offset. The offset may be
 * written without its colon (`+0000`), as CloudWatch writes alarm timestamps. `Date.parse`
 * alone is not a check: it reads `"1"` as the year 2001.
 */
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:?\d{2})$/;

/** Milliseconds since the epoch of an RFC 3339 instant; undefined when it is not one. */
export function parseInstant(text: string): number | undefined {
  const m = INSTANT.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  // Reject what Date would roll over (Feb 30 → Mar 2, 24:00, minute 60).
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d || h > 23 || mi > 59 || s > 60) return undefined;
  const offset = m[8].replace(/^([+-]\d{2})(\d{2})$/, "$1:$2").toUpperCase();
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ""}${offset}`);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * A `since` filter: an RFC 3339 instant, or a duration back from `now` (`30m`, `2h`, `7d`).
 * Returns the instant as milliseconds; ValidationError at `path` for anything else.
 *
 * @example
 * parseSince("2h", Date.parse("2026-03-01T12:00:00Z")) // Date.parse("2026-03-01T10:00:00Z")
 */
export function parseSince(text: string, now = Date.now(), path = "since"): number {
  const back = /^\d/.test(text.trim()) && !text.includes("-") ? parseDuration(text) : undefined;
  const at = back !== undefined ? now - back : parseInstant(text);
  if (at === undefined || !Number.isFinite(at) || at < 0) {
    throw new ValidationError(
      "invalid_query",
      `${path} must be an RFC 3339 instant such as 2026-03-01T09:00:00Z or a duration back from now such as 30m, 2h or 7d`,
      [{ path, message: "not an instant or a duration" }],
    );
  }
  return at;
}

/** A zod string that must be an RFC 3339 instant (see {@link parseInstant}). */
export const instant = () =>
  z.string().refine((s) => parseInstant(s) !== undefined, {
    message: "must be an RFC 3339 timestamp such as 2026-03-01T09:00:00Z or 2026-03-01T09:00:00.000+0000",
  });
