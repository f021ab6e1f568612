/**
 * Injected faults: throttling, errors and latency on chosen operations, so runbooks can be
 * rehearsed against the failures AWS produces (as AWS Fault Injection Service is used in a
 * real account). Faults are checked in the order injected; a fault's latency delays the call
 * and lets it go on (to later faults or to the model), a throttle or error fault then ends it.
 *
 * A fault fires on a matching call with probability `rate` (always when omitted); once it
 * fires it keeps firing for the next `burst - 1` matching calls (a 5xx burst). `times`
 * counts the calls it fired on; the fault is gone when they are used up.
 *
 * An `outcome` fault does not fail the call: the call succeeds and what it started ends as
 * the outcome says, as AWS's own asynchronous failures do (a root-volume replacement that ends
 * `failed`, or `failed-detached`: the original root detached and none attached). Only the
 * operations in {@link OUTCOMES} take one.
 */
import { ValidationError } from "@reflex/core/errors";
import { CloudApiError, throttlingError } from "./api-error.ts";
import type { OpInput } from "./fleet.ts";

export interface FaultSpec {
  /** `ec2`, `autoscaling`, `ssm`; any service when omitted. */
  service?: string;
  /** The operation (`DescribeInstances`; a trailing `Command` is ignored), or `*` for every operation. */
  operation: string;
  kind: "throttle" | "error" | "latency" | "outcome";
  /** For `outcome`: how what the call starts ends (one of {@link OUTCOMES} for its operation). */
  outcome?: string;
  /** How many calls the fault fires on; forever when omitted. */
  times?: number;
  /** The probability (0 < rate <= 1) that the fault fires on a matching call; default 1. */
  rate?: number;
  /** Once fired, the fault also fires on this many matching calls in a row (counting the first); default 1. */
  burst?: number;
  /** A delay before the call goes on (or fails), on a real timer. Required for `latency`. */
  latencyMs?: number;
  /** For `error`: the AWS error code; default `InternalError` (HTTP 500, retried by the SDK). For `throttle`: default the service's own throttling code. */
  code?: string;
  message?: string;
  /** For `error`: the HTTP status; default 500 for server codes (`InternalError`, `ServiceUnavailable`, …), else 400. */
  httpStatusCode?: number;
  /** Applies only to calls whose input matches (in-process use only). */
  match?: (input: OpInput) => boolean;
}

/** A fault as listed: its spec, an id to remove it by, and what it has done so far. */
export type ArmedFault = Omit<FaultSpec, "match"> & { id: string; remaining: number; fired: number };

const SERVER_CODES = new Set([
  "InternalError",
  "InternalFailure",
  "ServiceUnavailable",
  "Unavailable",
  "InternalServerError",
]);

/** Error codes that are throttling: a fault with one of them is a `throttle` fault. */
export const THROTTLE_CODES = new Set([
  "RequestLimitExceeded",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
]);

/** The outcomes an `outcome` fault may give, by operation: the end states AWS documents for it. */
export const OUTCOMES: Record<string, string[]> = {
  CreateReplaceRootVolumeTask: ["failed", "failed-detached"],
};

/** Operations whose own name ends in "Command" (SSM's): their SDK class is `SendCommandCommand`. */
const ENDS_IN_COMMAND = new Set(["SendCommand", "CancelCommand"]);

/** `DescribeInstancesCommand` -> `DescribeInstances`; idempotent (`SendCommand` stays). */
export function operationName(name: string): string {
  if (ENDS_IN_COMMAND.has(name)) return name;
  return name.endsWith("Command") ? name.slice(0, -"Command".length) : name;
}

interface ActiveFault {
  id: string;
  spec: FaultSpec;
  operation: string;
  remaining: number;
  fired: number;
  /** Calls left in the current burst. */
  bursting: number;
}

