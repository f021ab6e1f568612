/**
 * The whole SST app, synthesized once offline (with the fixture config: rules, schedules,
 * windows) and checked stack by stack, then against cdk-nag's AwsSolutions pack.
 */
import { readFileSync } from "node:fs";
import { type Config, createTableInput, Locations, loadConfig, Runbooks, substitute } from "@reflex/core";
import { Match, type Template } from "aws-cdk-lib/assertions";
import type { CloudAssembly } from "aws-cdk-lib/cx-api";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AUDIT_LAG_METRIC as RECONCILER_AUDIT_LAG_METRIC,
  LOST_RUNS_METRIC as RECONCILER_METRIC,
} from "../packages/functions/src/reconcile.ts";
import { Api } from "./api.ts";
import { Audit } from "./audit.ts";
import { Bus } from "./bus.ts";
import { isProdStage } from "./context.ts";
import { effectivePermissions } from "./iam.ts";
import { AUDIT_LAG_METRIC, LOST_RUNS_METRIC, Observability } from "./observability.ts";
import { Runbooks as RunbooksStack, stepWorkerTimeoutSeconds } from "./runbooks.ts";
import { Storage } from "./storage.ts";
import { SHARED_SYNTH_TIMEOUT, sharedSynth } from "./support/shared-synth.ts";
import { FIXTURE_CONFIG, TEST_ENV } from "./support/synth.ts";
import { Triggers } from "./triggers.ts";

type Resources = Record<string, { Type: string; Properties?: any; Metadata?: any }>;
interface Statement {
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, string>>;
}

const STACKS = { Storage, Audit, Bus, Runbooks: RunbooksStack, Triggers, Api, Observability };
const PREFIX = `reflex-${TEST_ENV.stage}`;
const SM_ARN_PREFIX = `arn:aws:states:${TEST_ENV.region}:${TEST_ENV.account}:stateMachine:${PREFIX}-`;

let assembly: CloudAssembly;
const templates = {} as Record<keyof typeof STACKS, Template>;
let fixture: { rules: any[]; schedules: any[]; windows: any[] };

let fixtureConfig: Config;
beforeAll(async () => {
  const synth = await sharedSynth();
  assembly = synth.assembly;
  for (const [name, fn] of Object.entries(STACKS))
    templates[name as keyof typeof STACKS] = synth.template(fn);
  fixture = (await import(FIXTURE_CONFIG)).default;
  // The app was synthesized in another process (the shared synth): its config, loaded here as it loaded it.
  fixtureConfig = await loadConfig(FIXTURE_CONFIG);
}, SHARED_SYNTH_TIMEOUT);

const resources = (t: Template, type: string): Resources => t.findResources(type) as Resources;
const allTemplates = () => Object.values(templates).map((t) => t.toJSON() as { Resources: Resources });
const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** Every policy statement in a template: IAM policies, role inline policies, resource policies. */
function statements(template: { Resources: Resources }): Array<{ resource: string; statement: Statement }> {
  const out: Array<{ resource: string; statement: Statement }> = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    const docs = [
      r.Properties?.PolicyDocument,
      ...(r.Properties?.Policies ?? []).map((p: any) => p.PolicyDocument),
    ];
    for (const doc of docs)
      for (const statement of doc?.Statement ?? []) out.push({ resource: id, statement });
  }
  return out;
}

/** The logical id of the step worker of `runbook`. */
function stepFunctionId(runbook: string): string {
  const fns = resources(templates.Runbooks, "AWS::Lambda::Function");
  const found = Object.entries(fns).find(
    ([, f]) => f.Properties.Environment?.Variables?.REFLEX_RUNBOOK === runbook,
  );
  if (!found) throw new Error(`no step function for ${runbook}`);
  return found[0];
}

/** Statements of every policy attached to the role of function `fnId` in the Runbooks stack. */
function roleStatements(fnId: string): Statement[] {
  const role = resources(templates.Runbooks, "AWS::Lambda::Function")[fnId].Properties.Role["Fn::GetAtt"][0];
  return Object.values(resources(templates.Runbooks, "AWS::IAM::Policy"))
    .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === role))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe("Storage", () => {
  it("builds the state table from core's createTableInput: keys, attributes, GSI, on-demand", () => {
    const input = createTableInput("unused");
    const table = Object.values(resources(templates.Storage, "AWS::DynamoDB::Table"))[0].Properties;
    expect(table.BillingMode).toBe(input.BillingMode);
    expect(table.KeySchema).toEqual(input.KeySchema);
    expect(new Set(table.AttributeDefinitions.map(JSON.stringify))).toEqual(
      new Set(input.AttributeDefinitions.map((a) => JSON.stringify(a))),
    );
    expect(table.GlobalSecondaryIndexes).toEqual(
      input.GlobalSecondaryIndexes.map((g) => ({
        IndexName: g.IndexName,
        KeySchema: g.KeySchema,
        Projection: g.Projection,
      })),
    );
  });

  it("keeps point-in-time recovery on, expires items by expiresAt, encrypts at rest", () => {
    templates.Storage.hasResourceProperties("AWS::DynamoDB::Table", {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it("names the table per stage, so a retained prod table stays findable", () => {
    templates.Storage.hasResourceProperties("AWS::DynamoDB::Table", { TableName: `${PREFIX}-state` });
  });

  it("deploys the config as an SSM parameter every function may read, and only that one", () => {
    templates.Storage.hasResourceProperties("AWS::SSM::Parameter", {
      Name: `/reflex/${TEST_ENV.stage}/config`,
      Type: "String",
      Tier: "Standard",
      Value: JSON.stringify(fixture),
    });
    const arn = `arn:aws:ssm:${TEST_ENV.region}:${TEST_ENV.account}:parameter/reflex/${TEST_ENV.stage}/config`;
    const reads = allTemplates()
      .flatMap((t) => statements(t).map((s) => s.statement))
      // Parameter reads (patch's step worker also runs commands: SendCommand, not parameters).
      .filter((s) => actionsOf(s).some((a) => a.startsWith("ssm:") && a.includes("Parameter")));
    // Every function reads the config (step workers, api, trigger, schedule, execution-status,
    // reconcile, the three ChatOps functions, the audit sealer, and the fan-out)…
    const config = reads.filter((s) => s.Resource === arn);
    expect(config.length).toBe(Runbooks.list().length + 10);
    for (const s of config) expect(s).toEqual({ Effect: "Allow", Action: "ssm:GetParameter", Resource: arn });
    // …and the only other SSM reads are SST's Secret bindings (the Slack secrets), nothing wider.
    for (const s of reads.filter((r) => r.Resource !== arn)) {
      const resources = [s.Resource].flat().map((r) => JSON.stringify(r));
      expect(
        resources.every((r) => /parameter\/sst\/|Secret/.test(r)),
        JSON.stringify(s),
      ).toBe(true);
    }
  });

  it("deletes the table with a dev stage, and retains it in prod stages", () => {
    templates.Storage.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Delete" });
    expect([
      isProdStage("prod"),
      isProdStage("production"),
      isProdStage("prod-eu"),
      isProdStage("test"),
    ]).toEqual([true, true, true, false]);
  });

  it("encrypts, versions and hides the reports bucket, logs access to it, and ages manifests out", () => {
    templates.Storage.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      VersioningConfiguration: { Status: "Enabled" },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: "reports/" },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Prefix: "manifests/",
            Transitions: [{ StorageClass: "STANDARD_IA", TransitionInDays: 30 }],
          }),
          Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 90 } }),
        ]),
      },
    });
  });

  it("refuses plain-HTTP requests to both buckets", () => {
    const policies = resources(templates.Storage, "AWS::S3::BucketPolicy");
    expect(Object.keys(policies)).toHaveLength(2);
    for (const p of Object.values(policies)) {
      expect(p.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      );
    }
  });
});

