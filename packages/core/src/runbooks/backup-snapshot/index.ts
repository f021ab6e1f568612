import { defineRunbook } from "../define.ts";
import { backupParams } from "./params.ts";
import { backupResult } from "./result.ts";
import { backupStateMachine } from "./state-machine.ts";

/**
 * backup-snapshot: EBS snapshots of every volume of the selected instances, tagged with the
 * execution, source and retention; optional DR copy; prunes expired Reflex-made snapshots;
 * writes a manifest to S3. See docs/runbooks/backup-snapshot.md.
 */
export const backupSnapshot = defineRunbook({
  name: "backup-snapshot",
  summary:
    "Snapshot the EBS volumes of selected instances, copy to a DR region, prune expired Reflex snapshots",
  risk: "low",
  params: backupParams,
  example: { selector: { tag: { Backup: "daily" } }, retainDays: 14, keepLast: 2 },
  cap: { maxTargets: 50 },
  permissions: [
    { actions: ["ec2:DescribeInstances", "ec2:DescribeSnapshots"], mutating: false },
    // CreateSnapshot is authorized against the source volume and the new snapshot. The volume
    // carries no request tags, so it gets its own statement (AWS's documented form); the snapshot
    // must be created carrying the automation tag.
    {
      actions: ["ec2:CreateSnapshot"],
      mutating: true,
      tagCondition: "none",
      resources: ["arn:${Partition}:ec2:*:${Account}:volume/*"],
      why: "A snapshot reads its source volume and changes nothing on it; backups select volumes by the user's own tags, so the source cannot be fenced by the automation tag.",
    },
    {
      actions: ["ec2:CreateSnapshot", "ec2:CopySnapshot"],
      mutating: true,
      tagCondition: "request",
      resources: ["arn:${Partition}:ec2:*::snapshot/*"],
    },
    // Tags go only on the snapshots this runbook creates, in the same call.
    {
      actions: ["ec2:CreateTags"],
      mutating: true,
      tagCondition: "request",
      resources: ["arn:${Partition}:ec2:*::snapshot/*"],
      onCreate: ["CreateSnapshot", "CopySnapshot"],
    },
    // Deletes only ever touch snapshots carrying the automation tag.
    {
      actions: ["ec2:DeleteSnapshot"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*::snapshot/*"],
    },
    {
      actions: ["s3:PutObject"],
      mutating: true,
      resources: ["${ReportsBucketArn}/manifests/*"],
      tagCondition: "none",
    },
  ],
  rollback: ["rollback"],
  dryRun:
    "Selects the instances and lists the snapshots it would create and the expired ones it would delete; no mutating call.",
  implementation: () => import("./handlers.ts").then((m) => m.backupSteps),
  services: ["ec2"],
  // A lost run's inspector lists the snapshots it left behind: read only.
  lostRun: { permissions: [{ actions: ["ec2:DescribeSnapshots"], mutating: false }] },
  result: backupResult,
  stateMachine: backupStateMachine,
});
