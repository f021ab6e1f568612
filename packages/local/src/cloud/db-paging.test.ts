/**
 * Paging of the simulated account's database listings, as the API references describe it:
 * RDS DescribeDBInstances / DescribeDBClusters / DescribeDBSnapshots / DescribeDBClusterSnapshots take `MaxRecords` 20–100 (default 100)
 * and answer a `Marker` while more remain; DynamoDB ListBackups takes `Limit` 1–100 (without
 * one a page holds at most 1 MB) and answers `LastEvaluatedBackupArn`, which goes back in as
 * `ExclusiveStartBackupArn`. Without paging no test could see a caller that reads one page only.
 */
import {
  DescribeTableCommand,
  DynamoDBClient,
  ListBackupsCommand,
  ListTablesCommand,
  ListTagsOfResourceCommand,
} from "@aws-sdk/client-dynamodb";
import {
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  paginateDescribeDBClusterSnapshots,
  paginateDescribeDBSnapshots,
  RDSClient,
} from "@aws-sdk/client-rds";
import { beforeAll, describe, expect, it } from "vitest";
import {
  addDbCluster,
  addDbInstance,
  addDbSnapshot,
  addDynamoDbBackup,
  addDynamoDbTable,
} from "./databases.ts";
import { SimulatedCloud } from "./index.ts";

const credentials = { accessKeyId: "local", secretAccessKey: "local" };
const T0 = Date.parse("2026-12-07T02:00:00.000Z");
const REGION = "us-east-1";
let cloud: SimulatedCloud;
let rds: RDSClient;
let ddb: DynamoDBClient;
const arns: string[] = [];

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected the call to fail");
}

beforeAll(() => {
  cloud = SimulatedCloud.seeded({ clock: () => T0 });
  rds = new RDSClient({ region: REGION, credentials, maxAttempts: 1 });
  cloud.attach(rds, "rds", REGION);
  ddb = new DynamoDBClient({ region: REGION, credentials, maxAttempts: 1 });
  cloud.attach(ddb, "dynamodb-tables", REGION);
  for (let n = 0; n < 130; n++) {
    const id = String(n).padStart(4, "0");
    addDbSnapshot(cloud, { id: `orders-${id}`, source: "orders-db", createdAt: T0 - 1000 * n });
    addDbSnapshot(cloud, {
      id: `payments-${id}`,
      source: "payments",
      cluster: true,
      createdAt: T0 - 1000 * n,
    });
    arns.push(addDynamoDbBackup(cloud, { table: "orders", name: `orders-${id}`, createdAt: T0 - 1000 * n }));
  }
});