describe("Bus", () => {
  it("creates the lifecycle bus and archives what it carries", () => {
    templates.Bus.hasResourceProperties("AWS::Events::EventBus", { Name: PREFIX });
    templates.Bus.hasResourceProperties("AWS::Events::Archive", {
      SourceArn: { "Fn::GetAtt": [Match.anyValue(), "Arn"] },
      RetentionDays: 7,
      EventPattern: { account: [TEST_ENV.account] },
    });
  });
});

describe("Runbooks", () => {
  it("lets the patch machine start, read and stop only its own Distributed Map child executions", () => {
    // (The fan-out's machine, its function and the reconciler that resumes it are checked below.)
    const all = statements(templates.Runbooks.toJSON() as { Resources: Resources })
      .filter((s) => !/FanOut|Reconcile/.test(s.resource))
      .map((s) => s.statement);
    const starts = all.filter((s) => actionsOf(s).includes("states:StartExecution"));
    const children = all.filter((s) => actionsOf(s).includes("states:StopExecution"));
    expect(starts.map((s) => s.Resource)).toEqual([`${SM_ARN_PREFIX}patch`]);
    expect(children.map((s) => s.Resource)).toEqual([
      `${SM_ARN_PREFIX.replace(":stateMachine:", ":execution:")}patch/*`,
    ]);
  });

  it("deploys the fan-out over locations as a machine of its own: its ASL, its function, its own child executions only", () => {
    const machines = Object.values(resources(templates.Runbooks, "AWS::StepFunctions::StateMachine"));
    const machine = machines.find((m) => m.Properties.StateMachineName === `${PREFIX}-fan_out`)!.Properties;
    const fns = resources(templates.Runbooks, "AWS::Lambda::Function");
    const [fnId] = Object.entries(fns).find(([, f]) => f.Properties.FunctionName === `${PREFIX}-fan-out`)!;
    expect(machine.DefinitionSubstitutions).toEqual({ FanOutHandlerArn: { "Fn::GetAtt": [fnId, "Arn"] } });
    expect(JSON.parse(machine.DefinitionString)).toEqual(Locations.fanOutStateMachine());
    const role = machine.RoleArn["Fn::GetAtt"][0];
    const grants = Object.values(resources(templates.Runbooks, "AWS::IAM::Policy"))
      .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
      .filter((s) => s.Effect === "Allow" && !actionsOf(s).some((a) => /^(logs|xray):/.test(a)));
    expect(grants.map((s) => [actionsOf(s).sort(), s.Resource])).toEqual([
      [["lambda:InvokeFunction"], { "Fn::GetAtt": [fnId, "Arn"] }],
      [["states:StartExecution"], `${SM_ARN_PREFIX}fan_out`],
      [
        ["states:DescribeExecution", "states:StopExecution"],
        `${SM_ARN_PREFIX.replace(":stateMachine:", ":execution:")}fan_out/*`,
      ],
    ]);
    // The function admits each child: it may start the runbooks' machines and write fan-out rows.
    const fnStatements = roleStatements(fnId);
    const starts = fnStatements.filter((s) => actionsOf(s).includes("states:StartExecution"));
    expect(starts.flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource])).sort()).toEqual(
      Runbooks.list().map((r) => `${SM_ARN_PREFIX}${r.name}`),
    );
    const writes = fnStatements.find(
      (s) => actionsOf(s).includes("dynamodb:PutItem") && s.Effect === "Allow",
    );
    expect(JSON.stringify(writes?.Condition)).toContain("FANOUT#*");
  });

  it("names the state machines' log groups per deployment of the stack, so a redeploy after removal works", () => {
    for (const g of Object.values(resources(templates.Runbooks, "AWS::Logs::LogGroup"))) {
      expect(JSON.stringify(g.Properties.LogGroupName)).toContain("AWS::StackId");
    }
  });

  it("deploys one STANDARD state machine per registered runbook, logging ALL without execution data (task tokens), and traced", () => {
    const machines = Object.values(resources(templates.Runbooks, "AWS::StepFunctions::StateMachine"));
    expect(machines.map((m) => m.Properties.StateMachineName).sort()).toEqual(
      [...Runbooks.list().map((r) => `${PREFIX}-${r.name}`), `${PREFIX}-fan_out`].sort(),
    );
    for (const m of machines) {
      expect(m.Properties).toMatchObject({
        StateMachineType: "STANDARD",
        TracingConfiguration: { Enabled: true },
        // An approval's input carries its task token: logged, anyone who reads the logs could answer it.
        LoggingConfiguration: { Level: "ALL", IncludeExecutionData: false },
      });
    }
  });

  it("deploys each runbook's own ASL, calling its own step worker for ${StepHandlerArn}", () => {
    const machines = Object.values(resources(templates.Runbooks, "AWS::StepFunctions::StateMachine"));
    for (const runbook of Runbooks.list()) {
      const machine = machines.find(
        (m) => m.Properties.StateMachineName === `${PREFIX}-${runbook.name}`,
      )!.Properties;
      const step = stepFunctionId(runbook.name);
      expect(machine.DefinitionSubstitutions).toEqual({ StepHandlerArn: { "Fn::GetAtt": [step, "Arn"] } });
      const arn = `arn:aws:lambda:${TEST_ENV.region}:${TEST_ENV.account}:function:${step}`;
      expect(substitute(JSON.parse(machine.DefinitionString), { StepHandlerArn: arn })).toEqual(
        substitute(runbook.stateMachine, { StepHandlerArn: arn }),
      );
    }
  });

  it("lets each state machine invoke only its own step worker", () => {
    for (const runbook of Runbooks.list()) {
      const role = Object.values(resources(templates.Runbooks, "AWS::StepFunctions::StateMachine")).find(
        (m) => m.Properties.StateMachineName === `${PREFIX}-${runbook.name}`,
      )!.Properties.RoleArn["Fn::GetAtt"][0];
      const invokes = Object.values(resources(templates.Runbooks, "AWS::IAM::Policy"))
        .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === role))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
        .filter((s) => actionsOf(s).includes("lambda:InvokeFunction"));
      expect(invokes).toEqual([
        {
          Effect: "Allow",
          Action: "lambda:InvokeFunction",
          Resource: { "Fn::GetAtt": [stepFunctionId(runbook.name), "Arn"] },
        },
      ]);
    }
  });

  it("allows backup-snapshot's ec2:DeleteSnapshot only on snapshots tagged reflex:managed", () => {
    const deletes = roleStatements(stepFunctionId("backup-snapshot")).filter((s) =>
      actionsOf(s).includes("ec2:DeleteSnapshot"),
    );
    expect(deletes.length).toBeGreaterThan(0);
    for (const s of deletes) {
      expect(s).toMatchObject({
        Effect: "Allow",
        Condition: { StringEquals: { "aws:ResourceTag/reflex:managed": "true" } },
      });
      expect(Object.keys(s.Condition!)).toEqual(["StringEquals"]);
    }
  });

  it("conditions every mutating EC2, Auto Scaling, SSM and Route 53 action on the automation tag, or names why not", () => {
    for (const runbook of Runbooks.list()) {
      const statements = roleStatements(stepFunctionId(runbook.name));
      effectivePermissions(runbook, fixtureConfig).forEach((p, i) => {
        const fenced = p.mutating && p.actions.some((a) => /^(ec2|autoscaling|ssm|route53):/.test(a));
        if (!fenced) return;
        const resources = (p.resources ?? ["*"]).map((r) =>
          r.replace("${Partition}", "aws").replace("${Account}", TEST_ENV.account),
        );
        // Each declared permission is one statement: the one with its actions and its resources.
        const s = statements.find(
          (x) =>
            JSON.stringify([...actionsOf(x)].sort()) === JSON.stringify([...p.actions].sort()) &&
            JSON.stringify(x.Resource) === JSON.stringify(resources.length === 1 ? resources[0] : resources),
        );
        expect(s, `${runbook.name} permissions[${i}]`).toBeDefined();
        const keys = Object.keys(s!.Condition?.StringEquals ?? {});
        if (p.tagCondition === "none") {
          expect(p.why, `${runbook.name}: ${p.actions.join(", ")}`).toBeTruthy();
          // Only an action with no resource type at all (ssm:CancelCommand) is granted on '*'.
          if (!p.wildcardOnly) expect(s!.Resource).not.toBe("*");
        } else {
          expect(keys, `${runbook.name}: ${actionsOf(s!).join(", ")}`).toContainEqual(
            expect.stringMatching(/^aws:(Resource|Request)Tag\/reflex:managed$/),
          );
        }
      });
    }
  });

  it("lets tagging happen only inside the creating calls, on the resource types they create", () => {
    const tagging = Runbooks.list().flatMap((r) =>
      roleStatements(stepFunctionId(r.name)).filter((s) => actionsOf(s).includes("ec2:CreateTags")),
    );
    expect(tagging.length).toBeGreaterThan(0);
    for (const s of tagging) {
      expect(s.Condition?.StringEquals?.["ec2:CreateAction"]).toBeDefined();
      // Snapshots, and (patch) the replace-root-volume task it creates tagged.
      for (const r of [s.Resource].flat())
        expect(r).toMatch(/^arn:aws:ec2:\*::snapshot\/\*$|^arn:aws:ec2:\*:\d+:replace-root-volume-task\/\*$/);
    }
  });

  it("lets backup-snapshot write manifests only under the reports bucket's manifests/ prefix", () => {
    const puts = roleStatements(stepFunctionId("backup-snapshot")).filter((s) =>
      actionsOf(s).includes("s3:PutObject"),
    );
    expect(puts).toEqual([
      {
        Effect: "Allow",
        Action: "s3:PutObject",
        Resource: {
          "Fn::Join": ["", [{ "Fn::ImportValue": expect.stringMatching(/Reports/) }, "/manifests/*"]],
        },
      },
    ]);
  });

  it("gives each step worker at least the time of the longest Task that calls it (patch: 900 s)", () => {
    for (const runbook of Runbooks.list()) {
      const fn = resources(templates.Runbooks, "AWS::Lambda::Function")[stepFunctionId(runbook.name)];
      expect(fn.Properties.Timeout, runbook.name).toBe(stepWorkerTimeoutSeconds(runbook));
    }
    expect(
      resources(templates.Runbooks, "AWS::Lambda::Function")[stepFunctionId("patch")].Properties.Timeout,
    ).toBe(900);
  });

  it("lets failover change DNS only in the configured pairs' zones, for their record names and types, UPSERT only", () => {
    const changes = roleStatements(stepFunctionId("failover")).filter((s) =>
      actionsOf(s).includes("route53:ChangeResourceRecordSets"),
    );
    expect(changes).toEqual([
      {
        Effect: "Allow",
        Action: "route53:ChangeResourceRecordSets",
        Resource: "arn:aws:route53:::hostedzone/Z0FIXTUREZONE01",
        Condition: {
          "ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
            "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["db.example.internal"],
          },
          Null: { "route53:ChangeResourceRecordSetsNormalizedRecordNames": "false" },
        },
      },
    ]);
    const lists = roleStatements(stepFunctionId("failover")).filter((s) =>
      actionsOf(s).includes("route53:ListResourceRecordSets"),
    );
    expect(lists.map((s) => s.Resource)).toEqual(["arn:aws:route53:::hostedzone/Z0FIXTUREZONE01"]);
  });

  it("closes runs from the status events of Reflex's own state machines, with retries and a DLQ", () => {
    templates.Runbooks.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: {
        source: ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        detail: { stateMachineArn: Runbooks.list().map((r) => `${SM_ARN_PREFIX}${r.name}`) },
      },
      Targets: [
        Match.objectLike({
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
          DeadLetterConfig: { Arn: { "Fn::GetAtt": [Match.stringLikeRegexp("ExecutionStatusDlq"), "Arn"] } },
        }),
      ],
    });
  });

  it("lets the reconciler read what lost runs' inspectors declare (snapshots, Elastic IPs), and change nothing in EC2", () => {
    const fnId = Object.entries(resources(templates.Runbooks, "AWS::Lambda::Function")).find(([, f]) =>
      String(f.Properties.FunctionName).endsWith("-reconcile"),
    )![0];
    const ec2 = roleStatements(fnId).filter((s) => actionsOf(s).some((a) => a.startsWith("ec2:")));
    // backup-snapshot's inspector lists the snapshots a lost run left; failover's reads where the
    // pair's Elastic IP points (manifests' lostRun.permissions).
    expect(ec2).toEqual([
      { Effect: "Allow", Action: "ec2:DescribeSnapshots", Resource: "*" },
      { Effect: "Allow", Action: "ec2:DescribeAddresses", Resource: "*" },
    ]);
  });

  it("dead-letters a reconciler pass that still fails after Lambda's retries", () => {
    const [, fn] = Object.entries(resources(templates.Runbooks, "AWS::Lambda::Function")).find(([, f]) =>
      String(f.Properties.FunctionName).endsWith("-reconcile"),
    )!;
    expect(fn.Properties.DeadLetterConfig.TargetArn).toEqual({
      "Fn::GetAtt": [expect.stringMatching(/^ReconcileDlq/), "Arn"],
    });
    templates.Runbooks.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(15 minutes)",
      Targets: [
        Match.objectLike({
          DeadLetterConfig: { Arn: { "Fn::GetAtt": [Match.stringLikeRegexp("ReconcileDlq"), "Arn"] } },
        }),
      ],
    });
  });

  it("runs the reconciler every 15 minutes, allowed to describe only the executions of this stage's machines", () => {
    templates.Runbooks.hasResourceProperties("AWS::Events::Rule", { ScheduleExpression: "rate(15 minutes)" });
    templates.Runbooks.hasResourceProperties("AWS::Lambda::Function", {
      Handler: Match.stringLikeRegexp("reconcile"),
    });
    templates.Runbooks.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: "states:DescribeExecution",
            Resource: Runbooks.list().map(
              (r) => `${SM_ARN_PREFIX.replace(":stateMachine:", ":execution:")}${r.name}:*`,
            ),
          }),
        ]),
      },
    });
  });
});

