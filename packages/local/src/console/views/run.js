// @ts-check
/**
 * One run (`#/runs/<id>`; a step at `#/runs/<id>/<state>`, a Map iteration at
 * `#/runs/<id>/<state>/<target>`): its actions, facts, state machine, results, params, step
 * records and audit. One request draws it (the run carries its state machine and re-runs).
 * Each part is redrawn only when its own data changed; what the reader opened stays open.
 */
import { act } from "../lib/act.js";
import { api, BOOT, errorText, runbookDef } from "../lib/api.js";
import { empty, fill, flash, h, localTimes, patch } from "../lib/dom.js";
import { allowed, meKey, whyNot, whyNotAbort, whyNotAnswer } from "../lib/me.js";
import { TERMINAL } from "../lib/runs.js";
import { frame, runParts } from "./run-page.js";

/** @typedef {import("../lib/runs.js").Run} Run */

/** Open or closed `<details>`, by `<run id>:<data-key>`, kept across redraws. */
const openState = new Map();

/** Redraws a part of the page when its key changed, keeping its `<details>` open or closed; true when it did. @param {string} id @param {HTMLElement} el @param {string} key @param {() => import("../lib/dom.js").Child} build */
function part(id, el, key, build) {
  for (const d of el.querySelectorAll("details[data-key]"))
    openState.set(
      `${id}:${/** @type {HTMLElement} */ (d).dataset.key}`,
      /** @type {HTMLDetailsElement} */ (d).open,
    );
  if (!patch(el, key, build)) return false;
  for (const d of el.querySelectorAll("details[data-key]")) {
    const was = openState.get(`${id}:${/** @type {HTMLElement} */ (d).dataset.key}`);
    if (was !== undefined) /** @type {HTMLDetailsElement} */ (d).open = was;
  }
  return true;
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

/** What a person may do with the run now: the buttons, for the head's `.actions`. @param {Run} run */
function actionsView(run) {
  const at = `/api/executions/${encodeURIComponent(run.id)}`;
  /** @type {Node[]} */
  const actions = [];
  const asked = { requestedBy: run.trigger?.actor, ...run.approval };
  if (run.status === "WAITING_FOR_APPROVAL")
    actions.push(
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
  if (!TERMINAL.includes(run.status)) actions.push(...abortButton(run));
  else actions.push(...rerunButton(run));
  return actions;
}

/** @type {ReturnType<typeof frame> | undefined} */
let drawn;
/** Parts of the page local mode's server drew that no handler is attached to yet (adopt). */
const unlived = new WeakSet();

/**
 * The run page local mode's server drew into `<main>` (first-paint.ts, marked `data-first-paint`)
 * for run `id`, taken as the page's parts as it is: its nodes stay, the parts whose data is
 * unchanged are not drawn again (their `data-drawn` keys match), and the others are made live
 * as drawRun meets them. Undefined when `<main>` holds no such page.
 * @param {HTMLElement} main @param {string} id
 * @returns {ReturnType<typeof frame> | undefined}
 */
function adopt(main, id) {
  if (!main.hasAttribute("data-first-paint")) return undefined;
  main.removeAttribute("data-first-paint");
  const head = main.querySelector(':scope > [data-part="head"]');
  if (!(head instanceof HTMLElement) || head.dataset.run !== id) return undefined;
  const fresh = frame(id);
  const el = /** @type {typeof fresh.el} */ ({});
  for (const name of /** @type {Array<keyof typeof fresh.el>} */ (Object.keys(fresh.el))) {
    const found = main.querySelector(`[data-part="${name}"]`);
    if (!(found instanceof HTMLElement)) return undefined;
    el[name] = found;
    unlived.add(found);
  }
  localTimes(main);
  return { id, el, page: /** @type {any[]} */ ([...main.childNodes]) };
}

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
  /** The GET the page starts with, for console.js to ask on a link's press. @param {import("../console.js").Route} route */
  asks: (route) => `/api/executions/${encodeURIComponent(/** @type {string} */ (route.arg))}`,
  /**
   * @param {HTMLElement} main
   * @param {boolean} first
   * @param {import("../console.js").Route} route `arg`: the run; `step`, `target`: a deep link
   * @param {import("../console.js").ViewContext} ctx
   */
  async render(main, first, route, ctx) {
    const id = /** @type {string} */ (route.arg);
    const res = await api("GET", runView.asks(route));
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
    let framed = false;
    if (first || drawn?.id !== id || !main.contains(drawn.el.head)) {
      const adopted = first ? adopt(main, id) : undefined;
      drawn = adopted ?? frame(id);
      framed = !adopted;
      if (!main.contains(drawn.el.head)) fill(main, drawn.page);
    }
    const page = drawn;
    // A page drawn here anew shows what is above the fold first (its head, facts, graph, results
    // and params) and its step records and audit, below it, once that frame is out.
    const later = drawRun(page, run, def, ctx, route, framed ? BELOW : []);
    if (later) {
      await nextFrame();
      if (drawn !== page) return; // another page (or this run framed again) since
      later();
    }
    if (first && route.step) showStep(route.step, route.target);
  },
};

/** The parts below a run page's fold, drawn after its first frame when the page is drawn anew. */
const BELOW = /** @type {const} */ (["steps", "audit"]);

/** Once the next frame has gone out (at once in a hidden tab, which makes no frames; within a second in one hidden meanwhile). */
function nextFrame() {
  return new Promise((done) => {
    if (document.hidden) return done(undefined);
    const timer = setTimeout(done, 1000); // a tab hidden meanwhile makes no frame
    requestAnimationFrame(() =>
      setTimeout(() => {
        clearTimeout(timer);
        done(undefined);
      }),
    );
  });
}

/**
 * Draws the run's parts whose data changed, all but those named in `skip`; returns a function
 * that draws those (undefined when there are none).
 * @param {ReturnType<typeof frame>} page @param {Run} run
 * @param {{ stateMachine?: unknown, missing?: string }} def @param {import("../console.js").ViewContext} ctx
 * @param {import("../console.js").Route} route
 * @param {readonly string[]} [skip]
 * @returns {(() => void) | undefined}
 */
function drawRun({ id, el }, run, def, ctx, route, skip = []) {
  /** @param {string} name */
  const select = (name) => {
    ctx.linkTo(`#/runs/${encodeURIComponent(id)}/${encodeURIComponent(name)}`);
    showStep(name);
  };
  const parts = runParts(run, def, { select, link: { state: route.step, target: route.target } });
  /** @param {(name: string) => boolean} which */
  const draw = (which) => {
    for (const [name, [key, build, adopted]] of Object.entries(parts)) {
      if (!which(name)) continue;
      const at = el[/** @type {keyof typeof el} */ (name)];
      // A part the server drew: kept when its data is the same, then given its handlers.
      if (!part(id, at, key, build) && unlived.has(at)) adopted?.(at);
      unlived.delete(at);
    }
  };
  draw((name) => !skip.includes(name));
  // The buttons: who may do what is known here, not on the server.
  const actions = /** @type {HTMLElement} */ (el.head.querySelector(":scope > .actions"));
  const asked = [run.status, run.runbook, run.dryRun, run.trigger?.actor, run.approval, meKey()];
  patch(actions, JSON.stringify(asked), () => actionsView(run));
  return skip.length ? () => draw((name) => skip.includes(name)) : undefined;
}
