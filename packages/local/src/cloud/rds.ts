/**
 * RDS in the simulated account, answering `@aws-sdk/client-rds` (the Query protocol; errors
 * come back as RDS's `<ErrorResponse>` with its own codes, `DBInstanceNotFound` →
 * `DBInstanceNotFoundFault`): DB instances (Multi-AZ or not, in a zone), Aurora clusters
 * with a writer and readers, DB and cluster snapshots (`creating` → `available` on the
 * clock), `FailoverDBCluster` (a named reader becomes the writer after `failoverMs`) and
 * `RebootDBInstance --force-failover` (a Multi-AZ instance moves to its standby's zone).
 * `CopyDBSnapshot` / `CopyDBClusterSnapshot`, called in the destination Region with the source
 * snapshot's ARN, put a copy there (`copying` → `available`; deleting it while copying cancels
 * the copy, as in AWS); an encrypted snapshot's copy to another Region needs a `KmsKeyId` of
 * that Region.
 *
 * Plain JSON in the region's state (`RegionState.rds`), so it is saved with the rest; times
 * are epoch milliseconds and states are derived from the clock when read. Aurora readers
 * report `AuroraReplicaLag` to CloudWatch (see {@link rdsMetricPoints}).
 */
import type { DBCluster, DBClusterSnapshot, DBInstance, DBSnapshot } from "@aws-sdk/client-rds";
import { CloudApiError } from "./api-error.ts";
import type { MetricPointRecord } from "./cloudwatch.ts";
import type { OpContext, OpInput } from "./fleet.ts";
import { availabilityZones, regionState, type TagRecord, upsertTags } from "./model.ts";
import { type PageOptions, paginate } from "./query.ts";

export interface RdsSettings {
  /** How long a DB or cluster snapshot stays `creating`. Default 10 s. */
  snapshotMs: number;
  /** How long a failover (Aurora or Multi-AZ) lasts, `failing-over` / `rebooting`. Default 5 s. */
  failoverMs: number;
}

export interface DbInstanceRecord {
  id: string;
  engine: string;
  instanceClass: string;
  az: string;
  /** Multi-AZ (not Aurora): the standby's zone. */
  multiAz: boolean;
  secondaryAz?: string;
  clusterId?: string;
  createdAt: number;
  tags: TagRecord[];
  /** `rebooting` until `until`; a forced failover swaps `az` and `secondaryAz` then. */
  reboot?: { until: number; failover: boolean };
  /** Aurora readers: the lag CloudWatch reports (ms). Default 20. */
  replicaLagMs?: number;
  /** Storage-full and similar: the status it shows instead of `available`. */
  stuckStatus?: string;
  /** Encrypted storage: the KMS key's ARN. */
  kmsKeyId?: string;
}

export interface DbClusterRecord {
  id: string;
  engine: string;
  /** Member instance ids; `writer` is one of them. */
  members: string[];
  writer: string;
  createdAt: number;
  tags: TagRecord[];
  /** `failing-over` until `until`, then `to` is the writer. */
  failover?: { until: number; to: string };
  /** Encrypted storage: the KMS key's ARN. */
  kmsKeyId?: string;
}

export interface RdsSnapshotRecord {
  id: string;
  /** The DB instance (DB snapshot) or cluster (cluster snapshot) it was taken of. */
  sourceId: string;
  cluster: boolean;
  engine: string;
  createdAt: number;
  tags: TagRecord[];
  /** `available` once the clock passes it. */
  readyAt: number;
  type: "manual" | "automated";
  /** Encrypted: the KMS key's ARN (a copy: the key it was copied with). */
  kmsKeyId?: string;
  /** A copy: the snapshot it was copied from (`copying` until `readyAt`). */
  copiedFrom?: { region: string; arn: string };
}

export interface RdsState {
  settings: RdsSettings;
  instances: DbInstanceRecord[];
  clusters: DbClusterRecord[];
  snapshots: RdsSnapshotRecord[];
}

