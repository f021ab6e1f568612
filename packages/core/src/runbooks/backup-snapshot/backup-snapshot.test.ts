import {
  CreateSnapshotCommand,
  DeleteSnapshotCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  type Instance,
  type Snapshot,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../../test/support/dynamo.ts";
import type { Storage } from "../../../../local/src/storage.ts";
import * as Executions from "../../state/executions.ts";
import type { StepContext } from "../define.ts";
import { backupParams } from "./params.ts";
import { rollback } from "./rollback.ts";
import { checkSnapshots, plan, prune, snapshotInstance } from "./steps.ts";

const ec2 = mockClient(EC2Client);
let storage: Storage;
const NOW = new Date("2026-11-28T12:00:00Z");
const ctx = (executionId: string, maxTargets = 50): StepContext & { maxTargets: number } => ({
  executionId,
  runbook: "backup-snapshot",
  dryRun: false,
  state: "test",
  now: () => NOW,
  automationTag: { key: "reflex:managed", value: "true" },
  maxTargets,
  record: (fields) => Executions.setResult(executionId, fields),
  config: {},
  lockTargets: async (targets) => ({ held: targets, locked: [] }),
});
const params = backupParams.parse({ selector: { tag: { Backup: "daily" } }, retainDays: 7, keepLast: 1 });
const execution = (id: string) => ({
  id,
  runbook: "backup-snapshot",
  dryRun: false,
  startedAt: NOW.toISOString(),
});

const instance = (id: string, volumes: string[]): Instance => ({
  InstanceId: id,
  State: { Name: "running" as const },
  Tags: [{ Key: "Name", Value: `name-${id}` }],
  BlockDeviceMappings: volumes.map((v, i) => ({ DeviceName: `/dev/xvd${"abc"[i]}`, Ebs: { VolumeId: v } })),
});
const reflexSnapshot = (id: string, volume: string, start: string, retainUntil: string): Snapshot => ({
  SnapshotId: id,
  VolumeId: volume,
  State: "completed" as const,
  StartTime: new Date(start),
  Tags: [
    { Key: "reflex:managed", Value: "true" },
    { Key: "reflex:runbook", Value: "backup-snapshot" },
    { Key: "reflex:source-volume", Value: volume },
    { Key: "reflex:retain-until", Value: retainUntil },
  ],
});

beforeAll(async () => {
  storage = await startTestDynamo();
});
afterAll(async () => storage.close());
beforeEach(() => ec2.reset());

async function newRun(id: string) {
  await Executions.create({
    id,
    runbook: "backup-snapshot",
    dryRun: false,
    params: {},
    trigger: { kind: "manual", actor: "test" },
  });
}

describe("plan", () => {
  it("selects running and stopped instances by tag, following every page", async () => {
    await newRun("plan-1");
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce({
        Reservations: [{ Instances: [instance("i-0000000000000000a", ["vol-a"])] }],
        NextToken: "p2",
      })
      .resolvesOnce({
        Reservations: [{ Instances: [instance("i-0000000000000000b", ["vol-b1", "vol-b2"])] }],
      });
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });

    const result = await plan({ execution: execution("plan-1"), params }, ctx("plan-1"));

    const calls = ec2.commandCalls(DescribeInstancesCommand);
    expect(calls).toHaveLength(2);
    // The paginator reuses one input object, so only the second call's NextToken is checkable.
    expect(calls[0].args[0].input.Filters).toEqual([
      { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
      { Name: "tag:Backup", Values: ["daily"] },
    ]);
    expect(calls[0].args[0].input.MaxResults).toBe(100);
    expect(calls[1].args[0].input).toMatchObject({ NextToken: "p2" });
    expect(result.create).toEqual([
      { instanceId: "i-0000000000000000a", volumeId: "vol-a" },
      { instanceId: "i-0000000000000000b", volumeId: "vol-b1" },
      { instanceId: "i-0000000000000000b", volumeId: "vol-b2" },
    ]);
    expect((await Executions.get("plan-1")).result?.plan).toMatchObject({ create: result.create });
  });

  it("plans to prune only expired Reflex snapshots beyond the newest kept per volume, counting the one it will make", async () => {
    await newRun("plan-2");
    ec2
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [instance("i-0000000000000000a", ["vol-a"])] }] });
    ec2.on(DescribeSnapshotsCommand).resolves({
      Snapshots: [
        reflexSnapshot("snap-newest", "vol-a", "2026-01-03T00:00:00Z", "2026-01-10T00:00:00Z"),
        reflexSnapshot("snap-expired", "vol-a", "2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"),
        reflexSnapshot("snap-still-retained", "vol-a", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        reflexSnapshot("snap-other-volume", "vol-zzz", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"),
      ],
    });

    // keepLast 2: the snapshot this run makes, and snap-newest.
    const result = await plan(
      { execution: execution("plan-2"), params: { ...params, keepLast: 2 } },
      ctx("plan-2"),
    );

    expect(result.prune.map((p) => p.snapshotId)).toEqual(["snap-expired"]);
    expect(ec2.commandCalls(DescribeSnapshotsCommand)[0].args[0].input).toMatchObject({
      OwnerIds: ["self"],
      Filters: [
        { Name: "tag:reflex:managed", Values: ["true"] },
        { Name: "tag:reflex:runbook", Values: ["backup-snapshot"] },
      ],
    });
  });

  it("refuses a selection over the blast-radius cap before changing anything", async () => {
    await newRun("plan-3");
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [instance("i-0000000000000000a", ["v1"]), instance("i-0000000000000000b", ["v2"])] },
      ],
    });
    await expect(plan({ execution: execution("plan-3"), params }, ctx("plan-3", 1))).rejects.toMatchObject({
      code: "BlastRadiusExceeded",
      message: expect.stringContaining("matched 2 instances, more than the cap of 1"),
    });
  });

  it("fails when the selector matches nothing", async () => {
    await newRun("plan-4");
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    await expect(plan({ execution: execution("plan-4"), params }, ctx("plan-4"))).rejects.toMatchObject({
      code: "NoTargets",
    });
  });
});

