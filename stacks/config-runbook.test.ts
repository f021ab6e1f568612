/**
 * A team's own runbook, listed in its config (`runbooks: [restartService]`) and living outside
 * packages/, deployed as the built-ins are: its state machine, a step worker with the
 * permissions its steps use, the AWS SDK calls its state machine makes on the state machine's
 * role — each fenced by the automation tag, evaluated — and cdk-nag clean.
 */
import { Template } from "aws-cdk-lib/assertions";
import { getStack } from "sst/constructs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restartService } from "../examples/runbooks/restart-service/index.ts";
import { Runbooks as RunbooksStack } from "./runbooks.ts";
import { evaluate, type PolicyDocument, resolveTokens } from "./support/policy-sim.ts";
import { SHARED_SYNTH_TIMEOUT, sharedSynth } from "./support/shared-synth.ts";
import { ROOT, synthApp, TEST_ENV } from "./support/synth.ts";

type Resources = Record<string, { Type: string; Properties?: any }>;
const { region, account } = TEST_ENV;
const NAME = `reflex-${TEST_ENV.stage}-restart-service`;
const INSTANCE = `arn:aws:ec2:${region}:${account}:instance/i-0123456789abcdef0`;
const TAGGED = { "aws:ResourceTag/reflex:managed": "true" };

let resources: Resources;
let findings: string[];
let cleanup = () => {};
const policiesOf = (roleId: string): PolicyDocument[] =>
  Object.values(resources)
    .filter((r) => r.Type === "AWS::IAM::Policy")
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .map((p) => resolveTokens(p.Properties.PolicyDocument, { region, account }) as PolicyDocument);

beforeAll(async () => {
  // Another app than the shared one, from the same sources: the functions it shares with the
  // fixture get the shared synthesis's bundles (a copy, byte for byte), its own are built.
  const shared = await sharedSynth();
  const synth = await synthApp({
    configFile: `${ROOT}/examples/runbooks/reflex.config.ts`,
    nag: true,
    bundlesFrom: shared.bundles,
  });
  cleanup = synth.cleanup;
  const assembly = synth.app.synth();
  findings = assembly.stacks.flatMap((s) =>
    s.messages
      .filter(
        (m) => (m.level === "error" || m.level === "warning") && /AwsSolutions-/.test(String(m.entry.data)),
      )
      .map((m) => `${m.id}: ${String(m.entry.data).split("\n")[0]}`),
  );
  resources = (Template.fromStack(getStack(RunbooksStack)).toJSON() as { Resources: Resources }).Resources;
}, SHARED_SYNTH_TIMEOUT + 300_000);

afterAll(() => cleanup());

describe("a runbook from the config, outside packages/", () => {
  it("gets its state machine, running its ASL", () => {
    const machine = Object.values(resources).find(
      (r) => r.Type === "AWS::StepFunctions::StateMachine" && r.Properties.StateMachineName === NAME,
    );
    expect(JSON.parse(machine?.Properties.DefinitionString)).toEqual(restartService.stateMachine);
  });

  it("lets its state machine send the restart only to instances carrying the automation tag", async () => {
    const [roleId] = Object.entries(resources).find(
      ([, r]) => r.Type === "AWS::StepFunctions::StateMachine" && r.Properties.StateMachineName === NAME,
    )![1].Properties.RoleArn["Fn::GetAtt"];
    const machine = policiesOf(roleId);
    const send = (resource: string, context = {}) =>
      evaluate({ action: "ssm:SendCommand", resource, context }, machine);
    expect(await send(INSTANCE, TAGGED)).toBe("Allowed");
    expect(await send(INSTANCE)).toBe("ImplicitlyDenied");
    // The document half: AWS-RunShellScript only, named exactly. (The evaluator cannot take an
    // AWS-owned document's ARN, which has no account, so the statement is checked as written.)
    const documents = machine
      .flatMap((d) => d.Statement as Array<{ Action: string | string[]; Resource: string | string[] }>)
      .filter((st) => [st.Action].flat().includes("ssm:SendCommand"))
      .flatMap((st) => [st.Resource].flat())
      .filter((r) => r.includes(":document/"));
    expect(documents).toEqual(["arn:aws:ssm:*::document/AWS-RunShellScript"]);
  });

  it("gives its step worker only what its steps call", async () => {
    const fn = Object.values(resources).find(
      (r) =>
        r.Type === "AWS::Lambda::Function" &&
        r.Properties.FunctionName === `reflex-${TEST_ENV.stage}-step-restart-service`,
    );
    const worker = policiesOf(fn?.Properties.Role["Fn::GetAtt"][0]);
    expect(await evaluate({ action: "ec2:DescribeInstances", resource: "*" }, worker)).toBe("Allowed");
    expect(await evaluate({ action: "ssm:SendCommand", resource: INSTANCE, context: TAGGED }, worker)).toBe(
      "ImplicitlyDenied",
    );
  });

  it("lets execution-status and the reconciler put drill reports under reports/drills/ only (restore keeps a history)", async () => {
    const roleOf = (name: string) =>
      policiesOf(
        Object.values(resources).find(
          (r) =>
            r.Type === "AWS::Lambda::Function" &&
            r.Properties.FunctionName === `reflex-${TEST_ENV.stage}-${name}`,
        )?.Properties.Role["Fn::GetAtt"][0],
      );
    const bucket = "arn:aws:s3:::reports-bucket";
    for (const name of ["execution-status", "reconcile"]) {
      const role = roleOf(name);
      const may = (action: string, key: string) => evaluate({ action, resource: `${bucket}/${key}` }, role);
      expect(await may("s3:PutObject", "reports/drills/db-1/2026-12-07T040000Z.json"), name).toBe("Allowed");
      expect(await may("s3:PutObject", "reports/drills/summary/2026-12.json"), name).toBe("Allowed");
      for (const key of ["manifests/backup-1.json", "reports/patch/2026-12-07/run.json", "audit/x.json"])
        expect(await may("s3:PutObject", key), `${name} ${key}`).toBe("ImplicitlyDenied");
      for (const action of ["s3:GetObject", "s3:DeleteObject"])
        expect(await may(action, "reports/drills/db-1/2026-12-07T040000Z.json"), `${name} ${action}`).toBe(
          "ImplicitlyDenied",
        );
    }
  });

  it("passes cdk-nag's AwsSolutions checks with no unsuppressed finding", () => {
    expect(findings).toEqual([]);
  });
});

