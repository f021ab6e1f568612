/**
 * restore side by side as a new instance, through the test kit: one local mode for the file (its
 * start is the cost), one seeded account with a Reflex backup of a 3-volume instance whose
 * snapshots carry the manifest (AMI, type, zone, subnet, root device), an isolated subnet.
 */
import type { SimulatedCloud } from "@reflex/local/cloud/index";
import { setPatchingSettings } from "@reflex/local/cloud/patching-helpers";
import {
  callsOutsidePermissions,
  mutatingCalls,
  openSimulation,
  type Simulation,
  type SimulationSession,
} from "@reflex/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drillRow, restore } from "./index.ts";
import { sweepLost, type Verification } from "./steps.ts";

const HOUR = 3_600_000;
const DEVICES = ["/dev/xvda", "/dev/sdf", "/dev/sdg"];
const SG = "sg-0123456789abcdef0";

interface Fixture {
  source: string;
  sourceSubnet: string;
  isolated: string;
  newSet: string[];
}
let fx: Fixture;

/** app-1 (m5.large, 3 volumes, us-east-1b) backed up 2 h ago with the manifest tags, written since; an isolated subnet in its zone. */
function prepare(cloud: SimulatedCloud): void {
  setPatchingSettings(cloud, { rebootMs: 40 }); // status checks initialize for 40 ms after a boot
  const tags = { "reflex:managed": "true" };
  const src = cloud.addInstance({
    name: "app-1",
    instanceType: "m5.large",
    volumeSizes: [8, 20, 30],
    tags,
    availabilityZone: "us-east-1b",
  });
  const volumes = (src.BlockDeviceMappings ?? []).map((m) => m.Ebs?.VolumeId as string);
  const newSet = volumes.map((volumeId, i) => {
    cloud.writeVolume(volumeId, `backup-${i}`.padEnd(64, "0").replace(/[^0-9a-f]/g, "b"));
    return cloud.addSnapshot({
      volumeId,
      state: "completed",
      startTime: Date.now() - 2 * HOUR,
      tags: {
        ...tags,
        "reflex:runbook": "backup-snapshot",
        "reflex:execution-id": "backup-1",
        "reflex:source-instance": src.InstanceId as string,
        "reflex:source-volume": volumeId,
        "reflex:device": DEVICES[i],
        "reflex:image-id": src.ImageId as string,
        "reflex:instance-type": "m5.large",
        "reflex:availability-zone": "us-east-1b",
        "reflex:subnet-id": src.SubnetId as string,
        "reflex:root-device": "/dev/xvda",
      },
    }).SnapshotId as string;
  });
  for (const v of volumes) cloud.writeVolume(v, "f".repeat(64)); // today's data: not what comes back
  const isolated = cloud.addSubnet({ availabilityZone: "us-east-1b", name: "drills" }).SubnetId;
  fx = { source: src.InstanceId as string, sourceSubnet: src.SubnetId as string, isolated, newSet };
}

const drill = (name: string, subnetId: () => string) => ({
  name,
  source: { instanceId: fx.source },
  isolate: { subnetId: subnetId(), securityGroupIds: [SG] },
  targets: { rtoMinutes: 30, rpoMinutes: 180 },
});

let s: SimulationSession;
beforeAll(async () => {
  s = await openSimulation(restore, {
    setup: prepare,
    config: () => ({
      drills: [drill("app-1-new", () => fx.isolated), drill("beside-source", () => fx.sourceSubnet)],
    }),
  });
}, 60_000);
afterAll(() => s?.close());

const ofRun = (sim: Simulation, tags: Array<{ Key?: string; Value?: string }> | undefined) =>
  tags?.some((t) => t.Key === "reflex:restore-execution" && t.Value === sim.run.id);
const instancesOf = (sim: Simulation) =>
  s.cloud.instances().filter((i) => ofRun(sim, i.Tags) && i.State?.Name !== "terminated");
