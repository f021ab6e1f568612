/**
 * Hono apps as API Gateway (HTTP API, payload v2) handlers, through Hono's AWS Lambda adapter,
 * with the two requests the adapter cannot build answered in the API's own error shape.
 */
import type { APIGatewayProxyEventV2, Context as LambdaContext } from "aws-lambda";
import type { Hono } from "hono";
import { handle } from "hono/aws-lambda";
import { json, type Response } from "./http.ts";

/** What Hono's AWS Lambda adapter passes each route as `c.env`: the event it was invoked with. */
export type LambdaBindings = { Bindings: { event?: APIGatewayProxyEventV2; lambdaContext?: LambdaContext } };

/**
 * The app as a v2 handler. A GET or HEAD body is dropped first (a Fetch Request may not carry
 * one, and the adapter would answer a plain-text 400; the routes never read one); a request the
 * adapter cannot build at all (its plain-text 400 / 500) is answered as `{ error: {...} }`.
 */
export function lambdaHandler<E extends LambdaBindings>(
  app: Hono<E>,
): (event: APIGatewayProxyEventV2, context: LambdaContext) => Promise<Response> {
  const adapter = handle(app as unknown as Hono);
  return async (event, context) => {
    const method = event.requestContext.http.method.toUpperCase();
    const request = method === "GET" || method === "HEAD" ? { ...event, body: undefined } : event;
    const out = (await adapter(request as never, context)) as Response;
    const type = String(out.headers?.["content-type"] ?? "");
    if (out.statusCode >= 400 && !type.startsWith("application/json"))
      return out.statusCode === 400
        ? json(400, { error: { code: "bad_request", message: "the request could not be read" } })
        : json(500, { error: { code: "internal", message: "internal error; see the logs" } });
    return out;
  };
}