describe("snapshotInstance", () => {
  const target = {
    instanceId: "i-0000000000000000a",
    name: "web-1",
    volumes: [{ volumeId: "vol-a" }, { volumeId: "vol-b" }],
  };

  it("snapshots each volume with the execution, source and retention tags", async () => {
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
    ec2
      .on(CreateSnapshotCommand)
      .resolvesOnce({ SnapshotId: "snap-1" })
      .resolvesOnce({ SnapshotId: "snap-2" });

    const out = await snapshotInstance(
      { execution: execution("snap-run"), params, target, region: "us-east-1" },
      ctx("snap-run"),
    );

    expect(out).toEqual({
      instanceId: target.instanceId,
      status: "started",
      snapshots: [
        { snapshotId: "snap-1", volumeId: "vol-a" },
        { snapshotId: "snap-2", volumeId: "vol-b" },
      ],
    });
    const first = ec2.commandCalls(CreateSnapshotCommand)[0].args[0].input;
    expect(first.VolumeId).toBe("vol-a");
    expect(first.TagSpecifications).toEqual([
      {
        ResourceType: "snapshot",
        Tags: [
          { Key: "Name", Value: "reflex-web-1-vol-a" },
          { Key: "reflex:managed", Value: "true" },
          { Key: "reflex:runbook", Value: "backup-snapshot" },
          { Key: "reflex:execution-id", Value: "snap-run" },
          { Key: "reflex:source-instance", Value: target.instanceId },
          { Key: "reflex:source-volume", Value: "vol-a" },
          { Key: "reflex:retain-until", Value: "2026-12-05T12:00:00.000Z" },
        ],
      },
    ]);
  });

  it("tags each snapshot with the manifest a restore launches the instance again from (AMI, type, zone, subnet, root device)", async () => {
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
    ec2.on(CreateSnapshotCommand).resolves({ SnapshotId: "snap-1" });
    const launch = {
      imageId: "ami-0c02fb55956c7d316",
      instanceType: "m5.large",
      zone: "us-east-1b",
      subnetId: "subnet-0123456789abcdef0",
      rootDevice: "/dev/xvda",
    };

    await snapshotInstance(
      { execution: execution("manifest-run"), params, target: { ...target, launch }, region: "us-east-1" },
      ctx("manifest-run"),
    );

    const tags = ec2.commandCalls(CreateSnapshotCommand)[0].args[0].input.TagSpecifications?.[0]?.Tags;
    expect(tags).toEqual(
      expect.arrayContaining([
        { Key: "reflex:image-id", Value: launch.imageId },
        { Key: "reflex:instance-type", Value: "m5.large" },
        { Key: "reflex:availability-zone", Value: "us-east-1b" },
        { Key: "reflex:subnet-id", Value: launch.subnetId },
        { Key: "reflex:root-device", Value: "/dev/xvda" },
      ]),
    );
  });

  it("makes no second snapshot when retried after a partial success", async () => {
    ec2
      .on(DescribeSnapshotsCommand)
      .resolves({ Snapshots: [{ SnapshotId: "snap-earlier", VolumeId: "vol-a", State: "pending" }] });
    ec2.on(CreateSnapshotCommand).resolves({ SnapshotId: "snap-new" });

    const out = await snapshotInstance(
      { execution: execution("retry-run"), params, target, region: "us-east-1" },
      ctx("retry-run"),
    );

    expect(ec2.commandCalls(CreateSnapshotCommand).map((c) => c.args[0].input.VolumeId)).toEqual(["vol-b"]);
    expect(out.snapshots).toEqual([
      { snapshotId: "snap-earlier", volumeId: "vol-a" },
      { snapshotId: "snap-new", volumeId: "vol-b" },
    ]);
  });
});

