/**
 * Errors of the simulated AWS APIs. The model throws {@link CloudApiError} (an AWS error
 * code, a message, an HTTP status); the middleware turns it into the HTTP response AWS would
 * have sent, in the client's own wire protocol ({@link wireErrorResponse}), and hands that to
 * the client's real deserializer. So the exception code under test sees is the one the SDK
 * builds from AWS's answer — the service's modelled class when the code has one (ELBv2's
 * `InvalidTarget` is an `InvalidTargetException`, SSM's `InvalidInstanceId` an
 * `InvalidInstanceId`, Route 53's `NoSuchHostedZone` a `NoSuchHostedZone`), else the service's
 * base exception (`EC2ServiceException` named by the code, as for every EC2 error) — with the
 * `name`, `$fault`, `$metadata.httpStatusCode`, `Code` and `$retryable` the SDK sets. No list of
 * classes is kept here: the client's error registry decides, as it does against AWS.
 */
import { HttpResponse } from "@smithy/core/protocols";

/** An AWS API error raised by the simulated cloud (not a Reflex error: it is what AWS would answer). */
export class CloudApiError extends Error {
  /** The AWS error code, e.g. `InvalidSnapshot.NotFound`. */
  readonly code: string;
  readonly httpStatusCode: number;
  /** Marks throttling errors, which the SDK's retry strategy retries with backoff. */
  readonly throttling: boolean;
  constructor(
    code: string,
    message: string,
    httpStatusCode = 400,
    opts: { throttling?: boolean; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "CloudApiError";
    this.code = code;
    this.httpStatusCode = httpStatusCode;
    this.throttling = opts.throttling ?? false;
  }
}

/** Each simulated service's own throttling code, as AWS sends it (HTTP 400; Lambda's 429). */
const THROTTLING: Record<string, string> = {
  ec2: "RequestLimitExceeded",
  autoscaling: "Throttling",
  elbv2: "Throttling",
  cloudwatch: "Throttling",
  route53: "Throttling",
  ssm: "ThrottlingException",
  ecs: "ThrottlingException",
  "application-autoscaling": "ThrottlingException",
  lambda: "TooManyRequestsException",
  rds: "Throttling",
  "dynamodb-tables": "ThrottlingException",
};

/** Each simulated service's throttling error, as AWS sends it. */
export function throttlingError(service: string): CloudApiError {
  const status = service === "lambda" ? 429 : 400;
  return new CloudApiError(THROTTLING[service] ?? "Throttling", "Rate exceeded", status, {
    throttling: true,
  });
}

/** The wire protocol of a client, as its `config.protocol` names it (`aws.protocols#awsQuery`, …). */
export interface WireProtocol {
  shapeId: string;
  /** awsJson services that also send the Query code (`x-amzn-query-error`), e.g. CloudWatch. */
  queryCompatible: boolean;
}

/** The protocol an SDK v3 client speaks, read from its resolved config. */
export function protocolOf(client: unknown): WireProtocol {
  const protocol = (
    client as { config?: { protocol?: { getShapeId?: () => unknown; awsQueryCompatible?: unknown } } }
  ).config?.protocol;
  const shapeId = typeof protocol?.getShapeId === "function" ? String(protocol.getShapeId()) : "";
  return { shapeId, queryCompatible: protocol?.awsQueryCompatible === true };
}

const xml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * The HTTP response AWS sends for an error, in the given protocol: EC2's
 * `<Response><Errors><Error>`, Query's and REST-XML's `<ErrorResponse><Error>`, JSON's
 * `{ "__type" }` (with `x-amzn-query-error` for Query-compatible services).
 */
export function wireErrorResponse(
  protocol: WireProtocol,
  error: CloudApiError,
  requestId: string,
): HttpResponse {
  const type = error.httpStatusCode >= 500 ? "Receiver" : "Sender";
  const headers: Record<string, string> = { "x-amzn-requestid": requestId };
  let body: string;
  if (protocol.shapeId.endsWith("#ec2Query")) {
    headers["content-type"] = "text/xml;charset=UTF-8";
    body = `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xml(error.code)}</Code><Message>${xml(error.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
  } else if (protocol.shapeId.endsWith("#awsJson1_0") || protocol.shapeId.endsWith("#awsJson1_1")) {
    headers["content-type"] = `application/x-amz-json-${protocol.shapeId.endsWith("1_0") ? "1.0" : "1.1"}`;
    if (protocol.queryCompatible) headers["x-amzn-query-error"] = `${error.code};${type}`;
    body = JSON.stringify({ __type: error.code, message: error.message });
  } else if (protocol.shapeId.endsWith("#restJson1")) {
    // Lambda and the other REST-JSON services: the code in a header, the message in the body.
    headers["content-type"] = "application/json";
    headers["x-amzn-errortype"] = error.code;
    body = JSON.stringify({ Type: type === "Sender" ? "User" : "Service", message: error.message });
  } else {
    // awsQuery and restXml answer errors alike.
    headers["content-type"] = "text/xml";
    body = `<?xml version="1.0"?>\n<ErrorResponse><Error><Type>${type}</Type><Code>${xml(error.code)}</Code><Message>${xml(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
  }
  return new HttpResponse({ statusCode: error.httpStatusCode, headers, body: Buffer.from(body) });
}