/** The region's RDS state, made on first use. */
export function rds(ctx: Pick<OpContext, "rs">): RdsState {
  ctx.rs.rds ??= {
    settings: { snapshotMs: 10_000, failoverMs: 5000 },
    instances: [],
    clusters: [],
    snapshots: [],
  };
  return ctx.rs.rds;
}

/** Settles failovers and reboots whose time has come (called before every read or write). */
export function settleRds(ctx: OpContext): void {
  const s = ctx.rs.rds;
  if (!s) return;
  for (const c of s.clusters)
    if (c.failover && ctx.now >= c.failover.until) {
      c.writer = c.failover.to;
      c.failover = undefined;
    }
  for (const i of s.instances)
    if (i.reboot && ctx.now >= i.reboot.until) {
      if (i.reboot.failover && i.secondaryAz) [i.az, i.secondaryAz] = [i.secondaryAz, i.az];
      i.reboot = undefined;
    }
}

const arn = (ctx: OpContext, kind: string, id: string) =>
  `arn:aws:rds:${ctx.region}:${ctx.state.accountId}:${kind}:${id}`;
const tagList = (tags: TagRecord[]) => tags.map((t) => ({ Key: t.Key, Value: t.Value }));
const host = (ctx: OpContext, id: string, kind = "") =>
  `${id}.${kind}c9akciq32.${ctx.region}.rds.amazonaws.com`;
const IDENTIFIER = /^[a-zA-Z][a-zA-Z0-9-]{0,254}$/;

function instanceStatus(ctx: OpContext, i: DbInstanceRecord): string {
  if (i.reboot) return "rebooting";
  const cluster = i.clusterId ? rds(ctx).clusters.find((c) => c.id === i.clusterId) : undefined;
  if (cluster?.failover && (cluster.writer === i.id || cluster.failover.to === i.id)) return "rebooting";
  return i.stuckStatus ?? "available";
}

function clusterStatus(c: DbClusterRecord): string {
  return c.failover ? "failing-over" : "available";
}

export function shapeDbInstance(ctx: OpContext, i: DbInstanceRecord): DBInstance {
  const cluster = i.clusterId ? rds(ctx).clusters.find((c) => c.id === i.clusterId) : undefined;
  return {
    DBInstanceIdentifier: i.id,
    DBInstanceArn: arn(ctx, "db", i.id),
    DBInstanceClass: i.instanceClass,
    Engine: i.engine,
    DBInstanceStatus: instanceStatus(ctx, i),
    AvailabilityZone: i.az,
    MultiAZ: i.multiAz,
    ...(i.multiAz && i.secondaryAz ? { SecondaryAvailabilityZone: i.secondaryAz } : {}),
    ...(i.clusterId ? { DBClusterIdentifier: i.clusterId } : {}),
    StorageEncrypted: i.kmsKeyId !== undefined,
    ...(i.kmsKeyId ? { KmsKeyId: i.kmsKeyId } : {}),
    Endpoint: { Address: host(ctx, i.id), Port: i.engine.includes("mysql") ? 3306 : 5432 },
    InstanceCreateTime: new Date(i.createdAt),
    ...(cluster ? { PromotionTier: cluster.members.indexOf(i.id) } : {}),
    TagList: tagList(i.tags),
  };
}

export function shapeDbCluster(ctx: OpContext, c: DbClusterRecord): DBCluster {
  return {
    DBClusterIdentifier: c.id,
    DBClusterArn: arn(ctx, "cluster", c.id),
    Engine: c.engine,
    Status: clusterStatus(c),
    Endpoint: host(ctx, c.id, "cluster-"),
    ReaderEndpoint: host(ctx, c.id, "cluster-ro-"),
    MultiAZ: c.members.length > 1,
    AvailabilityZones: availabilityZones(ctx.region),
    ClusterCreateTime: new Date(c.createdAt),
    StorageEncrypted: c.kmsKeyId !== undefined,
    ...(c.kmsKeyId ? { KmsKeyId: c.kmsKeyId } : {}),
    DBClusterMembers: c.members.map((m, n) => ({
      DBInstanceIdentifier: m,
      IsClusterWriter: m === c.writer,
      DBClusterParameterGroupStatus: "in-sync",
      PromotionTier: n,
    })),
    TagList: tagList(c.tags),
  };
}

