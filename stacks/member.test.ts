/**
 * The member template: synthesized, its role's policy run through the IAM fence (the policy
 * evaluator, as the hub's matrix does), its trust only the hub's step workers, its rule
 * forwarding to the hub's bus with a RoleArn; and the hub bus policy for the organization.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { hubBusPolicy, MemberStack, memberStackSet, memberTemplate } from "./member.ts";
import { evaluate, type PolicyDocument, resolveTokens } from "./support/policy-sim.ts";
import { scratchApps } from "./support/scratch.ts";

const scratch = scratchApps();
const account = "111111111111";
const region = "eu-west-1";
const HUB_BUS = "arn:aws:events:us-east-1:000000000000:event-bus/reflex-prod";
const WORKERS = [
  "arn:aws:iam::000000000000:role/reflex-prod-StepBackupSnapshotRole",
  "arn:aws:iam::000000000000:role/reflex-prod-StepPatchRole",
];
const TAG = { "aws:ResourceTag/reflex:managed": "true" };
const REQUEST_TAG = { "aws:RequestTag/reflex:managed": "true", "aws:TagKeys": ["reflex:managed"] };
const ARN = {
  instance: `arn:aws:ec2:${region}:${account}:instance/i-0123456789abcdef0`,
  volume: `arn:aws:ec2:${region}:${account}:volume/vol-0123456789abcdef0`,
  snapshot: `arn:aws:ec2:${region}::snapshot/snap-0123456789abcdef0`,
  group: `arn:aws:autoscaling:${region}:${account}:autoScalingGroup:0b7a1c7e-1111-2222-3333-444455556666:autoScalingGroupName/web`,
  table: `arn:aws:dynamodb:${region}:${account}:table/state`,
};

type Resources = Record<string, { Type: string; Properties: any }>;
let resources: Resources;
let policies: PolicyDocument[];

beforeAll(() => {
  const stack = new MemberStack(scratch.app(), "ReflexMember", {
    env: { account, region },
    stepWorkerRoleArns: WORKERS,
    hubBusArn: HUB_BUS,
    automationTag: { key: "reflex:managed", value: "true" },
    externalId: "hub-7f3a",
  });
  resources = Template.fromStack(stack).toJSON().Resources;
  const role = Object.entries(resources).find(
    ([, r]) => r.Type === "AWS::IAM::Role" && r.Properties.RoleName === "ReflexExecutionRole",
  )?.[0];
  policies = Object.values(resources)
    .filter(
      (r) => r.Type === "AWS::IAM::Policy" && r.Properties.Roles.some((x: { Ref: string }) => x.Ref === role),
    )
    .map((p) => resolveTokens(p.Properties.PolicyDocument, { region, account }) as PolicyDocument);
});

describe("the member template", () => {
  it("names its role ReflexExecutionRole and trusts only the hub's step workers, with the external id", () => {
    const role = Object.values(resources).find((r) => r.Properties?.RoleName === "ReflexExecutionRole");
    const [trust] = role?.Properties.AssumeRolePolicyDocument.Statement ?? [];
    expect(trust).toEqual({
      Action: "sts:AssumeRole",
      Effect: "Allow",
      Principal: { AWS: WORKERS },
      Condition: { StringEquals: { "sts:ExternalId": "hub-7f3a" } },
    });
    expect(role?.Properties.MaxSessionDuration ?? 3600).toBeLessThanOrEqual(3600);
  });

  it("lets the runbooks act inside the automation-tag fence", async () => {
    const allowed = async (action: string, resource: string, context = {}) =>
      evaluate({ action, resource, context }, policies, { account });
    expect(await allowed("ec2:DescribeInstances", "*")).toBe("Allowed");
    expect(await allowed("ec2:CreateSnapshot", ARN.snapshot, REQUEST_TAG)).toBe("Allowed");
    expect(await allowed("ec2:DeleteSnapshot", ARN.snapshot, TAG)).toBe("Allowed");
    expect(await allowed("autoscaling:SetDesiredCapacity", ARN.group, TAG)).toBe("Allowed");
  });

  it("and nothing outside it: untagged resources, the hub's own services, other roles", async () => {
    const decision = (action: string, resource: string, context = {}) =>
      evaluate({ action, resource, context }, policies, { account });
    expect(await decision("ec2:CreateSnapshot", ARN.snapshot)).toBe("ImplicitlyDenied");
    expect(await decision("ec2:DeleteSnapshot", ARN.snapshot)).toBe("ImplicitlyDenied");
    expect(await decision("ec2:StopInstances", ARN.instance)).toBe("ImplicitlyDenied");
    expect(await decision("ec2:TerminateInstances", ARN.instance, TAG)).toBe("ImplicitlyDenied");
    expect(await decision("autoscaling:SetDesiredCapacity", ARN.group)).toBe("ImplicitlyDenied");
    expect(await decision("dynamodb:PutItem", ARN.table)).toBe("ImplicitlyDenied");
    expect(await decision("s3:PutObject", "arn:aws:s3:::reports/manifests/x.json")).toBe("ImplicitlyDenied");
    expect(await decision("sts:AssumeRole", `arn:aws:iam::${account}:role/Admin`)).toBe("ImplicitlyDenied");
    expect(await decision("iam:PassRole", `arn:aws:iam::${account}:role/Admin`)).toBe("ImplicitlyDenied");
  });

  it("forwards alarm and EC2 state changes to the hub's bus through a role that may only put events there", () => {
    const rule = Object.values(resources).find((r) => r.Type === "AWS::Events::Rule");
    expect(rule?.Properties.EventPattern.source).toEqual(["aws.cloudwatch", "aws.ec2"]);
    const [target] = rule?.Properties.Targets ?? [];
    expect(target.Arn).toBe(HUB_BUS);
    expect(target.RoleArn).toBeDefined();
    const forwarder = Object.entries(resources).find(
      ([id, r]) => r.Type === "AWS::IAM::Role" && target.RoleArn["Fn::GetAtt"][0] === id,
    )?.[1];
    expect(forwarder?.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({
      Service: "events.amazonaws.com",
    });
    const forwarderPolicies = Object.values(resources).filter(
      (r) =>
        r.Type === "AWS::IAM::Policy" &&
        r.Properties.Roles.some((x: { Ref: string }) => x.Ref === target.RoleArn["Fn::GetAtt"][0]),
    );
    expect(forwarderPolicies.flatMap((p) => p.Properties.PolicyDocument.Statement)).toEqual([
      { Action: "events:PutEvents", Effect: "Allow", Resource: HUB_BUS },
    ]);
  });
});

describe("the hub bus policy", () => {
  it("lets the organization's accounts put events on the hub's bus, and only them", () => {
    const stack = new Stack(scratch.app(), "Hub", { env: { account: "000000000000", region: "us-east-1" } });
    hubBusPolicy(stack, "Members", { eventBusName: "reflex-prod", organizationId: "o-a1b2c3d4e5" });
    const [policy] = Object.values(Template.fromStack(stack).toJSON().Resources as Resources);
    expect(
      resolveTokens(policy?.Properties.Statement, { account: "000000000000", region: "us-east-1" }),
    ).toMatchObject({
      Action: "events:PutEvents",
      Resource: "arn:aws:events:us-east-1:000000000000:event-bus/reflex-prod",
      Condition: { StringEquals: { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } },
    });
    expect(() => hubBusPolicy(stack, "Bad", { eventBusName: "b", organizationId: "123" })).toThrow(
      /not an organization id/,
    );
  });
});

describe("the member template delivered", () => {
  const organization = {
    ous: ["ou-ab12-cdef3456", "r-ab12"],
    exclude: [],
    includeChildren: true,
    regions: ["eu-west-1", "us-east-1"],
    tags: {},
    cacheMinutes: 15,
    delegatedAdmin: true,
  };

  it("exports a template whose trust and hub bus are parameters a StackSet fills in", () => {
    const template = memberTemplate({ automationTag: { key: "reflex:managed", value: "true" } }) as any;
    expect(template.Parameters.HubStepWorkerRoleArns.Type).toBe("CommaDelimitedList");
    expect(template.Parameters.HubBusArn.Type).toBe("String");
    const role = Object.values(template.Resources as Resources).find(
      (r) => r.Properties?.RoleName === "ReflexExecutionRole",
    );
    expect(role?.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: "sts:AssumeRole", Effect: "Allow", Principal: { AWS: { Ref: "HubStepWorkerRoleArns" } } },
    ]);
    const rule = Object.values(template.Resources as Resources).find((r) => r.Type === "AWS::Events::Rule");
    expect(rule?.Properties.Targets[0].Arn).toEqual({ Ref: "HubBusArn" });
  });

  it("is synthesized without leaving a cloud assembly dir in the system's temp dir", () => {
    const saved = process.env.TMPDIR;
    const tmp = mkdtempSync(join(tmpdir(), "reflex-member-"));
    process.env.TMPDIR = tmp;
    try {
      memberTemplate({ automationTag: { key: "reflex:managed", value: "true" } });
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("is a service-managed StackSet in the hub, auto-deployed to the organization's OUs, called as delegated admin", () => {
    const hub = new Stack(scratch.app(), "Hub", { env: { account: "000000000000", region: "us-east-1" } });
    memberStackSet(hub, "Members", {
      organization,
      automationTag: { key: "reflex:managed", value: "true" },
      stepWorkerRoleArns: WORKERS,
      hubBusArn: HUB_BUS,
    });
    const sets = Template.fromStack(hub).findResources("AWS::CloudFormation::StackSet");
    const [set] = Object.values(sets) as Array<{ Properties: any }>;
    expect(set?.Properties).toMatchObject({
      PermissionModel: "SERVICE_MANAGED",
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      CallAs: "DELEGATED_ADMIN",
      Capabilities: ["CAPABILITY_NAMED_IAM"],
      StackInstancesGroup: [
        { DeploymentTargets: { OrganizationalUnitIds: organization.ous }, Regions: ["eu-west-1"] },
      ],
      Parameters: expect.arrayContaining([
        { ParameterKey: "HubStepWorkerRoleArns", ParameterValue: WORKERS.join(",") },
        { ParameterKey: "HubBusArn", ParameterValue: HUB_BUS },
      ]),
    });
    const body = JSON.parse(set?.Properties.TemplateBody);
    expect(Object.keys(body.Parameters)).toEqual(["HubStepWorkerRoleArns", "HubBusArn"]);
    // StackSets take a template body of at most 51,200 bytes.
    expect(set?.Properties.TemplateBody.length).toBeLessThan(51_200);
  });
});
