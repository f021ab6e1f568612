/** The simulated EC2 volume API a restore uses: states on the clock, EC2's errors, the data marker carried through snapshots. */
import { describe, expect, it } from "vitest";
import { cloudOnAClock, code } from "../../../../test/support/cloud.ts";
import { fastRestoreCredits } from "./ec2-volumes.ts";

function setup() {
  const clocked = cloudOnAClock({
    volumeCreateMs: 1000,
    volumeCreatePerGiBMs: 10,
    volumeAttachMs: 500,
    snapshotDurationMs: 100,
  });
  const { cloud } = clocked;
  const app = cloud.addInstance({ name: "app", volumeSizes: [8, 100], availabilityZone: "us-east-1a" });
  const scratch = cloud.addInstance({ name: "scratch", availabilityZone: "us-east-1a" });
  const elsewhere = cloud.addInstance({ name: "other-zone", availabilityZone: "us-east-1b" });
  const data = app.BlockDeviceMappings?.[1]?.Ebs?.VolumeId as string;
  return {
    ...clocked,
    data,
    scratch: scratch.InstanceId as string,
    elsewhere: elsewhere.InstanceId as string,
  };
}

describe("simulated EC2 volumes", () => {
  it("makes a volume from a completed snapshot: creating for its size, then available, holding the snapshot's data", async () => {
    const { cloud, ec2, data, advance } = setup();
    cloud.writeVolume(data, "a".repeat(64));
    const snap = await ec2("CreateSnapshot", { VolumeId: data });
    cloud.writeVolume(data, "b".repeat(64)); // written after the snapshot
    expect(
      await code(ec2("CreateVolume", { SnapshotId: snap.SnapshotId, AvailabilityZone: "us-east-1a" })),
    ).toBe(
      "IncorrectState", // still pending
    );
    advance(100);

    const v = await ec2("CreateVolume", {
      SnapshotId: snap.SnapshotId,
      AvailabilityZone: "us-east-1a",
      ClientToken: "t1",
    });
    expect(v).toMatchObject({ State: "creating", Size: 100, SnapshotId: snap.SnapshotId });
    advance(1000 + 100 * 10 - 1);
    expect((await ec2("DescribeVolumes", { VolumeIds: [v.VolumeId] })).Volumes[0].State).toBe("creating");
    advance(1);
    expect((await ec2("DescribeVolumes", { VolumeIds: [v.VolumeId] })).Volumes[0].State).toBe("available");
    expect(cloud.volumeMarker(v.VolumeId)).toBe("a".repeat(64));
    // The same ClientToken answers the same volume, as EC2 does.
    expect(
      (
        await ec2("CreateVolume", {
          SnapshotId: snap.SnapshotId,
          AvailabilityZone: "us-east-1a",
          ClientToken: "t1",
        })
      ).VolumeId,
    ).toBe(v.VolumeId);
  });

  it("refuses what EC2 refuses: a zone of another region, a size below the snapshot's, an unknown snapshot", async () => {
    const { ec2, data, advance } = setup();
    const snap = await ec2("CreateSnapshot", { VolumeId: data });
    advance(100);

    expect(
      await code(ec2("CreateVolume", { SnapshotId: snap.SnapshotId, AvailabilityZone: "eu-west-1a" })),
    ).toBe("InvalidParameterValue");
    expect(
      await code(
        ec2("CreateVolume", { SnapshotId: snap.SnapshotId, AvailabilityZone: "us-east-1a", Size: 50 }),
      ),
    ).toBe("InvalidParameterValue");
    expect(
      await code(
        ec2("CreateVolume", { SnapshotId: "snap-0123456789abcdef0", AvailabilityZone: "us-east-1a" }),
      ),
    ).toBe("InvalidSnapshot.NotFound");
    expect(await code(ec2("CreateVolume", { SnapshotId: snap.SnapshotId }))).toBe("MissingParameter");
  });

  it("attaches only an available volume, in its zone, at a free device; detaches; deletes only a detached one", async () => {
    const { cloud, ec2, data, scratch, elsewhere, advance } = setup();
    const snap = await ec2("CreateSnapshot", { VolumeId: data });
    advance(100);
    const v = await ec2("CreateVolume", { SnapshotId: snap.SnapshotId, AvailabilityZone: "us-east-1a" });
    const attach = (InstanceId: string, Device: string) =>
      ec2("AttachVolume", { VolumeId: v.VolumeId, InstanceId, Device });

    expect(await code(attach(scratch, "/dev/sdf"))).toBe("IncorrectState"); // creating
    expect(await code(ec2("DeleteVolume", { VolumeId: v.VolumeId }))).toBe("IncorrectState");
    advance(2000);
    expect(await code(attach(elsewhere, "/dev/sdf"))).toBe("InvalidVolume.ZoneMismatch");
    expect(await code(attach(scratch, "/dev/xvda"))).toBe("InvalidParameterValue"); // its root is there
    expect((await attach(scratch, "/dev/sdf")).State).toBe("attaching");
    expect(await code(ec2("DeleteVolume", { VolumeId: v.VolumeId }))).toBe("VolumeInUse");
    advance(500);
    const attached = (await ec2("DescribeVolumes", { VolumeIds: [v.VolumeId] })).Volumes[0];
    expect(attached.Attachments[0]).toMatchObject({
      InstanceId: scratch,
      Device: "/dev/sdf",
      State: "attached",
    });
    expect(cloud.instance(scratch)?.BlockDeviceMappings?.map((m) => m.DeviceName)).toEqual([
      "/dev/xvda",
      "/dev/sdf",
    ]);

    expect((await ec2("DetachVolume", { VolumeId: v.VolumeId })).State).toBe("detaching");
    advance(500);
    expect((await ec2("DescribeVolumes", { VolumeIds: [v.VolumeId] })).Volumes[0].State).toBe("available");
    expect(cloud.instance(scratch)?.BlockDeviceMappings).toHaveLength(1);
    expect(await code(ec2("DetachVolume", { VolumeId: v.VolumeId }))).toBe("IncorrectState");
    expect(await code(ec2("DeleteVolume", { VolumeId: v.VolumeId }))).toBe("ok");
    expect(await code(ec2("DeleteVolume", { VolumeId: v.VolumeId }))).toBe("InvalidVolume.NotFound");
  });
});

