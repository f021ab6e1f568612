/**
 * AWS Lambda, as far as provisioned concurrency needs it (`@aws-sdk/client-lambda`,
 * restJson1): functions with published versions and aliases — GetFunction, GetAlias,
 * ListAliases, ListTags, GetAccountSettings, and Get/Put/DeleteProvisionedConcurrencyConfig.
 *
 * A provisioned concurrency config is `IN_PROGRESS` for `readyMs` after it is put (allocated
 * 0), then `READY` (allocated = requested) — or `FAILED` when a failure is armed for the
 * function (`failConfigs`, containers-helpers.ts), with Lambda's reason. Lambda refuses
 * `$LATEST` and an unpublished version, an alias that does not exist, and more than the
 * account's unreserved concurrency less the 100 it always keeps unreserved.
 */
import { CloudApiError } from "./api-error.ts";
import type { OpContext, OpInput } from "./fleet.ts";
import type { TagRecord } from "./model.ts";

export interface ProvisionedRecord {
  qualifier: string;
  requested: number;
  lastModified: number;
  readyAt: number;
  outcome: "READY" | "FAILED";
}

export interface FunctionRecord {
  name: string;
  tags: TagRecord[];
  /** Published versions are 1..versions. */
  versions: number;
  aliases: Array<{ name: string; version: string }>;
  provisioned: ProvisionedRecord[];
  /** How many of the next configs put on this function fail. */
  failConfigs?: number;
  /**
   * What `Invoke` answers: the payload the function returns (JSON), or `{ functionError }` for a
   * function that threw (Lambda's `FunctionError: Unhandled`, the error as the payload). The
   * last one is answered again once the list is used up; `{}` when none is set.
   */
  answers?: unknown[];
}

export interface LambdaState {
  functions: FunctionRecord[];
  /** The account's concurrency limit (AWS's default quota: 1,000). */
  concurrencyLimit: number;
  /** How long a config stays IN_PROGRESS. Default 2 s. */
  readyMs: number;
}

/** Lambda keeps this much of the account's concurrency unreserved, always. */
const KEEP_UNRESERVED = 100;

export function lambdaState(ctx: OpContext): LambdaState {
  ctx.rs.lambda ??= { functions: [], concurrencyLimit: 1000, readyMs: 2000 };
  return ctx.rs.lambda;
}

export const functionArn = (ctx: OpContext, name: string, qualifier?: string) =>
  `arn:aws:lambda:${ctx.region}:${ctx.state.accountId}:function:${name}${qualifier ? `:${qualifier}` : ""}`;

const notFound = (message: string) => new CloudApiError("ResourceNotFoundException", message, 404);
const invalid = (message: string) => new CloudApiError("InvalidParameterValueException", message, 400);

/** A function by name, ARN or partial ARN (`my-fn`, `arn:…:function:my-fn`), without a qualifier. */
function functionOf(ctx: OpContext, ref: unknown): FunctionRecord {
  const text = String(ref ?? "");
  const name = text.startsWith("arn:") ? (text.split(":")[6] ?? "") : (text.split(":")[0] ?? "");
  const fn = lambdaState(ctx).functions.find((f) => f.name === name);
  if (!fn) throw notFound(`Function not found: ${functionArn(ctx, name)}`);
  return fn;
}

/** The provisioned config of a function's alias or version, if one is put. */
export function provisionedFor(ctx: OpContext, fn: string, qualifier: string): ProvisionedRecord | undefined {
  return lambdaState(ctx)
    .functions.find((f) => f.name === fn)
    ?.provisioned.find((p) => p.qualifier === qualifier);
}

