/**
 * restore side by side as a new instance: from the backup's manifest (the AMI, instance type,
 * zone, subnet and root device backup-snapshot tags on each snapshot), an instance is launched
 * into a target subnet (a drill's `isolate.subnetId`, or `target.subnetId`) with no public
 * address and no instance profile, tagged on create (`reflex:restore-of`, the run's and the
 * drill's tags, the automation tag); it is stopped, its launched root is swapped for the restored
 * root and the restored data volumes are attached at their devices, the launched root is
 * deleted, and it is started and waited for until running with status checks `ok`.
 *
 * Launch, wait running, then stop (not "launch stopped"): RunInstances cannot launch an instance
 * stopped, and EC2 refuses StopInstances on a `pending` instance (IncorrectInstanceState), so the
 * stop waits for `running`. The instance runs its launched root (the AMI's) for those seconds,
 * in the isolated subnet with no public address.
 *
 * Every move is one call per poll and reads the world first, so a retried or repeated poll never
 * makes a second instance (ClientToken, and the run's tag) nor a second move.
 */
import { createHash } from "node:crypto";
import {
  AttachVolumeCommand,
  DeleteVolumeCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  DetachVolumeCommand,
  EC2Client,
  type Filter,
  type Instance,
  paginateDescribeVolumes,
  RunInstancesCommand,
  type Snapshot,
  StartInstancesCommand,
  StopInstancesCommand,
  type Tag,
  TerminateInstancesCommand,
  type Volume,
} from "@aws-sdk/client-ec2";
import { client, type RunInput, type StepContext, StepExecutionError } from "@reflex/sdk";
import type { RestoreParams } from "./index.ts";
import type { Created, Plan } from "./steps.ts";

const ec2 = (region: string) => client(EC2Client, "ec2", region);
const tagOf = (tags: Tag[] | undefined, key: string) => tags?.find((t) => t.Key === key)?.Value;

/** The manifest tags backup-snapshot puts on each snapshot (and the tag restore puts on what it launches). */
export const LAUNCH_TAGS = {
  image: "reflex:image-id",
  instanceType: "reflex:instance-type",
  zone: "reflex:availability-zone",
  subnet: "reflex:subnet-id",
  rootDevice: "reflex:root-device",
  restoreOf: "reflex:restore-of",
  drill: "reflex:drill",
  execution: "reflex:restore-execution",
} as const;

/** Where a new instance goes: a subnet (its zone decides where the volumes are made) and its security groups. */
export interface LaunchTarget {
  subnetId: string;
  securityGroupIds: string[];
}

/** What the plan fixes for a launch: the manifest's, and the target's. */
export interface Launch extends LaunchTarget {
  sourceInstanceId: string;
  imageId: string;
  instanceType: string;
  rootDevice: string;
  /** The zone of the target subnet: the volumes are made there. */
  availabilityZone: string;
  /** The source instance's subnet: a drill never launches there. */
  sourceSubnetId?: string;
}

/** How many drill instances may exist at once (`maxDrillInstances` in the config). */
export const DEFAULT_MAX_DRILL_INSTANCES = 5;

/** Instances that are not gone: a terminated one no longer counts or bills. */
const LIVE = ["pending", "running", "stopping", "stopped", "shutting-down"];

