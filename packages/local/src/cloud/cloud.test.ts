import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AutoScalingClient,
  AutoScalingServiceException,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  CopySnapshotCommand,
  CreateSecurityGroupCommand,
  CreateSnapshotCommand,
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  EC2Client,
  EC2ServiceException,
  type Instance,
  ModifyInstanceAttributeCommand,
  paginateDescribeInstances,
  paginateDescribeSnapshots,
  StartInstancesCommand,
  StopInstancesCommand,
} from "@aws-sdk/client-ec2";
import * as Aws from "@reflex/core/aws";
import { ConfiguredRetryStrategy } from "@smithy/core/retry";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CloudApiError } from "./api-error.ts";
import { SimulatedCloud } from "./index.ts";

const credentials = { accessKeyId: "local", secretAccessKey: "local" };
const T0 = Date.parse("2026-03-01T12:00:00.000Z");
const DAY = 86_400_000;

let now = T0;
const clock = () => now;
let cloud: SimulatedCloud;

/** Retries after 5 ms instead of the SDK's jittered 1 s throttling backoff, to keep the suite fast. */
const fastRetries = () => new ConfiguredRetryStrategy(3, 5);

function ec2(region = "us-east-1"): EC2Client {
  const client = new EC2Client({ region, credentials, retryStrategy: fastRetries() });
  cloud.attach(client, "ec2", region);
  return client;
}

function autoScaling(region = "us-east-1"): AutoScalingClient {
  const client = new AutoScalingClient({ region, credentials, retryStrategy: fastRetries() });
  cloud.attach(client, "autoscaling", region);
  return client;
}

async function allInstances(
  client: EC2Client,
  input: ConstructorParameters<typeof DescribeInstancesCommand>[0] = {},
) {
  const out: Instance[] = [];
  for await (const page of paginateDescribeInstances({ client }, input)) {
    for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
  }
  return out;
}

const name = (i: { Tags?: Array<{ Key?: string; Value?: string }> }) => SimulatedCloud.tag(i, "Name");

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to fail");
}

beforeEach(() => {
  now = T0;
  cloud = SimulatedCloud.seeded({ clock, snapshotDurationMs: 60_000 });
});

describe("seeded fleet", () => {
  it("has 12 instances in us-east-1 and an empty us-west-2", () => {
    expect(cloud.instances("us-east-1")).toHaveLength(12);
    expect(cloud.instances("us-west-2")).toHaveLength(0);
    expect(cloud.volumes("us-east-1")).toHaveLength(6 + 3 * 2 + 3);
    expect(cloud.autoScalingGroups()).toMatchObject([
      { AutoScalingGroupName: "web", MinSize: 2, MaxSize: 12, DesiredCapacity: 6, Region: "us-east-1" },
    ]);
  });

  it("is the same on every run", () => {
    const again = SimulatedCloud.seeded({ clock });
    expect(again.instances().map((i) => i.InstanceId)).toEqual(cloud.instances().map((i) => i.InstanceId));
    expect(cloud.instance("web-1")?.InstanceId).toMatch(/^i-[0-9a-f]{17}$/);
  });

  it("keeps one manual snapshot without Reflex tags next to expired Reflex snapshots", () => {
    const snapshots = cloud.snapshots("us-east-1");
    const manual = snapshots.filter((s) => !s.Tags?.some((t) => t.Key?.startsWith("reflex:")));
    expect(manual).toHaveLength(1);
    const expired = snapshots.filter(
      (s) =>
        SimulatedCloud.tag(s, "reflex:runbook") === "backup-snapshot" &&
        Date.parse(SimulatedCloud.tag(s, "reflex:retain-until")!) < now,
    );
    expect(expired).toHaveLength(4);
    for (const s of expired) expect(SimulatedCloud.tag(s, "reflex:source-volume")).toBe(s.VolumeId);
  });
});

