/**
 * off-hours: stops tagged instances and Auto Scaling groups outside their schedule's hours and
 * starts them again inside them, in each schedule's time zone. A target names its schedule with
 * the off-hours tag (`reflex:off-hours=office`); `never` opts it out. Each tick reconciles: it
 * computes what every target should be now and acts on the changes Reflex owns, so a tick
 * missed while Reflex was down catches up at the next one. Overrides (`keep i-… until 22:00`)
 * expire by themselves. Savings are estimated from a price table the user owns.
 *
 * Written only against @reflex/sdk; listed in a config with `runbooks: [offHours]` and an
 * `offHours:` key (see ./reflex.config.ts and docs/runbooks/off-hours.md).
 */
import { approvalStates, defineRunbook, RETRY_ROLLBACK, RETRY_STEP, stepTask } from "@reflex/sdk";
import { z } from "zod";
import { savingsReport } from "./savings.ts";
import { type OffHours, offHoursSchema } from "./schedule.ts";

const R = "off-hours";

/** `i-…` for an instance, `asg:<name>` for an Auto Scaling group. */
export const targetId = z
  .string()
  .regex(
    /^(i-[0-9a-f]{8,17}|asg:[A-Za-z0-9._-]{1,255})$/,
    "must be an instance id (i-…) or asg:<group name>",
  );

export const params = z
  .object({
    /**
     * `reconcile` (a tick: every target to what its schedule wants now), `stop` / `start` (the
     * named targets now, whatever the schedule says), `keep` (an override: keep them running
     * until a time), `release` (cancel an override), `preview` (a schedule's next transitions
     * and what each tick would do; changes nothing).
     */
    action: z.enum(["reconcile", "stop", "start", "keep", "release", "preview"]).default("reconcile"),
    /** Only this schedule's targets (a tick names its own). */
    schedule: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "must be a schedule name")
      .optional(),
    /** The targets `stop`, `start`, `keep` and `release` act on. */
    targets: z.array(targetId).min(1).max(50).optional(),
    /** Judge the schedules at this instant instead of the run's start (a rehearsal). */
    at: z.iso.datetime({ offset: true, message: "must be an ISO 8601 instant" }).optional(),
    /** `keep`: until this local time in the target's schedule zone (`22:00`), or an ISO instant. */
    until: z.string().max(40).optional(),
    /** `keep`: for this long from now (`3h`, `90m`). */
    for: z
      .string()
      .regex(/^\d{1,5}(m|h|d)$/, "must be a duration such as 3h or 90m")
      .optional(),
    /** `preview`: how many upcoming transitions to show (default 4). */
    transitions: z.number().int().min(1).max(28).optional(),
    /** `keep`: start the targets now if they are stopped. */
    start: z.boolean().default(false),
    /** Set by admission during a change freeze (`duringFreeze: start-only`): starts only, stops suppressed, this says why. */
    startsOnly: z.string().max(300).optional(),
    /** Why (required for `keep`; audited with the override). */
    reason: z.string().trim().min(1).max(500).optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const needsTargets = ["stop", "start", "keep", "release"].includes(p.action);
    if (p.action === "preview" && !p.schedule)
      ctx.addIssue({ code: "custom", path: ["schedule"], message: "preview needs a schedule" });
    if (p.transitions !== undefined && p.action !== "preview")
      ctx.addIssue({ code: "custom", path: ["transitions"], message: "transitions is for preview only" });
    if (needsTargets && !p.targets)
      ctx.addIssue({ code: "custom", path: ["targets"], message: `${p.action} needs targets` });
    if (p.action === "keep") {
      if ((p.until === undefined) === (p.for === undefined))
        ctx.addIssue({ code: "custom", path: ["until"], message: "keep needs one of until or for" });
      if (!p.reason) ctx.addIssue({ code: "custom", path: ["reason"], message: "keep needs a reason" });
      if (p.until !== undefined && !/^([01]\d|2[0-3]):[0-5]\d$/.test(p.until)) {
        const t = Date.parse(p.until);
        if (!/^\d{4}-\d{2}-\d{2}T/.test(p.until) || !Number.isFinite(t))
          ctx.addIssue({
            code: "custom",
            path: ["until"],
            message: "must be HH:MM (the target's schedule zone) or an ISO instant",
          });
        else if (t <= Date.now())
          ctx.addIssue({ code: "custom", path: ["until"], message: `${p.until} is in the past` });
      }
    } else if (p.until !== undefined || p.for !== undefined)
      ctx.addIssue({ code: "custom", path: ["until"], message: "until and for are for keep only" });
  });
export type OffHoursParams = z.output<typeof params>;

/** The tag an Auto Scaling group's capacity is recorded in when off-hours stops it. */
export const CAPACITY_TAG = "reflex:off-hours-capacity";