describe("simulated fast snapshot restore", () => {
  it("gives credits by AWS's formula: 128 GiB fills 8 an hour into a bucket of 8; 4 TiB a bucket of 1", () => {
    expect(fastRestoreCredits(128)).toEqual({ bucketSize: 8, perHour: 8 });
    expect(fastRestoreCredits(4096)).toEqual({ bucketSize: 1, perHour: 0.25 });
    expect(fastRestoreCredits(8)).toEqual({ bucketSize: 10, perHour: 10 });
  });

  it("goes enabling → optimizing (60 min per TiB) → enabled per snapshot and zone; names an unknown snapshot", async () => {
    const { ec2, data, advance } = setup(); // a 100 GiB volume
    const snap = await ec2("CreateSnapshot", { VolumeId: data });
    const state = async () =>
      (
        await ec2("DescribeFastSnapshotRestores", {
          Filters: [{ Name: "snapshot-id", Values: [snap.SnapshotId] }],
        })
      ).FastSnapshotRestores.map(
        (r: { AvailabilityZone: string; State: string }) => `${r.AvailabilityZone}:${r.State}`,
      );

    const out = await ec2("EnableFastSnapshotRestores", {
      AvailabilityZones: ["us-east-1a", "us-east-1b"],
      SourceSnapshotIds: [snap.SnapshotId, "snap-0123456789abcdef0"],
    });
    expect(out.Successful).toHaveLength(2);
    expect(out.Unsuccessful[0].SnapshotId).toBe("snap-0123456789abcdef0");
    expect(await state()).toEqual(["us-east-1a:enabling", "us-east-1b:enabling"]);
    advance(60_000);
    expect(await state()).toEqual(["us-east-1a:optimizing", "us-east-1b:optimizing"]);
    advance((100 / 1024) * 3_600_000);
    expect(await state()).toEqual(["us-east-1a:enabled", "us-east-1b:enabled"]);
    await ec2("DisableFastSnapshotRestores", {
      AvailabilityZones: ["us-east-1b"],
      SourceSnapshotIds: [snap.SnapshotId],
    });
    expect(await state()).toEqual(["us-east-1a:enabled", "us-east-1b:disabling"]);
    advance(60_000);
    expect(await state()).toEqual(["us-east-1a:enabled"]);
  });
});
