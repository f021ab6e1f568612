import { defineRunbook } from "../define.ts";
import { replaceRootPermissions } from "../permissions.ts";
import { patchParams } from "./params.ts";
import { patchResult } from "./result.ts";
import { patchStateMachine } from "./state-machine.ts";

/**
 * patch: AWS-RunPatchBaseline (Install) across instances, with SSM-style rate control
 * (maxConcurrency, maxErrors), a pre-patch root-volume snapshot per instance, load-balancer
 * draining and re-registration, and rollback of a failed instance to its snapshot. One child
 * execution per instance (Distributed Map). See docs/runbooks/patch.md.
 */
export const patch = defineRunbook({
  name: "patch",
  summary:
    "Patch instances with AWS-RunPatchBaseline, rate-controlled, with pre-patch snapshots, draining and rollback",
  risk: "medium",
  params: patchParams,
  example: { selector: { tag: { PatchGroup: "batch" } }, maxConcurrency: "50%", maxErrors: "0" },
  cap: { maxTargets: 5000 },
  permissions: [
    {
      actions: [
        "ec2:DescribeInstances",
        "ec2:DescribeSnapshots",
        "ec2:DescribeInstanceStatus",
        "ec2:DescribeReplaceRootVolumeTasks",
        "autoscaling:DescribeAutoScalingGroups",
        "ssm:DescribeInstanceInformation",
        "ssm:GetCommandInvocation",
        "ssm:DescribeInstancePatchStates",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
      ],
      mutating: false,
    },
    // CreateSnapshot is authorized against the root volume (the user's, untagged by Reflex)
    // and the new snapshot, which must carry the automation tag.
    {
      actions: ["ec2:CreateSnapshot"],
      mutating: true,
      tagCondition: "none",
      resources: ["arn:${Partition}:ec2:*:${Account}:volume/*"],
      why: "The pre-patch snapshot reads the root volume and changes nothing on it.",
    },
    {
      actions: ["ec2:CreateSnapshot"],
      mutating: true,
      tagCondition: "request",
      resources: ["arn:${Partition}:ec2:*::snapshot/*"],
    },
    {
      actions: ["ec2:CreateTags"],
      mutating: true,
      tagCondition: "request",
      resources: [
        "arn:${Partition}:ec2:*::snapshot/*",
        "arn:${Partition}:ec2:*:${Account}:replace-root-volume-task/*",
      ],
      onCreate: ["CreateSnapshot", "CreateReplaceRootVolumeTask"],
    },
    // Reboots and root-volume replacements only on instances carrying the automation tag, from
    // snapshots carrying it (Reflex's pre-patch snapshots); the task is created tagged.
    {
      actions: ["ec2:RebootInstances"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
    },
    ...replaceRootPermissions(),
    // SendCommand is authorized against the document and each instance: the document is AWS's
    // own (untagged) patch baseline document, named exactly; instances must carry the tag.
    {
      actions: ["ssm:SendCommand"],
      mutating: true,
      tagCondition: "none",
      resources: ["arn:${Partition}:ssm:*::document/AWS-RunPatchBaseline"],
      why: "The document half of SendCommand: AWS-RunPatchBaseline, named exactly, is the only document it may run.",
    },
    {
      actions: ["ssm:SendCommand"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
    },
    // CancelCommand has no resource type (Service Authorization Reference): granted on an
    // instance ARN it is always AccessDenied, and a timed-out patch would keep running.
    {
      actions: ["ssm:CancelCommand"],
      mutating: true,
      tagCondition: "none",
      wildcardOnly: true,
      why: "ssm:CancelCommand has no resource type in the Service Authorization Reference, so AWS requires Resource '*': the role can cancel any Run Command command in the account (it cannot start one); the step cancels only the command it sent.",
    },
    {
      actions: ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:elasticloadbalancing:*:${Account}:targetgroup/*/*"],
    },
    {
      actions: ["s3:PutObject"],
      mutating: true,
      resources: ["${ReportsBucketArn}/reports/*"],
      tagCondition: "none",
    },
  ],
  // Steps that finish or undo what was started; they also run after a person aborts the run.
  rollback: ["rollbackTarget", "checkRollback", "finishTarget", "report"],
  dryRun:
    "Selects the instances, checks each is running and SSM-managed, and lists the batches it would patch at maxConcurrency; no mutating call.",
  implementation: () => import("./handlers.ts").then((m) => m.patchSteps),
  services: ["ec2", "ssm", "autoscaling", "elbv2"],
  result: patchResult,
  stateMachine: patchStateMachine,
  blastRadius: (p) => p.selector.instanceIds?.length,
});
