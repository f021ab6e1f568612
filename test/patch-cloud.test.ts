/**
 * The simulated cloud's patching services through the real SDK v3 clients: SSM managed nodes
 * and Run Command outcomes, ELBv2 registration, draining and health, status checks and
 * root-volume replacement — on an injected clock, so every state is checked at a known time.
 */
import {
  CreateReplaceRootVolumeTaskCommand,
  CreateSnapshotCommand,
  DescribeInstanceStatusCommand,
  DescribeReplaceRootVolumeTasksCommand,
  EC2Client,
  RebootInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import {
  DescribeInstanceInformationCommand,
  DescribeInstancePatchStatesCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
} from "@aws-sdk/client-ssm";
import { beforeEach, describe, expect, it } from "vitest";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import {
  addTargetGroup,
  manageWithSsm,
  setPatchingSettings,
  setPatchOutcome,
} from "../packages/local/src/cloud/patching-helpers.ts";

const credentials = { accessKeyId: "local", secretAccessKey: "local" };
let now = Date.parse("2026-11-30T03:00:00Z");
let cloud: SimulatedCloud;
let ssm: SSMClient;
let elb: ElasticLoadBalancingV2Client;
let ec2: EC2Client;
let id: string;

beforeEach(() => {
  now = Date.parse("2026-11-30T03:00:00Z");
  cloud = new SimulatedCloud({ clock: () => now, snapshotDurationMs: 1000 });
  setPatchingSettings(cloud, {
    commandDurationMs: 5000,
    rebootMs: 2000,
    healthCheckMs: 1000,
    replaceRootVolumeMs: 3000,
  });
  id = cloud.addInstance({ name: "app-1" }).InstanceId!;
  manageWithSsm(cloud, [id]);
  ssm = new SSMClient({ region: "us-east-1", credentials });
  elb = new ElasticLoadBalancingV2Client({ region: "us-east-1", credentials });
  ec2 = new EC2Client({ region: "us-east-1", credentials });
  cloud.attach(ssm, "ssm", "us-east-1");
  cloud.attach(elb, "elbv2", "us-east-1");
  cloud.attach(ec2, "ec2", "us-east-1");
});

const ping = async () =>
  (
    await ssm.send(
      new DescribeInstanceInformationCommand({ Filters: [{ Key: "InstanceIds", Values: [id] }] }),
    )
  ).InstanceInformationList?.[0]?.PingStatus;
const install = async () =>
  (
    await ssm.send(
      new SendCommandCommand({
        DocumentName: "AWS-RunPatchBaseline",
        InstanceIds: [id],
        Parameters: { Operation: ["Install"], RebootOption: ["NoReboot"], executionTimeout: ["60"] },
      }),
    )
  ).Command!.CommandId!;
const invocation = async (commandId: string) =>
  ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: id }));

describe("simulated SSM", () => {
  it("reports a managed node Online, and ConnectionLost while it reboots", async () => {
    expect(await ping()).toBe("Online");
    await ec2.send(new RebootInstancesCommand({ InstanceIds: [id] }));
    expect(await ping()).toBe("ConnectionLost");
    now += 2000;
    expect(await ping()).toBe("Online");
  });

  it("runs Install for its duration, then leaves patches pending a reboot until the instance reboots", async () => {
    setPatchOutcome(cloud, id, { result: "reboot" });
    const commandId = await install();
    expect((await invocation(commandId)).Status).toBe("InProgress");
    now += 5000;
    expect((await invocation(commandId)).Status).toBe("Success");
    const states = async () =>
      (await ssm.send(new DescribeInstancePatchStatesCommand({ InstanceIds: [id] }))).InstancePatchStates![0];
    expect(await states()).toMatchObject({ InstalledPendingRebootCount: 3, InstalledCount: 0 });
    await ec2.send(new RebootInstancesCommand({ InstanceIds: [id] }));
    expect(await states()).toMatchObject({ InstalledPendingRebootCount: 0, InstalledCount: 3 });
  });

  it("fails a command with exit code 1, and times one out at its executionTimeout", async () => {
    setPatchOutcome(cloud, id, { result: "failure" });
    const failed = await install();
    now += 5000;
    expect(await invocation(failed)).toMatchObject({ Status: "Failed", ResponseCode: 1 });

    setPatchOutcome(cloud, id, { result: "timeout" });
    const hung = await install();
    now += 59_000;
    expect((await invocation(hung)).Status).toBe("InProgress");
    now += 1000;
    expect(await invocation(hung)).toMatchObject({ Status: "TimedOut", StatusDetails: "ExecutionTimedOut" });
  });

  it("refuses SendCommand to an instance that is not a managed node, and an unknown invocation", async () => {
    const other = cloud.addInstance({ name: "unmanaged" }).InstanceId!;
    await expect(
      ssm.send(new SendCommandCommand({ DocumentName: "AWS-RunPatchBaseline", InstanceIds: [other] })),
    ).rejects.toMatchObject({ name: "InvalidInstanceId" });
    await expect(invocation("nope")).rejects.toMatchObject({ name: "InvocationDoesNotExist" });
  });
});

describe("simulated ELBv2 and EC2 patching operations", () => {
  it("drains a deregistered target for the delay, then forgets it; a registered one is initial, then healthy", async () => {
    const arn = addTargetGroup(cloud, { name: "app", instanceIds: [id], deregistrationDelayMs: 3000 });
    const health = async () =>
      (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn, Targets: [{ Id: id }] })))
        .TargetHealthDescriptions![0].TargetHealth;
    expect((await health())?.State).toBe("healthy");
    await elb.send(new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: id }] }));
    expect(await health()).toMatchObject({ State: "draining", Reason: "Target.DeregistrationInProgress" });
    now += 3000;
    expect(await health()).toMatchObject({ State: "unused", Reason: "Target.NotRegistered" });
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: id }] }));
    expect(await health()).toMatchObject({ State: "initial", Reason: "Elb.RegistrationInProgress" });
    now += 1000;
    expect((await health())?.State).toBe("healthy");
  });

  it("replaces the root volume from a snapshot: pending, in-progress, succeeded; the old volume is kept detached", async () => {
    const root = cloud.instance(id)!.BlockDeviceMappings![0].Ebs!.VolumeId!;
    const snap = (await ec2.send(new CreateSnapshotCommand({ VolumeId: root }))).SnapshotId!;
    await expect(
      ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, SnapshotId: snap })),
    ).rejects.toMatchObject({ name: "IncorrectState" });
    now += 1000;

    const task = (
      await ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, SnapshotId: snap }))
    ).ReplaceRootVolumeTask!;
    const state = async () =>
      (
        await ec2.send(
          new DescribeReplaceRootVolumeTasksCommand({
            ReplaceRootVolumeTaskIds: [task.ReplaceRootVolumeTaskId!],
          }),
        )
      ).ReplaceRootVolumeTasks![0].TaskState;

    expect(await state()).toBe("pending");
    now += 1500;
    expect(await state()).toBe("in-progress");
    const status = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }));
    expect(status.InstanceStatuses![0].InstanceStatus!.Status).toBe("initializing");
    now += 1500;
    expect(await state()).toBe("succeeded");
    const newRoot = cloud.instance(id)!.BlockDeviceMappings![0].Ebs!.VolumeId!;
    expect(newRoot).not.toBe(root);
    expect(cloud.volumes().find((v) => v.VolumeId === newRoot)?.SnapshotId).toBe(snap);
    expect(cloud.volumes().find((v) => v.VolumeId === root)?.State).toBe("available");
  });
});
