// @ts-check
/**
 * A run page's parts, built from the run alone (`GET /api/executions/:id`): its heading, facts,
 * state machine, results, params, step records and audit. What a person may do (the buttons)
 * is run.js's, which knows who they are. Nothing here asks the API or reads the page at load,
 * so local mode's server builds the same parts for the page's first paint (first-paint.ts).
 */
import { aslGraph, livenGraph, renderGraph, statusOf } from "../graph.js";
import { badge, empty, h, json, patch, runLink, time } from "../lib/dom.js";
import {
  alarmText,
  locationText,
  POLL_MS,
  repeats,
  runDuration,
  TERMINAL,
  triggerText,
} from "../lib/runs.js";
import { resultsView } from "./run-results.js";
import { adoptSteps, stepsView } from "./run-steps.js";

/** @typedef {import("../lib/runs.js").Run} Run */

/**
 * The run's name, dry-run mark and status, then the place of its buttons (`.actions`): what a
 * person may do depends on who they are, which run.js knows and draws there.
 * @param {Run} run
 */
export function headView(run) {
  return [
    h("h2", {}, run.runbook, run.dryRun ? h("span", { class: "badge dry" }, "dry-run") : ""),
    h("span", { id: "run-status" }, badge(run.status)),
    h("div", { class: "actions" }),
  ];
}

/** A `<dt>`/`<dd>` pair, or nothing when `value` is empty. @param {string} term @param {any} value @param {Record<string, unknown>} [attrs] */
const fact = (term, value, attrs = {}) => (value ? [h("dt", {}, term), h("dd", attrs, value)] : "");

/** @param {Run} run */
function triggerFact(run) {
  const eventId = run.trigger?.eventId;
  const event = eventId
    ? h(
        "a",
        {
          href: `#/runs?text=${encodeURIComponent(eventId)}`,
          title: "Every run this event started",
          "data-event": eventId,
        },
        h("code", {}, eventId),
      )
    : "";
  return [triggerText(run.trigger), event ? [" · event ", event] : ""];
}

/** The run's facts: id, trigger, why, times, error, locks, and the runs it repeats or was repeated by. @param {Run} run */
function factsView(run) {
  const live = !TERMINAL.includes(run.status);
  const startedAudit = (run.audit ?? []).find((a) => a.kind === "execution.started");
  const rerunOf = repeats(run);
  const reruns = run.reruns ?? [];
  return [
    fact("Execution", h("code", {}, run.id)),
    fact("Location", locationText(run), { id: "run-location" }),
    fact("Trigger", triggerFact(run)),
    fact("Alarm", run.trigger?.alarm && alarmText(run.trigger.alarm), { id: "run-alarm" }),
    fact("Why", run.trigger?.alarm?.reason ?? run.trigger?.reason ?? startedAudit?.reason ?? "—", {
      id: "run-why",
    }),
    fact("Started", time(run.startedAt)),
    fact("Ended", run.endedAt ? time(run.endedAt) : "still running"),
    fact("Duration", [runDuration(run), live ? " so far" : ""]),
    fact(
      "Error",
      (run.error || run.cause) && [h("strong", {}, run.error ?? ""), run.cause ? ` ${run.cause}` : ""],
    ),
    fact(
      live ? "Locks held" : "Locks taken",
      run.locks?.length && run.locks.map((l) => h("code", {}, l, " ")),
    ),
    fact("Re-run of", rerunOf && runLink(rerunOf)),
    fact("Re-runs", reruns.length && reruns.map((r) => [runLink(r), " "])),
  ];
}

/**
 * @param {import("../graph.js").Graph | undefined} graph @param {ReturnType<typeof statusOf> | undefined} statuses
 * @param {string | undefined} missing @param {boolean} live @param {(name: string) => void} select
 */
function graphView(graph, statuses, missing, live, select) {
  return [
    h(
      "h3",
      {},
      "State machine",
      live ? h("span", { class: "muted small" }, ` · live, every ${POLL_MS / 1000} s`) : "",
    ),
    graph && statuses
      ? [
          h(
            "div",
            { class: "legend", "aria-hidden": "true" },
            ["SUCCEEDED", "PASSED", "RUNNING", "FAILED", "NOT_RUN"].map((s) => badge(s)),
          ),
          h(
            "div",
            { class: "graph-wrap", id: "graph", "data-ready": "true" },
            renderGraph(graph, statuses, select),
          ),
          h(
            "p",
            { class: "small muted" },
            "States without a step record (choices, waits, ends) are marked passed when they lie between states that ran. Click a state for its records.",
          ),
        ]
      : empty(`The graph is not available: ${missing}.`),
  ];
}

/** @param {Run} run */
const paramsView = (run) =>
  h(
    "table",
    { id: "params" },
    h(
      "tbody",
      {},
      Object.entries(run.params ?? {}).map(([k, v]) =>
        h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, h("code", {}, JSON.stringify(v)))),
      ),
    ),
  );