function shapeSnapshotCommon(ctx: OpContext, s: RdsSnapshotRecord) {
  const ready = ctx.now >= s.readyAt;
  const total = Math.max(1, s.readyAt - s.createdAt);
  return {
    Engine: s.engine,
    SnapshotType: s.type,
    Status: ready ? "available" : s.copiedFrom ? "copying" : "creating",
    PercentProgress: ready ? 100 : Math.min(99, Math.floor(((ctx.now - s.createdAt) / total) * 100)),
    SnapshotCreateTime: new Date(s.createdAt),
    ...(s.kmsKeyId ? { KmsKeyId: s.kmsKeyId } : {}),
    ...(s.copiedFrom ? { SourceRegion: s.copiedFrom.region } : {}),
    TagList: tagList(s.tags),
  };
}

export function shapeDbSnapshot(ctx: OpContext, s: RdsSnapshotRecord): DBSnapshot {
  return {
    DBSnapshotIdentifier: s.id,
    DBSnapshotArn: arn(ctx, "snapshot", s.id),
    DBInstanceIdentifier: s.sourceId,
    Encrypted: s.kmsKeyId !== undefined,
    ...(s.copiedFrom ? { SourceDBSnapshotIdentifier: s.copiedFrom.arn } : {}),
    ...shapeSnapshotCommon(ctx, s),
  };
}

export function shapeClusterSnapshot(ctx: OpContext, s: RdsSnapshotRecord): DBClusterSnapshot {
  return {
    DBClusterSnapshotIdentifier: s.id,
    DBClusterSnapshotArn: arn(ctx, "cluster-snapshot", s.id),
    DBClusterIdentifier: s.sourceId,
    StorageEncrypted: s.kmsKeyId !== undefined,
    ...(s.copiedFrom ? { SourceDBClusterSnapshotArn: s.copiedFrom.arn } : {}),
    ...shapeSnapshotCommon(ctx, s),
  };
}

function findInstance(ctx: OpContext, id: unknown): DbInstanceRecord {
  const i = rds(ctx).instances.find((x) => x.id === id);
  if (!i) throw new CloudApiError("DBInstanceNotFound", `DBInstance ${id} not found.`, 404);
  return i;
}

function findCluster(ctx: OpContext, id: unknown): DbClusterRecord {
  const c = rds(ctx).clusters.find((x) => x.id === id);
  if (!c) throw new CloudApiError("DBClusterNotFoundFault", `DBCluster ${id} not found.`, 404);
  return c;
}

type Filters = Array<{ Name?: string; Values?: string[] }> | undefined;

/** RDS's filters on describes (exact values, no wildcards); an unknown name is InvalidParameterValue. */
function filtered<T>(items: T[], filters: Filters, known: Record<string, (t: T) => string | undefined>): T[] {
  let out = items;
  for (const f of filters ?? []) {
    const get = f.Name ? known[f.Name] : undefined;
    if (!get) throw new CloudApiError("InvalidParameterValue", `Unrecognized filter name: ${f.Name}`);
    out = out.filter((t) => (f.Values ?? []).includes(get(t) ?? ""));
  }
  return out;
}

function requestTags(tags: Array<{ Key?: string; Value?: string }> | undefined): TagRecord[] {
  return (tags ?? []).map((t) => ({ Key: t.Key ?? "", Value: t.Value ?? "" }));
}

