/**
 * Least-privilege IAM for Reflex's functions. A runbook's step worker gets exactly the
 * permissions the runbook declares (`permissions` in core), one statement each, so IAM never
 * drifts from code:
 *
 * - read-only actions: on the declared resources, else `*` (EC2/ASG describes have no
 *   resource-level scoping);
 * - mutating actions, `tagCondition: "resource"` (the default): only on resources that carry the
 *   automation tag (`aws:ResourceTag/<key>`);
 * - mutating actions, `"request"`: only when the request puts the automation tag on what it
 *   creates (`aws:RequestTag/<key>`);
 * - tagging actions additionally only inside the creating calls they name (`ec2:CreateAction`),
 *   so nothing that exists can be tagged into the fence;
 * - mutating actions, `"none"`: only on the declared resources, which must be given (and, for
 *   EC2, Auto Scaling, SSM and Route 53, justified: core's `permissionProblems`);
 * - the declared service conditions (`ec2:Attribute/InstanceType`, `kms:GrantIsForAWSResource`,
 *   Route 53's record keys) are added to all of the above.
 */
import { type Config, RunbookDefinitionError, Runbooks, TABLE_KEYS } from "@reflex/core";
import { Effect, PolicyStatement } from "aws-cdk-lib/aws-iam";

/**
 * What core calls on the table: single-item reads and writes, queries, and the audit writer's
 * batches (BatchGetItem, BatchWriteItem: granted to it alone, on audit rows,
 * {@link auditWriterStatements}). No Scan, no table management. stacks/iam.test.ts checks this
 * against the DynamoDB commands core imports, so a new call fails the tests, not the deployed
 * function.
 */
export const TABLE_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:Query",
  "dynamodb:BatchGetItem",
  "dynamodb:BatchWriteItem",
];

/** Services whose mutating actions must always be scoped by the automation tag. */
export const TAG_SCOPED_SERVICES = Runbooks.TAG_SCOPED_SERVICES;

export interface RunbookPolicyContext {
  automationTag: { key: string; value: string };
  /**
   * Values for `${...}` placeholders in declared resources: `Partition`, `Account`, `Region`
   * and e.g. `ReportsBucketArn`.
   */
  substitutions: Record<string, string>;
  /** The deployed config: permissions with `forConfig` are narrowed to what it names. */
  config?: Config;
}

/**
 * A runbook's permissions as deployed for `config`: each one with `forConfig` replaced by the
 * scopes it narrows to (none, when the config names nothing it could act on).
 */
export function effectivePermissions(runbook: Runbooks.Runbook, config?: Config): Runbooks.Permission[] {
  return runbook.permissions.flatMap((p) =>
    p.forConfig && config
      ? p.forConfig(config).map((scope) => ({
          ...p,
          forConfig: undefined,
          resources: scope.resources,
          conditions: scope.conditions ?? p.conditions,
        }))
      : [p],
  );
}

function substitute(resource: string, runbook: string, values: Record<string, string>): string {
  return resource.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_whole, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new RunbookDefinitionError(
        `runbook '${runbook}' declares a resource with \${${name}}, which the stacks do not provide (known: ${Object.keys(values).join(", ")})`,
      );
    }
    return value;
  });
}

