/**
 * db-backup and scale-service against moto (docs/testing.md): the same runbooks, local mode with
 * `REFLEX_CLOUD=aws` and the RDS, DynamoDB, ECS and Application Auto Scaling endpoints pointing at
 * the stand-in in front of a `moto_server` child, so the real SDK parses moto's real wire answers.
 * Seeded through the SDK: a Multi-AZ RDS instance, an Aurora cluster with one member, a DynamoDB
 * table (all tagged `Backup=daily` and for Reflex), and ECS service prod/api (2 tasks) with its
 * scalable target (min 1, max 5).
 *
 * What moto 5.2.1 lacks, and so what this file does not prove (the simulated cloud's tests do):
 * - RDS and DynamoDB: snapshots, copies and backups are `available` at once (AWS: `creating` /
 *   `copying` first), so the runbook's waits are not exercised here; moto accepts a cross-Region
 *   copy of an unencrypted snapshot without `PreSignedUrl` checks and has no KMS behaviour.
 * - ECS: moto runs no task without container instances, so `runningCount` stays 0 and a
 *   deployment's `rolloutState` stays `IN_PROGRESS` (its `desiredCount` is not updated by
 *   UpdateService): the state a scale waits for never comes. The stand-in answers
 *   `ecs:DescribeServices` from moto's answer with the primary deployment `COMPLETED` and the
 *   service's and deployment's running = desired counts.
 * - Application Auto Scaling `ListTagsForResource` is missing (an HTML 500); scale-service reads it
 *   only for a `scalable-target` target, which this file does not run.
 */
import {
  ApplicationAutoScalingClient,
  RegisterScalableTargetCommand,
} from "@aws-sdk/client-application-auto-scaling";
import { CreateTableCommand, DynamoDBClient, ListBackupsCommand } from "@aws-sdk/client-dynamodb";
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeServicesCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
} from "@aws-sdk/client-ecs";
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import { validateConfig } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbBackup } from "../examples/runbooks/db-backup/index.ts";
import { scaleService } from "../examples/runbooks/scale-service/index.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { type LocalMode, startLocal } from "../packages/local/src/local-mode.ts";
import { runAndWait } from "./support/local.ts";
import { type Moto, type StandIn, startMoto } from "./support/moto.ts";

const REGION = "us-east-1";
const DR = "us-west-2";
const SERVICES = ["rds", "dynamodb-tables", "ecs", "application-autoscaling"];
const credentials = { accessKeyId: "local", secretAccessKey: "local" };
const TAGS = [
  { Key: "Backup", Value: "daily" },
  { Key: "reflex:managed", Value: "true" },
];

