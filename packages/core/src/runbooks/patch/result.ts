/** patch's results in the one result shape: one target per instance (a large run's are in its S3 report). */

import type { TargetResult as PatchTarget } from "../../state/patch-results.ts";
import type { Artifact, ResultOf, TargetResult } from "../result.ts";

export const patchResult: ResultOf = (r, run) => {
  const plan = r.plan as
    | {
        batches?: Array<{ batch: number; instanceIds: string[] }> | number;
        skipped?: Array<{ instanceId: string; name?: string; reason?: string }> | number;
      }
    | undefined;
  const reported = r.targets as PatchTarget[] | undefined;
  let targets: TargetResult[];
  if (Array.isArray(reported)) {
    targets = reported.map((t) => ({
      id: t.instanceId,
      kind: "instance",
      name: t.name,
      status: t.status === "patched" ? "succeeded" : t.status,
      ...(t.reason ? { reason: t.reason } : {}),
      details: {
        ...(t.installed !== undefined ? { installed: t.installed } : {}),
        ...(t.rebooted ? { rebooted: true } : {}),
        ...(t.status === "rolled-back" ? { rollback: "put back on its pre-patch volume" } : {}),
      },
      ...(t.snapshotId ? { artifacts: [{ kind: "pre-patch snapshot", id: t.snapshotId }] } : {}),
    }));
  } else {
    const batches = Array.isArray(plan?.batches) ? plan.batches : [];
    targets = [
      ...batches.flatMap((b) =>
        b.instanceIds.map(
          (id): TargetResult => ({
            id,
            kind: "instance",
            status: "not-started",
            reason: run.dryRun ? `would patch in batch ${b.batch}` : "not reported yet",
            details: { batch: b.batch },
          }),
        ),
      ),
      ...(Array.isArray(plan?.skipped) ? plan.skipped : []).map(
        (s): TargetResult => ({
          id: s.instanceId,
          kind: "instance",
          name: s.name,
          status: "skipped",
          reason: s.reason,
        }),
      ),
    ];
  }
  const artifacts: Artifact[] = typeof r.report === "string" ? [{ kind: "report", id: r.report }] : [];
  return {
    summary: typeof r.summary === "string" ? r.summary : "",
    targets,
    ...(artifacts.length ? { artifacts } : {}),
  };
};
