/**
 * db-backup's steps. Every backup's name is fixed by the plan (`reflex-<retain-until>-<run>-<db>`),
 * so a retried step finds what it made instead of making a second one, and the rollback finds
 * what to delete even when the step that made it failed half-way. A DR copy (`copyToRegion`)
 * has its source's name in the DR Region, so the same holds for copies.
 */
import { createHash } from "node:crypto";
import {
  CreateBackupCommand,
  DeleteBackupCommand,
  DescribeBackupCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListBackupsCommand,
  ListTablesCommand,
  ListTagsOfResourceCommand,
} from "@aws-sdk/client-dynamodb";
import {
  CopyDBClusterSnapshotCommand,
  CopyDBSnapshotCommand,
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  type DBClusterSnapshot,
  type DBSnapshot,
  DeleteDBClusterSnapshotCommand,
  DeleteDBSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
  type Tag,
} from "@aws-sdk/client-rds";
import {
  client,
  type Implementation,
  type RunInput,
  type StepContext,
  StepExecutionError,
  type TargetResult,
} from "@reflex/sdk";
import type { DbBackupParams, DbKind } from "./index.ts";

export const TAGS = {
  runbook: "reflex:runbook",
  execution: "reflex:execution-id",
  source: "reflex:source",
  retainUntil: "reflex:retain-until",
  /** A DR copy: the snapshot (ARN) it was copied from. */
  copyOf: "reflex:copy-of",
} as const;
const RUNBOOK = "db-backup";
const DAY_MS = 86_400_000;

export interface PlannedBackup {
  kind: DbKind;
  /** The DB instance id, cluster id or table name. */
  source: string;
  engine: string;
  /** The snapshot identifier or backup name this run uses: fixed here, so a retry finds it. */
  name: string;
  /** DynamoDB: point-in-time recovery on. */
  pitr?: boolean;
  /** RDS, Aurora: encrypted with this KMS key (its copy needs a key of the DR Region). */
  kmsKeyId?: string;
}

export interface Expired {
  kind: DbKind;
  source: string;
  /** The snapshot identifier, or the backup's ARN. */
  id: string;
  createdAt: string;
  /** Where it is: the databases' Region unless a DR copy's. */
  region?: string;
}

export interface Plan {
  region: string;
  retainUntil: string;
  deadline: string;
  backups: PlannedBackup[];
  expired: Expired[];
  warnings: string[];
  /** Databases another run holds locked: left alone, reported skipped. */
  skipped: TargetResult[];
  /** The DR Region RDS and Aurora snapshots are copied to (`copyToRegion`), and the key for encrypted ones. */
  copyTo?: string;
  copyKmsKeyId?: string;
}

interface Made {
  kind: DbKind;
  source: string;
  name: string;
  /** The snapshot's ARN, or the DynamoDB backup's. */
  arn: string;
}

/** A DR copy this run made: the copy's ARN in `region`, of the source snapshot `of`. */
interface Copy {
  kind: DbKind;
  source: string;
  name: string;
  region: string;
  arn: string;
  of: string;
}

type Input = RunInput<DbBackupParams> & {
  plan: Plan;
  created?: { made: Made[] };
  copied?: { copies: Copy[] };
  available?: { done: boolean };
  pruned?: { deleted: Expired[]; kept: number };
  pruneFailure?: { Error?: string; Cause?: string };
};

const rds = (region: string) => client(RDSClient, "rds", region);
const ddb = (region: string) => client(DynamoDBClient, "dynamodb-tables", region);
const tag = (tags: Tag[] | undefined, key: string) => tags?.find((t) => t.Key === key)?.Value;
const targetKind: Record<DbKind, string> = {
  "rds-instance": "rds-instance",
  "aurora-cluster": "aurora-cluster",
  "dynamodb-table": "dynamodb-table",
};

/** `reflex-<retain-until yyyymmddhhmm>-<run digest>-<db>`: a valid RDS identifier and DynamoDB backup name. */
export function backupName(executionId: string, retainUntil: Date, source: string): string {
  const until = retainUntil.toISOString().replace(/[-:T]/g, "").slice(0, 12);
  const run = createHash("sha256").update(executionId).digest("hex").slice(0, 8);
  const db = source
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/-+/g, "-")
    .replace(/-$/, "");
  return `reflex-${until}-${run}-${db}`.slice(0, 255).replace(/-$/, "");
}

