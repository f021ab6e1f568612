/**
 * restore: restores EBS volumes from a Reflex backup (the snapshots backup-snapshot made),
 * verifies them, and measures RTO and RPO; in drill mode (a `drills:` entry of the config)
 * it restores into isolation, verifies, measures against the drill's targets and deletes
 * everything it made.
 *
 * Picks the snapshots (one snapshot; the newest of a volume, or the newest complete backup
 * set of an instance, at or before a time; or a whole backup run), creates a volume of each
 * in the right availability zone (tagged on create), optionally attaches them to a scratch
 * instance and checksums each device through SSM Run Command, verifies state, size, zone and
 * tags, and records RTO (start → verified, per phase) and RPO (snapshot time → incident or
 * start). A failure after the first volume deletes what this run made (detached first).
 *
 * Written only against @reflex/sdk; listed in a config with `runbooks: [restore]`. See
 * docs/runbooks/restore.md.
 */
import {
  approvalStates,
  aws,
  cronSchema,
  defineRunbook,
  pollLoop,
  RETRY_ROLLBACK,
  RETRY_STEP,
  replaceRootPermissions,
  stepTask,
  timeZoneSchema,
  waitFor,
} from "@reflex/sdk";
import { z } from "zod";

const R = "restore";

const instanceId = z.string().regex(/^i-[0-9a-f]{8,17}$/, "must be an instance id (i-…)");
const at = z.iso
  .datetime({ offset: true })
  .describe("The newest backup at or before this instant (the incident); default now");

/** Where the data comes from: Reflex-made snapshots only (automation tag and reflex:runbook=backup-snapshot). */
export const sourceSchema = z.union([
  z
    .object({ snapshotId: z.string().regex(/^snap-[0-9a-f]{8,17}$/, "must be a snapshot id (snap-…)") })
    .strict(),
  z
    .object({
      volumeId: z.string().regex(/^vol-[0-9a-f]{8,17}$/, "must be a volume id (vol-…)"),
      at: at.optional(),
    })
    .strict(),
  z.object({ instanceId, at: at.optional() }).strict(),
  z
    .object({
      backupExecutionId: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, "must be an execution id"),
    })
    .strict(),
]);
export type RestoreSource = z.output<typeof sourceSchema>;

/**
 * A verify hook (AWS Backup's restore-validation Lambda, but a step of the run): a function name
 * or ARN, invoked with the restored resources, answering `{ verdict: passed|failed|timed-out, reason? }`.
 */
export const verifySchema = z
  .object({
    lambda: z
      .string()
      .regex(
        /^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$/,
        "must be a Lambda function name or ARN",
      ),
  })
  .strict();

/** Where a restore side by side launches a new instance: a subnet (not the source's) and its security groups. */
export const targetSchema = z
  .object({
    subnetId: z.string().regex(/^subnet-[0-9a-f]{8,17}$/, "must be a subnet id (subnet-…)"),
    securityGroupIds: z
      .array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, "must be a security group id (sg-…)"))
      .min(1)
      .max(5),
  })
  .strict();

/** A drill's `selector`: the tags its candidate instances carry (all of them), as AWS's tag limits allow. */
export const drillSelectorSchema = z
  .object({
    tag: z
      .record(z.string().min(1).max(128), z.string().max(256))
      .refine((t) => Object.keys(t).length >= 1 && Object.keys(t).length <= 50, {
        message: "1 to 50 tags, e.g. { Tier: 'db' }",
      }),
  })
  .strict();
export type DrillSelector = z.output<typeof drillSelectorSchema>;

const drillName = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, "must be kebab-case (a-z, 0-9, -)");