describe("ExecutionStatus", () => {
  it("may describe the executions of this stage's machines, to confirm a status event before closing a run", () => {
    const [fnId] = Object.entries(resources(templates.Runbooks, "AWS::Lambda::Function")).find(([, f]) =>
      String(f.Properties.FunctionName).endsWith("-execution-status"),
    )!;
    expect(roleStatements(fnId)).toContainEqual(
      expect.objectContaining({
        Action: "states:DescribeExecution",
        Resource: Runbooks.list().map(
          (r) => `${SM_ARN_PREFIX.replace(":stateMachine:", ":execution:")}${r.name}:*`,
        ),
      }),
    );
  });
});

describe("Triggers", () => {
  it("deploys one rule per config rule on the default bus, with the rule's own pattern", () => {
    const rules = Object.values(resources(templates.Triggers, "AWS::Events::Rule"))
      .map((r) => r.Properties)
      .filter((r) => r.Name.startsWith(`${PREFIX}-rule-`));
    expect(rules).toHaveLength(fixture.rules.length);
    for (const rule of fixture.rules) {
      const deployed = rules.find((r) => r.Name === `${PREFIX}-rule-${rule.name}`);
      expect(deployed).toBeDefined();
      expect(deployed.EventPattern).toEqual(rule.on);
      expect(deployed.EventBusName).toBeUndefined();
      expect(deployed.State).toBe(rule.enabled === false ? "DISABLED" : "ENABLED");
    }
  });

  it("sends the gate every state change of every alarm a rule or a runbook param refers to", () => {
    const rule = Object.values(resources(templates.Triggers, "AWS::Events::Rule")).find(
      (r) => r.Properties.Name === `${PREFIX}-alarm-states`,
    );
    expect(rule?.Properties.EventPattern).toEqual({
      source: ["aws.cloudwatch"],
      "detail-type": ["CloudWatch Alarm State Change"],
      detail: { alarmName: [{ prefix: "web-cpu-" }] },
    });
    expect(rule?.Properties.State).toBe("ENABLED");
  });

  it("retries rule deliveries to the trigger, then dead-letters them to an encrypted, TLS-only queue", () => {
    for (const rule of Object.values(resources(templates.Triggers, "AWS::Events::Rule"))) {
      expect(rule.Properties.Targets).toEqual([
        expect.objectContaining({
          Arn: { "Fn::GetAtt": [expect.stringMatching(/^Trigger/), "Arn"] },
          RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 24 },
          DeadLetterConfig: { Arn: { "Fn::GetAtt": [expect.stringMatching(/^TriggerDlq/), "Arn"] } },
        }),
      ]);
    }
    templates.Triggers.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: `${PREFIX}-trigger-dlq`,
      SqsManagedSseEnabled: true,
    });
    templates.Triggers.hasResourceProperties("AWS::SQS::QueuePolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("schedules every config schedule and window in its time zone, with retries and a DLQ", () => {
    const schedules = Object.values(resources(templates.Triggers, "AWS::Scheduler::Schedule")).map(
      (s) => s.Properties,
    );
    const expected = [
      ...fixture.schedules.map((s) => ({ kind: "schedule", ...s })),
      ...fixture.windows.map((w) => ({ kind: "window", ...w })),
    ];
    expect(schedules).toHaveLength(expected.length);
    for (const entry of expected) {
      const s = schedules.find((x) => x.Name === `${entry.kind}-${entry.name}`);
      expect(s).toMatchObject({
        GroupName: PREFIX,
        ScheduleExpression: entry.cron,
        ScheduleExpressionTimezone: entry.timezone ?? "UTC",
        FlexibleTimeWindow: { Mode: "OFF" },
        State: "ENABLED",
        Target: {
          Arn: { "Fn::GetAtt": [expect.stringMatching(/^Schedule[0-9A-F]{8}$/), "Arn"] },
          RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 },
          DeadLetterConfig: { Arn: { "Fn::GetAtt": [expect.stringMatching(/^ScheduleDlq/), "Arn"] } },
        },
      });
      expect(JSON.parse(s.Target.Input)).toEqual({
        kind: entry.kind,
        name: entry.name,
        run: entry.run,
        with: entry.with,
        scheduledTime: "<aws.scheduler.scheduled-time>",
      });
    }
  });

  it("lets the scheduler's role invoke the schedule function and dead-letter to its queue, nothing else", () => {
    const roles = resources(templates.Triggers, "AWS::IAM::Role");
    const [roleId, role] = Object.entries(roles).find(([id]) => id.startsWith("SchedulerRole"))!;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: "sts:AssumeRole",
        Effect: "Allow",
        Principal: { Service: "scheduler.amazonaws.com" },
        Condition: { StringEquals: { "aws:SourceAccount": TEST_ENV.account } },
      },
    ]);
    const granted = Object.values(resources(templates.Triggers, "AWS::IAM::Policy"))
      .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(granted).toEqual([
      {
        Effect: "Allow",
        Action: "lambda:InvokeFunction",
        Resource: { "Fn::GetAtt": [expect.stringMatching(/^Schedule[0-9A-F]{8}$/), "Arn"] },
      },
      {
        Effect: "Allow",
        Action: "sqs:SendMessage",
        Resource: { "Fn::GetAtt": [expect.stringMatching(/^ScheduleDlq/), "Arn"] },
      },
    ]);
  });

  it("lets the trigger start only Reflex's own state machines", () => {
    const starts = statements(templates.Triggers.toJSON() as { Resources: Resources })
      .map((s) => s.statement)
      .filter((s) => actionsOf(s).includes("states:StartExecution"));
    expect(starts.length).toBeGreaterThan(0);
    for (const s of starts) {
      const arns = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
      // The runbooks' machines, and the fan-out's (rules and schedules with `locations`).
      expect(arns.sort()).toEqual(
        [...Runbooks.list().map((r) => `${SM_ARN_PREFIX}${r.name}`), `${SM_ARN_PREFIX}fan_out`].sort(),
      );
    }
  });
});

