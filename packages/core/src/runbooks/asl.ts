/**
 * Amazon States Language as typed data. Runbooks build their state machines with these types;
 * the stacks deploy them with `DefinitionBody.fromString` + `definitionSubstitutions`, and the
 * local engine runs the same JSON with `${StepHandlerArn}` substituted.
 */
import { SERVER_CODES, THROTTLING_CODES, TRANSIENT_ERROR } from "../aws-errors.ts";

export interface AslRetrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: "FULL" | "NONE";
}
export interface AslCatcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}
export interface AslState {
  Type: "Task" | "Map" | "Parallel" | "Pass" | "Wait" | "Choice" | "Succeed" | "Fail";
  Comment?: string;
  Next?: string;
  End?: true;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  ItemSelector?: Record<string, unknown>;
  ResultSelector?: Record<string, unknown>;
  ResultPath?: string | null;
  InputPath?: string | null;
  OutputPath?: string | null;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Retry?: AslRetrier[];
  Catch?: AslCatcher[];
  ItemsPath?: string;
  MaxConcurrency?: number;
  MaxConcurrencyPath?: string;
  /** Distributed Map: how many child executions may fail before the Map Run fails. */
  ToleratedFailurePercentage?: number;
  ToleratedFailureCount?: number;
  ItemProcessor?: AslDefinition & {
    ProcessorConfig?: { Mode: "INLINE" } | { Mode: "DISTRIBUTED"; ExecutionType: "STANDARD" | "EXPRESS" };
  };
  Iterator?: AslDefinition;
  Branches?: AslDefinition[];
  Seconds?: number;
  SecondsPath?: string;
  Choices?: Array<Record<string, unknown> & { Next: string }>;
  Default?: string;
  Result?: unknown;
  Error?: string;
  Cause?: string;
  ErrorPath?: string;
  CausePath?: string;
}
export interface AslDefinition {
  Comment?: string;
  StartAt: string;
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
}

/** The placeholder every Task's Resource uses; substituted with the step handler's ARN. */
export const STEP_HANDLER = "${StepHandlerArn}";

/** A Task state that runs one of the runbook's steps. */
export function stepTask(runbook: string, step: string, rest: Partial<AslState> = {}): AslState {
  return {
    Type: "Task",
    Resource: STEP_HANDLER,
    Parameters: { runbook, step, "input.$": "$" },
    TimeoutSeconds: 120,
    ...rest,
  };
}

/** A rule of a Choice state (`{ Variable, BooleanEquals, Next }`, `{ And: [...], Next }`). */
export type ChoiceRule = Record<string, unknown> & { Next: string };

/** Catch every error, keep it at `resultPath` and go to `next` (a rollback, a Fail state). */
export function catchAll(next: string, resultPath = "$.failure"): AslCatcher[] {
  return [{ ErrorEquals: ["States.ALL"], ResultPath: resultPath, Next: next }];
}

/** A Fail state that ends the run with the error and cause a Catch kept at `from`. */
export function failWith(from = "$.failure"): AslState {
  return { Type: "Fail", ErrorPath: `${from}.Error`, CausePath: `${from}.Cause` };
}

/**
 * The Choice after a plan: a dry run goes to `dryRun` (the plan is its result; nothing changes),
 * then any `also` rules (e.g. nothing to change), else `next`.
 *
 * @example
 * IsDryRun: dryRunChoice("ApprovalNeeded"), DryRunPlanned: { Type: "Succeed" }
 */
export function dryRunChoice(next: string, dryRun = "DryRunPlanned", also: ChoiceRule[] = []): AslState {
  return {
    Type: "Choice",
    Choices: [{ Variable: "$.execution.dryRun", BooleanEquals: true, Next: dryRun }, ...also],
    Default: next,
  };
}

/**
 * Transient AWS errors, as the step runner names them (see `aws-errors.ts`): throttling, 5xx,
 * timeouts, and `Reflex.TransientError` for any other error it judged transient (a dropped
 * connection, a 503 with an unusual code). Permanent errors (AccessDenied, validation, not
 * found) are in no retrier: the step fails at once and the run's Catch takes over.
 */
