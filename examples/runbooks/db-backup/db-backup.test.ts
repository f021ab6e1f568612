/**
 * db-backup through the test kit: the local engine and the seeded simulated account's databases
 * (orders-db Multi-AZ, reports-db, Aurora `payments`, tables `orders` with point-in-time
 * recovery and `sessions` without; legacy-db not tagged for Reflex), all `Backup=daily`.
 * One local mode for the file (starting one takes seconds): the runs go in order, each
 * reading the account the ones before it left (the failed runs leave nothing).
 */

import { Locks } from "@reflex/core";
import {
  addDbCluster,
  addDbInstance,
  addDbSnapshot,
  addDynamoDbBackup,
  addDynamoDbTable,
  setDatabaseTimings,
} from "@reflex/local/cloud/databases";
import type { SimulatedCloud } from "@reflex/local/cloud/index";
import {
  callsOutsidePermissions,
  mutatingCalls,
  openSimulation,
  type SimulationSession,
  unfinishedTargets,
} from "@reflex/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbBackup } from "./index.ts";

const DAY = 86_400_000;
const DR = "us-west-2";
const fast = (cloud: SimulatedCloud) => {
  setDatabaseTimings(cloud, { snapshotMs: 30, backupMs: 30, failoverMs: 30 });
  setDatabaseTimings(cloud, { snapshotMs: 30 }, DR);
};
const daily = { selector: { tag: { Backup: "daily" } }, retainDays: 7 };
const ops = (calls: Array<{ operation: string; error?: string; mutating: boolean }>) =>
  calls.filter((c) => c.mutating && !c.error).map((c) => c.operation);

let session: SimulationSession;
beforeAll(async () => {
  // The cap: five databases carry Backup=daily and reflex:managed=true; the last test adds a sixth.
  session = await openSimulation(dbBackup, { setup: fast, config: { guardrails: { maxTargetsPerRun: 5 } } });
});
afterAll(() => session?.close());

