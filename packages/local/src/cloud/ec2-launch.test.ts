/** The simulated RunInstances a side-by-side restore uses: subnets, no public address, tags on create, boot status checks. */
import { describe, expect, it } from "vitest";
import { cloudOnAClock, code } from "../../../../test/support/cloud.ts";
import { SimulatedCloud } from "./index.ts";
import { setPatchingSettings } from "./patching-helpers.ts";

function setup() {
  const clocked = cloudOnAClock({ stateTransitionMs: 100 });
  const { cloud } = clocked;
  setPatchingSettings(cloud, { rebootMs: 1000 });
  return {
    ...clocked,
  };
}

const launch = (subnetId: string, extra: object = {}) => ({
  ImageId: "ami-0c02fb55956c7d316",
  InstanceType: "m5.large",
  MinCount: 1,
  MaxCount: 1,
  NetworkInterfaces: [
    { DeviceIndex: 0, SubnetId: subnetId, Groups: ["sg-0123456789abcdef0"], AssociatePublicIpAddress: false },
  ],
  TagSpecifications: [
    { ResourceType: "instance", Tags: [{ Key: "reflex:managed", Value: "true" }] },
    { ResourceType: "volume", Tags: [{ Key: "reflex:restore-execution", Value: "run-1" }] },
  ],
  ...extra,
});

describe("simulated RunInstances", () => {
  it("launches into the subnet's zone with its security groups, no public address, tagged on create (instance and root volume)", async () => {
    const { cloud, ec2, advance } = setup();
    const subnet = cloud.addSubnet({ availabilityZone: "us-east-1c", name: "isolated" });

    const out = await ec2("RunInstances", launch(subnet.SubnetId, { ClientToken: "t1" }));
    const [i] = out.Instances;

    expect(i).toMatchObject({
      State: { Name: "pending" },
      SubnetId: subnet.SubnetId,
      Placement: { AvailabilityZone: "us-east-1c" },
      SecurityGroups: [{ GroupId: "sg-0123456789abcdef0" }],
      InstanceType: "m5.large",
    });
    expect(i.PublicIpAddress).toBeUndefined();
    expect(i.IamInstanceProfile).toBeUndefined();
    expect(SimulatedCloud.tag(i, "reflex:managed")).toBe("true");
    const root = cloud.volumes().find((v) => v.VolumeId === i.BlockDeviceMappings[0].Ebs.VolumeId);
    expect(SimulatedCloud.tag(root ?? {}, "reflex:restore-execution")).toBe("run-1");
    // The same ClientToken answers the same instance.
    expect(
      (await ec2("RunInstances", launch(subnet.SubnetId, { ClientToken: "t1" }))).Instances[0].InstanceId,
    ).toBe(i.InstanceId);
    expect(cloud.instances().filter((x) => x.SubnetId === subnet.SubnetId)).toHaveLength(1);

    // Status checks initialize after the boot, then pass; a stop and a start boot again.
    advance(100);
    const status = async () =>
      (await ec2("DescribeInstanceStatus", { InstanceIds: [i.InstanceId] })).InstanceStatuses[0]
        ?.InstanceStatus?.Status;
    expect(await status()).toBe("initializing");
    advance(1000);
    expect(await status()).toBe("ok");
    await ec2("StopInstances", { InstanceIds: [i.InstanceId] });
    advance(100);
    expect(cloud.instance(i.InstanceId)?.State?.Name).toBe("stopped");
    await ec2("StartInstances", { InstanceIds: [i.InstanceId] });
    advance(100);
    expect(await status()).toBe("initializing");
    advance(1000);
    expect(await status()).toBe("ok");
  });

  it("gives a public address where the subnet maps one (a zone's default subnet) unless the interface says no", async () => {
    const { cloud, ec2, advance } = setup();
    const [src] = [cloud.addInstance({ availabilityZone: "us-east-1a" })];
    const open = src.SubnetId as string;

    const plain = (
      await ec2("RunInstances", {
        ImageId: "ami-0c02fb55956c7d316",
        MinCount: 1,
        MaxCount: 1,
        SubnetId: open,
      })
    ).Instances[0];
    const closed = (await ec2("RunInstances", launch(open))).Instances[0];
    advance(100);

    expect(cloud.instance(plain.InstanceId)?.PublicIpAddress).toMatch(/^54\./);
    expect(cloud.instance(closed.InstanceId)?.PublicIpAddress).toBeUndefined();
  });

  it("refuses what EC2 refuses: an unknown subnet, a malformed AMI, a subnet both ways, a zone the subnet is not in", async () => {
    const { cloud, ec2 } = setup();
    const subnet = cloud.addSubnet({ availabilityZone: "us-east-1a" });

    expect(await code(ec2("RunInstances", launch("subnet-0123456789abcdef0")))).toBe(
      "InvalidSubnetID.NotFound",
    );
    expect(await code(ec2("RunInstances", launch(subnet.SubnetId, { ImageId: "ami-1" })))).toBe(
      "InvalidAMIID.Malformed",
    );
    expect(await code(ec2("RunInstances", launch(subnet.SubnetId, { SubnetId: subnet.SubnetId })))).toBe(
      "InvalidParameterCombination",
    );
    expect(
      await code(
        ec2("RunInstances", launch(subnet.SubnetId, { Placement: { AvailabilityZone: "us-east-1b" } })),
      ),
    ).toBe("InvalidParameterValue");
    expect(cloud.mutatingCalls().filter((c) => !c.error)).toEqual([]);
  });
});
