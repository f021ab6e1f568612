// @ts-check
/**
 * The Reflex on-call console: routing and polling. Each view is a module of its own under
 * `views/` (runs list, run page, approvals, start a runbook), the guardrails banner is
 * `banner.js`, the API client `lib/api.js`; plain browser ES modules, no build step, checked
 * by tsc through JSDoc types (`packages/local/src/console/tsconfig.json`).
 *
 * Addresses (deep links): `#/runs`, `#/runs?text=…`, `#/runs/<id>`, `#/runs/<id>/<state>`,
 * `#/runs/<id>/<state>/<target>`, `#/approvals`, `#/approvals/<id>`, `#/start`, `#/start/<runbook>`,
 * `#/offhours` (off-hours' overrides; its link shows when the server has the runbook).
 */
import { forgetBanner, refreshGuardrails } from "./banner.js";
import { onAction } from "./lib/act.js";
import { forgetEarly, prefetch } from "./lib/api.js";
import { flash } from "./lib/dom.js";
import { hasRunbook, refreshMe } from "./lib/me.js";
import { POLL_MS } from "./lib/runs.js";
import { approvalsView, refreshApprovals } from "./views/approvals.js";
import { offHoursView, showOffHoursNav } from "./views/offhours.js";
import { runView } from "./views/run.js";
import { runsView } from "./views/runs.js";
import { startView } from "./views/start.js";

/**
 * @typedef {{ view: "runs" | "run" | "approvals" | "start" | "offhours", nav: string, arg?: string,
 *   step?: string, target?: string, query: URLSearchParams }} Route
 * @typedef {{ again: () => unknown, linkTo: (hash: string) => void }} ViewContext
 */

const views = {
  runs: runsView,
  run: runView,
  approvals: approvalsView,
  start: startView,
  offhours: offHoursView,
};

/** What the address (or `hash`) asks for. @param {string} [hash] @returns {Route} */
function parseRoute(hash = location.hash) {
  const [path, q] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(q ?? "");
  if (parts[0] === "runs" && parts[1])
    return { view: "run", arg: parts[1], step: parts[2], target: parts[3], query, nav: "runs" };
  if (parts[0] === "approvals") return { view: "approvals", arg: parts[1], query, nav: "approvals" };
  if (parts[0] === "start") return { view: "start", arg: parts[1], query, nav: "start" };
  if (parts[0] === "offhours") return { view: "offhours", query, nav: "offhours" };
  return { view: "runs", query, nav: "runs" };
}

let current = { key: "" };
let busy = false;
let queue = Promise.resolve();
/** Refreshes the page; one refresh at a time, so a slow answer never paints over a newer view. */
function tick(first = false) {
  if (busy && !first) return queue;
  busy = true;
  queue = queue.then(() => refresh(first)).finally(() => (busy = false));
  return queue;
}

/** @type {ViewContext} */
const context = {
  again: () => tick(),
  // The address of what the reader selected (a step), without drawing the page again.
  linkTo(hash) {
    history.replaceState(null, "", hash);
    current = { key: location.hash };
  },
};

/** @param {Route} route */
function enter(route) {
  const main = /** @type {HTMLElement} */ (document.getElementById("main"));
  current = { key: location.hash };
  main.dataset.key = "";
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (/** @type {HTMLElement} */ (a).dataset.nav === route.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${views[route.view].title} · Reflex`;
}

/** @param {boolean} first */
async function refresh(first) {
  const main = /** @type {HTMLElement} */ (document.getElementById("main"));
  const route = parseRoute();
  const isNew = first || current.key !== location.hash;
  if (isNew) enter(route);
  try {
    // Who the person is comes first: the views show only what they may do.
    await refreshMe();
    showOffHoursNav(hasRunbook("off-hours") || route.view === "offhours");
    const view = views[route.view].render(main, isNew, route, context);
    // A new page is drawn before the banner and the count are asked for, so its request does
    // not share the server with theirs; later refreshes ask for all three at once.
    if (isNew) await view;
    await Promise.all([
      view,
      refreshGuardrails(),
      route.view === "approvals" ? undefined : refreshApprovals(),
    ]);
  } catch (err) {
    flash(`The console hit an error: ${/** @type {Error} */ (err).message}`, true);
  } finally {
    // What boot.js asked for and the first page did not take would be stale later.
    if (first) forgetEarly();
  }
}

onAction(() => {
  forgetBanner();
  return tick();
});

let navigations = 0;
/** Draws the page the address now names (a link followed, the address changed, back or forward). */
function navigate() {
  if (current.key === location.hash) return; // set by linkTo: nothing to draw
  flash("");
  const main = /** @type {HTMLElement} */ (document.getElementById("main"));
  const navigation = ++navigations;
  // Busy until the new page is drawn: screen readers wait for it, and so can a test.
  main.setAttribute("aria-busy", "true");
  const focused = document.activeElement;
  tick(true).then(() => {
    if (navigation !== navigations) return;
    // The new page takes the focus, unless the person moved it while the page was drawn (opened
    // a list in the banner, or a deep link gave it to a step): taking it then would leave
    // Escape and typing nowhere.
    const now = document.activeElement;
    if (!now || now === focused || now === document.body) main.focus({ preventScroll: true });
    main.removeAttribute("aria-busy");
  });
}
window.addEventListener("hashchange", navigate);
/**
 * The address of the console page a left press or click without modifier keys is on (a link
 * `#/…` without a target), or undefined: a click meant for a new tab or window is the browser's.
 * @param {MouseEvent} ev
 */
function consoleLink(ev) {
  if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return undefined;
  const link = ev.target instanceof Element ? ev.target.closest('a[href^="#/"]') : null;
  if (!(link instanceof HTMLAnchorElement) || link.target) return undefined;
  return /** @type {string} */ (link.getAttribute("href"));
}
// A link to another of the console's pages (`#/…`) is followed here, at once: the address is set
// with pushState and the page drawn, where the browser's own fragment navigation first goes
// through its browser process (15–30 ms between the click and hashchange in a trace). Back and
// forward still arrive as hashchange. A click meant for a new tab or window is the browser's.
document.addEventListener("click", (ev) => {
  const hash = ev.defaultPrevented ? undefined : consoleLink(ev);
  if (hash === undefined) return;
  ev.preventDefault();
  if (hash !== location.hash) history.pushState(null, "", hash);
  navigate();
});
// A page's data is asked for when the person presses its link (pointerdown), not when the click
// comes: a press lasts about 100 ms, which the answer no longer waits behind. The page's own
// request takes it (lib/api.js prefetch); a press that does not end in a click costs one GET.
document.addEventListener(
  "pointerdown",
  (ev) => {
    const hash = consoleLink(ev);
    if (hash === undefined || hash === location.hash) return;
    try {
      const route = parseRoute(hash);
      const path = /** @type {{ asks?: (route: Route) => string | undefined }} */ (views[route.view]).asks?.(
        route,
      );
      if (path) prefetch(path);
    } catch {
      // A malformed address: the click says what is wrong with it.
    }
  },
  { passive: true },
);
setInterval(() => {
  if (!document.hidden) tick();
}, POLL_MS);
// `data-live` on <body>: the modules have drawn (or taken over) the first page; tests and
// bench/console wait for it before they act on the page.
tick(true).then(() => document.body.setAttribute("data-live", ""));
