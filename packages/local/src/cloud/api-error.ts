/**
 * Errors of the simulated AWS APIs. The model throws {@link CloudApiError} (an AWS error
 * code, a message, an HTTP status); the middleware turns it into the exception the SDK
 * would have built from AWS's response, so code under test sees what it would see in AWS:
 * an `EC2ServiceException` / `AutoScalingServiceException` (or a modelled subclass such as
 * Auto Scaling's `InvalidNextToken`) whose `name` is the AWS error code.
 */
import * as AutoScaling from "@aws-sdk/client-auto-scaling";
import { EC2ServiceException } from "@aws-sdk/client-ec2";
import { ServiceException } from "@smithy/core/client";
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

/** Each simulated service's throttling error, as AWS sends it. */
export function throttlingError(service: string): CloudApiError {
  return service === "autoscaling"
    ? new CloudApiError("Throttling", "Rate exceeded", 400, { throttling: true })
    : new CloudApiError("RequestLimitExceeded", "Request limit exceeded.", 400, { throttling: true });
}

type ExceptionCtor = new (opts: any) => ServiceException;

/** A modelled exception class of the service's SDK package, when the code has one. */
function modelledException(service: string, code: string): ExceptionCtor | undefined {
  if (service !== "autoscaling") return undefined; // EC2 models no errors: every EC2 error is the base exception.
  const candidate = (AutoScaling as Record<string, unknown>)[code];
  return typeof candidate === "function" &&
    candidate.prototype instanceof AutoScaling.AutoScalingServiceException
    ? (candidate as ExceptionCtor)
    : undefined;
}

function baseException(service: string): ExceptionCtor {
  if (service === "ec2") return EC2ServiceException;
  if (service === "autoscaling") return AutoScaling.AutoScalingServiceException;
  return ServiceException;
}

/**
 * Builds the SDK exception for a simulated error, with the fields the SDK's query-protocol
 * deserializer sets: `name`, `message`, `$fault`, `$metadata`, `Code`, `Error`, and the
 * raw `$response` (non-enumerable, as the SDK does).
 */
export function toServiceException(
  service: string,
  error: CloudApiError,
  requestId: string,
): ServiceException {
  const $fault = error.httpStatusCode >= 500 ? "server" : "client";
  const $metadata = { httpStatusCode: error.httpStatusCode, requestId, attempts: 1, totalRetryDelay: 0 };
  const Modelled = modelledException(service, error.code);
  const exception = Modelled
    ? new Modelled({ message: error.message, $metadata })
    : new (baseException(service))({ name: error.code, $fault, $metadata, message: error.message });
  const Type = $fault === "client" ? "Sender" : "Receiver";
  Object.assign(exception, { Code: error.code, Error: { Type, Code: error.code, Message: error.message } });
  if (error.throttling) Object.assign(exception, { $retryable: { throttling: true } });
  Object.defineProperty(exception, "$response", {
    value: new HttpResponse({
      statusCode: error.httpStatusCode,
      headers: { "x-amzn-requestid": requestId, "content-type": "text/xml" },
      body: "",
    }),
    enumerable: false,
  });
  return exception;
}
