import type { ExecutionView } from "./client.ts";

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

export function formatExecutionList(list: ExecutionView[]): string {
  if (list.length === 0) return "no executions yet";
  const rows = list.map((e) => [
    e.id,
    e.runbook + (e.dryRun ? " (dry-run)" : ""),
    // A lost run may have left a change half-done: say so where the eye lands.
    e.attention ? `${e.status} ⚠ LOST — check targets` : e.status,
    `${e.trigger.kind}${e.trigger.name ? `:${e.trigger.name}` : ""}`,
    e.startedAt,
  ]);
  const header = ["ID", "RUNBOOK", "STATUS", "TRIGGER", "STARTED"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => pad(c, widths[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** An execution for people: status, what it did to each target, and why it failed if it did. */
export function formatExecution(e: ExecutionView): string {
  const lines = [`${e.id}  ${e.runbook}${e.dryRun ? " (dry-run)" : ""}  ${e.status}`];
  if (e.attention) {
    lines.push(`  ⚠ NEEDS ATTENTION: ${e.attention.reason}`);
    lines.push(`    completed: ${e.attention.completedSteps.join(", ") || "no step"}`);
    if (e.attention.inFlightSteps.length)
      lines.push(`    in flight: ${e.attention.inFlightSteps.join(", ")}`);
    if (e.attention.report) lines.push(`    left behind: ${JSON.stringify(e.attention.report)}`);
  }
  lines.push(
    `  trigger  ${e.trigger.kind}${e.trigger.name ? `:${e.trigger.name}` : ""} by ${e.trigger.actor}`,
  );
  lines.push(`  started  ${e.startedAt}${e.endedAt ? `   ended ${e.endedAt}` : ""}`);
  if (e.error) lines.push(`  error    ${e.error}${e.cause ? `: ${e.cause}` : ""}`);
  const r = e.result ?? {};
  if (e.dryRun && r.plan?.create) {
    lines.push(`  plan (nothing was changed):`);
    for (const c of r.plan.create ?? []) lines.push(`    would snapshot ${c.volumeId} of ${c.instanceId}`);
    for (const d of r.plan.prune ?? [])
      lines.push(
        `    would delete   ${d.snapshotId} (${d.region}, ${d.volumeId}, retained until ${d.retainUntil})`,
      );
    if ((r.plan.prune ?? []).length === 0)
      lines.push("    would delete   nothing (no expired Reflex snapshots)");
  }
  if (r.summary) lines.push(`  summary  ${r.summary}`);
  for (const t of r.targets ?? []) {
    lines.push(
      `  ${t.status === "succeeded" ? "ok  " : "FAIL"} ${t.instanceId}${t.name ? ` (${t.name})` : ""}${t.error ? ` — ${t.error}` : ""}`,
    );
    for (const s of t.snapshots ?? []) lines.push(`         ${s.snapshotId}  ${s.volumeId}  ${s.state}`);
    for (const c of t.copies ?? [])
      lines.push(`         copy ${c.snapshotId ?? "-"} in ${c.region}${c.error ? ` — ${c.error}` : ""}`);
  }
  for (const p of r.pruned?.deleted ?? [])
    lines.push(`  pruned  ${p.snapshotId} (${p.region}, ${p.volumeId})`);
  if (r.manifest) lines.push(`  manifest ${r.manifest}`);
  if (r.rollback)
    lines.push(
      `  rollback deleted ${r.rollback.deleted.length}, kept ${r.rollback.kept.length} completed snapshot(s)`,
    );
  const failedSteps = (e.steps ?? []).filter((s) => s.status === "FAILED");
  for (const s of failedSteps)
    lines.push(`  step ${s.step}${s.target ? ` (${s.target})` : ""} failed: ${s.error}: ${s.cause}`);
  return lines.join("\n");
}
