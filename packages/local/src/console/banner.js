// @ts-check
/**
 * The guardrails banner on every page: paused (by whom, why), the breaker, freezes, locks held
 * and cooldowns running (each a `<details>` list), and Pause / Resume. Redrawn only when
 * `GET /api/guardrails` answers something new; a cooldown's time left is counted down in place.
 */
import { duration } from "./graph.js";
import { act } from "./lib/act.js";
import { api, errorText } from "./lib/api.js";
import { fill, h, keepTyped, runLink, time } from "./lib/dom.js";
import { allowed, meKey, whyNotPause } from "./lib/me.js";

const banner = /** @type {HTMLElement} */ (document.getElementById("guardrails"));
let bannerKey = "";
/** Makes the next refresh draw the banner again (after an action). */
export const forgetBanner = () => {
  bannerKey = "";
};

/** An instant given as ISO text or epoch milliseconds, as ISO text. @param {unknown} v */
const isoOf = (v) =>
  typeof v === "number" ? new Date(v).toISOString() : typeof v === "string" ? v : undefined;

/** @param {string} until */
const leftText = (until) => {
  const left = Date.parse(until) - Date.now();
  return left > 0 ? `${duration(left)} left` : "ended";
};

/**
 * A count that opens into its list: a `<details>` (keyboard-usable, announced as expandable),
 * with an icon and words, so neither colour nor the icon alone says what it is.
 * @param {string} id @param {string} summary @param {HTMLElement[]} rows
 */
function bannerList(id, summary, rows) {
  return h(
    "details",
    { class: "pill drop", id, "data-key": id },
    h("summary", {}, summary),
    h("ul", { "aria-label": summary }, rows),
  );
}

/** Locks as `GET /api/guardrails` lists them (`key`, `executionId`, `runbook`, `since`, `expiresAt`). @param {any} locks */
function locksView(locks) {
  if (!Array.isArray(locks)) return "";
  if (!locks.length) return h("span", { class: "pill muted", id: "locks" }, "No locks held");
  const rows = locks.map((l) => {
    const since = isoOf(l.since);
    const expires = isoOf(l.expiresAt);
    return h(
      "li",
      { "data-lock": l.key },
      h("code", {}, l.key),
      " held by ",
      l.runbook ? [l.runbook, " "] : "",
      l.executionId ? runLink(l.executionId) : "?",
      since ? [" since ", time(since)] : "",
      expires ? [" · lease until ", time(expires)] : "",
    );
  });
  return bannerList("locks", `🔒 ${locks.length} lock${locks.length === 1 ? "" : "s"} held`, rows);
}

/** @param {any} cooldowns @param {number} now */
function cooldownsView(cooldowns, now) {
  if (!Array.isArray(cooldowns)) return "";
  const running = cooldowns.filter((c) => !c.until || Date.parse(isoOf(c.until) ?? "") > now);
  if (!running.length) return h("span", { class: "pill muted", id: "cooldowns" }, "No cooldowns running");
  const rows = running.map((c) => {
    const until = isoOf(c.until);
    const key = c.key ?? [c.rule, c.target].filter(Boolean).join(" / ");
    return h(
      "li",
      { "data-cooldown": key },
      h("code", {}, key),
      // The rule that started it, when the key does not already say.
      c.rule && !String(key).includes(c.rule) ? ` rule ${c.rule}` : "",
      c.runbook ? ` (${c.runbook})` : "",
      until ? [" until ", time(until), " — ", h("strong", { "data-until": until }, leftText(until))] : "",
    );
  });
  return bannerList(
    "cooldowns",
    `⏳ ${running.length} cooldown${running.length === 1 ? "" : "s"} running`,
    rows,
  );
}

/** Paused or active, and the breaker. @param {any} g */
function stateItems(g) {
  const b = g.breaker ?? {};
  const breakerOpen =
    b.open ?? (b.recentFailures !== undefined && b.failures !== undefined && b.recentFailures >= b.failures);
  return [
    g.paused
      ? h(
          "strong",
          { class: "pill alert", id: "paused-banner" },
          "❚❚ Automatic runs paused",
          g.pausedBy ? ` by ${g.pausedBy}` : "",
          g.reason ? `: ${g.reason}` : "",
          g.pausedAt ? [" (since ", time(g.pausedAt), ")"] : "",
        )
      : h("span", { class: "pill" }, "▶ Automation active"),
    h(
      "span",
      { class: "pill" },
      breakerOpen ? h("strong", { class: "alert" }, "⚠ Breaker open") : "Breaker closed",
      b.failures !== undefined
        ? ` · ${b.recentFailures ?? 0}/${b.failures} failures in ${duration(b.within)}`
        : "",
    ),
  ];
}

/** The active freezes and the next one. @param {any[]} freezes @param {number} now */
function freezeItems(freezes, now) {
  const active = freezes.filter((f) => f.active);
  const next = freezes
    .filter((f) => !f.active && Date.parse(f.from) > now)
    .sort((a, c) => Date.parse(a.from) - Date.parse(c.from))[0];
  const items = active.map((f) =>
    h(
      "strong",
      { class: "pill alert" },
      `❄ Freeze ${f.name} active until `,
      time(f.to),
      f.reason ? ` — ${f.reason}` : "",
    ),
  );
  if (next) items.push(h("span", { class: "pill" }, `Next freeze: ${next.name} from `, time(next.from)));
  if (!active.length && !next) items.push(h("span", { class: "pill muted" }, "No freeze ahead"));
  return items;
}

