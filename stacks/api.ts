/**
 * Api: the HTTP API (API Gateway v2). `/api/*` is the JSON API (packages/functions/src/api.ts)
 * behind IAM auth (SigV4-signed requests from the CLI or an operator's role); access logs go to
 * CloudWatch. Slack's two routes are signed by Slack instead of IAM (see {@link slackChatOps}).
 */
import { type IEventBus, Rule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
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

export const SLACK_ACK_HANDLER = "packages/functions/src/slack.handler";
export const SLACK_WORKER_HANDLER = "packages/functions/src/slack-worker.handler";
export const SLACK_NOTIFIER_HANDLER = "packages/functions/src/slack-notifier.handler";

/**
 * Slack ChatOps: `POST /slack/commands` and `POST /slack/interactions` go to the `chatops`
 * function with `authorizer: "none"` — it verifies Slack's v0 signature (the secret bound from
 * SSM) and acknowledges within 3 s; the work is an asynchronous invocation of `chatops-worker`
 * (admission, approvals, abort, guardrails; answers through response_url). `chatops-notifier`
 * posts every lifecycle event on Reflex's bus to Slack with the bot token.
 */
function slackChatOps(
  stack: StackContext["stack"],
  deps: {
    tableArn: string;
    eventBusArn: string;
    eventBus: IEventBus;
    stateMachineArns: string[];
    /** Each of this stage's machines' executions (`…:execution:<machine>:*`), never a prefix. */
    executionArns: string[];
  },
) {
  const signingSecret = new Config.Secret(stack, "SLACK_SIGNING_SECRET");
  // Set with `npx sst secrets set SLACK_BOT_TOKEN xoxb-… --stage <stage>`.
  const botToken = new Config.Secret(stack, "SLACK_BOT_TOKEN");
  const worker = reflexFunction(stack, "ChatOpsWorker", {
    name: "chatops-worker",
    handler: SLACK_WORKER_HANDLER,
    description: "Reflex ChatOps: the work behind a Slack command or button",
  });
  worker.bind([botToken]);
  worker.attachPermissions([
    ...tableStatements(deps.tableArn),
    startExecutionStatement(deps.stateMachineArns),
    putEventsStatement(deps.eventBusArn),
    ...runControlStatements(deps.executionArns),
  ]);
  const ack = reflexFunction(stack, "ChatOpsAck", {
    name: "chatops",
    handler: SLACK_ACK_HANDLER,
    description: "Reflex ChatOps: verifies Slack requests and acknowledges within 3 s",
    environment: { REFLEX_SLACK_WORKER: worker.functionName },
    timeoutSeconds: 5,
  });
  ack.bind([signingSecret]);
  ack.attachPermissions(tableStatements(deps.tableArn));
  worker.grantInvoke(ack);
  const notifier = reflexFunction(stack, "ChatOpsNotifier", {
    name: "chatops-notifier",
    handler: SLACK_NOTIFIER_HANDLER,
    description: "Reflex ChatOps: lifecycle events to Slack, threaded per run",
  });
  notifier.bind([botToken]);
  notifier.attachPermissions(tableStatements(deps.tableArn));
  new Rule(stack, "ChatOpsNotifications", {
    eventBus: deps.eventBus,
    eventPattern: { source: ["reflex"] },
    targets: [new LambdaFunction(notifier, { retryAttempts: 2 })],
  });
  for (const fn of [ack, worker, notifier])
    suppress(fn.role!, [
      {
        id: "AwsSolutions-IAM5",
        reason:
          "SST's Config.Secret binding reads the secret's SSM parameters by the stage's path prefix; states:SendTask* take a task token and have no resource type; StopExecution names each of this stage's machines' executions.",
      },
    ]);
  const routes: Record<string, ApiRouteProps<never>> = {
    "POST /slack/commands": { function: ack, authorizer: "none" },
    "POST /slack/interactions": { function: ack, authorizer: "none" },
  };
  return {
    routes,
    signingSecret,
    botToken,
    functions: [
      resourceName(stack, "chatops"),
      resourceName(stack, "chatops-worker"),
      resourceName(stack, "chatops-notifier"),
    ],
  };
}

export function Api({ stack }: StackContext) {
  const { table } = use(Storage);
  const { bus } = use(Bus);
  const { runbooks } = use(Runbooks);

  const handler = reflexFunction(stack, "ApiHandler", {
    name: "api",
    handler: API_HANDLER,
    description: "Reflex JSON API: runbooks, executions, audit",
  });
  const executionArns = runbooks.map((r) => `${executionArnPrefix(r.stateMachineArn)}*`);
  // Set with `npx sst secrets set SLACK_SIGNING_SECRET <secret> --stage <stage>`; read by the Slack routes.
  const slack = slackChatOps(stack, {
    tableArn: table.tableArn,
    eventBusArn: bus.eventBusArn,
    eventBus: bus,
    stateMachineArns: runbooks.map((r) => r.stateMachineArn),
    executionArns,
  });
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
      ...slack.routes,
    },
  });
  // The Slack routes authenticate by Slack's signature, verified in the handler.
  for (const route of Object.keys(slack.routes)) {
    // SST names a route's construct after its key: "POST /slack/commands" → "Route_POST_--slack--commands".
    const id = `Route_${route.replace(/\//g, "--").replace(/ /g, "_")}`;
    const construct = api.node.tryFindChild(id);
    if (!construct) throw new Error(`no route construct ${id} to review for cdk-nag`);
    suppress(construct, [
      {
        id: "AwsSolutions-APIG4",
        reason:
          "Slack cannot sign with SigV4: the chatops handler verifies Slack's v0 request signature (HMAC-SHA256, 300 s window, replay guard)",
      },
    ]);
  }

  stack.addOutputs({ ApiUrl: api.url });
  return {
    api,
    handler,
    slackSigningSecret: slack.signingSecret,
    slackBotToken: slack.botToken,
    monitored: { functions: [resourceName(stack, "api"), ...slack.functions] },
  };
}
