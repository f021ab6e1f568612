// @ts-check
/**
 * The JSON API: its base URL (from boot.js: `<meta name="reflex-api">`, or `?api=` when it is
 * this origin or a loopback address), the one place request headers are built
 * (`requestHeaders()`), and `api()`, which every view calls.
 */
// First: its top-level await is the sign-in gate (with sign-in on, the page waits here until
// the person is signed in) and it sets `reflexBoot.api` from console-config.json.
import { authExpired, authHeaders } from "../auth.js";
import { errorText } from "./dom.js";

/**
 * @typedef {{ code: string, message: string, path?: string }} ApiErrorBody
 * @typedef {{ status: number, body: any, notModified?: boolean, inlined?: boolean }} ApiResult
 * @typedef {{ api: string, early?: Record<string, { actor: string, response: Promise<Response> }>, dagre?: Promise<void> }} Boot
 */

/** The API's base URL and the first page's requests (its data, whoami), already on their way (boot.js). */
export const BOOT = /** @type {Boot} */ (/** @type {any} */ (globalThis).reflexBoot ?? { api: "" });
export const API = BOOT.api;

const actorInput = /** @type {HTMLInputElement} */ (document.getElementById("actor"));
actorInput.value = localStorage.getItem("reflex.actor") ?? "";
actorInput.addEventListener("change", () => localStorage.setItem("reflex.actor", actorInput.value.trim()));

/** The person acting, as the "Acting as" field names them (local mode's `x-reflex-actor`). */
export const actor = () => actorInput.value.trim();

/**
 * Every request's headers, built here and nowhere else (a sign-in adds its own here).
 * @param {boolean} withBody
 * @param {string} [etag] the ETag of the answer held for this GET (a poll asks "changed since?")
 * @returns {Record<string, string>}
 */
export function requestHeaders(withBody, etag) {
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json" };
  if (withBody) headers["content-type"] = "application/json";
  if (etag) headers["if-none-match"] = etag;
  const who = actor();
  if (who) headers["x-reflex-actor"] = who;
  Object.assign(headers, authHeaders());
  return headers;
}

/** @param {Response} res @returns {Promise<ApiResult>} */
async function parse(res) {
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { error: { code: "not_json", message: text.slice(0, 200) } };
  }
  return { status: res.status, body: parsed };
}

/**
 * The last answer that came with an ETag, per GET path (a run, the runs list): the next poll
 * sends If-None-Match, and a 304 gives that answer again without its body crossing the wire.
 * @type {Map<string, { etag: string, result: ApiResult }>}
 */
const held = new Map();
const HELD_MAX = 20;

/** Keeps an answer with its ETag (the most recent paths only). @param {string} path @param {string | null} etag @param {ApiResult} result */
function hold(path, etag, result) {
  if (!etag || result.status !== 200) return;
  held.delete(path);
  held.set(path, { etag, result });
  if (held.size > HELD_MAX) held.delete(/** @type {string} */ (held.keys().next().value));
}

/**
 * The API answers local mode's server drew the page from (first-paint.ts), by path: read once
 * from the page, each taken once by the first page's request for it.
 * @type {Record<string, { status: number, etag?: string, body: unknown }> | undefined}
 */
let inlined;
/** @param {string} path */
function takeInline(path) {
  if (!inlined) {
    const el = document.getElementById("reflex-inline");
    try {
      inlined = el?.textContent ? JSON.parse(el.textContent) : {};
    } catch {
      inlined = {};
    }
    el?.remove(); // the page's data is not kept in the page after the first draw
  }
  const answer = inlined?.[path];
  if (answer && inlined) delete inlined[path];
  return answer;
}

/**
 * One API call: `{ status, body }`; a network failure is status 0 with the message. A GET whose
 * answer has not changed since the one held (304) gives the held answer, `notModified` set.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<ApiResult>}
 */