describe("restore's step worker (the verify hook)", () => {
  it("may invoke a verify hook only when the function carries the automation tag", async () => {
    const fn = Object.values(resources).find(
      (r) =>
        r.Type === "AWS::Lambda::Function" &&
        r.Properties.FunctionName === `reflex-${TEST_ENV.stage}-step-restore`,
    );
    const worker = policiesOf(fn?.Properties.Role["Fn::GetAtt"][0]);
    const hook = `arn:aws:lambda:${region}:${account}:function:orders-check`;
    const may = (context = {}) =>
      evaluate({ action: "lambda:InvokeFunction", resource: hook, context }, worker);
    expect(await may(TAGGED)).toBe("Allowed");
    expect(await may()).toBe("ImplicitlyDenied");
    expect(await may({ "aws:ResourceTag/reflex:managed": "false" })).toBe("ImplicitlyDenied");
    expect(
      await evaluate({ action: "lambda:UpdateFunctionCode", resource: hook, context: TAGGED }, worker),
    ).toBe("ImplicitlyDenied");
  });
});

describe("scale-service's step worker (containers and functions)", () => {
  const SERVICE = `arn:aws:ecs:${region}:${account}:service/prod/api`;
  const TARGET = `arn:aws:application-autoscaling:${region}:${account}:scalable-target/0123456789abcdef0123456789abcdef`;
  const FUNCTION_ONLY = `arn:aws:lambda:${region}:${account}:function:checkout`;
  const worker = () => {
    const fn = Object.values(resources).find(
      (r) =>
        r.Type === "AWS::Lambda::Function" &&
        r.Properties.FunctionName === `reflex-${TEST_ENV.stage}-step-scale-service`,
    );
    return policiesOf(fn?.Properties.Role["Fn::GetAtt"][0]);
  };
  const may = (action: string, resource: string, context = {}) =>
    evaluate({ action, resource, context }, worker());

  it("may change a service, a scalable target and provisioned concurrency only where the automation tag is", async () => {
    for (const [action, resource] of [
      ["ecs:UpdateService", SERVICE],
      ["application-autoscaling:RegisterScalableTarget", TARGET],
    ]) {
      expect(await may(action, resource, TAGGED), `${action} tagged`).toBe("Allowed");
      expect(await may(action, resource), `${action} untagged`).toBe("ImplicitlyDenied");
      expect(
        await may(action, resource, { "aws:ResourceTag/reflex:managed": "false" }),
        `${action} tagged otherwise`,
      ).toBe("ImplicitlyDenied");
    }
    expect(await may("ecs:DescribeServices", "*")).toBe("Allowed");
    // Provisioned concurrency is put on an alias or a version, whose ARNs the evaluator cannot
    // tell apart (function:<name>:<qualifier>): the statement is checked as written instead.
    const lambda = worker()
      .flatMap(
        (d) => d.Statement as Array<{ Action: string | string[]; Resource: unknown; Condition?: unknown }>,
      )
      .filter((st) => [st.Action].flat().includes("lambda:PutProvisionedConcurrencyConfig"));
    expect(lambda).toEqual([
      {
        Effect: "Allow",
        Action: ["lambda:PutProvisionedConcurrencyConfig", "lambda:DeleteProvisionedConcurrencyConfig"],
        Resource: `arn:aws:lambda:*:${account}:function:*:*`,
        Condition: { StringEquals: { "aws:ResourceTag/reflex:managed": "true" } },
      },
    ]);
  });

  it("may do nothing else to them, tagged or not", async () => {
    for (const [action, resource] of [
      ["ecs:DeleteService", SERVICE],
      ["ecs:CreateService", SERVICE],
      ["ecs:TagResource", SERVICE],
      ["application-autoscaling:DeregisterScalableTarget", TARGET],
      ["application-autoscaling:PutScalingPolicy", TARGET],
      ["application-autoscaling:TagResource", TARGET],
      ["lambda:UpdateFunctionCode", FUNCTION_ONLY],
      ["lambda:UpdateFunctionConfiguration", FUNCTION_ONLY],
      ["lambda:PutFunctionConcurrency", FUNCTION_ONLY],
      ["lambda:TagResource", FUNCTION_ONLY],
      ["lambda:InvokeFunction", FUNCTION_ONLY],
      ["iam:PassRole", `arn:aws:iam::${account}:role/admin`],
    ])
      expect(await may(action, resource, TAGGED), action).toBe("ImplicitlyDenied");
  });
});
