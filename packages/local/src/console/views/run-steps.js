// @ts-check
/**
 * A run's step records, state by state: a table of records, and for a Map state its
 * iterations, one `<details>` per target, drawn a page at a time (a Map over 1,000 targets
 * shows the first 50 and "Show more"), each opening into its own state machine.
 */
import { aslGraph, duration, iterations, renderGraph, statusOf } from "../graph.js";
import { badge, h, json, time } from "../lib/dom.js";

/**
 * @typedef {import("../lib/runs.js").Run} Run
 * @typedef {import("../lib/runs.js").StepRecord} StepRecord
 * @typedef {import("../graph.js").GraphNode} GraphNode
 */

/** How many iterations of a Map are drawn at first, and added by each "Show more". */
export const ITERATION_PAGE = 50;
/** Iterations shown per Map state, by `<run id>:<state>`: kept across refreshes. */
const shownIterations = new Map();

/** @param {StepRecord} r */
const took = (r) =>
  duration(
    r.durationMs ??
      (r.endedAt ? Date.parse(r.endedAt) - Date.parse(r.startedAt) : Date.now() - Date.parse(r.startedAt)),
  );

/** @param {StepRecord} r */
function recordRow(r) {
  return h(
    "tr",
    { "data-step": r.step },
    h("td", {}, r.target ? h("code", {}, r.target) : h("span", { class: "muted" }, "—")),
    h("td", {}, r.state && r.state !== r.step ? `${r.state} ` : "", badge(r.status)),
    h("td", {}, time(r.startedAt)),
    h("td", {}, took(r)),
    h(
      "td",
      { class: "small" },
      r.error ? h("strong", {}, `${r.error}: `) : "",
      r.cause ?? "",
      r.output !== undefined && r.output !== null
        ? h("details", {}, h("summary", {}, "output"), json(r.output))
        : "",
    ),
  );
}

/** A table of step records: target, status, start, time taken, error or output. @param {StepRecord[]} records */
export function recordsTable(records) {
  return h(
    "table",
    {},
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Target", "Status", "Started", "Took", "Error / output"].map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    h("tbody", {}, records.map(recordRow)),
  );
}

/**
 * One iteration's `<details>`: its target, status and records; opened, it shows the item's own
 * state machine and its records ({@link livenIteration}).
 * @param {GraphNode} node @param {{ target: string, records: StepRecord[], status: string }} it
 * @param {Map<string, string>} names
 */
function iterationItem(node, it, names) {
  const recs = it.records;
  const spent = duration(
    Date.parse(recs[recs.length - 1].endedAt ?? new Date().toISOString()) - Date.parse(recs[0].startedAt),
  );
  return /** @type {HTMLDetailsElement} */ (
    h(
      "details",
      { "data-key": `iter-${node.name}-${it.target}`, "data-iteration": it.target },
      h(
        "summary",
        {},
        h("code", {}, it.target),
        names.get(it.target) ? ` ${names.get(it.target)}` : "",
        " ",
        badge(it.status),
        h("span", { class: "muted small" }, ` ${recs.length} record(s), ${spent}`),
      ),
    )
  );
}

/**
 * Draws an iteration's state machine (the Map's ItemProcessor, each inner state with its status)
 * and its records when it is opened, the first time: drawn or not, by the console or by local
 * mode's server, the `<details>` is made live here.
 * @param {HTMLDetailsElement} d @param {GraphNode} node
 * @param {{ target: string, records: StepRecord[], status: string }} it @param {Run} run
 */
function livenIteration(d, node, it, run) {
  const inner = /** @type {any} */ (node.state).ItemProcessor ?? /** @type {any} */ (node.state).Iterator;
  let drawn = false;
  const draw = () => {
    if (drawn || !d.open) return;
    drawn = true;
    if (inner?.States) {
      const g = aslGraph(inner);
      const sts = statusOf(g, { ...run, status: it.status, steps: it.records });
      d.append(
        h(
          "div",
          { class: "graph-wrap", "data-iteration-graph": it.target },
          renderGraph(g, sts, () => {}),
        ),
      );
    }
    d.append(recordsTable(it.records));
  };
  d.addEventListener("toggle", draw);
  // Restored open across refreshes: draw once it is in the page.
  queueMicrotask(draw);
}

/**
 * Makes a Map state's iterations live (drawn by iterationsView, here or by local mode's server):
 * each opens into its state machine, "Show more" draws the next page.
 * @param {HTMLElement} wrap the `.iterations-wrap` @param {GraphNode} node @param {StepRecord[]} records
 * @param {Run} run @param {Map<string, string>} names
 * @param {{ details: HTMLDetailsElement[], more?: HTMLElement | null }} drawn its iterations' `<details>` and its "Show more"
 */