function newSnapshot(
  ctx: OpContext,
  id: unknown,
  source: { id: string; engine: string; kmsKeyId?: string },
  cluster: boolean,
  tags: TagRecord[],
): RdsSnapshotRecord {
  const state = rds(ctx);
  if (typeof id !== "string" || !IDENTIFIER.test(id) || id.endsWith("-") || id.includes("--"))
    throw new CloudApiError(
      "InvalidParameterValue",
      `The parameter ${cluster ? "DBClusterSnapshotIdentifier" : "DBSnapshotIdentifier"} is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.`,
    );
  if (state.snapshots.some((s) => s.id === id && s.cluster === cluster))
    throw cluster
      ? new CloudApiError(
          "DBClusterSnapshotAlreadyExistsFault",
          `Cannot create the cluster snapshot because one with the identifier ${id} already exists.`,
        )
      : new CloudApiError(
          "DBSnapshotAlreadyExists",
          `Cannot create the snapshot because a snapshot with the identifier ${id} already exists.`,
        );
  const record: RdsSnapshotRecord = {
    id,
    sourceId: source.id,
    cluster,
    engine: source.engine,
    createdAt: ctx.now,
    readyAt: ctx.now + state.settings.snapshotMs,
    tags,
    type: "manual",
    ...(source.kmsKeyId ? { kmsKeyId: source.kmsKeyId } : {}),
  };
  state.snapshots.push(record);
  return record;
}

/**
 * CopyDBSnapshot / CopyDBClusterSnapshot, called in the destination Region: the source is named
 * by its ARN (another Region's) or its identifier (this Region's), and must be `available`; an
 * encrypted source copied to another Region needs a KmsKeyId of the destination Region. The
 * copy keeps the source's DB instance or cluster identifier, as in AWS; Tags are the request's
 * (CopyTags adds the source's).
 */
function copySnapshot(
  ctx: OpContext,
  input: {
    source?: string;
    target?: string;
    KmsKeyId?: string;
    Tags?: Array<{ Key?: string; Value?: string }>;
    CopyTags?: boolean;
  },
  cluster: boolean,
): RdsSnapshotRecord {
  settleRds(ctx);
  const field = cluster ? "SourceDBClusterSnapshotIdentifier" : "SourceDBSnapshotIdentifier";
  const name = String(input.source ?? "");
  const parts = name.split(":");
  const isArn = name.startsWith("arn:");
  const sourceRegion = isArn ? parts[3] : ctx.region;
  const sourceId = isArn ? parts.slice(6).join(":") : name;
  if (isArn && (parts[5] !== (cluster ? "cluster-snapshot" : "snapshot") || parts[4] !== ctx.state.accountId))
    throw new CloudApiError("InvalidParameterValue", `The parameter ${field} is not a valid ARN: ${name}`);
  const from = rds({ rs: regionState(ctx.state, sourceRegion) });
  const source = from.snapshots.find((x) => x.id === sourceId && x.cluster === cluster);
  if (!source)
    throw cluster
      ? new CloudApiError("DBClusterSnapshotNotFoundFault", `DBClusterSnapshot ${sourceId} not found.`, 404)
      : new CloudApiError("DBSnapshotNotFound", `DBSnapshot ${sourceId} not found.`, 404);
  if (ctx.now < source.readyAt)
    throw cluster
      ? new CloudApiError(
          "InvalidDBClusterSnapshotStateFault",
          `Cluster snapshot ${sourceId} is not in available state.`,
        )
      : new CloudApiError("InvalidDBSnapshotState", `Snapshot ${sourceId} is not in available state.`);
  const crossRegion = sourceRegion !== ctx.region;
  if (crossRegion && source.kmsKeyId && !input.KmsKeyId)
    throw new CloudApiError(
      "InvalidParameterCombination",
      `KmsKeyId must be specified to copy the encrypted snapshot ${sourceId} to another region.`,
    );
  const key = input.KmsKeyId ?? source.kmsKeyId;
  if (input.KmsKeyId?.startsWith("arn:") && input.KmsKeyId.split(":")[3] !== ctx.region)
    throw new CloudApiError(
      "KMSKeyNotAccessibleFault",
      `The KMS key ${input.KmsKeyId} is not in ${ctx.region}, where the copy is made.`,
    );
  const tags = [...(input.CopyTags ? source.tags.map((t) => ({ ...t })) : [])];
  upsertTags(tags, requestTags(input.Tags));
  const copy = newSnapshot(
    ctx,
    input.target,
    { id: source.sourceId, engine: source.engine, ...(key ? { kmsKeyId: key } : {}) },
    cluster,
    tags,
  );
  copy.copiedFrom = {
    region: sourceRegion,
    arn: `arn:aws:rds:${sourceRegion}:${ctx.state.accountId}:${cluster ? "cluster-snapshot" : "snapshot"}:${sourceId}`,
  };
  return copy;
}

