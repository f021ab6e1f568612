/**
 * Which cloud errors are worth retrying. A step that meets a *transient* error (throttling,
 * a 5xx, a timeout, a dropped connection) is retried by its state machine with backoff for
 * minutes; a *permanent* one (AccessDenied, a validation error, a missing resource) fails
 * the step at once, so the run fails fast with the error AWS gave.
 *
 * The step runner uses {@link classify} to name the error Step Functions sees (see
 * `steps.ts`), and runbook steps use {@link isTransient} where they catch errors per target
 * and must not swallow a transient one.
 */

/** AWS throttling codes across the services Reflex calls (SDK v3 names errors by their code). */
export const THROTTLING_CODES = [
  "RequestLimitExceeded",
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "TooManyRequestsException",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
  "ProvisionedThroughputExceededException",
  "EC2ThrottledException",
  "BandwidthLimitExceeded",
  "PriorRequestNotComplete",
] as const;

/** AWS server-side (5xx) and timeout codes. */
export const SERVER_CODES = [
  "InternalError",
  "InternalFailure",
  "InternalServerError",
  "InternalServiceError",
  "InternalServiceException",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "Unavailable",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "IDPCommunicationError",
] as const;

/**
 * The name a transient error gets when its own name is not one of the codes above (a dropped
 * connection, a 503 with an unusual code): the retriers in `asl.ts` list it with the codes.
 */
export const TRANSIENT_ERROR = "Reflex.TransientError";

/** Node network errors: the request may never have reached AWS, or its answer was lost. */
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

const KNOWN = new Set<string>([...THROTTLING_CODES, ...SERVER_CODES]);

interface SdkLikeError {
  name?: string;
  code?: string;
  $fault?: "client" | "server";
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
}

/** True for errors a later attempt may not meet: throttling, 5xx, timeouts, network failures. */
export function isTransient(err: unknown): boolean {
  const e = (err ?? {}) as SdkLikeError;
  const name = e.name ?? "";
  if (KNOWN.has(name) || name === TRANSIENT_ERROR) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (e.$fault === "server") return true;
  if (typeof e.code === "string" && NETWORK_CODES.has(e.code)) return true;
  return false;
}

/**
 * How the step runner reports an error to Step Functions: `transient` errors keep their AWS
 * code as the name when the retriers know it, else get {@link TRANSIENT_ERROR}; `permanent`
 * ones keep their name (or code), so the run fails with what AWS said.
 */
export function classify(err: unknown): { kind: "transient" | "permanent"; name: string } {
  const e = (err ?? {}) as SdkLikeError;
  const own = e.code && e.name !== e.code && /Error$/.test(e.name ?? "") ? e.code : (e.name ?? "Error");
  if (!isTransient(err)) return { kind: "permanent", name: own };
  return { kind: "transient", name: KNOWN.has(own) ? own : TRANSIENT_ERROR };
}

/**
 * True when `err` is the AWS error `code` — the code AWS puts on the wire (`InvalidTarget`,
 * `InvalidInstanceID.NotFound`). Compare errors through this, never by `name` alone: for
 * query-protocol services with modelled errors (ELBv2, Auto Scaling, CloudWatch) the SDK names
 * the exception after its shape (`InvalidTargetException`) and keeps AWS's code in `Code`;
 * for EC2 and unmodelled errors, `name` is the code itself. Both spellings are AWS's own, so
 * both are accepted: the wire code (`Code`, `Error.Code`, or `name`), and the shape name the
 * SDK derives from it (`<code>Exception`).
 *
 * @example
 * try { await elbv2.send(new DeregisterTargetsCommand(...)) }
 * catch (err) { if (!isAwsError(err, "InvalidTarget")) throw err; } // already out
 */
export function isAwsError(err: unknown, code: string): boolean {
  if (!err || typeof err !== "object") return false;
  const e = err as SdkLikeError & { Code?: unknown; Error?: { Code?: unknown } };
  if (e.Code === code || e.Error?.Code === code) return true;
  return e.name === code || e.name === `${code}Exception`;
}
