import { defineRunbook } from "../define.ts";
import { backupParams } from "./params.ts";
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
    { actions: ["ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeSnapshots"], mutating: false },
    // CreateSnapshot is scoped by the tags it must carry (aws:RequestTag), not by the volume's.
    { actions: ["ec2:CreateSnapshot", "ec2:CopySnapshot"], mutating: true, tagCondition: "request" },
    { actions: ["ec2:CreateTags"], mutating: true, tagCondition: "request" },
    // Deletes only ever touch snapshots carrying the automation tag.
    { actions: ["ec2:DeleteSnapshot"], mutating: true, tagCondition: "resource" },
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
  stateMachine: backupStateMachine,
});