function matches(tags: Array<{ Key?: string; Value?: string }> | undefined, want: Record<string, string>) {
  return Object.entries(want).every(([k, v]) => tags?.some((t) => t.Key === k && t.Value === v));
}

interface Found {
  kind: DbKind;
  source: string;
  engine: string;
  tags: Array<{ Key?: string; Value?: string }>;
  pitr?: boolean;
  kmsKeyId?: string;
  /** Why it cannot be backed up as asked (an Aurora member named on its own). */
  refused?: string;
}

/** The most a page of RDS's describes (MaxRecords) and DynamoDB's ListBackups (Limit) may hold: fewer calls. */
const PAGE_SIZE = 100;

/**
 * Every item of a paged describe or list, following its token (RDS `Marker`, DynamoDB
 * `LastEvaluatedBackupArn`, `LastEvaluatedTableName`) until none comes back: the first page alone
 * left backups past it unpruned. One loop for every listing here; the DynamoDB client has no
 * ListBackups paginator.
 */
async function allPages<T>(
  page: (token: string | undefined) => Promise<{ items: T[] | undefined; next: string | undefined }>,
): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const p = await page(token);
    out.push(...(p.items ?? []));
    // A token that does not move would loop for ever: stop, as the SDK's paginators can.
    token = p.next === token ? undefined : p.next;
  } while (token);
  return out;
}

/** Every database of the asked kinds in the region, with its tags. */
async function inventory(region: string, kinds: DbKind[]): Promise<Found[]> {
  const found: Found[] = [];
  if (kinds.includes("rds-instance")) {
    const instances = await allPages(async (Marker) => {
      const r = await rds(region).send(new DescribeDBInstancesCommand({ MaxRecords: PAGE_SIZE, Marker }));
      return { items: r.DBInstances, next: r.Marker };
    });
    for (const i of instances)
      found.push({
        kind: "rds-instance",
        source: i.DBInstanceIdentifier ?? "",
        engine: i.Engine ?? "",
        tags: i.TagList ?? [],
        ...(i.StorageEncrypted && i.KmsKeyId ? { kmsKeyId: i.KmsKeyId } : {}),
        ...(i.DBClusterIdentifier
          ? {
              refused: `is a member of Aurora cluster ${i.DBClusterIdentifier}: back up the cluster (aurora-cluster)`,
            }
          : {}),
      });
  }
  if (kinds.includes("aurora-cluster")) {
    const clusters = await allPages(async (Marker) => {
      const r = await rds(region).send(new DescribeDBClustersCommand({ MaxRecords: PAGE_SIZE, Marker }));
      return { items: r.DBClusters, next: r.Marker };
    });
    for (const c of clusters)
      found.push({
        kind: "aurora-cluster",
        source: c.DBClusterIdentifier ?? "",
        engine: c.Engine ?? "",
        tags: c.TagList ?? [],
        ...(c.StorageEncrypted && c.KmsKeyId ? { kmsKeyId: c.KmsKeyId } : {}),
      });
  }
  if (kinds.includes("dynamodb-table")) {
    const names = await allPages(async (ExclusiveStartTableName) => {
      const r = await ddb(region).send(new ListTablesCommand({ ExclusiveStartTableName }));
      return { items: r.TableNames, next: r.LastEvaluatedTableName };
    });
    for (const name of names) {
      const table = await ddb(region).send(new DescribeTableCommand({ TableName: name }));
      // Every page of its tags: a selecting tag on a later one would leave the table out.
      const tags = await allPages(async (NextToken) => {
        const r = await ddb(region).send(
          new ListTagsOfResourceCommand({ ResourceArn: table.Table?.TableArn, NextToken }),
        );
        return { items: r.Tags, next: r.NextToken };
      });
      found.push({ kind: "dynamodb-table", source: name, engine: "dynamodb", tags });
    }
  }
  return found;
}

