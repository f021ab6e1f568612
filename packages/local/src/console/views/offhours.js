// @ts-check
/**
 * Off hours (`#/offhours`): the overrides in force — target, end in the viewer's time and in
 * UTC, who set it and why — each with Cancel; and a form to keep targets running for a while or
 * until a time, through the same routes as the CLI and Slack (`GET/POST/DELETE
 * /api/offhours/overrides`, each a run of off-hours through admit()). Actions the person may not
 * take are disabled with the reason; the server decides anyway, and its `{ error: { message,
 * path } }` is shown beside the form, the field it names marked.
 */
import { act } from "../lib/act.js";
import { api, errorText } from "../lib/api.js";
import { empty, fill, flash, h, keepTyped, patch, runLink, time } from "../lib/dom.js";
import { allowed, meKey, whyNot } from "../lib/me.js";

const RUNBOOK = "off-hours";
const ROUTE = "/api/offhours/overrides";

/** @typedef {{ target: string, until: string, setBy: string, reason: string, setAt?: string, execution?: string }} Override */

/** @param {string} iso */
const utc = (iso) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : `${d
        .toISOString()
        .replace("T", " ")
        .replace(/:\d{2}\.\d+Z$/, "")} UTC`;
};

/** @param {Override} o */
function overrideRow(o) {
  /** @param {Event} ev */
  const cancel = (ev) =>
    act(
      ev,
      "DELETE",
      ROUTE,
      { targets: [o.target], reason: "cancelled from the console" },
      `Cancelling the override on ${o.target}.`,
    );
  return h(
    "tr",
    { "data-target": o.target },
    h("th", { scope: "row" }, h("code", {}, o.target)),
    h("td", {}, time(o.until)),
    h("td", {}, utc(o.until)),
    h("td", {}, o.setBy),
    h("td", {}, o.reason),
    h("td", {}, o.execution ? runLink(o.execution, "run") : ""),
    h(
      "td",
      {},
      ...allowed(
        h(
          "button",
          {
            type: "button",
            class: "danger",
            "aria-label": `Cancel the override on ${o.target}`,
            onclick: cancel,
          },
          "Cancel",
        ),
        whyNot("run", RUNBOOK),
      ),
    ),
  );
}

/** @param {import("../lib/api.js").ApiResult} res */
function overridesBody(res) {
  if (res.status === 404)
    return empty("This server has no off-hours overrides (GET /api/offhours/overrides answered 404).");
  if (res.status !== 200) return empty(`Could not load the overrides: ${errorText(res)}`);
  /** @type {Override[]} */
  const list = res.body.overrides ?? [];
  if (!list.length) return empty("No override is in force: every tagged target follows its schedule.");
  return h(
    "table",
    { class: "overrides" },
    h("caption", {}, `${list.length} override(s) in force`),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...["Target", "Until (your time)", "Until (UTC)", "Set by", "Reason", "Run", ""].map((c) =>
          h("th", { scope: "col" }, c),
        ),
      ),
    ),
    h("tbody", {}, ...list.map(overrideRow)),
  );
}

