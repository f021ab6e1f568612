// @ts-check
/**
 * Waiting on you (`#/approvals`, one approval at `#/approvals/<execution id>`): each run that
 * waits for a person, with its plan, requester and deadline, and Approve / Reject.
 */
import { duration } from "../graph.js";
import { act } from "../lib/act.js";
import { api, errorText } from "../lib/api.js";
import { empty, fill, h, keepTyped, runLink, time } from "../lib/dom.js";
import { allowed, meKey, whyNotAnswer } from "../lib/me.js";
import { planView } from "./plan.js";

/**
 * @typedef {{ executionId: string, runbook: string, requestedBy?: string, requestedAt?: string,
 *   deadline?: string, plan?: unknown, approvers?: string[], selfApproval?: boolean }} Approval
 */

/** @type {import("../lib/api.js").ApiResult} */
let approvals = { status: 0, body: {} };

/** Asks for the approvals and sets the count in the navigation bar. */
export async function refreshApprovals() {
  const res = await api("GET", "/api/approvals");
  approvals = res;
  const count = res.status === 200 ? (res.body.approvals ?? []).length : 0;
  const el = /** @type {HTMLElement} */ (document.getElementById("approval-count"));
  el.textContent = count ? String(count) : "";
}

/** @param {Approval} a */
function decideButtons(a) {
  const id = encodeURIComponent(a.executionId);
  const reason = h("input", {
    name: "reason",
    "aria-label": `Reason for rejecting ${a.executionId}`,
    placeholder: "reason (for reject)",
    size: 24,
  });
  /** @param {Event} ev */
  const approve = (ev) => act(ev, "POST", `/api/executions/${id}/approve`, {}, `Approved ${a.executionId}.`);
  /** @param {Event} ev */
  const reject = (ev) =>
    act(
      ev,
      "POST",
      `/api/executions/${id}/reject`,
      { reason: reason.value.trim() || undefined },
      `Rejected ${a.executionId}.`,
    );
  const mayReject = whyNotAnswer(a, a.runbook, "reject");
  if (mayReject) reason.setAttribute("disabled", "");
  return h(
    "div",
    { class: "actions" },
    ...allowed(
      h("button", { type: "button", class: "primary", onclick: approve }, "✓ Approve"),
      whyNotAnswer(a, a.runbook, "approve"),
    ),
    reason,
    ...allowed(h("button", { type: "button", class: "danger", onclick: reject }, "✗ Reject"), mayReject),
  );
}

/** @param {Approval} a */
function approvalCard(a) {
  const left = a.deadline ? Date.parse(a.deadline) - Date.now() : undefined;
  return h(
    "article",
    {
      class: "card approval",
      id: `approval-${a.executionId}`,
      tabindex: -1,
      "data-execution": a.executionId,
    },
    h(
      "h3",
      {},
      a.runbook,
      " ",
      runLink(a.executionId),
      " ",
      h(
        "a",
        { class: "small", href: `#/approvals/${encodeURIComponent(a.executionId)}` },
        "link to this approval",
      ),
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Requested by"),
      h("dd", {}, a.requestedBy ?? "—"),
      h("dt", {}, "Requested"),
      h("dd", {}, time(a.requestedAt)),
      h("dt", {}, "Deadline"),
      h(
        "dd",
        {},
        time(a.deadline),
        left !== undefined ? ` (${left > 0 ? `in ${duration(left)}` : "passed"})` : "",
      ),
    ),
    h("h4", {}, "Plan"),
    planView(a.plan),
    decideButtons(a),
  );
}

/** @param {import("../lib/api.js").ApiResult} res */
function approvalsBody(res) {
  if (res.status === 404)
    return empty(
      "This server has no approvals API yet (GET /api/approvals answered 404). ",
      "Runs of high-risk runbooks that wait for a person will be listed here once it has.",
    );
  if (res.status !== 200) return empty(`Could not load approvals: ${errorText(res)}`);
  if (!res.body.approvals?.length)
    return empty(
      "Nothing is waiting on you. Runs that need an approval show up here, with their plan and deadline.",
    );
  return res.body.approvals.map(approvalCard);
}

export const approvalsView = {
  title: "Waiting on you",
  /**
   * @param {HTMLElement} main
   * @param {boolean} first
   * @param {import("../console.js").Route} route `arg`: one approval to open (a deep link)
   */
  async render(main, first, { arg: id }) {
    await refreshApprovals();
    const key = JSON.stringify(approvals) + meKey();
    if (main.dataset.key === key) return;
    main.dataset.key = key;
    // A reject reason being typed (and the focus in it) survives the list being drawn again.
    const restore = first ? undefined : keepTyped(main);
    fill(main, h("h2", {}, "Waiting on you"), approvalsBody(approvals));
    restore?.();
    const card = first && id ? document.getElementById(`approval-${id}`) : null;
    if (first && id && !card)
      fill(
        main,
        h("h2", {}, "Waiting on you"),
        empty(`${id} is not waiting for an approval. `, runLink(id, "Its run page")),
        approvalsBody(approvals),
      );
    if (card) {
      card.classList.add("linked");
      card.scrollIntoView({ block: "nearest" });
      card.focus({ preventScroll: true });
    }
  },
};
