/**
 * Permission statements more than one runbook declares, in one place, so IAM for one API never
 * drifts between runbooks (patch and restore both replace root volumes).
 */
import type { Permission } from "./define.ts";

/**
 * `CreateReplaceRootVolumeTask`, as least privilege: IAM authorizes it against the instance, the
 * snapshot and the new task, so three statements — only on an instance carrying the automation
 * tag, only from a snapshot carrying it (a Reflex snapshot), the task created tagged. Add the
 * task's `ec2:CreateTags` (onCreate) and `ec2:DescribeReplaceRootVolumeTasks` to your own.
 *
 * @example
 * permissions: [...replaceRootPermissions(), { actions: ["ec2:DescribeReplaceRootVolumeTasks"], mutating: false }]
 */
export function replaceRootPermissions(): Permission[] {
  return [
    {
      actions: ["ec2:CreateReplaceRootVolumeTask"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
    },
    {
      actions: ["ec2:CreateReplaceRootVolumeTask"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*::snapshot/*"],
    },
    {
      actions: ["ec2:CreateReplaceRootVolumeTask"],
      mutating: true,
      tagCondition: "request",
      resources: ["arn:${Partition}:ec2:*:${Account}:replace-root-volume-task/*"],
    },
  ];
}
