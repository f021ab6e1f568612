// @ts-check
/**
 * One run (`#/runs/<id>`; a step at `#/runs/<id>/<state>`, a Map iteration at
 * `#/runs/<id>/<state>/<target>`): its actions, facts, state machine, results, params, step
 * records and audit. One request draws it (the run carries its state machine and re-runs).
 * Each part is redrawn only when its own data changed; what the reader opened stays open.
 */
import { aslGraph, renderGraph, statusOf } from "../graph.js";
import { act } from "../lib/act.js";
import { api, BOOT, errorText, runbookDef } from "../lib/api.js";
import { badge, empty, fill, flash, h, json, patch, runLink, time } from "../lib/dom.js";
import { allowed, meKey, whyNot, whyNotAbort, whyNotAnswer } from "../lib/me.js";
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
import { stepsView } from "./run-steps.js";

/** @typedef {import("../lib/runs.js").Run} Run */

/** Open or closed `<details>`, by `<run id>:<data-key>`, kept across redraws. */
const openState = new Map();

/** Redraws a part of the page when its key changed, keeping its `<details>` open or closed. @param {string} id @param {HTMLElement} el @param {string} key @param {() => import("../lib/dom.js").Child} build */
function part(id, el, key, build) {
  for (const d of el.querySelectorAll("details[data-key]"))
    openState.set(
      `${id}:${/** @type {HTMLElement} */ (d).dataset.key}`,
      /** @type {HTMLDetailsElement} */ (d).open,
    );
  if (!patch(el, key, build)) return;
  for (const d of el.querySelectorAll("details[data-key]")) {
    const was = openState.get(`${id}:${/** @type {HTMLElement} */ (d).dataset.key}`);
    if (was !== undefined) /** @type {HTMLDetailsElement} */ (d).open = was;
  }
}

/** @param {Run} run */
function rerunButton(run) {
  const again = `#/start/${encodeURIComponent(run.runbook)}?from=${encodeURIComponent(run.id)}`;
  /** @param {Event} ev */
  const rerun = async (ev) => {
    const out = await act(
      ev,
      "POST",
      `/api/executions/${encodeURIComponent(run.id)}/rerun`,
      {},
      "Re-run started.",
    );
    if (out.status >= 200 && out.status < 300 && out.body.executionId)
      location.hash = `#/runs/${encodeURIComponent(out.body.executionId)}`;
    else if (out.status === 404)
      flash(
        [
          "Re-run is not offered by this server yet. ",
          h("a", { href: again }, "Start it again with the same params"),
          ".",
        ],
        true,
      );
  };
  return [
    ...allowed(
      h("button", { type: "button", onclick: rerun }, "↻ Re-run"),
      whyNot(run.dryRun ? "dry-run" : "run", run.runbook),
    ),
    h("a", { class: "button", href: again }, "Edit params and start…"),
  ];
}

/** @param {Run} run */
function abortButton(run) {
  /** @param {Event} ev */
  const abort = (ev) => {
    // Graceful abort: no new target starts, steps in flight finish, then the runbook's
    // rollback undoes what was done. The reason is audited.
    const reason = prompt(
      `Abort ${run.id}? No new target starts; steps in flight finish, then its rollback undoes what was done. Why?`,
      "aborted from the console",
    );
    if (reason?.trim())
      act(
        ev,
        "POST",
        `/api/executions/${encodeURIComponent(run.id)}/abort`,
        { reason: reason.trim() },
        "Abort requested: the run stops after the steps in flight and rolls back.",
      );
  };
  return allowed(
    h("button", { type: "button", class: "danger", onclick: abort }, "■ Abort"),
    whyNotAbort(run.runbook, run.trigger?.actor),
  );
}

