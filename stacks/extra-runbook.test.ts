/**
 * Registering a runbook in core is the whole of deploying it: synthesized with one more runbook
 * in the registry, the app gains its state machine, its step worker and policy, the right to
 * start it, and its alarms, with no stack edited.
 */
import { Runbooks } from "@reflex/core";
import { Template } from "aws-cdk-lib/assertions";
import { getStack } from "sst/constructs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { Observability } from "./observability.ts";
import { Runbooks as RunbooksStack } from "./runbooks.ts";
import { SHARED_SYNTH_TIMEOUT, sharedSynth } from "./support/shared-synth.ts";
import { synthApp, TEST_ENV } from "./support/synth.ts";
import { Triggers } from "./triggers.ts";

const PREFIX = `reflex-${TEST_ENV.stage}`;
const NAME = "restart-group";

const restartGroup = Runbooks.defineRunbook({
  name: NAME,
  summary: "Replace the instances of a tagged Auto Scaling group",
  // Low: a medium one needs approval states (checkSpec), and this one's point is the stacks.
  risk: "low",
  params: z.object({ group: z.string().min(1) }),
  example: { group: "web" },
  cap: { maxTargets: 1 },
  permissions: [
    { actions: ["autoscaling:DescribeAutoScalingGroups"], mutating: false },
    { actions: ["autoscaling:StartInstanceRefresh", "autoscaling:CancelInstanceRefresh"], mutating: true },
  ],
  rollback: ["cancel"],
  dryRun: "Reports the group it would refresh; no mutating call.",
  implementation: async () => ({ steps: { refresh: async () => ({}), cancel: async () => ({}) } }),
  stateMachine: {
    StartAt: "Refresh",
    States: {
      Refresh: {
        Type: "Task",
        Resource: "${StepHandlerArn}",
        Parameters: { runbook: NAME, step: "refresh", "input.$": "$" },
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Cancel" }],
        End: true,
      },
      Cancel: {
        Type: "Task",
        Resource: "${StepHandlerArn}",
        Parameters: { runbook: NAME, step: "cancel", "input.$": "$" },
        Next: "Failed",
      },
      Failed: { Type: "Fail", Error: "RefreshFailed" },
    },
  },
});

let runbooks: Template;
let triggers: Template;
let observability: Template;
let cleanup = () => {};
let bundling: { built: number; copied: number };

beforeAll(async () => {
  // Another app than the shared one, from the same sources: its bundles are the shared synthesis's.
  const shared = await sharedSynth();
  Runbooks.register(restartGroup);
  const synth = await synthApp({ bundlesFrom: shared.bundles });
  cleanup = synth.cleanup;
  bundling = synth.bundling();
  runbooks = Template.fromStack(getStack(RunbooksStack));
  triggers = Template.fromStack(getStack(Triggers));
  observability = Template.fromStack(getStack(Observability));
}, SHARED_SYNTH_TIMEOUT + 120_000);

afterAll(() => cleanup());

describe("a runbook registered in core", () => {
  it("is deployed from the same bundles: every function's bundle is a copy of the shared synthesis's", () => {
    // A step worker per runbook, and the platform's eleven functions (the audit writer the ninth,
    // the audit sealer the tenth, the fan-out over locations the eleventh).
    expect(bundling).toEqual({ built: 0, copied: Runbooks.list().length + 11 });
  });

  it("gets its own STANDARD state machine running its ASL", () => {
    const machine = Object.values(runbooks.findResources("AWS::StepFunctions::StateMachine")).find(
      (m) => m.Properties.StateMachineName === `${PREFIX}-${NAME}`,
    );
    expect(machine?.Properties).toMatchObject({
      StateMachineType: "STANDARD",
      TracingConfiguration: { Enabled: true },
    });
    expect(JSON.parse(machine?.Properties.DefinitionString)).toEqual(restartGroup.stateMachine);
  });

  it("gets a step worker whose policy is the runbook's declared permissions, tag-conditioned", () => {
    runbooks.hasResourceProperties("AWS::Lambda::Function", {
      FunctionName: `${PREFIX}-step-${NAME}`,
      Handler: "packages/functions/src/step.handler",
      Environment: { Variables: { REFLEX_RUNBOOK: NAME } },
    });
    runbooks.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: [
          { Effect: "Allow", Action: "autoscaling:DescribeAutoScalingGroups", Resource: "*" },
          {
            Effect: "Allow",
            Action: ["autoscaling:StartInstanceRefresh", "autoscaling:CancelInstanceRefresh"],
            Resource: "*",
            Condition: { StringEquals: { "aws:ResourceTag/reflex:managed": "true" } },
          },
        ],
      },
    });
  });

  it("can be started by the trigger and the schedule function", () => {
    const arn = `arn:aws:states:${TEST_ENV.region}:${TEST_ENV.account}:stateMachine:${PREFIX}-${NAME}`;
    const starts = Object.values(triggers.findResources("AWS::IAM::Policy"))
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s: { Action: unknown }) => s.Action === "states:StartExecution");
    expect(starts).toHaveLength(2);
    for (const s of starts) expect(s.Resource).toContain(arn);
  });

  it("is watched: its failed, timed-out and aborted runs alarm, and the alarm topic accepts them", () => {
    const machine = `arn:aws:states:${TEST_ENV.region}:${TEST_ENV.account}:stateMachine:${PREFIX}-${NAME}`;
    const alarms = Object.values(observability.findResources("AWS::CloudWatch::Alarm"));
    const watched = alarms.map((a) => `${a.Properties.MetricName} ${a.Properties.Dimensions[0].Value}`);
    expect(watched).toEqual(
      expect.arrayContaining([
        `ExecutionsFailed ${machine}`,
        `ExecutionsTimedOut ${machine}`,
        `ExecutionsAborted ${machine}`,
      ]),
    );
    const topicPolicy = Object.values(observability.findResources("AWS::SNS::TopicPolicy"))[0];
    const sources = topicPolicy.Properties.PolicyDocument.Statement.find(
      (s: { Sid?: string }) => s.Sid === "CloudWatchAlarmsOfThisStage",
    ).Condition.ArnEquals["aws:SourceArn"];
    expect(sources).toContain(
      `arn:aws:cloudwatch:${TEST_ENV.region}:${TEST_ENV.account}:alarm:${PREFIX}-${NAME}-timed-out`,
    );
  });
});
