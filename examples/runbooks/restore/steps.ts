/**
 * restore's steps. Every mutating step reads what this run already made first (by the
 * `reflex:restore-execution` tag, and CreateVolume's ClientToken), so a retried step never
 * makes a second volume; teardown finds what it deletes by tag *and* by the ids the run
 * recorded, so a volume whose tag was removed is still found, and named.
 */
import { createHash } from "node:crypto";
import {
  AttachVolumeCommand,
  CreateVolumeCommand,
  DeleteVolumeCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  EC2Client,
  type Filter,
  type Snapshot,
  type Tag,
  type Volume,
} from "@aws-sdk/client-ec2";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { GetCommandInvocationCommand, SSMClient } from "@aws-sdk/client-ssm";
import {
  client,
  type Implementation,
  type RunInput,
  type StepContext,
  StepExecutionError,
  type TargetResult,
} from "@reflex/sdk";
import {
  checkFastRestore,
  disableFastRestore,
  disableFastRestoreOf,
  enableFastRestore,
  type FastRestore,
  planFastRestore,
} from "./fast-restore.ts";
import {
  checkReplaced,
  checkSwapped,
  dataSnapshotFor,
  type InPlace,
  lineageOf,
  putBackData,
  putBackRoot,
  replaceRoot,
  rootSnapshotFor,
  rootVolumeOf,
  swapData,
  sweepLostRoot,
  sweepLostSwap,
} from "./in-place.ts";
import type { Drill, RestoreParams, RestoreSource } from "./index.ts";
import {
  type BringUp,
  bringUp,
  checkDrillCap,
  type InstancesGone,
  type Launch,
  type Launched,
  type LaunchTarget,
  launch,
  planLaunch,
  terminateLaunched,
} from "./new-instance.ts";

/** Tags on what restore creates, and the ones it reads on backup snapshots. */
export const TAGS = {
  runbook: "reflex:runbook",
  execution: "reflex:restore-execution",
  restoredFrom: "reflex:restored-from",
  device: "reflex:device",
  drill: "reflex:drill",
  backupExecution: "reflex:execution-id",
  sourceInstance: "reflex:source-instance",
  sourceVolume: "reflex:source-volume",
} as const;
const BACKUP_RUNBOOK = "backup-snapshot";
/** Devices a scratch instance gets the restored volumes on, in order, skipping those in use. */
const SCRATCH_DEVICES = [
  "/dev/sdf",
  "/dev/sdg",
  "/dev/sdh",
  "/dev/sdi",
  "/dev/sdj",
  "/dev/sdk",
  "/dev/sdl",
  "/dev/sdm",
  "/dev/sdn",
  "/dev/sdo",
];

export interface PlannedVolume {
  snapshotId: string;
  /** The volume the snapshot was taken of. */
  sourceVolumeId?: string;
  /** The device it had on its instance (`reflex:device`); absent on backups made before that tag. */
  device?: string;
  size: number;
  startTime: string;
  backupExecutionId?: string;
  /** Where it goes on the scratch instance. */
  attachDevice?: string;
}

export interface Plan {
  region: string;
  availabilityZone: string;
  source: RestoreSource;
  volumes: PlannedVolume[];
  attachTo?: { instanceId: string };
  checksumCommand?: string;
  /** A drill: its name, targets and the hours it keeps what it restored (absent or 0: deleted at once). */
  drill?: { name: string; targets: Drill["targets"]; keepFor?: number };
  /** RPO is measured to this instant: the incident (`at`), else the run's start. */
  rpoTo: string;
  plannedAt: string;
  /** What the backups lack to restore fully (an old manifest): named, not guessed. */
  missing: string[];
  /** The verify hook's function (params `verify.lambda`, or the drill's). */
  verifyLambda?: string;
  /** In place: the instance whose root is replaced, the root it keeps, the snapshot. */
  inPlace?: InPlace;
  /** Side by side as a new instance: what it launches, where (new-instance.ts). */
  launch?: Launch;
  /** `fastRestore`: the snapshots FSR is enabled for in the zone before the volumes are made (fast-restore.ts). */
  fastRestore?: FastRestore;
}

export interface Created {
  volumes: Array<PlannedVolume & { volumeId: string }>;
}

type Input = RunInput<RestoreParams> & {
  plan: Plan;
  created?: Created;
  fastRestoreReady?: { done: boolean; at?: string };
  available?: { done: boolean; at?: string };
  attached?: { done: boolean; at?: string };
  launched?: Launched;
  bringUp?: BringUp;
  checksum?: { Command?: { CommandId?: string } };
  verified?: Verification;
  hook?: Hook;
  teardown?: Teardown;
  failure?: { Error?: string; Cause?: string };
};

/** What picking a backup reads of a step's context: a precheck (no run yet) has the same. */
type Lookup = Pick<StepContext, "config" | "automationTag" | "now">;

const ec2 = (region: string) => client(EC2Client, "ec2", region);
const tag = (tags: Tag[] | undefined, key: string) => tags?.find((t) => t.Key === key)?.Value;
const minutes = (ms: number) => Math.round((ms / 60_000) * 100) / 100;

async function describeSnapshots(region: string, input: { SnapshotIds?: string[]; Filters?: Filter[] }) {
  const out: Snapshot[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ec2(region).send(
      new DescribeSnapshotsCommand({
        ...input,
        OwnerIds: ["self"],
        ...(input.SnapshotIds ? {} : { NextToken }),
      }),
    );
    out.push(...(page.Snapshots ?? []));
    NextToken = input.SnapshotIds ? undefined : page.NextToken;
  } while (NextToken);
  return out;
}

