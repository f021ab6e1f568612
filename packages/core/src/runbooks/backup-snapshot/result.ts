/** backup-snapshot's results in the one result shape: one target per instance, its snapshots as artifacts. */
import type { Artifact, ResultOf, TargetResult } from "../result.ts";
import { countByStatus } from "../result.ts";

// The fields of what its steps record that the result reads (steps.ts's Plan and Report), here
// so that the manifest does not reach the steps' module, even for types.
interface Plan {
  targets: Array<{ instanceId: string; name?: string; volumes: Array<{ volumeId: string }> }>;
  skipped?: Array<{ instanceId: string; name?: string; reason: string }>;
  create: unknown[];
  prune: Array<{ snapshotId: string; region: string; volumeId: string; reason: string }>;
}
interface SnapshotProgress {
  snapshotId: string;
  volumeId: string;
  state: string;
}
interface Copy {
  snapshotId?: string;
  region: string;
  error?: string;
}
interface Report {
  targets: Array<{
    instanceId: string;
    name?: string;
    status: "succeeded" | "failed" | "skipped";
    snapshots: SnapshotProgress[];
    copies: Copy[];
    error?: string;
  }>;
}

export const backupResult: ResultOf = (r, run) => {
  const plan = r.plan as Plan | undefined;
  const reported = r.targets as Report["targets"] | undefined;
  const rollback = r.rollback as { deleted?: string[]; kept?: string[] } | undefined;
  const skipped = (plan?.skipped ?? []).map(
    (s): TargetResult => ({
      id: s.instanceId,
      kind: "instance",
      name: s.name,
      status: "skipped",
      reason: s.reason,
    }),
  );
  let targets: TargetResult[];
  if (reported) {
    targets = reported.map((t) => ({
      id: t.instanceId,
      kind: "instance",
      name: t.name,
      status: t.status,
      ...(t.error ? { reason: t.error } : {}),
      artifacts: [
        ...(t.snapshots ?? []).map(
          (s: SnapshotProgress): Artifact => ({
            kind: "snapshot",
            id: s.snapshotId,
            note: `${s.volumeId} ${s.state}`,
          }),
        ),
        ...(t.copies ?? []).map(
          (c: Copy): Artifact => ({
            kind: "copy",
            id: c.snapshotId ?? "-",
            note: `in ${c.region}${c.error ? `: ${c.error}` : ""}`,
          }),
        ),
      ],
    }));
  } else {
    targets = [
      ...(plan?.targets ?? []).map(
        (t): TargetResult => ({
          id: t.instanceId,
          kind: "instance",
          name: t.name,
          status: rollback ? "rolled-back" : "not-started",
          reason: run.dryRun
            ? `would snapshot ${t.volumes.map((v) => v.volumeId).join(", ") || "no volume"}`
            : rollback
              ? `unfinished snapshots deleted, completed ones kept`
              : "the run ended before it reported",
          details: { volumes: t.volumes.length },
        }),
      ),
      ...skipped,
    ];
  }
  const artifacts: Artifact[] = [
    ...(typeof r.manifest === "string" ? [{ kind: "manifest", id: r.manifest }] : []),
    ...(
      (r.pruned as { deleted?: Array<{ snapshotId: string; region: string; volumeId: string }> })?.deleted ??
      []
    ).map(
      (p): Artifact => ({ kind: "pruned snapshot", id: p.snapshotId, note: `${p.region}, ${p.volumeId}` }),
    ),
    ...(run.dryRun
      ? (plan?.prune ?? []).map(
          (p): Artifact => ({
            kind: "would delete",
            id: p.snapshotId,
            note: `${p.region}, ${p.volumeId}: ${p.reason}`,
          }),
        )
      : []),
    ...(rollback?.deleted ?? []).map((id): Artifact => ({ kind: "deleted by rollback", id })),
    ...(rollback?.kept ?? []).map((id): Artifact => ({ kind: "kept by rollback", id })),
  ];
  const summary =
    typeof r.summary === "string"
      ? r.summary
      : run.dryRun && plan
        ? `dry-run: would snapshot ${plan.create.length} volume(s) of ${plan.targets.length} instance(s) and delete ${plan.prune.length} expired Reflex snapshot(s)`
        : countByStatus(targets) || "no target";
  return { summary, targets, ...(artifacts.length ? { artifacts } : {}) };
};