/**
 * RDS's paging of describes: `MaxRecords` 20–100 (default 100), the `Marker` of the last page
 * in, the next page's out (RDS API reference: DescribeDBInstances, DescribeDBClusters,
 * DescribeDBSnapshots, DescribeDBClusterSnapshots).
 */
function rdsPage(operation: string, input: { MaxRecords?: number; Marker?: string }): PageOptions {
  return {
    operation,
    maxResults: input.MaxRecords === undefined ? undefined : Number(input.MaxRecords),
    nextToken: input.Marker,
    defaultPageSize: 100,
    min: 20,
    max: 100,
    parameter: "MaxRecords",
    badTokenCode: "InvalidParameterValue",
    badValueCode: "InvalidParameterValue",
  };
}

function findSnapshot(ctx: OpContext, id: unknown, cluster: boolean): RdsSnapshotRecord {
  const s = rds(ctx).snapshots.find((x) => x.id === id && x.cluster === cluster);
  if (!s)
    throw cluster
      ? new CloudApiError("DBClusterSnapshotNotFoundFault", `DBClusterSnapshot ${id} not found.`, 404)
      : new CloudApiError("DBSnapshotNotFound", `DBSnapshot ${id} not found.`, 404);
  return s;
}

export const rdsOperations: Record<string, (ctx: OpContext, input: OpInput) => object> = {
  DescribeDBInstances(
    ctx,
    input: { DBInstanceIdentifier?: string; Filters?: Filters; MaxRecords?: number; Marker?: string },
  ) {
    settleRds(ctx);
    const all = input.DBInstanceIdentifier
      ? [findInstance(ctx, input.DBInstanceIdentifier)]
      : rds(ctx).instances;
    const items = filtered(all, input.Filters, {
      "db-instance-id": (i) => i.id,
      "db-cluster-id": (i) => i.clusterId,
      engine: (i) => i.engine,
    });
    const { page, nextToken } = paginate(items, rdsPage("DescribeDBInstances", input));
    return { DBInstances: page.map((i) => shapeDbInstance(ctx, i)), Marker: nextToken };
  },

  DescribeDBClusters(
    ctx,
    input: { DBClusterIdentifier?: string; Filters?: Filters; MaxRecords?: number; Marker?: string },
  ) {
    settleRds(ctx);
    const all = input.DBClusterIdentifier ? [findCluster(ctx, input.DBClusterIdentifier)] : rds(ctx).clusters;
    const items = filtered(all, input.Filters, { "db-cluster-id": (c) => c.id, engine: (c) => c.engine });
    const { page, nextToken } = paginate(items, rdsPage("DescribeDBClusters", input));
    return { DBClusters: page.map((c) => shapeDbCluster(ctx, c)), Marker: nextToken };
  },

  CreateDBSnapshot(ctx, input: { DBSnapshotIdentifier?: string; DBInstanceIdentifier?: string; Tags?: [] }) {
    settleRds(ctx);
    const i = findInstance(ctx, input.DBInstanceIdentifier);
    if (i.clusterId)
      throw new CloudApiError(
        "InvalidDBInstanceState",
        `The specified instance ${i.id} is a member of a cluster; use CreateDBClusterSnapshot.`,
      );
    if (instanceStatus(ctx, i) !== "available")
      throw new CloudApiError("InvalidDBInstanceState", `DB instance ${i.id} is not in available state.`);
    const s = newSnapshot(ctx, input.DBSnapshotIdentifier, i, false, requestTags(input.Tags));
    return { DBSnapshot: shapeDbSnapshot(ctx, s) };
  },

  DescribeDBSnapshots(
    ctx,
    input: {
      DBSnapshotIdentifier?: string;
      DBInstanceIdentifier?: string;
      SnapshotType?: string;
      MaxRecords?: number;
      Marker?: string;
    },
  ) {
    const all = input.DBSnapshotIdentifier
      ? [findSnapshot(ctx, input.DBSnapshotIdentifier, false)]
      : rds(ctx).snapshots.filter((s) => !s.cluster);
    const items = all.filter(
      (s) =>
        (!input.DBInstanceIdentifier || s.sourceId === input.DBInstanceIdentifier) &&
        (!input.SnapshotType || s.type === input.SnapshotType),
    );
    const { page, nextToken } = paginate(items, rdsPage("DescribeDBSnapshots", input));
    return { DBSnapshots: page.map((s) => shapeDbSnapshot(ctx, s)), Marker: nextToken };
  },

  DeleteDBSnapshot(ctx, input: { DBSnapshotIdentifier?: string }) {
    const s = findSnapshot(ctx, input.DBSnapshotIdentifier, false);
    // Deleting a copy while it is copying cancels the copy (AWS's CopyDBSnapshot documentation).
    if (ctx.now < s.readyAt && !s.copiedFrom)
      throw new CloudApiError(
        "InvalidDBSnapshotState",
        `Cannot delete the snapshot ${s.id}: it is being created.`,
      );
    const state = rds(ctx);
    state.snapshots = state.snapshots.filter((x) => x !== s);
    return { DBSnapshot: { ...shapeDbSnapshot(ctx, s), Status: "deleted" } };
  },

  CreateDBClusterSnapshot(
    ctx,
    input: { DBClusterSnapshotIdentifier?: string; DBClusterIdentifier?: string; Tags?: [] },
  ) {
    settleRds(ctx);
    const c = findCluster(ctx, input.DBClusterIdentifier);
    if (c.failover)
      throw new CloudApiError("InvalidDBClusterStateFault", `DBCluster ${c.id} is not in available state.`);
    const s = newSnapshot(ctx, input.DBClusterSnapshotIdentifier, c, true, requestTags(input.Tags));
    return { DBClusterSnapshot: shapeClusterSnapshot(ctx, s) };
  },

  DescribeDBClusterSnapshots(
    ctx,
    input: {
      DBClusterSnapshotIdentifier?: string;
      DBClusterIdentifier?: string;
      SnapshotType?: string;
      MaxRecords?: number;
      Marker?: string;
    },
  ) {
    const all = input.DBClusterSnapshotIdentifier
      ? [findSnapshot(ctx, input.DBClusterSnapshotIdentifier, true)]
      : rds(ctx).snapshots.filter((s) => s.cluster);
    const items = all.filter(
      (s) =>
        (!input.DBClusterIdentifier || s.sourceId === input.DBClusterIdentifier) &&
        (!input.SnapshotType || s.type === input.SnapshotType),
    );
    const { page, nextToken } = paginate(items, rdsPage("DescribeDBClusterSnapshots", input));
    return { DBClusterSnapshots: page.map((s) => shapeClusterSnapshot(ctx, s)), Marker: nextToken };
  },

  DeleteDBClusterSnapshot(ctx, input: { DBClusterSnapshotIdentifier?: string }) {
    const s = findSnapshot(ctx, input.DBClusterSnapshotIdentifier, true);
    if (ctx.now < s.readyAt && !s.copiedFrom)
      throw new CloudApiError(
        "InvalidDBClusterSnapshotStateFault",
        `Cannot delete the cluster snapshot ${s.id}: it is being created.`,
      );
    const state = rds(ctx);
    state.snapshots = state.snapshots.filter((x) => x !== s);
    return { DBClusterSnapshot: { ...shapeClusterSnapshot(ctx, s), Status: "deleted" } };
  },

  CopyDBSnapshot(
    ctx,
    input: {
      SourceDBSnapshotIdentifier?: string;
      TargetDBSnapshotIdentifier?: string;
      KmsKeyId?: string;
      Tags?: [];
      CopyTags?: boolean;
    },
  ) {
    const s = copySnapshot(
      ctx,
      { ...input, source: input.SourceDBSnapshotIdentifier, target: input.TargetDBSnapshotIdentifier },
      false,
    );
    return { DBSnapshot: shapeDbSnapshot(ctx, s) };
  },

  CopyDBClusterSnapshot(
    ctx,
    input: {
      SourceDBClusterSnapshotIdentifier?: string;
      TargetDBClusterSnapshotIdentifier?: string;
      KmsKeyId?: string;
      Tags?: [];
      CopyTags?: boolean;
    },
  ) {
    const s = copySnapshot(
      ctx,
      {
        ...input,
        source: input.SourceDBClusterSnapshotIdentifier,
        target: input.TargetDBClusterSnapshotIdentifier,
      },
      true,
    );
    return { DBClusterSnapshot: shapeClusterSnapshot(ctx, s) };
  },

  FailoverDBCluster(ctx, input: { DBClusterIdentifier?: string; TargetDBInstanceIdentifier?: string }) {
    settleRds(ctx);
    const c = findCluster(ctx, input.DBClusterIdentifier);
    if (c.failover)
      throw new CloudApiError("InvalidDBClusterStateFault", `DBCluster ${c.id} is not in available state.`);
    const readers = c.members.filter((m) => m !== c.writer);
    const to = input.TargetDBInstanceIdentifier ?? readers[0];
    if (!to || !c.members.includes(to))
      throw new CloudApiError(
        "InvalidDBInstanceState",
        `The DB instance ${to} is not a reader of cluster ${c.id}.`,
      );
    if (to === c.writer)
      throw new CloudApiError(
        "InvalidDBInstanceState",
        `The DB instance ${to} is already the writer of cluster ${c.id}.`,
      );
    const target = findInstance(ctx, to);
    if (instanceStatus(ctx, target) !== "available")
      throw new CloudApiError("InvalidDBInstanceState", `DB instance ${to} is not in available state.`);
    c.failover = { until: ctx.now + rds(ctx).settings.failoverMs, to };
    return { DBCluster: shapeDbCluster(ctx, c) };
  },

  RebootDBInstance(ctx, input: { DBInstanceIdentifier?: string; ForceFailover?: boolean }) {
    settleRds(ctx);
    const i = findInstance(ctx, input.DBInstanceIdentifier);
    if (instanceStatus(ctx, i) !== "available")
      throw new CloudApiError("InvalidDBInstanceState", `DB instance ${i.id} is not in available state.`);
    if (input.ForceFailover && !i.multiAz)
      throw new CloudApiError(
        "InvalidParameterCombination",
        "Reboot with failover cannot be performed on a DB instance that is not configured for Multi-AZ.",
      );
    i.reboot = { until: ctx.now + rds(ctx).settings.failoverMs, failover: input.ForceFailover === true };
    return { DBInstance: shapeDbInstance(ctx, i) };
  },

  ListTagsForResource(ctx, input: { ResourceName?: string }) {
    const name = String(input.ResourceName ?? "");
    const [, , , , , kind, id] = name.split(":");
    const state = rds(ctx);
    const tags =
      kind === "db"
        ? state.instances.find((i) => i.id === id)?.tags
        : kind === "cluster"
          ? state.clusters.find((c) => c.id === id)?.tags
          : kind === "snapshot" || kind === "cluster-snapshot"
            ? state.snapshots.find((s) => s.id === id && s.cluster === (kind === "cluster-snapshot"))?.tags
            : undefined;
    if (!tags) throw new CloudApiError("DBInstanceNotFound", `The resource ${name} could not be found.`, 404);
    return { TagList: tagList(tags) };
  },
};

