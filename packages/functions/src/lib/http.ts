/**
 * HTTP plumbing shared by the API handlers: JSON responses, and the one mapping from Reflex
 * errors to status codes (`{ "error": { code, message, path? } }`).
 */
import {
  AccessDeniedError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  ReflexError,
  UnauthenticatedError,
  UnsupportedMediaTypeError,
  Validate,
  ValidationError,
} from "@reflex/core";
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
    const status =
      err instanceof PayloadTooLargeError ? 413 : err instanceof UnsupportedMediaTypeError ? 415 : 400;
    return json(status, {
      error: {
        code: err.code,
        message: err.message,
        path: err.path,
        issues: err.issues.length ? err.issues : undefined,
      },
    });
  }
  if (err instanceof NotFoundError) return json(404, { error: { code: err.code, message: err.message } });
  if (err instanceof AccessDeniedError)
    return json(403, {
      error: { code: err.code, message: err.message, ...(err.path ? { path: err.path } : {}) },
    });
  if (err instanceof UnauthenticatedError)
    return json(401, { error: { code: err.code, message: err.message } });
  if (err instanceof ConflictError) return json(409, { error: { code: err.code, message: err.message } });
  if (err instanceof ReflexError) return json(500, { error: { code: err.code, message: err.message } });
  return json(500, { error: { code: "internal", message: "internal error; see the logs" } });
}

/** `application/json`, or a JSON-based type such as `application/x-amz-json-1.1`/`application/problem+json`. */
const JSON_MEDIA_TYPE = /^application\/(json|x-amz-json-1\.[01]|[\w.-]+\+json)$/i;

/** True when a Content-Type header names JSON (any parameters, e.g. `; charset=utf-8`, aside). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return JSON_MEDIA_TYPE.test((contentType ?? "").split(";")[0].trim());
}

/**
 * The request body as JSON. Refuses, each with its own error: a body that is not labelled
 * JSON (415), one over {@link Validate.MAX_BODY_BYTES} (413), bytes that are not UTF-8 (400:
 * read leniently they would become U+FFFD and pass), JSON that does not parse, and keys such
 * as `__proto__` (400, see {@link Validate.parseJson}). An empty body is `{}`.
 */
export function parseBody(event: APIGatewayProxyEventV2): unknown {
  if (!event.body) return {};
  const contentType = event.headers?.["content-type"] ?? event.headers?.["Content-Type"];
  return parseJsonBody(contentType, Buffer.from(event.body, event.isBase64Encoded ? "base64" : "utf8"));
}

/** The checks of {@link parseBody} on a body already read as bytes (an empty body is `{}`). */
export function parseJsonBody(contentType: string | undefined, bytes: Uint8Array): unknown {
  if (bytes.length === 0) return {};
  if (!isJsonContentType(contentType)) throw new UnsupportedMediaTypeError(contentType);
  if (bytes.length > Validate.MAX_BODY_BYTES) throw new PayloadTooLargeError(Validate.MAX_BODY_BYTES);
  return Validate.parseJson(Validate.decodeUtf8(bytes));
}

/** An API Gateway result as a Fetch Response (what a Hono handler returns). */
export function toFetchResponse(r: Response): globalThis.Response {
  const headers = new Headers();
  for (const [k, v] of Object.entries(r.headers ?? {})) headers.set(k, String(v));
  return new globalThis.Response(r.body, { status: r.statusCode, headers });
}
