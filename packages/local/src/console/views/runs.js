// @ts-check
/**
 * Runs (`#/runs`, filtered with `#/runs?text=…`): every run, newest first, live. Each row is
 * keyed by its run: a refresh builds only the rows whose run changed (and the running ones'
 * durations, once a second) and moves the rest into place, so rows nobody touched keep their
 * nodes, the reader's selection and focus.
 */

import { API, api, errorText, runbooks } from "../lib/api.js";
import { badge, empty, fill, h, runLink, textOf, time } from "../lib/dom.js";
import {
  locationText,
  POLL_MS,
  runDuration,
  STATUSES,
  TERMINAL,
  TRIGGERS,
  triggerCell,
  triggerReason,
  triggerText,
} from "../lib/runs.js";

/** @typedef {import("../lib/runs.js").Run} Run */

/** @type {{ status: string, runbook: string, trigger: string, text: string, limit: number } & Record<string, any>} */
const filters = { status: "", runbook: "", trigger: "", text: "", limit: 100 };
/** @type {import("../lib/api.js").ApiResult | undefined} */
let listing;
/** The rows drawn so far, by run id: what each was drawn from, and its element. */
const rows = new Map(/** @type {Array<[string, { key: string, tr: HTMLElement }]>} */ ([]));
/** @type {() => unknown} */
let refetch = () => undefined;

/** @param {string} name @param {string | number} value */
function setFilter(name, value) {
  filters[name] = value;
  if (name === "limit") refetch();
  else draw();
}

/** @param {Run} run */
function matches(run) {
  if (filters.status && run.status !== filters.status) return false;
  if (filters.runbook && run.runbook !== filters.runbook) return false;
  if (filters.trigger && (run.trigger?.kind ?? "manual") !== filters.trigger) return false;
  if (!filters.text) return true;
  const hay = [
    run.id,
    run.runbook,
    triggerText(run.trigger),
    triggerReason(run),
    run.trigger?.eventId,
    run.outcome?.summary,
    run.cause,
    run.error,
    locationText(run),
  ]
    .join(" ")
    .toLowerCase();
  return hay.includes(filters.text.toLowerCase());
}

/** @param {Run} run */
function runRow(run) {
  const failure =
    ["FAILED", "TIMED_OUT", "ABORTED"].includes(run.status) && (run.error || run.cause)
      ? [run.error, run.cause].filter(Boolean).join(": ")
      : undefined;
  const summary = failure ?? run.outcome?.summary ?? "";
  return h(
    "tr",
    { "data-execution": run.id, "data-status": run.status },
    h("td", {}, badge(run.status)),
    h(
      "td",
      {},
      runLink(run.id, run.runbook),
      run.dryRun ? h("span", { class: "badge dry" }, "dry-run") : "",
      h("div", { class: "small muted" }, h("code", {}, run.id)),
      run.location
        ? h("div", { class: "small location", title: "account / Region the run acts in" }, locationText(run))
        : "",
    ),
    h("td", { class: "trigger" }, triggerCell(run)),
    h("td", {}, time(run.startedAt)),
    h("td", {}, runDuration(run), run.endedAt ? "" : h("span", { class: "muted" }, " so far")),
    h("td", { class: "small" }, textOf(summary)),
  );
}

/** The row of a run: the one drawn before when the run has not changed. @param {Run} run */
function rowOf(run) {
  // A running run's duration counts up: its row is drawn again once a second.
  const key = JSON.stringify(run) + (TERMINAL.includes(run.status) ? "" : Math.floor(Date.now() / 1000));
  const had = rows.get(run.id);
  if (had && had.key === key) return had.tr;
  const tr = runRow(run);
  rows.set(run.id, { key, tr });
  return tr;
}

/** Puts `wanted` into `tbody` in order, moving only what is out of place. @param {HTMLElement} tbody @param {HTMLElement[]} wanted */
function reconcile(tbody, wanted) {
  wanted.forEach((tr, i) => {
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null);
  });
  while (tbody.children.length > wanted.length) tbody.lastElementChild?.remove();
}

function table() {
  return h(
    "table",
    { id: "runs" },
    h("caption", { class: "skip" }, "Runs, newest first"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Status", "Runbook", "Trigger", "Started", "Duration", "Summary"].map((c) =>
          h("th", { scope: "col" }, c),
        ),
      ),
    ),
    h("tbody", {}),
  );
}