describe("Api", () => {
  it("serves /api/* from the API handler, every route behind IAM auth but Slack's two", () => {
    const routes = Object.values(resources(templates.Api, "AWS::ApiGatewayV2::Route")).map(
      (r) => r.Properties,
    );
    expect(routes.map((r) => r.RouteKey)).toEqual(
      expect.arrayContaining(["ANY /api/{proxy+}", "POST /events"]),
    );
    // Slack signs with its v0 signature, which the chatops handler verifies; nothing else is open.
    const open = routes.filter((r) => r.AuthorizationType !== "AWS_IAM");
    expect(open.map((r) => [r.RouteKey, r.AuthorizationType]).sort()).toEqual([
      ["POST /slack/commands", "NONE"],
      ["POST /slack/interactions", "NONE"],
    ]);
    templates.Api.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "packages/functions/src/api.handler",
    });
  });

  it("lets the API stop only executions of this stage's machines, each named", () => {
    const stops = statements(templates.Api.toJSON() as { Resources: Resources })
      .map((s) => s.statement)
      .filter((s) => actionsOf(s).includes("states:StopExecution"));
    // The API and the ChatOps worker (abort from Slack) may stop runs; each names every machine.
    expect(stops).toHaveLength(2);
    for (const stop of stops) {
      const arns = Array.isArray(stop.Resource) ? stop.Resource : [stop.Resource];
      expect([...arns].sort()).toEqual(
        Runbooks.list().map((r) => `${SM_ARN_PREFIX.replace(":stateMachine:", ":execution:")}${r.name}:*`),
      );
    }
  });

  it("lets each Slack function read its own stage's secret only: one exact parameter, no app-wide fallback", () => {
    const fns = resources(templates.Api, "AWS::Lambda::Function");
    const policies = Object.values(resources(templates.Api, "AWS::IAM::Policy"));
    const ssmOf = (suffix: string) => {
      const [, fn] = Object.entries(fns).find(([, f]) => String(f.Properties.FunctionName).endsWith(suffix))!;
      const role = fn.Properties.Role["Fn::GetAtt"][0];
      const statements = policies
        .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === role))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
        .filter((s) => actionsOf(s).some((a) => a.startsWith("ssm:")) && s.Resource !== undefined);
      return { env: fn.Properties.Environment.Variables, statements };
    };
    const param = (name: string) =>
      `arn:aws:ssm:${TEST_ENV.region}:${TEST_ENV.account}:parameter/sst/reflex/${TEST_ENV.stage}/Secret/${name}/value`;
    const config = `arn:aws:ssm:${TEST_ENV.region}:${TEST_ENV.account}:parameter/reflex/${TEST_ENV.stage}/config`;
    for (const [suffix, secret] of [
      ["-chatops", "SLACK_SIGNING_SECRET"],
      ["-chatops-worker", "SLACK_BOT_TOKEN"],
      ["-chatops-notifier", "SLACK_BOT_TOKEN"],
    ]) {
      const { env, statements } = ssmOf(suffix);
      expect(env[`REFLEX_${secret}_PARAMETER`], suffix).toBe(
        `/sst/reflex/${TEST_ENV.stage}/Secret/${secret}/value`,
      );
      expect(Object.values(env), suffix).not.toContain("__FETCH_FROM_SSM__");
      expect(statements, suffix).toEqual(
        expect.arrayContaining([{ Effect: "Allow", Action: "ssm:GetParameter", Resource: param(secret) }]),
      );
      for (const st of statements) expect([param(secret), config], suffix).toContain(st.Resource);
    }
    expect(JSON.stringify(templates.Api.toJSON())).not.toContain(".fallback");
  });

  it("dead-letters ChatOps work and notices that still fail after Lambda's retries", () => {
    const fns = Object.values(resources(templates.Api, "AWS::Lambda::Function"));
    for (const [suffix, queue] of [
      ["-chatops-worker", "ChatOpsWorkerDlq"],
      ["-chatops-notifier", "ChatOpsNotifierDlq"],
    ]) {
      const fn = fns.find((f) => String(f.Properties.FunctionName).endsWith(suffix))!;
      expect(fn.Properties.DeadLetterConfig.TargetArn, suffix).toEqual({
        "Fn::GetAtt": [expect.stringMatching(new RegExp(`^${queue}`)), "Arn"],
      });
    }
    templates.Api.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: { source: ["reflex"] },
      Targets: [
        Match.objectLike({
          DeadLetterConfig: { Arn: { "Fn::GetAtt": [Match.stringLikeRegexp("ChatOpsNotifierDlq"), "Arn"] } },
        }),
      ],
    });
  });

  it("writes access logs and throttles the stage", () => {
    templates.Api.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      AccessLogSettings: {
        DestinationArn: { "Fn::GetAtt": [Match.anyValue(), "Arn"] },
        Format: Match.anyValue(),
      },
      DefaultRouteSettings: { ThrottlingBurstLimit: 40, ThrottlingRateLimit: 20 },
    });
  });
});