async function describeVolumes(region: string, filters: Filter[]) {
  const out: Volume[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ec2(region).send(new DescribeVolumesCommand({ Filters: filters, NextToken }));
    out.push(...(page.Volumes ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

export function drillOf(name: string, ctx: Lookup): Drill {
  const drill = ((ctx.config.drills as Drill[] | undefined) ?? []).find((d) => d.name === name);
  if (!drill) throw new StepExecutionError("UnknownDrill", `no drill '${name}' in the config's drills:`);
  return drill;
}

/** Where a restore goes: a scratch instance (attachTo, a drill's isolate.instanceId) or a new instance in a subnet (target, isolate.subnetId). */
export function isolationOf(
  drill: Drill | undefined,
  p: RestoreParams,
): { attachTo?: { instanceId: string }; target?: LaunchTarget } {
  const isolate = drill?.isolate;
  if (isolate && "subnetId" in isolate) return { target: isolate };
  if (isolate) return { attachTo: isolate };
  return { ...(p.attachTo ? { attachTo: p.attachTo } : {}), ...(p.target ? { target: p.target } : {}) };
}

/** A snapshot Reflex's backup made: the automation tag and reflex:runbook=backup-snapshot. */
function isReflexBackup(s: Snapshot, ctx: Lookup): boolean {
  return (
    tag(s.Tags, ctx.automationTag.key) === ctx.automationTag.value &&
    tag(s.Tags, TAGS.runbook) === BACKUP_RUNBOOK
  );
}

function notAfter(s: Snapshot, at: number): boolean {
  return (s.StartTime?.getTime() ?? Number.POSITIVE_INFINITY) <= at;
}

/** How a drill picks among the backups in its window; a restore always takes the newest. */
export interface Choice {
  pick: "latest" | "random";
  withinDays: number;
}

/**
 * One of the candidates (sorted newest first): the newest, or one at random among those no
 * older than `withinDays` before `upTo` (the newest when none is that young).
 */
export function choose<T>(
  candidates: T[],
  startOf: (c: T) => number,
  upTo: number,
  choice: Choice | undefined,
  random: () => number = Math.random,
): T | undefined {
  if (!choice || choice.pick === "latest") return candidates[0];
  const window = candidates.filter((c) => startOf(c) >= upTo - choice.withinDays * 86_400_000);
  if (window.length === 0) return candidates[0];
  return window[Math.min(window.length - 1, Math.floor(random() * window.length))];
}

/** The snapshots a source names: Reflex backups only, completed, the newest at or before `at` (or as a drill picks). */
export async function pick(
  region: string,
  source: RestoreSource,
  ctx: Lookup,
  choice?: Choice,
): Promise<Snapshot[]> {
  const reflex = [
    { Name: `tag:${ctx.automationTag.key}`, Values: [ctx.automationTag.value] },
    { Name: `tag:${TAGS.runbook}`, Values: [BACKUP_RUNBOOK] },
  ];
  if ("snapshotId" in source) {
    let found: Snapshot[];
    try {
      found = await describeSnapshots(region, { SnapshotIds: [source.snapshotId] });
    } catch (err) {
      if ((err as Error).name === "InvalidSnapshot.NotFound")
        throw new StepExecutionError(
          "SnapshotNotFound",
          `snapshot ${source.snapshotId} does not exist in ${region}`,
        );
      throw err;
    }
    const s = found[0];
    if (!s || !isReflexBackup(s, ctx))
      throw new StepExecutionError(
        "NotReflexBackup",
        `snapshot ${source.snapshotId} was not made by Reflex's backup (it needs ${ctx.automationTag.key}=${ctx.automationTag.value} and ${TAGS.runbook}=${BACKUP_RUNBOOK}); restore only restores Reflex backups`,
      );
    if (s.State !== "completed")
      throw new StepExecutionError(
        "SnapshotNotReady",
        `snapshot ${source.snapshotId} is ${s.State}, not completed`,
      );
    return [s];
  }
  if ("backupExecutionId" in source) {
    const set = await describeSnapshots(region, {
      Filters: [...reflex, { Name: `tag:${TAGS.backupExecution}`, Values: [source.backupExecutionId] }],
    });
    if (set.length === 0)
      throw new StepExecutionError(
        "NoBackup",
        `backup run ${source.backupExecutionId} left no snapshot in ${region}`,
      );
    const notDone = set.filter((s) => s.State !== "completed");
    if (notDone.length)
      throw new StepExecutionError(
        "SnapshotNotReady",
        `backup run ${source.backupExecutionId} has snapshots not completed: ${notDone.map((s) => `${s.SnapshotId} (${s.State})`).join(", ")}`,
      );
    return set;
  }
  const upTo = source.at ? Date.parse(source.at) : ctx.now().getTime();
  if ("volumeId" in source) {
    const all = await describeSnapshots(region, {
      Filters: [...reflex, { Name: `tag:${TAGS.sourceVolume}`, Values: [source.volumeId] }],
    });
    const done = all.filter((s) => s.State === "completed" && notAfter(s, upTo));
    done.sort((a, b) => (b.StartTime?.getTime() ?? 0) - (a.StartTime?.getTime() ?? 0));
    const chosen = choose(done, (s) => s.StartTime?.getTime() ?? 0, upTo, choice);
    if (!chosen)
      throw new StepExecutionError(
        "NoBackup",
        `no completed Reflex backup of ${source.volumeId} at or before ${new Date(upTo).toISOString()}`,
      );
    return [chosen];
  }
  // An instance: the newest backup run whose snapshots of it all completed (one set, never a mix of runs).
  const all = await describeSnapshots(region, {
    Filters: [...reflex, { Name: `tag:${TAGS.sourceInstance}`, Values: [source.instanceId] }],
  });
  const sets = new Map<string, Snapshot[]>();
  for (const s of all) {
    const run = tag(s.Tags, TAGS.backupExecution) ?? `snapshot:${s.SnapshotId}`;
    sets.set(run, [...(sets.get(run) ?? []), s]);
  }
  const complete = [...sets.values()].filter(
    (set) => set.every((s) => s.State === "completed") && set.every((s) => notAfter(s, upTo)),
  );
  const started = (set: Snapshot[]) => Math.min(...set.map((s) => s.StartTime?.getTime() ?? 0));
  complete.sort((a, b) => started(b) - started(a));
  const chosen = choose(complete, started, upTo, choice);
  if (!chosen)
    throw new StepExecutionError(
      "NoBackup",
      `no complete Reflex backup of ${source.instanceId} at or before ${new Date(upTo).toISOString()}`,
    );
  return chosen;
}

/** Where a drill keeps when it last picked an instance of its selector (the runbook's own items). */
const pickedKey = (drill: string, instanceId: string) => `drill-picked:${drill}:${instanceId}`;

/**
 * A drill's source: its `source`, or, with a `selector`, one instance carrying all its tags that
 * has a completed Reflex backup. `pick: random` draws one at random; `latest` takes the one this
 * drill picked longest ago (one never picked first), then the one whose newest backup is oldest,
 * so every instance gets drilled in turn. Without `items` (admission's precheck) the picks so far
 * are unknown: only the backups order them. Read-only; `rememberPick` records the choice.
 */
export async function drillSource(
  region: string,
  drill: Drill,
  ctx: Lookup & { items?: StepContext["items"] },
  random: () => number = Math.random,
): Promise<RestoreSource> {
  if (drill.source || !drill.selector) return drill.source as RestoreSource;
  const tags = Object.entries(drill.selector.tag);
  const ids: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ec2(region).send(
      new DescribeInstancesCommand({
        Filters: [
          ...tags.map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })),
          { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
        ],
        NextToken,
      }),
    );
    for (const r of page.Reservations ?? [])
      for (const i of r.Instances ?? []) if (i.InstanceId) ids.push(i.InstanceId);
    NextToken = page.NextToken;
  } while (NextToken);
  const candidates: Candidate[] = [];
  for (const instanceId of [...new Set(ids)].sort()) {
    try {
      const set = await pick(region, { instanceId }, ctx);
      candidates.push({ instanceId, newest: Math.min(...set.map((s) => s.StartTime?.getTime() ?? 0)) });
    } catch (err) {
      if (!(err instanceof StepExecutionError && err.code === "NoBackup")) throw err;
    }
  }
  const what = tags.map(([k, v]) => `${k}=${v}`).join(", ");
  if (candidates.length === 0)
    throw new StepExecutionError(
      "NoBackup",
      `drill ${drill.name}: no instance tagged ${what} (${ids.length} found) has a complete Reflex backup in ${region}`,
    );
  const prefix = `drill-picked:${drill.name}:`;
  const picked =
    drill.pick === "latest"
      ? new Map(
          ((await ctx.items?.list(prefix)) ?? []).map((i) => [
            i.key.slice(prefix.length),
            Date.parse(String(i.value.at)) || 0,
          ]),
        )
      : new Map<string, number>();
  return { instanceId: chooseInstance(candidates, picked, drill.pick, random) };
}

/** A selector's candidate: an instance with a complete backup, and when its newest one started. */
export interface Candidate {
  instanceId: string;
  newest: number;
}

/**
 * Which candidate a selector's drill restores: `random` one at random; `latest` the one picked
 * longest ago (`picked`: instance → when this drill last picked it; never picked first), ties
 * broken by the oldest newest backup, then the id.
 */
export function chooseInstance(
  candidates: Candidate[],
  picked: Map<string, number>,
  pick: "latest" | "random",
  random: () => number = Math.random,
): string {
  if (pick === "random")
    return candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))].instanceId;
  const sorted = [...candidates].sort(
    (a, b) =>
      (picked.get(a.instanceId) ?? -1) - (picked.get(b.instanceId) ?? -1) ||
      a.newest - b.newest ||
      a.instanceId.localeCompare(b.instanceId),
  );
  return sorted[0].instanceId;
}

/** Records that a selector's drill picked this instance (what `pick: latest` rotates by); kept a year. */
async function rememberPick(drill: Drill, source: RestoreSource, ctx: StepContext): Promise<void> {
  if (!drill.selector || !("instanceId" in source) || ctx.dryRun) return;
  await ctx.items?.put(
    pickedKey(drill.name, source.instanceId),
    { at: ctx.now().toISOString(), executionId: ctx.executionId },
    { expiresAt: new Date(ctx.now().getTime() + 366 * 86_400_000) },
  );
}