const noRuns = () =>
  empty(
    "No runs yet. Start one from ",
    h("a", { href: "#/start" }, "Start a runbook"),
    " (dry-run first), or send an alarm event: ",
    h("code", {}, `npx reflex events put examples/alarm-cpu-high.json --url ${API || location.origin}`),
    ".",
  );

/** Draws the list from the last answer and the filters; only changed rows are built. */
function draw() {
  const target = document.getElementById("runs-body");
  const res = listing;
  if (!res || !target) return;
  if (res.status !== 200 || !res.body.executions?.length) target.dataset.shape = "";
  if (res.status !== 200) return fill(target, empty(`Could not load runs: ${errorText(res)}`));
  /** @type {Run[]} */
  const all = res.body.executions ?? [];
  if (!all.length) return fill(target, noRuns());
  const shown = all.filter(matches);
  const count = `${shown.length} of the newest ${all.length} run(s)${res.body.next ? " (older runs exist)" : ""} · refreshed every ${POLL_MS / 1000} s`;
  let status = target.querySelector(":scope > p.count");
  let list = target.querySelector(":scope > #runs");
  const wantMore = Boolean(res.body.next && filters.limit < 500);
  // The frame around the rows is built again only when its shape changes.
  const shape = JSON.stringify([shown.length > 0, wantMore]);
  if (!status || target.dataset.shape !== shape) {
    target.dataset.shape = shape;
    status = h("p", { class: "count muted small", "aria-live": "polite" });
    list = shown.length ? table() : null;
    const more = wantMore
      ? h(
          "button",
          { type: "button", onclick: () => setFilter("limit", Math.min(500, filters.limit + 100)) },
          "Show 100 more",
        )
      : "";
    fill(target, status, list ?? empty("No run matches these filters. Clear a filter to see more."), more);
  }
  if (status.textContent !== count) status.textContent = count;
  if (list) reconcile(/** @type {HTMLElement} */ (list.querySelector("tbody")), shown.map(rowOf));
  // Rows of runs no longer listed are forgotten.
  const ids = new Set(all.map((r) => r.id));
  for (const id of rows.keys()) if (!ids.has(id)) rows.delete(id);
}

/** @param {string} name @param {string} label @param {string[]} options */
const select = (name, label, options) =>
  h(
    "label",
    {},
    label,
    h(
      "select",
      {
        name,
        onchange: (/** @type {Event} */ ev) =>
          setFilter(name, /** @type {HTMLSelectElement} */ (ev.target).value),
      },
      h("option", { value: "" }, "any"),
      options.map((o) =>
        h("option", { value: o, selected: filters[name] === o }, o.toLowerCase().replaceAll("_", " ")),
      ),
    ),
  );

/** The page's frame: the heading and the filters. @param {string[]} runbookNames */
function frame(runbookNames) {
  return [
    h("h2", {}, "Runs"),
    h(
      "form",
      {
        class: "filters",
        role: "search",
        "aria-label": "Filter runs",
        onsubmit: (/** @type {Event} */ ev) => ev.preventDefault(),
      },
      select("status", "Status", STATUSES),
      select("runbook", "Runbook", runbookNames),
      select("trigger", "Trigger", TRIGGERS),
      h(
        "label",
        {},
        "Text",
        h("input", {
          name: "text",
          type: "search",
          value: filters.text,
          placeholder: "id, rule, person, summary…",
          oninput: (/** @type {Event} */ ev) =>
            setFilter("text", /** @type {HTMLInputElement} */ (ev.target).value),
        }),
      ),
    ),
    h("div", { id: "runs-body" }),
  ];
}

export const runsView = {
  title: "Runs",
  /**
   * @param {HTMLElement} main
   * @param {boolean} first
   * @param {import("../console.js").Route} route
   * @param {import("../console.js").ViewContext} ctx
   */
  async render(main, first, { query }, ctx) {
    refetch = ctx.again;
    // `#/runs?text=…` (a run page's event link) opens the list filtered.
    if (first && query?.has("text")) filters.text = query.get("text") ?? "";
    // The list and the runbook names (for the filter) are fetched together.
    const asked = api("GET", `/api/executions?limit=${filters.limit}`);
    if (first) {
      const rbs = await runbooks().catch(() => []);
      rows.clear();
      fill(main, frame(rbs.map((r) => r.name)));
    }
    listing = await asked;
    draw();
  },
};
