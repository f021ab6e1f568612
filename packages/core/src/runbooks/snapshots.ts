/**
 * The one snapshot helper every runbook that snapshots uses (backup-snapshot, patch): EBS
 * snapshots of an instance's volumes, tagged with the execution and their source, made once per
 * execution: a retried step finds the snapshots it made before (by the execution and instance
 * tags) and never makes a second one.
 */
import { CreateSnapshotCommand, type Tag } from "@aws-sdk/client-ec2";
import { ec2, findSnapshots } from "../adapters/ec2.ts";
import { must } from "../errors.ts";

/** Tags Reflex puts on the snapshots it makes. */
export const SNAPSHOT_TAGS = {
  runbook: "reflex:runbook",
  execution: "reflex:execution-id",
  instance: "reflex:source-instance",
  volume: "reflex:source-volume",
  retainUntil: "reflex:retain-until",
  device: "reflex:device",
} as const;

export interface SnapshotRequest {
  region: string;
  executionId: string;
  instanceId: string;
  volumes: Array<{ volumeId: string; device?: string }>;
  /** The description of one volume's snapshot. */
  description(volume: { volumeId: string; device?: string }): string;
  /** The tags of one volume's snapshot; must include the execution and instance tags. */
  tags(volume: { volumeId: string; device?: string }): Tag[];
}

/**
 * Snapshots each volume, unless this execution already has a snapshot of it. Safe to repeat.
 *
 * @example
 * const made = await snapshotVolumes({ region, executionId, instanceId, volumes: [{ volumeId }],
 *   description: () => "pre-patch root volume", tags: (v) => [...] });
 */
export async function snapshotVolumes(
  req: SnapshotRequest,
): Promise<Array<{ snapshotId: string; volumeId: string }>> {
  const existing = await findSnapshots(req.region, [
    { Name: `tag:${SNAPSHOT_TAGS.execution}`, Values: [req.executionId] },
    { Name: `tag:${SNAPSHOT_TAGS.instance}`, Values: [req.instanceId] },
  ]);
  const out: Array<{ snapshotId: string; volumeId: string }> = [];
  for (const v of req.volumes) {
    const already = existing.find((s) => s.VolumeId === v.volumeId);
    if (already) {
      out.push({ snapshotId: must(already.SnapshotId, "already.SnapshotId"), volumeId: v.volumeId });
      continue;
    }
    const made = await ec2(req.region).send(
      new CreateSnapshotCommand({
        VolumeId: v.volumeId,
        Description: req.description(v),
        TagSpecifications: [{ ResourceType: "snapshot", Tags: req.tags(v) }],
      }),
    );
    out.push({ snapshotId: must(made.SnapshotId, "made.SnapshotId"), volumeId: v.volumeId });
  }
  return out;
}

/** The state of snapshots by id (`missing` for one not found). */
export async function snapshotStates(region: string, snapshotIds: string[]): Promise<Record<string, string>> {
  if (snapshotIds.length === 0) return {};
  const found = await findSnapshots(region, [{ Name: "snapshot-id", Values: snapshotIds }]);
  const out: Record<string, string> = Object.fromEntries(snapshotIds.map((id) => [id, "missing"]));
  for (const s of found) out[must(s.SnapshotId, "s.SnapshotId")] = s.State ?? "missing";
  return out;
}