/** What a person may do with the run now. @param {Run} run */
function actionsView(run) {
  const at = `/api/executions/${encodeURIComponent(run.id)}`;
  const actions = h("div", { class: "actions" });
  const asked = { requestedBy: run.trigger?.actor, ...run.approval };
  if (run.status === "WAITING_FOR_APPROVAL")
    actions.append(
      ...allowed(
        h(
          "button",
          {
            type: "button",
            class: "primary",
            onclick: (/** @type {Event} */ ev) => act(ev, "POST", `${at}/approve`, {}, "Approved."),
          },
          "✓ Approve",
        ),
        whyNotAnswer(asked, run.runbook, "approve"),
      ),
      ...allowed(
        h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: (/** @type {Event} */ ev) => act(ev, "POST", `${at}/reject`, {}, "Rejected."),
          },
          "✗ Reject",
        ),
        whyNotAnswer(asked, run.runbook, "reject"),
      ),
    );
  if (!TERMINAL.includes(run.status)) actions.append(...abortButton(run));
  else actions.append(...rerunButton(run));
  return [
    h("h2", {}, run.runbook, run.dryRun ? h("span", { class: "badge dry" }, "dry-run") : ""),
    h("span", { id: "run-status" }, badge(run.status)),
    actions,
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

/** The page's parts, empty, in order. @param {string} id */
function frame(id) {
  const el = {
    head: h("div", { class: "run-head" }),
    facts: h("dl", { class: "facts" }),
    graph: h("section", { class: "run-graph", "aria-label": "State machine" }),
    results: h("div", {}),
    params: h("div", {}),
    steps: h("div", { id: "steps" }),
    audit: h("div", {}),
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

/** @type {ReturnType<typeof frame> | undefined} */
let drawn;

/** Opens a state's records and gives it the focus. @param {string} name @param {string} [target] */
function showStep(name, target) {
  const d = /** @type {HTMLDetailsElement | null} */ (document.getElementById(`state-${name}`));
  if (!d) return flash(`${name} has no step records: it writes none, or it has not run.`);
  d.open = true;
  const it = target
    ? /** @type {HTMLDetailsElement | null} */ (d.querySelector(`[data-iteration="${CSS.escape(target)}"]`))
    : null;
  if (it) it.open = true;
  const at = it ?? d;
  at.scrollIntoView({ block: "nearest" });
  at.querySelector("summary")?.focus();
}

export const runView = {
  title: "Run",
  /**
   * @param {HTMLElement} main
   * @param {boolean} first
   * @param {import("../console.js").Route} route `arg`: the run; `step`, `target`: a deep link
   * @param {import("../console.js").ViewContext} ctx
   */
  async render(main, first, route, ctx) {
    const id = /** @type {string} */ (route.arg);
    const res = await api("GET", `/api/executions/${encodeURIComponent(id)}`);
    if (res.status !== 200) {
      drawn = undefined;
      const why = res.status === 404 ? "No such run. " : `Could not load it: ${errorText(res)}. `;
      return fill(
        main,
        h("h2", {}, "Run ", h("code", {}, id)),
        empty(why, h("a", { href: "#/runs" }, "Back to runs")),
      );
    }
    /** @type {Run} */
    const run = res.body;
    // One request: the run answers with its runbook's state machine and its re-runs.
    const def = run.stateMachine
      ? { stateMachine: run.stateMachine, missing: undefined }
      : await runbookDef(run.runbook);
    // Its layout needs dagre (loading since boot.js ran; without it the states are listed).
    if (def.stateMachine) await BOOT.dagre;
    if (first || drawn?.id !== id || !main.contains(drawn.el.head)) {
      drawn = frame(id);
      fill(main, drawn.page);
    }
    drawRun(drawn, run, def, ctx, route);
    if (first && route.step) showStep(route.step, route.target);
  },
};

/**
 * @param {ReturnType<typeof frame>} page @param {Run} run
 * @param {{ stateMachine?: unknown, missing?: string }} def @param {import("../console.js").ViewContext} ctx
 * @param {import("../console.js").Route} route
 */
function drawRun({ id, el }, run, def, ctx, route) {
  const live = !TERMINAL.includes(run.status);
  // A live run's durations and timings count up: those parts are drawn again once a second.
  const tick = live ? Math.floor(Date.now() / 1000) : 0;
  const graph = def.stateMachine ? aslGraph(def.stateMachine) : undefined;
  const statuses = graph ? statusOf(graph, run) : undefined;
  /** @param {string} name */
  const select = (name) => {
    ctx.linkTo(`#/runs/${encodeURIComponent(id)}/${encodeURIComponent(name)}`);
    showStep(name);
  };
  const steps = JSON.stringify([run.status, run.steps, run.outcome?.targets, tick]);
  part(id, el.head, JSON.stringify([run.status, run.runbook, run.dryRun, meKey()]), () => actionsView(run));
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
  part(id, el.facts, JSON.stringify([...facts, started, tick]), () => factsView(run));
  part(id, el.graph, `${steps}${def.missing}`, () => graphView(graph, statuses, def.missing, live, select));
  part(id, el.results, JSON.stringify([run.status, run.dryRun, run.outcome, run.result]), () =>
    resultsView(run),
  );
  part(id, el.params, JSON.stringify(run.params ?? {}), () => paramsView(run));
  part(id, el.steps, steps, () =>
    graph && statuses
      ? stepsView(graph, statuses, run, { state: route.step, target: route.target })
      : json(run.steps),
  );
  part(id, el.audit, JSON.stringify(run.audit ?? []), () => auditView(run));
}
