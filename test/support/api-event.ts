/**
 * The deployed API's handler called in-process: the event API Gateway's HTTP API hands the
 * function (with the caller where its authorizer puts it), and a caller signed by IAM.
 */
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { handler } from "../../packages/functions/src/api.ts";
import { lambdaContext } from "../../packages/local/src/lambda.ts";

/** The HTTP API's event for `method path`; `authorizer` as API Gateway fills it (`iam`, `jwt`), if any. */
export function httpApiEvent(
  method: string,
  path: string,
  opts: { host?: string; headers?: Record<string, string>; authorizer?: unknown; body?: string } = {},
): APIGatewayProxyEventV2 {
  const host = opts.host ?? "api.example.com";
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: { host, ...opts.headers },
    requestContext: {
      domainName: host,
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "10.0.0.1", userAgent: "test" },
      ...(opts.authorizer ? { authorizer: opts.authorizer } : {}),
    },
    body: opts.body,
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
}

/**
 * A caller of the API in `account`: `call(userArn, method, path, body?)` answers the status and the
 * parsed body. `userArn` is what the authorizer would pass (a test may pass what it should never).
 */
export function iamApi(account: string) {
  return async (userArn: unknown, method: string, path: string, body?: unknown) => {
    const res = await handler(
      httpApiEvent(method, path, {
        headers: { "content-type": "application/json" },
        authorizer: { iam: { userArn, accountId: account } },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
      lambdaContext("reflex-test-api") as Context,
    );
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
}