/** One drill (`drills:` in reflex.config.ts); run it with a schedule: `run: "restore", with: { drill: "<name>" }`. */
export const drillSchema = z
  .object({
    name: drillName,
    /** What the drill restores: one source (give `source` or `selector`, exactly one). */
    source: sourceSchema.optional(),
    /**
     * Instead of `source`: the instances carrying all these tags (`{ tag: { Tier: "db" } }`); each
     * run drills one of those with a completed Reflex backup. `pick: latest` takes the one this
     * drill picked longest ago (never first; then the one whose newest backup is oldest), so every
     * instance gets drilled in turn; `pick: random` one at random.
     */
    selector: drillSelectorSchema.optional(),
    /**
     * `{ subnetId, securityGroupIds }`: a new instance per drill, launched from the backup's AMI in
     * that (isolated) subnet and terminated at the end; or `{ instanceId }`: a standing scratch
     * instance (in an isolated subnet, tagged for automation) the restored volumes are attached to.
     */
    isolate: z.union([z.object({ instanceId }).strict(), targetSchema]),
    /** Which backup the drill restores: the newest (default), or one at random, as AWS Backup's restore testing picks, within `withinDays`. */
    pick: z.enum(["latest", "random"]).default("latest"),
    withinDays: z.number().int().min(1).max(365).default(30),
    /** Enable fast snapshot restore for the picked snapshots while the drill makes its volumes (RTO phase `fastRestore`); at most 5. */
    fastRestore: z.boolean().optional(),
    /** A verify hook: `failed` or `timed-out` makes the drill missed (its resources are deleted all the same). */
    verify: verifySchema.optional(),
    targets: z
      .object({
        rtoMinutes: z.number().positive().max(10_080),
        rpoMinutes: z.number().positive().max(525_600),
      })
      .strict(),
    /**
     * Hours the drill keeps what it restored after verifying, for your own checks (AWS Backup's
     * ValidationWindowHours, 0–168); the reconciler deletes it once they passed. 0 (default):
     * the drill deletes it at once.
     */
    keepFor: z
      .number()
      .int("must be a whole number of hours")
      .min(0, "must be 0 or more hours")
      .max(168, "must be at most 168 hours (7 days), as AWS Backup's validation window")
      .default(0),
    /** When the drill runs: an EventBridge Scheduler expression (`cron(0 4 ? * SUN *)`), as a schedule's; checked as one. */
    cron: cronSchema.optional(),
    /** The cron's IANA time zone (default UTC), as a schedule's. */
    timezone: timeZoneSchema.optional(),
  })
  .strict()
  .refine((d) => d.timezone === undefined || d.cron !== undefined, {
    path: ["timezone"],
    message: "a timezone is the cron's: give cron too",
  })
  .refine((d) => (d.source === undefined) !== (d.selector === undefined), {
    path: ["source"],
    message: "give exactly one of source and selector",
  })
  .refine(
    (d) =>
      !d.source ||
      !("instanceId" in d.source) ||
      !("instanceId" in d.isolate) ||
      d.source.instanceId !== d.isolate.instanceId,
    {
      path: ["isolate", "instanceId"],
      message: "a drill restores into a scratch instance, never into its source instance",
    },
  );
export type Drill = z.output<typeof drillSchema>;

export const drillsSchema = z.array(drillSchema).superRefine((drills, ctx) => {
  const seen = new Set<string>();
  drills.forEach((d, i) => {
    if (seen.has(d.name))
      ctx.addIssue({ code: "custom", path: [i, "name"], message: `drill '${d.name}' is named twice` });
    seen.add(d.name);
  });
});

export const params = z
  .object({
    source: sourceSchema.optional(),
    /** Run the drill of this name from the config (its source, scratch instance and targets); teardown at the end. */
    drill: drillName.optional(),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as us-east-1")
      .optional()
      .describe("Where the snapshots are (their region, or its DR copy's); default Reflex's region"),
    availabilityZone: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, "must be an availability zone such as us-east-1a")
      .optional()
      .describe("Default: the scratch instance's zone, else the source volume's, else the region's first"),
    attachTo: z
      .object({ instanceId })
      .strict()
      .optional()
      .describe("A scratch instance to attach the restored volumes to (never the source instance)"),
    target: targetSchema
      .optional()
      .describe(
        "Side by side as a new instance: launched from the backup's AMI into this subnet (never the source's), no public address, stopped, its volumes swapped for the restored ones, started",
      ),
    checksum: z
      .boolean()
      .default(true)
      .describe("With attachTo: sha256sum every restored device through SSM Run Command and record it"),
    verify: verifySchema
      .optional()
      .describe(
        "A Lambda invoked with the restored volumes, answering passed|failed|timed-out; not passed = the restore did not verify (deleted)",
      ),
    mode: z
      .enum(["side-by-side", "in-place"])
      .default("side-by-side")
      .describe(
        "side-by-side: new volumes beside the source (default); in-place: the instance's root volume replaced from its own backup (CreateReplaceRootVolumeTask), or with `device` a data volume swapped for a restored one; risk high",
      ),
    device: z
      .string()
      .regex(/^\/dev\/[a-z0-9]{2,12}$/, "must be a device name such as /dev/sdf")
      .optional()
      .describe(
        "In place: the device restored; a data volume (not the root) is swapped for one restored from its own backup (stop, detach, attach, start); default the root",
      ),
    instanceId: instanceId
      .optional()
      .describe(
        "In place with source.snapshotId: the instance whose root is replaced (default: the snapshot's)",
      ),
    fastRestore: z
      .boolean()
      .optional()
      .describe(
        "Side by side: enable fast snapshot restore for each snapshot in the zone, wait until enabled, create the (fully initialized) volumes, disable it again (it bills per snapshot-zone-hour); at most 5 snapshots",
      ),
  })
  .strict()
  .refine((p) => (p.source === undefined) !== (p.drill === undefined), {
    message: "give source (snapshotId, volumeId, instanceId or backupExecutionId) or drill, not both",
  })
  // A drill restores into its own isolate (the config's); a caller's attachTo would be ignored,
  // and a drill is low risk only because it stays isolated.
  .refine((p) => p.drill === undefined || p.attachTo === undefined, {
    path: ["attachTo"],
    message: "a drill restores into its isolate instance from the config: not with attachTo",
  })
  .refine((p) => p.target === undefined || (p.drill === undefined && p.attachTo === undefined), {
    path: ["target"],
    message:
      "target launches a new instance: not with attachTo (a scratch instance), nor with drill (its isolate)",
  })
  .refine(
    (p) =>
      p.mode !== "in-place" || (p.drill === undefined && p.attachTo === undefined && p.target === undefined),
    {
      path: ["mode"],
      message: "in place replaces the source instance's root: not with drill or attachTo",
    },
  )
  .refine(
    (p) =>
      p.mode !== "in-place" ||
      (p.source !== undefined && ("instanceId" in p.source || "snapshotId" in p.source)),
    {
      path: ["source"],
      message: "in place takes source.instanceId (its newest backup) or source.snapshotId",
    },
  )
  .refine((p) => p.verify === undefined || p.mode !== "in-place", {
    path: ["verify"],
    message: "a verify hook checks volumes restored side by side (or a drill's), not an in-place restore",
  })
  .refine((p) => !p.fastRestore || p.mode !== "in-place", {
    path: ["fastRestore"],
    message: "fast snapshot restore initializes volumes restored side by side (or a drill's), not in place",
  })
  .refine((p) => p.device === undefined || p.mode === "in-place", {
    path: ["device"],
    message: "device names the volume an in-place restore replaces (mode: in-place)",
  })
  .refine(
    (p) => p.instanceId === undefined || (p.mode === "in-place" && p.source && "snapshotId" in p.source),
    {
      path: ["instanceId"],
      message: "instanceId names the instance of an in-place restore from source.snapshotId",
    },
  );
