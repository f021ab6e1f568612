/**
 * HTTP plumbing shared by the API handlers: JSON responses, and the one mapping from Reflex
 * errors to status codes (`{ "error": { code, message, path? } }`).
 */
import { AccessDeniedError, ConflictError, NotFoundError, ReflexError, ValidationError } from "@reflex/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";

export type Response = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): Response {
  return {
    statusCode,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  };
}

/** Maps an error to its HTTP answer. Unexpected errors are 500 without internals. */
export function errorResponse(err: unknown): Response {
  if (err instanceof ValidationError) {
    return json(400, {
      error: {
        code: err.code,
        message: err.message,
        path: err.path,
        issues: err.issues.length ? err.issues : undefined,
      },
    });
  }
  if (err instanceof NotFoundError) return json(404, { error: { code: err.code, message: err.message } });
  if (err instanceof AccessDeniedError) return json(403, { error: { code: err.code, message: err.message } });
  if (err instanceof ConflictError) return json(409, { error: { code: err.code, message: err.message } });
  if (err instanceof ReflexError) return json(500, { error: { code: err.code, message: err.message } });
  return json(500, { error: { code: "internal", message: "internal error; see the logs" } });
}

/** The request body as JSON; ValidationError naming the problem when it is not. */
export function parseBody(event: APIGatewayProxyEventV2): unknown {
  if (!event.body) return {};
  const text = event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ValidationError("invalid_json", `request body is not JSON: ${(err as Error).message}`, [
      { path: "body", message: "not JSON" },
    ]);
  }
}