describe("Audit", () => {
  it("hands audit entries to one writer through an encrypted, TLS-only queue that dead-letters after five receives", () => {
    const queues = resources(templates.Audit, "AWS::SQS::Queue");
    const [dlqId] = Object.entries(queues).find(([, q]) => q.Properties.QueueName === `${PREFIX}-audit-dlq`)!;
    templates.Audit.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: `${PREFIX}-audit`,
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86_400,
      VisibilityTimeout: 180,
      RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [dlqId, "Arn"] }, maxReceiveCount: 5 },
    });
    templates.Audit.hasResourceProperties("AWS::SQS::QueuePolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
      Queues: [{ Ref: Match.stringLikeRegexp("^AuditQueue") }],
    });
    templates.Audit.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    templates.Audit.hasResourceProperties("AWS::Lambda::Function", {
      FunctionName: `${PREFIX}-audit-writer`,
      Timeout: 30,
    });
  });

  it("gives every function the audit queue's URL, the one way its entries reach the trail", () => {
    const url = {
      "Fn::Join": [
        "",
        ["https://sqs.us-east-1.", { Ref: "AWS::URLSuffix" }, `/${TEST_ENV.account}/${PREFIX}-audit`],
      ],
    };
    const fns = allTemplates().flatMap((t) =>
      Object.values(t.Resources).filter(
        (r) =>
          r.Type === "AWS::Lambda::Function" && String(r.Properties.FunctionName ?? "").startsWith(PREFIX),
      ),
    );
    expect(fns.length).toBeGreaterThan(10);
    for (const fn of fns)
      expect(fn.Properties.Environment.Variables.REFLEX_AUDIT_QUEUE_URL, fn.Properties.FunctionName).toEqual(
        url,
      );
  });

  it("pages when audit entries wait over five minutes for the writer", () => {
    const lagging = Object.values(resources(templates.Observability, "AWS::CloudWatch::Alarm"))
      .map((a) => a.Properties)
      .find((a) => a.AlarmName === `${PREFIX}-audit-lagging`);
    expect(lagging).toMatchObject({
      Namespace: "AWS/SQS",
      MetricName: "ApproximateAgeOfOldestMessage",
      Dimensions: [{ Name: "QueueName", Value: `${PREFIX}-audit` }],
      Threshold: 300,
      AlarmActions: [{ Ref: expect.stringMatching(/^Alarms/) }],
    });
  });
});