/**
 * `AWS/RDS AuroraReplicaLag` (milliseconds, per `DBInstanceIdentifier`) for every Aurora reader
 * of the region, one point a minute before now: CloudWatch's GetMetricData reads these beside
 * the points tests put.
 */
export function rdsMetricPoints(ctx: OpContext): MetricPointRecord[] {
  const s = ctx.rs.rds;
  if (!s) return [];
  settleRds(ctx);
  return s.clusters.flatMap((c) =>
    c.members
      .filter((m) => m !== c.writer)
      .map((m) => ({
        namespace: "AWS/RDS",
        metricName: "AuroraReplicaLag",
        dimensions: `DBInstanceIdentifier=${m}`,
        at: ctx.now - 1000,
        value: s.instances.find((i) => i.id === m)?.replicaLagMs ?? 20,
      })),
  );
}

// ---- helpers for seeds, tests and `reflex chaos` ---------------------------------------

export interface NewDbInstance {
  id: string;
  engine?: string;
  instanceClass?: string;
  multiAz?: boolean;
  /** Default the region's first zone (the standby, Multi-AZ: the second). */
  availabilityZone?: string;
  tags?: Record<string, string>;
  /** Encrypted storage with this KMS key (an ARN of the instance's Region). */
  kmsKeyId?: string;
}