export async function instanceOf(region: string, id: string) {
  try {
    const out = await ec2(region).send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    return out.Reservations?.[0]?.Instances?.[0];
  } catch (err) {
    if ((err as Error).name === "InvalidInstanceID.NotFound")
      throw new StepExecutionError("InstanceNotFound", `instance ${id} does not exist in ${region}`);
    throw err;
  }
}

/**
 * A scratch instance is never the backup's source: not the instance the backup was taken of
 * (its `reflex:source-instance` tag), nor one holding a volume it was taken of. Checked by the
 * precheck (a 400 before the run is written) and again by the plan.
 */
export function checkScratch(
  instanceId: string,
  scratch: { BlockDeviceMappings?: Array<{ Ebs?: { VolumeId?: string } }> } | undefined,
  snapshots: Snapshot[],
): void {
  const sourceVolumes = snapshots
    .map((s) => tag(s.Tags, TAGS.sourceVolume) ?? s.VolumeId)
    .filter((v): v is string => !!v);
  const fromIt = snapshots.some((s) => tag(s.Tags, TAGS.sourceInstance) === instanceId);
  if (
    fromIt ||
    (sourceVolumes.length &&
      (scratch?.BlockDeviceMappings ?? []).some((m) => sourceVolumes.includes(m.Ebs?.VolumeId ?? "")))
  )
    throw new StepExecutionError(
      "ScratchIsSource",
      `${instanceId} is this backup's source instance or holds a volume it was taken of: restore into a scratch instance, never the source`,
    );
}

/**
 * A verify hook named by ARN runs in the restore's Region: the step invokes it through that
 * Region's Lambda endpoint, which cannot reach a function elsewhere. (Another account's function
 * is denied by IAM: the step worker may invoke only this account's tagged functions.)
 */
export function checkVerifyRegion(verify: { lambda: string } | undefined, region: string): void {
  const arnRegion = verify?.lambda.startsWith("arn:") ? verify.lambda.split(":")[3] : undefined;
  if (arnRegion && arnRegion !== region)
    throw new StepExecutionError(
      "VerifyElsewhere",
      `the verify hook ${verify?.lambda} is in ${arnRegion}, not the restore's Region ${region}`,
    );
}

/**
 * The locks a restore takes in its plan: its source, whatever `at` says (two restores of one
 * instance at different times still meet), and its scratch instance (its devices are handed out).
 */
export function restoreLocks(source: RestoreSource, attachTo?: { instanceId: string }): string[] {
  const sourceKey =
    "snapshotId" in source
      ? source.snapshotId
      : "backupExecutionId" in source
        ? `backup:${source.backupExecutionId}`
        : "volumeId" in source
          ? source.volumeId
          : source.instanceId;
  return [`restore-source:${sourceKey}`, ...(attachTo ? [`instance:${attachTo.instanceId}`] : [])];
}

/** Picks the snapshots, the zone and the devices; checks the cap; locks the source and the scratch instance. Read-only. */
export async function plan(input: Input, ctx: StepContext): Promise<Plan> {
  const p = input.params;
  const drill = p.drill ? drillOf(p.drill, ctx) : undefined;
  const { attachTo, target } = isolationOf(drill, p);
  const region = p.region ?? process.env.AWS_REGION ?? "us-east-1";
  const source = drill ? await drillSource(region, drill, ctx) : (p.source as RestoreSource);
  const snapshots = await pick(region, source, ctx, drill);
  if (p.mode === "in-place") return planInPlace(input, ctx, region, source, snapshots);
  const launch = target
    ? await planLaunch(region, snapshots, target, drill ? `drills.${drill.name}.isolate` : "target")
    : undefined;
  if (launch && p.availabilityZone && p.availabilityZone !== launch.availabilityZone)
    throw new StepExecutionError(
      "ZoneMismatch",
      `availabilityZone ${p.availabilityZone} is not the zone of subnet ${launch.subnetId} (${launch.availabilityZone}); the volumes are made where the instance is launched`,
    );
  if (launch && drill && !ctx.dryRun) await checkDrillCap(region, ctx.config);
  const cap = Math.min(ctx.maxTargets ?? 10, 10);
  if (snapshots.length > cap)
    throw new StepExecutionError(
      "BlastRadiusExceeded",
      `the backup has ${snapshots.length} volumes, more than the cap of ${cap} a restore may create`,
    );
  const sourceVolumes = snapshots
    .map((s) => tag(s.Tags, TAGS.sourceVolume) ?? s.VolumeId)
    .filter((v): v is string => !!v);
  let availabilityZone = launch?.availabilityZone ?? p.availabilityZone;
  let scratchDevices: string[] = [];
  checkVerifyRegion(drill?.verify ?? p.verify, region);
  if (attachTo) {
    const scratch = await instanceOf(region, attachTo.instanceId);
    const zone = scratch?.Placement?.AvailabilityZone ?? "";
    checkScratch(attachTo.instanceId, scratch, snapshots);
    if (availabilityZone && availabilityZone !== zone)
      throw new StepExecutionError(
        "ZoneMismatch",
        `availabilityZone ${availabilityZone} is not ${attachTo.instanceId}'s zone (${zone}); a volume attaches only in its own zone`,
      );
    availabilityZone = zone;
    const used = new Set((scratch?.BlockDeviceMappings ?? []).map((m) => m.DeviceName));
    scratchDevices = SCRATCH_DEVICES.filter((d) => !used.has(d));
  }
  if (!availabilityZone) {
    const existing = sourceVolumes.length
      ? await describeVolumes(region, [{ Name: "volume-id", Values: sourceVolumes }])
      : [];
    availabilityZone = existing[0]?.AvailabilityZone ?? `${region}a`;
  }
  const missing: string[] = [];
  const volumes: PlannedVolume[] = snapshots
    .sort((a, b) => (tag(a.Tags, TAGS.device) ?? "~").localeCompare(tag(b.Tags, TAGS.device) ?? "~"))
    .map((s, i) => {
      const device = tag(s.Tags, TAGS.device);
      if (!device)
        missing.push(
          `${s.SnapshotId}: no ${TAGS.device} tag (a backup made before it); its device is not known`,
        );
      return {
        snapshotId: s.SnapshotId as string,
        sourceVolumeId: tag(s.Tags, TAGS.sourceVolume) ?? s.VolumeId,
        ...(device ? { device } : {}),
        size: s.VolumeSize ?? 0,
        startTime: s.StartTime?.toISOString() ?? "",
        backupExecutionId: tag(s.Tags, TAGS.backupExecution),
        ...(attachTo ? { attachDevice: scratchDevices[i] } : {}),
        // A new instance gets each volume at the device it had.
        ...(launch && device ? { attachDevice: device } : {}),
      };
    });
  if (launch && volumes.some((v) => !v.device))
    throw new StepExecutionError(
      "ManifestIncomplete",
      `${missing.join("; ")}: a new instance needs each volume's device`,
    );
  if (attachTo && volumes.some((v) => !v.attachDevice))
    throw new StepExecutionError(
      "NoFreeDevice",
      `${attachTo.instanceId} has no free device for ${volumes.length} volumes`,
    );
  const fastRestore =
    (drill?.fastRestore ?? p.fastRestore)
      ? await planFastRestore(region, snapshots, availabilityZone)
      : undefined;
  if (!ctx.dryRun) {
    // One restore per source at a time (a drill and a real restore of one instance never
    // race), and one per scratch instance (its devices are handed out above).
    const wanted = restoreLocks(source, attachTo);
    const { locked } = await ctx.lockTargets(wanted);
    if (locked.length)
      throw new StepExecutionError(
        "TargetsLocked",
        `another run holds ${locked.map((l) => `${l.target} (run ${l.holder ?? "?"})`).join(", ")}`,
      );
    if (drill) await rememberPick(drill, source, ctx);
  }
  const checksum = (attachTo || launch) && p.checksum !== false;
  const rpoTo = "at" in source && source.at ? source.at : input.execution.startedAt;
  const result: Plan = {
    region,
    availabilityZone,
    source,
    volumes,
    ...(attachTo ? { attachTo } : {}),
    ...(launch ? { launch } : {}),
    ...(fastRestore ? { fastRestore } : {}),
    ...(checksum ? { checksumCommand: `sha256sum ${volumes.map((v) => v.attachDevice).join(" ")}` } : {}),
    ...(drill
      ? {
          drill: {
            name: drill.name,
            targets: drill.targets,
            ...(drill.keepFor ? { keepFor: drill.keepFor } : {}),
          },
        }
      : {}),
    ...((drill?.verify ?? p.verify) ? { verifyLambda: (drill?.verify ?? p.verify)?.lambda } : {}),
    rpoTo,
    plannedAt: ctx.now().toISOString(),
    missing,
  };
  const verb = ctx.dryRun ? "would create" : "will create";
  await ctx.record({
    plan: result,
    summary: `${drill ? `drill ${drill.name}: ` : ""}${verb} ${volumes.length} volume(s) in ${availabilityZone} from ${describeSource(source)}${attachTo ? `, attached to ${attachTo.instanceId}` : ""}${launch ? `, and launch a new ${launch.instanceType} from ${launch.imageId} in ${launch.subnetId} (no public address, no instance profile, tagged reflex:restore-of=${launch.sourceInstanceId}); stopped, its root swapped for the restored one and the volumes attached at ${volumes.map((v) => v.device).join(", ")}, then started` : ""}${fastRestore ? `; fast snapshot restore on for ${fastRestore.snapshotIds.length} snapshot(s) in ${availabilityZone} first (credit buckets ${Object.values(fastRestore.buckets).join(", ")}), off once the volumes exist` : ""}; RPO ${minutes(rpoMs(result))} min`,
    targets: volumes.map(
      (v): TargetResult => ({
        id: v.snapshotId,
        kind: "snapshot",
        status: "not-started",
        reason: `${verb} a ${v.size} GiB volume in ${availabilityZone}${v.attachDevice ? ` at ${attachTo?.instanceId ?? "the new instance"}:${v.attachDevice}` : ""}`,
        details: {
          "source volume": v.sourceVolumeId ?? "unknown",
          device: v.device ?? "unknown (old backup)",
          "snapshot time": v.startTime,
        },
      }),
    ),
  });
  return result;
}