export async function api(method, path, body) {
  // The first page's GETs, sent by boot.js before this module loaded: each taken once, as it is.
  const early = method === "GET" ? BOOT.early?.[path] : undefined;
  if (early && BOOT.early) delete BOOT.early[path];
  // Signed in, an early request (sent without the token) is never reused.
  const reuse = early && actor() === early.actor && !authHeaders().authorization;
  // An answer the page came with: what the API answered this caller's navigation. Reads are the
  // same for whoever the API lets in; signed in, the server inlines nothing. Only when the API is
  // the page's own server (not another one named by `?api=`).
  const given =
    !early && !API && method === "GET" && !authHeaders().authorization ? takeInline(path) : undefined;
  if (given) {
    const result = { status: given.status, body: given.body };
    if (given.etag) hold(path, given.etag, result);
    // `inlined`: the very answer the page was drawn from (what the views may keep as drawn).
    return { ...result, inlined: true };
  }
  const had = method === "GET" ? held.get(path) : undefined;
  const headers = requestHeaders(body !== undefined, had?.etag);
  if (reuse) return request(method, path, body, headers, had, early.response);
  if (method !== "GET") {
    // An action changes what a page would show: what was asked before it, or while it was on its
    // way (a link pressed meanwhile), is not taken after it.
    prefetched.clear();
    return request(method, path, body, headers, had).finally(() => prefetched.clear());
  }
  const asked = prefetched.get(path);
  if (asked) prefetched.delete(path);
  // Asked when the person pressed the link to this page: taken when it is fresh and was asked
  // for the same person (their name, their token). Its answer is held by now: the held ETag
  // this request would send does not make it another request.
  if (
    asked &&
    performance.now() - asked.at < PREFETCH_MS &&
    asked.as === JSON.stringify(requestHeaders(false))
  )
    return asked.result;
  return request(method, path, body, headers, had);
}

/**
 * One request as api() makes it: a 401 ends the sign-in, a 304 gives the held answer, a GET's
 * answer with an ETag is held.
 * @param {string} method @param {string} path @param {unknown} body @param {Record<string, string>} headers
 * @param {{ etag: string, result: ApiResult } | undefined} had the answer held for this GET
 * @param {Promise<Response>} [sent] the response of this request already sent (boot.js's early GETs)
 * @returns {Promise<ApiResult>}
 */
async function request(method, path, body, headers, had, sent) {
  try {
    const res = await (sent ??
      fetch(`${API}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      }));
    if (res.status === 401) authExpired();
    if (res.status === 304 && had) return { ...had.result, notModified: true };
    const result = await parse(res);
    if (method === "GET") hold(path, res.headers.get("etag"), result);
    return result;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { status: 0, body: { error: { code: "network", message: `cannot reach the API: ${message}` } } };
  }
}

/**
 * GETs asked before their page asks (prefetch), by path: when, and for whom (the headers that
 * say who is asking, as JSON).
 * @type {Map<string, { at: number, as: string, result: Promise<ApiResult> }>}
 */
const prefetched = new Map();
/** How long a prefetched answer is taken: a press on a link, then its click, is well within it. */
const PREFETCH_MS = 1000;

/**
 * Asks for `path` now, for the page a person is opening: called on the press of a link (its
 * pointerdown), so the answer is on its way while the button goes up and the click comes (a
 * person's press lasts about 100 ms). The page's own GET of `path` within a second takes it; any
 * other request drops what was asked. Pressed again within that second, by the same person, it is
 * not asked again.
 * @param {string} path
 */
export function prefetch(path) {
  const now = performance.now();
  for (const [p, { at }] of prefetched) if (now - at >= PREFETCH_MS) prefetched.delete(p);
  const as = JSON.stringify(requestHeaders(false));
  // Asked already, for this person, within the second: presses again (one dragged off, a touch
  // that scrolls the list) take that request, not one more each.
  if (prefetched.get(path)?.as === as) return;
  const had = held.get(path);
  const headers = requestHeaders(false, had?.etag);
  const result = request("GET", path, undefined, headers, had);
  prefetched.set(path, { at: now, as, result });
}

/** Drops the early answers the first page did not take: a later request asks afresh. */
export function forgetEarly() {
  BOOT.early = undefined;
  inlined = {};
}

// What went wrong, in a line: in dom.js, which the views local mode's server draws can import.
export { errorText };

/** @type {Array<{ name: string, risk: string, summary: string, dryRun: string, params?: any, example?: any }> | undefined} */
let runbookList;
/** The runbooks this server offers (asked once). */
export async function runbooks() {
  if (!runbookList) {
    const res = await api("GET", "/api/runbooks");
    if (res.status !== 200) throw new Error(`GET /api/runbooks: ${errorText(res)}`);
    runbookList = res.body.runbooks;
  }
  return runbookList ?? [];
}

/** @type {Map<string, { stateMachine?: unknown, missing?: string }>} */
const runbookDefs = new Map();
/** A runbook with its state machine, or `{ missing: reason }`. @param {string} name */
export async function runbookDef(name) {
  if (!runbookDefs.has(name)) {
    const res = await api("GET", `/api/runbooks/${encodeURIComponent(name)}`);
    runbookDefs.set(
      name,
      res.status === 200 && res.body.stateMachine
        ? res.body
        : { missing: res.status === 200 ? "the API returns no stateMachine" : errorText(res) },
    );
  }
  return /** @type {{ stateMachine?: unknown, missing?: string }} */ (runbookDefs.get(name));
}