/** moto's DescribeServices, with the rollout moto never finishes finished (see the header). */
const describeServices: StandIn = async (call, moto) => {
  const res = await fetch(moto.url, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "AmazonEC2ContainerServiceV20141113.DescribeServices",
      authorization: `AWS4-HMAC-SHA256 Credential=local/20261207/${REGION}/ecs/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(call.params),
  });
  const out = (await res.json()) as {
    services?: Array<{
      desiredCount?: number;
      runningCount?: number;
      pendingCount?: number;
      deployments?: any[];
    }>;
  };
  for (const s of out.services ?? []) {
    s.runningCount = s.desiredCount;
    s.pendingCount = 0;
    for (const d of s.deployments ?? [])
      if (d.status === "PRIMARY")
        Object.assign(d, {
          desiredCount: s.desiredCount,
          runningCount: s.desiredCount,
          pendingCount: 0,
          rolloutState: "COMPLETED",
          rolloutStateReason: "ECS deployment completed (stand-in: moto runs no tasks).",
        });
  }
  return { status: res.status, contentType: "application/x-amz-json-1.1", body: JSON.stringify(out) };
};

let moto: Moto;
let local: LocalMode;
const saved: Record<string, string | undefined> = {};
const envKeys = [
  "REFLEX_CLOUD",
  ...SERVICES.map((s) => `REFLEX_ENDPOINT_${s.toUpperCase().replace(/-/g, "_")}`),
];
const direct = <T>(C: new (c: object) => T, region = REGION) =>
  new C({ region, credentials, endpoint: moto.motoUrl });

beforeAll(async () => {
  moto = await startMoto({ "ecs:DescribeServices": describeServices });
  const rds = direct(RDSClient);
  await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: "orders-db",
      Engine: "postgres",
      DBInstanceClass: "db.r6g.large",
      AllocatedStorage: 20,
      MasterUsername: "reflex",
      MasterUserPassword: "not-a-secret-1",
      MultiAZ: true,
      Tags: TAGS,
    }),
  );
  await rds.send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: "payments",
      Engine: "aurora-postgresql",
      MasterUsername: "reflex",
      MasterUserPassword: "not-a-secret-1",
      Tags: TAGS,
    }),
  );
  await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: "payments-1",
      Engine: "aurora-postgresql",
      DBInstanceClass: "db.r6g.large",
      DBClusterIdentifier: "payments",
      Tags: TAGS,
    }),
  );
  await direct(DynamoDBClient).send(
    new CreateTableCommand({
      TableName: "orders",
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
      Tags: TAGS,
    }),
  );
  const ecs = direct(ECSClient);
  await ecs.send(new CreateClusterCommand({ clusterName: "prod" }));
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: "api",
      containerDefinitions: [{ name: "api", image: "nginx", memory: 128 }],
    }),
  );
  await ecs.send(
    new CreateServiceCommand({
      cluster: "prod",
      serviceName: "api",
      taskDefinition: "api",
      desiredCount: 2,
      tags: [{ key: "reflex:managed", value: "true" }],
    }),
  );
  await direct(ApplicationAutoScalingClient).send(
    new RegisterScalableTargetCommand({
      ServiceNamespace: "ecs",
      ResourceId: "service/prod/api",
      ScalableDimension: "ecs:service:DesiredCount",
      MinCapacity: 1,
      MaxCapacity: 5,
    }),
  );
  for (const k of envKeys) {
    saved[k] = process.env[k];
    process.env[k] = k === "REFLEX_CLOUD" ? "aws" : moto.url;
  }
  local = await startLocal({
    config: validateConfig({
      runbooks: [dbBackup, scaleService],
      guardrails: { breaker: { failures: 100, within: "1m" } },
    }),
    port: 0,
    quiet: true,
    dataDir: null,
    waitMs: 20,
    scheduler: false,
    cloud: new SimulatedCloud({ regions: [REGION, DR] }),
  });
}, 60_000);

afterAll(async () => {
  await local?.stop();
  for (const k of envKeys) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await moto?.stop();
});

describe("db-backup against moto", () => {
  it("plans the instance, the cluster (not its member) and the table in a dry-run, and sends no mutating call", async () => {
    const before = moto.calls.length;
    const run = await runAndWait(local, "db-backup", { selector: { tag: { Backup: "daily" } } }, true);

    expect(run.status).toBe("SUCCEEDED");
    expect(run.outcome.targets.map((t: { kind: string; id: string }) => `${t.kind}:${t.id}`).sort()).toEqual([
      "aurora-cluster:payments",
      "dynamodb-table:orders",
      "rds-instance:orders-db",
    ]);
    expect(moto.calls.slice(before).filter((c) => /^(Create|Copy|Delete)/.test(c.operation))).toEqual([]);
  });

  it("snapshots the RDS instance and the Aurora cluster (tagged on create) with their DR copies, and backs up the table", async () => {
    const run = await runAndWait(local, "db-backup", {
      selector: { tag: { Backup: "daily" } },
      copyToRegion: DR,
    });

    expect(run.status, JSON.stringify(run.outcome)).toBe("SUCCEEDED");
    expect(moto.standInCalls.filter((c) => !c.startsWith("ecs:"))).toEqual([]);
    for (const region of [REGION, DR]) {
      const rds = direct(RDSClient, region);
      const snaps = (
        await rds.send(
          new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: "orders-db", SnapshotType: "manual" }),
        )
      ).DBSnapshots;
      const clusterSnaps = (
        await rds.send(
          new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: "payments", SnapshotType: "manual" }),
        )
      ).DBClusterSnapshots;
      for (const s of [...(snaps ?? []), ...(clusterSnaps ?? [])]) {
        expect(s.Status).toBe("available");
        expect(s.TagList).toEqual(
          expect.arrayContaining([
            { Key: "reflex:runbook", Value: "db-backup" },
            { Key: "reflex:execution-id", Value: run.id },
          ]),
        );
      }
      expect([snaps?.length, clusterSnaps?.length]).toEqual([1, 1]);
    }
    const backups = await direct(DynamoDBClient).send(new ListBackupsCommand({ TableName: "orders" }));
    expect(backups.BackupSummaries?.map((b) => b.BackupName?.replace(/-[0-9a-f]{8}-/, "-RUN-"))).toEqual([
      expect.stringMatching(/^reflex-\d{12}-RUN-orders$/),
    ]);
    expect(run.outcome.summary).toMatch(
      /3 database\(s\) backed up in us-east-1, 2 snapshot\(s\) copied to us-west-2/,
    );
  });
});

describe("scale-service against moto", () => {
  it("plans +1 for prod/api within its scalable target in a dry-run, with no mutating call", async () => {
    const before = moto.calls.length;
    const run = await runAndWait(
      local,
      "scale-service",
      { target: { kind: "ecs-service", cluster: "prod", service: "api" }, change: "+1" },
      true,
    );

    expect(run.status, JSON.stringify(run.outcome)).toBe("SUCCEEDED");
    expect(run.outcome.summary).toMatch(/2 → 3/);
    expect(moto.calls.slice(before).map((c) => c.operation)).not.toContain("UpdateService");
  });

  it("sets the desired count with UpdateService and ends once the (stood-in) rollout is COMPLETED", async () => {
    const run = await runAndWait(local, "scale-service", {
      target: { kind: "ecs-service", cluster: "prod", service: "api" },
      change: "+1",
    });

    expect(run.status, JSON.stringify(run.outcome)).toBe("SUCCEEDED");
    expect(moto.calls.filter((c) => c.operation === "UpdateService").map((c) => c.params)).toEqual([
      expect.objectContaining({ cluster: "prod", service: "api", desiredCount: 3 }),
    ]);
    const svc = await direct(ECSClient).send(
      new DescribeServicesCommand({ cluster: "prod", services: ["api"] }),
    );
    expect(svc.services?.[0]?.desiredCount).toBe(3);
  });
});