function livenIterations(wrap, node, records, run, names, { details, more }) {
  const { items } = iterations(records);
  const byTarget = new Map(items.map((it) => [it.target, it]));
  for (const d of details) {
    const it = byTarget.get(d.dataset.iteration ?? "");
    if (it) livenIteration(d, node, it, run);
  }
  const shown = details.length;
  more?.addEventListener("click", () => {
    shownIterations.set(`${run.id}:${node.name}`, Math.min(items.length, shown + ITERATION_PAGE));
    const fresh = iterationsView(node, records, run, names);
    wrap.replaceWith(fresh);
    // The first newly shown iteration takes the focus, so the keyboard carries on there.
    /** @type {HTMLElement | null} */ (
      fresh.querySelector(`.iterations > li:nth-child(${shown + 1}) summary`)
    )?.focus();
  });
  return wrap;
}

/**
 * A Map state's iterations, a page at a time.
 * @param {GraphNode} node @param {StepRecord[]} records @param {Run} run @param {Map<string, string>} names
 * @param {string} [wanted] a target that must be on the page (a deep link)
 */
function iterationsView(node, records, run, names, wanted) {
  const { items, untargeted } = iterations(records);
  const key = `${run.id}:${node.name}`;
  const at = wanted ? items.findIndex((it) => it.target === wanted) : -1;
  const shown = Math.max(shownIterations.get(key) ?? ITERATION_PAGE, at + 1);
  const details = items.slice(0, shown).map((it) => iterationItem(node, it, names));
  const list = h(
    "ol",
    { class: "iterations" },
    details.map((d) => h("li", {}, d)),
  );
  const more =
    items.length > shown
      ? h(
          "button",
          { type: "button", "data-more": node.name },
          `Show ${Math.min(ITERATION_PAGE, items.length - shown)} more (${shown} of ${items.length} shown)`,
        )
      : "";
  const rest = untargeted.length
    ? h(
        "details",
        { "data-key": `iter-${node.name}-untargeted` },
        h("summary", {}, `${untargeted.length} record(s) of no single target`),
        recordsTable(untargeted),
      )
    : "";
  const wrap = h("div", { class: "iterations-wrap" }, list, more, rest);
  return livenIterations(wrap, node, records, run, names, { details, more: more || null });
}

/** The targets' names the run reported, by id. @param {Run} run */
const targetNames = (run) =>
  new Map((run.outcome?.targets ?? []).filter((t) => t.name).map((t) => [t.id, String(t.name)]));

/**
 * Every state that wrote records, a `<details>` each (`#state-<name>`).
 * @param {import("../graph.js").Graph} graph
 * @param {ReturnType<typeof statusOf>} statuses
 * @param {Run} run
 * @param {{ state?: string, target?: string }} [link] a step (and iteration) to show (a deep link)
 */
export function stepsView(graph, statuses, run, link = {}) {
  const names = targetNames(run);
  const rows = [];
  for (const n of graph.nodes) {
    const st = /** @type {{ status: string, records: StepRecord[] }} */ (statuses.get(n.name));
    if (!st.records.length) continue;
    const count = n.iterates ? iterations(st.records).items.length : 0;
    const wanted = link.state === n.name ? link.target : undefined;
    rows.push(
      h(
        "details",
        {
          id: `state-${n.name}`,
          "data-key": `state-${n.name}`,
          open: n.iterates || st.records.length > 5 ? undefined : true,
        },
        h(
          "summary",
          {},
          h("strong", {}, n.name),
          n.iterates
            ? ` — Map: ${count} iteration(s), ${st.records.length} record(s) `
            : ` — ${st.records.length} record(s) `,
          badge(st.status),
        ),
        n.iterates ? iterationsView(n, st.records, run, names, wanted) : recordsTable(st.records),
      ),
    );
  }
  return rows.length ? rows : [h("p", { class: "muted" }, "No step has started yet.")];
}

/**
 * Makes step records local mode's server drew (stepsView's, as they are in the page) live: each
 * Map state's iterations open into their state machine and page on, as if drawn here.
 * @param {HTMLElement} el the part holding stepsView's `<details>`
 * @param {import("../graph.js").Graph} graph
 * @param {ReturnType<typeof statusOf>} statuses
 * @param {Run} run
 */
export function adoptSteps(el, graph, statuses, run) {
  const names = targetNames(run);
  for (const n of graph.nodes) {
    const wrap = n.iterates
      ? /** @type {HTMLElement | null} */ (
          el.querySelector(`#state-${CSS.escape(n.name)} > .iterations-wrap`)
        )
      : null;
    if (!wrap) continue;
    const st = /** @type {{ records: StepRecord[] }} */ (statuses.get(n.name));
    livenIterations(wrap, n, st.records, run, names, {
      details: /** @type {HTMLDetailsElement[]} */ ([
        ...wrap.querySelectorAll(":scope > .iterations > li > details[data-iteration]"),
      ]),
      more: /** @type {HTMLElement | null} */ (wrap.querySelector(":scope > button[data-more]")),
    });
  }
}
