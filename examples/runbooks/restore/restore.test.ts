/** restore through the test kit: the local engine, a seeded simulated account with a Reflex backup of a 3-volume instance. */
import type { SimulatedCloud } from "@reflex/local/cloud/index";
import {
  callsOutsidePermissions,
  manageWithSsm,
  mutatingCalls,
  type Simulation,
  simulate,
  unfinishedTargets,
} from "@reflex/sdk/testing";
import { describe, expect, it } from "vitest";
import { restore } from "./index.ts";
import { choose, type Verification } from "./steps.ts";

const HOUR = 3_600_000;
const DEVICES = ["/dev/xvda", "/dev/sdf", "/dev/sdg"];

interface Fixture {
  source: string;
  scratch: string;
  volumes: string[];
  /** The backup 2 h ago (backup-new) and 26 h ago (backup-old): snapshot ids by device. */
  newSet: string[];
  oldSet: string[];
}

/** app-1 with three volumes, two Reflex backup runs of it (the data changed after each), and a scratch instance in its zone. */
function prepare(cloud: SimulatedCloud): Fixture {
  const tags = { "reflex:managed": "true" };
  const src = cloud.addInstance({
    name: "app-1",
    volumeSizes: [8, 20, 30],
    tags,
    availabilityZone: "us-east-1b",
  });
  const scratch = cloud.addInstance({ name: "scratch-1", tags, availabilityZone: "us-east-1b" });
  manageWithSsm(cloud, [scratch.InstanceId as string]);
  const volumes = (src.BlockDeviceMappings ?? []).map((m) => m.Ebs?.VolumeId as string);
  const backup = (run: string, ago: number) =>
    volumes.map((volumeId, i) => {
      cloud.writeVolume(volumeId, `${run}-${i}`.padEnd(64, "0").replace(/[^0-9a-f]/g, "a"));
      return cloud.addSnapshot({
        volumeId,
        state: "completed",
        startTime: Date.now() - ago,
        tags: {
          ...tags,
          "reflex:runbook": "backup-snapshot",
          "reflex:execution-id": run,
          "reflex:source-instance": src.InstanceId as string,
          "reflex:source-volume": volumeId,
          "reflex:device": DEVICES[i],
        },
      }).SnapshotId as string;
    });
  const oldSet = backup("backup-old", 26 * HOUR);
  const newSet = backup("backup-new", 2 * HOUR);
  // Written after the last backup: what a restore must not bring back.
  for (const v of volumes) cloud.writeVolume(v, "f".repeat(64));
  return { source: src.InstanceId as string, scratch: scratch.InstanceId as string, volumes, newSet, oldSet };
}

let fx: Fixture;
const setup = (cloud: SimulatedCloud) => {
  fx = prepare(cloud);
};
const leftovers = (s: Simulation) =>
  s.cloud.volumes().filter((v) => v.Tags?.some((t) => t.Key === "reflex:restore-execution"));
const verification = (s: Simulation) => s.run.result?.verification as Verification;

