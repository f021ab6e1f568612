/**
 * How a runbook's declared permissions become IAM statements, and which declarations the stacks
 * refuse (no synthesis needed).
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RunbookDefinitionError, Runbooks } from "@reflex/core";
import { Stack } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { runbookStatements, TABLE_ACTIONS } from "./iam.ts";
import { ROOT } from "./support/synth.ts";

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

/** The IAM actions a DynamoDB SDK command needs (lib-dynamodb and client-dynamodb names). */
const DYNAMODB_ACTIONS: Record<string, string[]> = {
  Get: ["dynamodb:GetItem"],
  Put: ["dynamodb:PutItem"],
  Update: ["dynamodb:UpdateItem"],
  Delete: ["dynamodb:DeleteItem"],
  Query: ["dynamodb:Query"],
  Scan: ["dynamodb:Scan"],
  BatchGet: ["dynamodb:BatchGetItem"],
  BatchWrite: ["dynamodb:BatchWriteItem"],
  TransactGet: ["dynamodb:GetItem"],
  TransactWrite: [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
  ],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [path] : [];
  });
}

describe("TABLE_ACTIONS", () => {
  it("covers every DynamoDB command that core and the handlers import", () => {
    const needed = new Set<string>();
    for (const file of [
      ...sources(join(ROOT, "packages/core/src")),
      ...sources(join(ROOT, "packages/functions/src")),
    ]) {
      const text = readFileSync(file, "utf8");
      for (const [, names] of text.matchAll(
        /import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"@aws-sdk\/(?:lib|client)-dynamodb"/g,
      )) {
        for (const raw of names.split(",")) {
          const name = raw.trim().replace(/^type\s+/, "");
          const command = name.match(/^(\w+?)(?:Item)?Command$/)?.[1];
          if (!command) continue;
          const actions = DYNAMODB_ACTIONS[command];
          if (!actions) throw new Error(`${file}: unknown DynamoDB command ${name}; map it in this test`);
          for (const a of actions) needed.add(a);
        }
      }
    }
    expect(needed.size).toBeGreaterThan(0);
    expect(TABLE_ACTIONS).toEqual(expect.arrayContaining([...needed]));
  });
});

describe("the control-plane grants", () => {
  it("cover every Step Functions and EventBridge command core and the handlers import", () => {
    // The stacks grant states:StartExecution (trigger, schedule, api) and events:PutEvents (the same, plus execution-status).
    // ...and states:DescribeExecution (the reconciler).
    // ...and the API's approvals and aborts (SendTaskSuccess/Failure, StopExecution).
    const granted = new Set([
      "StartExecutionCommand",
      "PutEventsCommand",
      "DescribeExecutionCommand",
      "SendTaskSuccessCommand",
      "SendTaskFailureCommand",
      "StopExecutionCommand",
    ]);
    for (const file of [
      ...sources(join(ROOT, "packages/core/src")),
      ...sources(join(ROOT, "packages/functions/src")),
    ]) {
      const text = readFileSync(file, "utf8");
      for (const [, names] of text.matchAll(
        /import\s*\{([^}]*)\}\s*from\s*"@aws-sdk\/client-(?:sfn|eventbridge)"/g,
      )) {
        for (const name of names.split(",").map((n) => n.trim())) {
          if (name.endsWith("Command")) expect(granted, `${file} calls ${name}`).toContain(name);
        }
      }
    }
  });
});