describe("db-backup", () => {
  it("plans in a dry-run: the tagged instances, cluster and tables, the PITR warning, and no mutating call", async () => {
    const s = await session.run(daily, { dryRun: true });

    expect(s.run.status).toBe("SUCCEEDED");
    expect(mutatingCalls(s)).toEqual([]);
    expect(s.outcome.targets.map((t) => `${t.kind}:${t.id}`).sort()).toEqual([
      "aurora-cluster:payments",
      "dynamodb-table:orders",
      "dynamodb-table:sessions",
      "rds-instance:orders-db",
      "rds-instance:reports-db",
    ]);
    // Aurora members go with their cluster; legacy-db is not tagged for Reflex.
    expect(s.outcome.summary).toMatch(/^would back up 5 database\(s\) in us-east-1/);
    expect(s.outcome.summary).toMatch(/warning: table sessions has point-in-time recovery off/);
    expect(s.outcome.targets.find((t) => t.id === "sessions")?.details?.["point-in-time recovery"]).toBe(
      "OFF",
    );
  });

  it("refuses in the plan, naming each target and why, a DB that does not exist and one not tagged for Reflex; nothing changes", async () => {
    const s = await session.run({ selector: { names: ["orders-db", "no-such-db", "legacy-db"] } });

    expect(s.run.status).toBe("FAILED");
    expect(s.run.error).toBe("DatabaseNotFound");
    expect(mutatingCalls(s)).toEqual([]);
    expect(s.outcome.targets).toEqual([
      expect.objectContaining({
        id: "no-such-db",
        status: "failed",
        reason: expect.stringMatching(/^not found: .*no-such-db in us-east-1/),
      }),
      expect.objectContaining({
        id: "legacy-db",
        status: "failed",
        reason: expect.stringMatching(/automation tag reflex:managed=true/),
      }),
    ]);
  });

  it("refuses an Aurora member named on its own: the cluster is what is backed up", async () => {
    const s = await session.run({ selector: { names: ["payments-2"] } });

    expect(s.run.error).toBe("DatabaseRefused");
    expect(s.outcome.targets[0]?.reason).toMatch(/member of Aurora cluster payments/);
    expect(mutatingCalls(s)).toEqual([]);
  });

  it("deletes every backup it made when one fails part-way (a DynamoDB CreateBackup refused), and fails", async () => {
    const fault = session.cloud.injectFault({
      service: "dynamodb-tables",
      operation: "CreateBackup",
      kind: "error",
      code: "LimitExceededException",
      match: (input: { TableName?: string }) => input.TableName === "sessions",
    });
    const s = await session.run(daily);
    session.cloud.removeFault(fault);

    expect(s.run.status).toBe("FAILED");
    expect(s.run.error).toBe("LimitExceededException");
    expect(s.cloud.dbSnapshots()).toEqual([]);
    expect(s.cloud.dynamoDbTables().flatMap((t) => t.Backups)).toEqual([]);
    const made = ops(s.calls).filter((o) => o.startsWith("Create")).length;
    expect(made).toBeGreaterThan(0);
    expect(ops(s.calls).filter((o) => o.startsWith("Delete"))).toHaveLength(made);
    expect(unfinishedTargets(s)).toEqual([]);
    expect(s.outcome.summary).toMatch(
      /backup failed \(LimitExceededException.*the backups this run made were deleted/,
    );
  });

  it("snapshots RDS and Aurora (tagged on create), backs up DynamoDB, waits until available, and records the manifest", async () => {
    const s = await session.run(daily);

    expect(s.run.status).toBe("SUCCEEDED");
    expect(unfinishedTargets(s)).toEqual([]);
    expect(callsOutsidePermissions(s)).toEqual([]);
    expect(ops(s.calls).sort()).toEqual([
      "CreateBackup",
      "CreateBackup",
      "CreateDBClusterSnapshot",
      "CreateDBSnapshot",
      "CreateDBSnapshot",
    ]);
    const snaps = s.cloud.dbSnapshots();
    expect(
      snaps
        .map((x) => `${x.kind}:${x.kind === "snapshot" ? x.DBInstanceIdentifier : x.DBClusterIdentifier}`)
        .sort(),
    ).toEqual(["cluster-snapshot:payments", "snapshot:orders-db", "snapshot:reports-db"]);
    for (const x of snaps) {
      expect(x.Status).toBe("available");
      const tags = Object.fromEntries((x.TagList ?? []).map((t) => [t.Key, t.Value]));
      expect(tags).toMatchObject({
        "reflex:managed": "true",
        "reflex:runbook": "db-backup",
        "reflex:execution-id": s.run.id,
      });
      expect(Date.parse(tags["reflex:retain-until"] ?? "") - Date.now()).toBeGreaterThan(6.9 * DAY);
    }
    const tables = s.cloud.dynamoDbTables();
    expect(tables.every((t) => t.Backups.length === 1 && t.Backups[0].BackupStatus === "AVAILABLE")).toBe(
      true,
    );
    expect(s.outcome.targets.every((t) => t.status === "succeeded")).toBe(true);
    expect(s.outcome.artifacts).toHaveLength(5);
    expect(s.outcome.summary).toMatch(/5 database\(s\) backed up .*warning: table sessions/);
    // It waited: a check saw a snapshot still creating before it saw it available.
    expect(s.calls.filter((c) => c.operation === "DescribeDBSnapshots").length).toBeGreaterThan(2);
    // The manifest: one entry per backup, the runbook's own records.
    const items = (await (await fetch(`${session.url}/api/runbooks/db-backup/items`)).json()) as {
      items: Array<{ key: string; value: { executionId: string } }>;
    };
    expect(
      items.items
        .filter((i) => i.value.executionId === s.run.id)
        .map((i) => i.key.split("/")[1])
        .sort(),
    ).toEqual(["aurora-cluster", "dynamodb-table", "dynamodb-table", "rds-instance", "rds-instance"]);
  });

  it("prunes only expired Reflex backups, keeping a manual snapshot and one of another runbook", async () => {
    const cloud = session.cloud;
    const expired = { "reflex:managed": "true", "reflex:runbook": "db-backup" };
    const past = new Date(Date.now() - DAY).toISOString();
    const old = Date.now() - 9 * DAY;
    addDbSnapshot(cloud, {
      id: "reflex-old-orders",
      source: "orders-db",
      createdAt: old,
      tags: { ...expired, "reflex:retain-until": past },
    });
    addDbSnapshot(cloud, { id: "manual-orders", source: "orders-db", createdAt: old });
    addDbSnapshot(cloud, {
      id: "other-orders",
      source: "orders-db",
      createdAt: old,
      tags: { "reflex:managed": "true", "reflex:runbook": "backup-snapshot", "reflex:retain-until": past },
    });
    addDbSnapshot(cloud, {
      id: "reflex-old-payments",
      source: "payments",
      cluster: true,
      createdAt: old,
      tags: { ...expired, "reflex:retain-until": past },
    });
    const oldBackup = addDynamoDbBackup(cloud, {
      table: "orders",
      name: "reflex-202601010000-0123abcd-orders",
      createdAt: old,
    });
    addDynamoDbBackup(cloud, { table: "orders", name: "nightly-by-hand", createdAt: old });

    const s = await session.run({ ...daily, selector: { names: ["orders-db", "payments", "orders"] } });

    expect(s.run.status).toBe("SUCCEEDED");
    const deleted = s.calls.filter((c) => c.operation.startsWith("Delete") && !c.error).map((c) => c.input);
    expect(deleted).toEqual([
      { DBSnapshotIdentifier: "reflex-old-orders" },
      { DBClusterSnapshotIdentifier: "reflex-old-payments" },
      { BackupArn: oldBackup },
    ]);
    const left = s.cloud
      .dbSnapshots()
      .map((x) => (x.kind === "snapshot" ? x.DBSnapshotIdentifier : x.DBClusterSnapshotIdentifier));
    expect(left).toEqual(expect.arrayContaining(["manual-orders", "other-orders"]));
    expect(
      s.cloud
        .dynamoDbTables()
        .find((t) => t.TableName === "orders")
        ?.Backups.map((b) => b.BackupName),
    ).toContain("nightly-by-hand");
    expect(s.outcome.summary).toMatch(/3 expired Reflex backup\(s\) pruned/);
  });

  it("prunes every expired Reflex backup of a database when they fill more than one page of the describe (RDS 100, DynamoDB Limit 100), and nothing else", async () => {
    const cloud = session.cloud;
    const ours = { "reflex:managed": "true", "reflex:runbook": "db-backup" };
    const past = new Date(Date.now() - DAY).toISOString();
    const later = new Date(Date.now() + 30 * DAY).toISOString();
    const old = Date.now() - 9 * DAY;
    // Databases of their own (named, not Backup=daily), so what this test leaves touches no other.
    const managed = { "reflex:managed": "true" };
    addDbInstance(cloud, { id: "paged-db", engine: "postgres", tags: managed });
    addDbCluster(cloud, { id: "paged-cluster", members: ["paged-cluster-1"], tags: managed });
    addDynamoDbTable(cloud, { name: "paged-table", tags: managed });
    // 130 of each, a hand-made one every tenth and one Reflex backup still kept: past the first page.
    const expired = { rds: [] as string[], cluster: [] as string[], table: [] as string[] };
    for (let n = 0; n < 130; n++) {
      const at = old + n * 60_000;
      const stamp = String(n).padStart(4, "0");
      if (n % 10 === 5) {
        addDbSnapshot(cloud, { id: `by-hand-${stamp}`, source: "paged-db", createdAt: at });
        addDbSnapshot(cloud, {
          id: `by-hand-p-${stamp}`,
          source: "paged-cluster",
          cluster: true,
          createdAt: at,
        });
        addDynamoDbBackup(cloud, { table: "paged-table", name: `by-hand-${stamp}`, createdAt: at });
        continue;
      }
      const keptUntil = n === 7 ? later : past;
      addDbSnapshot(cloud, {
        id: `reflex-paged-${stamp}`,
        source: "paged-db",
        createdAt: at,
        tags: { ...ours, "reflex:retain-until": keptUntil },
      });
      addDbSnapshot(cloud, {
        id: `reflex-paged-p-${stamp}`,
        source: "paged-cluster",
        cluster: true,
        createdAt: at,
        tags: { ...ours, "reflex:retain-until": keptUntil },
      });
      const arn = addDynamoDbBackup(cloud, {
        table: "paged-table",
        // reflex-<retain-until yyyymmddhhmm>-<run>-<table>: the name is all DynamoDB keeps.
        name: `reflex-${n === 7 ? "209901010000" : "202601010000"}-${stamp}abcd-paged-table`,
        createdAt: at,
      });
      if (n === 7) continue;
      expired.rds.push(`reflex-paged-${stamp}`);
      expired.cluster.push(`reflex-paged-p-${stamp}`);
      expired.table.push(arn);
    }

    const s = await session.run({
      ...daily,
      selector: { names: ["paged-db", "paged-cluster", "paged-table"] },
    });

    expect(s.run.status).toBe("SUCCEEDED");
    const deleted = (key: string) =>
      s.calls
        .filter((c) => c.operation.startsWith("Delete") && !c.error)
        .flatMap((c) => (c.input as Record<string, string>)[key] ?? [])
        .sort();
    expect(deleted("DBSnapshotIdentifier")).toEqual(expired.rds.sort());
    expect(deleted("DBClusterSnapshotIdentifier")).toEqual(expired.cluster.sort());
    expect(deleted("BackupArn")).toEqual(expired.table.sort());
    const left = s.cloud
      .dbSnapshots()
      .map((x) => (x.kind === "snapshot" ? x.DBSnapshotIdentifier : x.DBClusterSnapshotIdentifier));
    expect(left).toEqual(
      expect.arrayContaining(["reflex-paged-0007", "reflex-paged-p-0007", "by-hand-0125"]),
    );
    expect(
      s.cloud
        .dynamoDbTables()
        .find((t) => t.TableName === "paged-table")
        ?.Backups.map((b) => b.BackupName)
        .filter((n) => n?.includes("0007") || n?.startsWith("by-hand")),
    ).toHaveLength(14);
  });

  it("finds the backup it made past ListBackups' first page (1 MB of summaries without Limit): a table with thousands of backups", async () => {
    const cloud = session.cloud;
    addDynamoDbTable(cloud, { name: "crowded", tags: { "reflex:managed": "true" } });
    const old = Date.now() - 400 * DAY;
    // Enough backups by hand that one page without Limit cannot hold them (the new one comes last).
    let n = 0;
    const onePage = async () =>
      !(
        (await cloud.invoke("dynamodb-tables", "us-east-1", "ListBackups", { TableName: "crowded" })) as {
          LastEvaluatedBackupArn?: string;
        }
      ).LastEvaluatedBackupArn;
    while (await onePage())
      for (const end = n + 500; n < end; n++)
        addDynamoDbBackup(cloud, { table: "crowded", name: `by-hand-${n}`, createdAt: old + n * 60_000 });

    const s = await session.run({ selector: { names: ["crowded"] }, retainDays: 7 });

    expect(s.run.status, `${s.run.error}: ${s.run.cause}`).toBe("SUCCEEDED");
    expect(ops(s.calls).filter((o) => o === "CreateBackup")).toHaveLength(1);
    expect(s.outcome.targets.find((t) => t.id === "crowded")?.status).toBe("succeeded");
  });

  it("skips a database another run holds locked (db:reports-db), and backs up the rest", async () => {
    expect(await Locks.acquire("db:reports-db", "another-run", 60_000)).toBe(true);
    const s = await session.run({ selector: { names: ["reports-db", "sessions"] } });
    await Locks.release("db:reports-db", "another-run");

    expect(s.run.status).toBe("SUCCEEDED");
    expect(ops(s.calls)).toEqual(["CreateBackup"]);
    expect(s.outcome.targets.find((t) => t.id === "reports-db")).toMatchObject({
      status: "skipped",
      reason: "locked by run another-run",
    });
  });

  it("refuses more databases than the cap (guardrails.maxTargetsPerRun) before any change", async () => {
    addDynamoDbTable(session.cloud, { name: "carts", tags: { Backup: "daily", "reflex:managed": "true" } });

    const s = await session.run(daily);

    expect(s.run.error).toBe("BlastRadiusExceeded");
    expect(s.run.cause).toMatch(/matched 6 databases, more than the cap of 5/);
    expect(mutatingCalls(s)).toEqual([]);
  });

  it("chooses a table by a tag past ListTagsOfResource's first page (the simulated table answers 10 tags a page)", async () => {
    // Eleven tags of the team's before the ones that select it: the selecting tags are on page 2.
    const others = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`team-${i}`, `v${i}`]));
    addDynamoDbTable(session.cloud, {
      name: "ledger",
      tags: { ...others, Tier: "gold", "reflex:managed": "true" },
    });

    const s = await session.run({ selector: { tag: { Tier: "gold" } }, retainDays: 7 }, { dryRun: true });

    expect(s.run.status, `${s.run.error}: ${s.run.cause}`).toBe("SUCCEEDED");
    expect(s.outcome.targets.map((t) => `${t.kind}:${t.id}`)).toEqual(["dynamodb-table:ledger"]);
  });
});

