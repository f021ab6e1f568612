/**
 * `POST /events` as the deployed function answers it, in-process: the state table (dynalite), the
 * audit stored at once as the API's role sends it, the function's environment (its name, the
 * deployment's account) around each test, and the request API Gateway hands it from an IAM caller.
 */
import { type ConfigInput, useConfig, validateConfig } from "@reflex/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import type { Storage } from "../../packages/local/src/storage.ts";
import { startTestDynamo, storeAuditAtOnce } from "./dynamo.ts";

/** The deployment's account (`REFLEX_ACCOUNT`): events on the route are stamped with it. */
export const DEPLOYED_ACCOUNT = "123456789012";

/** Registers the hooks (call it at a file's top level), with `config` in force for each test. */
export function deployedEventsApi(config: ConfigInput): void {
  let storage: Storage;
  let stopAudit: () => void;
  beforeAll(async () => {
    storage = await startTestDynamo();
    stopAudit = storeAuditAtOnce("AROAEXAMPLEAPIROLE:reflex-test-api");
  });
  afterAll(async () => {
    stopAudit();
    await storage.close();
  });
  beforeEach(() => {
    process.env.AWS_LAMBDA_FUNCTION_NAME = "reflex-test-api";
    process.env.REFLEX_ACCOUNT = DEPLOYED_ACCOUNT;
    useConfig(validateConfig(config));
  });
  afterEach(() => {
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
    delete process.env.REFLEX_ACCOUNT;
  });
}

/** The POST of `body` as API Gateway hands it to the function, signed by IAM caller `userArn`. */
export function iamPost(userArn: string, body: unknown): APIGatewayProxyEventV2 {
  return {
    body: JSON.stringify(body),
    isBase64Encoded: false,
    headers: { "content-type": "application/json" },
    requestContext: { http: { method: "POST" }, authorizer: { iam: { userArn } } },
  } as unknown as APIGatewayProxyEventV2;
}