/** The in-place target: the source instance, else `instanceId`, else the snapshot's own instance. */
export function inPlaceTarget(p: RestoreParams, source: RestoreSource, snapshots: Snapshot[]): string {
  if ("instanceId" in source) return source.instanceId;
  return p.instanceId ?? tag(snapshots[0]?.Tags, TAGS.sourceInstance) ?? "";
}

/** In place, root: the snapshot of this instance's root lineage, the root it keeps; locks the instance. Read-only. */
export async function inPlacePlan(
  region: string,
  p: RestoreParams,
  source: RestoreSource,
  snapshots: Snapshot[],
  automationTag: StepContext["automationTag"],
): Promise<InPlace> {
  const instanceId = inPlaceTarget(p, source, snapshots);
  const instance = instanceId ? await instanceOf(region, instanceId) : undefined;
  if (!instance)
    throw new StepExecutionError(
      "InstanceNotFound",
      `instance ${instanceId || "(none named)"} does not exist in ${region}${p.region ? " (the backup's region: a volume is restored in place only in its instance's region)" : ""}`,
    );
  // Lineage from what EC2 records (the snapshot's VolumeId), never from the snapshot's tags.
  const device = p.device ?? instance.RootDeviceName ?? "/dev/xvda";
  const isRoot = device === (instance.RootDeviceName ?? "/dev/xvda");
  const current = rootVolumeOf(instance, device);
  const lineage = current
    ? await lineageOf(region, current, isRoot ? instanceId : undefined)
    : new Set<string>();
  if (!p.device) return rootSnapshotFor(instance, snapshots, "snapshotId" in source, lineage);
  const planned = dataSnapshotFor(
    instance,
    snapshots,
    "snapshotId" in source,
    p.device,
    p.availabilityZone,
    lineage,
  );
  if (!planned.data) return planned;
  // The swap detaches the original and the rollback attaches it again: IAM allows both only on a
  // volume carrying the automation tag, so one without it is refused here, before the instance stops.
  const [kept] = await describeVolumes(region, [{ Name: "volume-id", Values: [planned.keptVolumeId] }]);
  if (tag(kept?.Tags, automationTag.key) !== automationTag.value)
    throw new StepExecutionError(
      "VolumeNotManaged",
      `${planned.keptVolumeId} at ${instanceId}:${p.device} does not carry the automation tag ${automationTag.key}=${automationTag.value}: Reflex detaches and attaches only volumes tagged for automation (tag it, or restore side by side)`,
    );
  return planned;
}

async function planInPlace(
  input: Input,
  ctx: StepContext,
  region: string,
  source: RestoreSource,
  snapshots: Snapshot[],
): Promise<Plan> {
  const inPlace = await inPlacePlan(region, input.params, source, snapshots, ctx.automationTag);
  const snap = snapshots.find((s) => s.SnapshotId === inPlace.snapshotId) as Snapshot;
  if (!ctx.dryRun) {
    const { locked } = await ctx.lockTargets([...restoreLocks(source), `instance:${inPlace.instanceId}`]);
    if (locked.length)
      throw new StepExecutionError(
        "TargetsLocked",
        `another run holds ${locked.map((l) => `${l.target} (run ${l.holder ?? "?"})`).join(", ")}`,
      );
  }
  const others = snapshots.filter((s) => s.SnapshotId !== inPlace.snapshotId);
  const data = inPlace.data;
  const device = data?.device ?? inPlace.rootDevice;
  const result: Plan = {
    region,
    availabilityZone: data?.availabilityZone ?? "",
    source,
    volumes: [
      {
        snapshotId: inPlace.snapshotId,
        sourceVolumeId: tag(snap.Tags, TAGS.sourceVolume) ?? snap.VolumeId,
        device,
        size: snap.VolumeSize ?? 0,
        startTime: snap.StartTime?.toISOString() ?? "",
        backupExecutionId: tag(snap.Tags, TAGS.backupExecution),
      },
    ],
    rpoTo: "at" in source && source.at ? source.at : input.execution.startedAt,
    plannedAt: ctx.now().toISOString(),
    missing: others.map(
      (s) =>
        `${s.SnapshotId} (${tag(s.Tags, TAGS.device) ?? "unknown device"}): in place restores ${device} only`,
    ),
    inPlace,
  };
  const verb = ctx.dryRun ? "would replace" : "will replace";
  await ctx.record({
    plan: result,
    summary: data
      ? `${verb} the data volume ${inPlace.keptVolumeId} at ${inPlace.instanceId}:${device} with one restored from ${inPlace.snapshotId} in ${data.availabilityZone}, in place (${data.wasRunning ? "stop, " : ""}detach, attach at ${device}${data.wasRunning ? ", start" : ""}); the original ${inPlace.keptVolumeId} is kept, detached; RPO ${minutes(rpoMs(result))} min`
      : `${verb} the root volume of ${inPlace.instanceId} (${inPlace.rootDevice}) with one restored from ${inPlace.snapshotId}, in place (CreateReplaceRootVolumeTask; the instance reboots); the original ${inPlace.keptVolumeId} is kept, detached; RPO ${minutes(rpoMs(result))} min`,
    targets: [
      {
        id: inPlace.instanceId,
        kind: "instance",
        status: "not-started",
        reason: `${verb} its root ${inPlace.keptVolumeId} from ${inPlace.snapshotId}`,
        details: {
          created: data
            ? `a ${snap.VolumeSize ?? "?"} GiB volume in ${data.availabilityZone}`
            : "a root volume from the snapshot",
          replaced: inPlace.keptVolumeId,
          kept: inPlace.keptVolumeId,
        },
      },
    ],
  });
  return result;
}