describe("RDS DescribeDBSnapshots and DescribeDBClusterSnapshots", () => {
  it("answer 100 by default with a Marker, and the rest after that Marker with none", async () => {
    const first = await rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: "orders-db" }));
    expect(first.DBSnapshots).toHaveLength(100);
    expect(first.Marker).toBeTruthy();
    const rest = await rds.send(
      new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: "orders-db", Marker: first.Marker }),
    );
    expect(rest.DBSnapshots).toHaveLength(30);
    expect(rest.Marker).toBeUndefined();
    const ids = [...(first.DBSnapshots ?? []), ...(rest.DBSnapshots ?? [])].map(
      (s) => s.DBSnapshotIdentifier,
    );
    expect(new Set(ids).size).toBe(130);
  });

  it("page by MaxRecords through the SDK's paginators, every snapshot once", async () => {
    const pages: number[] = [];
    const ids = new Set<string | undefined>();
    for await (const p of paginateDescribeDBClusterSnapshots(
      { client: rds, pageSize: 20 },
      { DBClusterIdentifier: "payments" },
    )) {
      pages.push(p.DBClusterSnapshots?.length ?? 0);
      for (const s of p.DBClusterSnapshots ?? []) ids.add(s.DBClusterSnapshotIdentifier);
    }
    expect(pages).toEqual([20, 20, 20, 20, 20, 20, 10]);
    expect(ids.size).toBe(130);
    let n = 0;
    for await (const p of paginateDescribeDBSnapshots({ client: rds, pageSize: 100 }, {})) {
      n += p.DBSnapshots?.length ?? 0;
    }
    expect(n).toBe(130);
  });

  it("DescribeDBInstances and DescribeDBClusters page alike (MaxRecords, Marker)", async () => {
    const many = SimulatedCloud.seeded({ clock: () => T0 });
    const client = new RDSClient({ region: REGION, credentials, maxAttempts: 1 });
    many.attach(client, "rds", REGION);
    for (let n = 0; n < 25; n++) {
      addDbInstance(many, { id: `extra-${n}` });
      addDbCluster(many, { id: `extra-c-${n}`, members: [`extra-c-${n}-1`] });
    }
    const instances = await client.send(new DescribeDBInstancesCommand({ MaxRecords: 20 }));
    expect(instances.DBInstances).toHaveLength(20);
    const rest = await client.send(
      new DescribeDBInstancesCommand({ MaxRecords: 100, Marker: instances.Marker }),
    );
    expect(20 + (rest.DBInstances?.length ?? 0)).toBe(many.dbInstances().length);
    expect(rest.Marker).toBeUndefined();
    const clusters = await client.send(new DescribeDBClustersCommand({ MaxRecords: 20 }));
    expect(clusters.DBClusters).toHaveLength(20);
    expect(clusters.Marker).toBeTruthy();
  });

  it("refuse MaxRecords outside 20–100 and a Marker that is not theirs (InvalidParameterValue)", async () => {
    for (const MaxRecords of [19, 101]) {
      const e = await rejection(rds.send(new DescribeDBSnapshotsCommand({ MaxRecords })));
      expect(e.name).toBe("InvalidParameterValue");
    }
    const first = await rds.send(new DescribeDBSnapshotsCommand({ MaxRecords: 20 }));
    const e = await rejection(rds.send(new DescribeDBClusterSnapshotsCommand({ Marker: first.Marker })));
    expect(e.name).toBe("InvalidParameterValue");
    expect((await rejection(rds.send(new DescribeDBSnapshotsCommand({ Marker: "nonsense" })))).name).toBe(
      "InvalidParameterValue",
    );
  });
});

describe("DynamoDB ListBackups", () => {
  it("pages by Limit: LastEvaluatedBackupArn while more remain, going on after ExclusiveStartBackupArn", async () => {
    const seen: string[] = [];
    let ExclusiveStartBackupArn: string | undefined;
    let pages = 0;
    do {
      const r = await ddb.send(
        new ListBackupsCommand({ TableName: "orders", Limit: 50, ExclusiveStartBackupArn }),
      );
      pages++;
      seen.push(...(r.BackupSummaries ?? []).map((b) => b.BackupArn ?? ""));
      ExclusiveStartBackupArn = r.LastEvaluatedBackupArn;
    } while (ExclusiveStartBackupArn);
    expect(pages).toBe(3);
    expect(seen).toEqual(arns);
  });

  it("answers without Limit at most 1 MB of summaries: 130 in one page", async () => {
    const r = await ddb.send(new ListBackupsCommand({ TableName: "orders" }));
    expect(r.BackupSummaries).toHaveLength(130);
    expect(r.LastEvaluatedBackupArn).toBeUndefined();
  });

  it("stops a page without Limit at 1 MB of summaries and goes on after its last", async () => {
    const big = SimulatedCloud.seeded({ clock: () => T0 });
    const client = new DynamoDBClient({ region: REGION, credentials, maxAttempts: 1 });
    big.attach(client, "dynamodb-tables", REGION);
    for (let n = 0; n < 4000; n++)
      addDynamoDbBackup(big, { table: "sessions", name: `sessions-${n}`, createdAt: T0 - n });
    const first = await client.send(new ListBackupsCommand({ TableName: "sessions" }));
    const count = first.BackupSummaries?.length ?? 0;
    expect(count).toBeLessThan(4000);
    expect(JSON.stringify(first.BackupSummaries).length).toBeLessThanOrEqual(1_048_576 + count);
    expect(first.LastEvaluatedBackupArn).toBe(first.BackupSummaries?.[count - 1]?.BackupArn);
    const rest = await client.send(
      new ListBackupsCommand({
        TableName: "sessions",
        ExclusiveStartBackupArn: first.LastEvaluatedBackupArn,
      }),
    );
    expect(count + (rest.BackupSummaries?.length ?? 0)).toBe(4000);
    expect(rest.LastEvaluatedBackupArn).toBeUndefined();
  });

  it("refuses Limit outside 1–100 and an ExclusiveStartBackupArn it never listed (ValidationException)", async () => {
    for (const Limit of [0, 101]) {
      const e = await rejection(ddb.send(new ListBackupsCommand({ TableName: "orders", Limit })));
      expect(e.name).toBe("ValidationException");
    }
    const e = await rejection(
      ddb.send(new ListBackupsCommand({ TableName: "orders", ExclusiveStartBackupArn: `${arns[0]}-gone` })),
    );
    expect(e.name).toBe("ValidationException");
  });
});

