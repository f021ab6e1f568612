/**
 * RDS's cross-Region snapshot copy in the simulated account, as the RDS API reference describes
 * CopyDBSnapshot / CopyDBClusterSnapshot: called in the destination Region with the source's ARN;
 * the source must be `available`; the copy is `copying`, then `available`, keeps its source's DB
 * instance or cluster identifier and carries the request's tags; an encrypted source needs a KMS
 * key of the destination Region; deleting a copy while it is copying cancels it.
 */
import {
  CopyDBClusterSnapshotCommand,
  CopyDBSnapshotCommand,
  CreateDBSnapshotCommand,
  DeleteDBSnapshotCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import { beforeEach, describe, expect, it } from "vitest";
import { addDbInstance, addDbSnapshot, setDatabaseTimings } from "./databases.ts";
import { SimulatedCloud } from "./index.ts";

const credentials = { accessKeyId: "local", secretAccessKey: "local" };
const T0 = Date.parse("2026-12-07T02:00:00.000Z");
let now = T0;
let cloud: SimulatedCloud;

function rds(region: string): RDSClient {
  const client = new RDSClient({ region, credentials, maxAttempts: 1 });
  cloud.attach(client, "rds", region);
  return client;
}
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected the call to fail");
}
const arnOf = (id: string, kind = "snapshot") =>
  `arn:aws:rds:us-east-1:${cloud.dbInstances()[0]?.DBInstanceArn?.split(":")[4]}:${kind}:${id}`;

beforeEach(() => {
  now = T0;
  cloud = SimulatedCloud.seeded({ clock: () => now });
  setDatabaseTimings(cloud, { snapshotMs: 60_000 });
  setDatabaseTimings(cloud, { snapshotMs: 60_000 }, "us-west-2");
  addDbSnapshot(cloud, { id: "nightly", source: "orders-db", createdAt: T0 - 1000 });
  addDbSnapshot(cloud, { id: "nightly-payments", source: "payments", cluster: true, createdAt: T0 - 1000 });
});

describe("CopyDBSnapshot and CopyDBClusterSnapshot into another Region", () => {
  it("make a copy there, copying then available, of the source's DB, with the request's tags", async () => {
    const out = await rds("us-west-2").send(
      new CopyDBSnapshotCommand({
        SourceDBSnapshotIdentifier: arnOf("nightly"),
        TargetDBSnapshotIdentifier: "nightly",
        Tags: [{ Key: "reflex:managed", Value: "true" }],
      }),
    );
    expect(out.DBSnapshot).toMatchObject({
      DBInstanceIdentifier: "orders-db",
      Status: "copying",
      SourceRegion: "us-east-1",
      SourceDBSnapshotIdentifier: arnOf("nightly"),
      TagList: [{ Key: "reflex:managed", Value: "true" }],
    });
    expect(out.DBSnapshot?.DBSnapshotArn).toMatch(/^arn:aws:rds:us-west-2:/);
    const cluster = await rds("us-west-2").send(
      new CopyDBClusterSnapshotCommand({
        SourceDBClusterSnapshotIdentifier: arnOf("nightly-payments", "cluster-snapshot"),
        TargetDBClusterSnapshotIdentifier: "nightly-payments",
      }),
    );
    expect(cluster.DBClusterSnapshot).toMatchObject({ DBClusterIdentifier: "payments", Status: "copying" });

    now += 60_000;
    expect(cloud.dbSnapshots("us-west-2").map((s) => s.Status)).toEqual(["available", "available"]);
  });

  it("refuse a source still being created, and one that does not exist (the SDK's own fault classes)", async () => {
    await rds("us-east-1").send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: "orders-db", DBSnapshotIdentifier: "fresh" }),
    );
    const creating = await rejection(
      rds("us-west-2").send(
        new CopyDBSnapshotCommand({
          SourceDBSnapshotIdentifier: arnOf("fresh"),
          TargetDBSnapshotIdentifier: "x",
        }),
      ),
    );
    const missing = await rejection(
      rds("us-west-2").send(
        new CopyDBSnapshotCommand({
          SourceDBSnapshotIdentifier: arnOf("nope"),
          TargetDBSnapshotIdentifier: "x",
        }),
      ),
    );
    expect(creating.name).toBe("InvalidDBSnapshotStateFault");
    expect(missing.name).toBe("DBSnapshotNotFoundFault");
    expect(cloud.dbSnapshots("us-west-2")).toEqual([]);
  });

  it("need a KMS key of the destination Region for an encrypted source", async () => {
    const key = (region: string) =>
      `arn:aws:kms:${region}:123456789012:key/1111aaaa-22bb-33cc-44dd-555555eeeeee`;
    addDbInstance(cloud, { id: "ledger-db", kmsKeyId: key("us-east-1") });
    await rds("us-east-1").send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: "ledger-db", DBSnapshotIdentifier: "ledger-1" }),
    );
    now += 60_000;
    const copy = (KmsKeyId?: string) =>
      rds("us-west-2").send(
        new CopyDBSnapshotCommand({
          SourceDBSnapshotIdentifier: arnOf("ledger-1"),
          TargetDBSnapshotIdentifier: "ledger-1",
          KmsKeyId,
        }),
      );

    expect((await rejection(copy())).name).toBe("InvalidParameterCombination");
    expect((await rejection(copy(key("eu-west-1")))).name).toBe("KMSKeyNotAccessibleFault");
    expect((await copy(key("us-west-2"))).DBSnapshot).toMatchObject({
      Encrypted: true,
      KmsKeyId: key("us-west-2"),
    });
  });

  it("a copy may be deleted while copying (which cancels it); a snapshot being created may not", async () => {
    await rds("us-west-2").send(
      new CopyDBSnapshotCommand({
        SourceDBSnapshotIdentifier: arnOf("nightly"),
        TargetDBSnapshotIdentifier: "nightly",
      }),
    );
    await rds("us-east-1").send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: "orders-db", DBSnapshotIdentifier: "fresh" }),
    );

    await rds("us-west-2").send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: "nightly" }));
    const creating = await rejection(
      rds("us-east-1").send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: "fresh" })),
    );

    expect(cloud.dbSnapshots("us-west-2")).toEqual([]);
    expect(creating.name).toBe("InvalidDBSnapshotStateFault");
  });
});
