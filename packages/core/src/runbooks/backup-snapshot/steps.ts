/**
 * The backup-snapshot steps, one per Task state. Every mutating step checks what already
 * exists first (by the execution-id tag), so a retried step never makes a second snapshot.
 */
import { CopySnapshotCommand, DeleteSnapshotCommand, type Tag } from "@aws-sdk/client-ec2";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ec2, findInstances, findSnapshots, isNotFound, tagMap, tagValue } from "../../adapters/ec2.ts";
import { client } from "../../aws.ts";
import { isTransient } from "../../aws-errors.ts";
import { region as defaultRegion, requireEnv } from "../../env.ts";
import { must, StepExecutionError } from "../../errors.ts";
import * as Executions from "../../state/executions.ts";
import type { RunInput, StepContext } from "../define.ts";
import { SNAPSHOT_TAGS, snapshotVolumes } from "../snapshots.ts";
import type { BackupParams } from "./params.ts";

export const RUNBOOK = "backup-snapshot";
export const TAGS = {
  ...SNAPSHOT_TAGS,
  sourceSnapshot: "reflex:source-snapshot",
  sourceRegion: "reflex:source-region",
  // The instance a restore side by side launches again (restore's plan reads them).
  image: "reflex:image-id",
  instanceType: "reflex:instance-type",
  zone: "reflex:availability-zone",
  subnet: "reflex:subnet-id",
  rootDevice: "reflex:root-device",
} as const;

export interface Target {
  instanceId: string;
  name?: string;
  state?: string;
  volumes: Array<{ volumeId: string; device?: string }>;
  /** What a restore needs to launch the instance again beside it (AMI, type, zone, subnet, root device). */
  launch?: { imageId?: string; instanceType?: string; zone?: string; subnetId?: string; rootDevice?: string };
}
export interface PruneCandidate {
  snapshotId: string;
  volumeId: string;
  region: string;
  startTime: string;
  retainUntil: string;
  reason: string;
}
export interface Plan {
  region: string;
  targets: Target[];
  /** Selected instances this run leaves alone: another run holds their lock. */
  skipped?: Array<{ instanceId: string; name?: string; reason: string }>;
  create: Array<{ instanceId: string; volumeId: string }>;
  copyTo?: string;
  prune: PruneCandidate[];
  cap: number;
}
export interface TargetResult {
  instanceId: string;
  /** `aborted`: a person aborted the run before this target started. */
  status: "started" | "failed" | "aborted";
  snapshots?: Array<{ snapshotId: string; volumeId: string }>;
  error?: string;
  cause?: string;
}
export interface SnapshotProgress {
  snapshotId: string;
  volumeId: string;
  instanceId: string;
  state: string;
  progress?: string;
}
export interface Progress {
  done: boolean;
  timedOut: boolean;
  snapshots: SnapshotProgress[];
}

type Input = RunInput<BackupParams> & {
  plan?: Plan;
  snapshots?: TargetResult[];
  progress?: Progress;
  copies?: CopyResult[];
  pruned?: PruneResult;
  failure?: { Error?: string; Cause?: string };
};

const regionOf = (p: BackupParams) => p.region ?? defaultRegion();

/**
 * Selects the instances, checks the blast-radius cap, and plans what would be created and
 * pruned. Read-only: this is all a dry-run does.
 */