describe("EC2 DescribeInstances", () => {
  it("filters by tag, tag-key, state and wildcard", async () => {
    const client = ec2();
    const dbs = await allInstances(client, { Filters: [{ Name: "tag:Role", Values: ["db"] }] });
    expect(dbs.map(name).sort()).toEqual(["db-1", "db-2", "db-3"]);
    expect(dbs[0].BlockDeviceMappings?.map((b) => b.Ebs?.VolumeId)).toHaveLength(2);

    const managed = await allInstances(client, {
      Filters: [{ Name: "tag-key", Values: ["reflex:managed"] }],
    });
    expect(managed).toHaveLength(9);

    const stopped = await allInstances(client, {
      Filters: [
        { Name: "instance-state-name", Values: ["stopped"] },
        { Name: "tag:Backup", Values: ["weekly"] },
      ],
    });
    expect(stopped.map(name)).toEqual(["batch-3"]);

    const web = await allInstances(client, { Filters: [{ Name: "tag:Name", Values: ["web-*"] }] });
    expect(web).toHaveLength(6);
  });

  it("pages five at a time by default, so paginators are exercised", async () => {
    const client = ec2();
    const first = await client.send(new DescribeInstancesCommand({}));
    expect(first.Reservations).toHaveLength(5);
    expect(first.NextToken).toBeDefined();

    const sizes: number[] = [];
    for await (const page of paginateDescribeInstances({ client }, {}))
      sizes.push(page.Reservations?.length ?? 0);
    expect(sizes).toEqual([5, 5, 2]);

    const bigger: number[] = [];
    for await (const page of paginateDescribeInstances({ client, pageSize: 10 }, {})) {
      bigger.push(page.Reservations?.length ?? 0);
    }
    expect(bigger).toEqual([10, 2]);
  });

  it("fails with InvalidInstanceID.NotFound for an unknown id, as an SDK service exception", async () => {
    const error = await rejection(
      ec2().send(new DescribeInstancesCommand({ InstanceIds: ["i-0123456789abcdef0"] })),
    );
    expect(error).toBeInstanceOf(EC2ServiceException);
    expect(error.name).toBe("InvalidInstanceID.NotFound");
    expect(error.$fault).toBe("client");
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(error.message).toContain("i-0123456789abcdef0");
  });
});

describe("EC2 DescribeInstances parameters", () => {
  it("refuses InstanceIds together with MaxResults, as AWS documents", async () => {
    const id = cloud.instance("db-1")!.InstanceId!;
    const error = await rejection(
      ec2().send(new DescribeInstancesCommand({ InstanceIds: [id], MaxResults: 100 })),
    );
    expect(error.name).toBe("InvalidParameterCombination");
  });

  it("refuses an unknown filter name with InvalidParameterValue", async () => {
    const error = await rejection(
      ec2().send(new DescribeInstancesCommand({ Filters: [{ Name: "tags:Role", Values: ["web"] }] })),
    );
    expect(error.name).toBe("InvalidParameterValue");
    expect(error.message).toContain("tags:Role");
  });
});

