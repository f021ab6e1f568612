/**
 * db-backup: backs up databases selected by tag or by name — RDS DB instances (DB snapshots),
 * Aurora clusters (cluster snapshots), DynamoDB tables (on-demand backups) — waits until each
 * is `available`, records a manifest entry per backup, and prunes the expired backups Reflex
 * itself made (never fewer than `keepLast` per database). A table without point-in-time
 * recovery is named in the plan as a warning. A failure after the first backup deletes every
 * backup this run made (once it can be deleted: RDS refuses while one is `creating`).
 *
 * With `copyToRegion` (the key backup-snapshot's DR copy uses), each RDS and Aurora snapshot is
 * copied to that Region once available (`CopyDBSnapshot` / `CopyDBClusterSnapshot`, the SDK
 * pre-signing the request from the source ARN's Region; `copyKmsKeyId` for encrypted databases), tagged
 * like its source, waited until available, and pruned there by the same rules. DynamoDB's API
 * cannot copy an on-demand backup to another Region: the plan warns, naming the table.
 *
 * Written only against @reflex/sdk; listed in a config with `runbooks: [dbBackup]`. See
 * docs/runbooks/db-backup.md.
 */
import { approvalStates, defineRunbook, pollLoop, RETRY_ROLLBACK, RETRY_STEP, stepTask } from "@reflex/sdk";
import { z } from "zod";

const R = "db-backup";

/** RDS identifiers (1-63: letters, digits, hyphens) and DynamoDB table names (3-255: letters, digits, _ . -). */
const dbName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,255}$/, "must be a DB instance, Aurora cluster or table name");
export const KINDS = ["rds-instance", "aurora-cluster", "dynamodb-table"] as const;
export type DbKind = (typeof KINDS)[number];

export const params = z
  .object({
    selector: z
      .object({
        tag: z
          .record(z.string().min(1).max(128), z.string().max(256))
          .refine((t) => Object.keys(t).length <= 50, { message: "at most 50 tags" })
          .optional(),
        names: z.array(dbName).min(1).max(50).optional(),
      })
      .strict()
      .refine((s) => (s.tag && Object.keys(s.tag).length > 0) || s.names, {
        message: "give tag (e.g. { Backup: 'daily' }) or names",
      }),
    kinds: z
      .array(z.enum(KINDS))
      .min(1)
      .default([...KINDS])
      .describe("Which kinds of database to back up; default all three"),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as us-east-1")
      .optional()
      .describe("Where the databases are; default Reflex's region"),
    retainDays: z.number().int().min(1).max(3650).default(7).describe("Backups older than this are pruned"),
    copyToRegion: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as us-west-2")
      .optional()
      .describe(
        "Also copy each RDS and Aurora snapshot to this (DR) Region, kept and pruned there alike; DynamoDB backups cannot be copied by its API",
      ),
    copyKmsKeyId: z
      .string()
      .regex(
        /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+|alias\/[A-Za-z0-9/_-]+)$/,
        "must be a KMS key ARN or alias of the DR Region",
      )
      .optional()
      .describe(
        "The KMS key in copyToRegion for copies of encrypted databases (KMS keys do not leave their Region)",
      ),
    keepLast: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(1)
      .describe("Always keep this many newest available Reflex backups per database, whatever their age"),
    timeoutMinutes: z
      .number()
      .int()
      .min(1)
      .max(1200)
      .default(120)
      .describe("Give up waiting for the backups after this (and delete them)"),
  })
  .strict()
  .refine((p) => !p.copyKmsKeyId || p.copyToRegion, {
    message: "copyKmsKeyId goes with copyToRegion",
    path: ["copyKmsKeyId"],
  })
  .refine((p) => !p.copyToRegion || p.copyToRegion !== p.region, {
    message: "copyToRegion must be another Region than the databases'",
    path: ["copyToRegion"],
  });
export type DbBackupParams = z.output<typeof params>;

const ANY_REGION_ACCOUNT = "arn:${Partition}:rds:*:${Account}";
const TABLES = "arn:${Partition}:dynamodb:*:${Account}:table/*";