export type RestoreParams = z.output<typeof params>;

const CLEANUP = [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Cleanup" }];
const PUT_BACK_DATA = [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "PutBackData" }];
const PUT_BACK = [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "PutBack" }];

/**
 * sha256sum of every restored device on the instance at `instancePath` (the scratch instance, or
 * the new one), through SSM Run Command: no Lambda. States `has` (only when the plan has a
 * checksum command), `name` and `Await<name>`, then Verify.
 */
function checksumStates(has: string, name: string, instancePath: string, comment: string) {
  return {
    [has]: {
      Type: "Choice",
      Choices: [{ Variable: "$.plan.checksumCommand", IsPresent: true, Next: name }],
      Default: "Verify",
    },
    [name]: aws(
      "ssm:sendCommand",
      {
        DocumentName: "AWS-RunShellScript",
        "InstanceIds.$": `States.Array(${instancePath})`,
        Parameters: { "commands.$": "States.Array($.plan.checksumCommand)" },
        Comment: comment,
      },
      { ResultPath: "$.checksum", Catch: CLEANUP, Next: `Await${name}` },
    ),
    ...waitFor("ssm:getCommandInvocation", "$.Status", "Success", {
      name: `Await${name}`,
      params: { "CommandId.$": "$.checksum.Command.CommandId", "InstanceId.$": instancePath },
      timeout: 600,
      interval: 5,
      failOn: ["Failed", "Cancelled", "TimedOut"],
      catch: CLEANUP,
      next: "Verify",
    }),
  };
}

const minutesOf = (ms: unknown) =>
  typeof ms === "number" ? Math.round((ms / 60_000) * 100) / 100 : undefined;

/**
 * One drill run as a row of `GET /api/drills` and `reflex drills`: the verdict, RTO and RPO
 * against the targets, the checksum result and what became of what it made (torn down by the
 * run, swept by the reconciler after the run was lost, or still pending).
 */
