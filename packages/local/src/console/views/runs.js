// @ts-check
/**
 * Runs (`#/runs`, filtered with `#/runs?text=…`): every run, newest first, live. Each row is
 * keyed by its run: a refresh builds only the rows whose run changed (and the running ones'
 * durations, once a second) and moves the rest into place, so rows nobody touched keep their
 * nodes, the reader's selection and focus.
 */

import { API, api, runbooks } from "../lib/api.js";
import { fill, localTimes } from "../lib/dom.js";
import { TERMINAL } from "../lib/runs.js";
import { addressOf, drawList, filtersFrom, frame, livenFilters, runMatches, runRow } from "./runs-list.js";

/** @typedef {import("../lib/runs.js").Run} Run */

/** @type {{ status: string, runbook: string, trigger: string, text: string, limit: number } & Record<string, any>} */
const filters = { status: "", runbook: "", trigger: "", text: "", limit: 100 };
/** @type {import("../lib/api.js").ApiResult | undefined} */
let listing;
/** The rows drawn so far, by run id: what each was drawn from, and its element. */
const rows = new Map(/** @type {Array<[string, { key: string, tr: HTMLElement }]>} */ ([]));
/** @type {() => unknown} */
let refetch = () => undefined;
/**
 * The list's nodes (heading, filters, rows), kept while another page is shown: coming back, they
 * go back in place and only the rows whose run changed are built again.
 * @type {ChildNode[] | undefined}
 */
let kept;

/** Sets the address to the list's own, its filters in it (console.js `linkTo`: nothing drawn again). @type {(hash: string) => void} */
let linkTo = () => undefined;

/**
 * A filter set in the form: the list drawn again, and the address says it (replaced, not a new
 * history entry), so a reload, a bookmark or a link sent to someone shows the same list.
 * @param {string} name @param {string | number} value
 */
function setFilter(name, value) {
  filters[name] = value;
  if (name === "limit") return refetch();
  if (location.hash !== addressOf(filters)) linkTo(addressOf(filters));
  draw();
}

/** @param {Run} run */
const matches = (run) => runMatches(filters, run);

/** What a run's row is drawn from. @param {Run} run */
const rowKey = (run) =>
  // A running run's duration counts up: its row is drawn again once a second.
  JSON.stringify(run) + (TERMINAL.includes(run.status) ? "" : Math.floor(Date.now() / 1000));

/** The row of a run: the one drawn before when the run has not changed. @param {Run} run */
function rowOf(run) {
  const key = rowKey(run);
  const had = rows.get(run.id);
  if (had && had.key === key) return had.tr;
  const tr = runRow(run);
  rows.set(run.id, { key, tr });
  return tr;
}

const askMore = () => setFilter("limit", Math.min(500, filters.limit + 100));

/** Draws the list from the last answer and the filters; only changed rows are built. */
function draw() {
  const target = document.getElementById("runs-body");
  if (!listing || !target) return;
  drawList(target, listing, { filters, rowOf, matches, more: askMore, origin: API || location.origin });
  // Rows of runs no longer listed are forgotten.
  const ids = new Set((listing.body.executions ?? []).map((/** @type {Run} */ r) => r.id));
  for (const id of rows.keys()) if (!ids.has(id)) rows.delete(id);
}

export const runsView = {
  title: "Runs",
  /** The GET the page starts with, for console.js to ask on a link's press. */
  asks: () => `/api/executions?limit=${filters.limit}`,
  /**
   * @param {HTMLElement} main
   * @param {boolean} first
   * @param {import("../console.js").Route} route
   * @param {import("../console.js").ViewContext} ctx
   */
  async render(main, first, { query }, ctx) {
    refetch = ctx.again;
    linkTo = ctx.linkTo;
    // `#/runs?text=…` (a run page's event link, a drawn `/runs?…` taken over) opens the list
    // filtered by what the address names.
    const named = first ? filtersFrom(query) : {};
    Object.assign(filters, named);
    // The list and the runbook names (for the filter) are fetched together.
    const asked = api("GET", runsView.asks());
    if (first && adopt(main)) {
      listing = await asked;
      // The rows the server drew from this same answer are this list's rows (an answer from
      // another API, `?api=`, draws its own).
      const body = /** @type {HTMLElement} */ (document.getElementById("runs-body"));
      for (const run of listing.inlined ? (listing.body.executions ?? []) : []) {
        const tr = body.querySelector(`tr[data-execution="${CSS.escape(run.id)}"]`);
        if (tr instanceof HTMLElement) rows.set(run.id, { key: rowKey(run), tr });
      }
      // A filter chosen on the drawn list before the modules came: the address says it too.
      if (location.hash !== addressOf(filters)) linkTo(addressOf(filters));
    } else if (first && kept && !Object.keys(named).length) {
      // Back from another page: the list as it was, once the answer is in, its changed rows only.
      listing = await asked;
      fill(main, kept);
      // The list comes back with the filters it had: the address says them again.
      if (location.hash !== addressOf(filters)) linkTo(addressOf(filters));
    } else if (first) {
      const rbs = await runbooks().catch(() => []);
      rows.clear();
      fill(
        main,
        frame(
          rbs.map((r) => r.name),
          filters,
          setFilter,
        ),
      );
      kept = [...main.childNodes];
      listing = await asked;
    } else listing = await asked;
    draw();
  },
};

/**
 * The list local mode's server drew into `<main>` (first-paint.ts, `data-first-paint`), taken
 * as it is: the filters' form is made live (with anything already chosen or typed in it), "Show
 * 100 more" too, and the times are written in this viewer's zone. False when there is none.
 * @param {HTMLElement} main
 */
function adopt(main) {
  if (!main.hasAttribute("data-first-paint")) return false;
  main.removeAttribute("data-first-paint");
  const form = main.querySelector(":scope > form.filters");
  if (!(form instanceof HTMLFormElement) || !document.getElementById("runs-body")) return false;
  livenFilters(form, setFilter);
  for (const field of form.elements) {
    const f = /** @type {HTMLInputElement | HTMLSelectElement} */ (field);
    if (f.name && f.name !== "limit" && Object.hasOwn(filters, f.name)) filters[f.name] = f.value;
  }
  main.querySelector("#runs-body > button[data-more-runs]")?.addEventListener("click", askMore);
  localTimes(main);
  rows.clear();
  kept = [...main.childNodes];
  return true;
}