function describeSource(s: RestoreSource): string {
  if ("snapshotId" in s) return `snapshot ${s.snapshotId}`;
  if ("backupExecutionId" in s) return `backup run ${s.backupExecutionId}`;
  const what = "volumeId" in s ? s.volumeId : s.instanceId;
  return `the newest backup of ${what}${s.at ? ` at or before ${s.at}` : ""}`;
}

/** RPO: from the oldest snapshot of the set to the incident (or the run's start). */
function rpoMs(plan: Plan): number {
  const oldest = Math.min(...plan.volumes.map((v) => Date.parse(v.startTime)));
  return Math.max(0, Date.parse(plan.rpoTo) - oldest);
}

/** A ClientToken per run and snapshot (at most 64 ASCII characters): a retried CreateVolume makes nothing new. */
const clientToken = (executionId: string, snapshotId: string) =>
  createHash("sha256").update(`${executionId}/${snapshotId}`).digest("hex").slice(0, 64);

/** Creates one volume per snapshot, tagged on create; safe to repeat. */
export async function createVolumes(input: Input, ctx: StepContext): Promise<Created> {
  const { plan } = input;
  const existing = await describeVolumes(plan.region, [
    { Name: `tag:${TAGS.execution}`, Values: [ctx.executionId] },
  ]);
  const out: Created["volumes"] = [];
  for (const v of plan.volumes) {
    const made = existing.find((e) => tag(e.Tags, TAGS.restoredFrom) === v.snapshotId);
    const volumeId =
      made?.VolumeId ??
      (
        await ec2(plan.region).send(
          new CreateVolumeCommand({
            SnapshotId: v.snapshotId,
            AvailabilityZone: plan.availabilityZone,
            VolumeType: "gp3",
            ClientToken: clientToken(ctx.executionId, v.snapshotId),
            TagSpecifications: [
              {
                ResourceType: "volume",
                Tags: [
                  { Key: "Name", Value: `reflex-restore-${v.snapshotId}` },
                  { Key: ctx.automationTag.key, Value: ctx.automationTag.value },
                  { Key: TAGS.runbook, Value: "restore" },
                  { Key: TAGS.execution, Value: ctx.executionId },
                  { Key: TAGS.restoredFrom, Value: v.snapshotId },
                  ...(v.device ? [{ Key: TAGS.device, Value: v.device }] : []),
                  ...(v.sourceVolumeId ? [{ Key: TAGS.sourceVolume, Value: v.sourceVolumeId }] : []),
                  ...(plan.drill ? [{ Key: TAGS.drill, Value: plan.drill.name }] : []),
                  // In place: the volume it replaces (which Reflex did not create, so is not tagged).
                  ...(plan.inPlace ? [{ Key: "reflex:replaces", Value: plan.inPlace.keptVolumeId }] : []),
                ],
              },
            ],
          }),
        )
      ).VolumeId;
    if (!volumeId)
      throw new StepExecutionError(
        "VolumeNotCreated",
        `CreateVolume from ${v.snapshotId} answered no volume id`,
      );
    out.push({ ...v, volumeId });
    // Named on the run's record at once: a teardown finds it by id even if its tags are lost.
    await ctx.record({ created: out.map((o) => o.volumeId) });
  }
  return { volumes: out };
}

/** Done when every restored volume is available; a volume in `error` fails the restore. */
export async function checkVolumes(input: Input, ctx: StepContext): Promise<{ done: boolean; at?: string }> {
  const ids = (input.created?.volumes ?? []).map((v) => v.volumeId);
  const found = await describeVolumes(input.plan.region, [{ Name: "volume-id", Values: ids }]);
  const bad = found.filter((v) => v.State === "error");
  if (bad.length)
    throw new StepExecutionError(
      "VolumeCreateFailed",
      `volume(s) ${bad.map((v) => v.VolumeId).join(", ")} ended in state error`,
    );
  const done =
    found.length === ids.length && found.every((v) => v.State === "available" || v.State === "in-use");
  if (!done)
    overdue(input, ctx, "VolumeCreateTimedOut", "the volumes were not available", WAIT_LIMIT_MS.volumes);
  return done ? { done, at: ctx.now().toISOString() } : { done };
}

/** Attaches each restored volume to the scratch instance at its planned device; safe to repeat. */
export async function attach(input: Input, _ctx: StepContext): Promise<{ requested: number }> {
  const { plan } = input;
  const instanceId = plan.attachTo?.instanceId as string;
  const ids = (input.created?.volumes ?? []).map((v) => v.volumeId);
  const found = await describeVolumes(plan.region, [{ Name: "volume-id", Values: ids }]);
  let requested = 0;
  for (const v of input.created?.volumes ?? []) {
    const now = found.find((f) => f.VolumeId === v.volumeId);
    if (now?.Attachments?.some((a) => a.InstanceId === instanceId)) continue;
    await ec2(plan.region).send(
      new AttachVolumeCommand({ VolumeId: v.volumeId, InstanceId: instanceId, Device: v.attachDevice }),
    );
    requested++;
  }
  return { requested };
}

/** How long a run waits for its volumes and its attachments, from its plan, before it fails (and rolls back). */
const WAIT_LIMIT_MS = { volumes: 60 * 60_000, attach: 15 * 60_000 };

/** Fails the wait once `limit` has passed since the plan: a poll loop never spins forever. */
function overdue(input: Input, ctx: StepContext, code: string, what: string, limit: number): void {
  const waited = ctx.now().getTime() - Date.parse(input.plan.plannedAt);
  if (waited > limit)
    throw new StepExecutionError(
      code,
      `${what} after ${Math.round(waited / 60_000)} min (the limit is ${limit / 60_000} min)`,
    );
}

/** Done when every restored volume is attached to the scratch instance. */
export async function checkAttached(input: Input, ctx: StepContext): Promise<{ done: boolean; at?: string }> {
  const ids = (input.created?.volumes ?? []).map((v) => v.volumeId);
  const found = await describeVolumes(input.plan.region, [{ Name: "volume-id", Values: ids }]);
  const done =
    found.length === ids.length &&
    found.every((v) =>
      v.Attachments?.some((a) => a.InstanceId === input.plan.attachTo?.instanceId && a.State === "attached"),
    );
  if (!done)
    overdue(
      input,
      ctx,
      "AttachTimedOut",
      "the volumes were not attached",
      WAIT_LIMIT_MS.volumes + WAIT_LIMIT_MS.attach,
    );
  return done ? { done, at: ctx.now().toISOString() } : { done };
}

export interface Verification {
  passed: boolean;
  problems: string[];
  volumes: Array<{ volumeId: string; snapshotId: string; device?: string; checksum?: string }>;
  verifiedAt: string;
  rtoMs: number;
  rpoMs: number;
  /**
   * RTO by phase, in milliseconds: plan, volumes, attach, verify onto a scratch instance (or none);
   * plan, volumes, launch (launched and stopped), swap (the restored volumes in its place, started),
   * running, statusChecks, verify onto a new instance. They add up to the RTO.
   */
  phases: Record<string, number>;
  /** The new instance the volumes were restored into (side by side as a new instance). */
  instanceId?: string;
  targets?: { rto: "met" | "missed"; rpo: "met" | "missed"; rtoMinutes: number; rpoMinutes: number };
}

