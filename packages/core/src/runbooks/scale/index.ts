import { defineRunbook } from "../define.ts";
import { parseChange, SCALE_CAP, type ScaleParams, scaleParams } from "./params.ts";
import { scaleResult } from "./result.ts";
import { scaleStateMachine } from "./state-machine.ts";

/**
 * How many instances a run with these params may add, remove or touch, when the params
 * alone tell: `+N`/`-N` → N (at most `maxStep`, which the plan clamps to); a resize → 1.
 * `=N` and `±N%` depend on the group's current capacity, so they are undefined here and the
 * plan step enforces the cap once it has read the group.
 *
 * @example
 * blastRadius(scaleParams.parse({ autoScalingGroup: "web", change: "+2" })) // 2
 */
export function blastRadius(params: ScaleParams): number | undefined {
  if (params.mode === "vertical") return 1;
  const change = parseChange(params.change);
  if (!change || change.op === "=" || change.percent) return undefined;
  return Math.min(change.amount, params.maxStep);
}

/**
 * scale: horizontal (an Auto Scaling group's desired capacity, by +N/-N/=N/±N%, clamped to
 * the group's bounds, maxStep and the cap; scale-in held back until an alarm has been OK long
 * enough) or vertical (one instance's type: snapshot, stop, modify, start, verify).
 * See docs/runbooks/scale.md.
 */
export const scale = defineRunbook({
  name: "scale",
  summary: "Scale an Auto Scaling group's desired capacity, or resize one instance's type",
  // One value per runbook: horizontal changes are bounded and reversible (medium); a resize
  // stops the instance, but only one, tagged, with a snapshot first and a rollback.
  risk: "medium",
  params: scaleParams,
  example: { mode: "horizontal", autoScalingGroup: "web", change: "+2" },
  cap: { maxTargets: SCALE_CAP },
  permissions: [
    { actions: ["autoscaling:DescribeAutoScalingGroups"], mutating: false },
    {
      actions: ["ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeSnapshots"],
      mutating: false,
    },
    // Scale-in waits for an alarm to be OK; its state is read from CloudWatch when Reflex has not seen it change.
    {
      actions: ["cloudwatch:DescribeAlarms"],
      mutating: false,
      resources: ["arn:${Partition}:cloudwatch:*:${Account}:alarm:*"],
    },
    // Only groups carrying the automation tag (aws:ResourceTag) can be scaled.
    {
      actions: ["autoscaling:SetDesiredCapacity"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:autoscaling:*:${Account}:autoScalingGroup:*:autoScalingGroupName/*"],
    },
    {
      actions: ["ec2:StopInstances", "ec2:StartInstances"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
    },
    // A resize changes the instance type and nothing else (not user data, not the security groups).
    {
      actions: ["ec2:ModifyInstanceAttribute"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
      conditions: { StringLike: { "ec2:Attribute/InstanceType": "*" } },
    },
    // The pre-resize snapshot: the volume is read, the new snapshot must carry the automation tag.
    {
      actions: ["ec2:CreateSnapshot"],
      mutating: true,
      tagCondition: "none",
      resources: ["arn:${Partition}:ec2:*:${Account}:volume/*"],
      why: "A snapshot reads its source volume and changes nothing on it; the instance it belongs to is fenced by the automation tag before any resize step acts on it.",
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
      resources: ["arn:${Partition}:ec2:*::snapshot/*"],
      onCreate: ["CreateSnapshot"],
    },
    // Starting an instance whose volumes use a customer-managed KMS key: EC2 creates a grant on
    // the caller's behalf, and only then (kms:GrantIsForAWSResource).
    {
      actions: ["kms:CreateGrant"],
      mutating: true,
      tagCondition: "none",
      resources: ["arn:${Partition}:kms:*:${Account}:key/*"],
      conditions: { Bool: { "kms:GrantIsForAWSResource": "true" } },
      during: ["ec2:StartInstances"],
    },
  ],
  rollback: ["restoreCapacity", "restoreInstanceType"],
  dryRun:
    "Reads the group (or the instance and instance types) and reports the plan: the capacity it would set and every limit that clamped it, or the resize it would do; no mutating call.",
  implementation: () => import("./handlers.ts").then((m) => m.scaleSteps),
  services: ["autoscaling", "ec2"],
  result: scaleResult,
  stateMachine: scaleStateMachine,
  locks: (p) => [p.mode === "vertical" ? `instance:${p.instanceId}` : `asg:${p.autoScalingGroup}`],
  blastRadius,
});
