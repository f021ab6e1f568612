/**
 * The account's own DynamoDB tables and their backups, answering `@aws-sdk/client-dynamodb`
 * (awsJson1_0; errors as DynamoDB's `__type`, `TableNotFoundException`…): DescribeTable,
 * ListTables, ListTagsOfResource, DescribeContinuousBackups (point-in-time recovery on or
 * off), and on-demand backups (CreateBackup `CREATING` → `AVAILABLE` on the clock,
 * DescribeBackup, ListBackups, DeleteBackup).
 *
 * These are the estate's tables, not Reflex's state (which local mode keeps in dynalite):
 * the client factory's service `dynamodb-tables` is answered here, `dynamodb` never is.
 */
import type { BackupDetails, BackupSummary, TableDescription } from "@aws-sdk/client-dynamodb";
import { CloudApiError } from "./api-error.ts";
import type { OpContext, OpInput } from "./fleet.ts";
import type { TagRecord } from "./model.ts";
import { paginate } from "./query.ts";

export interface TableRecord {
  name: string;
  billingMode: "PAY_PER_REQUEST" | "PROVISIONED";
  pitr: boolean;
  sizeBytes: number;
  itemCount: number;
  createdAt: number;
  tags: TagRecord[];
}

export interface BackupRecord {
  arn: string;
  name: string;
  table: string;
  createdAt: number;
  readyAt: number;
  sizeBytes: number;
}

export interface DynamoDbTablesState {
  /** How long a backup stays `CREATING`. Default 5 s. */
  backupMs: number;
  tables: TableRecord[];
  backups: BackupRecord[];
  /** Makes backup ARNs unique without touching the id PRNG (the seeded fleet's ids stay the same). */
  next: number;
}

export function dynamoTables(ctx: Pick<OpContext, "rs">): DynamoDbTablesState {
  ctx.rs.dynamodbTables ??= { backupMs: 5000, tables: [], backups: [], next: 1 };
  return ctx.rs.dynamodbTables;
}

const tableArn = (ctx: OpContext, name: string) =>
  `arn:aws:dynamodb:${ctx.region}:${ctx.state.accountId}:table/${name}`;

function findTable(ctx: OpContext, name: unknown): TableRecord {
  const t = dynamoTables(ctx).tables.find((x) => x.name === name || tableArn(ctx, x.name) === name);
  if (!t)
    throw new CloudApiError(
      "ResourceNotFoundException",
      `Requested resource not found: Table: ${name} not found`,
    );
  return t;
}

function findBackup(ctx: OpContext, arn: unknown): BackupRecord {
  const b = dynamoTables(ctx).backups.find((x) => x.arn === arn);
  if (!b) throw new CloudApiError("BackupNotFoundException", `Backup not found: ${arn}`);
  return b;
}

function shapeTable(ctx: OpContext, t: TableRecord): TableDescription {
  return {
    TableName: t.name,
    TableArn: tableArn(ctx, t.name),
    TableStatus: "ACTIVE",
    CreationDateTime: new Date(t.createdAt),
    BillingModeSummary: { BillingMode: t.billingMode },
    TableSizeBytes: t.sizeBytes,
    ItemCount: t.itemCount,
  };
}

function status(ctx: OpContext, b: BackupRecord) {
  return ctx.now >= b.readyAt ? "AVAILABLE" : "CREATING";
}

function details(ctx: OpContext, b: BackupRecord): BackupDetails {
  return {
    BackupArn: b.arn,
    BackupName: b.name,
    BackupSizeBytes: b.sizeBytes,
    BackupStatus: status(ctx, b),
    BackupType: "USER",
    BackupCreationDateTime: new Date(b.createdAt),
  };
}

function summary(ctx: OpContext, b: BackupRecord): BackupSummary {
  return {
    TableName: b.table,
    TableArn: tableArn(ctx, b.table),
    BackupArn: b.arn,
    BackupName: b.name,
    BackupCreationDateTime: new Date(b.createdAt),
    BackupStatus: status(ctx, b),
    BackupType: "USER",
    BackupSizeBytes: b.sizeBytes,
  };
}

/** ListTagsOfResource's page (see there). */
const TAGS_PAGE = 10;

