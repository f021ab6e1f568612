// @ts-check
/**
 * What the person at the page may do: `GET /api/whoami` (the signed-in person's, asked once by
 * auth.js; without sign-in, the "acting as" person's, asked again when that field changes).
 * The views show an action they may not take disabled, with the reason beside it. The server
 * decides anyway: this only spares a person a button that can only say no.
 */
import { whoami } from "../auth.js";
import { actor, api } from "./api.js";
import { h } from "./dom.js";

/**
 * @typedef {{ actor: string, person?: string, identities?: string[], roles: string[],
 *   may: Record<string, string[]> }} Me
 * @typedef {{ approvers?: string[], selfApproval?: boolean, requestedBy?: string, runbook?: string }} Asked
 */

/** @type {Me | undefined} */
let me;
/** @type {string | undefined} */
let meFor;

/** Asks the API who the person is (again only when the "acting as" field changed). */
export async function refreshMe() {
  const signed = /** @type {Me | undefined} */ (whoami());
  if (signed) {
    me = usable(signed);
    return;
  }
  const who = actor();
  if (meFor === who) return;
  const res = await api("GET", "/api/whoami");
  meFor = who;
  me = res.status === 200 ? usable(res.body) : undefined;
}

/**
 * Whoami's answer when it says what the person may do; else undefined (a server without whoami,
 * or an error): every action shows, and the server answers.
 * @param {any} body @returns {Me | undefined}
 */
function usable(body) {
  if (!body || typeof body.may !== "object" || !body.may) return undefined;
  return { ...body, roles: Array.isArray(body.roles) ? body.roles : [] };
}

/** Changes when who may do what changes: part of each view's redraw key. */
export const meKey = () => (me ? `${me.actor}|${me.roles.join(",")}` : "");

const name = () => me?.person ?? me?.actor ?? "you";

/** Is `identity` (a run's requester) this person, through any of their identities? @param {string | undefined} identity */
function isMe(identity) {
  if (!me || !identity) return false;
  return identity === me.actor || (me.identities ?? []).includes(identity);
}

/**
 * Why this person may not take `action` on `runbook` runs, or undefined when they may (or when
 * the console does not know who they are).
 * @param {"run" | "dry-run" | "approve" | "abort" | "override-pause"} action
 * @param {string} runbook
 */
export function whyNot(action, runbook) {
  if (!me || me.may[runbook]?.includes(action)) return undefined;
  return `${name()} may not ${action === "run" ? "start" : action} ${runbook} runs`;
}

/** Whether whoami lists this runbook (the server has it); false when the console does not know. @param {string} runbook */
export const hasRunbook = (runbook) => Boolean(me && Object.hasOwn(me.may, runbook));

/** Pausing and resuming take `override-pause` on some runbook, as the server checks. */
export function whyNotPause() {
  if (!me || Object.values(me.may).some((a) => a.includes("override-pause"))) return undefined;
  return `${name()} may not pause or resume automation (it takes the override-pause action)`;
}

/** Aborting: `abort` on the runbook, or the person who started the run. @param {string} runbook @param {string | undefined} startedBy */
export function whyNotAbort(runbook, startedBy) {
  return isMe(startedBy) ? undefined : whyNot("abort", runbook);
}

/**
 * Why this person may not answer this approval, or undefined (the server's rule: an approver
 * role, or `approve` when the request names none; the requester may reject but not approve
 * their own run unless self-approval is on).
 * @param {Asked} req
 * @param {string} runbook
 * @param {"approve" | "reject"} answer
 */
export function whyNotAnswer(req, runbook, answer) {
  if (!me) return undefined;
  const requester = isMe(req.requestedBy);
  if (answer === "reject" && requester) return undefined;
  const approvers = req.approvers ?? [];
  const approver = approvers.length
    ? me.roles.some((r) => approvers.includes(r))
    : me.may[runbook]?.includes("approve");
  if (!approver)
    return `${name()} is not an approver of ${runbook}${approvers.length ? ` (roles: ${approvers.join(", ")})` : ""}`;
  if (answer === "approve" && requester && !req.selfApproval)
    return `${name()} asked for this run and may not approve it`;
  return undefined;
}

let reasons = 0;
/**
 * A button as given, or disabled with the reason shown beside it (and read with it).
 * @param {HTMLElement} button
 * @param {string | undefined} why
 * @returns {HTMLElement[]}
 */
export function allowed(button, why) {
  if (!why) return [button];
  const id = `why-not-${++reasons}`;
  button.setAttribute("disabled", "");
  button.setAttribute("aria-describedby", id);
  button.title = why;
  return [button, h("span", { class: "why-not muted small", id }, why)];
}
