/**
 * Api: the HTTP API (API Gateway v2). `/api/*` is the JSON API (packages/functions/src/api.ts)
 * behind IAM auth (SigV4-signed requests from the CLI or an operator's role); access logs go to
 * CloudWatch. Slack's two routes are signed by Slack instead of IAM (see {@link slackChatOps}).
 */

import { must } from "@reflex/core";
import { type IEventBus, Rule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import {
  type ApiRouteProps,
  Config,
  Api as HttpApi,
  type Function as SstFunction,
  type StackContext,
  use,
} from "sst/constructs";
import { useProject } from "sst/project.js";
import { Audit } from "./audit.ts";
import { Bus } from "./bus.ts";
import { auditQueueArn, partitionOf, resourceName } from "./context.ts";
import { deadLetterQueue, reflexFunction } from "./function.ts";
import {
  auditStatement,
  auditVerifyStatements,
  putEventsStatement,
  runControlStatements,
  startExecutionStatement,
  TABLE_WRITES,
  tableStatements,
} from "./iam.ts";
import { suppress } from "./nag.ts";
import { executionArnPrefix, grantPrechecks, Runbooks } from "./runbooks.ts";
import { Storage } from "./storage.ts";

export const API_HANDLER = "packages/functions/src/api.handler";

/** Per-API throttling, so a runaway client cannot start runs faster than guardrails can look at them. */
export const API_THROTTLE = { rate: 20, burst: 40 } as const;

export const SLACK_ACK_HANDLER = "packages/functions/src/slack.handler";
export const SLACK_WORKER_HANDLER = "packages/functions/src/slack-worker.handler";
export const SLACK_NOTIFIER_HANDLER = "packages/functions/src/slack-notifier.handler";

/**
 * Slack ChatOps: `POST /slack/commands` and `POST /slack/interactions` go to the `chatops`
 * function with `authorizer: "none"` — it verifies Slack's v0 signature (the stage's own secret,
 * read from SSM) and acknowledges within 3 s; the work is an asynchronous invocation of `chatops-worker`
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
  // Declared for `sst secrets`, never bound: SST's binding falls back to the app-wide value
  // (and grants its path) when a stage has none; {@link grantStageSecret} reads the stage's only.
  const signingSecret = new Config.Secret(stack, "SLACK_SIGNING_SECRET");
  // Set with `npx sst secrets set SLACK_BOT_TOKEN xoxb-… --stage <stage>`.
  const botToken = new Config.Secret(stack, "SLACK_BOT_TOKEN");
  // An approval answered or a command given in Slack is worked on asynchronously: what still
  // fails after Lambda's two retries is kept here, and pages (Observability).
  const workerDlq = deadLetterQueue(stack, "ChatOpsWorkerDlq", "chatops-worker-dlq");
  const worker = reflexFunction(stack, "ChatOpsWorker", {
    name: "chatops-worker",
    handler: SLACK_WORKER_HANDLER,
    description: "Reflex ChatOps: the work behind a Slack command or button",
    deadLetterQueue: workerDlq,
  });
  grantStageSecret(stack, worker, "SLACK_BOT_TOKEN");
  worker.attachPermissions([
    ...tableStatements(deps.tableArn, TABLE_WRITES.chatopsWorker),
    auditStatement(auditQueueArn(stack)),
    startExecutionStatement(deps.stateMachineArns),
    putEventsStatement(deps.eventBusArn),
    ...runControlStatements(deps.executionArns),
  ]);
  grantPrechecks(stack, worker);
  const ack = reflexFunction(stack, "ChatOpsAck", {
    name: "chatops",
    handler: SLACK_ACK_HANDLER,
    description: "Reflex ChatOps: verifies Slack requests and acknowledges within 3 s",
    environment: { REFLEX_SLACK_WORKER: worker.functionName },
    timeoutSeconds: 5,
  });
  grantStageSecret(stack, ack, "SLACK_SIGNING_SECRET");
  // Its replay guard's conditional put, and nothing else: no read of the table at all.
  ack.attachPermissions(tableStatements(deps.tableArn, TABLE_WRITES.chatopsAck, { read: false }));
  // The unqualified function only (grantInvoke would add `:*`, every version and alias).
  ack.attachPermissions([
    new PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [worker.functionArn] }),
  ]);
  const notifierDlq = deadLetterQueue(stack, "ChatOpsNotifierDlq", "chatops-notifier-dlq");
  const notifier = reflexFunction(stack, "ChatOpsNotifier", {
    name: "chatops-notifier",
    handler: SLACK_NOTIFIER_HANDLER,
    description: "Reflex ChatOps: lifecycle events to Slack, threaded per run",
    deadLetterQueue: notifierDlq,
  });
  grantStageSecret(stack, notifier, "SLACK_BOT_TOKEN");
  notifier.attachPermissions(tableStatements(deps.tableArn, TABLE_WRITES.chatopsNotifier));
  new Rule(stack, "ChatOpsNotifications", {
    eventBus: deps.eventBus,
    eventPattern: { source: ["reflex"] },
    // Delivery retries are EventBridge's; a notice the handler cannot post is retried by Lambda,
    // then kept in the same queue.
    targets: [new LambdaFunction(notifier, { deadLetterQueue: notifierDlq, retryAttempts: 2 })],
  });
  const executions = deps.executionArns.map((a) => `Resource::${a}`);
  suppress(must(worker.role, "worker.role"), [
    {
      id: "AwsSolutions-IAM5",
      reason:
        "Answering approvals from Slack: states:SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat have no resource type (Service Authorization Reference), so AWS requires Resource '*'. Aborting from Slack: states:StopExecution names each of this stage's machines and leaves only the execution name (the run id) open.",
      appliesTo: ["Resource::*", ...executions],
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
    queues: [resourceName(stack, "chatops-worker-dlq", 80), resourceName(stack, "chatops-notifier-dlq", 80)],
  };
}

/** `/sst/<app>/<stage>/Secret/<name>/value`: where `npx sst secrets set <name> … --stage <stage>` puts a secret. */
export function stageSecretParameter(name: string): string {
  return `${useProject().config.ssmPrefix}Secret/${name}/value`;
}

/**
 * Lets `fn` read this stage's value of one secret, and nothing else: its exact parameter (no
 * path wildcard, no app-wide `.fallback`), named in `REFLEX_<name>_PARAMETER` for
 * packages/functions/src/slack/secrets.ts. SecureStrings under the AWS-managed `aws/ssm` key
 * need no KMS grant of their own.
 */
function grantStageSecret(stack: StackContext["stack"], fn: SstFunction, name: string): void {
  const parameter = stageSecretParameter(name);
  fn.addEnvironment(`REFLEX_${name}_PARAMETER`, parameter);
  fn.attachPermissions([
    new PolicyStatement({
      actions: ["ssm:GetParameter"],
      resources: [`arn:${partitionOf(stack)}:ssm:${stack.region}:${stack.account}:parameter${parameter}`],
    }),
  ]);
}

export function Api({ stack }: StackContext) {
  const { table } = use(Storage);
  const { sealed } = use(Audit);
  const { bus } = use(Bus);
  const { runbooks, fanOut } = use(Runbooks);

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
    ...tableStatements(table.tableArn, TABLE_WRITES.api),
    auditStatement(auditQueueArn(stack)),
    // Runbooks' machines, and the fan-out's (`locations`: one child per location).
    startExecutionStatement([...runbooks.map((r) => r.stateMachineArn), fanOut.stateMachineArn]),
    putEventsStatement(bus.eventBusArn),
    ...runControlStatements(executionArns),
    // GET /api/audit/verify and /api/audit/keys: the public key and the locked export, read only.
    ...auditVerifyStatements(sealed.key.keyArn, sealed.bucket.bucketArn),
  ]);
  grantPrechecks(stack, handler);
  handler.addEnvironment("REFLEX_AUDIT_KEY_ARN", sealed.key.keyArn);
  handler.addEnvironment("REFLEX_AUDIT_BUCKET", sealed.bucket.bucketName);
  handler.addEnvironment("REFLEX_AUDIT_HUB", sealed.hub);
  suppress(must(handler.role, "handler.role"), [
    {
      id: "AwsSolutions-IAM5",
      reason:
        "GET /api/audit/verify --source s3 reads the locked audit export, whose objects are named per sealed period under audit/ (read only).",
      appliesTo: [{ regex: "/^Resource::.*audit/\\*$/g" }],
    },
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
    monitored: { functions: [resourceName(stack, "api"), ...slack.functions], queues: slack.queues },
  };
}