/** Reflex's own backups of one database, newest first: tagged (RDS) or named (DynamoDB) by db-backup. */
async function reflexBackups(
  region: string,
  f: Pick<PlannedBackup, "kind" | "source">,
  automation: { key: string; value: string },
): Promise<Array<{ id: string; createdAt: number; retainUntil: number; available: boolean }>> {
  const ours = (s: DBSnapshot | DBClusterSnapshot) =>
    s.SnapshotType === "manual" &&
    tag(s.TagList, TAGS.runbook) === RUNBOOK &&
    tag(s.TagList, automation.key) === automation.value;
  const shape = (id: string | undefined, s: DBSnapshot | DBClusterSnapshot) => ({
    id: id ?? "",
    createdAt: s.SnapshotCreateTime?.getTime() ?? 0,
    retainUntil: Date.parse(tag(s.TagList, TAGS.retainUntil) ?? "") || Number.POSITIVE_INFINITY,
    available: s.Status === "available",
  });
  let out: Array<{ id: string; createdAt: number; retainUntil: number; available: boolean }>;
  if (f.kind === "rds-instance") {
    const all = await allPages(async (Marker) => {
      const r = await rds(region).send(
        new DescribeDBSnapshotsCommand({
          DBInstanceIdentifier: f.source,
          SnapshotType: "manual",
          MaxRecords: PAGE_SIZE,
          Marker,
        }),
      );
      return { items: r.DBSnapshots, next: r.Marker };
    });
    out = all.filter(ours).map((s) => shape(s.DBSnapshotIdentifier, s));
  } else if (f.kind === "aurora-cluster") {
    const all = await allPages(async (Marker) => {
      const r = await rds(region).send(
        new DescribeDBClusterSnapshotsCommand({
          DBClusterIdentifier: f.source,
          SnapshotType: "manual",
          MaxRecords: PAGE_SIZE,
          Marker,
        }),
      );
      return { items: r.DBClusterSnapshots, next: r.Marker };
    });
    out = all.filter(ours).map((s) => shape(s.DBClusterSnapshotIdentifier, s));
  } else {
    // DynamoDB backups carry no tags: the name says it is Reflex's and until when it is kept.
    const all = await allPages(async (ExclusiveStartBackupArn) => {
      const r = await ddb(region).send(
        new ListBackupsCommand({
          TableName: f.source,
          BackupType: "USER",
          Limit: PAGE_SIZE,
          ExclusiveStartBackupArn,
        }),
      );
      return { items: r.BackupSummaries, next: r.LastEvaluatedBackupArn };
    });
    out = all.flatMap((b) => {
      const m = /^reflex-(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})-[0-9a-f]{8}-/.exec(b.BackupName ?? "");
      if (!m) return [];
      return [
        {
          id: b.BackupArn ?? "",
          createdAt: b.BackupCreationDateTime?.getTime() ?? 0,
          retainUntil: Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:00Z`),
          available: b.BackupStatus === "AVAILABLE",
        },
      ];
    });
  }
  return out.sort((a, b) => b.createdAt - a.createdAt);
}

/** What to prune of one database: expired, available, and not among the `keepLast` newest available (counting the one this run adds). */
function expiredOf(
  backups: Awaited<ReturnType<typeof reflexBackups>>,
  keepLast: number,
  now: number,
  adding: boolean,
) {
  const available = backups.filter((b) => b.available);
  const keep = new Set(available.slice(0, Math.max(0, keepLast - (adding ? 1 : 0))).map((b) => b.id));
  return available.filter((b) => b.retainUntil < now && !keep.has(b.id));
}

/** Finds the databases, refuses what cannot be backed up, checks the cap, locks them, names the backups. Read-only. */
export async function plan(input: Input, ctx: StepContext): Promise<Plan> {
  const p = input.params;
  const region = p.region ?? process.env.AWS_REGION ?? "us-east-1";
  const now = ctx.now();
  const all = await inventory(region, p.kinds);
  const refusals: TargetResult[] = [];
  let chosen: Found[];
  if (p.selector.names) {
    chosen = [];
    for (const name of p.selector.names) {
      const hits = all.filter((f) => f.source === name);
      if (hits.length === 0) {
        refusals.push({
          id: name,
          kind: "database",
          status: "failed",
          reason: `not found: no ${p.kinds.join(", ")} named ${name} in ${region}`,
        });
        continue;
      }
      chosen.push(...hits);
    }
  } else chosen = all;
  if (p.selector.tag) {
    const want = p.selector.tag;
    chosen = chosen.filter((f) => matches(f.tags, want) || p.selector.names?.includes(f.source));
    if (p.selector.names)
      for (const f of chosen.filter((x) => !matches(x.tags, want)))
        refusals.push({
          id: f.source,
          kind: targetKind[f.kind],
          status: "failed",
          reason: `does not carry the selector's tags ${JSON.stringify(want)}`,
        });
  }
  for (const f of chosen) {
    if (f.refused && p.selector.names?.includes(f.source))
      refusals.push({ id: f.source, kind: targetKind[f.kind], status: "failed", reason: f.refused });
    else if (!matches(f.tags, { [ctx.automationTag.key]: ctx.automationTag.value }) && p.selector.names)
      refusals.push({
        id: f.source,
        kind: targetKind[f.kind],
        status: "failed",
        reason: `does not carry the automation tag ${ctx.automationTag.key}=${ctx.automationTag.value}`,
      });
  }
  if (refusals.length) {
    await ctx.record({
      summary: `refused: ${refusals.map((r) => `${r.id} ${r.reason}`).join("; ")}; nothing was changed`,
      targets: refusals,
    });
    const notFound = refusals.some((r) => r.reason?.startsWith("not found"));
    throw new StepExecutionError(
      notFound ? "DatabaseNotFound" : "DatabaseRefused",
      refusals.map((r) => `${r.id}: ${r.reason}`).join("; "),
    );
  }
  // Selected by tag: Aurora members go with their cluster, and only what Reflex may act on.
  const eligible = chosen.filter(
    (f) => !f.refused && matches(f.tags, { [ctx.automationTag.key]: ctx.automationTag.value }),
  );
  const cap = ctx.maxTargets ?? 20;
  if (eligible.length > cap)
    throw new StepExecutionError(
      "BlastRadiusExceeded",
      `the selector matched ${eligible.length} databases, more than the cap of ${cap}; narrow it or raise guardrails.maxTargetsPerRun`,
    );
  const copyTo = p.copyToRegion;
  if (copyTo === region) {
    const why = `copyToRegion ${copyTo} is the databases' own Region: a DR copy goes to another`;
    await ctx.record({ summary: `refused: ${why}; nothing was changed`, targets: [] });
    throw new StepExecutionError("CopyToSameRegion", why);
  }
  if (copyTo && !p.copyKmsKeyId) {
    const encrypted = eligible.filter((f) => f.kmsKeyId);
    if (encrypted.length) {
      const targets = encrypted.map(
        (f): TargetResult => ({
          id: f.source,
          kind: targetKind[f.kind],
          status: "failed",
          reason: `is encrypted (${f.kmsKeyId}): a copy to ${copyTo} needs copyKmsKeyId, a KMS key of ${copyTo} (keys do not leave their Region)`,
        }),
      );
      await ctx.record({
        summary: `refused: ${targets.map((r) => `${r.id} ${r.reason}`).join("; ")}; nothing was changed`,
        targets,
      });
      throw new StepExecutionError("DatabaseRefused", targets.map((r) => `${r.id}: ${r.reason}`).join("; "));
    }
  }
  const warnings: string[] = [];
  if (copyTo)
    for (const f of eligible.filter((x) => x.kind === "dynamodb-table"))
      warnings.push(
        `table ${f.source}: DynamoDB's API cannot copy an on-demand backup to another Region, so its backup stays in ${region} only (not copied to ${copyTo}; AWS Backup can copy it)`,
      );
  for (const f of eligible.filter((x) => x.kind === "dynamodb-table")) {
    const c = await ddb(region).send(new DescribeContinuousBackupsCommand({ TableName: f.source }));
    f.pitr =
      c.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus === "ENABLED";
    if (!f.pitr)
      warnings.push(
        `table ${f.source} has point-in-time recovery off: between backups, its changes are not recoverable`,
      );
  }
  const lockOf = (f: Found) => `${f.kind === "dynamodb-table" ? "table" : "db"}:${f.source}`;
  const ids = eligible.map(lockOf).sort();
  const { held, locked } = ctx.dryRun ? { held: ids, locked: [] } : await ctx.lockTargets(ids);
  const mine = eligible.filter((f) => held.includes(lockOf(f)));
  const retainUntil = new Date(now.getTime() + p.retainDays * DAY_MS);
  const backups: PlannedBackup[] = mine.map((f) => ({
    kind: f.kind,
    source: f.source,
    engine: f.engine,
    name: backupName(ctx.executionId, retainUntil, f.source),
    ...(f.pitr === undefined ? {} : { pitr: f.pitr }),
    ...(f.kmsKeyId ? { kmsKeyId: f.kmsKeyId } : {}),
  }));
  const expired: Expired[] = [];
  // Here, and Reflex's own copies in the DR Region (DynamoDB backups are not copied), kept and
  // pruned by the same rules.
  const places = [
    { at: region, of: backups, dr: false },
    ...(copyTo ? [{ at: copyTo, of: backups.filter((x) => x.kind !== "dynamodb-table"), dr: true }] : []),
  ];
  for (const { at, of, dr } of places)
    for (const b of of)
      for (const e of expiredOf(
        await reflexBackups(at, b, ctx.automationTag),
        p.keepLast,
        now.getTime(),
        true,
      ))
        expired.push({
          kind: b.kind,
          source: b.source,
          id: e.id,
          createdAt: new Date(e.createdAt).toISOString(),
          ...(dr ? { region: at } : {}),
        });
  const verb = ctx.dryRun ? "would back up" : "backing up";
  const skipped = locked.map(
    (l): TargetResult => ({
      id: l.target.replace(/^(db|table):/, ""),
      kind: "database",
      status: "skipped",
      reason: `locked by run ${l.holder ?? "(another run)"}`,
    }),
  );
  const targets: TargetResult[] = [
    ...backups.map(
      (b): TargetResult => ({
        id: b.source,
        kind: targetKind[b.kind],
        status: "not-started",
        reason: `${ctx.dryRun ? "would create" : "will create"} ${b.name}${copyTo && b.kind !== "dynamodb-table" ? ` and copy it to ${copyTo}` : ""}`,
        details: {
          engine: b.engine,
          ...(b.pitr === undefined ? {} : { "point-in-time recovery": b.pitr ? "on" : "OFF" }),
          prune: expired.filter((e) => e.source === b.source).length,
          ...(copyTo ? { "copy to": b.kind === "dynamodb-table" ? "not possible (DynamoDB)" : copyTo } : {}),
        },
      }),
    ),
    ...skipped,
  ];
  await ctx.record({
    summary: `${verb} ${backups.length} database(s) in ${region}${copyTo ? `, copying the RDS and Aurora snapshots to ${copyTo}` : ""}, kept until ${retainUntil.toISOString().slice(0, 10)}; ${expired.length} expired Reflex backup(s) to prune${warnings.length ? `; warning: ${warnings.join("; ")}` : ""}`,
    targets,
    warnings,
  });
  return {
    region,
    retainUntil: retainUntil.toISOString(),
    deadline: new Date(now.getTime() + p.timeoutMinutes * 60_000).toISOString(),
    backups,
    expired,
    warnings,
    skipped,
    ...(copyTo ? { copyTo } : {}),
    ...(p.copyKmsKeyId ? { copyKmsKeyId: p.copyKmsKeyId } : {}),
  };
}

function reflexTags(input: Input, ctx: StepContext, b: PlannedBackup): Tag[] {
  return [
    { Key: ctx.automationTag.key, Value: ctx.automationTag.value },
    { Key: TAGS.runbook, Value: RUNBOOK },
    { Key: TAGS.execution, Value: ctx.executionId },
    { Key: TAGS.source, Value: b.source },
    { Key: TAGS.retainUntil, Value: input.plan.retainUntil },
  ];
}

/** Looks up a planned backup: its ARN and whether it is available, or undefined when it does not exist. */
async function lookUp(
  region: string,
  b: PlannedBackup,
): Promise<{ arn: string; status: string } | undefined> {
  try {
    if (b.kind === "rds-instance") {
      const s = (await rds(region).send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: b.name })))
        .DBSnapshots?.[0];
      return s ? { arn: s.DBSnapshotArn ?? "", status: s.Status ?? "" } : undefined;
    }
    if (b.kind === "aurora-cluster") {
      const s = (
        await rds(region).send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: b.name }))
      ).DBClusterSnapshots?.[0];
      return s ? { arn: s.DBClusterSnapshotArn ?? "", status: s.Status ?? "" } : undefined;
    }
  } catch (err) {
    if (
      (err as Error).name === "DBSnapshotNotFoundFault" ||
      (err as Error).name === "DBClusterSnapshotNotFoundFault"
    )
      return undefined;
    throw err;
  }
  // Page by page until it is found: a table's newest backup comes after all its others, past the
  // first page (1 MB of summaries) of a table with thousands, and read as lost there.
  let ExclusiveStartBackupArn: string | undefined;
  do {
    const r = await ddb(region).send(
      new ListBackupsCommand({
        TableName: b.source,
        BackupType: "USER",
        Limit: PAGE_SIZE,
        ExclusiveStartBackupArn,
      }),
    );
    const hit = r.BackupSummaries?.find((x) => x.BackupName === b.name);
    if (hit) return { arn: hit.BackupArn ?? "", status: (hit.BackupStatus ?? "").toLowerCase() };
    ExclusiveStartBackupArn =
      r.LastEvaluatedBackupArn === ExclusiveStartBackupArn ? undefined : r.LastEvaluatedBackupArn;
  } while (ExclusiveStartBackupArn);
  return undefined;
}