function checkQualifier(ctx: OpContext, fn: FunctionRecord, qualifier: string): void {
  if (qualifier === "$LATEST" || qualifier === "")
    throw invalid("Provisioned Concurrency Configs cannot be applied to unpublished function versions.");
  if (/^\d+$/.test(qualifier)) {
    if (Number(qualifier) < 1 || Number(qualifier) > fn.versions)
      throw notFound(`Function not found: ${functionArn(ctx, fn.name, qualifier)}`);
  } else if (!fn.aliases.some((a) => a.name === qualifier))
    throw notFound(`Cannot find alias arn: ${functionArn(ctx, fn.name, qualifier)}`);
}

/** Puts (or replaces) a config: IN_PROGRESS now, READY or FAILED after `readyMs`. */
export function requestProvisioned(
  ctx: OpContext,
  name: string,
  qualifier: string,
  requested: number,
): ProvisionedRecord {
  const fn = functionOf(ctx, name);
  const fail = (fn.failConfigs ?? 0) > 0;
  if (fail) fn.failConfigs = (fn.failConfigs ?? 1) - 1;
  const record: ProvisionedRecord = {
    qualifier,
    requested,
    lastModified: ctx.now,
    readyAt: ctx.now + lambdaState(ctx).readyMs,
    outcome: fail ? "FAILED" : "READY",
  };
  fn.provisioned = [...fn.provisioned.filter((p) => p.qualifier !== qualifier), record];
  return record;
}

function shapeConfig(ctx: OpContext, p: ProvisionedRecord) {
  const settled = ctx.now >= p.readyAt;
  const status = settled ? p.outcome : "IN_PROGRESS";
  const allocated = status === "READY" ? p.requested : 0;
  return {
    RequestedProvisionedConcurrentExecutions: p.requested,
    AvailableProvisionedConcurrentExecutions: allocated,
    AllocatedProvisionedConcurrentExecutions: allocated,
    Status: status,
    ...(status === "FAILED"
      ? { StatusReason: "FUNCTION_ERROR_INIT_FAILURE: the function failed to initialize." }
      : {}),
    LastModified: new Date(p.lastModified).toISOString().replace("Z", "+0000"),
  };
}

/** Concurrency the account has not reserved or provisioned (another function's included). */
function unreserved(ctx: OpContext, except?: { fn: string; qualifier: string }): number {
  const st = lambdaState(ctx);
  const used = st.functions
    .flatMap((f) => f.provisioned.map((p) => ({ f: f.name, p })))
    .filter(({ f, p }) => !(except && f === except.fn && p.qualifier === except.qualifier))
    .reduce((n, { p }) => n + p.requested, 0);
  return st.concurrencyLimit - used;
}

function getFunction(ctx: OpContext, input: { FunctionName?: string }) {
  const fn = functionOf(ctx, input.FunctionName);
  return {
    Configuration: {
      FunctionName: fn.name,
      FunctionArn: functionArn(ctx, fn.name),
      Runtime: "nodejs22.x",
      Handler: "index.handler",
      State: "Active",
      Version: "$LATEST",
    },
    Tags: Object.fromEntries(fn.tags.map((t) => [t.Key, t.Value])),
  };
}

function shapeAlias(ctx: OpContext, fn: FunctionRecord, a: { name: string; version: string }) {
  return { AliasArn: functionArn(ctx, fn.name, a.name), Name: a.name, FunctionVersion: a.version };
}

function getAlias(ctx: OpContext, input: { FunctionName?: string; Name?: string }) {
  const fn = functionOf(ctx, input.FunctionName);
  const a = fn.aliases.find((x) => x.name === input.Name);
  if (!a) throw notFound(`Cannot find alias arn: ${functionArn(ctx, fn.name, input.Name)}`);
  return shapeAlias(ctx, fn, a);
}

function listAliases(ctx: OpContext, input: { FunctionName?: string }) {
  const fn = functionOf(ctx, input.FunctionName);
  return { Aliases: fn.aliases.map((a) => shapeAlias(ctx, fn, a)) };
}

function listTags(ctx: OpContext, input: { Resource?: string }) {
  return { Tags: Object.fromEntries(functionOf(ctx, input.Resource).tags.map((t) => [t.Key, t.Value])) };
}

