/**
 * Amazon States Language as typed data. Runbooks build their state machines with these types;
 * the stacks deploy them with `DefinitionBody.fromString` + `definitionSubstitutions`, and the
 * local engine runs the same JSON with `${StepHandlerArn}` substituted.
 */
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
  Retry?: AslRetrier[];
  Catch?: AslCatcher[];
  ItemsPath?: string;
  MaxConcurrency?: number;
  ItemProcessor?: AslDefinition & { ProcessorConfig?: { Mode: "INLINE" } };
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

/** Retries for AWS throttling, as every cloud-calling step wants them. */
export const RETRY_THROTTLING: AslRetrier = {
  ErrorEquals: ["RequestLimitExceeded", "ThrottlingException", "Throttling", "TooManyRequestsException"],
  IntervalSeconds: 2,
  MaxAttempts: 4,
  BackoffRate: 2,
  JitterStrategy: "FULL",
};

/** Retries for Lambda's own transient failures, as AWS recommends for every Lambda task. */
export const RETRY_LAMBDA: AslRetrier = {
  ErrorEquals: [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
  ],
  IntervalSeconds: 1,
  MaxAttempts: 3,
  BackoffRate: 2,
};

/** Replaces `${Name}` placeholders, as Step Functions' definitionSubstitutions does. */
export function substitute(def: AslDefinition, values: Record<string, string>): AslDefinition {
  const text = JSON.stringify(def).replace(
    /\$\{([A-Za-z0-9_]+)\}/g,
    (whole, name: string) => values[name] ?? whole,
  );
  return JSON.parse(text) as AslDefinition;
}