/** Creates each planned backup that does not exist yet (tagged on create, for RDS). */
async function create(input: Input, ctx: StepContext): Promise<{ made: Made[] }> {
  const { region } = input.plan;
  const made: Made[] = [];
  for (const b of input.plan.backups) {
    const existing = await lookUp(region, b);
    if (existing) {
      made.push({ kind: b.kind, source: b.source, name: b.name, arn: existing.arn });
      continue;
    }
    let arn: string;
    if (b.kind === "rds-instance") {
      const out = await rds(region).send(
        new CreateDBSnapshotCommand({
          DBInstanceIdentifier: b.source,
          DBSnapshotIdentifier: b.name,
          Tags: reflexTags(input, ctx, b),
        }),
      );
      arn = out.DBSnapshot?.DBSnapshotArn ?? "";
    } else if (b.kind === "aurora-cluster") {
      const out = await rds(region).send(
        new CreateDBClusterSnapshotCommand({
          DBClusterIdentifier: b.source,
          DBClusterSnapshotIdentifier: b.name,
          Tags: reflexTags(input, ctx, b),
        }),
      );
      arn = out.DBClusterSnapshot?.DBClusterSnapshotArn ?? "";
    } else {
      const out = await ddb(region).send(
        new CreateBackupCommand({ TableName: b.source, BackupName: b.name }),
      );
      arn = out.BackupDetails?.BackupArn ?? "";
    }
    made.push({ kind: b.kind, source: b.source, name: b.name, arn });
  }
  return { made };
}