export async function plan(input: Input, ctx: StepContext & { maxTargets?: number }): Promise<Plan> {
  const { params } = input;
  const region = regionOf(params);
  const instances = await findInstances(region, params.selector);
  const cap = ctx.maxTargets ?? 50;
  if (instances.length === 0) {
    throw new StepExecutionError(
      "NoTargets",
      `selector ${JSON.stringify(params.selector)} matched no instances in ${region}`,
    );
  }
  if (instances.length > cap) {
    throw new StepExecutionError(
      "BlastRadiusExceeded",
      `selector matched ${instances.length} instances, more than the cap of ${cap}; narrow the selector or raise guardrails.maxTargetsPerRun`,
    );
  }
  const selected: Target[] = instances.map((i) => ({
    instanceId: must(i.InstanceId, "i.InstanceId"),
    name: tagValue(i.Tags, "Name"),
    state: i.State?.Name,
    volumes: (i.BlockDeviceMappings ?? [])
      .filter((m) => m.Ebs?.VolumeId)
      .map((m) => ({
        volumeId: must(must(m.Ebs, "m.Ebs").VolumeId, "m.Ebs.VolumeId"),
        device: m.DeviceName,
      })),
    launch: {
      imageId: i.ImageId,
      instanceType: i.InstanceType,
      zone: i.Placement?.AvailabilityZone,
      subnetId: i.SubnetId,
      rootDevice: i.RootDeviceName,
    },
  }));
  // One lock per instance, whatever selector named it: two backups never snapshot one
  // instance at once. An instance another run holds is skipped and reported. A dry-run
  // changes nothing and locks nothing.
  const skipped: NonNullable<Plan["skipped"]> = [];
  let targets = selected;
  if (!ctx.dryRun) {
    const { locked } = await ctx.lockTargets(selected.map((t) => `instance:${t.instanceId}`));
    const lockedBy = new Map(locked.map((l) => [l.target.slice("instance:".length), l.holder]));
    targets = selected.filter((t) => !lockedBy.has(t.instanceId));
    for (const t of selected.filter((t) => lockedBy.has(t.instanceId))) {
      skipped.push({
        instanceId: t.instanceId,
        name: t.name,
        reason: `skipped: locked by run ${lockedBy.get(t.instanceId) ?? "(another run)"}`,
      });
    }
    if (targets.length === 0) {
      await Executions.setResult(ctx.executionId, { plan: { region, targets: [], skipped } });
      throw new StepExecutionError(
        "TargetsLocked",
        `every selected instance is being acted on by another run: ${skipped.map((s) => `${s.instanceId} (${s.reason})`).join(", ")}`,
      );
    }
  }
  const volumeIds = targets.flatMap((t) => t.volumes.map((v) => v.volumeId));
  const regions = params.copyToRegion ? [region, params.copyToRegion] : [region];
  const prune = (await Promise.all(regions.map((r) => planPrune(r, volumeIds, params, ctx, true)))).flat();
  const result: Plan = {
    region,
    targets,
    create: targets.flatMap((t) =>
      t.volumes.map((v) => ({ instanceId: t.instanceId, volumeId: v.volumeId })),
    ),
    copyTo: params.copyToRegion,
    prune,
    cap,
    ...(skipped.length ? { skipped } : {}),
  };
  await Executions.setResult(ctx.executionId, { plan: result });
  return result;
}

/**
 * The snapshots past retention that Reflex made of these volumes: never one without Reflex's
 * tags, never one of the newest `keepLast` completed per volume (this run's new snapshots are
 * the newest, so they are always kept; retention is not even reached for them). A dry-run
 * plans before the new snapshots exist: `anticipateNew` counts each volume's coming snapshot
 * as one of those kept, so the plan lists what the real run would delete.
 */
export async function planPrune(
  region: string,
  volumeIds: string[],
  params: BackupParams,
  ctx: StepContext,
  anticipateNew: boolean,
): Promise<PruneCandidate[]> {
  if (volumeIds.length === 0) return [];
  const snapshots = await findSnapshots(region, [
    { Name: `tag:${ctx.automationTag.key}`, Values: [ctx.automationTag.value] },
    { Name: `tag:${TAGS.runbook}`, Values: [RUNBOOK] },
  ]);
  const wanted = new Set(volumeIds);
  const byVolume = new Map<string, typeof snapshots>();
  for (const s of snapshots) {
    // Copies in the DR region carry their source volume in a tag (their VolumeId is a placeholder in AWS).
    const volume = tagValue(s.Tags, TAGS.volume) ?? s.VolumeId ?? "";
    if (!wanted.has(volume) || s.State !== "completed") continue;
    byVolume.set(volume, [...(byVolume.get(volume) ?? []), s]);
  }
  const now = ctx.now().getTime();
  const out: PruneCandidate[] = [];
  for (const [volumeId, list] of byVolume) {
    list.sort((a, b) => (b.StartTime?.getTime() ?? 0) - (a.StartTime?.getTime() ?? 0));
    for (const s of list.slice(anticipateNew ? params.keepLast - 1 : params.keepLast)) {
      const retainUntil = tagValue(s.Tags, TAGS.retainUntil);
      if (!retainUntil || Number.isNaN(Date.parse(retainUntil)) || Date.parse(retainUntil) > now) continue;
      out.push({
        snapshotId: must(s.SnapshotId, "s.SnapshotId"),
        volumeId,
        region,
        startTime: s.StartTime?.toISOString() ?? "",
        retainUntil,
        reason: `retained until ${retainUntil}, and ${params.keepLast} newer snapshot(s) of ${volumeId} are kept`,
      });
    }
  }
  return out;
}

function snapshotTags(
  ctx: StepContext,
  params: BackupParams,
  instanceId: string,
  name: string | undefined,
  volumeId: string,
  device?: string,
  launch?: Target["launch"],
): Tag[] {
  const retainUntil = new Date(ctx.now().getTime() + params.retainDays * 86_400_000).toISOString();
  return [
    { Key: "Name", Value: `reflex-${name ?? instanceId}-${volumeId}` },
    { Key: ctx.automationTag.key, Value: ctx.automationTag.value },
    { Key: TAGS.runbook, Value: RUNBOOK },
    { Key: TAGS.execution, Value: ctx.executionId },
    { Key: TAGS.instance, Value: instanceId },
    { Key: TAGS.volume, Value: volumeId },
    { Key: TAGS.retainUntil, Value: retainUntil },
    // What a restore needs to put the volume back where it was (restore's plan reads it).
    ...(device ? [{ Key: TAGS.device, Value: device }] : []),
    ...(
      [
        [TAGS.image, launch?.imageId],
        [TAGS.instanceType, launch?.instanceType],
        [TAGS.zone, launch?.zone],
        [TAGS.subnet, launch?.subnetId],
        [TAGS.rootDevice, launch?.rootDevice],
      ] as const
    ).flatMap(([Key, Value]) => (Value ? [{ Key, Value }] : [])),
  ];
}