/** The IAM statements for one runbook's declared permissions. Throws on a permission that cannot be scoped safely. */
export function runbookStatements(runbook: Runbooks.Runbook, ctx: RunbookPolicyContext): PolicyStatement[] {
  return effectivePermissions(runbook, ctx.config).map((p, i) => {
    const where = `runbook '${runbook.name}' permissions[${i}]`;
    // defineRunbook checks these too; the stacks check again for runbooks built by hand.
    const problems = Runbooks.permissionProblems(p);
    if (problems.length > 0) throw new RunbookDefinitionError(`${where}: ${problems.join("; ")}`);
    const resources = p.resources?.map((r) => substitute(r, runbook.name, ctx.substitutions));
    const conditions: Record<string, Record<string, string | string[]>> = {};
    const add = (operator: string, key: string, value: string | string[]) => {
      conditions[operator] = { ...conditions[operator], [key]: value };
    };
    for (const [operator, keys] of Object.entries(p.conditions ?? {})) {
      for (const [key, value] of Object.entries(keys)) add(operator, key, value);
    }
    // Only EC2 has a key for "inside this creating call"; other services' tagging is fenced by
    // the named resources (required for tagging actions) and the request tag.
    if (p.onCreate?.length && p.actions.every((a) => a.startsWith("ec2:")))
      add("StringEquals", "ec2:CreateAction", p.onCreate);
    const statement = (resourceList: string[]) =>
      new PolicyStatement({
        actions: p.actions,
        resources: resourceList,
        ...(Object.keys(conditions).length ? { conditions } : {}),
      });
    if (!p.mutating) return statement(resources ?? ["*"]);
    // No resource type exists for these actions (permissionProblems checked the declaration).
    if (p.wildcardOnly) return statement(["*"]);

    const condition = p.tagCondition ?? "resource";
    if (condition === "none") {
      const unscoped = p.actions.filter((a) => TAG_SCOPED_SERVICES.includes(a.split(":")[0].toLowerCase()));
      if (unscoped.length > 0 && !p.why) {
        throw new RunbookDefinitionError(
          `${where}: mutating ${unscoped.join(", ")} must be scoped by the automation tag (tagCondition "resource" or "request")`,
        );
      }
      if (!resources?.length || resources.includes("*")) {
        throw new RunbookDefinitionError(
          `${where}: a mutating permission without a tag condition must name its resources`,
        );
      }
      return statement(resources);
    }
    const key = condition === "resource" ? "aws:ResourceTag" : "aws:RequestTag";
    add("StringEquals", `${key}/${ctx.automationTag.key}`, ctx.automationTag.value);
    return statement(resources ?? ["*"]);
  });
}

/**
 * What the runbooks' prechecks read (each manifest's `precheckPermissions`), for the roles of
 * the functions that call admit(): a precheck runs in whichever of them admits the start. Read
 * only: a mutating declaration is refused here too (defineRunbook refuses it first).
 */
export function precheckStatements(
  runbooks: Runbooks.Runbook[],
  ctx: RunbookPolicyContext,
): PolicyStatement[] {
  return runbooks.flatMap((r) => {
    const reads = r.precheckPermissions ?? [];
    const i = reads.findIndex((p) => p.mutating);
    if (i >= 0)
      throw new RunbookDefinitionError(
        `runbook '${r.name}' precheckPermissions[${i}]: a precheck only reads (mutating must be false)`,
      );
    return reads.length ? runbookStatements({ ...r, permissions: reads }, ctx) : [];
  });
}

/**
 * Writing the reports of runs that keep a history (restore's drills, `history.route`): put only,
 * only under `reports/<route>/` of the reports bucket — a run's report and the month's summary.
 * For the functions that write them once a run has ended: execution-status and the reconciler.
 */
export function historyReportStatements(bucketArn: string, runbooks: Runbooks.Runbook[]): PolicyStatement[] {
  const routes = [...new Set(runbooks.flatMap((r) => (r.history ? [r.history.route] : [])))].sort();
  return routes.length
    ? [
        new PolicyStatement({
          actions: ["s3:PutObject"],
          resources: routes.map((route) => `${bucketArn}/reports/${route}/*`),
        }),
      ]
    : [];
}

/** Audit rows' partition keys (`AUDIT#<day>`, core's state/audit.ts). */
export const AUDIT_KEYS = "AUDIT#*";

/**
 * The state table's partition-key prefixes (docs/state.md), by the core module that writes them.
 * stacks/iam.test.ts checks this list against the key literals in core, so a new kind of row
 * fails the tests, not the deployed function.
 */
export const KEY_PREFIXES = {
  execution: "EXEC#", // state/executions.ts (steps and patch results too)
  audit: "AUDIT#", // state/audit.ts
  lock: "LOCK#", // state/locks.ts
  approval: "APPROVAL#", // state/approvals.ts
  pair: "PAIR#", // state/pairs.ts
  alarm: "ALARM#", // state/alarms.ts
  dedup: "DEDUP#", // state/dedup.ts
  guard: "GUARD#", // state/guardrails.ts: pause and breaker
  cooldown: "COOLDOWN#", // state/guardrails.ts
  rate: "RATE#", // state/guardrails.ts
  thread: "CHATOPS#", // state/chatops-threads.ts
  slackSignature: "SLACKSIG#", // chatops/replay.ts
  items: "ITEMS#", // state/runbook-items.ts: a runbook's own records (ctx.items)
  seal: "SEAL#", // state/audit-seal.ts: the audit trail's signed digests
  fanOut: "FANOUT#", // state/fan-outs.ts: a fan-out over many locations, its request and outcomes
} as const;
export type KeyKind = keyof typeof KEY_PREFIXES;

/**
 * Closing a run (Runs.finish): the record, its locks, its approval, the breaker. (Its audit
 * entries go to the audit writer, see {@link auditStatement}.)
 */
