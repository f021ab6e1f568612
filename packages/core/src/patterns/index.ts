/**
 * The EventBridge event-pattern language: validating patterns and matching events against them,
 * locally, with the semantics of the EventBridge user guide. Reflex rules trigger runbooks with
 * these patterns, so local mode and tests must decide exactly as EventBridge would in the cloud.
 */
import { ValidationError } from "../errors.ts";
import { compileEventPattern, type EventMatcher } from "./compile.ts";

export type { EventMatcher } from "./compile.ts";

/**
 * Checks that a pattern is valid in the EventBridge pattern language.
 * Throws PatternError naming the problem and its path (e.g. `detail.state[0]`).
 *
 * @example
 * validatePattern({ source: ["aws.ec2"], detail: { state: ["terminated"] } }); // ok
 * validatePattern({ detail: { state: "terminated" } });
 * // PatternError: a field's value must be an array of values to match or a nested object… (path "detail.state")
 */
export function validatePattern(pattern: unknown): void {
  compileEventPattern(pattern);
}

/**
 * Validates a pattern once and returns a matcher for it. All parsing happens here, so the matcher
 * is cheap enough for the event hot path: compile per rule, then call per event.
 * Events that are not JSON objects never match.
 *
 * @example
 * const isTermination = compilePattern({ source: ["aws.ec2"], detail: { state: ["terminated"] } });
 * isTermination({ source: "aws.ec2", detail: { state: "terminated" } }); // true
 * isTermination({ source: "aws.ec2", detail: { state: "running" } }); // false
 */
export function compilePattern(pattern: unknown): EventMatcher {
  return compileEventPattern(pattern);
}

/**
 * Does the event match the pattern? Compiles the pattern on every call; for repeated matching
 * use {@link compilePattern}. Throws PatternError for an invalid pattern.
 *
 * @example
 * matchesPattern({ detail: { "c-count": [{ numeric: [">", 0, "<=", 5] }] } }, { detail: { "c-count": 5 } }); // true
 */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  return compileEventPattern(pattern)(event);
}

/**
 * For `reflex events test`: parses both JSON texts and tells whether the event matches the pattern,
 * as EventBridge's TestEventPattern does. Throws ValidationError (code `invalid_json`, path `pattern`
 * or `event`) for text that is not JSON, ValidationError (code `invalid_event`) for an event that is
 * not a JSON object, and PatternError for an invalid pattern.
 *
 * @example
 * testEventPattern('{"source": [{"prefix": "aws."}]}', '{"source": "aws.ec2"}'); // true
 * testEventPattern('{"source": ["aws.ec2"]}', "{not json"); // throws ValidationError invalid_json (event)
 */
export function testEventPattern(patternJson: string, eventJson: string): boolean {
  const pattern = parseJson(patternJson, "pattern");
  const event = parseJson(eventJson, "event");
  const matcher = compileEventPattern(pattern);
  if (typeof event !== "object" || event === null || Array.isArray(event)) {
    const message = "the event must be a JSON object";
    throw new ValidationError("invalid_event", message, [{ path: "event", message }]);
  }
  return matcher(event);
}

function parseJson(text: string, input: "pattern" | "event"): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = `the ${input} is not valid JSON: ${(err as Error).message}`;
    throw new ValidationError("invalid_json", message, [{ path: input, message }], { cause: err });
  }
}