const ROLL_BACK = [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Rollback" }];

export const offHours = defineRunbook({
  name: R,
  summary:
    "Stop tagged instances and Auto Scaling groups outside their schedule's hours (in its time zone) and start them again, with overrides that expire",
  risk: "medium",
  params,
  example: { action: "reconcile", schedule: "office" },
  // Rate control: a tick acts on at most this many targets; the next tick goes on.
  cap: { maxTargets: 500 },
  services: ["ec2", "autoscaling"],
  config: { offHours: offHoursSchema },
  // GET /api/offhours/savings (and /api/runbooks/off-hours/reports/savings): what the stops saved.
  reports: { savings: savingsReport },
  // In a freeze a tick only starts (duringFreeze: start-only, the default), or is refused (nothing).
  duringFreeze: (p, freeze, config) =>
    p.action === "reconcile" &&
    ((config.offHours as OffHours | undefined)?.duringFreeze ?? "start-only") === "start-only"
      ? { ...p, startsOnly: `change freeze '${freeze.name}' until ${freeze.to}` }
      : undefined,
  // One tick per schedule (`off-hours-<schedule>`), each a start through admit().
  schedules: (config) =>
    ((config.offHours as OffHours | undefined)?.schedules ?? []).map((s) => ({
      name: `off-hours-${s.name}`,
      cron: (config.offHours as OffHours).tick,
      with: { action: "reconcile", schedule: s.name },
    })),
  permissions: [
    { actions: ["ec2:DescribeInstances", "autoscaling:DescribeAutoScalingGroups"], mutating: false },
    {
      actions: ["ec2:StopInstances", "ec2:StartInstances"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
    },
    {
      actions: ["autoscaling:UpdateAutoScalingGroup"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:autoscaling:*:${Account}:autoScalingGroup:*:autoScalingGroupName/*"],
    },
    // The group's recorded capacity, and nothing else: only the capacity tag may be written.
    {
      actions: ["autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:autoscaling:*:${Account}:autoScalingGroup:*:autoScalingGroupName/*"],
      conditions: { "ForAllValues:StringEquals": { "aws:TagKeys": [CAPACITY_TAG] } },
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
    // The monthly savings report (monthly-report.ts), and nothing else in the bucket.
    {
      actions: ["s3:PutObject"],
      mutating: true,
      resources: ["${ReportsBucketArn}/reports/offhours/*"],
      tagCondition: "none",
    },
  ],
  rollback: ["rollback"],
  dryRun:
    "Reads the tagged instances and groups and reports, for each, what the tick would do and why (stop: off hours since…; start; left alone: opted out, unknown schedule, no automation tag, override until…); no mutating call and no override written.",
  stateMachine: {
    StartAt: "Route",
    States: {
      Route: {
        Type: "Choice",
        Choices: [
          {
            Or: [
              { Variable: "$.params.action", StringEquals: "keep" },
              { Variable: "$.params.action", StringEquals: "release" },
            ],
            Next: "OverrideApprovalNeeded",
          },
        ],
        Default: "Plan",
      },
      // An override changes what later ticks do: it waits for a person when the policy asks.
      ...approvalStates(R, "Override", "OverrideApproval"),
      Override: stepTask(R, "override", { ResultPath: "$.override", Retry: RETRY_STEP, Next: "Done" }),
      Plan: stepTask(R, "plan", { ResultPath: "$.plan", Retry: RETRY_STEP, Next: "IsDryRun" }),
      IsDryRun: {
        Type: "Choice",
        Choices: [{ Variable: "$.execution.dryRun", BooleanEquals: true, Next: "Done" }],
        Default: "ApprovalNeeded",
      },
      // A person approves the plan when the policy asks: nothing before this changes anything.
      ...approvalStates(R, "Apply"),
      Apply: stepTask(R, "apply", {
        ResultPath: "$.applied",
        Retry: RETRY_STEP,
        Catch: ROLL_BACK,
        Next: "Done",
      }),
      // A run that fails part-way starts again what it stopped: off-hours fails towards running.
      Rollback: stepTask(R, "rollback", { ResultPath: "$.rollback", Retry: RETRY_ROLLBACK, Next: "Failed" }),
      Failed: {
        Type: "Fail",
        Error: "OffHoursFailed",
        Cause: "A target could not be changed; what this run had stopped was started again.",
      },
      Done: { Type: "Succeed" },
    },
  },
  // keep / release: untagged targets, an unknown schedule, an end past or beyond maxOverride are
  // a 400 naming the param before anything is written.
  precheck: () => import("./precheck.ts").then((m) => m.precheck),
  // What the precheck reads (discover), granted to the admitting functions' roles.
  precheckPermissions: [
    { actions: ["ec2:DescribeInstances", "autoscaling:DescribeAutoScalingGroups"], mutating: false },
  ],
  implementation: () => import("./steps.ts").then((m) => m.implementation),
});