describe("restore", () => {
  it("plans in a dry-run (snapshots, zone, devices, RPO) and makes no mutating call", async () => {
    const s = await simulate(restore, {
      setup,
      params: () => ({ source: { instanceId: fx.source }, attachTo: { instanceId: fx.scratch } }),
      dryRun: true,
    });

    expect(s.run.status).toBe("SUCCEEDED");
    expect(mutatingCalls(s)).toEqual([]);
    // Each snapshot of the newest set, with the device it was backed up from.
    expect(Object.fromEntries(s.outcome.targets.map((t) => [t.id, t.details?.device]))).toEqual(
      Object.fromEntries(fx.newSet.map((id, i) => [id, DEVICES[i]])),
    );
    expect(s.outcome.summary).toMatch(
      /would create 3 volume\(s\) in us-east-1b .*attached to i-.*; RPO 12\d(\.\d+)? min/,
    );
  });

  it("restores the newest backup set of an instance, attached to a scratch instance: the data is the backup's, not today's", async () => {
    const s = await simulate(restore, {
      setup,
      params: () => ({ source: { instanceId: fx.source }, attachTo: { instanceId: fx.scratch } }),
    });

    expect(s.run.status).toBe("SUCCEEDED");
    expect(unfinishedTargets(s)).toEqual([]);
    expect(callsOutsidePermissions(s)).toEqual([]);
    const restored = leftovers(s);
    expect(restored).toHaveLength(3);
    for (const [i, snapshotId] of fx.newSet.entries()) {
      const v = restored.find((x) => x.SnapshotId === snapshotId);
      expect(v?.AvailabilityZone).toBe("us-east-1b");
      expect(v?.Attachments?.[0]?.InstanceId).toBe(fx.scratch);
      expect(v?.Tags?.find((t) => t.Key === "reflex:device")?.Value).toBe(DEVICES[i]);
      const marker = s.cloud.volumeMarker(v?.VolumeId as string);
      expect(marker).toBe(s.cloud.snapshotMarker(snapshotId));
      expect(marker).not.toBe(s.cloud.volumeMarker(fx.volumes[i])); // today's data differs
      // The checksum SSM read on the scratch instance is the snapshot's data.
      expect(s.outcome.targets.find((t) => t.id === v?.VolumeId)?.details?.sha256).toBe(marker);
    }
    const v = verification(s);
    expect(v.passed).toBe(true);
    expect(v.rpoMs).toBeGreaterThanOrEqual(2 * HOUR);
    expect(v.rpoMs).toBeLessThan(2 * HOUR + 10 * 60_000);
    expect(v.rtoMs).toBe(v.phases.plan + v.phases.volumes + v.phases.attach + v.phases.verify);
    expect(s.outcome.summary).toMatch(/3 volume\(s\) restored and verified; RTO .* min \(plan .*\); RPO/);
  });

  it("picks the newest backup at or before the incident time", async () => {
    const s = await simulate(restore, {
      setup,
      params: () => ({
        source: { instanceId: fx.source, at: new Date(Date.now() - 3 * HOUR).toISOString() },
      }),
    });

    expect(s.run.status).toBe("SUCCEEDED");
    expect(
      leftovers(s)
        .map((v) => v.SnapshotId)
        .sort(),
    ).toEqual([...fx.oldSet].sort());
    // Unattached: each volume available in the source volume's zone.
    expect(leftovers(s).every((v) => v.State === "available" && v.AvailabilityZone === "us-east-1b")).toBe(
      true,
    );
  });

  it("refuses a snapshot Reflex's backup did not make before the run starts (admission's precheck, 400 NotReflexBackup)", async () => {
    let cloudOf: SimulatedCloud | undefined;
    const started = simulate(restore, {
      setup: (cloud) => {
        cloudOf = cloud;
        setup(cloud);
        cloud.addSnapshot({ volumeId: fx.volumes[0], state: "completed", tags: { Name: "manual" } });
      },
      params: (cloud) => ({
        source: { snapshotId: cloud.snapshots().find((x) => x.Tags?.[0]?.Value === "manual")?.SnapshotId },
      }),
    });

    await expect(started).rejects.toThrow(
      /not started: NotReflexBackup: snapshot snap-\w+ was not made by Reflex's backup/,
    );
    expect(cloudOf?.mutatingCalls()).toEqual([]);
  });

  it("deletes every volume it made when it fails part-way (the second attach refused), and fails", async () => {
    const s = await simulate(restore, {
      setup,
      params: () => ({ source: { instanceId: fx.source }, attachTo: { instanceId: fx.scratch } }),
      faults: [
        {
          service: "ec2",
          operation: "AttachVolume",
          kind: "error",
          code: "InvalidParameterValue",
          times: 1,
          match: (input: { Device?: string }) => input.Device === "/dev/sdg",
        },
      ],
    });

    expect(s.run.status).toBe("FAILED");
    expect(s.run.error).toBe("RestoreFailed");
    expect(leftovers(s)).toEqual([]);
    const ops = mutatingCalls(s)
      .filter((c) => !c.error)
      .map((c) => c.operation);
    expect(ops.filter((o) => o === "CreateVolume")).toHaveLength(3);
    expect(ops.filter((o) => o === "DetachVolume")).toHaveLength(1);
    expect(ops.filter((o) => o === "DeleteVolume")).toHaveLength(3);
    expect(unfinishedTargets(s)).toEqual([]);
    expect(s.outcome.summary).toMatch(
      /restore failed .*InvalidParameterValue.*the 3 volume\(s\) it created were deleted/,
    );
    // The scratch instance has its own root volume again, nothing more.
    expect(s.cloud.instance(fx.scratch)?.BlockDeviceMappings).toHaveLength(1);
  });

  it("a volume that cannot be made (EC2's volume limit) fails the run, and the ones it made are deleted", async () => {
    const s = await simulate(restore, {
      setup,
      params: () => ({ source: { instanceId: fx.source } }),
      faults: [
        {
          service: "ec2",
          operation: "CreateVolume",
          kind: "error",
          code: "VolumeLimitExceeded",
          // The root volume's snapshot: made last (volumes go in device order, /dev/xvda after /dev/sd*).
          match: (input: { SnapshotId?: string }) => input.SnapshotId === fx.newSet[0],
        },
      ],
    });

    expect(s.run.status).toBe("FAILED");
    expect(leftovers(s)).toEqual([]);
    const made = mutatingCalls(s).filter((c) => c.operation === "CreateVolume" && !c.error);
    const deleted = mutatingCalls(s).filter((c) => c.operation === "DeleteVolume" && !c.error);
    expect(made).toHaveLength(2);
    expect(deleted).toHaveLength(2);
    expect(s.outcome.summary).toMatch(/VolumeLimitExceeded.*the 2 volume\(s\) it created were deleted/);
  });

  it("runs a drill from the config: restores into the scratch instance, verifies, meets its targets and leaves nothing", async () => {
    const s = await simulate(restore, {
      setup,
      config: () => ({
        drills: [
          {
            name: "app-1",
            source: { instanceId: fx.source },
            isolate: { instanceId: fx.scratch },
            targets: { rtoMinutes: 30, rpoMinutes: 180 },
          },
        ],
      }),
      params: { drill: "app-1" },
    });

    expect(s.run.status).toBe("SUCCEEDED");
    const v = verification(s);
    expect(v.passed).toBe(true);
    expect(v.targets).toMatchObject({ rto: "met", rpo: "met" });
    expect(leftovers(s)).toEqual([]);
    const made = mutatingCalls(s).filter((c) => c.operation === "CreateVolume");
    const deleted = mutatingCalls(s).filter((c) => c.operation === "DeleteVolume" && !c.error);
    expect(made).toHaveLength(3);
    expect(deleted).toHaveLength(3);
    expect(s.cloud.instance(fx.scratch)?.BlockDeviceMappings).toHaveLength(1);
    expect(s.outcome.summary).toMatch(
      /^drill app-1: 3 volume\(s\) restored and verified; .*RTO met .*RPO met .*everything it created was deleted/,
    );
  });

  it("a drill whose backup is older than its RPO target is missed (the run fails) and still leaves nothing", async () => {
    const s = await simulate(restore, {
      setup,
      config: () => ({
        drills: [
          {
            name: "app-1",
            source: { instanceId: fx.source },
            isolate: { instanceId: fx.scratch },
            targets: { rtoMinutes: 30, rpoMinutes: 60 },
          },
        ],
      }),
      params: { drill: "app-1" },
    });

    expect(s.run.status).toBe("FAILED");
    expect(s.run.error).toBe("DrillMissed");
    expect(verification(s).targets).toMatchObject({ rto: "met", rpo: "missed" });
    expect(leftovers(s)).toEqual([]);
  });
});

describe("how a drill picks its backup", () => {
  const DAY = 86_400_000;
  const now = Date.parse("2026-12-06T00:00:00Z");
  // Nightly backups, newest first: 0 to 39 days old.
  const backups = Array.from({ length: 40 }, (_, i) => ({ id: `b${i}`, start: now - i * DAY }));
  const start = (b: { start: number }) => b.start;

  it("latest: the newest backup", () => {
    expect(choose(backups, start, now, { pick: "latest", withinDays: 30 })?.id).toBe("b0");
  });

  it("random: over 200 runs every backup within the window is picked, none older", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const picked = new Set(
      Array.from(
        { length: 200 },
        () => choose(backups, start, now, { pick: "random", withinDays: 7 }, random)?.id,
      ),
    );

    expect([...picked].sort()).toEqual(["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"]);
  });
});