export const dbBackup = defineRunbook({
  name: R,
  summary:
    "Back up RDS instances, Aurora clusters and DynamoDB tables (snapshots and on-demand backups), waited until available, with retention",
  risk: "low",
  params,
  example: { selector: { tag: { Backup: "daily" } }, retainDays: 14 },
  // Databases one run may back up.
  cap: { maxTargets: 20 },
  services: ["rds", "dynamodb-tables"],
  permissions: [
    {
      actions: [
        "rds:DescribeDBInstances",
        "rds:DescribeDBClusters",
        "rds:DescribeDBSnapshots",
        "rds:DescribeDBClusterSnapshots",
        "dynamodb:ListTables",
        "dynamodb:DescribeTable",
        "dynamodb:ListTagsOfResource",
        "dynamodb:DescribeContinuousBackups",
        "dynamodb:ListBackups",
        "dynamodb:DescribeBackup",
      ],
      mutating: false,
    },
    // A snapshot is authorized against its source (carrying the automation tag) and against the
    // snapshot it creates (created carrying it, tagged in the same call).
    {
      actions: ["rds:CreateDBSnapshot"],
      mutating: true,
      tagCondition: "resource",
      resources: [`${ANY_REGION_ACCOUNT}:db:*`],
    },
    {
      actions: ["rds:CreateDBClusterSnapshot"],
      mutating: true,
      tagCondition: "resource",
      resources: [`${ANY_REGION_ACCOUNT}:cluster:*`],
    },
    {
      actions: ["rds:CreateDBSnapshot"],
      mutating: true,
      tagCondition: "request",
      resources: [`${ANY_REGION_ACCOUNT}:snapshot:reflex-*`],
    },
    {
      actions: ["rds:CreateDBClusterSnapshot"],
      mutating: true,
      tagCondition: "request",
      resources: [`${ANY_REGION_ACCOUNT}:cluster-snapshot:reflex-*`],
    },
    // RDS authorizes the Tags of a Create* call as rds:AddTagsToResource on the new snapshot.
    {
      actions: ["rds:AddTagsToResource"],
      mutating: true,
      tagCondition: "request",
      resources: [
        `${ANY_REGION_ACCOUNT}:snapshot:reflex-*`,
        `${ANY_REGION_ACCOUNT}:cluster-snapshot:reflex-*`,
      ],
      onCreate: ["CreateDBSnapshot", "CreateDBClusterSnapshot", "CopyDBSnapshot", "CopyDBClusterSnapshot"],
    },
    // The DR copy: authorized against the source snapshot (Reflex's, carrying the tag) and the
    // copy it creates (named reflex-…, created carrying the tag, tagged in the same call).
    {
      actions: ["rds:CopyDBSnapshot"],
      mutating: true,
      tagCondition: "resource",
      resources: [`${ANY_REGION_ACCOUNT}:snapshot:reflex-*`],
    },
    {
      actions: ["rds:CopyDBClusterSnapshot"],
      mutating: true,
      tagCondition: "resource",
      resources: [`${ANY_REGION_ACCOUNT}:cluster-snapshot:reflex-*`],
    },
    {
      actions: ["rds:CopyDBSnapshot"],
      mutating: true,
      tagCondition: "request",
      resources: [`${ANY_REGION_ACCOUNT}:snapshot:reflex-*`],
    },
    {
      actions: ["rds:CopyDBClusterSnapshot"],
      mutating: true,
      tagCondition: "request",
      resources: [`${ANY_REGION_ACCOUNT}:cluster-snapshot:reflex-*`],
    },
    // Copying an encrypted snapshot: RDS reads the DR Region's key and creates a grant on it on
    // the caller's behalf, and only then (kms:GrantIsForAWSResource).
    {
      actions: ["kms:DescribeKey"],
      mutating: false,
      resources: ["arn:${Partition}:kms:*:${Account}:key/*"],
      during: ["rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"],
    },
    {
      actions: ["kms:CreateGrant"],
      mutating: true,
      tagCondition: "none",
      resources: ["arn:${Partition}:kms:*:${Account}:key/*"],
      conditions: { Bool: { "kms:GrantIsForAWSResource": "true" } },
      during: ["rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"],
    },
    // Prune and rollback delete only Reflex's own snapshots (named reflex-…, carrying the tag).
    {
      actions: ["rds:DeleteDBSnapshot"],
      mutating: true,
      tagCondition: "resource",
      resources: [`${ANY_REGION_ACCOUNT}:snapshot:reflex-*`],
    },
    {
      actions: ["rds:DeleteDBClusterSnapshot"],
      mutating: true,
      tagCondition: "resource",
      resources: [`${ANY_REGION_ACCOUNT}:cluster-snapshot:reflex-*`],
    },
    // DynamoDB authorizes CreateBackup on the table (carrying the tag). A backup carries no tags
    // and its ARN no name: DeleteBackup cannot be fenced by IAM (docs/runbooks/databases.md).
    { actions: ["dynamodb:CreateBackup"], mutating: true, tagCondition: "resource", resources: [TABLES] },
    {
      actions: ["dynamodb:DeleteBackup"],
      mutating: true,
      tagCondition: "none",
      resources: ["arn:${Partition}:dynamodb:*:${Account}:table/*/backup/*"],
      why: "A DynamoDB backup carries no tags; the steps delete only backups named reflex-… of tables carrying the automation tag.",
    },
  ],
  rollback: ["discard"],
  dryRun:
    "Lists the databases it would back up (kind, engine, point-in-time recovery), the DR copies it would make, and the expired Reflex backups it would prune in both Regions; no mutating call.",
  stateMachine: {
    StartAt: "Plan",
    States: {
      Plan: stepTask(R, "plan", { ResultPath: "$.plan", Retry: RETRY_STEP, Next: "IsDryRun" }),
      IsDryRun: {
        Type: "Choice",
        Choices: [{ Variable: "$.execution.dryRun", BooleanEquals: true, Next: "Planned" }],
        Default: "ApprovalNeeded",
      },
      Planned: { Type: "Succeed" },
      // A person approves the plan when the policy asks: nothing before this changes anything.
      ...approvalStates(R, "Create"),
      Create: stepTask(R, "create", {
        ResultPath: "$.created",
        Retry: RETRY_STEP,
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Discard" }],
        Next: "CheckAvailable",
      }),
      ...pollLoop({
        wait: "WaitAvailable",
        check: "CheckAvailable",
        done: "Available",
        seconds: 10,
        task: stepTask(R, "checkAvailable", {
          ResultPath: "$.available",
          Retry: RETRY_STEP,
          Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Discard" }],
        }),
        donePath: "$.available.done",
        next: "CopyRequested",
      }),
      CopyRequested: {
        Type: "Choice",
        Choices: [{ Variable: "$.plan.copyTo", IsPresent: true, Next: "Copy" }],
        Default: "Prune",
      },
      // A copy that fails undoes the run: the rollback deletes the copies made (a copy still
      // copying is cancelled by deleting it) and the sources.
      Copy: stepTask(R, "copy", {
        ResultPath: "$.copied",
        Retry: RETRY_STEP,
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Discard" }],
        Next: "CheckCopies",
      }),
      ...pollLoop({
        wait: "WaitCopies",
        check: "CheckCopies",
        done: "Copied",
        seconds: 10,
        task: stepTask(R, "checkCopies", {
          ResultPath: "$.copiesAvailable",
          Retry: RETRY_STEP,
          Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Discard" }],
        }),
        donePath: "$.copiesAvailable.done",
        next: "Prune",
      }),
      // A prune that fails does not undo the backups: the report names what it could not delete.
      Prune: stepTask(R, "prune", {
        ResultPath: "$.pruned",
        Retry: RETRY_STEP,
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.pruneFailure", Next: "Report" }],
        Next: "Report",
      }),
      Report: stepTask(R, "report", { ResultPath: "$.report", Retry: RETRY_STEP, Next: "Done" }),
      Done: { Type: "Succeed" },
      // Rollback: every backup this run made is deleted, once RDS lets it (not while creating).
      ...pollLoop({
        wait: "WaitDiscard",
        check: "Discard",
        done: "Discarded",
        seconds: 10,
        task: stepTask(R, "discard", { ResultPath: "$.discarded", Retry: RETRY_ROLLBACK }),
        donePath: "$.discarded.done",
        next: "BackupFailed",
      }),
      BackupFailed: { Type: "Fail", ErrorPath: "$.failure.Error", CausePath: "$.failure.Cause" },
    },
  },
  implementation: () => import("./steps.ts").then((m) => m.implementation),
});