const CLOSE: KeyKind[] = ["execution", "lock", "approval", "guard"];
/** Starting one through admission (Runs.start, which closes it again when the start fails). */
const ADMIT: KeyKind[] = [...CLOSE, "cooldown", "rate"];

/**
 * Which rows each role may put, update or delete, by partition-key prefix
 * (`dynamodb:LeadingKeys`), from what its handler calls in core. Reading is not fenced (any
 * role but the Slack acknowledgement reads the table: listings, guardrails, the approval
 * record); docs/security.md says what that leaves.
 */
export const TABLE_WRITES = {
  /** The JSON API and POST /events: admission, the gate, approvals, abort, pause/resume, fan-outs. */
  api: [...ADMIT, "dedup", "alarm", "fanOut"],
  /** ChatOps commands and buttons: admission, approvals, abort, pause/resume. */
  chatopsWorker: ADMIT,
  /** The Slack acknowledgement: its replay guard, nothing else. */
  chatopsAck: ["slackSignature"],
  /** Lifecycle notices to Slack: the thread of each run. */
  chatopsNotifier: ["thread"],
  /** The event gate: dedup claims, alarm states, admission, fan-outs (rules with `locations`). */
  trigger: [...ADMIT, "dedup", "alarm", "fanOut"],
  /** Schedules and windows: admission, fan-outs (`locations`). */
  schedule: [...ADMIT, "fanOut"],
  /** The fan-out's Task states: admitting each location's child, recording its outcome. */
  fanOut: [...ADMIT, "fanOut"],
  /** Status events: closing runs. */
  executionStatus: CLOSE,
  /** The reconciler: closing lost runs and releasing dead holders' locks; settling a fan-out whose machine ended without its Finish. */
  reconcile: [...CLOSE, "fanOut"],
  /** Step workers: step records and results, locks a step takes, the approval request, failover's pair roles, a runbook's own records (ctx.items). */
  step: ["execution", "lock", "approval", "pair", "items"],
  /** The audit writer (stacks/audit.ts): audit rows, put only ({@link auditWriterStatements}). */
  auditWriter: ["audit"],
  /** The audit sealer (stacks/audit.ts): the signed digests of the audit trail, and their export marks. */
  auditSealer: ["seal"],
} satisfies Record<string, KeyKind[]>;

/** Every write a role could make to a row, batches included (a batch may hold a DeleteRequest). */
const ROW_WRITES = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
];

/**
 * The state table for one role: reads on the table and its index (no Scan), writes only on
 * the rows whose partition key starts with one of `writes` (`dynamodb:LeadingKeys`), and an
 * explicit Deny of every write to an audit row: only the audit writer appends them
 * ({@link auditWriterStatements}); a role that audits hands its entries to the writer's queue
 * ({@link auditStatement}). `read: false` for a role that never reads (the Slack acknowledgement).
 */
export function tableStatements(
  tableArn: string,
  writes: readonly KeyKind[],
  options: { read?: boolean; runbook?: string } = {},
): PolicyStatement[] {
  if (writes.includes("audit"))
    throw new Error("audit rows are the audit writer's alone: use auditWriterStatements for it");
  if (writes.includes("items") && !options.runbook)
    throw new Error("a runbook's own records are its step worker's alone: name the runbook");
  const resources = [tableArn, `${tableArn}/index/${TABLE_KEYS.gsi1.indexName}`];
  // A runbook's own records are one partition, `ITEMS#<runbook>`, named exactly (no wildcard:
  // `ITEMS#off-hours*` would also reach a runbook called off-hours-eu).
  const prefixes = [...new Set(writes)].map((k) =>
    k === "items" ? `${KEY_PREFIXES.items}${options.runbook}` : `${KEY_PREFIXES[k]}*`,
  );
  return [
    ...(options.read === false
      ? []
      : [new PolicyStatement({ actions: ["dynamodb:GetItem", "dynamodb:Query"], resources })]),
    new PolicyStatement({
      actions: ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
      resources: [tableArn],
      conditions: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": prefixes } },
    }),
    denyAuditWrites(tableArn, ROW_WRITES),
  ];
}

/** An explicit Deny of `actions` on audit rows, so no other grant (now or later) reaches them. */
function denyAuditWrites(tableArn: string, actions: string[]): PolicyStatement {
  return new PolicyStatement({
    effect: Effect.DENY,
    actions,
    resources: [tableArn],
    conditions: { "ForAnyValue:StringLike": { "dynamodb:LeadingKeys": [AUDIT_KEYS] } },
  });
}

