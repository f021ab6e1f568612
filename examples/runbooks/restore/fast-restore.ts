/**
 * restore with `fastRestore`: fast snapshot restore enabled for each picked snapshot in the zone
 * the volumes are made in, waited for until `enabled` (the volumes made then are fully
 * initialized: no lazy loading from S3 on first read), and disabled again once the volumes
 * exist, in the teardown and by the reconciler's sweep of a lost run — FSR bills per
 * snapshot-zone-hour (a minimum of one), whether or not anything is restored.
 *
 * Credits (AWS's formula): each snapshot-zone has a bucket of MAX(1, MIN(10, 1024 ÷ size GiB))
 * volume-creation credits, one per volume. A restore makes one volume per snapshot, so a bucket
 * of 1 (a snapshot of 1 TiB or more) is enough; only a snapshot whose size is unknown is refused.
 */
import {
  DescribeFastSnapshotRestoresCommand,
  DisableFastSnapshotRestoresCommand,
  EC2Client,
  EnableFastSnapshotRestoresCommand,
  type Snapshot,
} from "@aws-sdk/client-ec2";
import { client, type StepContext, StepExecutionError } from "@reflex/sdk";

/** Snapshots one run may enable FSR for, and the most enabled in the account at once (AWS's default quota is per Region; 5 here). */
export const FAST_RESTORE_LIMIT = 5;
/** How long the run waits for `enabled`: optimizing takes 60 min per TiB; 2 h bounds a run's 10 volumes of the sizes FSR pays for. */
export const FAST_RESTORE_WAIT_MS = 2 * 3_600_000;

/** What the plan enables: the snapshots, the zone, each one's credit bucket. */
export interface FastRestore {
  availabilityZone: string;
  /** The snapshots waited for until `enabled`. */
  snapshotIds: string[];
  /**
   * Those this run turns on, and so off again: not one whose FSR was on in the zone before the
   * run (someone else's, left as it was). Absent in a plan recorded before: all of `snapshotIds`.
   */
  enables?: string[];
  /** Credits per snapshot-zone bucket (MAX(1, MIN(10, 1024 ÷ size GiB))); a restore takes one each. */
  buckets: Record<string, number>;
}

const ec2 = (region: string) => client(EC2Client, "ec2", region);

/** AWS's volume-creation credit bucket for a snapshot of this size (GiB). */
export function creditBucket(sizeGiB: number): number {
  return Math.floor(Math.max(1, Math.min(10, 1024 / sizeGiB)));
}

/** Refuses what FSR cannot do for this run: more snapshots than the limit, a snapshot of unknown size. Read-only. */
export function checkFastRestoreLimits(snapshots: Snapshot[]): Record<string, number> {
  if (snapshots.length > FAST_RESTORE_LIMIT)
    throw new StepExecutionError(
      "FastRestoreLimit",
      `fast snapshot restore for ${snapshots.length} snapshots: at most ${FAST_RESTORE_LIMIT} per run (the account's limit)`,
    );
  const buckets: Record<string, number> = {};
  for (const s of snapshots) {
    if (!s.VolumeSize || s.VolumeSize <= 0)
      throw new StepExecutionError(
        "FastRestoreNoCredit",
        `snapshot ${s.SnapshotId} has no size: its volume-creation credits (MAX(1, MIN(10, 1024 ÷ size GiB))) cannot be known`,
      );
    buckets[s.SnapshotId as string] = creditBucket(s.VolumeSize);
  }
  return buckets;
}

/** The plan's part: the limit counted with what the account has enabled already (other snapshots). */
export async function planFastRestore(
  region: string,
  snapshots: Snapshot[],
  availabilityZone: string,
): Promise<FastRestore> {
  const buckets = checkFastRestoreLimits(snapshots);
  const ids = snapshots.map((s) => s.SnapshotId as string);
  const on: Array<{ SnapshotId?: string; AvailabilityZone?: string; State?: string }> = [];
  let NextToken: string | undefined;
  do {
    const page = await ec2(region).send(new DescribeFastSnapshotRestoresCommand({ NextToken }));
    on.push(
      ...(page.FastSnapshotRestores ?? []).filter((r) => r.State !== "disabling" && r.State !== "disabled"),
    );
    NextToken = page.NextToken;
  } while (NextToken);
  const others = new Set(on.map((r) => r.SnapshotId as string).filter((id) => !ids.includes(id)));
  const onHere = new Set(
    on.filter((r) => r.AvailabilityZone === availabilityZone).map((r) => r.SnapshotId as string),
  );
  if (others.size + ids.length > FAST_RESTORE_LIMIT)
    throw new StepExecutionError(
      "FastRestoreLimit",
      `fast snapshot restore is enabled for ${others.size} other snapshot(s) in ${region}; ${ids.length} more would pass the limit of ${FAST_RESTORE_LIMIT}`,
    );
  return { availabilityZone, snapshotIds: ids, enables: ids.filter((id) => !onHere.has(id)), buckets };
}

