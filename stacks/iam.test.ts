/**
 * How a runbook's declared permissions become IAM statements, and which declarations the stacks
 * refuse (no synthesis needed).
 */
import { RunbookDefinitionError, Runbooks } from "@reflex/core";
import { Stack } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { runbookStatements } from "./iam.ts";

const ctx = {
  automationTag: { key: "team:automation", value: "yes" },
  substitutions: { ReportsBucketArn: "arn:aws:s3:::reports" },
};

function withPermissions(permissions: Runbooks.Permission[]): Runbooks.Runbook {
  return { ...Runbooks.get("backup-snapshot"), name: "probe", permissions };
}

function rendered(permissions: Runbooks.Permission[]) {
  const stack = new Stack();
  return runbookStatements(withPermissions(permissions), ctx).map((s) => stack.resolve(s.toStatementJson()));
}

describe("runbookStatements", () => {
  it("leaves read-only actions on '*' without a condition", () => {
    expect(rendered([{ actions: ["ec2:DescribeInstances"], mutating: false }])).toEqual([
      { Effect: "Allow", Action: "ec2:DescribeInstances", Resource: "*" },
    ]);
  });

  it("scopes mutating actions to resources carrying the config's automation tag by default", () => {
    expect(rendered([{ actions: ["ec2:StopInstances"], mutating: true }])).toEqual([
      {
        Effect: "Allow",
        Action: "ec2:StopInstances",
        Resource: "*",
        Condition: { StringEquals: { "aws:ResourceTag/team:automation": "yes" } },
      },
    ]);
  });

  it("scopes creating actions by the tag the request must carry", () => {
    expect(
      rendered([{ actions: ["ec2:CreateSnapshot"], mutating: true, tagCondition: "request" }])[0].Condition,
    ).toEqual({
      StringEquals: { "aws:RequestTag/team:automation": "yes" },
    });
  });

  it("substitutes ${ReportsBucketArn} in declared resources", () => {
    expect(
      rendered([
        {
          actions: ["s3:PutObject"],
          mutating: true,
          resources: ["${ReportsBucketArn}/manifests/*"],
          tagCondition: "none",
        },
      ]),
    ).toEqual([{ Effect: "Allow", Action: "s3:PutObject", Resource: "arn:aws:s3:::reports/manifests/*" }]);
  });

  it("refuses a mutating EC2, Auto Scaling, SSM or Route 53 action without a tag condition", () => {
    for (const action of [
      "ec2:TerminateInstances",
      "autoscaling:SetDesiredCapacity",
      "ssm:SendCommand",
      "route53:ChangeResourceRecordSets",
    ]) {
      expect(() =>
        rendered([{ actions: [action], mutating: true, resources: ["arn:aws:x"], tagCondition: "none" }]),
      ).toThrow(RunbookDefinitionError);
    }
  });

  it("refuses an unconditioned mutating permission on '*' or without resources", () => {
    expect(() => rendered([{ actions: ["s3:PutObject"], mutating: true, tagCondition: "none" }])).toThrow(
      /must name its resources/,
    );
    expect(() =>
      rendered([{ actions: ["s3:PutObject"], mutating: true, resources: ["*"], tagCondition: "none" }]),
    ).toThrow(/must name its resources/);
  });

  it("refuses wildcard actions and placeholders the stacks do not provide", () => {
    expect(() => rendered([{ actions: ["ec2:*"], mutating: false }])).toThrow(/wildcard/);
    expect(() =>
      rendered([{ actions: ["s3:GetObject"], mutating: false, resources: ["${SomethingElseArn}/x"] }]),
    ).toThrow(/SomethingElseArn/);
  });
});