export const TRANSIENT_ERRORS: string[] = [...THROTTLING_CODES, ...SERVER_CODES, TRANSIENT_ERROR];

/**
 * Retries for transient AWS errors in a forward step: backoff from 2 s doubling to a 60 s
 * ceiling, with full jitter, 12 retries — about 8 minutes before the step gives up (the SDK
 * has already retried each call a few times by then).
 */
export const RETRY_TRANSIENT: AslRetrier = {
  ErrorEquals: TRANSIENT_ERRORS,
  IntervalSeconds: 2,
  MaxAttempts: 12,
  BackoffRate: 2,
  MaxDelaySeconds: 60,
  JitterStrategy: "FULL",
};

/**
 * Retries for transient AWS errors in a rollback step, which must not give up on a blip: the
 * same backoff as {@link RETRY_TRANSIENT}, 30 retries — about 26 minutes.
 */
export const RETRY_TRANSIENT_ROLLBACK: AslRetrier = { ...RETRY_TRANSIENT, MaxAttempts: 30 };

/** @deprecated Kept for runbooks written before {@link RETRY_TRANSIENT}: it is the same retrier. */
export const RETRY_THROTTLING: AslRetrier = RETRY_TRANSIENT;

/**
 * Retries for Lambda's own transient failures, as AWS recommends for every Lambda task
 * (`Lambda.ClientExecutionTimeoutException`: the invoke timed out before the function ran).
 */
export const RETRY_LAMBDA: AslRetrier = {
  ErrorEquals: [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
  ],
  IntervalSeconds: 1,
  MaxAttempts: 6,
  BackoffRate: 2,
  MaxDelaySeconds: 30,
  JitterStrategy: "FULL",
};

/** What a cloud-calling forward step retries: Lambda's failures and transient AWS errors. */
export const RETRY_STEP: AslRetrier[] = [RETRY_LAMBDA, RETRY_TRANSIENT];
/** What a rollback step retries: the same, for longer. */
export const RETRY_ROLLBACK: AslRetrier[] = [RETRY_LAMBDA, RETRY_TRANSIENT_ROLLBACK];

/**
 * A runbook's step Tasks with their retriers: `step` (a forward step) retries transient errors
 * for minutes ({@link RETRY_STEP}); `rollbackStep` (compensation, and what must run after an
 * abort) for longer ({@link RETRY_ROLLBACK}). `rest` adds the rest (ResultPath, Catch, Next).
 *
 * @example
 * const { step, rollbackStep } = stepBuilders("scale");
 * SetCapacity: step("setCapacity", { ResultPath: "$.applied", Catch: catchAll("Restore"), Next: "Wait" })
 */
export function stepBuilders(runbook: string): {
  step: (name: string, rest?: Partial<AslState>) => AslState;
  rollbackStep: (name: string, rest?: Partial<AslState>) => AslState;
} {
  return {
    step: (name, rest = {}) => stepTask(runbook, name, { Retry: RETRY_STEP, ...rest }),
    rollbackStep: (name, rest = {}) => stepTask(runbook, name, { Retry: RETRY_ROLLBACK, ...rest }),
  };
}

/** Replaces `${Name}` placeholders, as Step Functions' definitionSubstitutions does. */
export function substitute(def: AslDefinition, values: Record<string, string>): AslDefinition {
  const text = JSON.stringify(def).replace(
    /\$\{([A-Za-z0-9_]+)\}/g,
    (whole, name: string) => values[name] ?? whole,
  );
  return JSON.parse(text) as AslDefinition;
}

/** The Resource of an approval: Step Functions waits until the task token is answered. */
export const APPROVAL_RESOURCE = "arn:aws:states:::lambda:invoke.waitForTaskToken";
/** The built-in step an approval state calls: records the request, then the run waits. */
export const APPROVAL_STEP = "requestApproval";
/**
 * The built-in step after every approval wait: re-reads the approval record and lets the run go
 * on only if it is APPROVED by enough valid approvers under the policy fixed at admission. The
 * task token is a bearer credential (it sits in the table and in Step Functions' history), so
 * the wait's ending successfully is never, by itself, an approval.
 */
