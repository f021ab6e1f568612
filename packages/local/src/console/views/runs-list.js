// @ts-check
/**
 * The runs list's parts: its frame (heading, filters), a run's row, and the list drawn from an
 * answer of `GET /api/executions`. runs.js keeps the list live; nothing here asks the API or
 * reads the page at load, so local mode's server draws the same list for the page's first
 * paint (first-paint.ts).
 */
import { badge, empty, errorText, fill, h, runLink, textOf, time } from "../lib/dom.js";
import {
  locationText,
  POLL_MS,
  runDuration,
  STATUSES,
  TRIGGERS,
  triggerCell,
  triggerReason,
  triggerText,
} from "../lib/runs.js";

/**
 * @typedef {import("../lib/runs.js").Run} Run
 * @typedef {{ status: string, runbook: string, trigger: string, text: string, limit: number } & Record<string, any>} Filters
 */

/** The filters an address may set (`#/runs?status=…&runbook=…&trigger=…&text=…`; boot.js lists them too). */
export const FILTERS = ["status", "runbook", "trigger", "text"];

/**
 * The filters `query` sets (only those it names), from the console's route or the query of a
 * `/runs` local mode's server draws. @param {URLSearchParams | undefined} query
 * @returns {Partial<Filters>}
 */
export function filtersFrom(query) {
  return Object.fromEntries(FILTERS.filter((f) => query?.has(f)).map((f) => [f, query?.get(f) ?? ""]));
}

/**
 * The list's address with the filters set in it (`#/runs?status=…&text=…`; `#/runs` with none):
 * what filtersFrom reads back. @param {Partial<Filters>} filters
 */
export function addressOf(filters) {
  const query = new URLSearchParams();
  for (const f of FILTERS) if (filters[f]) query.set(f, String(filters[f]));
  const q = query.toString();
  return q ? `#/runs?${q}` : "#/runs";
}

/** Whether `run` is one the filters let through. @param {Filters} filters @param {Run} run */
export function runMatches(filters, run) {
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
export function runRow(run) {
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

/** @param {string} origin where the API is (the command sends the event there) */
const noRuns = (origin) =>
  empty(
    "No runs yet. Start one from ",
    h("a", { href: "#/start" }, "Start a runbook"),
    " (dry-run first), or send an alarm event: ",
    h("code", {}, `npx reflex events put examples/alarm-cpu-high.json --url ${origin}`),
    ".",
  );

/** Puts `wanted` into `tbody` in order, moving only what is out of place. @param {HTMLElement} tbody @param {HTMLElement[]} wanted */
function reconcile(tbody, wanted) {
  wanted.forEach((tr, i) => {
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null);
  });
  while (tbody.children.length > wanted.length) tbody.lastElementChild?.remove();
}

/**
 * Draws the list into `target` (`#runs-body`) from an answer of `GET /api/executions` and the
 * filters; `rowOf` gives a run's row (the one drawn before when the run has not changed), `more`
 * asks for more runs.
 * @param {HTMLElement} target @param {import("../lib/api.js").ApiResult} res
 * @param {{ filters: Filters, rowOf: (run: Run) => HTMLElement, matches: (run: Run) => boolean,
 *   more: () => unknown, origin: string }} opts
 */
export function drawList(target, res, { filters, rowOf, matches, more: askMore, origin }) {
  if (res.status !== 200 || !res.body.executions?.length) target.dataset.shape = "";
  if (res.status !== 200) return fill(target, empty(`Could not load runs: ${errorText(res)}`));
  /** @type {Run[]} */
  const all = res.body.executions ?? [];
  if (!all.length) return fill(target, noRuns(origin));
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
      ? h("button", { type: "button", "data-more-runs": "", onclick: askMore }, "Show 100 more")
      : "";
    fill(target, status, list ?? empty("No run matches these filters. Clear a filter to see more."), more);
  }
  if (status.textContent !== count) status.textContent = count;
  if (list) reconcile(/** @type {HTMLElement} */ (list.querySelector("tbody")), shown.map(rowOf));
}

/**
 * A filter's choice; a value set that is none of `options` (an address's runbook no longer
 * registered) is one more, chosen, so the form says what the list is filtered by.
 * @param {string} name @param {string} label @param {string[]} options @param {Filters} filters
 */
const select = (name, label, options, filters) =>
  h(
    "label",
    {},
    label,
    h(
      "select",
      { name },
      h("option", { value: "" }, "any"),
      [...options, ...(filters[name] && !options.includes(filters[name]) ? [filters[name]] : [])].map((o) =>
        h("option", { value: o, selected: filters[name] === o }, o.toLowerCase().replaceAll("_", " ")),
      ),
    ),
  );

/**
 * The page's frame: the heading, the filters (set as `filters` says) and the list's place (`#runs-body`).
 * @param {string[]} runbookNames @param {Filters} filters @param {(name: string, value: string) => void} setFilter
 */
export function frame(runbookNames, filters, setFilter) {
  return [
    h("h2", {}, "Runs"),
    livenFilters(
      h(
        "form",
        { class: "filters", role: "search", "aria-label": "Filter runs" },
        select("status", "Status", STATUSES, filters),
        select("runbook", "Runbook", runbookNames, filters),
        select("trigger", "Trigger", TRIGGERS, filters),
        h(
          "label",
          {},
          "Text",
          h("input", {
            name: "text",
            type: "search",
            value: filters.text,
            placeholder: "id, rule, person, summary…",
          }),
        ),
      ),
      setFilter,
    ),
    h("div", { id: "runs-body" }),
  ];
}

/**
 * Makes the filters' form live: a choice or a keystroke in it sets that filter. The form's own
 * listeners, so a form local mode's server drew is made live as it is.
 * @param {HTMLElement} form @param {(name: string, value: string) => void} setFilter
 */
export function livenFilters(form, setFilter) {
  /** @param {Event} ev */
  const set = (ev) => {
    const field = /** @type {HTMLInputElement | HTMLSelectElement} */ (ev.target);
    if (field.name) setFilter(field.name, field.value);
  };
  form.addEventListener("change", (ev) => {
    if (/** @type {Element} */ (ev.target).tagName === "SELECT") set(ev);
  });
  form.addEventListener("input", (ev) => {
    if (/** @type {Element} */ (ev.target).tagName === "INPUT") set(ev);
  });
  form.addEventListener("submit", (ev) => ev.preventDefault());
  return form;
}