/** Done when every backup is available; fails on one that failed, or past the deadline. Then writes the manifest entries. */
async function checkAvailable(input: Input, ctx: StepContext): Promise<{ done: boolean }> {
  const { region } = input.plan;
  const pending: string[] = [];
  for (const b of input.plan.backups) {
    const s = await lookUp(region, b);
    if (!s) throw new StepExecutionError("BackupLost", `${b.name} of ${b.source} no longer exists`);
    if (s.status === "failed" || s.status === "deleted" || s.status === "deleting")
      throw new StepExecutionError("BackupFailed", `${b.name} of ${b.source} is ${s.status}`);
    if (s.status !== "available") pending.push(b.name);
  }
  if (pending.length && ctx.now().getTime() > Date.parse(input.plan.deadline))
    throw new StepExecutionError(
      "BackupTimedOut",
      `${pending.join(", ")} not available by ${input.plan.deadline} (timeoutMinutes)`,
    );
  if (pending.length) return { done: false };
  // With a DR copy, the manifest is written once the copies are available too.
  if (!input.plan.copyTo) await writeManifest(input, ctx, []);
  return { done: true };
}

/** The manifest: one entry per backup (and its DR copy), kept (and listed by GET /api/runbooks/db-backup/items) until it expires. */
async function writeManifest(input: Input, ctx: StepContext, copies: Copy[]): Promise<void> {
  for (const m of input.created?.made ?? []) {
    const copy = copies.find((c) => c.name === m.name);
    await ctx.items?.put(
      `backup/${m.kind}/${m.source}/${m.name}`,
      {
        kind: m.kind,
        source: m.source,
        name: m.name,
        arn: m.arn,
        region: input.plan.region,
        ...(copy ? { copy: { region: copy.region, arn: copy.arn } } : {}),
        executionId: ctx.executionId,
        createdAt: ctx.now().toISOString(),
        retainUntil: input.plan.retainUntil,
      },
      { expiresAt: new Date(input.plan.retainUntil) },
    );
  }
}