export interface NewDbCluster {
  id: string;
  engine?: string;
  /** Member instance ids, writer first. */
  members: string[];
  tags?: Record<string, string>;
  /** Encrypted storage with this KMS key (an ARN of the cluster's Region). */
  kmsKeyId?: string;
}

const asTags = (t: Record<string, string> | undefined) =>
  Object.entries(t ?? {}).map(([Key, Value]) => ({ Key, Value }));

export function addDbInstance(ctx: OpContext, spec: NewDbInstance): DbInstanceRecord {
  const zones = availabilityZones(ctx.region);
  const az = spec.availabilityZone ?? zones[0];
  const record: DbInstanceRecord = {
    id: spec.id,
    engine: spec.engine ?? "postgres",
    instanceClass: spec.instanceClass ?? "db.r6g.large",
    az,
    multiAz: spec.multiAz ?? false,
    ...(spec.multiAz ? { secondaryAz: zones.find((z) => z !== az) } : {}),
    createdAt: ctx.now,
    tags: asTags(spec.tags),
    ...(spec.kmsKeyId ? { kmsKeyId: spec.kmsKeyId } : {}),
  };
  if (rds(ctx).instances.some((i) => i.id === spec.id))
    throw new CloudApiError("DBInstanceAlreadyExists", `DB instance ${spec.id} already exists.`);
  rds(ctx).instances.push(record);
  return record;
}

