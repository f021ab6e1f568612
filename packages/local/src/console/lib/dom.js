// @ts-check
/**
 * The console's DOM helpers: `h()` builds elements from nodes and text (text is never parsed
 * as HTML, so API data cannot inject markup), `fill()` replaces children, `keepTyped()` gives
 * what was typed (and the focus) back after a redraw, and the small pieces every view shows (a
 * time, a status badge, JSON, an empty state, the flash line).
 */
import { STATUS_TEXT } from "../graph.js";

/** A child of `h()`: a node, text, nothing, or a list of those (nested lists allowed). @typedef {Node | string | number | false | null | undefined | readonly unknown[]} Child */

/** @param {Child[]} children @returns {Array<Node | string>} */
const flat = (children) =>
  /** @type {any[]} */ (children)
    .flat(Number.POSITIVE_INFINITY)
    .filter((c) => c !== undefined && c !== null && c !== false && c !== "")
    .map((c) => (c instanceof Node ? c : String(c)));

/**
 * Replaces an element's children with nodes or text, arrays flattened, empty values dropped.
 * @param {Element} el
 * @param {...Child} children
 */
export function fill(el, ...children) {
  el.replaceChildren(...flat(children));
}

/**
 * Builds an element; children are nodes or text (never parsed as HTML). `on*` attributes are
 * listeners; a non-string value of a known property (`checked`, `open`, …) is set as the property.
 * @param {string} tag
 * @param {Record<string, unknown> | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElement & Record<string, any>}
 */
export function h(tag, attrs = {}, ...children) {
  /** @type {any} */
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else if (k === "class") el.className = String(v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  el.append(...flat(children));
  return el;
}

/**
 * A time in the viewer's zone, UTC on hover (and in `datetime`).
 * @param {string | undefined} iso
 */
export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h("span", {}, iso);
  const utc = `${d
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "")} UTC`;
  return h("time", { datetime: d.toISOString(), title: utc }, d.toLocaleString());
}

/** A status as an icon and a word (never colour alone). @param {string} status */
export function badge(status) {
  const [icon, word] = STATUS_TEXT[status] ?? ["•", String(status).toLowerCase()];
  return h(
    "span",
    { class: `status s-${status}`, "data-status": status },
    h("span", { "aria-hidden": "true" }, icon),
    word,
  );
}

/** @param {unknown} value */
export const json = (value) => h("pre", {}, JSON.stringify(value, null, 2));

/** @param {...Child} children */
export const empty = (...children) => h("div", { class: "empty" }, ...children);

/** @param {string | undefined} id */
export const short = (id) => (id && id.length > 14 ? `${id.slice(0, 8)}…` : id);

/** A reason, message or description out of whatever a runbook reported. @param {any} x @returns {string} */
export const textOf = (x) =>
  typeof x === "string" ? x : (x?.reason ?? x?.message ?? x?.description ?? JSON.stringify(x));

/** What an API answer says went wrong, in a line. @param {{ status: number, body: any }} res */
export const errorText = (res) =>
  `${res.body?.error?.message ?? `HTTP ${res.status}`}${res.body?.error?.path ? ` (at ${res.body.error.path})` : ""}`;

/** A link to a run's page. @param {string} id @param {Child} [text] */
export const runLink = (id, text = id) => h("a", { href: `#/runs/${encodeURIComponent(id)}` }, text);

/** The page's one status line (announced politely). @param {Child} message @param {boolean} [isError] */
export function flash(message, isError = false) {
  // Looked up when used, not when this module loads: local mode's server builds pages with
  // these helpers too (first-paint.ts), where no page exists at load.
  const flashEl = /** @type {HTMLElement} */ (document.getElementById("flash"));
  flashEl.className = isError ? "error" : "";
  fill(flashEl, message);
}

/**
 * Redraws `el` only when `key` differs from the key it was last drawn with: a part of a page
 * whose data did not change keeps its nodes (and the reader's focus, selection and scroll).
 * @param {HTMLElement} el
 * @param {string} key
 * @param {() => Child} build
 */
export function patch(el, key, build) {
  const drawn = keyOf(key);
  if (el.dataset.drawn === drawn) return false;
  el.dataset.drawn = drawn;
  fill(el, build());
  return true;
}

/**
 * A part's key as it is kept in its `data-drawn`: a 53-bit hash (cyrb53), so a key made of a
 * whole run's steps (a Map of 1,000 targets) is not held in the page, nor sent in local mode's
 * drawn HTML, whose parts the modules keep when their keys match (views/run.js).
 * @param {string} key
 */
export function keyOf(key) {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/**
 * Writes each `<time>` inside `root` in this viewer's zone and locale: a page local mode's server
 * drew has them in the server's, and the modules keep its nodes rather than draw them again.
 * @param {ParentNode} root
 */
export function localTimes(root) {
  for (const t of root.querySelectorAll("time[datetime]")) {
    const text = new Date(/** @type {string} */ (t.getAttribute("datetime"))).toLocaleString();
    if (t.textContent !== text) t.textContent = text;
  }
}

/** What names a field across redraws: its tag, name, label and id. @param {Element} el */
const fieldKey = (el) =>
  [el.tagName, el.getAttribute("name"), el.getAttribute("aria-label"), el.id].join("|");

/**
 * Notes what the person typed in the fields inside `root`, before a redraw that may replace them,
 * and returns what gives it back after: each text field or box they changed gets its value again
 * in the field drawn in its place (the same tag, name, label and id), and the focus and caret go
 * back to the field they were in. A background refresh (the person acting changed, the answer
 * changed) must never discard a reason being typed.
 * @param {Element} root
 * @returns {() => void}
 */
export function keepTyped(root) {
  /** @type {Map<string, { value?: string, checked?: boolean }>} */
  const typed = new Map();
  for (const el of root.querySelectorAll("input, textarea")) {
    const f = /** @type {HTMLInputElement} */ (el);
    if (f.type === "checkbox" || f.type === "radio") {
      if (f.checked !== f.defaultChecked) typed.set(fieldKey(f), { checked: f.checked });
    } else if (f.value !== f.defaultValue) typed.set(fieldKey(f), { value: f.value });
  }
  const active = /** @type {HTMLInputElement | null} */ (document.activeElement);
  const focused =
    active && active !== root && root.contains(active) && active.matches("input, textarea")
      ? { key: fieldKey(active), el: active, start: active.selectionStart, end: active.selectionEnd }
      : undefined;
  return () => {
    for (const el of root.querySelectorAll("input, textarea")) {
      const f = /** @type {HTMLInputElement} */ (el);
      const was = typed.get(fieldKey(f));
      if (!was) continue;
      typed.delete(fieldKey(f)); // the first field of that key takes it
      if (was.checked !== undefined) f.checked = was.checked;
      else if (was.value !== undefined && f.value === f.defaultValue) f.value = was.value;
    }
    if (!focused || focused.el.isConnected) return;
    const now = document.activeElement;
    const lost = !now || now === document.body || !now.isConnected;
    const again = /** @type {HTMLInputElement | undefined} */ (
      [...root.querySelectorAll("input, textarea")].find((f) => fieldKey(f) === focused.key)
    );
    if (!lost || !again) return;
    again.focus({ preventScroll: true });
    try {
      if (focused.start !== null) again.setSelectionRange(focused.start, focused.end);
    } catch {
      // A field kind without a caret (number, email): the focus is enough.
    }
  };
}