export function drillRow(run: {
  status: string;
  result?: Record<string, unknown>;
  error?: string;
  cause?: string;
  attention?: { reason: string; report?: unknown };
}): { verdict: string } & Record<string, unknown> {
  const v = run.result?.verification as
    | {
        passed: boolean;
        problems: string[];
        volumes: Array<{ checksum?: string }>;
        rtoMs: number;
        rpoMs: number;
        phases: Record<string, number>;
        targets?: { rto: string; rpo: string; rtoMinutes: number; rpoMinutes: number };
      }
    | undefined;
  type Instances = { terminated: string[]; untagged: string[] };
  const torn = run.result?.teardown as
    | { done: boolean; deleted: string[]; untagged: string[]; instances?: Instances }
    | undefined;
  const kept = run.result?.kept as
    | {
        until: string;
        hours: number;
        swept?: { deleted: string[]; untagged: string[]; left: string[]; instances?: Instances };
      }
    | undefined;
  const swept = (
    run.attention?.report as {
      swept?: { deleted: string[]; untagged: string[]; left: string[]; instances?: Instances };
    }
  )?.swept;
  // The instance a drill launched (side by side as a new instance), terminated before its volumes.
  const gone = torn?.instances ?? swept?.instances;
  const instances = gone
    ? `${gone.terminated.length} instance(s) terminated${gone.untagged.length ? ` (found by id, its tag removed: ${gone.untagged.join(", ")})` : ""}, `
    : "";
  const keptGone = kept?.swept?.instances;
  const keptInstances = keptGone?.terminated.length
    ? `${keptGone.terminated.length} instance(s) terminated, `
    : "";
  const verdict =
    run.status === "RUNNING" || run.status === "WAITING_FOR_APPROVAL"
      ? "running"
      : run.status === "SUCCEEDED"
        ? "met"
        : run.error === "DrillMissed"
          ? "missed"
          : run.error === "ExecutionLost"
            ? "lost"
            : "failed";
  const checksums = v ? v.volumes.filter((x) => x.checksum).length : 0;
  const cleanup = kept?.swept
    ? `kept ${kept.hours} h for your checks, then deleted by the reconciler: ${keptInstances}${kept.swept.deleted.length} volume(s)${kept.swept.left.length ? `; still there: ${kept.swept.left.join(", ")}` : ""}`
    : kept
      ? `kept for your checks until ${kept.until} (keepFor ${kept.hours} h); the reconciler deletes it after`
      : swept
        ? swept.left.length
          ? `swept by the reconciler after the run was lost; still there: ${swept.left.join(", ")}`
          : `swept by the reconciler after the run was lost: ${instances}${swept.deleted.length} volume(s) deleted${swept.untagged.length ? ` (${swept.untagged.length} had lost their tag: ${swept.untagged.join(", ")})` : ""}`
        : torn?.done
          ? `torn down: ${instances}${torn.deleted.length} volume(s) deleted${torn.untagged.length ? ` (${torn.untagged.length} had lost their tag)` : ""}`
          : verdict === "running"
            ? "pending (the run is in progress)"
            : "not confirmed: look for volumes tagged reflex:drill";
  // What it made, what was deleted (by its teardown or the reconciler's sweep) and what is left.
  const launched = typeof run.result?.launched === "string" ? [run.result.launched] : [];
  const created = [
    ...launched,
    ...(Array.isArray(run.result?.created) ? (run.result.created as string[]) : []),
  ];
  const deleted = [
    ...new Set([
      ...(gone?.terminated ?? []),
      ...(kept?.swept?.instances?.terminated ?? []),
      ...(torn?.deleted ?? []),
      ...(swept?.deleted ?? []),
      ...(kept?.swept?.deleted ?? []),
    ]),
  ];
  const resources = {
    created,
    deleted,
    left: kept?.swept?.left ?? swept?.left ?? created.filter((id) => !deleted.includes(id)),
  };
  return {
    verdict,
    resources,
    ...(v
      ? {
          rtoMinutes: minutesOf(v.rtoMs),
          rpoMinutes: minutesOf(v.rpoMs),
          phasesMinutes: Object.fromEntries(Object.entries(v.phases).map(([k, ms]) => [k, minutesOf(ms)])),
          ...(v.targets
            ? {
                rto: v.targets.rto,
                rpo: v.targets.rpo,
                targets: { rtoMinutes: v.targets.rtoMinutes, rpoMinutes: v.targets.rpoMinutes },
              }
            : {}),
          checksum: v.passed
            ? `passed (${checksums} of ${v.volumes.length} device(s) checksummed)`
            : `failed: ${v.problems.join("; ")}`,
        }
      : { checksum: "not run" }),
    cleanup,
    ...(verdict === "failed" || verdict === "lost" ? { error: run.error, cause: run.cause } : {}),
  };
}