describe("DynamoDB ListTagsOfResource", () => {
  it("pages a table's tags 10 at a time: NextToken while more remain, every tag once; a token not its own is a ValidationException", async () => {
    const tags = Object.fromEntries(Array.from({ length: 23 }, (_, i) => [`k${i}`, `v${i}`]));
    addDynamoDbTable(cloud, { name: "tagged", tags });
    const arn = (await ddb.send(new DescribeTableCommand({ TableName: "tagged" }))).Table?.TableArn;
    const seen: string[] = [];
    const sizes: number[] = [];
    let NextToken: string | undefined;
    do {
      const r = await ddb.send(new ListTagsOfResourceCommand({ ResourceArn: arn, NextToken }));
      sizes.push(r.Tags?.length ?? 0);
      seen.push(...(r.Tags ?? []).map((t) => `${t.Key}=${t.Value}`));
      NextToken = r.NextToken;
    } while (NextToken);

    expect(sizes).toEqual([10, 10, 3]);
    expect(seen).toEqual(Object.entries(tags).map(([k, v]) => `${k}=${v}`));
    const e = await rejection(
      ddb.send(new ListTagsOfResourceCommand({ ResourceArn: arn, NextToken: "forged" })),
    );
    expect(e.name).toBe("ValidationException");
  });
});

describe("DynamoDB ListTables", () => {
  it("pages names in order, 100 by default (Limit 1–100), LastEvaluatedTableName while more remain", async () => {
    const many = SimulatedCloud.seeded({ clock: () => T0 });
    const client = new DynamoDBClient({ region: REGION, credentials, maxAttempts: 1 });
    many.attach(client, "dynamodb-tables", REGION);
    for (let n = 0; n < 130; n++) addDynamoDbTable(many, { name: `t-${String(n).padStart(3, "0")}` });
    const all = many
      .dynamoDbTables()
      .map((t) => t.TableName as string)
      .sort();
    const sizes: number[] = [];
    const seen: string[] = [];
    let ExclusiveStartTableName: string | undefined;
    do {
      const r = await client.send(new ListTablesCommand({ ExclusiveStartTableName }));
      sizes.push(r.TableNames?.length ?? 0);
      seen.push(...(r.TableNames ?? []));
      ExclusiveStartTableName = r.LastEvaluatedTableName;
    } while (ExclusiveStartTableName);

    expect(all.length).toBeGreaterThan(130); // the seed's tables too
    expect(sizes[0]).toBe(100);
    expect(seen).toEqual(all);
    expect((await client.send(new ListTablesCommand({ Limit: 7 }))).TableNames).toEqual(all.slice(0, 7));
    for (const Limit of [0, 101])
      expect((await rejection(client.send(new ListTablesCommand({ Limit })))).name).toBe(
        "ValidationException",
      );
  });
});
