// @ts-check
/** The plan a run waits on or reports (approvals, dry-runs): its summary, clamps and skips, the rest raw. */
import { h, json, textOf } from "../lib/dom.js";

/** Why targets were clamped, skipped or pruned. @param {any} p @returns {Array<[string, string]>} */
function planReasons(p) {
  /** @type {Array<[string, string]>} */
  const reasons = [];
  /** @param {any} x */
  const skipped = (x) =>
    x.name || x.instanceId ? `${[x.name, x.instanceId].filter(Boolean).join(" ")}: ${textOf(x)}` : textOf(x);
  for (const l of p.limits ?? []) reasons.push(["Clamped", textOf(l)]);
  for (const x of [p.skipped ?? []].flat()) reasons.push(["Skipped", skipped(x)]);
  if (p.scaleIn) reasons.push(["Scale-in", textOf(p.scaleIn)]);
  for (const x of p.skip ?? p.skippedTargets ?? []) reasons.push(["Skipped", skipped(x)]);
  for (const d of p.prune ?? []) reasons.push(["Would prune", `${d.snapshotId ?? ""}: ${textOf(d)}`]);
  return reasons;
}

/** What the plan will do, a line each. @param {any} p @returns {string[]} */
function planLines(p) {
  const lines = [];
  if (p.previous?.desired !== undefined && p.target !== undefined)
    lines.push(
      `Capacity ${p.previous.desired} → ${p.target}${p.requested !== p.target ? ` (asked for ${p.requested})` : ""}`,
    );
  if (p.from && p.to) lines.push(`Instance type ${p.from} → ${p.to}`);
  if (Array.isArray(p.targets))
    lines.push(
      `${p.targets.length} target(s): ${p.targets.map((/** @type {any} */ t) => t.name ?? t.instanceId ?? textOf(t)).join(", ")}`,
    );
  if (typeof p.targets === "number")
    lines.push(
      `${p.targets} target(s)${Array.isArray(p.batches) ? ` in ${p.batches.length} batch(es)` : ""}${p.maxConcurrency !== undefined ? `, ${p.maxConcurrency} at a time` : ""}${p.maxErrors !== undefined ? `, stop after ${p.maxErrors} error(s)` : ""}`,
    );
  if (Array.isArray(p.create)) lines.push(`${p.create.length} snapshot(s) to create`);
  return lines;
}

/** @param {unknown} plan */
export function planView(plan) {
  if (!plan) return h("p", { class: "muted" }, "No plan recorded.");
  if (typeof plan === "string") return h("div", { class: "plan" }, h("p", {}, plan));
  const reasons = planReasons(plan);
  return h(
    "div",
    { class: "plan" },
    planLines(plan).map((l) => h("p", {}, l)),
    reasons.length
      ? h(
          "ul",
          { class: "reasons" },
          reasons.map(([k, v]) => h("li", {}, h("strong", {}, `${k}: `), v)),
        )
      : h("p", { class: "muted small" }, "No clamps or skips."),
    h("details", { "data-key": "plan-raw" }, h("summary", {}, "Whole plan (JSON)"), json(plan)),
  );
}