/** Snapshots every volume of one instance (a Map iteration). Safe to repeat. */
export async function snapshotInstance(
  input: { execution: Input["execution"]; params: BackupParams; target: Target; region: string },
  ctx: StepContext,
): Promise<TargetResult> {
  const { target, region, params } = input;
  const snapshots = await snapshotVolumes({
    region,
    executionId: ctx.executionId,
    instanceId: target.instanceId,
    volumes: target.volumes,
    description: (v) =>
      `Reflex backup of ${target.instanceId} ${v.device ?? ""} (execution ${ctx.executionId})`.trim(),
    tags: (v) =>
      snapshotTags(ctx, params, target.instanceId, target.name, v.volumeId, v.device, target.launch),
  });
  return { instanceId: target.instanceId, status: "started", snapshots };
}

/** Polls the run's snapshots; done when none is pending, or when the timeout has passed. */
export async function checkSnapshots(input: Input, ctx: StepContext): Promise<Progress> {
  const region = input.plan?.region ?? regionOf(input.params);
  const started = (input.snapshots ?? []).flatMap((t) =>
    (t.snapshots ?? []).map((s) => ({ ...s, instanceId: t.instanceId })),
  );
  const found = started.length
    ? await findSnapshots(region, [{ Name: `tag:${TAGS.execution}`, Values: [ctx.executionId] }])
    : [];
  const byId = new Map(found.map((s) => [s.SnapshotId, s]));
  const snapshots: SnapshotProgress[] = started.map((s) => {
    const seen = byId.get(s.snapshotId);
    return { ...s, state: seen?.State ?? "missing", progress: seen?.Progress };
  });
  const pending = snapshots.some((s) => s.state === "pending");
  const elapsed = ctx.now().getTime() - Date.parse(input.execution.startedAt);
  const timedOut = pending && elapsed > input.params.timeoutMinutes * 60_000;
  return { done: !pending || timedOut, timedOut, snapshots };
}

export interface CopyResult {
  sourceSnapshotId: string;
  snapshotId?: string;
  region: string;
  error?: string;
}

/** Copies each completed snapshot to the DR region. Safe to repeat (finds earlier copies by tag). */
export async function copyToRegion(input: Input, ctx: StepContext): Promise<CopyResult[]> {
  const dest = input.params.copyToRegion;
  const source = input.plan?.region ?? regionOf(input.params);
  if (!dest) return [];
  const existing = await findSnapshots(dest, [{ Name: `tag:${TAGS.execution}`, Values: [ctx.executionId] }]);
  const out: CopyResult[] = [];
  for (const s of input.progress?.snapshots ?? []) {
    if (s.state !== "completed") continue;
    const already = existing.find((e) => tagValue(e.Tags, TAGS.sourceSnapshot) === s.snapshotId);
    if (already) {
      out.push({ sourceSnapshotId: s.snapshotId, snapshotId: already.SnapshotId, region: dest });
      continue;
    }
    try {
      const copy = await ec2(dest).send(
        new CopySnapshotCommand({
          SourceRegion: source,
          SourceSnapshotId: s.snapshotId,
          Description: `Reflex DR copy of ${s.snapshotId} from ${source}`,
          TagSpecifications: [
            {
              ResourceType: "snapshot",
              Tags: [
                ...snapshotTags(ctx, input.params, s.instanceId, undefined, s.volumeId),
                { Key: TAGS.sourceSnapshot, Value: s.snapshotId },
                { Key: TAGS.sourceRegion, Value: source },
              ],
            },
          ],
        }),
      );
      out.push({ sourceSnapshotId: s.snapshotId, snapshotId: copy.SnapshotId, region: dest });
    } catch (err) {
      // One failed copy is reported against its snapshot; the others still go. A transient
      // error is the state machine's to retry, never one copy's failure.
      if (isTransient(err)) throw err;
      out.push({ sourceSnapshotId: s.snapshotId, region: dest, error: describeError(err) });
    }
  }
  return out;
}

export interface PruneResult {
  deleted: PruneCandidate[];
  failed: Array<PruneCandidate & { error: string }>;
}