export const restore = defineRunbook({
  name: R,
  summary:
    "Restore EBS volumes from a Reflex backup, verified, with RTO and RPO measured; drills restore into isolation and clean up",
  risk: "medium",
  // In place replaces a running instance's root volume (it reboots): high, so it waits for approval.
  // A drill makes volumes in isolation and deletes them all: low, so a scheduled drill never
  // waits for a person (in prod, medium would).
  riskFor: (p) => (p.mode === "in-place" ? "high" : p.drill ? "low" : "medium"),
  params,
  example: { source: { instanceId: "i-ef1006a91d63e7570" } },
  // Volumes one run may create: a backup set is an instance's volumes.
  cap: { maxTargets: 10 },
  services: ["ec2", "ssm", "lambda"],
  config: {
    drills: drillsSchema,
    /** How many drill instances (tag reflex:drill) may exist at once; admission refuses a drill beyond it. Default 5. */
    maxDrillInstances: z.number().int().min(1).max(100),
  },
  // A drill with a cron runs on its own schedule (`drill-<name>`), checked as the config's
  // schedules are (a bad cron or zone is named at drills[i].cron / .timezone).
  schedules: (config) =>
    ((config.drills as Drill[] | undefined) ?? []).flatMap((d, i) =>
      d.cron
        ? [
            {
              name: `drill-${d.name}`,
              cron: d.cron,
              ...(d.timezone ? { timezone: d.timezone } : {}),
              with: { drill: d.name },
              at: ["drills", i],
            },
          ]
        : [],
    ),
  permissions: [
    {
      actions: [
        "ec2:DescribeSnapshots",
        "ec2:DescribeVolumes",
        "ec2:DescribeInstances",
        "ec2:DescribeSubnets",
        "ec2:DescribeInstanceStatus",
        "ec2:DescribeFastSnapshotRestores",
        "ssm:GetCommandInvocation",
      ],
      mutating: false,
    },
    // Side by side as a new instance: RunInstances only creating an instance and a root volume
    // that carry the automation tag (tagged in the same call); the subnet, security groups,
    // network interface and AMI it uses carry none of Reflex's tags (statement below).
    {
      actions: ["ec2:RunInstances"],
      mutating: true,
      tagCondition: "request",
      resources: [
        "arn:${Partition}:ec2:*:${Account}:instance/*",
        "arn:${Partition}:ec2:*:${Account}:volume/*",
      ],
    },
    {
      actions: ["ec2:RunInstances"],
      mutating: true,
      tagCondition: "none",
      resources: [
        "arn:${Partition}:ec2:*:${Account}:subnet/*",
        "arn:${Partition}:ec2:*:${Account}:security-group/*",
        "arn:${Partition}:ec2:*:${Account}:network-interface/*",
        "arn:${Partition}:ec2:*::image/*",
      ],
      why: "RunInstances is authorized against every resource it touches: the subnet, security groups and AMI are the user's (or AWS's) and carry no automation tag, and the interface it creates is not taggable in the call. The instance and volume halves (the statement above) still need the automation tag in the request, so nothing launches untagged; no iam:PassRole is granted, so no instance profile can be given.",
    },
    {
      actions: ["ec2:CreateTags"],
      mutating: true,
      tagCondition: "request",
      resources: [
        "arn:${Partition}:ec2:*:${Account}:instance/*",
        "arn:${Partition}:ec2:*:${Account}:volume/*",
      ],
      onCreate: ["RunInstances"],
    },
    // Teardown terminates only an instance carrying the automation tag (what it launched).
    {
      actions: ["ec2:TerminateInstances"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
    },
    // CreateVolume is authorized against the source snapshot (a Reflex backup carries the
    // automation tag) and the new volume (created carrying it, tagged in the same call).
    {
      actions: ["ec2:CreateVolume"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*::snapshot/*"],
    },
    // fastRestore: FSR on and off only for snapshots carrying the automation tag (Reflex backups).
    {
      actions: ["ec2:EnableFastSnapshotRestores", "ec2:DisableFastSnapshotRestores"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*::snapshot/*"],
    },
    {
      actions: ["ec2:CreateVolume"],
      mutating: true,
      tagCondition: "request",
      resources: ["arn:${Partition}:ec2:*:${Account}:volume/*"],
    },
    {
      actions: ["ec2:CreateTags"],
      mutating: true,
      tagCondition: "request",
      resources: ["arn:${Partition}:ec2:*:${Account}:volume/*"],
      onCreate: ["CreateVolume"],
    },
    // Attach, detach and delete only what carries the automation tag: the volumes this runbook
    // made, and a scratch instance tagged for automation.
    {
      actions: ["ec2:AttachVolume", "ec2:DetachVolume"],
      mutating: true,
      tagCondition: "resource",
      resources: [
        "arn:${Partition}:ec2:*:${Account}:volume/*",
        "arn:${Partition}:ec2:*:${Account}:instance/*",
      ],
    },
    {
      actions: ["ec2:DeleteVolume"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*:${Account}:volume/*"],
    },
    {
      actions: ["ssm:SendCommand"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
    },
    // In place: the root replaced only on an instance carrying the automation tag, from a Reflex
    // backup (which carries it), the task created tagged; the rollback stops and starts only
    // such an instance.
    { actions: ["ec2:DescribeReplaceRootVolumeTasks"], mutating: false },
    {
      actions: ["ec2:StopInstances", "ec2:StartInstances"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
    },
    ...replaceRootPermissions(),
    {
      actions: ["ec2:CreateTags"],
      mutating: true,
      tagCondition: "request",
      resources: ["arn:${Partition}:ec2:*:${Account}:replace-root-volume-task/*"],
      onCreate: ["CreateReplaceRootVolumeTask"],
    },
    // The verify hook: only a function carrying the automation tag.
    {
      actions: ["lambda:InvokeFunction"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:lambda:*:${Account}:function:*"],
    },
    {
      actions: ["ssm:SendCommand"],
      mutating: true,
      tagCondition: "none",
      resources: ["arn:${Partition}:ssm:*::document/AWS-RunShellScript"],
      why: "An AWS-owned document carries no tags; only AWS-RunShellScript is allowed (to checksum the restored devices), and only on instances carrying the automation tag (the statement above).",
    },
  ],
  // The reconciler sweeps a lost drill (sweepLost): it terminates the instance the run launched and
  // finds the run's volumes and detaches and deletes them, only those carrying the automation tag.
  // A lost in-place data swap: the original put back at its device (stop, attach, start) and the
  // restored volume deleted — only on instances and volumes carrying the automation tag.
  lostRun: {
    permissions: [
      { actions: ["ec2:DescribeVolumes", "ec2:DescribeInstances"], mutating: false },
      // The instance a lost drill launched: terminated only when it carries the automation tag.
      {
        actions: ["ec2:TerminateInstances"],
        mutating: true,
        tagCondition: "resource",
        resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
      },
      {
        actions: ["ec2:AttachVolume"],
        mutating: true,
        tagCondition: "resource",
        resources: [
          "arn:${Partition}:ec2:*:${Account}:volume/*",
          "arn:${Partition}:ec2:*:${Account}:instance/*",
        ],
      },
      {
        actions: ["ec2:StopInstances", "ec2:StartInstances"],
        mutating: true,
        tagCondition: "resource",
        resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
      },
      // DetachVolume names the volume and the instance; DeleteVolume only the volume.
      {
        actions: ["ec2:DetachVolume"],
        mutating: true,
        tagCondition: "resource",
        resources: [
          "arn:${Partition}:ec2:*:${Account}:volume/*",
          "arn:${Partition}:ec2:*:${Account}:instance/*",
        ],
      },
      {
        actions: ["ec2:DeleteVolume"],
        mutating: true,
        tagCondition: "resource",
        resources: ["arn:${Partition}:ec2:*:${Account}:volume/*"],
      },
      // A lost run's fast snapshot restore: off (it bills per snapshot-zone-hour).
      {
        actions: ["ec2:DisableFastSnapshotRestores"],
        mutating: true,
        tagCondition: "resource",
        resources: ["arn:${Partition}:ec2:*::snapshot/*"],
      },
    ],
  },
  rollback: ["teardown", "putBackRoot", "putBackData"],
  dryRun:
    "Picks the snapshots and reports the volumes it would create (zone, size, device), where it would attach them and the RPO they give; in place, the volume it would replace and keep; no mutating call.",
  stateMachine: {
    StartAt: "Plan",
    States: {
      Plan: stepTask(R, "plan", { ResultPath: "$.plan", Retry: RETRY_STEP, Next: "IsDryRun" }),
      IsDryRun: {
        Type: "Choice",
        Choices: [{ Variable: "$.execution.dryRun", BooleanEquals: true, Next: "Planned" }],
        Default: "ApprovalNeeded",
      },
      // A person approves the plan when the policy asks (in place is risk high): nothing before
      // this changes anything, and the step runner refuses every later step until approved.
      ...approvalStates(R, "Mode"),
      Mode: {
        Type: "Choice",
        Choices: [
          // In place, data volume: a volume restored beside it, then swapped in at the same device.
          { Variable: "$.plan.inPlace.data", IsPresent: true, Next: "CreateVolumes" },
          { Variable: "$.plan.inPlace", IsPresent: true, Next: "ReplaceRoot" },
          { Variable: "$.plan.fastRestore", IsPresent: true, Next: "EnableFastRestore" },
        ],
        Default: "CreateVolumes",
      },
      // fastRestore: FSR on for each snapshot in the zone, waited for until enabled (the volumes
      // then made are fully initialized); off again once they exist, and in every teardown.
      EnableFastRestore: stepTask(R, "enableFastRestore", {
        ResultPath: "$.fastRestoreOn",
        Retry: RETRY_STEP,
        Catch: CLEANUP,
        Next: "CheckFastRestore",
      }),
      ...pollLoop({
        wait: "WaitFastRestore",
        check: "CheckFastRestore",
        done: "FastRestoreReady",
        seconds: 30,
        task: stepTask(R, "checkFastRestore", {
          ResultPath: "$.fastRestoreReady",
          Retry: RETRY_STEP,
          Catch: CLEANUP,
        }),
        donePath: "$.fastRestoreReady.done",
        next: "CreateVolumes",
      }),
      DisableFastRestore: stepTask(R, "disableFastRestore", {
        ResultPath: "$.fastRestoreOff",
        Retry: RETRY_STEP,
        Catch: CLEANUP,
        Next: "HasScratch",
      }),
      VolumesMade: {
        Type: "Choice",
        Choices: [{ Variable: "$.plan.fastRestore", IsPresent: true, Next: "DisableFastRestore" }],
        Default: "HasScratch",
      },
      // In place, root: one task swaps the root; a failure puts the kept original back.
      ReplaceRoot: stepTask(R, "replaceRoot", {
        ResultPath: "$.replacing",
        Retry: RETRY_STEP,
        Catch: PUT_BACK,
        Next: "CheckReplaced",
      }),
      ...pollLoop({
        wait: "WaitReplaced",
        check: "CheckReplaced",
        done: "Replaced",
        seconds: 5,
        task: stepTask(R, "checkReplaced", { ResultPath: "$.replaced", Retry: RETRY_STEP, Catch: PUT_BACK }),
        donePath: "$.replaced.done",
        next: "Done",
      }),
      ...pollLoop({
        wait: "WaitPutBack",
        check: "PutBack",
        done: "PutBackDone",
        seconds: 2,
        task: stepTask(R, "putBackRoot", { ResultPath: "$.putBack", Retry: RETRY_ROLLBACK }),
        donePath: "$.putBack.done",
        next: "InPlaceFailed",
      }),
      // In place, data volume: stop, detach the original, attach the restored one at its device,
      // start (one move per call); from here a failure puts the original back.
      ...pollLoop({
        wait: "WaitSwap",
        check: "Swap",
        done: "Swapped",
        seconds: 2,
        task: stepTask(R, "swapData", { ResultPath: "$.swap", Retry: RETRY_STEP, Catch: PUT_BACK_DATA }),
        donePath: "$.swap.done",
        next: "CheckSwapped",
      }),
      CheckSwapped: stepTask(R, "checkSwapped", {
        ResultPath: "$.swapped",
        Retry: RETRY_STEP,
        Catch: PUT_BACK_DATA,
        Next: "Done",
      }),
      ...pollLoop({
        wait: "WaitPutBackData",
        check: "PutBackData",
        done: "PutBackDataDone",
        seconds: 2,
        task: stepTask(R, "putBackData", { ResultPath: "$.putBack", Retry: RETRY_ROLLBACK }),
        donePath: "$.putBack.done",
        next: "InPlaceFailed",
      }),
      InPlaceFailed: {
        Type: "Fail",
        Error: "RestoreFailed",
        Cause:
          "The in-place restore failed; the instance's original volume was put back (see the run's result).",
      },
      Planned: { Type: "Succeed" },
      CreateVolumes: stepTask(R, "createVolumes", {
        ResultPath: "$.created",
        Retry: RETRY_STEP,
        Catch: CLEANUP,
        Next: "CheckVolumes",
      }),
      ...pollLoop({
        wait: "WaitVolumes",
        check: "CheckVolumes",
        done: "VolumesReady",
        seconds: 5,
        task: stepTask(R, "checkVolumes", { ResultPath: "$.available", Retry: RETRY_STEP, Catch: CLEANUP }),
        donePath: "$.available.done",
        next: "VolumesMade",
      }),
      HasScratch: {
        Type: "Choice",
        Choices: [
          { Variable: "$.plan.inPlace.data", IsPresent: true, Next: "Swap" },
          { Variable: "$.plan.attachTo", IsPresent: true, Next: "Attach" },
          { Variable: "$.plan.launch", IsPresent: true, Next: "Launch" },
        ],
        Default: "Verify",
      },
      // Side by side as a new instance: launched from the backup's AMI, stopped, its volumes
      // swapped for the restored ones, started, status checks ok (one move per poll).
      Launch: stepTask(R, "launch", {
        ResultPath: "$.launched",
        Retry: RETRY_STEP,
        Catch: CLEANUP,
        Next: "BringUp",
      }),
      ...pollLoop({
        wait: "WaitBringUp",
        check: "BringUp",
        done: "BroughtUp",
        seconds: 5,
        task: stepTask(R, "bringUp", { ResultPath: "$.bringUp", Retry: RETRY_STEP, Catch: CLEANUP }),
        donePath: "$.bringUp.done",
        next: "HasInstanceChecksum",
      }),
      // sha256sum of every restored device on the new instance, at the devices it had.
      ...checksumStates(
        "HasInstanceChecksum",
        "ChecksumInstance",
        "$.launched.instanceId",
        "reflex restore: checksum the restored devices on the new instance",
      ),
      Attach: stepTask(R, "attach", {
        ResultPath: "$.attaching",
        Retry: RETRY_STEP,
        Catch: CLEANUP,
        Next: "CheckAttached",
      }),
      ...pollLoop({
        wait: "WaitAttached",
        check: "CheckAttached",
        done: "Attached",
        seconds: 2,
        task: stepTask(R, "checkAttached", { ResultPath: "$.attached", Retry: RETRY_STEP, Catch: CLEANUP }),
        donePath: "$.attached.done",
        next: "HasChecksum",
      }),
      // sha256sum of every restored device on the scratch instance.
      ...checksumStates(
        "HasChecksum",
        "Checksum",
        "$.plan.attachTo.instanceId",
        "reflex restore: checksum the restored devices",
      ),
      Verify: stepTask(R, "verify", {
        ResultPath: "$.verified",
        Retry: RETRY_STEP,
        Catch: CLEANUP,
        Next: "HasHook",
      }),
      HasHook: {
        Type: "Choice",
        Choices: [{ Variable: "$.plan.verifyLambda", IsPresent: true, Next: "VerifyHook" }],
        Default: "KeepOrTearDown",
      },
      // The verify hook: the user's Lambda, given the restored volumes, answers passed|failed|timed-out.
      VerifyHook: stepTask(R, "verifyHook", {
        ResultPath: "$.hook",
        Retry: RETRY_STEP,
        Catch: CLEANUP,
        Next: "KeepOrTearDown",
      }),
      // A drill, or a restore that did not verify, leaves nothing behind — except a drill with
      // keepFor, which keeps what it restored for your checks; the reconciler deletes it after.
      KeepOrTearDown: {
        Type: "Choice",
        Choices: [
          {
            And: [
              { Variable: "$.plan.drill.keepFor", IsPresent: true },
              { Variable: "$.plan.drill.keepFor", NumericGreaterThan: 0 },
            ],
            Next: "Report",
          },
          {
            Or: [
              { Variable: "$.plan.drill", IsPresent: true },
              { Variable: "$.verified.passed", BooleanEquals: false },
              {
                And: [
                  { Variable: "$.hook", IsPresent: true },
                  { Not: { Variable: "$.hook.verdict", StringEquals: "passed" } },
                ],
              },
            ],
            Next: "TearDown",
          },
        ],
        Default: "Report",
      },
      ...pollLoop({
        wait: "WaitTearDown",
        check: "TearDown",
        done: "TornDown",
        seconds: 2,
        task: stepTask(R, "teardown", { ResultPath: "$.teardown", Retry: RETRY_ROLLBACK }),
        donePath: "$.teardown.done",
        next: "Report",
      }),
      Report: stepTask(R, "report", { ResultPath: "$.report", Retry: RETRY_STEP, Next: "Verdict" }),
      Verdict: {
        Type: "Choice",
        Choices: [
          { Variable: "$.report.verdict", StringEquals: "verify-failed", Next: "VerifyFailed" },
          { Variable: "$.report.verdict", StringEquals: "missed", Next: "DrillMissed" },
        ],
        Default: "Done",
      },
      VerifyFailed: {
        Type: "Fail",
        Error: "VerifyFailed",
        Cause: "The restored volumes did not verify; they were deleted.",
      },
      DrillMissed: {
        Type: "Fail",
        Error: "DrillMissed",
        Cause: "The drill restored and verified, but missed its RTO or RPO target; its volumes were deleted.",
      },
      Done: { Type: "Succeed" },
      // Rollback: a failure after the first volume deletes everything this run made.
      ...pollLoop({
        wait: "WaitCleanup",
        check: "Cleanup",
        done: "CleanedUp",
        seconds: 2,
        task: stepTask(R, "teardown", { ResultPath: "$.teardown", Retry: RETRY_ROLLBACK }),
        donePath: "$.teardown.done",
        next: "RestoreFailed",
      }),
      RestoreFailed: {
        Type: "Fail",
        Error: "RestoreFailed",
        Cause: "The restore failed part-way; the volumes it created were deleted (see the run's result).",
      },
    },
  },
  // Before anything is written: the backup exists, is Reflex's and is completed, the drill is
  // in the config, no other run restores the source (400/409 with a named code).
  precheck: () => import("./precheck.ts").then((m) => m.precheck),
  // What the precheck reads, granted to the admitting functions' roles (API, schedule, gate, Slack worker).
  // In place, the lineage is read from EC2's records: volumes, snapshots and the instance's
  // replace-root tasks; a new instance's subnet is checked before anything is written.
  precheckPermissions: [
    {
      actions: [
        "ec2:DescribeSnapshots",
        "ec2:DescribeInstances",
        "ec2:DescribeSubnets",
        "ec2:DescribeVolumes",
        "ec2:DescribeReplaceRootVolumeTasks",
      ],
      mutating: false,
    },
  ],
  // `GET /api/drills` and `reflex drills`: each drill's runs, read by drillRow.
  history: { route: "drills", configKey: "drills", param: "drill", row: drillRow },
  // One run of a drill at a time, taken with the record: a second start is refused (409).
  locks: (p) => (p.drill ? [`drill:${p.drill}`] : []),
  implementation: () => import("./steps.ts").then((m) => m.implementation),
});
