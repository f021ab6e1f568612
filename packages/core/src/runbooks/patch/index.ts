import { defineRunbook } from "../define.ts";
import { patchParams } from "./params.ts";
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
    // The pre-patch snapshot is scoped by the tags it must carry.
    { actions: ["ec2:CreateSnapshot", "ec2:CreateTags"], mutating: true, tagCondition: "request" },
    {
      actions: ["ec2:RebootInstances", "ec2:CreateReplaceRootVolumeTask"],
      mutating: true,
      tagCondition: "resource",
    },
    // SendCommand authorizes the document and each instance. The stacks require every mutating
    // SSM action to be tag-scoped, so both are declared under the automation tag; AWS's own
    // AWS-RunPatchBaseline carries no tags, so a deployed stack needs a per-resource-type
    // exemption for it (see docs/runbooks/patch.md, "IAM").
    {
      actions: ["ssm:SendCommand", "ssm:CancelCommand"],
      mutating: true,
      resources: ["arn:aws:ssm:*::document/AWS-RunPatchBaseline", "arn:aws:ec2:*:*:instance/*"],
      tagCondition: "resource",
    },
    {
      actions: ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
      mutating: true,
      resources: ["arn:aws:elasticloadbalancing:*:*:targetgroup/*/*"],
      tagCondition: "resource",
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
  stateMachine: patchStateMachine,
  blastRadius: (p) => p.selector.instanceIds?.length,
});
