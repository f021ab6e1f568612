// @ts-check
/**
 * Start a runbook (`#/start`, one runbook at `#/start/<name>`, its params copied from a run
 * with `?from=<id>`): each runbook with its risk, summary and dry-run behaviour; a form from
 * its params schema; dry-run checked by default.
 */
import { api, errorText, runbooks } from "../lib/api.js";
import { empty, fill, flash, h, runLink } from "../lib/dom.js";
import { whyNot } from "../lib/me.js";
import { field } from "./form.js";

/** @typedef {Awaited<ReturnType<typeof runbooks>>[number]} Runbook */

/** @param {Runbook[]} rbs */
const runbookCards = (rbs) =>
  rbs.length
    ? rbs.map((r) =>
        h(
          "article",
          { class: "card" },
          h(
            "h3",
            {},
            h("a", { href: `#/start/${encodeURIComponent(r.name)}` }, r.name),
            h("span", { class: "badge" }, `risk: ${r.risk}`),
          ),
          h("p", {}, r.summary),
          h("p", { class: "small muted" }, "Dry-run: ", r.dryRun),
        ),
      )
    : empty("No runbooks are registered.");

/** The form's submit: reads the params, says where they are wrong, starts the run and opens it.
 * @param {HTMLElement} main @param {Runbook} rb @param {() => import("./form.js").Field} form
 * @param {HTMLInputElement} dry @param {HTMLElement} problem */
function submitter(main, rb, form, dry, problem) {
  /** @param {SubmitEvent} ev */
  return async (ev) => {
    ev.preventDefault();
    problem.textContent = "";
    for (const el of main.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    let params;
    try {
      params = form().read() ?? {};
    } catch (err) {
      const e = /** @type {{ path: string, message: string }} */ (err);
      problem.textContent = `${e.path || "params"}: ${e.message}`;
      const at = `[data-path="${e.path}"]`;
      main.querySelector(`${at} input, ${at} textarea, ${at} select`)?.setAttribute("aria-invalid", "true");
      return;
    }
    const button = /** @type {HTMLButtonElement | null} */ (ev.submitter);
    if (button) button.disabled = true;
    const res = await api("POST", `/api/runbooks/${encodeURIComponent(rb.name)}/executions`, {
      params,
      dryRun: dry.checked,
    });
    if (button) button.disabled = false;
    if (res.status >= 200 && res.status < 300 && res.body.executionId) {
      flash(`Started ${res.body.executionId}${dry.checked ? " (dry-run)" : ""}.`);
      location.hash = `#/runs/${encodeURIComponent(res.body.executionId)}`;
    } else problem.textContent = `Not started: ${errorText(res)}`;
  };
}

/** @param {HTMLElement} main @param {Runbook} rb @param {string | null} from @param {unknown} initial */
function startForm(main, rb, from, initial) {
  const holder = h("div");
  let form = field(rb.params ?? {}, "", [], true, initial);
  holder.append(form.el);
  const dry = /** @type {HTMLInputElement} */ (
    h("input", { id: "dry-run", type: "checkbox", name: "dryRun", checked: true })
  );
  const problem = h("p", { class: "field-error", role: "alert" });
  const example = () => {
    form = field(rb.params ?? {}, "", [], true, rb.example);
    fill(holder, form.el);
  };
  const start = h(
    "button",
    { type: "submit", class: "primary", "aria-describedby": "start-why-not" },
    "Start",
  );
  const whyStart = h("span", { class: "why-not muted small", id: "start-why-not" });
  // A person allowed dry-runs only may still start one: the button follows the checkbox.
  const sync = () => {
    const why = whyNot(dry.checked ? "dry-run" : "run", rb.name);
    start.toggleAttribute("disabled", Boolean(why));
    whyStart.textContent = why ? ` ${why}` : "";
  };
  dry.addEventListener("change", sync);
  sync();
  return [
    h("p", { class: "small" }, h("a", { href: "#/start" }, "← All runbooks")),
    h("h2", {}, `Start ${rb.name}`, h("span", { class: "badge" }, `risk: ${rb.risk}`)),
    h("p", {}, rb.summary),
    from && initial ? h("p", { class: "muted" }, "Params copied from ", runLink(from), ".") : "",
    h(
      "form",
      {
        class: "start",
        onsubmit: submitter(main, rb, () => form, dry, problem),
        "aria-label": `Params of ${rb.name}`,
      },
      holder,
      h("p", {}, h("button", { type: "button", onclick: example }, "Fill with the example")),
      h(
        "p",
        {},
        dry,
        h("label", { for: "dry-run" }, " Dry-run: report the plan, change nothing"),
        h("div", { class: "small muted" }, rb.dryRun),
      ),
      problem,
      start,
      whyStart,
    ),
  ];
}

export const startView = {
  title: "Start a runbook",
  /**
   * @param {HTMLElement} main
   * @param {boolean} first
   * @param {import("../console.js").Route} route `arg`: the runbook; `query.from`: a run to copy params from
   */
  async render(main, first, { arg: name, query }) {
    if (!first) return;
    /** @type {Runbook[]} */
    let rbs;
    try {
      rbs = await runbooks();
    } catch (err) {
      return fill(main, h("h2", {}, "Start a runbook"), empty(/** @type {Error} */ (err).message));
    }
    if (!name) return fill(main, h("h2", {}, "Start a runbook"), runbookCards(rbs));
    const rb = rbs.find((r) => r.name === name);
    if (!rb)
      return fill(
        main,
        h("h2", {}, "Start a runbook"),
        empty(`No runbook '${name}'. `, h("a", { href: "#/start" }, "Pick one")),
      );
    let initial;
    const from = query.get("from");
    if (from) {
      const prev = await api("GET", `/api/executions/${encodeURIComponent(from)}`);
      if (prev.status === 200) initial = prev.body.params;
    }
    fill(main, startForm(main, rb, from, initial));
  },
};