describe("Observability", () => {
  it("pages on failed, timed-out, aborted and lost runs and non-empty dead-letter queues, not on Lambda errors", () => {
    const alarms = Object.values(resources(templates.Observability, "AWS::CloudWatch::Alarm")).map(
      (a) => a.Properties,
    );
    const named = (metric: string) => alarms.filter((a) => a.MetricName === metric);
    for (const metric of ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"]) {
      expect(
        named(metric)
          .map((a) => a.Dimensions[0].Value)
          .sort(),
        metric,
      ).toEqual(Runbooks.list().map((r) => `${SM_ARN_PREFIX}${r.name}`));
    }
    expect(
      named("ApproximateNumberOfMessagesVisible")
        .map((a) => a.Dimensions[0].Value)
        .sort(),
    ).toEqual(
      [
        "audit-dlq",
        "chatops-notifier-dlq",
        "chatops-worker-dlq",
        "execution-status-dlq",
        "reconcile-dlq",
        "schedule-dlq",
        "trigger-dlq",
      ].map((q) => `${PREFIX}-${q}`),
    );
    const lost = named(LOST_RUNS_METRIC.name);
    expect(lost).toEqual([
      expect.objectContaining({
        Namespace: LOST_RUNS_METRIC.namespace,
        Dimensions: [{ Name: LOST_RUNS_METRIC.dimension, Value: PREFIX }],
        Statistic: "Sum",
      }),
      expect.objectContaining({ AlarmName: `${PREFIX}-reconciler-silent` }),
    ]);
    expect(LOST_RUNS_METRIC).toEqual(RECONCILER_METRIC);
    expect(named("Errors")).toEqual([]);
    expect(named("Throttles")).toEqual([]);
    // The sealed audit trail's export lag, as the reconciler writes it: two hourly periods and a quarter hour.
    expect(named(AUDIT_LAG_METRIC.name)).toEqual([
      expect.objectContaining({
        AlarmName: `${PREFIX}-audit-export-lag`,
        Namespace: AUDIT_LAG_METRIC.namespace,
        Dimensions: [{ Name: AUDIT_LAG_METRIC.dimension, Value: PREFIX }],
        Statistic: "Maximum",
        Threshold: 135,
      }),
    ]);
    expect(AUDIT_LAG_METRIC).toEqual(RECONCILER_AUDIT_LAG_METRIC);
    for (const a of alarms.filter(
      (x) =>
        x.AlarmName !== `${PREFIX}-reconciler-silent` &&
        x.AlarmName !== `${PREFIX}-audit-lagging` &&
        x.AlarmName !== `${PREFIX}-audit-export-lag`,
    )) {
      expect(a).toMatchObject({
        Threshold: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        TreatMissingData: "notBreaching",
      });
      expect(a.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Alarms/) }]);
    }
  });

  it("pages when the reconciler stops completing passes: no datapoint in 30 minutes is an alarm", () => {
    const silent = Object.values(resources(templates.Observability, "AWS::CloudWatch::Alarm"))
      .map((a) => a.Properties)
      .find((a) => a.AlarmName === `${PREFIX}-reconciler-silent`);
    expect(silent).toMatchObject({
      Namespace: LOST_RUNS_METRIC.namespace,
      MetricName: LOST_RUNS_METRIC.name,
      Dimensions: [{ Name: LOST_RUNS_METRIC.dimension, Value: PREFIX }],
      Statistic: "SampleCount",
      Period: 1800,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
      AlarmActions: [{ Ref: expect.stringMatching(/^Alarms/) }],
    });
  });

  it("subscribes the config's alerts to the alarm topic: email and https", () => {
    const subscriptions = Object.values(resources(templates.Observability, "AWS::SNS::Subscription"))
      .map((r) => [r.Properties.Protocol, r.Properties.Endpoint])
      .sort();
    expect(subscriptions).toEqual([
      ["email", "oncall@example.com"],
      ["https", "https://alerts.example.com/sns"],
    ]);
  });

  it("lets CloudWatch publish to the alarm topic only for this stage's alarms, by exact ARN, in this account", () => {
    const alarmArns = Object.values(resources(templates.Observability, "AWS::CloudWatch::Alarm"))
      .map((a) => `arn:aws:cloudwatch:${TEST_ENV.region}:${TEST_ENV.account}:alarm:${a.Properties.AlarmName}`)
      .sort();
    const policy = Object.values(resources(templates.Observability, "AWS::SNS::TopicPolicy"))[0].Properties;
    const allow = (policy.PolicyDocument.Statement as Statement[]).filter((s) => s.Effect === "Allow");
    expect(allow).toHaveLength(1);
    expect(allow[0]).toMatchObject({
      Principal: { Service: "cloudwatch.amazonaws.com" },
      Action: "sns:Publish",
      Condition: { StringEquals: { "aws:SourceAccount": TEST_ENV.account } },
    });
    expect([...(allow[0].Condition!.ArnEquals["aws:SourceArn"] as unknown as string[])].sort()).toEqual(
      alarmArns,
    );
  });

  it("keeps Lambda errors and throttles on the dashboard", () => {
    const body = JSON.stringify(
      Object.values(resources(templates.Observability, "AWS::CloudWatch::Dashboard"))[0].Properties
        .DashboardBody,
    );
    expect(body).toContain('\\"Errors\\"');
    expect(body).toContain('\\"Throttles\\"');
  });

  it("has a dashboard", () => {
    templates.Observability.hasResourceProperties("AWS::CloudWatch::Dashboard", { DashboardName: PREFIX });
  });
});