/** Verifies state, zone, size, tags and (when attached) each device's checksum; measures RTO and RPO. */
export async function verify(input: Input, ctx: StepContext): Promise<Verification> {
  const { plan } = input;
  const created = input.created?.volumes ?? [];
  const found = await describeVolumes(plan.region, [
    { Name: "volume-id", Values: created.map((v) => v.volumeId) },
  ]);
  const problems: string[] = [];
  let sums = new Map<string, string>();
  const onInstance = plan.attachTo?.instanceId ?? input.launched?.instanceId;
  if (plan.checksumCommand && input.checksum?.Command?.CommandId && onInstance) {
    const out = await client(SSMClient, "ssm", plan.region).send(
      new GetCommandInvocationCommand({
        CommandId: input.checksum.Command.CommandId,
        InstanceId: onInstance,
      }),
    );
    sums = new Map(
      (out.StandardOutputContent ?? "")
        .split("\n")
        .map((l) => /^([0-9a-f]{64})\s+(\S+)$/.exec(l.trim()))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[2], m[1]]),
    );
  }
  const volumes = created.map((c) => {
    const v = found.find((f) => f.VolumeId === c.volumeId);
    const checksum = c.attachDevice ? sums.get(c.attachDevice) : undefined;
    if (!v) problems.push(`${c.volumeId} is gone`);
    else {
      const wantState = plan.attachTo || plan.launch ? "in-use" : "available";
      if (v.State !== wantState) problems.push(`${c.volumeId} is ${v.State}, not ${wantState}`);
      const a = v.Attachments?.[0];
      if (plan.launch && (a?.InstanceId !== onInstance || a?.Device !== c.device))
        problems.push(
          `${c.volumeId} is at ${a?.InstanceId ?? "nothing"}:${a?.Device ?? "-"}, not ${onInstance}:${c.device}`,
        );
      if (v.AvailabilityZone !== plan.availabilityZone)
        problems.push(`${c.volumeId} is in ${v.AvailabilityZone}, not ${plan.availabilityZone}`);
      if ((v.Size ?? 0) < c.size) problems.push(`${c.volumeId} has ${v.Size} GiB, its snapshot ${c.size}`);
      if (v.SnapshotId !== c.snapshotId || tag(v.Tags, TAGS.restoredFrom) !== c.snapshotId)
        problems.push(`${c.volumeId} is not from ${c.snapshotId}`);
      if (tag(v.Tags, ctx.automationTag.key) !== ctx.automationTag.value)
        problems.push(`${c.volumeId} lacks the automation tag`);
    }
    if (plan.checksumCommand && !checksum)
      problems.push(`${c.volumeId}: no checksum of ${c.attachDevice} (device unreadable)`);
    return {
      volumeId: c.volumeId,
      snapshotId: c.snapshotId,
      ...(c.device ? { device: c.device } : {}),
      ...(checksum ? { checksum } : {}),
    };
  });
  if (plan.launch && !input.bringUp?.done)
    problems.push(`${onInstance} did not come up with its status checks ok`);
  const now = ctx.now();
  const start = Date.parse(input.execution.startedAt);
  const planned = Date.parse(plan.plannedAt);
  const available = Date.parse(input.available?.at ?? plan.plannedAt);
  // With fastRestore, the wait for `enabled` is a phase of its own, before the volumes.
  const fsrReady = input.fastRestoreReady?.at ? Date.parse(input.fastRestoreReady.at) : undefined;
  const beforeFsr =
    fsrReady !== undefined ? { plan: planned - start, fastRestore: fsrReady - planned } : undefined;
  const volumesFrom = fsrReady ?? planned;
  const attached = Date.parse(input.attached?.at ?? input.available?.at ?? plan.plannedAt);
  const up = input.bringUp;
  const t = (at: string | undefined, fallback: number) => (at ? Date.parse(at) : fallback);
  const stopped = t(up?.stoppedAt, available);
  const started = t(up?.startedAt, stopped);
  const running = t(up?.runningAt, started);
  const statusOk = t(up?.statusOkAt, running);
  const rtoMs = now.getTime() - start;
  const rpo = rpoMs(plan);
  const targets = plan.drill
    ? {
        rto: (rtoMs <= plan.drill.targets.rtoMinutes * 60_000 ? "met" : "missed") as "met" | "missed",
        rpo: (rpo <= plan.drill.targets.rpoMinutes * 60_000 ? "met" : "missed") as "met" | "missed",
        rtoMinutes: plan.drill.targets.rtoMinutes,
        rpoMinutes: plan.drill.targets.rpoMinutes,
      }
    : undefined;
  const result: Verification = {
    passed: problems.length === 0,
    problems,
    volumes,
    verifiedAt: now.toISOString(),
    rtoMs,
    rpoMs: rpo,
    phases: plan.launch
      ? {
          plan: planned - start,
          ...beforeFsr,
          volumes: available - volumesFrom,
          launch: stopped - available,
          swap: started - stopped,
          running: running - started,
          statusChecks: statusOk - running,
          verify: now.getTime() - statusOk,
        }
      : {
          plan: planned - start,
          ...beforeFsr,
          volumes: available - volumesFrom,
          attach: attached - available,
          verify: now.getTime() - attached,
        },
    ...(onInstance && plan.launch ? { instanceId: onInstance } : {}),
    ...(targets ? { targets } : {}),
  };
  await ctx.record({ verification: result });
  return result;
}

/** The verify hook's answer. */
export interface Hook {
  function: string;
  verdict: "passed" | "failed" | "timed-out";
  reason?: string;
}

const VERDICTS = new Set(["passed", "failed", "timed-out"]);

/**
 * Invokes the verify hook with the restored volumes (and the instance they are on) and reads its
 * verdict. A function that throws is `failed`, one Lambda timed out is `timed-out` (its reason
 * recorded); an answer that is not one of the three is `failed`, saying so.
 */
export async function verifyHook(input: Input, ctx: StepContext): Promise<Hook> {
  const { plan } = input;
  const fn = plan.verifyLambda as string;
  const payload = {
    executionId: ctx.executionId,
    ...(plan.drill ? { drill: plan.drill.name } : {}),
    region: plan.region,
    availabilityZone: plan.availabilityZone,
    ...(plan.attachTo ? { instanceId: plan.attachTo.instanceId } : {}),
    volumes: (input.created?.volumes ?? []).map((v) => ({
      volumeId: v.volumeId,
      snapshotId: v.snapshotId,
      ...(v.device ? { device: v.device } : {}),
      ...(v.attachDevice ? { attachedAt: v.attachDevice } : {}),
    })),
  };
  const out = await client(LambdaClient, "lambda", plan.region).send(
    new InvokeCommand({ FunctionName: fn, Payload: new TextEncoder().encode(JSON.stringify(payload)) }),
  );
  const text = out.Payload ? new TextDecoder().decode(out.Payload) : "";
  let answer: { verdict?: unknown; reason?: unknown; errorMessage?: unknown } = {};
  try {
    answer = text ? JSON.parse(text) : {};
  } catch {
    answer = {};
  }
  let hook: Hook;
  if (out.FunctionError) {
    const message = String(answer.errorMessage ?? text).slice(0, 500);
    hook = {
      function: fn,
      verdict: /timed out/i.test(message) ? "timed-out" : "failed",
      reason: `the function failed (${out.FunctionError}): ${message}`,
    };
  } else if (typeof answer.verdict === "string" && VERDICTS.has(answer.verdict))
    hook = {
      function: fn,
      verdict: answer.verdict as Hook["verdict"],
      ...(answer.reason !== undefined ? { reason: String(answer.reason).slice(0, 500) } : {}),
    };
  else
    hook = {
      function: fn,
      verdict: "failed",
      reason: `answered ${text.slice(0, 200) || "nothing"}, not { verdict: passed|failed|timed-out }`,
    };
  await ctx.record({ verifyHook: hook });
  return hook;
}

export interface Teardown {
  done: boolean;
  deleted: string[];
  /** Found by the id the run recorded, without the run's tag (someone removed it): deleted, and reported. */
  untagged: string[];
  waiting: string[];
  /** The instance it launched (side by side as a new instance): terminated first. */
  instances?: InstancesGone;
  /** The snapshots whose fast snapshot restore it disabled (`fastRestore`). */
  fastRestoreDisabled?: string[];
}