/** The form: targets, for or until, reason, start now. Built once per visit (a poll never wipes what is typed). */
function keepForm() {
  const problem = h("p", { class: "field-error", role: "alert", id: "override-problem" });
  /** @param {string} name @param {string} label @param {Record<string, unknown>} attrs @param {string} hint */
  const field = (name, label, attrs, hint) =>
    h(
      "div",
      { class: "field", "data-field": name },
      h("label", { for: `override-${name}` }, label),
      h("input", { id: `override-${name}`, name, "aria-describedby": `override-${name}-hint`, ...attrs }),
      h("span", { class: "hint", id: `override-${name}-hint` }, hint),
    );
  const why = whyNot("run", RUNBOOK);
  const submit = h("button", { type: "submit", class: "primary" }, "Keep running");
  const form = h(
    "form",
    { class: "start", id: "override-form", "aria-describedby": "override-problem" },
    field(
      "targets",
      "Targets",
      { required: true, size: 40 },
      "instance ids (i-…) or asg:<group>, comma-separated",
    ),
    field(
      "for",
      "For",
      { size: 8, placeholder: "3h" },
      "how long from now (90m, 3h, 2d), or leave empty and give Until",
    ),
    field(
      "until",
      "Until",
      { size: 24, placeholder: "22:00" },
      "HH:MM in the target's schedule zone, or an ISO instant",
    ),
    field(
      "reason",
      "Reason",
      { required: true, size: 40 },
      "why it must stay up (recorded with the override)",
    ),
    h(
      "div",
      { class: "field", "data-field": "start" },
      h("label", { for: "override-start" }, "Start now"),
      h("input", {
        id: "override-start",
        name: "start",
        type: "checkbox",
        "aria-describedby": "override-start-hint",
      }),
      h("span", { class: "hint", id: "override-start-hint" }, "start the targets now if they are stopped"),
    ),
    h("div", { class: "actions" }, ...allowed(submit, why)),
    problem,
  );
  if (why) for (const input of form.querySelectorAll("input")) input.setAttribute("disabled", "");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    fill(problem);
    const value = (/** @type {string} */ name) =>
      /** @type {HTMLInputElement} */ (form.querySelector(`[name=${name}]`)).value.trim();
    const body = {
      targets: value("targets")
        .split(/[\s,]+/)
        .filter(Boolean),
      ...(value("for") ? { for: value("for") } : {}),
      ...(value("until") ? { until: value("until") } : {}),
      reason: value("reason"),
      start: /** @type {HTMLInputElement} */ (form.querySelector("[name=start]")).checked,
    };
    submit.disabled = true;
    const res = await api("POST", ROUTE, body);
    submit.disabled = false;
    if (res.status >= 200 && res.status < 300) {
      flash(`Keeping ${body.targets.join(", ")} running: run ${res.body.executionId ?? ""} started.`);
      form.reset();
      await refreshList(true);
      return;
    }
    // The API names the field at fault (`for`, `until`, `targets[0]`): mark it, say why.
    const path = String(res.body?.error?.path ?? "").replace(/\[.*$/, "");
    const input = path ? form.querySelector(`[name=${CSS.escape(path)}]`) : null;
    if (input) input.setAttribute("aria-invalid", "true");
    fill(problem, `Not kept: ${errorText(res)}`);
    if (input instanceof HTMLElement) input.focus();
    else submit.focus();
  });
  return form;
}

/** @type {HTMLElement | undefined} */
let listEl;
let drawnFor = "";
/** Redraws the list when the overrides (or who the person is) changed. @param {boolean} [now] */
async function refreshList(now = false) {
  if (!listEl) return;
  const res = await api("GET", ROUTE);
  const el = listEl;
  if (now) el.dataset.drawn = "";
  patch(el, JSON.stringify(res.body) + res.status + meKey(), () => overridesBody(res));
}

/** Shows the "Off hours" link once whoami says this server has the off-hours runbook. @param {boolean} has */
export function showOffHoursNav(has) {
  const link = document.querySelector('[data-nav="offhours"]');
  if (link) /** @type {HTMLElement} */ (link).hidden = !has;
}

export const offHoursView = {
  title: "Off hours",
  /**
   * @param {HTMLElement} main
   * @param {boolean} first
   */
  async render(main, first) {
    // Drawn again when who the person is changes (what they may do changes with it).
    if (first || !listEl || !main.contains(listEl) || drawnFor !== meKey()) {
      drawnFor = meKey();
      listEl = h("div", { id: "overrides" });
      // Drawn again for another person: what they were typing into the form is kept.
      const restore = first ? undefined : keepTyped(main);
      fill(
        main,
        h("h2", {}, "Off hours"),
        h(
          "p",
          { class: "muted" },
          "Targets tagged with a schedule stop outside its hours. An override keeps them running until it ends; then the schedule resumes by itself.",
        ),
        h("h3", {}, "Overrides in force"),
        listEl,
        h("h3", {}, "Keep targets running"),
        keepForm(),
      );
      restore?.();
    }
    await refreshList();
  },
};