const volumesOf = (sim: Simulation) => s.cloud.volumes().filter((v) => ofRun(sim, v.Tags));
const ops = (sim: Simulation, op: string) => mutatingCalls(sim).filter((c) => c.operation === op && !c.error);
const target = () => ({ subnetId: fx.isolated, securityGroupIds: [SG] });
const start = (params: object) =>
  fetch(`${s.url}/api/runbooks/restore/executions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-reflex-actor": "cli:test" },
    body: JSON.stringify({ params, dryRun: false }),
  });

describe("restore side by side as a new instance", () => {
  it("plans the launch in a dry-run and makes no mutating call", async () => {
    const sim = await s.run({ source: { instanceId: fx.source }, target: target() }, { dryRun: true });

    expect(sim.run.status).toBe("SUCCEEDED");
    expect(mutatingCalls(sim)).toEqual([]);
    expect(sim.outcome.summary).toMatch(
      /would create 3 volume\(s\) in us-east-1b .* launch a new m5\.large from ami-\w+ in subnet-\w+ \(no public address/,
    );
  });

  it("launches an instance from the backup's AMI in the target subnet, stopped, swaps in the restored volumes at their devices, starts it: running, status ok, the backup's data", async () => {
    const sim = await s.run({ source: { instanceId: fx.source }, target: target() });

    expect(sim.run.status).toBe("SUCCEEDED");
    expect(callsOutsidePermissions(sim)).toEqual([]);
    const [launched] = instancesOf(sim);
    expect(instancesOf(sim)).toHaveLength(1);
    expect(launched).toMatchObject({
      State: { Name: "running" },
      SubnetId: fx.isolated,
      InstanceType: "m5.large",
      SecurityGroups: [{ GroupId: SG }],
    });
    expect(launched.PublicIpAddress).toBeUndefined();
    expect(launched.IamInstanceProfile).toBeUndefined();
    expect(launched.Tags).toContainEqual({ Key: "reflex:restore-of", Value: fx.source });
    expect(launched.Tags).toContainEqual({ Key: "reflex:managed", Value: "true" });
    const [run] = ops(sim, "RunInstances");
    expect(run.input).toMatchObject({
      NetworkInterfaces: [{ SubnetId: fx.isolated, Groups: [SG], AssociatePublicIpAddress: false }],
    });
    expect((run.input as { IamInstanceProfile?: unknown }).IamInstanceProfile).toBeUndefined();
    // Stopped after the launch, started on the restored volumes.
    expect(ops(sim, "StopInstances")).toHaveLength(1);
    expect(ops(sim, "StartInstances")).toHaveLength(1);
    // Its devices are the restored volumes, each holding its snapshot's data; the launched root is gone.
    const devices = Object.fromEntries(
      (launched.BlockDeviceMappings ?? []).map((m) => [m.DeviceName, m.Ebs?.VolumeId as string]),
    );
    expect(Object.keys(devices).sort()).toEqual([...DEVICES].sort());
    for (const [i, snapshotId] of fx.newSet.entries()) {
      const v = s.cloud.volumes().find((x) => x.VolumeId === devices[DEVICES[i]]);
      expect(v?.SnapshotId).toBe(snapshotId);
      expect(s.cloud.volumeMarker(devices[DEVICES[i]])).toBe(s.cloud.snapshotMarker(snapshotId));
    }
    expect(ops(sim, "DeleteVolume")).toHaveLength(1); // the launched root
    expect(volumesOf(sim)).toHaveLength(3);
    const v = sim.run.result?.verification as Verification;
    expect(v.passed).toBe(true);
    expect(v.instanceId).toBe(launched.InstanceId);
    expect(Object.keys(v.phases)).toEqual([
      "plan",
      "volumes",
      "launch",
      "swap",
      "running",
      "statusChecks",
      "verify",
    ]);
    expect(Object.values(v.phases).reduce((a, b) => a + b, 0)).toBe(v.rtoMs);
    // It asked for the status checks once the restored instance ran, and verified after they passed.
    const started = ops(sim, "StartInstances")[0].seq;
    expect(sim.calls.some((c) => c.operation === "DescribeInstanceStatus" && c.seq > started)).toBe(true);
    expect(v.phases.statusChecks).toBeGreaterThanOrEqual(0);
    // The checksum read on the new instance is the snapshots' data.
    for (const [i, snapshotId] of fx.newSet.entries())
      expect(sim.outcome.targets.find((t) => t.id === devices[DEVICES[i]])?.details?.sha256).toBe(
        s.cloud.snapshotMarker(snapshotId),
      );
  });

  it("finds every restored volume in place past DescribeVolumes' first page (the account answering 2 a page)", async () => {
    // 3 restored volumes and the launched root: 4 ids, over 2 pages.
    const pageSize = (n: number) =>
      s.cloud.withRegion(undefined, (ctx) => {
        ctx.settings.pageSize = n;
      });
    pageSize(2);
    let sim: Simulation;
    try {
      sim = await s.run({ source: { instanceId: fx.source }, target: target() });
    } finally {
      pageSize(5);
    }

    expect(sim.run.status, `${sim.run.error}: ${sim.run.cause}`).toBe("SUCCEEDED");
    const [launched] = instancesOf(sim);
    const devices = (launched?.BlockDeviceMappings ?? []).map((m) => m.DeviceName).sort();
    expect(devices).toEqual([...DEVICES].sort());
    expect((sim.run.result?.verification as Verification | undefined)?.passed).toBe(true);
  });

  it("terminates the instance and deletes every volume when it fails after the launch", async () => {
    s.cloud.injectFault({
      service: "ec2",
      operation: "AttachVolume",
      kind: "error",
      code: "InvalidParameterValue",
      times: 1,
      match: (input: { Device?: string }) => input.Device === "/dev/sdg",
    });
    const sim = await s.run({ source: { instanceId: fx.source }, target: target() });

    expect(sim.run.status).toBe("FAILED");
    expect(sim.run.error).toBe("RestoreFailed");
    expect(ops(sim, "RunInstances")).toHaveLength(1);
    expect(ops(sim, "TerminateInstances")).toHaveLength(1);
    expect(instancesOf(sim)).toEqual([]);
    expect(volumesOf(sim)).toEqual([]);
    expect(sim.outcome.summary).toMatch(
      /the instance it launched \(i-\w+\) was terminated and the \d volume/,
    );
  });

  it("runs a drill into isolate.subnetId: RTO by phase, then nothing left (0 instances, 0 volumes)", async () => {
    const sim = await s.run({ drill: "app-1-new" });

    expect(sim.run.status).toBe("SUCCEEDED");
    expect(instancesOf(sim)).toEqual([]);
    expect(volumesOf(sim)).toEqual([]);
    expect(
      s.cloud
        .instances()
        .filter((i) => i.Tags?.some((t) => t.Key === "reflex:drill") && i.State?.Name !== "terminated"),
    ).toEqual([]);
    const row = drillRow(sim.run as Parameters<typeof drillRow>[0]);
    expect(row.verdict).toBe("met");
    expect(Object.keys(row.phasesMinutes as object)).toEqual([
      "plan",
      "volumes",
      "launch",
      "swap",
      "running",
      "statusChecks",
      "verify",
    ]);
    expect(row.cleanup).toMatch(/torn down: 1 instance\(s\) terminated, 3 volume\(s\) deleted/);
  });

  it("refuses a drill whose isolate is the source's own subnet, before anything is written (400)", async () => {
    const mark = s.cloud.lastCallSeq;
    const res = await start({ drill: "beside-source" });
    const body = (await res.json()) as { error: { code: string; message: string; path?: string } };

    expect(res.status).toBe(400);
    expect(body.error).toMatchObject({ code: "SourceSubnet", path: "drill" });
    expect(body.error.message).toMatch(
      /drills\.beside-source\.isolate\.subnetId subnet-\w+ is the subnet of/,
    );
    expect(s.cloud.calls.filter((c) => c.seq > mark && c.mutating)).toEqual([]);
  });

  it("the reconciler's sweep of a lost drill terminates its instances, one that lost its tag found by the recorded id and named loudly", async () => {
    const ec2 = (op: string, input: object) => s.cloud.invoke("ec2", "us-east-1", op, input) as Promise<any>;
    const launchOne = async () =>
      (
        await ec2("RunInstances", {
          ImageId: "ami-0c02fb55956c7d316",
          MinCount: 1,
          MaxCount: 1,
          NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: fx.isolated, AssociatePublicIpAddress: false }],
          TagSpecifications: [
            {
              ResourceType: "instance",
              Tags: [
                { Key: "reflex:managed", Value: "true" },
                { Key: "reflex:drill", Value: "app-1-new" },
                { Key: "reflex:restore-execution", Value: "lost-drill-1" },
              ],
            },
          ],
        })
      ).Instances[0].InstanceId as string;
    const tagged = await launchOne();
    const recorded = await launchOne();
    await ec2("DeleteTags", { Resources: [recorded], Tags: [{ Key: "reflex:restore-execution" }] });

    const swept = await sweepLost({
      id: "lost-drill-1",
      params: { drill: "app-1-new" },
      result: { launched: recorded, plan: { region: "us-east-1" } },
    });

    expect(swept.instances).toMatchObject({ done: true, untagged: [recorded] });
    expect(swept.instances?.terminated.sort()).toEqual([tagged, recorded].sort());
    for (const id of [tagged, recorded]) expect(s.cloud.instance(id)?.State?.Name).toBe("terminated");
    expect(swept.left).toEqual([]);
    expect(swept.note).toMatch(new RegExp(`LOUD: instance ${recorded} had lost the run's tag`));
  });

  it("refuses a drill when maxDrillInstances (5) drill instances exist, counted from the cloud by tag (409)", async () => {
    for (let i = 0; i < 5; i++)
      s.cloud.addInstance({
        name: `drill-${i}`,
        tags: { "reflex:drill": "other", "reflex:managed": "true" },
      });
    const res = await start({ drill: "app-1-new" });
    const body = (await res.json()) as { error: { code: string; message: string; path?: string } };

    expect(res.status).toBe(409);
    expect(body.error.code).toBe("DrillInstanceCap");
    expect(body.error.message).toMatch(/5 drill instance\(s\) exist .* maxDrillInstances is 5/);
  });
});
