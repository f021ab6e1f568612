/**
 * Injected faults: throttling, errors and latency on chosen operations, so runbooks can be
 * tested against the failures AWS produces. Faults are checked in the order injected; a
 * latency fault delays and lets the call go on (to later faults or to the model), a
 * throttle or error fault ends it.
 */
import { ValidationError } from "@reflex/core/errors";
import { CloudApiError, throttlingError } from "./api-error.ts";

export interface FaultSpec {
  /** `ec2`, `autoscaling`, `ssm`; any service when omitted. */
  service?: string;
  /** The operation (`DescribeInstances`; a trailing `Command` is ignored), or `*` for every operation. */
  operation: string;
  kind: "throttle" | "error" | "latency";
  /** How many calls the fault applies to; forever when omitted. */
  times?: number;
  /** For `latency`: the delay, on a real timer. */
  latencyMs?: number;
  /** For `error`: the AWS error code; default `InternalError` (HTTP 500, retried by the SDK). */
  code?: string;
  message?: string;
  /** For `error`: the HTTP status; default 500 for `InternalError`, `InternalFailure`, `ServiceUnavailable`, `Unavailable`, else 400. */
  httpStatusCode?: number;
  /** Applies only to calls whose input matches. */
  match?: (input: any) => boolean;
}

const SERVER_CODES = new Set(["InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable"]);

/** Operations whose own name ends in "Command" (SSM's): their SDK class is `SendCommandCommand`. */
const ENDS_IN_COMMAND = new Set(["SendCommand", "CancelCommand"]);

/** `DescribeInstancesCommand` -> `DescribeInstances`; idempotent (`SendCommand` stays). */
export function operationName(name: string): string {
  if (ENDS_IN_COMMAND.has(name)) return name;
  return name.endsWith("Command") ? name.slice(0, -"Command".length) : name;
}

interface ActiveFault {
  spec: FaultSpec;
  operation: string;
  remaining: number;
}

function checkSpec(f: FaultSpec): void {
  const issues: { path: string; message: string }[] = [];
  if (!f.operation) issues.push({ path: "operation", message: "an operation name or '*' is required" });
  if (!["throttle", "error", "latency"].includes(f.kind)) {
    issues.push({ path: "kind", message: "must be 'throttle', 'error' or 'latency'" });
  }
  if (f.times !== undefined && (!Number.isInteger(f.times) || f.times < 1)) {
    issues.push({ path: "times", message: "must be a positive integer" });
  }
  if (f.kind === "latency" && !(typeof f.latencyMs === "number" && f.latencyMs >= 0)) {
    issues.push({ path: "latencyMs", message: "a latency fault needs latencyMs >= 0" });
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

  inject(spec: FaultSpec): void {
    checkSpec(spec);
    this.#faults.push({
      spec,
      operation: operationName(spec.operation),
      remaining: spec.times ?? Number.POSITIVE_INFINITY,
    });
  }

  clear(): void {
    this.#faults = [];
  }

  /** The faults still armed, with how many calls each has left. */
  list(): Array<FaultSpec & { remaining: number }> {
    return this.#faults.map((f) => ({ ...f.spec, remaining: f.remaining }));
  }

  /** Applies the faults matching this call: waits for latency faults, throws the first throttle/error fault. */
  async apply(service: string, operation: string, input: unknown): Promise<void> {
    for (const fault of [...this.#faults]) {
      const { spec } = fault;
      if (fault.remaining <= 0) continue;
      if (spec.service !== undefined && spec.service !== service) continue;
      if (fault.operation !== "*" && fault.operation !== operation) continue;
      if (spec.match && !spec.match(input)) continue;
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.#faults = this.#faults.filter((f) => f !== fault);
      if (spec.kind === "latency") {
        await new Promise((resolve) => setTimeout(resolve, spec.latencyMs));
        continue;
      }
      if (spec.kind === "throttle") throw throttlingError(service);
      const code = spec.code ?? "InternalError";
      const status = spec.httpStatusCode ?? (SERVER_CODES.has(code) ? 500 : 400);
      throw new CloudApiError(
        code,
        spec.message ?? `Injected fault: ${code} on ${service}:${operation}`,
        status,
      );
    }
  }
}