describe("checkSnapshots", () => {
  const snapshots = [
    {
      instanceId: "i-1",
      status: "started" as const,
      snapshots: [{ snapshotId: "snap-1", volumeId: "vol-a" }],
    },
  ];

  it("keeps waiting while a snapshot is pending", async () => {
    ec2
      .on(DescribeSnapshotsCommand)
      .resolves({ Snapshots: [{ SnapshotId: "snap-1", State: "pending", Progress: "40%" }] });
    const p = await checkSnapshots({ execution: execution("c1"), params, snapshots }, ctx("c1"));
    expect(p).toMatchObject({
      done: false,
      timedOut: false,
      snapshots: [{ snapshotId: "snap-1", state: "pending", progress: "40%" }],
    });
  });

  it("stops waiting at the timeout and says so", async () => {
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: "snap-1", State: "pending" }] });
    const longAgo = { ...execution("c2"), startedAt: new Date(NOW.getTime() - 121 * 60_000).toISOString() };
    const p = await checkSnapshots(
      { execution: longAgo, params: { ...params, timeoutMinutes: 120 }, snapshots },
      ctx("c2"),
    );
    expect(p).toMatchObject({ done: true, timedOut: true });
  });
});

describe("prune", () => {
  it("deletes exactly the expired snapshots and treats already-deleted as done", async () => {
    ec2.on(DescribeSnapshotsCommand).resolves({
      Snapshots: [
        reflexSnapshot("snap-keep", "vol-a", "2026-11-20T00:00:00Z", "2026-11-27T00:00:00Z"),
        reflexSnapshot("snap-old-1", "vol-a", "2026-10-01T00:00:00Z", "2026-10-08T00:00:00Z"),
        reflexSnapshot("snap-old-2", "vol-a", "2026-09-01T00:00:00Z", "2026-09-08T00:00:00Z"),
      ],
    });
    ec2
      .on(DeleteSnapshotCommand, { SnapshotId: "snap-old-2" })
      .rejects(Object.assign(new Error("gone"), { name: "InvalidSnapshot.NotFound" }));
    ec2.on(DeleteSnapshotCommand, { SnapshotId: "snap-old-1" }).resolves({});
    const planned = {
      region: "us-east-1",
      targets: [{ instanceId: "i-1", volumes: [{ volumeId: "vol-a" }] }],
      create: [],
      prune: [],
      cap: 50,
    };

    const out = await prune({ execution: execution("p1"), params, plan: planned }, ctx("p1"));

    expect(ec2.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input.SnapshotId)).toEqual([
      "snap-old-1",
      "snap-old-2",
    ]);
    expect(out.deleted.map((d) => d.snapshotId)).toEqual(["snap-old-1", "snap-old-2"]);
    expect(out.failed).toEqual([]);
  });
});

describe("rollback", () => {
  it("deletes this run's unfinished snapshots and keeps the completed ones", async () => {
    await newRun("rb-1");
    ec2.on(DescribeSnapshotsCommand).resolves({
      Snapshots: [
        { SnapshotId: "snap-done", State: "completed", Tags: [] },
        { SnapshotId: "snap-half", State: "pending", Tags: [] },
      ],
    });
    ec2.on(DeleteSnapshotCommand).resolves({});

    const out = await rollback({ execution: execution("rb-1"), params }, ctx("rb-1"));

    expect(ec2.commandCalls(DescribeSnapshotsCommand)[0].args[0].input.Filters).toEqual([
      { Name: "tag:reflex:execution-id", Values: ["rb-1"] },
    ]);
    expect(ec2.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input.SnapshotId)).toEqual([
      "snap-half",
    ]);
    expect(out).toEqual({ deleted: ["snap-half"], kept: ["snap-done"], failed: [] });
  });
});