describe("EC2 snapshots", () => {
  it("go from pending to completed as the clock passes the snapshot duration", async () => {
    const client = ec2();
    const volumeId = cloud.instance("db-1")!.BlockDeviceMappings![1].Ebs!.VolumeId!;
    const created = await client.send(
      new CreateSnapshotCommand({
        VolumeId: volumeId,
        Description: "nightly",
        TagSpecifications: [{ ResourceType: "snapshot", Tags: [{ Key: "reflex:managed", Value: "true" }] }],
      }),
    );
    expect(created).toMatchObject({ State: "pending", Progress: "0%", VolumeId: volumeId, VolumeSize: 500 });
    expect(created.SnapshotId).toMatch(/^snap-[0-9a-f]{17}$/);

    now += 30_000;
    const half = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: [created.SnapshotId!] }));
    expect(half.Snapshots?.[0]).toMatchObject({ State: "pending", Progress: "50%" });

    now += 30_000;
    const done = await client.send(
      new DescribeSnapshotsCommand({
        OwnerIds: ["self"],
        Filters: [
          { Name: "status", Values: ["completed"] },
          { Name: "tag:reflex:managed", Values: ["true"] },
          { Name: "volume-id", Values: [volumeId] },
        ],
      }),
    );
    expect(done.Snapshots?.map((s) => s.SnapshotId)).toContain(created.SnapshotId);
    expect(done.Snapshots?.find((s) => s.SnapshotId === created.SnapshotId)).toMatchObject({
      State: "completed",
      Progress: "100%",
      Description: "nightly",
      StartTime: new Date(T0),
    });
  });

  it("are paged by DescribeSnapshots", async () => {
    const sizes: number[] = [];
    for await (const page of paginateDescribeSnapshots({ client: ec2() }, { OwnerIds: ["self"] })) {
      sizes.push(page.Snapshots?.length ?? 0);
    }
    expect(sizes).toEqual([5, 1]);
  });

  it("copy to another region with the source's VolumeId, pending until the duration passes", async () => {
    const source = cloud.snapshots("us-east-1")[0];
    const west = ec2("us-west-2");
    const copy = await west.send(
      new CopySnapshotCommand({
        SourceRegion: "us-east-1",
        SourceSnapshotId: source.SnapshotId,
        Description: "dr copy",
        TagSpecifications: [
          { ResourceType: "snapshot", Tags: [{ Key: "reflex:dr-of", Value: source.SnapshotId! }] },
        ],
      }),
    );
    expect(copy.SnapshotId).not.toBe(source.SnapshotId);
    expect(cloud.snapshots("us-west-2")).toMatchObject([
      { SnapshotId: copy.SnapshotId, VolumeId: source.VolumeId, State: "pending", Description: "dr copy" },
    ]);
    expect(cloud.calls.at(-1)?.input).toEqual({
      SourceRegion: "us-east-1",
      SourceSnapshotId: source.SnapshotId,
      Description: "dr copy",
      TagSpecifications: [
        { ResourceType: "snapshot", Tags: [{ Key: "reflex:dr-of", Value: source.SnapshotId }] },
      ],
    });

    now += 60_000;
    expect(cloud.snapshots("us-west-2")[0].State).toBe("completed");
  });

  it("cannot be copied while still pending", async () => {
    const client = ec2();
    const created = await client.send(new CreateSnapshotCommand({ VolumeId: cloud.volumes()[0].VolumeId }));
    const error = await rejection(
      ec2("us-west-2").send(
        new CopySnapshotCommand({ SourceRegion: "us-east-1", SourceSnapshotId: created.SnapshotId }),
      ),
    );
    expect(error.name).toBe("IncorrectState");
  });

  it("are deleted, and a second delete fails with InvalidSnapshot.NotFound", async () => {
    const client = ec2();
    const [victim] = cloud.snapshots("us-east-1");
    await client.send(new DeleteSnapshotCommand({ SnapshotId: victim.SnapshotId }));
    expect(cloud.snapshots().map((s) => s.SnapshotId)).not.toContain(victim.SnapshotId);

    const error = await rejection(client.send(new DeleteSnapshotCommand({ SnapshotId: victim.SnapshotId })));
    expect(error.name).toBe("InvalidSnapshot.NotFound");
  });

  it("are not created by a DryRun, which answers DryRunOperation", async () => {
    const before = cloud.snapshots().length;
    const error = await rejection(
      ec2().send(new CreateSnapshotCommand({ VolumeId: cloud.volumes()[0].VolumeId, DryRun: true })),
    );
    expect(error.name).toBe("DryRunOperation");
    expect(cloud.snapshots()).toHaveLength(before);
    expect(cloud.mutatingCalls()).toHaveLength(0);
  });
});

describe("call log", () => {
  it("records every call, failed ones too, with its mutating flag", async () => {
    const client = ec2();
    const web1 = cloud.instance("web-1")!.InstanceId!;
    await client.send(
      new DescribeVolumesCommand({ Filters: [{ Name: "attachment.instance-id", Values: [web1] }] }),
    );
    await client.send(new CreateTagsCommand({ Resources: [web1], Tags: [{ Key: "Owner", Value: "sre" }] }));
    await rejection(client.send(new DeleteSnapshotCommand({ SnapshotId: "snap-00000000000000000" })));

    expect(
      cloud.calls.map(({ operation, mutating, error, region }) => ({ operation, mutating, error, region })),
    ).toEqual([
      { operation: "DescribeVolumes", mutating: false, error: undefined, region: "us-east-1" },
      { operation: "CreateTags", mutating: true, error: undefined, region: "us-east-1" },
      { operation: "DeleteSnapshot", mutating: true, error: "InvalidSnapshot.NotFound", region: "us-east-1" },
    ]);
    expect(cloud.mutatingCalls().map((c) => c.operation)).toEqual(["CreateTags", "DeleteSnapshot"]);
    expect(cloud.instance("web-1")?.Tags).toContainEqual({ Key: "Owner", Value: "sre" });

    cloud.clearCalls();
    expect(cloud.calls).toHaveLength(0);
  });

  it("refuses operations the simulation does not implement, naming them", async () => {
    const error = await rejection(
      ec2().send(new CreateSecurityGroupCommand({ GroupName: "web", Description: "web" })),
    );
    expect(error.name).toBe("UnsupportedOperation");
    expect(error.message).toContain("ec2:CreateSecurityGroup");
  });

  it("answers clients built by the core client factory when attached through decorate", async () => {
    Aws.configure({ decorate: (service, client, region) => cloud.attach(client, service, region) });
    try {
      const client = Aws.client(EC2Client, "ec2", "us-east-1");
      const out = await client.send(
        new DescribeInstancesCommand({ Filters: [{ Name: "tag:Role", Values: ["db"] }] }),
      );
      expect(out.Reservations).toHaveLength(3);
      expect(cloud.calls).toHaveLength(1);
    } finally {
      Aws.configure({});
    }
  });

  it("leaves clients of services it does not simulate alone", () => {
    const dynamo = new DynamoDBClient({ region: "us-east-1", credentials });
    cloud.attach(dynamo, "dynamodb", "us-east-1");
    expect(dynamo.middlewareStack.identify().join()).not.toContain("reflexCloud");
  });
});