/** A ListBackups page without `Limit` holds at most 1 MB of summaries (DynamoDB API reference). */
const MAX_PAGE_BYTES = 1_048_576;
const BACKUP_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;

export const dynamoDbTableOperations: Record<string, (ctx: OpContext, input: OpInput) => object> = {
  DescribeTable(ctx, input: { TableName?: string }) {
    return { Table: shapeTable(ctx, findTable(ctx, input.TableName)) };
  },

  // As DynamoDB: names in order, `Limit` 1–100 (default 100), `LastEvaluatedTableName` while more remain.
  ListTables(ctx, input: { Limit?: number; ExclusiveStartTableName?: string }) {
    const limit = input.Limit === undefined ? 100 : Number(input.Limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      throw new CloudApiError(
        "ValidationException",
        `1 validation error detected: Value '${input.Limit}' at 'limit' failed to satisfy constraint: Member must have value ${limit < 1 ? "greater than or equal to 1" : "less than or equal to 100"}`,
      );
    const names = dynamoTables(ctx)
      .tables.map((t) => t.name)
      .sort()
      .filter((n) => input.ExclusiveStartTableName === undefined || n > input.ExclusiveStartTableName);
    const page = names.slice(0, limit);
    return {
      TableNames: page,
      ...(names.length > limit ? { LastEvaluatedTableName: page[page.length - 1] } : {}),
    };
  },

  // A paginated operation whose page size AWS does not document (a table holds up to 50 tags):
  // 10 a page here, so a caller that does not follow NextToken misses the rest.
  ListTagsOfResource(ctx, input: { ResourceArn?: string; NextToken?: string }) {
    const t = findTable(ctx, input.ResourceArn);
    const { page, nextToken } = paginate(
      t.tags.map((x) => ({ Key: x.Key, Value: x.Value })),
      {
        operation: "ListTagsOfResource",
        nextToken: input.NextToken,
        defaultPageSize: TAGS_PAGE,
        min: 1,
        max: TAGS_PAGE,
        parameter: "NextToken",
        badTokenCode: "ValidationException",
        badValueCode: "ValidationException",
      },
    );
    return { Tags: page, ...(nextToken ? { NextToken: nextToken } : {}) };
  },

  DescribeContinuousBackups(ctx, input: { TableName?: string }) {
    const t = dynamoTables(ctx).tables.find((x) => x.name === input.TableName);
    if (!t) throw new CloudApiError("TableNotFoundException", `Table not found: ${input.TableName}`);
    return {
      ContinuousBackupsDescription: {
        ContinuousBackupsStatus: "ENABLED",
        PointInTimeRecoveryDescription: t.pitr
          ? {
              PointInTimeRecoveryStatus: "ENABLED",
              RecoveryPeriodInDays: 35,
              EarliestRestorableDateTime: new Date(Math.max(t.createdAt, ctx.now - 35 * 86_400_000)),
              LatestRestorableDateTime: new Date(ctx.now - 5 * 60_000),
            }
          : { PointInTimeRecoveryStatus: "DISABLED" },
      },
    };
  },

  CreateBackup(ctx, input: { TableName?: string; BackupName?: string }) {
    const state = dynamoTables(ctx);
    const t = state.tables.find((x) => x.name === input.TableName);
    if (!t) throw new CloudApiError("TableNotFoundException", `Table not found: ${input.TableName}`);
    if (!input.BackupName || !BACKUP_NAME.test(input.BackupName))
      throw new CloudApiError(
        "ValidationException",
        `1 validation error detected: Value '${input.BackupName}' at 'backupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+`,
      );
    if (state.backups.some((b) => b.table === t.name && ctx.now < b.readyAt))
      throw new CloudApiError(
        "BackupInUseException",
        `There is another ongoing conflicting backup control plane operation on the table. The backup is either being created, deleted or restored to a table.`,
      );
    const id = `${ctx.now}${String(state.next++).padStart(6, "0")}-${(ctx.now % 0xffffffff).toString(16).padStart(8, "0")}`;
    const b: BackupRecord = {
      arn: `${tableArn(ctx, t.name)}/backup/${id}`,
      name: input.BackupName,
      table: t.name,
      createdAt: ctx.now,
      readyAt: ctx.now + state.backupMs,
      sizeBytes: t.sizeBytes,
    };
    state.backups.push(b);
    return { BackupDetails: details(ctx, b) };
  },

  DescribeBackup(ctx, input: { BackupArn?: string }) {
    const b = findBackup(ctx, input.BackupArn);
    const t = dynamoTables(ctx).tables.find((x) => x.name === b.table);
    return {
      BackupDescription: {
        BackupDetails: details(ctx, b),
        SourceTableDetails: {
          TableName: b.table,
          TableArn: tableArn(ctx, b.table),
          TableSizeBytes: b.sizeBytes,
          BillingMode: t?.billingMode,
          ItemCount: t?.itemCount,
          TableCreationDateTime: new Date(t?.createdAt ?? b.createdAt),
          KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
          ProvisionedThroughput: { ReadCapacityUnits: 0, WriteCapacityUnits: 0 },
        },
      },
    };
  },

  /**
   * Pages as DynamoDB does: at most `Limit` (1–100) summaries, or 1 MB of them without one;
   * `LastEvaluatedBackupArn` out while more remain, `ExclusiveStartBackupArn` in to go on after it.
   */
  ListBackups(
    ctx,
    input: { TableName?: string; BackupType?: string; Limit?: number; ExclusiveStartBackupArn?: string },
  ) {
    const limit = input.Limit === undefined ? undefined : Number(input.Limit);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 100))
      throw new CloudApiError(
        "ValidationException",
        `1 validation error detected: Value '${input.Limit}' at 'limit' failed to satisfy constraint: Member must have value ${limit !== undefined && limit < 1 ? "greater than or equal to 1" : "less than or equal to 100"}`,
      );
    const items =
      input.BackupType === "SYSTEM" || input.BackupType === "AWS_BACKUP"
        ? []
        : dynamoTables(ctx).backups.filter((b) => !input.TableName || b.table === input.TableName);
    let start = 0;
    if (input.ExclusiveStartBackupArn) {
      const at = items.findIndex((b) => b.arn === input.ExclusiveStartBackupArn);
      if (at < 0)
        throw new CloudApiError(
          "ValidationException",
          `Invalid ExclusiveStartBackupArn: ${input.ExclusiveStartBackupArn} is not a backup this listing returned.`,
        );
      start = at + 1;
    }
    const page: BackupSummary[] = [];
    let bytes = 0;
    for (const b of items.slice(start)) {
      const s = summary(ctx, b);
      bytes += JSON.stringify(s).length;
      if (page.length === (limit ?? Number.POSITIVE_INFINITY) || (page.length > 0 && bytes > MAX_PAGE_BYTES))
        break;
      page.push(s);
    }
    const more = start + page.length < items.length;
    return {
      BackupSummaries: page,
      ...(more ? { LastEvaluatedBackupArn: page[page.length - 1]?.BackupArn } : {}),
    };
  },

  DeleteBackup(ctx, input: { BackupArn?: string }) {
    const state = dynamoTables(ctx);
    const b = findBackup(ctx, input.BackupArn);
    if (ctx.now < b.readyAt)
      throw new CloudApiError("BackupInUseException", `Backup ${b.arn} is being created.`);
    state.backups = state.backups.filter((x) => x !== b);
    return { BackupDescription: { BackupDetails: { ...details(ctx, b), BackupStatus: "DELETED" } } };
  },
};

export interface NewTable {
  name: string;
  billingMode?: TableRecord["billingMode"];
  pitr?: boolean;
  sizeBytes?: number;
  itemCount?: number;
  tags?: Record<string, string>;
}

export function addTable(ctx: OpContext, spec: NewTable): TableRecord {
  const state = dynamoTables(ctx);
  if (state.tables.some((t) => t.name === spec.name))
    throw new CloudApiError("ResourceInUseException", `Table already exists: ${spec.name}`);
  const t: TableRecord = {
    name: spec.name,
    billingMode: spec.billingMode ?? "PAY_PER_REQUEST",
    pitr: spec.pitr ?? false,
    sizeBytes: spec.sizeBytes ?? 1_048_576,
    itemCount: spec.itemCount ?? 1000,
    createdAt: ctx.now,
    tags: Object.entries(spec.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
  };
  state.tables.push(t);
  return t;
}