export const VERIFY_APPROVAL_STEP = "verifyApproval";
/** Built-in steps: implemented by the step worker itself, never by a runbook. */
export const BUILTIN_STEPS: readonly string[] = [APPROVAL_STEP, VERIFY_APPROVAL_STEP];
/**
 * Errors an approval ends with when it is not given: rejected or timed out, the run ends
 * ABORTED; `notRecorded` (the wait ended without a recorded approval: a forged SendTaskSuccess)
 * ends it FAILED.
 */
export const APPROVAL_ERRORS = {
  rejected: "ApprovalRejected",
  timedOut: "ApprovalTimedOut",
  notRecorded: "ApprovalNotRecorded",
} as const;
/** The error a step throws when a person aborted the run (graceful abort, between targets). */
export const RUN_ABORTED = "RunAborted";

/**
 * The states of a human approval, placed after a runbook's plan step so the approver sees the
 * plan: a Choice (`$.approval.required`, set at admission from the config's policy) → a
 * `lambda:invoke.waitForTaskToken` Task that calls the step worker's built-in
 * `requestApproval` with `$$.Task.Token` (it stores the request and publishes `Approval
 * Requested`; the run then waits until the token is answered or the deadline,
 * `$.approval.deadlineSeconds`, passes) → a Task calling the built-in `verifyApproval`, which
 * re-reads the approval record (see {@link VERIFY_APPROVAL_STEP}) → `next`. Rejected or timed
 * out: the run fails with `ApprovalRejected` / `ApprovalTimedOut` before any change, and is
 * recorded ABORTED. The wait answered without a recorded approval: it fails with
 * `ApprovalNotRecorded` before any change, recorded FAILED.
 *
 * @example
 * States: { Plan: stepTask(R, "plan", { Next: "ApprovalNeeded" }), ...approvalStates(R, "Apply"), Apply: ... }
 */
export function approvalStates(runbook: string, next: string, prefix = "Approval"): Record<string, AslState> {
  return {
    [`${prefix}Needed`]: {
      Type: "Choice",
      Choices: [
        {
          And: [
            { Variable: "$.approval.required", IsPresent: true },
            { Variable: "$.approval.required", BooleanEquals: true },
          ],
          Next: `${prefix}Wait`,
        },
      ],
      Default: next,
    },
    [`${prefix}Wait`]: {
      Type: "Task",
      Resource: APPROVAL_RESOURCE,
      Parameters: {
        FunctionName: STEP_HANDLER,
        Payload: { runbook, step: APPROVAL_STEP, "input.$": "$", "taskToken.$": "$$.Task.Token" },
      },
      TimeoutSecondsPath: "$.approval.deadlineSeconds",
      ResultPath: "$.approval.answer",
      Retry: [RETRY_LAMBDA],
      Catch: [
        { ErrorEquals: [APPROVAL_ERRORS.rejected], ResultPath: "$.failure", Next: `${prefix}Rejected` },
        { ErrorEquals: ["States.Timeout"], ResultPath: "$.failure", Next: `${prefix}TimedOut` },
      ],
      Next: `${prefix}Verify`,
    },
    // What the token's answer says is not trusted: the record decides. An unverified approval
    // fails the run here, with ApprovalNotRecorded, before any step that changes something.
    [`${prefix}Verify`]: stepTask(runbook, VERIFY_APPROVAL_STEP, {
      ResultPath: "$.approval.verified",
      Retry: RETRY_STEP,
      TimeoutSeconds: 60,
      Next: next,
    }),
    [`${prefix}Rejected`]: { Type: "Fail", Error: APPROVAL_ERRORS.rejected, CausePath: "$.failure.Cause" },
    [`${prefix}TimedOut`]: {
      Type: "Fail",
      Error: APPROVAL_ERRORS.timedOut,
      Cause: "nobody answered the approval request before its deadline; nothing was changed",
    },
  };
}