describe("faults", () => {
  it("fires at its rate, keeps firing for its burst, and stops after its count", async () => {
    // The fault's dice: 0.9 (miss), 0.1 (hit: a burst of 3), then 0.9 (miss), 0.2 (hit, the last of 4).
    const rolls = [0.9, 0.1, 0.9, 0.2, 0.1];
    const diced = new SimulatedCloud({ random: () => rolls.shift() ?? 0.9 });
    diced.injectFault({
      operation: "DescribeVolumes",
      kind: "error",
      code: "InternalError",
      rate: 0.5,
      burst: 3,
      times: 4,
    });
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      outcomes.push(
        await diced.invoke("ec2", "us-east-1", "DescribeVolumes", {}).then(
          () => "ok",
          (e: CloudApiError) => e.code,
        ),
      );
    }
    expect(outcomes).toEqual([
      "ok",
      "InternalError",
      "InternalError",
      "InternalError",
      "ok",
      "InternalError",
      "ok",
      "ok",
    ]);
    expect(diced.faults()).toEqual([]);
  });

  it("throttles twice; the SDK's retry strategy retries and the third attempt succeeds", async () => {
    cloud.injectFault({ operation: "DescribeInstances", kind: "throttle", times: 2 });
    const out = await ec2().send(new DescribeInstancesCommand({}));

    expect(out.Reservations).toHaveLength(5);
    expect(out.$metadata.attempts).toBe(3);
    expect(cloud.calls.map((c) => c.error)).toEqual([
      "RequestLimitExceeded",
      "RequestLimitExceeded",
      undefined,
    ]);
    expect(cloud.faults()).toHaveLength(0);
  });

  it("throttles Auto Scaling with its own code", async () => {
    cloud.injectFault({ service: "autoscaling", operation: "DescribeAutoScalingGroups", kind: "throttle" });
    const error = await rejection(autoScaling().send(new DescribeAutoScalingGroupsCommand({})));
    expect(error).toBeInstanceOf(AutoScalingServiceException);
    expect(error.name).toBe("Throttling");
    expect(error.$metadata.attempts).toBe(3);
  });

  it("surfaces a non-retryable error with its code after one attempt", async () => {
    cloud.injectFault({
      operation: "CreateSnapshot",
      kind: "error",
      code: "UnauthorizedOperation",
      message: "You are not authorized to perform this operation.",
      match: (input) => input.VolumeId === cloud.volumes()[0].VolumeId,
    });
    const error = await rejection(
      ec2().send(new CreateSnapshotCommand({ VolumeId: cloud.volumes()[0].VolumeId })),
    );
    expect(error).toBeInstanceOf(EC2ServiceException);
    expect(error).toMatchObject({
      name: "UnauthorizedOperation",
      $fault: "client",
      Code: "UnauthorizedOperation",
    });
    expect(error.message).toBe("You are not authorized to perform this operation.");
    expect(error.$metadata.attempts).toBe(1);
    expect(cloud.calls).toHaveLength(1);
  });

  it("retries an InternalError like AWS's 500s", async () => {
    cloud.injectFault({ operation: "DescribeVolumes", kind: "error", times: 1 });
    const out = await ec2().send(new DescribeVolumesCommand({}));
    expect(out.$metadata.attempts).toBe(2);
    expect(cloud.calls[0].error).toBe("InternalError");
  });

  it("delays a call by the injected latency", async () => {
    cloud.injectFault({ operation: "DescribeInstances", kind: "latency", latencyMs: 40, times: 1 });
    const started = performance.now();
    await ec2().send(new DescribeInstancesCommand({}));
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
  });
});