/**
 * The audit writer's table access, and all of it: PutItem and BatchWriteItem on audit rows
 * (core's `Audit.storeAll` writes a queue batch's new entries in one BatchWriteItem after one
 * BatchGetItem found their keys free; a key already held takes `Audit.store`'s conditional put,
 * `attribute_not_exists`), GetItem and BatchGetItem on audit rows (is a key held? is a message
 * delivered again already stored?), and an explicit Deny of updating or deleting them. IAM
 * cannot tell a batch's DeleteRequest from its PutRequest, so the writer's role could delete an
 * unsealed row through a batch, as it could overwrite one with an unconditional PutItem: its code
 * sends puts only, and the sealed trail (digests, the Object Lock export) shows any later change.
 * No other row, no Query, no index; every other role keeps the Deny of all four writes.
 */
export function auditWriterStatements(tableArn: string): PolicyStatement[] {
  const auditRows = { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [AUDIT_KEYS] } };
  return [
    new PolicyStatement({
      actions: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"],
      resources: [tableArn],
      conditions: auditRows,
    }),
    denyAuditWrites(tableArn, ["dynamodb:UpdateItem", "dynamodb:DeleteItem"]),
  ];
}

/**
 * The audit sealer's signing, and only its: `kms:Sign` on the audit key (the key's own policy
 * also denies Sign to every other principal, stacks/audit.ts), and `kms:GetPublicKey`.
 */
export function auditSignStatement(keyArn: string): PolicyStatement {
  return new PolicyStatement({ actions: ["kms:Sign", "kms:GetPublicKey"], resources: [keyArn] });
}

/**
 * The sealer's export: put objects (with their Object Lock retention) under `audit/` and read
 * back what it wrote (HeadObject, to resume an export cut short). No delete, no retention change,
 * no governance bypass: in COMPLIANCE mode S3 refuses those to everyone anyway.
 */
export function auditExportStatements(bucketArn: string): PolicyStatement[] {
  return [
    new PolicyStatement({
      actions: ["s3:PutObject", "s3:PutObjectRetention", "s3:GetObject"],
      resources: [`${bucketArn}/audit/*`],
    }),
  ];
}

/** Verifying the trail (the API's GET /api/audit/verify): the public key, and reading the export. */
export function auditVerifyStatements(keyArn: string, bucketArn: string): PolicyStatement[] {
  return [
    new PolicyStatement({ actions: ["kms:GetPublicKey"], resources: [keyArn] }),
    new PolicyStatement({ actions: ["s3:GetObject"], resources: [`${bucketArn}/audit/*`] }),
    new PolicyStatement({ actions: ["s3:ListBucket"], resources: [bucketArn] }),
  ];
}

/**
 * A role that audits: it hands its entries to the audit writer's queue (SendMessageBatch is
 * authorized as sqs:SendMessage), and can do nothing else with it — not read, delete or purge
 * what others sent.
 */
export function auditStatement(queueArn: string): PolicyStatement {
  return new PolicyStatement({ actions: ["sqs:SendMessage"], resources: [queueArn] });
}

/** Starting runs: StartExecution on Reflex's own state machines, each named. */
export function startExecutionStatement(stateMachineArns: string[]): PolicyStatement {
  return new PolicyStatement({ actions: ["states:StartExecution"], resources: stateMachineArns });
}

/** Reading the executions of this stage's own state machines (the reconciler), each machine named. */
export function describeExecutionStatement(executionArns: string[]): PolicyStatement {
  return new PolicyStatement({ actions: ["states:DescribeExecution"], resources: executionArns });
}

/** Publishing lifecycle events to Reflex's bus only. */
export function putEventsStatement(eventBusArn: string): PolicyStatement {
  return new PolicyStatement({ actions: ["events:PutEvents"], resources: [eventBusArn] });
}

/**
 * Answering approvals and aborting runs (the API): SendTaskSuccess / SendTaskFailure take a task
 * token, not an ARN — the service authorization reference lists no resource type for them, so
 * they can only be granted on `*`; the token itself is the capability, and only this function
 * reads tokens (from the state table). StopExecution is scoped to this stage's executions.
 */
export function runControlStatements(executionArns: string[]): PolicyStatement[] {
  return [
    new PolicyStatement({
      actions: ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
      resources: ["*"],
    }),
    // Each of this stage's machines named: a prefix (`reflex-dev-`) would reach another stage's runs.
    new PolicyStatement({ actions: ["states:StopExecution"], resources: executionArns }),
  ];
}