describe("every stack", () => {
  it("runs Reflex's functions on nodejs24.x arm64 with active tracing and the handler environment", () => {
    let count = 0;
    for (const t of allTemplates()) {
      for (const fn of Object.values(t.Resources).filter((r) => r.Type === "AWS::Lambda::Function")) {
        if (!String(fn.Properties.Handler).startsWith("packages/functions/src/")) continue; // SST's own handler
        count++;
        // A retained log group must not block a redeploy: its name ends in this stack's own id.
        const group = Object.entries(t.Resources).find(
          ([id]) => id === fn.Properties.LoggingConfig.LogGroup.Ref,
        )![1];
        expect(JSON.stringify(group.Properties.LogGroupName)).toContain("AWS::StackId");
        expect(fn.Properties).toMatchObject({
          Runtime: "nodejs24.x",
          Architectures: ["arm64"],
          TracingConfig: { Mode: "Active" },
          LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
        });
        const env = fn.Properties.Environment.Variables;
        expect(Object.keys(env)).toEqual(
          expect.arrayContaining([
            "REFLEX_TABLE",
            "REFLEX_BUCKET",
            "REFLEX_STATE_MACHINE_ARN_PREFIX",
            "REFLEX_CONFIG_PARAMETER",
            "REFLEX_EVENT_BUS",
            "POWERTOOLS_SERVICE_NAME",
            "POWERTOOLS_LOG_LEVEL",
          ]),
        );
        expect(env).toMatchObject({
          REFLEX_STATE_MACHINE_ARN_PREFIX: SM_ARN_PREFIX,
          REFLEX_EVENT_BUS: PREFIX,
          REFLEX_CONFIG_PARAMETER: `/reflex/${TEST_ENV.stage}/config`,
          REFLEX_ACCOUNT: TEST_ENV.account,
          REFLEX_ALARM_STATE_SOURCE: "cloudwatch",
          POWERTOOLS_SERVICE_NAME: "reflex",
        });
      }
    }
    // …and the audit writer, which alone does not read the config.
    expect(count).toBe(Runbooks.list().length + 11);
  });

  it("grants no '*' action: no statement names '*', and no Allow uses a wildcard action", () => {
    for (const t of allTemplates()) {
      for (const { resource, statement } of statements(t)) {
        for (const action of actionsOf(statement)) {
          expect(action, resource).not.toBe("*");
          // TLS-only bucket/queue policies Deny `s3:*`/`sqs:*` over plain HTTP: a wildcard that only takes away.
          if (statement.Effect === "Allow") expect(action, resource).not.toContain("*");
        }
      }
    }
  });

  it("passes cdk-nag's AwsSolutions checks with no unsuppressed error or warning", () => {
    const findings = assembly.stacks.flatMap((s) =>
      s.messages
        .filter(
          (m) => (m.level === "error" || m.level === "warning") && /AwsSolutions-/.test(String(m.entry.data)),
        )
        .map((m) => `${m.id}: ${String(m.entry.data).split("\n")[0]}`),
    );
    expect(findings).toEqual([]);
    // The checks did run: each stack has a report, with suppressed findings in it.
    const reports = assembly.stacks.map((s) =>
      readFileSync(`${assembly.directory}/AwsSolutions-${s.stackName}-NagReport.csv`, "utf8"),
    );
    expect(reports.join("\n")).toContain('"Suppressed"');
  });

  it("suppresses IAM wildcards only by the exact wildcard, and only wildcards that are in the policies it names", () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const t of allTemplates()) {
      for (const [id, r] of Object.entries(t.Resources)) {
        const rules = (r.Metadata?.cdk_nag?.rules_to_suppress ?? []) as Array<{
          id: string;
          applies_to?: Array<string | { regex: string }>;
        }>;
        for (const rule of rules.filter((x) => x.id === "AwsSolutions-IAM5")) {
          if (!rule.applies_to?.length) {
            wrong.push(`${id}: an IAM5 suppression without appliesTo`);
            continue;
          }
          const granted = nagResourcesOf(t, id);
          for (const subject of rule.applies_to) {
            checked++;
            const match =
              typeof subject === "string"
                ? (g: string) => g === subject
                : (g: string) => new RegExp(subject.regex.replace(/^\/|\/g?$/g, "")).test(g);
            if (!granted.some(match))
              wrong.push(`${id}: ${JSON.stringify(subject)} is in none of [${granted.join(", ")}]`);
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(wrong).toEqual([]);
  });

  it("gives every cdk-nag suppression a written reason", () => {
    const suppressions = allTemplates().flatMap((t) =>
      Object.values(t.Resources).flatMap((r) => r.Metadata?.cdk_nag?.rules_to_suppress ?? []),
    ) as Array<{ id: string; reason: string }>;
    expect(suppressions.length).toBeGreaterThan(0);
    for (const s of suppressions) expect(s.reason.length, s.id).toBeGreaterThanOrEqual(40);
  });
});

/** A policy value as cdk-nag names it in a finding: `<Logical.Arn>` for GetAtt, `<Logical>` for Ref, joins joined. */
function nagName(value: unknown): string {
  if (typeof value === "string") return value;
  const o = value as Record<string, any>;
  if (o.Ref) return `<${o.Ref}>`;
  if (o["Fn::GetAtt"]) return `<${o["Fn::GetAtt"].join(".")}>`;
  if (o["Fn::Join"]) return (o["Fn::Join"][1] as unknown[]).map(nagName).join(o["Fn::Join"][0]);
  if (o["Fn::ImportValue"]) return `<${JSON.stringify(o["Fn::ImportValue"])}>`;
  return JSON.stringify(value);
}

/** `Resource::…` for every resource of every Allow statement in the policies resource `id` is, or its role holds. */
function nagResourcesOf(template: { Resources: Resources }, id: string): string[] {
  const r = template.Resources[id];
  const docs =
    r.Type === "AWS::IAM::Role"
      ? [
          ...(r.Properties?.Policies ?? []).map((p: any) => p.PolicyDocument),
          ...Object.values(template.Resources)
            .filter((p) => p.Type === "AWS::IAM::Policy" && p.Properties.Roles.some((x: any) => x.Ref === id))
            .map((p) => p.Properties.PolicyDocument),
        ]
      : [r.Properties?.PolicyDocument];
  return docs
    .flatMap((d) => (d?.Statement ?? []) as Statement[])
    .filter((st) => st.Effect === "Allow" && st.Resource !== undefined)
    .flatMap((st) => (Array.isArray(st.Resource) ? st.Resource : [st.Resource]))
    .map((res) => `Resource::${nagName(res)}`);
}