/**
 * Copies each available RDS and Aurora snapshot to the DR Region (called there, the source
 * named by its ARN, from whose Region the SDK pre-signs the request: `PreSignedUrl`), tagged like its source
 * plus what it is a copy of; a copy that exists already (a retried step) is not made twice.
 */
async function copy(input: Input, ctx: StepContext): Promise<{ copies: Copy[] }> {
  const { region, copyTo, copyKmsKeyId } = input.plan;
  if (!copyTo) return { copies: [] };
  const copies: Copy[] = [];
  for (const b of input.plan.backups.filter((x) => x.kind !== "dynamodb-table")) {
    const source = await lookUp(region, b);
    if (!source) throw new StepExecutionError("BackupLost", `${b.name} of ${b.source} no longer exists`);
    const existing = await lookUp(copyTo, b);
    const entry = { kind: b.kind, source: b.source, name: b.name, region: copyTo, of: source.arn };
    if (existing) {
      copies.push({ ...entry, arn: existing.arn });
      continue;
    }
    const Tags = [...reflexTags(input, ctx, b), { Key: TAGS.copyOf, Value: source.arn }];
    const KmsKeyId = b.kmsKeyId ? copyKmsKeyId : undefined;
    const out =
      b.kind === "rds-instance"
        ? (
            await rds(copyTo).send(
              new CopyDBSnapshotCommand({
                SourceDBSnapshotIdentifier: source.arn,
                TargetDBSnapshotIdentifier: b.name,
                KmsKeyId,
                Tags,
              }),
            )
          ).DBSnapshot?.DBSnapshotArn
        : (
            await rds(copyTo).send(
              new CopyDBClusterSnapshotCommand({
                SourceDBClusterSnapshotIdentifier: source.arn,
                TargetDBClusterSnapshotIdentifier: b.name,
                KmsKeyId,
                Tags,
              }),
            )
          ).DBClusterSnapshot?.DBClusterSnapshotArn;
    copies.push({ ...entry, arn: out ?? "" });
  }
  return { copies };
}

