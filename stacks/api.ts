/**
 * Api: the HTTP API (API Gateway v2). `/api/*` is the JSON API (packages/functions/src/api.ts)
 * behind IAM auth (SigV4-signed requests from the CLI or an operator's role); access logs go to
 * CloudWatch. Slack's routes come with the chatops handler (a later issue): they plug in
 * through {@link slackRoutes}, signed by Slack instead of IAM.
 */
import { type ApiRouteProps, Config, Api as HttpApi, type StackContext, use } from "sst/constructs";
import { Bus } from "./bus.ts";
import { resourceName } from "./context.ts";
import { reflexFunction } from "./function.ts";
import { putEventsStatement, runControlStatements, startExecutionStatement, tableStatements } from "./iam.ts";
import { suppress } from "./nag.ts";
import { executionArnPrefix, Runbooks } from "./runbooks.ts";
import { Storage } from "./storage.ts";

export const API_HANDLER = "packages/functions/src/api.handler";

/** Per-API throttling, so a runaway client cannot start runs faster than guardrails can look at them. */
export const API_THROTTLE = { rate: 20, burst: 40 } as const;

/**
 * The hook for Slack ChatOps: `POST /slack/commands` and `POST /slack/interactions`, with
 * `authorizer: "none"` (the handler verifies Slack's v0 signature) and the signing secret bound.
 * Empty until `packages/functions/src/chatops.ts` exists. When it does: make its function with
 * `reflexFunction` (named log group, alarms; add its name to `monitored.functions`), bind the
 * secret, route both paths to it here, suppress AwsSolutions-APIG4 on those two routes with the
 * signature as the reason, and let stacks.test.ts expect them as the only non-IAM routes.
 */
export function slackRoutes(_signingSecret: Config.Secret): Record<string, ApiRouteProps<never>> {
  return {};
}

export function Api({ stack }: StackContext) {
  const { table } = use(Storage);
  const { bus } = use(Bus);
  const { runbooks } = use(Runbooks);

  // Set with `npx sst secrets set SLACK_SIGNING_SECRET <secret> --stage <stage>`; read by the Slack routes.
  const slackSigningSecret = new Config.Secret(stack, "SLACK_SIGNING_SECRET");

  const handler = reflexFunction(stack, "ApiHandler", {
    name: "api",
    handler: API_HANDLER,
    description: "Reflex JSON API: runbooks, executions, audit",
  });
  const executionArns = runbooks.map((r) => `${executionArnPrefix(r.stateMachineArn)}*`);
  handler.attachPermissions([
    ...tableStatements(table.tableArn),
    startExecutionStatement(runbooks.map((r) => r.stateMachineArn)),
    putEventsStatement(bus.eventBusArn),
    ...runControlStatements(executionArns),
  ]);
  suppress(handler.role!, [
    {
      id: "AwsSolutions-IAM5",
      reason:
        "states:SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat take a task token and have no resource type to scope them to (the token is the capability, readable only from the state table); states:StopExecution names each of this stage's state machines exactly and leaves only the execution name open (chosen at start time).",
      appliesTo: ["Resource::*", ...executionArns.map((a) => `Resource::${a}`)],
    },
  ]);

  const api = new HttpApi(stack, "Api", {
    cors: false,
    accessLog: { retention: "one_month" },
    defaults: { authorizer: "iam", throttle: API_THROTTLE },
    routes: {
      "ANY /api/{proxy+}": { function: handler, authorizer: "iam" },
      // The event gate over HTTP (what `reflex events put` calls locally), behind IAM like the rest.
      "POST /events": { function: handler, authorizer: "iam" },
      ...slackRoutes(slackSigningSecret),
    },
  });

  stack.addOutputs({ ApiUrl: api.url });
  return { api, handler, slackSigningSecret, monitored: { functions: [resourceName(stack, "api")] } };
}