/** An Aurora cluster and its member instances, one per zone in turn, the first the writer. */
export function addDbCluster(ctx: OpContext, spec: NewDbCluster): DbClusterRecord {
  const engine = spec.engine ?? "aurora-postgresql";
  const zones = availabilityZones(ctx.region);
  spec.members.forEach((m, n) => {
    const i = addDbInstance(ctx, {
      id: m,
      engine,
      availabilityZone: zones[n % zones.length],
      tags: spec.tags,
      ...(spec.kmsKeyId ? { kmsKeyId: spec.kmsKeyId } : {}),
    });
    i.clusterId = spec.id;
  });
  const record: DbClusterRecord = {
    id: spec.id,
    engine,
    members: [...spec.members],
    writer: spec.members[0],
    createdAt: ctx.now,
    tags: asTags(spec.tags),
    ...(spec.kmsKeyId ? { kmsKeyId: spec.kmsKeyId } : {}),
  };
  rds(ctx).clusters.push(record);
  return record;
}

/** Sets a tag on a DB instance or cluster (tests: take one out of the fence). */
export function tagDbResource(ctx: OpContext, id: string, tags: Record<string, string>): void {
  const s = rds(ctx);
  const target = s.instances.find((i) => i.id === id) ?? s.clusters.find((c) => c.id === id);
  if (!target) throw new CloudApiError("DBInstanceNotFound", `DB instance or cluster ${id} not found.`, 404);
  upsertTags(target.tags, asTags(tags));
}