/** Done when every DR copy is available (then writes the manifest); fails on one that failed, or past the deadline. */
async function checkCopies(input: Input, ctx: StepContext): Promise<{ done: boolean }> {
  const copyTo = input.plan.copyTo ?? "";
  const copies = input.copied?.copies ?? [];
  const pending: string[] = [];
  for (const c of copies) {
    const b = input.plan.backups.find((x) => x.name === c.name && x.kind === c.kind);
    const s = b ? await lookUp(copyTo, b) : undefined;
    if (!s) throw new StepExecutionError("CopyLost", `the copy ${c.name} in ${copyTo} no longer exists`);
    if (s.status === "failed" || s.status === "deleted" || s.status === "deleting")
      throw new StepExecutionError("CopyFailed", `the copy ${c.name} in ${copyTo} is ${s.status}`);
    if (s.status !== "available") pending.push(c.name);
  }
  if (pending.length && ctx.now().getTime() > Date.parse(input.plan.deadline))
    throw new StepExecutionError(
      "CopyTimedOut",
      `copies ${pending.join(", ")} in ${copyTo} not available by ${input.plan.deadline} (timeoutMinutes)`,
    );
  if (pending.length) return { done: false };
  await writeManifest(input, ctx, copies);
  return { done: true };
}

async function remove(region: string, kind: DbKind, id: string): Promise<void> {
  if (kind === "rds-instance")
    await rds(region).send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: id }));
  else if (kind === "aurora-cluster")
    await rds(region).send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: id }));
  else await ddb(region).send(new DeleteBackupCommand({ BackupArn: id }));
}

/** Deletes the expired Reflex backups the plan found (re-checked: still Reflex's, still expired). */
async function prune(input: Input, ctx: StepContext): Promise<{ deleted: Expired[]; kept: number }> {
  const { region } = input.plan;
  const deleted: Expired[] = [];
  let kept = 0;
  const regions = [region, ...(input.plan.copyTo ? [input.plan.copyTo] : [])];
  for (const b of input.plan.backups) {
    const still = new Set<string>();
    for (const r of regions.filter((x) => x === region || b.kind !== "dynamodb-table"))
      for (const e of expiredOf(
        await reflexBackups(r, b, ctx.automationTag),
        input.params.keepLast,
        ctx.now().getTime(),
        false,
      ))
        still.add(`${r} ${e.id}`);
    for (const e of input.plan.expired.filter((x) => x.source === b.source && x.kind === b.kind)) {
      if (!still.has(`${e.region ?? region} ${e.id}`)) {
        kept++;
        continue;
      }
      if (e.kind === "dynamodb-table") {
        // Re-read: a backup of this table, and one db-backup named.
        const d = await ddb(region).send(new DescribeBackupCommand({ BackupArn: e.id }));
        if (d.BackupDescription?.SourceTableDetails?.TableName !== b.source) continue;
      }
      await remove(e.region ?? region, e.kind, e.id);
      deleted.push(e);
    }
  }
  return { deleted, kept };
}