describe("Auto Scaling", () => {
  const webMembers = (client: EC2Client) =>
    allInstances(client, {
      Filters: [
        { Name: "tag:aws:autoscaling:groupName", Values: ["web"] },
        { Name: "instance-state-name", Values: ["pending", "running"] },
      ],
    });

  it("launches tagged instances when the desired capacity grows, Pending before InService, and terminates when it shrinks", async () => {
    const asg = autoScaling();
    const client = ec2();
    const lifecycle = async () =>
      (
        await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] }))
      ).AutoScalingGroups?.[0].Instances?.map((i) => i.LifecycleState);

    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: "web", DesiredCapacity: 8 }));
    const grown = await webMembers(client);
    const added = grown.filter((i) => name(i) === undefined);

    expect(grown).toHaveLength(8);
    expect(added).toHaveLength(2);
    expect((await lifecycle())?.filter((l) => l === "Pending")).toHaveLength(2);
    for (const i of added) {
      expect(i.State?.Name).toBe("pending");
      // Auto Scaling tags what it launches with the group's propagated tags and its own, never a Name.
      expect(i.Tags).toEqual(
        expect.arrayContaining([
          { Key: "Role", Value: "web" },
          { Key: "Backup", Value: "daily" },
          { Key: "reflex:managed", Value: "true" },
          { Key: "aws:autoscaling:groupName", Value: "web" },
        ]),
      );
    }

    now += 1000;
    expect(await lifecycle()).toEqual(Array(8).fill("InService"));

    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: "web", DesiredCapacity: 3 }));
    expect(await webMembers(client)).toHaveLength(3);
    const terminated = await allInstances(client, {
      Filters: [{ Name: "instance-state-name", Values: ["terminated"] }],
    });
    expect(terminated).toHaveLength(5);
  });

  it("scales in from the zone with the most instances, by the group's termination policy", async () => {
    const asg = autoScaling();
    const members = () =>
      cloud
        .instances()
        .filter(
          (i) => SimulatedCloud.tag(i, "aws:autoscaling:groupName") === "web" && i.State?.Name === "running",
        );
    const zones = (list: ReturnType<typeof members>) => list.map((i) => i.Placement?.AvailabilityZone).sort();
    // One new member: its zone now holds the most instances.
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: "web", DesiredCapacity: 7 }));
    now += 1000;
    const newest = members().find((i) => name(i) === undefined)!;
    const crowded = newest.Placement?.AvailabilityZone;

    await asg.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: "web",
        TerminationPolicies: ["NewestInstance"],
      }),
    );
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: "web", DesiredCapacity: 6 }));

    expect(members().map((i) => i.InstanceId)).not.toContain(newest.InstanceId);
    expect(zones(members()).filter((z) => z === crowded)).toHaveLength(2);

    await asg.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: "web",
        TerminationPolicies: ["OldestInstance"],
      }),
    );
    const oldest = [...members()].sort((a, b) => a.LaunchTime!.getTime() - b.LaunchTime!.getTime())[0];
    await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: "web", DesiredCapacity: 5 }));

    expect(members().map((i) => i.InstanceId)).not.toContain(oldest.InstanceId);
    expect(
      (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] })))
        .AutoScalingGroups?.[0].TerminationPolicies,
    ).toEqual(["OldestInstance"]);
  });

  it("refuses a termination policy Auto Scaling does not know", async () => {
    const error = await rejection(
      autoScaling().send(
        new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: "web", TerminationPolicies: ["Youngest"] }),
      ),
    );
    expect(error).toMatchObject({ name: "ValidationError" });
    expect(cloud.autoScalingGroups()[0].TerminationPolicies).toEqual(["Default"]);
  });

  it("rejects a desired capacity outside min and max with ValidationError, changing nothing", async () => {
    const asg = autoScaling();
    const above = await rejection(
      asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: "web", DesiredCapacity: 13 })),
    );
    expect(above).toBeInstanceOf(AutoScalingServiceException);
    expect(above.name).toBe("ValidationError");
    expect(above.message).toContain("above max value 12");

    const below = await rejection(
      asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: "web", DesiredCapacity: 1 })),
    );
    expect(below.message).toContain("below min value 2");
    expect(cloud.autoScalingGroups()[0].DesiredCapacity).toBe(6);
  });

  it("moves the desired capacity into new bounds on UpdateAutoScalingGroup", async () => {
    await autoScaling().send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: "web", MaxSize: 4 }));
    expect(cloud.autoScalingGroups()[0]).toMatchObject({ MaxSize: 4, DesiredCapacity: 4 });
    expect(await webMembers(ec2())).toHaveLength(4);
  });
});

