import { EC2ServiceException } from "@aws-sdk/client-ec2";
import { describe, expect, it } from "vitest";
import { classify, isTransient, TRANSIENT_ERROR } from "./aws-errors.ts";
import { StepExecutionError } from "./errors.ts";
import { RETRY_ROLLBACK, RETRY_STEP, TRANSIENT_ERRORS } from "./runbooks/asl.ts";

const sdkError = (name: string, status: number, extra: object = {}) =>
  Object.assign(
    new EC2ServiceException({
      name,
      $fault: status >= 500 ? "server" : "client",
      $metadata: { httpStatusCode: status },
      message: `${name} happened`,
    }),
    extra,
  );

describe("classifying errors for Step Functions' Retry and Catch", () => {
  it("names throttling and 5xx errors by their AWS code, which the retriers list", () => {
    for (const [name, status] of [
      ["RequestLimitExceeded", 400],
      ["Throttling", 400],
      ["InternalError", 500],
      ["ServiceUnavailable", 503],
      ["RequestTimeout", 400],
    ] as const) {
      const c = classify(sdkError(name, status));
      expect(c).toEqual({ kind: "transient", name });
      expect(TRANSIENT_ERRORS).toContain(c.name);
    }
  });

  it("names a transient error the retriers do not know Reflex.TransientError", () => {
    expect(classify(sdkError("ResourceContention", 500))).toEqual({
      kind: "transient",
      name: TRANSIENT_ERROR,
    });
    expect(classify(sdkError("Odd", 400, { $retryable: { throttling: true } }))).toEqual({
      kind: "transient",
      name: TRANSIENT_ERROR,
    });
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    expect(classify(reset)).toEqual({ kind: "transient", name: TRANSIENT_ERROR });
  });

  it("keeps permanent errors' names: AccessDenied, validation, not found, Reflex's own codes", () => {
    expect(classify(sdkError("AccessDenied", 403))).toEqual({ kind: "permanent", name: "AccessDenied" });
    expect(classify(sdkError("InvalidParameterValue", 400))).toEqual({
      kind: "permanent",
      name: "InvalidParameterValue",
    });
    expect(classify(sdkError("InvalidInstanceID.NotFound", 400)).kind).toBe("permanent");
    expect(classify(new StepExecutionError("NoTargets", "nothing matched"))).toEqual({
      kind: "permanent",
      name: "NoTargets",
    });
    expect(isTransient(new TypeError("x is undefined"))).toBe(false);
  });

  it("retries transient errors for minutes in a step and longer in a rollback step, never a permanent one", () => {
    const budget = (r: (typeof RETRY_STEP)[number]) => {
      let total = 0;
      for (let i = 0; i < (r.MaxAttempts ?? 3); i++)
        total += Math.min(
          (r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** i,
          r.MaxDelaySeconds ?? Infinity,
        );
      return total;
    };
    const transient = (rs: typeof RETRY_STEP) => rs.find((r) => r.ErrorEquals.includes("InternalError"))!;
    expect(budget(transient(RETRY_STEP))).toBeGreaterThan(5 * 60);
    expect(budget(transient(RETRY_ROLLBACK))).toBeGreaterThan(20 * 60);
    for (const r of [...RETRY_STEP, ...RETRY_ROLLBACK]) {
      expect(r.ErrorEquals).not.toContain("AccessDenied");
      expect(r.ErrorEquals).not.toContain("States.ALL");
    }
    expect(RETRY_STEP.flatMap((r) => r.ErrorEquals)).toContain("Lambda.ClientExecutionTimeoutException");
  });
});
