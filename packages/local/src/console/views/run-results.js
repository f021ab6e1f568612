// @ts-check
/**
 * A run's results in the one result shape every runbook reports (`outcome`): the summary, a
 * row per target with its status, why, details and artifacts, the run's artifacts, and the
 * runbook's own record as JSON. Knows no runbook.
 */
import { STATUS_TEXT } from "../graph.js";
import { h, json } from "../lib/dom.js";

/** @typedef {import("../lib/runs.js").OutcomeTarget} OutcomeTarget */

/** A target's status as the run statuses' icon, with its own word. */
const TARGET_STATUS = /** @type {Record<string, string>} */ ({
  succeeded: "SUCCEEDED",
  failed: "FAILED",
  "rolled-back": "FAILED",
  skipped: "NOT_RUN",
  "not-started": "NOT_RUN",
});

/** @param {string | undefined} status */
function targetBadge(status) {
  if (!status) return "";
  const as = TARGET_STATUS[status];
  if (!as) return status;
  const [icon] = STATUS_TEXT[as];
  return h(
    "span",
    { class: `status s-${as}`, "data-status": as },
    h("span", { "aria-hidden": "true" }, icon),
    String(status).replace(/-/g, " "),
  );
}

/** Why, its details (`label: value`) and its artifacts. @param {OutcomeTarget} t */
function targetDetails(t) {
  const lines = [];
  if (t.reason) lines.push(t.status === "failed" ? h("strong", {}, t.reason) : t.reason);
  for (const [k, v] of Object.entries(t.details ?? {}))
    lines.push(h("span", { "data-detail": k }, h("span", { class: "muted" }, `${k}: `), String(v)));
  for (const a of t.artifacts ?? [])
    lines.push([
      h("code", {}, a.id),
      h("span", { class: "muted" }, ` ${a.kind}${a.note ? `, ${a.note}` : ""}`),
    ]);
  return lines.map((l) => h("div", {}, l));
}

/** @param {OutcomeTarget[]} targets @param {boolean} dryRun */
function targetsTable(targets, dryRun) {
  return h(
    "table",
    { id: "targets" },
    h("caption", { class: "skip" }, dryRun ? "Targets (dry-run: nothing was changed)" : "Per-target results"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Target", "Status", "Result"].map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    h(
      "tbody",
      {},
      targets.map((t) =>
        h(
          "tr",
          { "data-target": t.id, "data-kind": t.kind },
          h("td", {}, t.name ?? "", h("div", { class: "small" }, h("code", {}, t.id))),
          h("td", {}, targetBadge(t.status)),
          h("td", { class: "small" }, targetDetails(t)),
        ),
      ),
    ),
  );
}

/** A run's results. @param {import("../lib/runs.js").Run} run */
export function resultsView(run) {
  const o = run.outcome ?? { summary: "", targets: [] };
  const out = [];
  if (o.summary) out.push(h("p", { class: "summary" }, h("strong", {}, o.summary)));
  if (o.targets.length) out.push(targetsTable(o.targets, Boolean(run.dryRun)));
  if (o.artifacts?.length)
    out.push(
      h(
        "ul",
        { class: "artifacts" },
        o.artifacts.map((a) =>
          h(
            "li",
            { "data-artifact": a.kind },
            `${a.kind}: `,
            h("code", {}, a.id),
            a.note ? ` — ${a.note}` : "",
          ),
        ),
      ),
    );
  if (!out.length)
    out.push(
      h(
        "p",
        { class: "muted" },
        run.status === "RUNNING"
          ? "No results yet; they appear as steps finish."
          : "This run reported no results.",
      ),
    );
  out.push(
    h(
      "details",
      { "data-key": "result-raw" },
      h("summary", {}, "Whole result (JSON)"),
      json(run.result ?? {}),
    ),
  );
  return out;
}