function getAccountSettings(ctx: OpContext) {
  const st = lambdaState(ctx);
  return {
    AccountLimit: {
      ConcurrentExecutions: st.concurrencyLimit,
      UnreservedConcurrentExecutions: unreserved(ctx),
      CodeSizeUnzipped: 262144000,
      CodeSizeZipped: 52428800,
      TotalCodeSize: 80530636800,
    },
    AccountUsage: { FunctionCount: st.functions.length, TotalCodeSize: 0 },
  };
}

function getConfig(ctx: OpContext, input: { FunctionName?: string; Qualifier?: string }) {
  const fn = functionOf(ctx, input.FunctionName);
  const qualifier = String(input.Qualifier ?? "");
  checkQualifier(ctx, fn, qualifier);
  const p = fn.provisioned.find((x) => x.qualifier === qualifier);
  if (!p)
    throw new CloudApiError(
      "ProvisionedConcurrencyConfigNotFoundException",
      `No Provisioned Concurrency Config found for this function: ${functionArn(ctx, fn.name, qualifier)}`,
      404,
    );
  return shapeConfig(ctx, p);
}

function putConfig(
  ctx: OpContext,
  input: { FunctionName?: string; Qualifier?: string; ProvisionedConcurrentExecutions?: number },
) {
  const fn = functionOf(ctx, input.FunctionName);
  const qualifier = String(input.Qualifier ?? "");
  checkQualifier(ctx, fn, qualifier);
  const n = input.ProvisionedConcurrentExecutions;
  if (n === undefined || !Number.isInteger(n) || n < 1)
    throw invalid("ProvisionedConcurrentExecutions must be an integer of at least 1.");
  const room = unreserved(ctx, { fn: fn.name, qualifier }) - KEEP_UNRESERVED;
  if (n > room)
    throw invalid(
      `Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${KEEP_UNRESERVED}].`,
    );
  return shapeConfig(ctx, requestProvisioned(ctx, fn.name, qualifier, n));
}

function deleteConfig(ctx: OpContext, input: { FunctionName?: string; Qualifier?: string }) {
  const fn = functionOf(ctx, input.FunctionName);
  const qualifier = String(input.Qualifier ?? "");
  checkQualifier(ctx, fn, qualifier);
  fn.provisioned = fn.provisioned.filter((p) => p.qualifier !== qualifier);
  return {};
}

/**
 * Invoke (RequestResponse): the function's configured answer, as Lambda gives it — StatusCode
 * 200, the payload as bytes, `FunctionError: "Unhandled"` when the function threw. No code runs.
 */
function invoke(ctx: OpContext, input: { FunctionName?: string; InvocationType?: string }) {
  const fn = functionOf(ctx, input.FunctionName);
  if (input.InvocationType === "Event") return { StatusCode: 202 };
  if (input.InvocationType === "DryRun") return { StatusCode: 204 };
  const answers = fn.answers ?? [];
  const answer = answers.length > 1 ? answers.shift() : answers[0];
  const thrown =
    answer && typeof answer === "object" && "functionError" in answer
      ? (answer as { functionError: unknown }).functionError
      : undefined;
  const body = thrown !== undefined ? thrown : (answer ?? {});
  return {
    StatusCode: 200,
    ExecutedVersion: "$LATEST",
    ...(thrown !== undefined ? { FunctionError: "Unhandled" } : {}),
    Payload: new TextEncoder().encode(JSON.stringify(body)),
  };
}

export const lambdaOperations: Record<string, (ctx: OpContext, input: OpInput) => object> = {
  GetFunction: getFunction,
  GetAlias: getAlias,
  ListAliases: listAliases,
  ListTags: listTags,
  GetAccountSettings: getAccountSettings,
  GetProvisionedConcurrencyConfig: getConfig,
  PutProvisionedConcurrencyConfig: putConfig,
  DeleteProvisionedConcurrencyConfig: deleteConfig,
  Invoke: invoke,
};