/** Deletes the snapshots past retention (re-planned now, with this run's snapshots in place). */
export async function prune(input: Input, ctx: StepContext): Promise<PruneResult> {
  const region = input.plan?.region ?? regionOf(input.params);
  const volumeIds = (input.plan?.targets ?? []).flatMap((t) => t.volumes.map((v) => v.volumeId));
  const regions = input.params.copyToRegion ? [region, input.params.copyToRegion] : [region];
  const candidates = (
    await Promise.all(regions.map((r) => planPrune(r, volumeIds, input.params, ctx, false)))
  ).flat();
  const result: PruneResult = { deleted: [], failed: [] };
  for (const c of candidates) {
    try {
      await ec2(c.region).send(new DeleteSnapshotCommand({ SnapshotId: c.snapshotId }));
      result.deleted.push(c);
    } catch (err) {
      if (isNotFound(err)) {
        result.deleted.push(c); // already gone: the effect we wanted
      } else if (isTransient(err)) {
        throw err;
      } else {
        result.failed.push({ ...c, error: describeError(err) });
      }
    }
  }
  return result;
}

export interface Report {
  targets: Array<{
    instanceId: string;
    name?: string;
    status: "succeeded" | "failed" | "skipped";
    snapshots: SnapshotProgress[];
    copies: CopyResult[];
    error?: string;
  }>;
  succeeded: number;
  failed: number;
  pruned: number;
  manifest?: string;
}

/** Writes the manifest to S3 and records per-target results on the execution. */
export async function report(input: Input, ctx: StepContext): Promise<Report> {
  const progress = input.progress?.snapshots ?? [];
  const copies = input.copies ?? [];
  const targets: Report["targets"] = (input.plan?.targets ?? []).map((t) => {
    const started = input.snapshots?.find((s) => s.instanceId === t.instanceId);
    const snaps = progress.filter((p) => p.instanceId === t.instanceId);
    const targetCopies = copies.filter((c) => snaps.some((s) => s.snapshotId === c.sourceSnapshotId));
    let error: string | undefined;
    if (!started || started.status === "failed")
      error = started?.cause ?? started?.error ?? "snapshot was not started";
    else if (snaps.some((s) => s.state === "pending"))
      error = `timed out after ${input.params.timeoutMinutes} min with snapshots still pending`;
    else if (snaps.some((s) => s.state !== "completed"))
      error = `snapshot ended in state ${snaps.find((s) => s.state !== "completed")?.state}`;
    else if (targetCopies.some((c) => c.error))
      error = `DR copy failed: ${targetCopies.find((c) => c.error)?.error}`;
    return {
      instanceId: t.instanceId,
      name: t.name,
      status: error ? "failed" : "succeeded",
      snapshots: snaps,
      copies: targetCopies,
      error,
    };
  });
  for (const s of input.plan?.skipped ?? []) {
    targets.push({
      instanceId: s.instanceId,
      name: s.name,
      status: "skipped",
      snapshots: [],
      copies: [],
      error: s.reason,
    });
  }
  const failed = targets.filter((t) => t.status === "failed").length;
  const skippedCount = targets.filter((t) => t.status === "skipped").length;
  const body = {
    runbook: RUNBOOK,
    executionId: ctx.executionId,
    params: input.params,
    region: input.plan?.region,
    finishedAt: ctx.now().toISOString(),
    targets,
    pruned: input.pruned ?? { deleted: [], failed: [] },
  };
  const bucket = requireEnv("REFLEX_BUCKET");
  const key = `manifests/${RUNBOOK}/${body.finishedAt.slice(0, 10)}/${ctx.executionId}.json`;
  await client(S3Client, "s3").send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: JSON.stringify(body, null, 2),
      ContentType: "application/json",
    }),
  );
  const out: Report = {
    targets,
    succeeded: targets.length - failed - skippedCount,
    failed,
    pruned: body.pruned.deleted.length,
    manifest: `s3://${bucket}/${key}`,
  };
  await Executions.setResult(ctx.executionId, {
    targets,
    pruned: body.pruned,
    manifest: out.manifest,
    summary: `${out.succeeded} of ${targets.length} instance(s) backed up${skippedCount ? `, ${skippedCount} skipped (locked by another run)` : ""}, ${out.pruned} expired snapshot(s) pruned`,
  });
  return out;
}

function describeError(err: unknown): string {
  const e = err as Error;
  return `${e?.name ?? "Error"}: ${e?.message ?? String(err)}`;
}

/** Used by rollback: this run's snapshots in a region, with their tags. */
export async function snapshotsOfExecution(region: string, executionId: string) {
  const found = await findSnapshots(region, [{ Name: `tag:${TAGS.execution}`, Values: [executionId] }]);
  return found.map((s) => ({
    snapshotId: must(s.SnapshotId, "s.SnapshotId"),
    state: s.State,
    tags: tagMap(s.Tags),
  }));
}
