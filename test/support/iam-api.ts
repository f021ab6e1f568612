/**
 * The deployed API's handler called in-process as an IAM caller: the event API Gateway's HTTP API
 * (IAM auth) hands the function, with the caller's ARN where its authorizer puts it.
 */
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { handler } from "../../packages/functions/src/api.ts";
import { lambdaContext } from "../../packages/local/src/lambda.ts";

function event(
  method: string,
  path: string,
  userArn: unknown,
  account: string,
  body?: unknown,
): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: { host: "api.example.com", "content-type": "application/json" },
    requestContext: {
      domainName: "api.example.com",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "10.0.0.1", userAgent: "test" },
      authorizer: { iam: { userArn, accountId: account } },
    },
    body: body === undefined ? undefined : JSON.stringify(body),
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
      event(method, path, userArn, account, body),
      lambdaContext("reflex-test-api") as Context,
    );
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
}