describe("instance state", () => {
  it("refuses ModifyInstanceAttribute on a running instance, and resizes a stopped one", async () => {
    const client = ec2();
    const id = cloud.instance("db-2")!.InstanceId!;
    const resize = () =>
      client.send(
        new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: "r5.2xlarge" } }),
      );

    const error = await rejection(resize());
    expect(error.name).toBe("IncorrectInstanceState");

    const stopping = await client.send(new StopInstancesCommand({ InstanceIds: [id] }));
    expect(stopping.StoppingInstances?.[0]).toMatchObject({
      CurrentState: { Name: "stopping", Code: 64 },
      PreviousState: { Name: "running", Code: 16 },
    });
    expect(cloud.instance(id)?.State?.Name).toBe("stopped");

    await resize();
    await client.send(new StartInstancesCommand({ InstanceIds: [id] }));
    expect(cloud.instance(id)).toMatchObject({ InstanceType: "r5.2xlarge", State: { Name: "running" } });
  });

  it("takes stateTransitionMs of clock time when configured", async () => {
    cloud = SimulatedCloud.seeded({ clock, stateTransitionMs: 10_000 });
    const id = cloud.instance("batch-3")!.InstanceId!;
    await ec2().send(new StartInstancesCommand({ InstanceIds: [id] }));
    expect(cloud.instance(id)?.State?.Name).toBe("pending");
    now += 10_000;
    expect(cloud.instance(id)?.State?.Name).toBe("running");
  });
});

describe("persistence", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "reflex-cloud-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("saves after every mutating call and restores the same cloud", async () => {
    const persistPath = join(dir, "nested", "cloud.json");
    cloud = SimulatedCloud.seeded({ clock, persistPath });
    expect(cloud.restored).toBe(false);
    const created = await ec2().send(new CreateSnapshotCommand({ VolumeId: cloud.volumes()[0].VolumeId }));

    const restored = SimulatedCloud.seeded({ clock, persistPath });
    expect(restored.restored).toBe(true);
    expect(restored.instances()).toEqual(cloud.instances());
    expect(restored.snapshots().map((s) => s.SnapshotId)).toContain(created.SnapshotId);
    expect(readdirSync(join(dir, "nested"))).toEqual(["cloud.json"]);

    // New ids continue the saved sequence rather than repeating it.
    const next = restored.addSnapshot({ tags: { Name: "after-restart" } });
    expect(cloud.snapshots().map((s) => s.SnapshotId)).not.toContain(next.SnapshotId);
  });

  it("refuses a file that is not a saved cloud instead of reseeding over it", () => {
    const persistPath = join(dir, "cloud.json");
    writeFileSync(persistPath, "{ not json");
    expect(() => SimulatedCloud.seeded({ persistPath })).toThrow(
      expect.objectContaining({ code: "invalid_cloud_state" }),
    );
  });

  it("keeps an old Reflex snapshot added by a helper with its start time and tags", () => {
    const persistPath = join(dir, "cloud.json");
    cloud = new SimulatedCloud({ clock, persistPath });
    cloud.addSnapshot({
      startTime: new Date(T0 - 40 * DAY),
      tags: { "reflex:managed": "true", "reflex:retain-until": new Date(T0 - 26 * DAY).toISOString() },
    });
    const [restored] = new SimulatedCloud({ clock, persistPath }).snapshots();
    expect(restored).toMatchObject({ State: "completed", StartTime: new Date(T0 - 40 * DAY) });
    expect(SimulatedCloud.tag(restored, "reflex:managed")).toBe("true");
  });
});
