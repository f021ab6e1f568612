/**
 * restore's pre-start check, asked by admission before anything is written: the source names
 * a Reflex backup that exists and is completed, the drill is in the config, the scratch
 * instance exists, and no other run restores that source or uses that scratch instance. Bad
 * input is a 400 naming it; a world not ready (a snapshot still pending, a restore of that
 * source running) a 409. The plan step checks all of it again (the world may change between).
 * Read-only: the same describes the plan makes.
 */
import { type Precheck, type PrecheckRefusal, StepExecutionError } from "@reflex/sdk";
import { checkFastRestoreLimits } from "./fast-restore.ts";
import type { RestoreParams, RestoreSource } from "./index.ts";
import { checkDrillCap, planLaunch } from "./new-instance.ts";
import {
  checkScratch,
  checkVerifyRegion,
  drillOf,
  drillSource,
  inPlacePlan,
  instanceOf,
  isolationOf,
  pick,
  restoreLocks,
} from "./steps.ts";

/** A refusal's status and the param it is about, by the plan's error code. */
const REFUSALS: Record<string, { status: 400 | 409; path: (p: RestoreParams) => string }> = {
  UnknownDrill: { status: 400, path: () => "drill" },
  SnapshotNotFound: { status: 400, path: (p) => (p.drill ? "drill" : "source.snapshotId") },
  NotReflexBackup: { status: 400, path: (p) => (p.drill ? "drill" : "source.snapshotId") },
  NoBackup: { status: 400, path: (p) => (p.drill ? "drill" : "source") },
  SnapshotNotReady: { status: 409, path: (p) => (p.drill ? "drill" : "source") },
  InstanceNotFound: {
    status: 400,
    path: (p) =>
      p.drill
        ? "drill"
        : p.mode === "in-place"
          ? p.instanceId
            ? "instanceId"
            : "source"
          : "attachTo.instanceId",
  },
  ForeignLineage: {
    status: 400,
    path: (p) => (p.source && "snapshotId" in p.source ? "source.snapshotId" : "source"),
  },
  NoRootVolume: { status: 409, path: () => "source" },
  NoVolumeAtDevice: { status: 409, path: () => "device" },
  VolumeNotManaged: { status: 409, path: () => "device" },
  ZoneMismatch: { status: 400, path: () => "availabilityZone" },
  InstanceNotRunning: { status: 409, path: () => "source" },
  // Side by side as a new instance (new-instance.ts).
  SourceSubnet: { status: 400, path: (p) => (p.drill ? "drill" : "target.subnetId") },
  SubnetNotFound: { status: 400, path: (p) => (p.drill ? "drill" : "target.subnetId") },
  ManifestIncomplete: { status: 400, path: (p) => (p.drill ? "drill" : "source") },
  NoRootSnapshot: { status: 400, path: (p) => (p.drill ? "drill" : "source") },
  DrillInstanceCap: { status: 409, path: () => "drill" },
  ScratchIsSource: { status: 400, path: (p) => (p.drill ? "drill" : "attachTo.instanceId") },
  FastRestoreLimit: { status: 400, path: (p) => (p.drill ? "drill" : "fastRestore") },
  FastRestoreNoCredit: { status: 400, path: (p) => (p.drill ? "drill" : "fastRestore") },
  VerifyElsewhere: { status: 400, path: (p) => (p.drill ? "drill" : "verify.lambda") },
};

const NOT_ALLOWED = new Set(["UnauthorizedOperation", "AccessDenied", "AccessDeniedException"]);

export const precheck: Precheck = async (params, ctx) => {
  const p = params as RestoreParams;
  const region = p.region ?? process.env.AWS_REGION ?? "us-east-1";
  try {
    const drill = p.drill ? drillOf(p.drill, ctx) : undefined;
    const source = drill ? await drillSource(region, drill, ctx) : (p.source as RestoreSource);
    const { attachTo, target } = isolationOf(drill, p);
    const snapshots = await pick(region, source, ctx, drill);
    if (drill?.fastRestore ?? p.fastRestore) checkFastRestoreLimits(snapshots);
    // A new instance: the manifest launches, the subnet exists and is not the source's; a drill under the cap.
    if (target)
      await planLaunch(region, snapshots, target, drill ? `drills.${drill.name}.isolate` : "target");
    if (target && drill && !ctx.dryRun) await checkDrillCap(region, ctx.config);
    // In place: a snapshot of another volume lineage is refused here, before anything is written.
    const inPlace =
      p.mode === "in-place" ? await inPlacePlan(region, p, source, snapshots, ctx.automationTag) : undefined;
    checkVerifyRegion(drill?.verify ?? p.verify, region);
    if (attachTo) {
      const scratch = await instanceOf(region, attachTo.instanceId);
      if (!scratch)
        throw new StepExecutionError(
          "InstanceNotFound",
          `instance ${attachTo.instanceId} does not exist in ${region}`,
        );
      checkScratch(attachTo.instanceId, scratch, snapshots);
    }
    if (ctx.dryRun) return undefined;
    // A selector's pick here may not be the plan's (the picks so far are the run's to read): its source is not checked.
    const locks = restoreLocks(source, attachTo).filter(
      (l) => !drill?.selector || !l.startsWith("restore-source:"),
    );
    const held = await ctx.heldBy([...locks, ...(inPlace ? [`instance:${inPlace.instanceId}`] : [])]);
    if (held.length)
      return {
        status: 409,
        code: "target_locked",
        message: `another run holds ${held.map((h) => `${h.target} (run ${h.holder})`).join(", ")}${drill ? `: drill ${drill.name} waits for it` : ""}`,
      };
    return undefined;
  } catch (err) {
    // A caller whose role may not describe EC2 (an admitter deployed without these reads) cannot
    // check here: the plan step, which may, checks the same and fails the run naming it.
    if (NOT_ALLOWED.has((err as Error).name)) return undefined;
    const known = err instanceof StepExecutionError ? REFUSALS[err.code] : undefined;
    if (!known) throw err;
    return {
      status: known.status,
      code: (err as StepExecutionError).code,
      message: (err as Error).message,
      path: known.path(p),
    } satisfies PrecheckRefusal;
  }
};
