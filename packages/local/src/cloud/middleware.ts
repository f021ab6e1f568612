/**
 * Attaches the simulated cloud to a real SDK v3 client as two middlewares:
 *
 * - `reflexCloudCapture` (initialize step, high priority) stashes the caller's input and the
 *   command name in the handler context before any SDK middleware rewrites the input (EC2's
 *   CopySnapshot middleware adds a presigned URL, for instance).
 * - `reflexCloudAnswer`, placed right after the SDK's `retryMiddleware` (finalizeRequest
 *   step, see `@smithy/core/retry`), answers from the model. Being inside the retry loop, each
 *   attempt reaches the model, and a throttling error is retried by the client's real retry
 *   strategy. An answer returns the output at once (nothing is signed or sent); an error goes
 *   on down the stack as the HTTP response AWS would have sent for it:
 * - `reflexCloudWire`, right after the SDK's `deserializerMiddleware` (the last one before the
 *   HTTP handler), hands that response to the client's own deserializer instead of sending the
 *   request, so the exception is the SDK's own, built as it is from AWS's answer (api-error.ts).
 *
 * Serialization, endpoint resolution and credential resolution still run: pass dummy
 * credentials, as local mode does.
 */
import { randomUUID } from "node:crypto";
import type { SdkClient } from "@reflex/core/aws";
import { HttpResponse } from "@smithy/core/protocols";
import { CloudApiError, protocolOf, wireErrorResponse } from "./api-error.ts";
import { operationName } from "./faults.ts";

export const CAPTURE_MIDDLEWARE = "reflexCloudCapture";
export const ANSWER_MIDDLEWARE = "reflexCloudAnswer";
export const WIRE_MIDDLEWARE = "reflexCloudWire";
/** The SDK's deserializer middleware name (`deserializerMiddlewareOption.name` in `@smithy/core`). */
export const DESERIALIZER_MIDDLEWARE = "deserializerMiddleware";
/** The SDK's retry middleware name (`retryMiddlewareOptions.name` in `@smithy/core/retry`). */
export const RETRY_MIDDLEWARE = "retryMiddleware";

const STASH = "reflexCloudCall";
const ERROR_STASH = "reflexCloudError";

export interface SimulatedCall {
  service: string;
  region: string;
  operation: string;
  input: unknown;
  /** The access key the call would have been signed with (only with `identify`). */
  accessKeyId?: string;
}

/** Answers one call: resolves to the output without `$metadata`, or throws a {@link CloudApiError}. */
export type CallAnswerer = (call: SimulatedCall) => Promise<object>;

/** The SDK's handler context, with what these middlewares stash in it between steps. */
interface MiddlewareContext {
  commandName?: string;
  [STASH]?: { input: unknown; commandName?: string };
  [ERROR_STASH]?: unknown;
  [key: string]: unknown;
}

export function attachAnswerer(
  client: SdkClient,
  service: string,
  region: string,
  answer: CallAnswerer,
  opts: { identify?: boolean } = {},
): void {
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>, context: MiddlewareContext) =>
      async (args: { input: unknown }) => {
        context[STASH] = { input: args.input, commandName: context.commandName };
        return next(args);
      },
    { step: "initialize", name: CAPTURE_MIDDLEWARE, priority: "high", override: true },
  );
  client.middlewareStack.addRelativeTo(
    (next: (args: unknown) => Promise<unknown>, context: MiddlewareContext) =>
      async (args: { input: unknown }) => {
        const stash = context[STASH] ?? { input: args.input, commandName: context.commandName };
        const operation = operationName(String(stash.commandName ?? "Unknown"));
        const requestId = randomUUID();
        let output: object;
        try {
          // The credentials the SDK would sign with (a member account's session, for one).
          const accessKeyId = opts.identify ? await accessKeyOf(client) : undefined;
          output = await answer({ service, region, operation, input: stash.input, accessKeyId });
        } catch (e) {
          const error =
            e instanceof CloudApiError
              ? e
              : new CloudApiError(
                  "InternalError",
                  `simulated cloud failed: ${(e as Error)?.message ?? e}`,
                  500,
                  { cause: e },
                );
          // Down the stack: reflexCloudWire answers with AWS's error response, the SDK deserializes it.
          context[ERROR_STASH] = wireErrorResponse(protocolOf(client), error, requestId);
          return next(args);
        }
        return {
          output: {
            ...output,
            $metadata: { httpStatusCode: 200, requestId, attempts: 1, totalRetryDelay: 0 },
          },
          response: new HttpResponse({
            statusCode: 200,
            headers: { "x-amzn-requestid": requestId, "content-type": "text/xml;charset=UTF-8" },
            body: "",
          }),
        };
      },
    { relation: "after", toMiddleware: RETRY_MIDDLEWARE, name: ANSWER_MIDDLEWARE, override: true },
  );
  client.middlewareStack.addRelativeTo(
    (_next: unknown, context: MiddlewareContext) => async () => {
      const response = context[ERROR_STASH];
      context[ERROR_STASH] = undefined;
      // Only an error answer comes this far; anything else would be a request to the network.
      if (!response) throw new Error("simulated cloud: a call went past its answer");
      return { response };
    },
    { relation: "after", toMiddleware: DESERIALIZER_MIDDLEWARE, name: WIRE_MIDDLEWARE, override: true },
  );
}

async function accessKeyOf(client: SdkClient): Promise<string | undefined> {
  const provider = (client as { config?: { credentials?: unknown } }).config?.credentials;
  if (typeof provider !== "function") return undefined;
  const creds = (await provider()) as { accessKeyId?: string } | undefined;
  return creds?.accessKeyId;
}