/** What a run turned on (and turns off). */
export function enabledBy(fr: FastRestore): string[] {
  return fr.enables ?? fr.snapshotIds;
}

type Input = { plan: { region: string; plannedAt: string; fastRestore?: FastRestore } };

/** Enables FSR for the plan's snapshots in its zone. Safe to repeat (enabling an enabled one changes nothing). */
export async function enableFastRestore(input: Input, ctx: StepContext): Promise<{ at: string }> {
  const fr = input.plan.fastRestore as FastRestore;
  const enables = enabledBy(fr);
  const out = enables.length
    ? await ec2(input.plan.region).send(
        new EnableFastSnapshotRestoresCommand({
          AvailabilityZones: [fr.availabilityZone],
          SourceSnapshotIds: enables,
        }),
      )
    : { Unsuccessful: [] };
  const failed = out.Unsuccessful ?? [];
  if (failed.length)
    throw new StepExecutionError(
      "FastRestoreFailed",
      `fast snapshot restore was not enabled for ${failed
        .map(
          (f) =>
            `${f.SnapshotId} (${f.FastSnapshotRestoreStateErrors?.map((e) => e.Error?.Message).join("; ")})`,
        )
        .join(", ")}`,
    );
  await ctx.record({ fastRestore: { enabled: enables, availabilityZone: fr.availabilityZone } });
  return { at: ctx.now().toISOString() };
}

/** Done when every snapshot's FSR in the zone is `enabled`; fails past FAST_RESTORE_WAIT_MS or when one is being disabled. */
export async function checkFastRestore(
  input: Input,
  ctx: StepContext,
): Promise<{ done: boolean; at?: string; states: Record<string, string> }> {
  const fr = input.plan.fastRestore as FastRestore;
  const out = await ec2(input.plan.region).send(
    new DescribeFastSnapshotRestoresCommand({
      Filters: [
        { Name: "snapshot-id", Values: fr.snapshotIds },
        { Name: "availability-zone", Values: [fr.availabilityZone] },
      ],
    }),
  );
  const states = Object.fromEntries(fr.snapshotIds.map((id) => [id, "disabled"]));
  for (const r of out.FastSnapshotRestores ?? []) states[r.SnapshotId as string] = r.State as string;
  const lost = Object.entries(states).filter(([, s]) => s === "disabling" || s === "disabled");
  // AWS: `disabling` also means an enable request failed.
  if (lost.length)
    throw new StepExecutionError(
      "FastRestoreFailed",
      `fast snapshot restore is ${lost.map(([id, s]) => `${s} for ${id}`).join(", ")}, not enabling`,
    );
  if (Object.values(states).every((s) => s === "enabled"))
    return { done: true, at: ctx.now().toISOString(), states };
  const waited = ctx.now().getTime() - Date.parse(input.plan.plannedAt);
  if (waited > FAST_RESTORE_WAIT_MS)
    throw new StepExecutionError(
      "FastRestoreTimedOut",
      `fast snapshot restore not enabled after ${Math.round(waited / 60_000)} min (the limit is ${FAST_RESTORE_WAIT_MS / 60_000} min): ${JSON.stringify(states)}`,
    );
  return { done: false, states };
}

/** Disables FSR for these snapshots in the zone (what a run enabled). Safe to repeat. */
export async function disableFastRestoreOf(region: string, fr: FastRestore): Promise<string[]> {
  const ids = enabledBy(fr);
  if (ids.length === 0) return [];
  const out = await ec2(region).send(
    new DisableFastSnapshotRestoresCommand({
      AvailabilityZones: [fr.availabilityZone],
      SourceSnapshotIds: ids,
    }),
  );
  // A snapshot deleted since has FSR disabled with it (AWS): nothing left to bill.
  return (out.Successful ?? []).map((r) => r.SnapshotId as string);
}

/** The step after the volumes exist: FSR is no longer needed by this run. */
export async function disableFastRestore(
  input: Input,
  ctx: StepContext,
): Promise<{ at: string; disabled: string[] }> {
  const disabled = await disableFastRestoreOf(input.plan.region, input.plan.fastRestore as FastRestore);
  await ctx.record({
    fastRestore: {
      enabled: input.plan.fastRestore ? enabledBy(input.plan.fastRestore) : [],
      availabilityZone: input.plan.fastRestore?.availabilityZone,
      disabled,
    },
  });
  return { at: ctx.now().toISOString(), disabled };
}
