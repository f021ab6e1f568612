/** Calls a Lambda handler in-process the way the Lambda runtime would (with a context). */
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

/** Invokes a handler with a fresh context, as one Lambda invocation. */
export function invoke<E, R>(handler: LambdaHandler<E, R>, functionName: string, event: E): Promise<R> {
  return handler(event, lambdaContext(functionName));
}