/** Detaches and deletes every volume this run made (by tag and by recorded id); done when none is left. Safe to repeat. */
export async function teardown(input: Input, ctx: StepContext): Promise<Teardown> {
  const region = input.plan.region;
  // FSR bills by the hour: off first, whatever else is left (a no-op once the run disabled it).
  const fastRestoreDisabled = input.plan.fastRestore
    ? await disableFastRestoreOf(region, input.plan.fastRestore)
    : undefined;
  // The instance it launched first: its volumes come off with it (EC2 deletes only an available volume).
  const gone = input.plan.launch
    ? await terminateLaunched(region, ctx.executionId, input.launched?.instanceId)
    : undefined;
  if (gone && !gone.done)
    return {
      done: false,
      deleted: input.teardown?.deleted ?? [],
      untagged: input.teardown?.untagged ?? [],
      waiting: gone.terminated,
      instances: gone,
    };
  const byTag = await describeVolumes(region, [{ Name: `tag:${TAGS.execution}`, Values: [ctx.executionId] }]);
  const recorded = (input.created?.volumes ?? []).map((v) => v.volumeId);
  const missingIds = recorded.filter((id) => !byTag.some((v) => v.VolumeId === id));
  const byId = missingIds.length
    ? await describeVolumes(region, [{ Name: "volume-id", Values: missingIds }])
    : [];
  const prior = input.teardown ?? { deleted: [], untagged: [] };
  const deleted = [...prior.deleted];
  const untagged = [...new Set([...prior.untagged, ...byId.map((v) => v.VolumeId as string)])];
  const waiting: string[] = [];
  for (const v of [...byTag, ...byId]) {
    const id = v.VolumeId as string;
    const attachment = v.Attachments?.[0];
    if (v.State === "creating")
      waiting.push(id); // EC2 deletes only an available volume
    else if (attachment && attachment.State !== "detaching") {
      await ec2(region).send(new DetachVolumeCommand({ VolumeId: id }));
      waiting.push(id);
    } else if (attachment) waiting.push(id);
    else {
      try {
        await ec2(region).send(new DeleteVolumeCommand({ VolumeId: id }));
      } catch (err) {
        if ((err as Error).name !== "InvalidVolume.NotFound") throw err;
      }
      deleted.push(id);
    }
  }
  const out: Teardown = {
    done: waiting.length === 0,
    deleted,
    untagged,
    waiting,
    ...(gone ? { instances: gone } : {}),
    ...(fastRestoreDisabled ? { fastRestoreDisabled } : {}),
  };
  if (out.done) {
    const failed = input.failure ? `${input.failure.Error}: ${input.failure.Cause}` : undefined;
    await ctx.record({
      teardown: out,
      ...(failed
        ? {
            summary: `restore failed (${failed}); ${gone?.terminated.length ? `the instance it launched (${gone.terminated.join(", ")}) was terminated and ` : ""}the ${deleted.length} volume(s) it created were deleted${untagged.length ? `; ${untagged.length} had lost the run's tag and were found by id: ${untagged.join(", ")}` : ""}${gone?.untagged.length ? `; the instance ${gone.untagged.join(", ")} had lost the run's tag and was found by id` : ""}`,
            targets: (input.plan.volumes ?? []).map(
              (v): TargetResult => ({
                id: v.snapshotId,
                kind: "snapshot",
                status: "rolled-back",
                reason: `${failed}; what was made of it was deleted`,
              }),
            ),
          }
        : {}),
    });
  }
  return out;
}

/** Records the outcome in the one result shape; says whether the restore verified and the drill met its targets. */
export async function report(
  input: Input,
  ctx: StepContext,
): Promise<{ verdict: "passed" | "verify-failed" | "missed" }> {
  const v = input.verified as Verification;
  const { plan } = input;
  const torn = input.teardown?.done === true;
  const hook = input.hook;
  const hookFailed = hook !== undefined && hook.verdict !== "passed";
  const verdict = !v.passed
    ? "verify-failed"
    : hookFailed
      ? plan.drill
        ? "missed"
        : "verify-failed"
      : v.targets && (v.targets.rto === "missed" || v.targets.rpo === "missed")
        ? "missed"
        : "passed";
  const hookNote = hook
    ? `; verify hook ${hook.function}: ${hook.verdict}${hook.reason ? ` (${hook.reason})` : ""}`
    : "";
  const targets: TargetResult[] = (input.created?.volumes ?? []).map((c) => {
    const got = v.volumes.find((x) => x.volumeId === c.volumeId);
    return {
      id: c.volumeId,
      kind: "volume",
      status: v.passed && !hookFailed ? "succeeded" : "rolled-back",
      reason: hookFailed
        ? `restored from ${c.snapshotId}; the verify hook answered ${hook?.verdict}${hook?.reason ? ` (${hook.reason})` : ""}; deleted`
        : v.passed
          ? `restored from ${c.snapshotId} and verified${torn ? "; deleted after the drill" : ""}`
          : `did not verify: ${v.problems.filter((p) => p.startsWith(c.volumeId)).join("; ") || v.problems.join("; ")}; deleted`,
      details: {
        snapshot: c.snapshotId,
        device: c.device ?? "unknown (old backup)",
        ...(c.attachDevice ? { "attached at": `${plan.attachTo?.instanceId}:${c.attachDevice}` } : {}),
        "size GiB": c.size,
        ...(got?.checksum ? { sha256: got.checksum } : {}),
      },
    };
  });
  const rto = `RTO ${minutes(v.rtoMs)} min (plan ${minutes(v.phases.plan)}, ${v.phases.fastRestore !== undefined ? `fastRestore ${minutes(v.phases.fastRestore)}, ` : ""}volumes ${minutes(v.phases.volumes)}, attach ${minutes(v.phases.attach)}, verify ${minutes(v.phases.verify)})`;
  const rpo = `RPO ${minutes(v.rpoMs)} min`;
  const met = v.targets
    ? `; targets: RTO ${v.targets.rto} (≤ ${v.targets.rtoMinutes} min), RPO ${v.targets.rpo} (≤ ${v.targets.rpoMinutes} min)`
    : "";
  const what = plan.drill ? `drill ${plan.drill.name}` : "restore";
  // A drill with keepFor leaves what it restored for your own checks; the reconciler deletes it after (sweepKept).
  const kept =
    plan.drill?.keepFor && !torn
      ? {
          until: new Date(ctx.now().getTime() + plan.drill.keepFor * 3_600_000).toISOString(),
          hours: plan.drill.keepFor,
          volumes: (input.created?.volumes ?? []).map((c) => c.volumeId),
        }
      : undefined;
  await ctx.record({
    verdict,
    summary: `${what}: ${targets.length} volume(s) ${v.passed && !hookFailed ? "restored and verified" : "did not verify"}; ${rto}; ${rpo}${met}${hookNote}${torn ? "; everything it created was deleted" : ""}${kept ? `; kept for ${kept.hours} h for your checks (until ${kept.until}), then the reconciler deletes it` : ""}`,
    targets,
    ...(kept ? { kept } : {}),
  });
  return { verdict };
}

/** What a sweep of a lost run did: deleted, found only by id (its tag removed), and still there when it gave up. */
export interface Swept {
  deleted: string[];
  untagged: string[];
  left: string[];
  note: string;
  /** The snapshots whose fast snapshot restore the lost run had enabled, disabled by the sweep. */
  fastRestoreDisabled?: string[];
  /** The instance the run launched (side by side as a new instance): terminated before its volumes. */
  instances?: InstancesGone;
}

/** How long a sweep waits for its volumes to detach before it reports them left (the reconciler runs again). */
const SWEEP_LIMIT_MS = 120_000;

/** What a run made and still there: by its tag, and by the ids it recorded (one whose tag was removed is found too). */
async function volumesOf(region: string, executionId: string, recorded: string[]) {
  const byTag = await describeVolumes(region, [{ Name: `tag:${TAGS.execution}`, Values: [executionId] }]);
  const missing = recorded.filter((id) => !byTag.some((v) => v.VolumeId === id));
  const byId = missing.length ? await describeVolumes(region, [{ Name: "volume-id", Values: missing }]) : [];
  return { found: [...byTag, ...byId], untagged: byId.map((v) => v.VolumeId as string) };
}