/** Rollback: deletes every backup this run made; not done while one is still being created. */
async function discard(input: Input, _ctx: StepContext): Promise<{ done: boolean; deleted: string[] }> {
  const region = input.plan.region;
  const deleted: string[] = [];
  let done = true;
  // DR copies first: one still copying is cancelled by deleting it (AWS's CopyDBSnapshot docs).
  const copyTo = input.plan.copyTo;
  if (copyTo)
    for (const b of input.plan.backups.filter((x) => x.kind !== "dynamodb-table")) {
      const s = await lookUp(copyTo, b);
      if (!s || s.status === "deleting" || s.status === "deleted") continue;
      try {
        await remove(copyTo, b.kind, b.name);
        deleted.push(`${b.name} (${copyTo})`);
      } catch (err) {
        // RDS refuses while the copy is not yet copying (pending): the poll loop comes back.
        if (!/State/.test((err as Error).name)) throw err;
        done = false;
      }
    }
  for (const b of input.plan.backups) {
    const s = await lookUp(region, b);
    if (!s) continue;
    if (s.status !== "available") {
      done = false;
      continue;
    }
    await remove(region, b.kind, b.kind === "dynamodb-table" ? s.arn : b.name);
    deleted.push(b.name);
  }
  const record = await recordFailure(input, _ctx, deleted, done);
  return { done, deleted: record };
}

async function recordFailure(
  input: Input,
  ctx: StepContext,
  deleted: string[],
  done: boolean,
): Promise<string[]> {
  if (!done) return deleted;
  const failure = (input as { failure?: { Error?: string; Cause?: string } }).failure;
  const why = `${failure?.Error ?? "error"}: ${failure?.Cause ?? ""}`.slice(0, 300);
  await ctx.record({
    summary: `backup failed (${why}); the backups this run made were deleted${input.plan.copyTo ? `, and their copies in ${input.plan.copyTo}` : ""}`,
    targets: input.plan.backups
      .map(
        (b): TargetResult => ({
          id: b.source,
          kind: targetKind[b.kind],
          status: "rolled-back",
          reason: `${b.name} deleted: the run failed (${failure?.Error ?? "error"})`,
        }),
      )
      .concat(input.plan.skipped ?? []),
  });
  return deleted;
}

/** Records each database's backup, what was pruned, and the warnings. */
async function report(input: Input, ctx: StepContext): Promise<{ ok: true }> {
  const made = input.created?.made ?? [];
  const copies = input.copied?.copies ?? [];
  const deleted = input.pruned?.deleted ?? [];
  const backedUp: TargetResult[] = input.plan.backups.map((b) => {
    const m = made.find((x) => x.name === b.name);
    const c = copies.find((x) => x.name === b.name && x.kind === b.kind);
    const pruned = deleted.filter((d) => d.source === b.source);
    return {
      id: b.source,
      kind: targetKind[b.kind],
      status: "succeeded",
      reason: `${b.name} available${c ? `, copied to ${c.region}` : ""}`,
      details: {
        engine: b.engine,
        ...(b.pitr === undefined ? {} : { "point-in-time recovery": b.pitr ? "on" : "OFF" }),
        pruned: pruned.length,
        ...(input.plan.copyTo ? { "copy to": c ? c.region : "not possible (DynamoDB)" } : {}),
      },
      artifacts: [
        { kind: b.kind === "dynamodb-table" ? "backup" : "snapshot", id: m?.arn ?? b.name, note: b.name },
        ...(c ? [{ kind: "snapshot", id: c.arn, note: `DR copy in ${c.region}` }] : []),
      ],
    };
  });
  const targets = [...backedUp, ...(input.plan.skipped ?? [])];
  const pruneNote = input.pruneFailure
    ? `; prune failed (${input.pruneFailure.Error}: ${input.pruneFailure.Cause}), the expired backups are still there`
    : `; ${deleted.length} expired Reflex backup(s) pruned`;
  await ctx.record({
    summary: `${backedUp.length} database(s) backed up in ${input.plan.region}${copies.length ? `, ${copies.length} snapshot(s) copied to ${input.plan.copyTo}` : ""}, kept until ${input.plan.retainUntil.slice(0, 10)}${pruneNote}${input.plan.warnings.length ? `; warning: ${input.plan.warnings.join("; ")}` : ""}`,
    targets,
    warnings: input.plan.warnings,
    artifacts: [
      ...made.map((m) => ({
        kind: m.kind === "dynamodb-table" ? "backup" : "snapshot",
        id: m.arn,
        note: m.source,
      })),
      ...copies.map((c) => ({ kind: "snapshot", id: c.arn, note: `${c.source} (DR copy in ${c.region})` })),
    ],
  });
  return { ok: true };
}

export const implementation: Implementation = {
  steps: { plan, create, checkAvailable, copy, checkCopies, prune, discard, report },
};