async function describeInstances(region: string, filters: Filter[]): Promise<Instance[]> {
  const out: Instance[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ec2(region).send(new DescribeInstancesCommand({ Filters: filters, NextToken }));
    out.push(...(page.Reservations ?? []).flatMap((r) => r.Instances ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

/** The drill instances that exist now, counted from the cloud by the `reflex:drill` tag. */
export async function drillInstances(region: string): Promise<string[]> {
  const found = await describeInstances(region, [
    { Name: "tag-key", Values: [LAUNCH_TAGS.drill] },
    { Name: "instance-state-name", Values: LIVE },
  ]);
  return found.map((i) => i.InstanceId as string);
}

/** Refuses a drill when the drill instances alive reach the cap (409 at admission, the plan again). */
export async function checkDrillCap(region: string, config: Record<string, unknown>): Promise<void> {
  const max = (config.maxDrillInstances as number | undefined) ?? DEFAULT_MAX_DRILL_INSTANCES;
  const alive = await drillInstances(region);
  if (alive.length >= max)
    throw new StepExecutionError(
      "DrillInstanceCap",
      `${alive.length} drill instance(s) exist (${alive.slice(0, 5).join(", ")}${alive.length > 5 ? ", …" : ""}), the cap maxDrillInstances is ${max}: wait for a drill to end, or raise maxDrillInstances`,
    );
}

/**
 * The launch a backup set allows: the manifest's AMI, type and root device (from the snapshots'
 * tags; for a backup made before those tags, from the source instance if it still exists), the
 * target subnet's zone. Refuses, naming what is missing, a set it cannot launch from, and a
 * target in the source's own subnet. Read-only.
 */
export async function planLaunch(
  region: string,
  snapshots: Snapshot[],
  target: LaunchTarget,
  where: string,
): Promise<Launch> {
  const first = (key: string) => snapshots.map((s) => tagOf(s.Tags, key)).find((v) => v);
  const sourceInstanceId = first("reflex:source-instance");
  if (!sourceInstanceId)
    throw new StepExecutionError(
      "ManifestIncomplete",
      "the backup does not name its instance (reflex:source-instance): it cannot be launched again as one",
    );
  let imageId = first(LAUNCH_TAGS.image);
  let instanceType = first(LAUNCH_TAGS.instanceType);
  let rootDevice = first(LAUNCH_TAGS.rootDevice);
  let sourceSubnetId = first(LAUNCH_TAGS.subnet);
  if (!imageId || !instanceType || !rootDevice || !sourceSubnetId) {
    // An old backup: what the source instance says now, if it is still there.
    const now = await describeInstances(region, [{ Name: "instance-id", Values: [sourceInstanceId] }]).catch(
      () => [] as Instance[],
    );
    imageId ??= now[0]?.ImageId;
    instanceType ??= now[0]?.InstanceType;
    rootDevice ??= now[0]?.RootDeviceName;
    sourceSubnetId ??= now[0]?.SubnetId;
  }
  const missing = [
    ...(imageId ? [] : [`the AMI (${LAUNCH_TAGS.image})`]),
    ...(instanceType ? [] : [`the instance type (${LAUNCH_TAGS.instanceType})`]),
    ...(rootDevice ? [] : [`the root device (${LAUNCH_TAGS.rootDevice})`]),
  ];
  if (missing.length)
    throw new StepExecutionError(
      "ManifestIncomplete",
      `the backup of ${sourceInstanceId} lacks ${missing.join(", ")} and the instance is gone: it cannot be launched again (restore its volumes without target)`,
    );
  if (sourceSubnetId === target.subnetId)
    throw new StepExecutionError(
      "SourceSubnet",
      `${where}.subnetId ${target.subnetId} is the subnet of the source instance ${sourceInstanceId}: a restore side by side (and a drill) launches into another subnet, never beside the source`,
    );
  if (!snapshots.some((s) => tagOf(s.Tags, "reflex:device") === rootDevice))
    throw new StepExecutionError(
      "NoRootSnapshot",
      `the backup holds no snapshot of ${sourceInstanceId}'s root device ${rootDevice}: an instance cannot be launched from it`,
    );
  let subnet: { AvailabilityZone?: string } | undefined;
  try {
    subnet = (await ec2(region).send(new DescribeSubnetsCommand({ SubnetIds: [target.subnetId] })))
      .Subnets?.[0];
  } catch (err) {
    if ((err as Error).name !== "InvalidSubnetID.NotFound") throw err;
  }
  if (!subnet?.AvailabilityZone)
    throw new StepExecutionError(
      "SubnetNotFound",
      `${where}.subnetId ${target.subnetId} does not exist in ${region}`,
    );
  return {
    ...target,
    sourceInstanceId,
    imageId: imageId as string,
    instanceType: instanceType as string,
    rootDevice: rootDevice as string,
    availabilityZone: subnet.AvailabilityZone,
    ...(sourceSubnetId ? { sourceSubnetId } : {}),
  };
}

export interface Launched {
  instanceId: string;
  /** The root volume it launched with (the AMI's): swapped out and deleted. */
  launchedRootId: string;
}

/** Times of the bring-up, kept across polls: the RTO's launch, swap, running and status-check phases. */
export interface BringUp {
  done: boolean;
  did: string;
  /** The launched instance first seen stopped (the launch phase ends). */
  stoppedAt?: string;
  /** StartInstances asked, the restored volumes in place (the swap phase ends). */
  startedAt?: string;
  runningAt?: string;
  statusOkAt?: string;
}

type Input = RunInput<RestoreParams> & {
  plan: Plan;
  created?: Created;
  launched?: Launched;
  bringUp?: BringUp;
};

const clientToken = (executionId: string) =>
  createHash("sha256").update(`${executionId}/launch`).digest("hex").slice(0, 64);

/** The instance this run launched, by its tag (not terminated), else none. */
async function launchedBy(region: string, executionId: string): Promise<Instance | undefined> {
  const found = await describeInstances(region, [
    { Name: `tag:${LAUNCH_TAGS.execution}`, Values: [executionId] },
    { Name: "instance-state-name", Values: LIVE },
  ]);
  return found[0];
}

/**
 * Launches the new instance from the manifest's AMI into the target subnet: no public address,
 * no instance profile, tagged on create (the instance and its launched root). Safe to repeat.
 */
export async function launch(input: Input, ctx: StepContext): Promise<Launched> {
  const { plan } = input;
  const l = plan.launch as Launch;
  const earlier = await launchedBy(plan.region, ctx.executionId);
  const tags: Tag[] = [
    { Key: "Name", Value: `reflex-restore-of-${l.sourceInstanceId}` },
    { Key: ctx.automationTag.key, Value: ctx.automationTag.value },
    { Key: "reflex:runbook", Value: "restore" },
    { Key: LAUNCH_TAGS.execution, Value: ctx.executionId },
    { Key: LAUNCH_TAGS.restoreOf, Value: l.sourceInstanceId },
    ...(plan.drill ? [{ Key: LAUNCH_TAGS.drill, Value: plan.drill.name }] : []),
  ];
  const instance =
    earlier ??
    (
      await ec2(plan.region).send(
        new RunInstancesCommand({
          ImageId: l.imageId,
          InstanceType: l.instanceType as Instance["InstanceType"],
          MinCount: 1,
          MaxCount: 1,
          ClientToken: clientToken(ctx.executionId),
          // The interface says no public address, whatever the subnet maps; no IamInstanceProfile.
          NetworkInterfaces: [
            {
              DeviceIndex: 0,
              SubnetId: l.subnetId,
              Groups: l.securityGroupIds,
              AssociatePublicIpAddress: false,
            },
          ],
          TagSpecifications: [
            { ResourceType: "instance", Tags: tags },
            { ResourceType: "volume", Tags: tags },
          ],
        }),
      )
    ).Instances?.[0];
  const instanceId = instance?.InstanceId;
  const launchedRootId = instance?.BlockDeviceMappings?.find((m) => m.DeviceName === l.rootDevice)?.Ebs
    ?.VolumeId;
  if (!instanceId || !launchedRootId)
    throw new StepExecutionError(
      "LaunchFailed",
      `RunInstances answered no instance${instanceId ? ` root at ${l.rootDevice}` : ""}`,
    );
  // Named on the run's record at once: a teardown (or the reconciler's sweep) finds it by id even if its tags are lost.
  await ctx.record({ launched: instanceId });
  return { instanceId, launchedRootId };
}

/** How long the bring-up may take from the plan before the run fails (and tears down). */
const BRING_UP_LIMIT_MS = 90 * 60_000;

/**
 * One move per call: wait running → stop → detach the launched root → attach the restored
 * volumes at their devices → delete the launched root → start → wait running and status checks
 * `ok`. Done when the restored instance passes its checks. Safe to repeat.
 */
export async function bringUp(input: Input, ctx: StepContext): Promise<BringUp> {
  const { plan } = input;
  const region = plan.region;
  const { instanceId, launchedRootId } = input.launched as Launched;
  const now = ctx.now().toISOString();
  const prior: BringUp = { ...(input.bringUp ?? { done: false, did: "" }), done: false };
  const step = (did: string, extra: Partial<BringUp> = {}): BringUp => ({ ...prior, ...extra, did });
  if (Date.parse(now) - Date.parse(plan.plannedAt) > BRING_UP_LIMIT_MS)
    throw new StepExecutionError(
      "BringUpTimedOut",
      `${instanceId} did not come up with the restored volumes within ${BRING_UP_LIMIT_MS / 60_000} min (${prior.did})`,
    );
  const [instance] = await describeInstances(region, [{ Name: "instance-id", Values: [instanceId] }]);
  const state = instance?.State?.Name;
  if (!instance || state === "terminated" || state === "shutting-down")
    throw new StepExecutionError("InstanceGone", `${instanceId} is ${state ?? "gone"}`);
  const restored = input.created?.volumes ?? [];
  const ids = [...restored.map((v) => v.volumeId), launchedRootId];
  // Every page: a restored volume on a later one would read as not in place.
  const vols: Volume[] = [];
  for await (const page of paginateDescribeVolumes(
    { client: ec2(region) },
    { Filters: [{ Name: "volume-id", Values: ids }] },
  ))
    vols.push(...(page.Volumes ?? []));
  const vol = (id: string) => vols.find((v) => v.VolumeId === id);
  const at = (v: Volume | undefined) => v?.Attachments?.find((a) => a.InstanceId === instanceId);
  const inPlace = restored.every((r) => {
    const a = at(vol(r.volumeId));
    return a?.Device === r.device && a?.State === "attached";
  });
  if (state === "pending" || state === "stopping") return step(`waiting: ${instanceId} is ${state}`);
  if (!inPlace) {
    if (state === "running") {
      await ec2(region).send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
      return step(`stopping ${instanceId} (launched, running its AMI's root)`);
    }
    // Stopped: the launched root out first, then each restored volume in at its device.
    const stoppedAt = prior.stoppedAt ?? now;
    const root = at(vol(launchedRootId));
    if (root && root.State !== "detaching") {
      await ec2(region).send(new DetachVolumeCommand({ VolumeId: launchedRootId, InstanceId: instanceId }));
      return step(`detaching the launched root ${launchedRootId}`, { stoppedAt });
    }
    if (root) return step(`waiting: ${launchedRootId} is detaching`, { stoppedAt });
    // Every missing volume asked at once (EC2 attaches them side by side), then waited for.
    const asked: string[] = [];
    for (const r of restored)
      if (!at(vol(r.volumeId))) {
        await ec2(region).send(
          new AttachVolumeCommand({ VolumeId: r.volumeId, InstanceId: instanceId, Device: r.device }),
        );
        asked.push(`${r.volumeId} at ${r.device}`);
      }
    return step(asked.length ? `attaching ${asked.join(", ")}` : "waiting for the attachments", {
      stoppedAt,
    });
  }
  const leftover = vol(launchedRootId);
  if (leftover && !leftover.Attachments?.length) {
    try {
      await ec2(region).send(new DeleteVolumeCommand({ VolumeId: launchedRootId }));
    } catch (err) {
      if ((err as Error).name !== "InvalidVolume.NotFound") throw err;
    }
    return step(`deleting the launched root ${launchedRootId}`);
  }
  if (state === "stopped") {
    await ec2(region).send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
    return step(`starting ${instanceId} on the restored volumes`, { startedAt: prior.startedAt ?? now });
  }
  const runningAt = prior.runningAt ?? now;
  const status = (await ec2(region).send(new DescribeInstanceStatusCommand({ InstanceIds: [instanceId] })))
    .InstanceStatuses?.[0];
  const checks = `instance ${status?.InstanceStatus?.Status ?? "?"}, system ${status?.SystemStatus?.Status ?? "?"}`;
  if (status?.InstanceStatus?.Status === "impaired" || status?.SystemStatus?.Status === "impaired")
    throw new StepExecutionError("StatusChecksFailed", `${instanceId} on the restored volumes: ${checks}`);
  if (status?.InstanceStatus?.Status !== "ok" || status?.SystemStatus?.Status !== "ok")
    return step(`waiting: status checks ${checks}`, { runningAt });
  return { ...prior, runningAt, statusOkAt: now, done: true, did: `${instanceId} running, status checks ok` };
}

/** What a teardown (or a sweep) did to the instances a run launched. */
export interface InstancesGone {
  /** Every one terminated. */
  done: boolean;
  terminated: string[];
  /** Found by the id the run recorded, without the run's tag (someone removed it): terminated, and reported. */
  untagged: string[];
}

/**
 * Terminates the instances a run launched, by its tag and by the id it recorded; done when none
 * is left but terminated. Its volumes come off with it (the restored ones detached, the launched
 * root deleted with it). Safe to repeat.
 */
export async function terminateLaunched(
  region: string,
  executionId: string,
  recorded: string | undefined,
): Promise<InstancesGone> {
  const byTag = await describeInstances(region, [
    { Name: `tag:${LAUNCH_TAGS.execution}`, Values: [executionId] },
  ]);
  const byId =
    recorded && !byTag.some((i) => i.InstanceId === recorded)
      ? await describeInstances(region, [{ Name: "instance-id", Values: [recorded] }])
      : [];
  const all = [...byTag, ...byId];
  const alive = all.filter((i) => i.State?.Name !== "terminated");
  const toStop = alive.filter((i) => i.State?.Name !== "shutting-down").map((i) => i.InstanceId as string);
  if (toStop.length) await ec2(region).send(new TerminateInstancesCommand({ InstanceIds: toStop }));
  return {
    done: alive.length === 0,
    terminated: all.map((i) => i.InstanceId as string),
    untagged: byId.map((i) => i.InstanceId as string),
  };
}