describe("db-backup with a DR copy (copyToRegion, the key backup-snapshot's copy uses)", () => {
  const named = (names: string[], extra: Record<string, unknown> = {}) => ({
    selector: { names },
    copyToRegion: DR,
    ...extra,
  });
  const ofRun = (s: { run: { id: string }; cloud: SimulatedCloud }, region: string) =>
    s.cloud
      .dbSnapshots(region)
      .filter((x) => x.TagList?.some((t) => t.Key === "reflex:execution-id" && t.Value === s.run.id));
  const KEY = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-22bb-33cc-44dd-555555eeeeee";
  const DR_KEY = "arn:aws:kms:us-west-2:123456789012:key/9999ffff-88ee-77dd-66cc-555555bbbbbb";

  beforeAll(() => {
    // An encrypted instance, named only: its copy needs a key of the DR Region.
    addDbInstance(session.cloud, { id: "ledger-db", kmsKeyId: KEY, tags: { "reflex:managed": "true" } });
  });

  it("plans the copies in a dry-run, warns that the table's backup cannot leave its Region, and makes no mutating call", async () => {
    const s = await session.run(named(["orders-db", "payments", "sessions"]), { dryRun: true });

    expect(s.run.status).toBe("SUCCEEDED");
    expect(mutatingCalls(s)).toEqual([]);
    expect(s.outcome.summary).toMatch(/copying the RDS and Aurora snapshots to us-west-2/);
    expect(s.outcome.summary).toMatch(
      /warning: .*table sessions: DynamoDB's API cannot copy an on-demand backup to another Region, so its backup stays in us-east-1 only/,
    );
    expect(s.outcome.targets.map((t) => [t.id, t.details?.["copy to"]])).toEqual([
      ["orders-db", DR],
      ["payments", DR],
      ["sessions", "not possible (DynamoDB)"],
    ]);
  });

  it("refuses in the plan an encrypted database without copyKmsKeyId, naming it and why; nothing changes", async () => {
    const s = await session.run(named(["orders-db", "ledger-db"]));

    expect(s.run.error).toBe("DatabaseRefused");
    expect(mutatingCalls(s)).toEqual([]);
    expect(s.outcome.targets).toEqual([
      expect.objectContaining({
        id: "ledger-db",
        status: "failed",
        reason: expect.stringMatching(/is encrypted .*needs copyKmsKeyId, a KMS key of us-west-2/),
      }),
    ]);
  });

  it("refuses a copy to the databases' own Region (Reflex's, when region is not given) before any change", async () => {
    const s = await session.run({ selector: { names: ["orders-db"] }, copyToRegion: "us-east-1" });

    expect(s.run.error).toBe("CopyToSameRegion");
    expect(s.run.cause).toMatch(/copyToRegion us-east-1 is the databases' own Region/);
    expect(mutatingCalls(s)).toEqual([]);
  });

  it("copies each snapshot into the DR Region (source ARN, the DR key when encrypted, tags), waits until available, and records the copies", async () => {
    const s = await session.run(named(["orders-db", "payments", "ledger-db"], { copyKmsKeyId: DR_KEY }));

    expect(s.run.status).toBe("SUCCEEDED");
    expect(callsOutsidePermissions(s)).toEqual([]);
    const copies = s.calls.filter((c) => c.operation.startsWith("Copy") && !c.error);
    expect(
      copies.map((c) => [c.region, c.operation, (c.input as { KmsKeyId?: string }).KmsKeyId]).sort(),
    ).toEqual([
      [DR, "CopyDBClusterSnapshot", undefined],
      [DR, "CopyDBSnapshot", undefined],
      [DR, "CopyDBSnapshot", DR_KEY],
    ]);
    for (const c of copies)
      expect(Object.values(c.input as object)[0]).toMatch(
        /^arn:aws:rds:us-east-1:\d{12}:(cluster-)?snapshot:reflex-/,
      );
    const source = ofRun(s, "us-east-1");
    const copied = ofRun(s, DR);
    expect(copied).toHaveLength(3);
    for (const x of copied) {
      expect(x.Status).toBe("available");
      const tags = Object.fromEntries((x.TagList ?? []).map((t) => [t.Key, t.Value]));
      const from = source.find(
        (y) =>
          y.kind === x.kind &&
          y.TagList?.some((t) => t.Key === "reflex:source" && t.Value === tags["reflex:source"]),
      );
      expect(tags).toMatchObject({
        "reflex:managed": "true",
        "reflex:runbook": "db-backup",
        "reflex:retain-until": Object.fromEntries((from?.TagList ?? []).map((t) => [t.Key, t.Value]))[
          "reflex:retain-until"
        ],
        "reflex:copy-of": from?.kind === "snapshot" ? from.DBSnapshotArn : from?.DBClusterSnapshotArn,
      });
    }
    expect(
      copied.find((x) => x.kind === "snapshot" && x.DBInstanceIdentifier === "ledger-db")?.KmsKeyId,
    ).toBe(DR_KEY);
    expect(s.outcome.summary).toMatch(
      /3 database\(s\) backed up in us-east-1, 3 snapshot\(s\) copied to us-west-2/,
    );
    const items = (await (await fetch(`${session.url}/api/runbooks/db-backup/items`)).json()) as {
      items: Array<{
        value: { executionId: string; source: string; copy?: { region: string; arn: string } };
      }>;
    };
    const entries = items.items.filter((i) => i.value.executionId === s.run.id);
    expect(entries.map((i) => [i.value.source, i.value.copy?.region]).sort()).toEqual([
      ["ledger-db", DR],
      ["orders-db", DR],
      ["payments", DR],
    ]);
    expect(entries.every((i) => i.value.copy?.arn.startsWith("arn:aws:rds:us-west-2:"))).toBe(true);
  });

  it("deletes the copy it made and its snapshots when a copy fails mid-run (Aurora's refused), leaving no orphan copy", async () => {
    const fault = session.cloud.injectFault({
      service: "rds",
      operation: "CopyDBClusterSnapshot",
      kind: "error",
      code: "SnapshotQuotaExceeded",
    });
    const s = await session.run(named(["orders-db", "payments"]));
    session.cloud.removeFault(fault);

    expect(s.run.status).toBe("FAILED");
    expect(s.run.error).toMatch(/SnapshotQuotaExceeded/);
    expect(ops(s.calls).filter((o) => o.startsWith("Copy"))).toEqual(["CopyDBSnapshot"]);
    expect(ofRun(s, DR)).toEqual([]);
    expect(ofRun(s, "us-east-1")).toEqual([]);
    expect(
      s.calls.filter((c) => c.region === DR && c.operation === "DeleteDBSnapshot" && !c.error),
    ).toHaveLength(1);
    expect(s.outcome.summary).toMatch(
      /the backups this run made were deleted, and their copies in us-west-2/,
    );
    expect(unfinishedTargets(s)).toEqual([]);
  });

  it("prunes in the DR Region only Reflex's own expired copies, keeping a manual snapshot and another runbook's", async () => {
    const past = new Date(Date.now() - DAY).toISOString();
    const old = Date.now() - 9 * DAY;
    const reflex = { "reflex:managed": "true", "reflex:runbook": "db-backup", "reflex:retain-until": past };
    addDbSnapshot(session.cloud, {
      id: "reflex-old-copy",
      source: "reports-db",
      createdAt: old,
      tags: reflex,
      region: DR,
    });
    addDbSnapshot(session.cloud, { id: "manual-copy", source: "reports-db", createdAt: old, region: DR });
    addDbSnapshot(session.cloud, {
      id: "other-copy",
      source: "reports-db",
      createdAt: old,
      tags: { ...reflex, "reflex:runbook": "backup-snapshot" },
      region: DR,
    });

    const s = await session.run(named(["reports-db"]));

    expect(s.run.status).toBe("SUCCEEDED");
    expect(
      s.calls.filter((c) => c.operation.startsWith("Delete") && !c.error).map((c) => [c.region, c.input]),
    ).toEqual([[DR, { DBSnapshotIdentifier: "reflex-old-copy" }]]);
    expect(s.cloud.dbSnapshots(DR).map((x) => x.kind === "snapshot" && x.DBSnapshotIdentifier)).toEqual(
      expect.arrayContaining(["manual-copy", "other-copy"]),
    );
    expect(s.outcome.summary).toMatch(/1 expired Reflex backup\(s\) pruned/);
  });
});
