/**
 * Reflex errors. Definition errors (bad config, bad runbook, bad input) are kept apart from
 * run-time errors (a cloud call failed), after Cloud Custodian's PolicySyntaxError vs
 * PolicyExecutionError: the first is the caller's to fix, the second may be retried.
 */
export class ReflexError extends Error {
  /** A stable machine-readable code, e.g. `invalid_params`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ReflexError";
    this.code = code;
  }
}

/** One problem found while validating input, with the path to the offending value. */
export interface Issue {
  path: string;
  message: string;
}

/** Bad input from a caller: an event, a command, params, a pattern. Maps to HTTP 400 / exit 2. */
export class ValidationError extends ReflexError {
  readonly issues: Issue[];
  constructor(code: string, message: string, issues: Issue[] = [], options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ValidationError";
    this.issues = issues;
  }
  /** The path of the first problem, when there is one. */
  get path(): string | undefined {
    return this.issues[0]?.path;
  }
}

/** A request body larger than the API reads. Maps to HTTP 413. */
export class PayloadTooLargeError extends ValidationError {
  constructor(limitBytes: number) {
    super("too_large", `request body is over ${limitBytes} bytes`, [
      { path: "body", message: `larger than ${limitBytes} bytes` },
    ]);
    this.name = "PayloadTooLargeError";
  }
}

/** A request body in a media type the route does not take (JSON routes take JSON). Maps to HTTP 415. */
export class UnsupportedMediaTypeError extends ValidationError {
  constructor(contentType: string | undefined) {
    super(
      "unsupported_media_type",
      `request body must be application/json, not ${contentType ? `'${contentType.slice(0, 100)}'` : "an unlabelled body"}`,
      [{ path: "content-type", message: "must be application/json" }],
    );
    this.name = "UnsupportedMediaTypeError";
  }
}

/** A config file that does not validate. Every problem is listed with its path. */
export class ConfigError extends ValidationError {
  constructor(message: string, issues: Issue[], options?: { cause?: unknown }) {
    super("invalid_config", message, issues, options);
    this.name = "ConfigError";
  }
}

/** A runbook whose definition is wrong (a programming error, caught at registration). */
export class RunbookDefinitionError extends ReflexError {
  /** The runbook it is about, when known. */
  readonly runbook?: string;
  /** Every problem, each with the manifest field it is in (`permissions[2]`, `rollback`). */
  readonly issues: Issue[];
  constructor(message: string, options?: { cause?: unknown; runbook?: string; issues?: Issue[] }) {
    super("invalid_runbook", message, options);
    this.name = "RunbookDefinitionError";
    this.runbook = options?.runbook;
    this.issues = options?.issues ?? [];
  }
}

/** An EventBridge pattern that is not valid in the pattern language. */
export class PatternError extends ValidationError {
  constructor(message: string, path = "", options?: { cause?: unknown }) {
    super("invalid_pattern", message, path ? [{ path, message }] : [], options);
    this.name = "PatternError";
  }
}

/** Something asked for does not exist (unknown runbook, unknown execution). Maps to HTTP 404. */
export class NotFoundError extends ReflexError {
  constructor(what: string, id: string) {
    super("not_found", `${what} '${id}' does not exist`);
    this.name = "NotFoundError";
  }
}

/** A person may not do what they asked: their roles do not allow it. Maps to HTTP 403. */
export class AccessDeniedError extends ReflexError {
  /** The input this person may not give, when the refusal is about one (an override's `for`). */
  readonly path?: string;
  constructor(message: string, path?: string) {
    super("access_denied", message);
    this.name = "AccessDeniedError";
    if (path) this.path = path;
  }
}

/** The caller has no identity at all (no authorizer's claims, outside local mode). Maps to HTTP 401. */
export class UnauthenticatedError extends ReflexError {
  constructor(message: string) {
    super("unauthenticated", message);
    this.name = "UnauthenticatedError";
  }
}

/** A conditional write lost: a lock held, a record already there. */
export class ConflictError extends ReflexError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ConflictError";
  }
}

/** A step failed while acting on the cloud (a run-time error, not the caller's input). */
export class StepExecutionError extends ReflexError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "StepExecutionError";
  }
}

/** A required environment variable is missing or malformed. */
export class EnvironmentError extends ReflexError {
  constructor(message: string) {
    super("bad_environment", message);
    this.name = "EnvironmentError";
  }
}

/**
 * A value the code relies on was not there: an AWS answer without a field its API reference
 * always returns, a run's input without what an earlier state put there. A run-time error with
 * the value named, where a `!` would have let `undefined` travel on to a TypeError far away.
 */
export class MissingValueError extends ReflexError {
  constructor(what: string) {
    super("missing_value", `expected ${what}, found none`);
    this.name = "MissingValueError";
  }
}

/**
 * `value`, known not to be null or undefined; {@link MissingValueError} naming `what` otherwise.
 *
 * @example
 * const id = must(instance.InstanceId, "InstanceId of a described instance");
 */
export function must<T>(value: T, what: string): NonNullable<T> {
  if (value === null || value === undefined) throw new MissingValueError(what);
  return value as NonNullable<T>;
}
