/**
 * Test, seed and rehearsal helpers for the simulated account's databases: RDS instances and
 * Aurora clusters (rds.ts), DynamoDB tables (dynamodb-backups.ts), how long their snapshots,
 * backups and failovers take, replica lag, and a DB stuck in a status (storage full).
 *
 * @example
 * addDbCluster(cloud, { id: "payments", members: ["payments-1", "payments-2"], tags: { "reflex:managed": "true" } });
 * setDatabaseTimings(cloud, { snapshotMs: 30, failoverMs: 30, backupMs: 30 });
 * setReplicaLag(cloud, "payments-2", 5_000);
 */
import { addTable, dynamoTables, type NewTable } from "./dynamodb-backups.ts";
import type { OpContext } from "./fleet.ts";
import type { SimulatedCloud } from "./index.ts";
import {
  addDbCluster as addCluster,
  addDbInstance as addInstance,
  type NewDbCluster,
  type NewDbInstance,
  rds,
} from "./rds.ts";

export type { NewDbCluster, NewDbInstance, NewTable };

export function addDbInstance(cloud: SimulatedCloud, spec: NewDbInstance & { region?: string }): void {
  cloud.withRegion(spec.region, (ctx) => addInstance(ctx, spec));
}

export function addDbCluster(cloud: SimulatedCloud, spec: NewDbCluster & { region?: string }): void {
  cloud.withRegion(spec.region, (ctx) => addCluster(ctx, spec));
}

export function addDynamoDbTable(cloud: SimulatedCloud, spec: NewTable & { region?: string }): void {
  cloud.withRegion(spec.region, (ctx) => addTable(ctx, spec));
}

/** Adds a DB or cluster snapshot as if made earlier (an old Reflex backup past its retain-until): available. */
export function addDbSnapshot(
  cloud: SimulatedCloud,
  spec: {
    id: string;
    source: string;
    cluster?: boolean;
    createdAt: number;
    tags?: Record<string, string>;
    region?: string;
  },
): void {
  cloud.withRegion(spec.region, (ctx) => {
    rds(ctx).snapshots.push({
      id: spec.id,
      sourceId: spec.source,
      cluster: spec.cluster ?? false,
      engine: rds(ctx).instances.find((i) => i.id === spec.source)?.engine ?? "aurora-postgresql",
      createdAt: spec.createdAt,
      readyAt: spec.createdAt,
      tags: Object.entries(spec.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
      type: "manual",
    });
  });
}

/** Adds an on-demand backup of a table as if made earlier: available. Returns its ARN. */
export function addDynamoDbBackup(
  cloud: SimulatedCloud,
  spec: { table: string; name: string; createdAt: number; region?: string },
): string {
  return cloud.withRegion(spec.region, (ctx) => {
    const state = dynamoTables(ctx);
    const t = state.tables.find((x) => x.name === spec.table);
    if (!t) throw new Error(`no table ${spec.table}`);
    const arn = `arn:aws:dynamodb:${ctx.region}:${ctx.state.accountId}:table/${t.name}/backup/${spec.createdAt}${String(state.next++).padStart(6, "0")}-seeded`;
    state.backups.push({
      arn,
      name: spec.name,
      table: t.name,
      createdAt: spec.createdAt,
      readyAt: spec.createdAt,
      sizeBytes: t.sizeBytes,
    });
    return arn;
  });
}

/** How long RDS snapshots stay `creating`, failovers last, and DynamoDB backups stay `CREATING`. */
export function setDatabaseTimings(
  cloud: SimulatedCloud,
  t: { snapshotMs?: number; failoverMs?: number; backupMs?: number },
  region?: string,
): void {
  cloud.withRegion(region, (ctx) => {
    const s = rds(ctx).settings;
    if (t.snapshotMs !== undefined) s.snapshotMs = t.snapshotMs;
    if (t.failoverMs !== undefined) s.failoverMs = t.failoverMs;
    if (t.backupMs !== undefined) dynamoTables(ctx).backupMs = t.backupMs;
  });
}

/** The AuroraReplicaLag (ms) an Aurora reader reports from now on. */
export function setReplicaLag(cloud: SimulatedCloud, instanceId: string, ms: number, region?: string): void {
  cloud.withRegion(region, (ctx) => {
    const i = rds(ctx).instances.find((x) => x.id === instanceId);
    if (!i) throw new Error(`no DB instance ${instanceId}`);
    i.replicaLagMs = ms;
  });
}

/** Holds a DB instance in a status other than `available` (`storage-full`, `incompatible-parameters`), or frees it (undefined). */
export function setDbStatus(
  cloud: SimulatedCloud,
  instanceId: string,
  status: string | undefined,
  region?: string,
): void {
  cloud.withRegion(region, (ctx) => {
    const i = rds(ctx).instances.find((x) => x.id === instanceId);
    if (!i) throw new Error(`no DB instance ${instanceId}`);
    i.stuckStatus = status;
  });
}

/**
 * The seed's databases (no ids from the PRNG, so the rest of the seed keeps its ids):
 * `orders-db` (PostgreSQL, Multi-AZ), `reports-db` (MySQL, single-AZ), the Aurora cluster
 * `payments` (writer payments-1, readers payments-2 and payments-3), all tagged for Reflex
 * and `Backup=daily`; the DynamoDB tables `orders` (provisioned, point-in-time recovery on) and `sessions`
 * (off), likewise; `legacy-db`, not tagged for Reflex.
 */
export function seedDatabases(ctx: OpContext): void {
  const tags = { Backup: "daily", "reflex:managed": "true" };
  addInstance(ctx, { id: "orders-db", engine: "postgres", multiAz: true, tags: { ...tags, Tier: "orders" } });
  addInstance(ctx, { id: "reports-db", engine: "mysql", multiAz: false, tags: { ...tags, Tier: "reports" } });
  addInstance(ctx, { id: "legacy-db", engine: "mysql", tags: { Backup: "daily" } });
  addCluster(ctx, {
    id: "payments",
    members: ["payments-1", "payments-2", "payments-3"],
    tags: { ...tags, Tier: "payments" },
  });
  // Provisioned: its read capacity has a scalable target (containers-helpers.ts's seed).
  addTable(ctx, {
    name: "orders",
    pitr: true,
    billingMode: "PROVISIONED",
    sizeBytes: 52_428_800,
    itemCount: 120_000,
    tags,
  });
  addTable(ctx, { name: "sessions", pitr: false, sizeBytes: 5_242_880, itemCount: 40_000, tags });
}