/** @param {boolean} paused */
function pauseForm(paused) {
  const reason = h("input", {
    name: "reason",
    "aria-label": "Reason for pausing",
    placeholder: "reason",
    size: 18,
  });
  if (whyNotPause()) reason.setAttribute("disabled", "");
  return paused
    ? h(
        "form",
        {
          onsubmit: (/** @type {Event} */ ev) =>
            act(ev, "POST", "/api/guardrails/resume", {}, "Automation resumed."),
        },
        ...allowed(h("button", { type: "submit", class: "primary" }, "▶ Resume automation"), whyNotPause()),
      )
    : h(
        "form",
        {
          onsubmit: (/** @type {Event} */ ev) =>
            act(
              ev,
              "POST",
              "/api/guardrails/pause",
              { reason: reason.value.trim() || undefined },
              "Automation paused.",
            ),
        },
        reason,
        ...allowed(h("button", { type: "submit", class: "danger" }, "❚❚ Pause automation"), whyNotPause()),
      );
}

const bannerItems = h("div", { class: "items" });
/** @type {boolean | undefined} */
let bannerPaused;
/** Who the Pause form was drawn for (another person may not be allowed it). */
let bannerMe = "";

/** @param {import("./lib/api.js").ApiResult} res */
function drawBanner(res) {
  if (res.status !== 200) {
    banner.className = "guardrails";
    // The Pause form drawn from the last answer stays (the server decides anyway), so a reason
    // being typed outlives a refresh that failed.
    fill(bannerItems, h("span", { class: "muted" }, `Guardrails unavailable: ${errorText(res)}`));
    if (!banner.contains(bannerItems)) fill(banner, bannerItems);
    return;
  }
  const g = res.body;
  const now = Date.now();
  banner.className = g.paused ? "guardrails paused" : "guardrails";
  banner.dataset.paused = String(Boolean(g.paused));
  fill(
    bannerItems,
    stateItems(g),
    freezeItems(g.freezes ?? [], now),
    locksView(g.locks),
    cooldownsView(g.cooldowns, now),
  );
  // The Pause form is built again only when the state flips or the person changes (what they may
  // do changes with them); then a reason being typed, and the focus in it, are carried over.
  if (bannerPaused !== Boolean(g.paused) || bannerMe !== meKey() || !banner.contains(bannerItems)) {
    bannerPaused = Boolean(g.paused);
    bannerMe = meKey();
    const restore = keepTyped(banner);
    fill(banner, bannerItems, pauseForm(g.paused));
    restore();
  }
}

/** Draws the banner again, keeping the lists the reader opened open and focus where it was. @param {import("./lib/api.js").ApiResult} res */
function redraw(res) {
  const open = new Set([...banner.querySelectorAll("details[open]")].map((d) => d.id));
  // Focus in a list is given back to the same list once it is drawn again (or Escape would
  // find nothing to close and a keyboard user would start again from the top of the page).
  const focused = document.activeElement;
  const focusedList = focused && banner.contains(focused) ? focused.closest("details[id]")?.id : undefined;
  const focusedLink = focused?.getAttribute?.("href");
  drawBanner(res);
  for (const id of open) {
    const d = /** @type {HTMLDetailsElement | null} */ (document.getElementById(id));
    if (d) d.open = true;
  }
  const list =
    focusedList && !banner.contains(document.activeElement) && document.getElementById(focusedList);
  if (list) {
    const link =
      focusedLink &&
      [...list.querySelectorAll("a[href]")].find((a) => a.getAttribute("href") === focusedLink);
    /** @type {HTMLElement | null} */ (link || list.querySelector("summary"))?.focus({ preventScroll: true });
  }
}

export async function refreshGuardrails() {
  const res = await api("GET", "/api/guardrails");
  // The person is part of the key: the Pause form is drawn for them (disabled when they may not).
  const key = JSON.stringify(res) + meKey();
  if (key !== bannerKey) {
    bannerKey = key;
    redraw(res);
  }
  for (const el of banner.querySelectorAll("[data-until]")) {
    const text = leftText(/** @type {HTMLElement} */ (el).dataset.until ?? "");
    if (el.textContent !== text) el.textContent = text;
  }
}

// A click outside an open list of locks or cooldowns closes it, as a menu would.
document.addEventListener("click", (ev) => {
  for (const d of banner.querySelectorAll("details.drop[open]"))
    if (!d.contains(/** @type {Node} */ (ev.target))) /** @type {HTMLDetailsElement} */ (d).open = false;
});

// Escape closes an open list of locks or cooldowns, as a menu would: the one the focus is in gets
// the focus back on its summary; one the focus has left (the page took it while drawn, or the
// person moved on) is closed too, and the focus stays where it is, or the key would do nothing.
document.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape") return;
  const target = /** @type {Element} */ (ev.target);
  const within = banner.contains(target)
    ? /** @type {HTMLDetailsElement | null} */ (target.closest?.("details[open]"))
    : null;
  const open = /** @type {NodeListOf<HTMLDetailsElement>} */ (banner.querySelectorAll("details.drop[open]"));
  for (const d of open) d.open = false;
  if (within) {
    within.open = false;
    within.querySelector("summary")?.focus();
  }
});