/** @param {Run} run */
function auditView(run) {
  if (!(run.audit ?? []).length) return h("p", { class: "muted" }, "No audit entries for this run.");
  return h(
    "table",
    { id: "audit" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["At", "What", "Who", "Why"].map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    h(
      "tbody",
      {},
      (run.audit ?? []).map((a) =>
        h(
          "tr",
          {},
          h("td", {}, time(a.at)),
          h("td", {}, a.kind),
          h("td", {}, a.actor),
          h("td", {}, a.reason ?? ""),
        ),
      ),
    ),
  );
}

/**
 * The page's parts, empty, in order; each names itself (`data-part`) and the head names the run
 * (`data-run`), so the modules find the parts local mode's server drew (run.js's adopt).
 * @param {string} id
 */
export function frame(id) {
  const el = {
    head: h("div", { class: "run-head", "data-part": "head", "data-run": id }),
    facts: h("dl", { class: "facts", "data-part": "facts" }),
    graph: h("section", { class: "run-graph", "aria-label": "State machine", "data-part": "graph" }),
    results: h("div", { "data-part": "results" }),
    params: h("div", { "data-part": "params" }),
    steps: h("div", { id: "steps", "data-part": "steps" }),
    audit: h("div", { "data-part": "audit" }),
  };
  const page = [
    h("p", { class: "small" }, h("a", { href: "#/runs" }, "← All runs")),
    el.head,
    el.facts,
    h(
      "div",
      { class: "run-body" },
      el.graph,
      h(
        "div",
        { class: "run-side" },
        h(
          "section",
          { "aria-labelledby": "h-results" },
          h("h3", { id: "h-results" }, "Results per target"),
          el.results,
        ),
        h("section", { "aria-labelledby": "h-params" }, h("h3", { id: "h-params" }, "Params"), el.params),
      ),
    ),
    h("h3", {}, "Steps"),
    el.steps,
    h("h3", {}, "Audit"),
    el.audit,
  ];
  return { id, el, page };
}

/**
 * @typedef {"head" | "facts" | "graph" | "results" | "params" | "steps" | "audit"} PartName
 * @typedef {[key: string, build: () => import("../lib/dom.js").Child, adopt?: (el: HTMLElement) => void]} Part
 */

/**
 * Each part of the page (`frame().el`): the key of the data it is drawn from (drawn again only
 * when its key changes), how to build it, and for a part with handlers how to make the same
 * part live when local mode's server drew it (`adopt`: the modules keep the server's nodes).
 * run.js draws them as the run changes; local mode's server draws them once, for the first paint.
 * @param {Run} run
 * @param {{ stateMachine?: unknown, missing?: string }} def the run's state machine, or why there is none
 * @param {{ select?: (name: string) => void, link?: { state?: string, target?: string } }} opts
 * @returns {Record<PartName, Part>}
 */
export function runParts(run, def, { select = () => {}, link = {} }) {
  const live = !TERMINAL.includes(run.status);
  // A live run's durations and timings count up: those parts are drawn again once a second.
  const tick = live ? Math.floor(Date.now() / 1000) : 0;
  const graph = def.stateMachine ? aslGraph(def.stateMachine) : undefined;
  const statuses = graph ? statusOf(graph, run) : undefined;
  const steps = JSON.stringify([run.status, run.steps, run.outcome?.targets, tick]);
  const facts = [
    run.status,
    run.trigger,
    run.startedAt,
    run.endedAt,
    run.error,
    run.cause,
    run.locks,
    run.reruns,
    run.location,
  ];
  const started = (run.audit ?? []).find((a) => a.kind === "execution.started");
  return {
    head: [JSON.stringify([run.status, run.runbook, run.dryRun]), () => headView(run)],
    facts: [JSON.stringify([...facts, started, tick]), () => factsView(run)],
    graph: [
      `${steps}${def.missing}`,
      () => graphView(graph, statuses, def.missing, live, select),
      (el) => {
        const root = el.querySelector("#graph > svg, #graph > ol");
        if (root) livenGraph(root, select);
      },
    ],
    results: [JSON.stringify([run.status, run.dryRun, run.outcome, run.result]), () => resultsView(run)],
    params: [JSON.stringify(run.params ?? {}), () => paramsView(run)],
    steps: [
      steps,
      () => (graph && statuses ? stepsView(graph, statuses, run, link) : json(run.steps)),
      (el) => {
        if (graph && statuses) adoptSteps(el, graph, statuses, run);
      },
    ],
    audit: [JSON.stringify(run.audit ?? []), () => auditView(run)],
  };
}

/**
 * Draws each part whose key changed (`patch`: its `data-drawn`). Local mode's server draws a page
 * this way, so the modules, finding the parts drawn from the same answer, keep them.
 * @param {Record<PartName, HTMLElement>} el @param {Record<PartName, Part>} parts
 */
export function drawParts(el, parts) {
  for (const [name, [key, build]] of Object.entries(parts))
    patch(el[/** @type {PartName} */ (name)], key, build);
}
