/** Calls a Lambda handler in-process the way the Lambda runtime would (with a context). */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";

export type LambdaHandler<E = never, R = unknown> = (event: E, context: Context) => Promise<R>;

export function lambdaContext(functionName: string): Context {
  const deadline = Date.now() + 900_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION ?? "us-east-1"}:000000000000:function:${functionName}`,
    memoryLimitInMB: "512",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * The function each piece of in-process work runs as, as a Lambda function has its own role:
 * local mode's audit queue names it as the sender of what it audits (deployed, SQS's SenderId).
 */
const running = new AsyncLocalStorage<string>();

/** The local function the caller runs as (undefined: local mode itself, or a test). */
export function currentFunction(): string | undefined {
  return running.getStore();
}

/** Runs `work` as the local function `functionName` (for work that is not a handler invocation). */
export function asFunction<T>(functionName: string, work: () => Promise<T>): Promise<T> {
  return running.run(functionName, work);
}

/** Invokes a handler with a fresh context, as one Lambda invocation. */
export function invoke<E, R>(handler: LambdaHandler<E, R>, functionName: string, event: E): Promise<R> {
  return running.run(functionName, () => handler(event, lambdaContext(functionName)));
}