function checkSpec(f: FaultSpec): void {
  const issues: { path: string; message: string }[] = [];
  if (!f.operation || typeof f.operation !== "string")
    issues.push({ path: "operation", message: "an operation name or '*' is required" });
  if (!["throttle", "error", "latency", "outcome"].includes(f.kind)) {
    issues.push({ path: "kind", message: "must be 'throttle', 'error', 'latency' or 'outcome'" });
  }
  if (f.kind === "outcome") {
    const allowed = OUTCOMES[operationName(String(f.operation))];
    if (!allowed)
      issues.push({
        path: "operation",
        message: `an outcome fault applies to ${Object.keys(OUTCOMES).join(", ")}`,
      });
    else if (!allowed.includes(String(f.outcome)))
      issues.push({ path: "outcome", message: `must be one of ${allowed.join(", ")}` });
  }
  if (f.times !== undefined && (!Number.isInteger(f.times) || f.times < 1)) {
    issues.push({ path: "times", message: "must be a positive integer" });
  }
  if (f.rate !== undefined && !(typeof f.rate === "number" && f.rate > 0 && f.rate <= 1)) {
    issues.push({ path: "rate", message: "must be a number above 0 and at most 1" });
  }
  if (f.burst !== undefined && (!Number.isInteger(f.burst) || f.burst < 1 || f.burst > 1000)) {
    issues.push({ path: "burst", message: "must be an integer from 1 to 1000" });
  }
  if (
    f.latencyMs !== undefined &&
    !(typeof f.latencyMs === "number" && f.latencyMs >= 0 && f.latencyMs <= 600_000)
  ) {
    issues.push({ path: "latencyMs", message: "must be from 0 to 600000 ms" });
  }
  if (f.kind === "latency" && f.latencyMs === undefined) {
    issues.push({ path: "latencyMs", message: "a latency fault needs latencyMs" });
  }
  if (f.code !== undefined && !(typeof f.code === "string" && /^[A-Za-z][A-Za-z0-9.]{0,99}$/.test(f.code))) {
    issues.push({ path: "code", message: "must be an AWS error code such as InternalError" });
  }
  if (issues.length) {
    throw new ValidationError(
      "invalid_fault",
      `invalid fault: ${issues.map((i) => `${i.path} ${i.message}`).join("; ")}`,
      issues,
    );
  }
}

export class FaultPlan {
  #faults: ActiveFault[] = [];
  #next = 1;
  readonly #random: () => number;

  /** `random` decides `rate` faults (tests pass a seeded one). */
  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** Arms a fault; returns its id. */
  inject(spec: FaultSpec): string {
    checkSpec(spec);
    const id = `fault-${this.#next++}`;
    this.#faults.push({
      id,
      spec,
      operation: operationName(spec.operation),
      remaining: spec.times ?? Number.POSITIVE_INFINITY,
      fired: 0,
      bursting: 0,
    });
    return id;
  }

  clear(): number {
    const n = this.#faults.length;
    this.#faults = [];
    return n;
  }

  /** Disarms one fault; false when no fault has that id. */
  remove(id: string): boolean {
    const before = this.#faults.length;
    this.#faults = this.#faults.filter((f) => f.id !== id);
    return this.#faults.length < before;
  }

  /** The faults still armed, with how many calls each has left (`null`: no limit) and has fired on. */
  list(): ArmedFault[] {
    return this.#faults.map((f) => {
      const { match: _match, ...spec } = f.spec;
      return { id: f.id, ...spec, remaining: f.remaining, fired: f.fired };
    });
  }

  /**
   * Applies the faults matching this call: waits for latency, throws the first throttle/error
   * fault that fires; answers the outcome an `outcome` fault gives it (the call goes on).
   */
  async apply(service: string, operation: string, input: unknown): Promise<string | undefined> {
    let outcome: string | undefined;
    for (const fault of [...this.#faults]) {
      const { spec } = fault;
      if (fault.remaining <= 0) continue;
      if (spec.service !== undefined && spec.service !== service) continue;
      if (fault.operation !== "*" && fault.operation !== operation) continue;
      if (spec.match && !spec.match(input)) continue;
      if (fault.bursting > 0) fault.bursting -= 1;
      else if (spec.rate !== undefined && spec.rate < 1 && this.#random() >= spec.rate) continue;
      else fault.bursting = (spec.burst ?? 1) - 1;
      fault.remaining -= 1;
      fault.fired += 1;
      if (fault.remaining <= 0) this.#faults = this.#faults.filter((f) => f !== fault);
      if (spec.latencyMs) await new Promise((resolve) => setTimeout(resolve, spec.latencyMs));
      if (spec.kind === "latency") continue;
      if (spec.kind === "outcome") {
        outcome ??= spec.outcome;
        continue;
      }
      if (spec.kind === "throttle") {
        const own = throttlingError(service);
        throw spec.code
          ? new CloudApiError(spec.code, spec.message ?? own.message, 400, { throttling: true })
          : own;
      }
      const code = spec.code ?? "InternalError";
      const status = spec.httpStatusCode ?? (SERVER_CODES.has(code) ? 500 : 400);
      throw new CloudApiError(
        code,
        spec.message ?? `Injected fault: ${code} on ${service}:${operation}`,
        status,
      );
    }
    return outcome;
  }
}