/** Detaches, waits for and deletes `found` (up to SWEEP_LIMIT_MS); what is still there is `left`. Safe to repeat. */
async function deleteVolumes(
  region: string,
  found: Volume[],
): Promise<{ deleted: string[]; left: string[] }> {
  const deleted: string[] = [];
  let pending = found;
  const deadline = Date.now() + SWEEP_LIMIT_MS;
  for (let wait = 100; pending.length; wait = Math.min(wait * 2, 2000)) {
    const next: Volume[] = [];
    for (const v of pending) {
      const id = v.VolumeId as string;
      const attachment = v.Attachments?.[0];
      if (v.State === "creating" || attachment?.State === "detaching") next.push(v);
      else if (attachment) {
        await ec2(region).send(new DetachVolumeCommand({ VolumeId: id }));
        next.push(v);
      } else {
        try {
          await ec2(region).send(new DeleteVolumeCommand({ VolumeId: id }));
        } catch (err) {
          if ((err as Error).name !== "InvalidVolume.NotFound") throw err;
        }
        deleted.push(id);
      }
    }
    if (!next.length || Date.now() > deadline) {
      pending = next;
      break;
    }
    await new Promise((r) => setTimeout(r, wait));
    pending = await describeVolumes(region, [
      { Name: "volume-id", Values: next.map((v) => v.VolumeId as string) },
    ]);
  }
  return { deleted, left: pending.map((v) => v.VolumeId as string) };
}

/**
 * The instance a drill launched (side by side as a new instance), terminated by its tag and by
 * the id the run recorded (one found only by id lost its tag: terminated all the same, and
 * named), waited for up to SWEEP_LIMIT_MS: its volumes come off with it.
 */
async function terminateAll(region: string, executionId: string, launched: string | undefined) {
  const deadline = Date.now() + SWEEP_LIMIT_MS;
  for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
    const instances = await terminateLaunched(region, executionId, launched);
    if (instances.done || Date.now() > deadline) return instances;
    await new Promise((r) => setTimeout(r, wait));
  }
}

/** How a sweep's note names the instances it terminated, and one that had lost its tag. */
function instancesNote(instances: InstancesGone | undefined) {
  return {
    ended: instances?.terminated.length ? `${instances.terminated.length} instance(s) terminated, ` : "",
    lostTag: instances?.untagged.length
      ? `; LOUD: instance ${instances.untagged.join(", ")} had lost the run's tag (found by the id the run recorded) and was terminated`
      : "",
    stillUp: instances && !instances.done ? instances.terminated : [],
  };
}

/**
 * The reconciler's sweep of a lost drill (the process died mid-drill; no teardown ran): the
 * instance it launched is terminated, and the volumes the run made — by its tag and by the ids
 * it recorded, so one whose tag was removed is still found and named — are detached, waited for
 * and deleted. A lost plain restore is not swept (what it verified is the user's): its instance
 * and volumes are listed for a person. A lost in-place swap gets its device back. Safe to repeat.
 */
export async function sweepLost(e: {
  id: string;
  params: Record<string, unknown>;
  result?: Record<string, unknown>;
}): Promise<Swept> {
  const plan = e.result?.plan as Plan | undefined;
  const region =
    plan?.region ?? (e.params.region as string | undefined) ?? process.env.AWS_REGION ?? "us-east-1";
  const recorded = Array.isArray(e.result?.created) ? (e.result.created as string[]) : [];
  // In place, data volume: the instance must have a volume at the device again, never none.
  if (plan?.inPlace?.data) {
    const restored =
      recorded[0] ??
      (await describeVolumes(region, [{ Name: `tag:${TAGS.execution}`, Values: [e.id] }]))[0]?.VolumeId;
    return sweepLostSwap(region, plan.inPlace, restored);
  }
  // In place, root: a replacement lost between its start and its end.
  if (plan?.inPlace)
    return sweepLostRoot(region, plan.inPlace, e.id, e.result?.replaceRootTask as string | undefined);
  // FSR a lost run enabled bills by the hour: off, drill or not (it deletes no data).
  const fastRestoreDisabled = plan?.fastRestore
    ? await disableFastRestoreOf(region, plan.fastRestore)
    : undefined;
  const fsr = fastRestoreDisabled ? { fastRestoreDisabled } : {};
  const launched = typeof e.result?.launched === "string" ? e.result.launched : undefined;
  if (typeof e.params.drill !== "string") {
    const { found, untagged } = await volumesOf(region, e.id, recorded);
    return {
      deleted: [],
      untagged,
      left: [...(launched ? [launched] : []), ...found.map((v) => v.VolumeId as string)],
      note: "a lost restore (not a drill) is not swept: check whether its volumes are wanted, and delete them if not",
      ...fsr,
    };
  }
  const swept = await removeAll(
    region,
    e.id,
    launched ?? (plan?.launch ? "" : undefined),
    recorded,
    "the drill was lost",
  );
  return { ...swept, ...fsr };
}

/**
 * Terminates the instance a drill launched (`launched`: its recorded id, "" when it launched one
 * but recorded no id, undefined when it launched none), then detaches and deletes the volumes it
 * made (by its tag and by the ids recorded); `what` opens the note. Safe to repeat.
 */
async function removeAll(
  region: string,
  executionId: string,
  launched: string | undefined,
  recorded: string[],
  what: string,
): Promise<Swept> {
  const instances =
    launched !== undefined ? await terminateAll(region, executionId, launched || undefined) : undefined;
  const { found, untagged } = await volumesOf(region, executionId, recorded);
  const gone = await deleteVolumes(region, found);
  const { ended, lostTag, stillUp } = instancesNote(instances);
  const { deleted } = gone;
  const left = [...stillUp, ...gone.left];
  return {
    deleted,
    untagged,
    left,
    ...(instances ? { instances } : {}),
    note: left.length
      ? `${what}; ${ended}${deleted.length} volume(s) deleted, still there (the next reconcile tries again): ${left.join(", ")}${lostTag}`
      : `${what}; ${ended}every volume it made was deleted (${deleted.length})${lostTag}`,
  };
}

/** What a drill kept for `keepFor` hours (recorded by its report). */
export interface Kept {
  until: string;
  hours: number;
  volumes: string[];
  swept?: Swept;
}

/**
 * The reconciler's sweep of what a drill kept (`keepFor`): once `until` has passed — and not
 * before — the volumes it made (by its tag and by the ids it recorded) are detached and deleted.
 * Undefined when there is nothing to do yet. Safe to repeat.
 */
export async function sweepKept(
  e: { id: string; params: Record<string, unknown>; result?: Record<string, unknown> },
  now: Date,
): Promise<Swept | undefined> {
  const kept = e.result?.kept as Kept | undefined;
  if (!kept || kept.swept || Date.parse(kept.until) > now.getTime()) return undefined;
  const plan = e.result?.plan as Plan | undefined;
  const region = plan?.region ?? process.env.AWS_REGION ?? "us-east-1";
  // A drill side by side as a new instance kept its instance too: terminated first.
  const launched = typeof e.result?.launched === "string" ? e.result.launched : undefined;
  return removeAll(
    region,
    e.id,
    launched ?? (plan?.launch ? "" : undefined),
    kept.volumes,
    `kept ${kept.hours} h until ${kept.until}`,
  );
}

export const implementation: Implementation = {
  steps: {
    plan,
    createVolumes,
    checkVolumes,
    attach,
    checkAttached,
    verify,
    teardown,
    report,
    verifyHook,
    launch,
    bringUp,
    replaceRoot,
    checkReplaced,
    putBackRoot,
    swapData,
    checkSwapped,
    putBackData,
    enableFastRestore,
    checkFastRestore,
    disableFastRestore,
  },
  sweepLost,
  sweepKept,
};
