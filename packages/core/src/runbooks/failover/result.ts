/** failover's results in the one result shape: one target, the pair. */
import type { ResultOf, TargetResult } from "../result.ts";

export const failoverResult: ResultOf = (r, run) => {
  const plan = r.plan as { pair: string; from: { instance: string }; to: { instance: string } } | undefined;
  const roles = r.roles as { primary: string; standby: string } | undefined;
  const switchBack = r.switchBack as { verified?: unknown; failure?: { Error?: string } | null } | undefined;
  const summary = typeof r.summary === "string" ? r.summary : "";
  if (!plan) {
    const pair = (r.readiness as { standby?: string } | undefined)?.standby;
    return {
      summary,
      targets: summary.startsWith("skipped")
        ? [{ id: pair ?? "pair", kind: "pair", status: "skipped", reason: summary.replace(/^skipped: /, "") }]
        : [],
    };
  }
  const failed = ["FAILED", "TIMED_OUT", "ABORTED"].includes(run.status);
  const target: TargetResult = {
    id: plan.pair,
    kind: "pair",
    status: switchBack
      ? "rolled-back"
      : roles
        ? "succeeded"
        : run.dryRun || !failed
          ? "not-started"
          : "failed",
    ...(switchBack
      ? {
          reason: `switched back to ${plan.from.instance}${switchBack.failure?.Error ? ` after ${switchBack.failure.Error}` : ""}${switchBack.verified ? ", verified" : ""}`,
        }
      : failed && !roles
        ? { reason: [run.error, run.cause].filter(Boolean).join(": ") || "the run failed" }
        : {}),
    details: {
      primary: `${plan.from.instance} → ${plan.to.instance}${run.dryRun ? " (planned)" : ""}`,
      ...(roles ? { "now primary": roles.primary } : {}),
    },
  };
  return { summary, targets: [target] };
};
