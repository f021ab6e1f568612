/** scale's results in the one result shape: one target, the group or the instance. */
import type { Artifact, ResultOf, TargetResult, TargetStatus } from "../result.ts";

interface Rollback {
  restored?: boolean;
  reason?: string;
  actions?: string[];
}

export const scaleResult: ResultOf = (r, run) => {
  // The plan step's record, read loosely: a horizontal plan or a resize plan.
  const plan = (r.plan ?? {}) as Record<string, unknown> & {
    previous?: { desired?: number };
    from?: string | { instanceType?: string };
    to?: string | { instanceType?: string };
  };
  const typeOf = (v: string | { instanceType?: string } | undefined) =>
    (typeof v === "object" ? v.instanceType : v) ?? "?";
  const rollback = r.rollback as Rollback | undefined;
  const verified = r.verified as Record<string, unknown> | undefined;
  const failed = run.status === "FAILED" || run.status === "TIMED_OUT";
  const status = (done: boolean): TargetStatus =>
    rollback
      ? "rolled-back"
      : run.dryRun
        ? "not-started"
        : done
          ? "succeeded"
          : failed
            ? "failed"
            : "not-started";
  const reason =
    typeof plan.skipped === "string"
      ? plan.skipped
      : (rollback?.reason ??
        (Array.isArray(rollback?.actions) ? rollback.actions.join("; ") : undefined) ??
        (failed ? [run.error, run.cause].filter(Boolean).join(": ") || undefined : undefined));
  const targets: TargetResult[] = [];
  if (plan.autoScalingGroup !== undefined) {
    const applied = r.applied as { from?: number; to?: number } | undefined;
    targets.push({
      id: String(plan.autoScalingGroup),
      kind: "asg",
      status: typeof plan.skipped === "string" ? "skipped" : status(Boolean(verified)),
      ...(reason ? { reason } : {}),
      details: {
        capacity: `${applied?.from ?? plan.previous?.desired ?? r.previousCapacity ?? "?"} → ${applied?.to ?? plan.target ?? "?"}${run.dryRun ? " (planned)" : ""}`,
        ...(plan.change !== undefined ? { change: String(plan.change) } : {}),
        ...(verified?.inService !== undefined ? { inService: Number(verified.inService) } : {}),
        ...(Array.isArray(plan.limits) && plan.limits.length ? { limits: plan.limits.join("; ") } : {}),
      },
    });
  } else if (plan.instanceId) {
    targets.push({
      id: String(plan.instanceId),
      kind: "instance",
      ...(plan.name ? { name: String(plan.name) } : {}),
      status: status(Boolean(verified)),
      ...(reason ? { reason } : {}),
      details: {
        instanceType: `${typeOf(plan.from)} → ${typeOf(plan.to)}${run.dryRun ? " (planned)" : ""}`,
        ...(verified?.state ? { state: String(verified.state) } : {}),
      },
    });
  }
  const artifacts: Artifact[] = ((r.snapshots as Array<{ snapshotId: string; volumeId: string }>) ?? []).map(
    (s) => ({ kind: "snapshot", id: s.snapshotId, note: `of ${s.volumeId}, before the resize` }),
  );
  return {
    summary: typeof r.summary === "string" ? r.summary : "",
    targets,
    ...(artifacts.length ? { artifacts } : {}),
  };
};
