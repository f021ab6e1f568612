/**
 * The Reflex on-call console: runs (live), a run's graph and results, approvals waiting on
 * you, the guardrails banner, and the actions (start, approve, reject, abort, re-run, pause).
 * Plain browser JavaScript over the JSON API; no framework, no build step.
 */
import { authExpired, authHeaders } from "./auth.js";
import { aslGraph, duration, iterations, renderGraph, STATUS_TEXT, statusOf } from "./graph.js";

const POLL_MS = 1500;
/** The API's base URL and the first page's request, already on its way (index.html's script). */
const BOOT = globalThis.reflexBoot ?? { api: "" };
const API = BOOT.api;
const TERMINAL = ["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"];
const STATUSES = ["RUNNING", "WAITING_FOR_APPROVAL", ...TERMINAL];
const TRIGGERS = ["rule", "schedule", "window", "manual", "chatops", "rerun"];

// ---------- small helpers ----------

/** Replaces an element's children with nodes or text, arrays flattened, empty values dropped. */
function fill(el, ...children) {
  el.replaceChildren(
    ...children
      .flat(Infinity)
      .filter((c) => c !== undefined && c !== null && c !== false && c !== "")
      .map((c) => (c instanceof Node ? c : String(c))),
  );
}

/** Builds an element; children are nodes or text (never parsed as HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const actorInput = document.getElementById("actor");
actorInput.value = localStorage.getItem("reflex.actor") ?? "";
actorInput.addEventListener("change", () => localStorage.setItem("reflex.actor", actorInput.value.trim()));

/** One API call: `{ status, body }`; a network failure is status 0 with the message. */
async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const actor = actorInput.value.trim();
  if (actor) headers["x-reflex-actor"] = actor;
  Object.assign(headers, authHeaders());
  // The first page's GET, sent by index.html before this script loaded: taken once, as it is.
  const early = BOOT.first;
  const reuse =
    early && method === "GET" && path === early.path && actor === early.actor && !headers.authorization;
  if (early) BOOT.first = undefined;
  try {
    const res = reuse
      ? await early.response
      : await fetch(`${API}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
    if (res.status === 401) authExpired();
    const text = await res.text();
    let parsed;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { error: { code: "not_json", message: text.slice(0, 200) } };
    }
    return { status: res.status, body: parsed };
  } catch (err) {
    return {
      status: 0,
      body: { error: { code: "network", message: `cannot reach the API: ${err.message}` } },
    };
  }
}

const errorText = (res) =>
  `${res.body?.error?.message ?? `HTTP ${res.status}`}${res.body?.error?.path ? ` (at ${res.body.error.path})` : ""}`;

const flashEl = document.getElementById("flash");
function flash(message, isError = false) {
  flashEl.className = isError ? "error" : "";
  fill(flashEl, ...[message].flat());
}

/** A time in the browser's zone, UTC on hover. */
function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h("span", {}, iso);
  const utc = `${d
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "")} UTC`;
  return h("time", { datetime: d.toISOString(), title: utc }, d.toLocaleString());
}

function badge(status) {
  const [icon, word] = STATUS_TEXT[status] ?? ["•", String(status).toLowerCase()];
  return h(
    "span",
    { class: `status s-${status}`, "data-status": status },
    h("span", { "aria-hidden": "true" }, icon),
    word,
  );
}

function runDuration(run) {
  const end = run.endedAt ? Date.parse(run.endedAt) : Date.now();
  return duration(end - Date.parse(run.startedAt));
}

const short = (id) => (id && id.length > 14 ? `${id.slice(0, 8)}…` : id);
const textOf = (x) =>
  typeof x === "string" ? x : (x?.reason ?? x?.message ?? x?.description ?? JSON.stringify(x));

function triggerText(t = {}) {
  const rerunOf = t.rerunOf ?? t.executionId;
  switch (t.kind) {
    case "rule":
      return `rule ${t.name ?? "?"}`;
    case "schedule":
      return `schedule ${t.name ?? "?"}`;
    case "window":
      return `window ${t.name ?? "?"}`;
    case "chatops":
      return `Slack: ${t.name ?? t.actor}`;
    case "rerun":
      return `re-run of ${short(rerunOf)} by ${t.actor}`;
    default:
      return `${t.kind ?? "manual"} by ${t.actor ?? "?"}`;
  }
}

/** The alarm transition that started a run, in words: `alarm web-cpu-high → ALARM`. */
const alarmText = (a) => `alarm ${a.name}${a.state ? ` → ${a.state}` : ""}`;

/** Why the run started, in one line: the alarm and its reason, else what triggered it. */
function triggerReason(run) {
  const t = run.trigger ?? {};
  if (t.alarm) return `${alarmText(t.alarm)}${t.alarm.reason ? `: ${t.alarm.reason}` : ""}`;
  if (t.reason) return t.reason;
  if (t.kind === "schedule" || t.kind === "window") return "on its schedule";
  return "";
}

/** The runs list's trigger cell: who or what, the alarm and its reason, the event. */
function triggerCell(run) {
  const t = run.trigger ?? {};
  const reason = triggerReason(run);
  return [
    triggerText(t),
    reason ? h("div", { class: "small why", title: reason }, reason) : "",
    t.eventId ? h("div", { class: "small muted" }, `event ${t.eventId}`) : "",
  ];
}

function json(value) {
  return h("pre", {}, JSON.stringify(value, null, 2));
}

function empty(...children) {
  return h("div", { class: "empty" }, ...children);
}

// ---------- runbooks (cached) ----------

let runbookList;
const runbookDefs = new Map();
async function runbooks() {
  if (!runbookList) {
    const res = await api("GET", "/api/runbooks");
    if (res.status !== 200) throw new Error(`GET /api/runbooks: ${errorText(res)}`);
    runbookList = res.body.runbooks;
  }
  return runbookList;
}
/** A runbook with its state machine, or `{ missing: reason }`. */
async function runbookDef(name) {
  if (!runbookDefs.has(name)) {
    const res = await api("GET", `/api/runbooks/${encodeURIComponent(name)}`);
    runbookDefs.set(
      name,
      res.status === 200 && res.body.stateMachine
        ? res.body
        : { missing: res.status === 200 ? "the API returns no stateMachine" : errorText(res) },
    );
  }
  return runbookDefs.get(name);
}

// ---------- guardrails banner ----------

const banner = document.getElementById("guardrails");
let bannerKey = "";

/** An instant given as ISO text or epoch milliseconds, as ISO text. */
const isoOf = (v) =>
  typeof v === "number" ? new Date(v).toISOString() : typeof v === "string" ? v : undefined;

/** A lock as `GET /api/guardrails` lists it (`key`, `executionId`, `runbook`, `since`, `expiresAt`). */
const lockOf = (l) => ({
  key: l.key,
  holder: l.executionId,
  runbook: l.runbook,
  since: isoOf(l.since),
  expires: isoOf(l.expiresAt),
});

const runLink = (id) => h("a", { href: `#/runs/${encodeURIComponent(id)}` }, id);

/**
 * A count that opens into its list: a `<details>` (keyboard-usable, announced as expandable),
 * with an icon and words, so neither colour nor the icon alone says what it is.
 */
function bannerList(id, summary, rows) {
  return h(
    "details",
    { class: "pill drop", id, "data-key": id },
    h("summary", {}, summary),
    h("ul", { "aria-label": summary }, rows),
  );
}

function locksView(locks) {
  if (!Array.isArray(locks)) return "";
  if (!locks.length) return h("span", { class: "pill muted", id: "locks" }, "No locks held");
  return bannerList(
    "locks",
    `🔒 ${locks.length} lock${locks.length === 1 ? "" : "s"} held`,
    locks
      .map(lockOf)
      .map((l) =>
        h(
          "li",
          { "data-lock": l.key },
          h("code", {}, l.key),
          " held by ",
          l.runbook ? [l.runbook, " "] : "",
          l.holder ? runLink(l.holder) : "?",
          l.since ? [" since ", time(l.since)] : "",
          l.expires ? [" · lease until ", time(l.expires)] : "",
        ),
      ),
  );
}

function cooldownsView(cooldowns, now) {
  if (!Array.isArray(cooldowns)) return "";
  const running = cooldowns.filter((c) => !c.until || Date.parse(isoOf(c.until)) > now);
  if (!running.length) return h("span", { class: "pill muted", id: "cooldowns" }, "No cooldowns running");
  return bannerList(
    "cooldowns",
    `⏳ ${running.length} cooldown${running.length === 1 ? "" : "s"} running`,
    running.map((c) => {
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
    }),
  );
}

const leftText = (until) => {
  const left = Date.parse(until) - Date.now();
  return left > 0 ? `${duration(left)} left` : "ended";
};

async function refreshGuardrails() {
  const res = await api("GET", "/api/guardrails");
  // Redrawn only when something changed (what the reader opened stays open); the time left
  // of each cooldown is counted down in place, so focus and typed text are never lost.
  const key = JSON.stringify(res);
  if (key !== bannerKey) {
    bannerKey = key;
    const open = new Set([...banner.querySelectorAll("details[open]")].map((d) => d.id));
    // Focus in a list is given back to the same list once it is drawn again (or Escape would
    // find nothing to close and a keyboard user would start again from the top of the page).
    const focused = document.activeElement;
    const focusedList = banner.contains(focused) ? focused.closest("details[id]")?.id : undefined;
    const focusedLink = focused?.getAttribute?.("href");
    drawBanner(res);
    for (const id of open) {
      const d = document.getElementById(id);
      if (d) d.open = true;
    }
    const list =
      focusedList && !banner.contains(document.activeElement) && document.getElementById(focusedList);
    if (list) {
      const link =
        focusedLink &&
        [...list.querySelectorAll("a[href]")].find((a) => a.getAttribute("href") === focusedLink);
      (link || list.querySelector("summary"))?.focus({ preventScroll: true });
    }
  }
  for (const el of banner.querySelectorAll("[data-until]")) {
    const text = leftText(el.dataset.until);
    if (el.textContent !== text) el.textContent = text;
  }
}

// A click outside an open list of locks or cooldowns closes it, as a menu would.
document.addEventListener("click", (ev) => {
  for (const d of banner.querySelectorAll("details.drop[open]")) if (!d.contains(ev.target)) d.open = false;
});

// Escape closes an open list of locks or cooldowns and gives focus back to its summary.
banner.addEventListener("keydown", (ev) => {
  const open = ev.key === "Escape" ? ev.target.closest?.("details[open]") : null;
  if (!open) return;
  open.open = false;
  open.querySelector("summary")?.focus();
});

const bannerItems = h("div", { class: "items" });
let bannerPaused;

function drawBanner(res) {
  if (res.status !== 200) {
    banner.className = "guardrails";
    bannerPaused = undefined;
    fill(banner, h("span", { class: "muted" }, `Guardrails unavailable: ${errorText(res)}`));
    return;
  }
  const g = res.body;
  const now = Date.now();
  const items = [];
  banner.className = g.paused ? "guardrails paused" : "guardrails";
  banner.dataset.paused = String(Boolean(g.paused));
  items.push(
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
  );
  const b = g.breaker ?? {};
  const breakerOpen =
    b.open ?? (b.recentFailures !== undefined && b.failures !== undefined && b.recentFailures >= b.failures);
  items.push(
    h(
      "span",
      { class: "pill" },
      breakerOpen ? h("strong", { class: "alert" }, "⚠ Breaker open") : "Breaker closed",
      b.failures !== undefined
        ? ` · ${b.recentFailures ?? 0}/${b.failures} failures in ${duration(b.within)}`
        : "",
    ),
  );
  const freezes = g.freezes ?? [];
  const active = freezes.filter((f) => f.active);
  const next = freezes
    .filter((f) => !f.active && Date.parse(f.from) > now)
    .sort((a, c) => Date.parse(a.from) - Date.parse(c.from))[0];
  for (const f of active)
    items.push(
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
  items.push(locksView(g.locks), cooldownsView(g.cooldowns, now));
  fill(bannerItems, ...items);
  // The Pause form is built again only when the state flips, so a reason being typed survives
  // every other change of the banner.
  if (bannerPaused !== Boolean(g.paused) || !banner.contains(bannerItems)) {
    bannerPaused = Boolean(g.paused);
    fill(banner, bannerItems, pauseForm(g.paused));
  }
}

function pauseForm(paused) {
  const reason = h("input", {
    name: "reason",
    "aria-label": "Reason for pausing",
    placeholder: "reason",
    size: 18,
  });
  return paused
    ? h(
        "form",
        { onsubmit: (ev) => act(ev, "POST", "/api/guardrails/resume", {}, "Automation resumed.") },
        h("button", { type: "submit", class: "primary" }, "▶ Resume automation"),
      )
    : h(
        "form",
        {
          onsubmit: (ev) =>
            act(
              ev,
              "POST",
              "/api/guardrails/pause",
              { reason: reason.value.trim() || undefined },
              "Automation paused.",
            ),
        },
        reason,
        h("button", { type: "submit", class: "danger" }, "❚❚ Pause automation"),
      );
}

/** Runs one action from a form or button; reports it; refreshes. Returns the response. */
async function act(ev, method, path, body, done) {
  ev?.preventDefault?.();
  const button = ev?.submitter ?? ev?.currentTarget;
  if (button) button.disabled = true;
  const res = await api(method, path, body);
  if (button) button.disabled = false;
  if (res.status >= 200 && res.status < 300) flash(done);
  else if (
    res.status === 404 &&
    res.body?.error?.code === "not_found" &&
    /no route/.test(res.body.error.message ?? "")
  )
    flash(
      `This server does not offer ${method} ${path.replace(/\/[^/]*-[^/]*\//, "/:id/")} yet (404).`,
      true,
    );
  else flash(`${method} ${path} failed: ${errorText(res)}`, true);
  bannerKey = "";
  await tick();
  return res;
}

// ---------- approvals ----------

let approvalsCache = { status: 0 };
async function refreshApprovals() {
  const res = await api("GET", "/api/approvals");
  approvalsCache = res;
  const count = res.status === 200 ? (res.body.approvals ?? []).length : 0;
  document.getElementById("approval-count").textContent = count ? String(count) : "";
}

function approvalCard(a) {
  const reason = h("input", {
    name: "reason",
    "aria-label": `Reason for rejecting ${a.executionId}`,
    placeholder: "reason (for reject)",
    size: 24,
  });
  const left = a.deadline ? Date.parse(a.deadline) - Date.now() : undefined;
  return h(
    "article",
    { class: "card approval", "data-execution": a.executionId },
    h(
      "h3",
      {},
      a.runbook,
      " ",
      h("a", { href: `#/runs/${encodeURIComponent(a.executionId)}` }, a.executionId),
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
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        {
          type: "button",
          class: "primary",
          onclick: (ev) =>
            act(
              ev,
              "POST",
              `/api/executions/${encodeURIComponent(a.executionId)}/approve`,
              {},
              `Approved ${a.executionId}.`,
            ),
        },
        "✓ Approve",
      ),
      reason,
      h(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: (ev) =>
            act(
              ev,
              "POST",
              `/api/executions/${encodeURIComponent(a.executionId)}/reject`,
              { reason: reason.value.trim() || undefined },
              `Rejected ${a.executionId}.`,
            ),
        },
        "✗ Reject",
      ),
    ),
  );
}

const views = {};

views.approvals = {
  title: "Waiting on you",
  async render(main) {
    await refreshApprovals();
    const res = approvalsCache;
    const key = JSON.stringify(res);
    if (main.dataset.key === key) return;
    main.dataset.key = key;
    const body =
      res.status === 404
        ? empty(
            "This server has no approvals API yet (GET /api/approvals answered 404). ",
            "Runs of high-risk runbooks that wait for a person will be listed here once it has.",
          )
        : res.status !== 200
          ? empty(`Could not load approvals: ${errorText(res)}`)
          : res.body.approvals?.length
            ? res.body.approvals.map(approvalCard)
            : empty(
                "Nothing is waiting on you. Runs that need an approval show up here, with their plan and deadline.",
              );
    fill(main, h("h2", {}, "Waiting on you"), body);
  },
};

// ---------- runs list ----------

const filters = { status: "", runbook: "", trigger: "", text: "", limit: 100 };

function setFilter(name, value) {
  filters[name] = value;
  if (name === "limit") tick();
  else draw();
}

function matches(run) {
  if (filters.status && run.status !== filters.status) return false;
  if (filters.runbook && run.runbook !== filters.runbook) return false;
  if (filters.trigger && (run.trigger?.kind ?? "manual") !== filters.trigger) return false;
  if (filters.text) {
    const hay = [
      run.id,
      run.runbook,
      triggerText(run.trigger),
      triggerReason(run),
      run.trigger?.eventId,
      run.outcome?.summary,
      run.cause,
      run.error,
    ]
      .join(" ")
      .toLowerCase();
    if (!hay.includes(filters.text.toLowerCase())) return false;
  }
  return true;
}

function runRow(run) {
  const failure =
    ["FAILED", "TIMED_OUT", "ABORTED"].includes(run.status) && (run.error || run.cause)
      ? [run.error, run.cause].filter(Boolean).join(": ")
      : undefined;
  const summary = failure ?? run.outcome?.summary ?? "";
  return h(
    "tr",
    { "data-execution": run.id, "data-status": run.status },
    h("td", {}, badge(run.status)),
    h(
      "td",
      {},
      h("a", { href: `#/runs/${encodeURIComponent(run.id)}` }, run.runbook),
      run.dryRun ? h("span", { class: "badge dry" }, "dry-run") : "",
      h("div", { class: "small muted" }, h("code", {}, run.id)),
    ),
    h("td", { class: "trigger" }, triggerCell(run)),
    h("td", {}, time(run.startedAt)),
    h("td", {}, runDuration(run), run.endedAt ? "" : h("span", { class: "muted" }, " so far")),
    h("td", { class: "small" }, textOf(summary)),
  );
}

views.runs = {
  title: "Runs",
  async render(main, first, _arg, query) {
    // `#/runs?text=…` (a run page's event link) opens the list filtered.
    if (first && query?.has("text")) filters.text = query.get("text");
    // The list and the runbook names (for the filter) are fetched together.
    const listing = api("GET", `/api/executions?limit=${filters.limit}`);
    if (first) {
      const rbs = await runbooks().catch(() => []);
      const select = (name, label, options) =>
        h(
          "label",
          {},
          label,
          h(
            "select",
            { name, onchange: (ev) => setFilter(name, ev.target.value) },
            h("option", { value: "" }, "any"),
            options.map((o) =>
              h("option", { value: o, selected: filters[name] === o }, o.toLowerCase().replaceAll("_", " ")),
            ),
          ),
        );
      fill(
        main,
        h("h2", {}, "Runs"),
        h(
          "form",
          {
            class: "filters",
            role: "search",
            "aria-label": "Filter runs",
            onsubmit: (ev) => ev.preventDefault(),
          },
          select("status", "Status", STATUSES),
          select(
            "runbook",
            "Runbook",
            rbs.map((r) => r.name),
          ),
          select("trigger", "Trigger", TRIGGERS),
          h(
            "label",
            {},
            "Text",
            h("input", {
              name: "text",
              type: "search",
              value: filters.text,
              placeholder: "id, rule, person, summary…",
              oninput: (ev) => setFilter("text", ev.target.value),
            }),
          ),
        ),
        h("div", { id: "runs-body" }),
      );
      main.dataset.key = "";
    }
    const res = await listing;
    main._runs = res;
    draw();
  },
};

function draw() {
  const main = document.getElementById("main");
  const res = main._runs;
  const target = document.getElementById("runs-body");
  if (!res || !target) return;
  const key = JSON.stringify([res, filters, Math.floor(Date.now() / 1000)]);
  if (main.dataset.key === key) return;
  main.dataset.key = key;
  if (res.status !== 200) {
    fill(target, empty(`Could not load runs: ${errorText(res)}`));
    return;
  }
  const all = res.body.executions ?? [];
  const shown = all.filter(matches);
  if (!all.length) {
    fill(
      target,
      empty(
        "No runs yet. Start one from ",
        h("a", { href: "#/start" }, "Start a runbook"),
        " (dry-run first), or send an alarm event: ",
        h("code", {}, `npx reflex events put examples/alarm-cpu-high.json --url ${API || location.origin}`),
        ".",
      ),
    );
    return;
  }
  const more =
    res.body.next && filters.limit < 500
      ? h(
          "button",
          { type: "button", onclick: () => setFilter("limit", Math.min(500, filters.limit + 100)) },
          "Show 100 more",
        )
      : "";
  fill(
    target,
    h(
      "p",
      { class: "muted small", "aria-live": "polite" },
      `${shown.length} of the newest ${all.length} run(s)`,
      res.body.next ? " (older runs exist)" : "",
      ` · refreshed every ${POLL_MS / 1000} s`,
    ),
    shown.length
      ? h(
          "table",
          { id: "runs" },
          h("caption", { class: "skip" }, "Runs, newest first"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Status", "Runbook", "Trigger", "Started", "Duration", "Summary"].map((c) =>
                h("th", { scope: "col" }, c),
              ),
            ),
          ),
          h("tbody", {}, shown.map(runRow)),
        )
      : empty("No run matches these filters. Clear a filter to see more."),
    more,
  );
}

// ---------- one run ----------

/** The plan an approval shows: the summary, the reasons for clamps and skips, the rest raw. */
function planView(plan) {
  if (!plan) return h("p", { class: "muted" }, "No plan recorded.");
  if (typeof plan === "string") return h("div", { class: "plan" }, h("p", {}, plan));
  const reasons = [];
  const p = plan ?? {};
  for (const l of p.limits ?? []) reasons.push(["Clamped", textOf(l)]);
  const skipped = (x) =>
    x.name || x.instanceId ? `${[x.name, x.instanceId].filter(Boolean).join(" ")}: ${textOf(x)}` : textOf(x);
  for (const x of [p.skipped ?? []].flat()) reasons.push(["Skipped", skipped(x)]);
  if (p.scaleIn) reasons.push(["Scale-in", textOf(p.scaleIn)]);
  for (const x of p.skip ?? p.skippedTargets ?? []) reasons.push(["Skipped", skipped(x)]);
  for (const d of p.prune ?? []) reasons.push(["Would prune", `${d.snapshotId ?? ""}: ${textOf(d)}`]);
  const lines = [];
  if (p.previous?.desired !== undefined && p.target !== undefined)
    lines.push(
      `Capacity ${p.previous.desired} → ${p.target}${p.requested !== p.target ? ` (asked for ${p.requested})` : ""}`,
    );
  if (p.from && p.to) lines.push(`Instance type ${p.from} → ${p.to}`);
  if (Array.isArray(p.targets))
    lines.push(
      `${p.targets.length} target(s): ${p.targets.map((t) => t.name ?? t.instanceId ?? textOf(t)).join(", ")}`,
    );
  if (typeof p.targets === "number")
    lines.push(
      `${p.targets} target(s)${Array.isArray(p.batches) ? ` in ${p.batches.length} batch(es)` : ""}${p.maxConcurrency !== undefined ? `, ${p.maxConcurrency} at a time` : ""}${p.maxErrors !== undefined ? `, stop after ${p.maxErrors} error(s)` : ""}`,
    );
  if (Array.isArray(p.create)) lines.push(`${p.create.length} snapshot(s) to create`);
  return h(
    "div",
    { class: "plan" },
    lines.map((l) => h("p", {}, l)),
    reasons.length
      ? h(
          "ul",
          { class: "reasons" },
          reasons.map(([k, v]) => h("li", {}, h("strong", {}, `${k}: `), v)),
        )
      : h("p", { class: "muted small" }, "No clamps or skips."),
    h("details", { "data-key": "plan-raw" }, h("summary", {}, "Whole plan (JSON)"), json(plan ?? {})),
  );
}

/**
 * A target's outcome in the one result shape: why, its details (`label: value`) and its
 * artifacts. Knows no runbook: every runbook reports this shape (`outcome`).
 */
function targetDetails(t) {
  const lines = [];
  if (t.reason) lines.push(t.status === "failed" ? h("strong", {}, t.reason) : t.reason);
  for (const [k, v] of Object.entries(t.details ?? {}))
    lines.push(h("span", { "data-detail": k }, h("span", { class: "muted" }, `${k}: `), String(v)));
  for (const a of t.artifacts ?? [])
    lines.push([
      h("code", {}, a.id),
      h("span", { class: "muted" }, ` ${a.kind}${a.note ? `, ${a.note}` : ""}`),
    ]);
  return lines.map((l) => h("div", {}, l));
}

/** A target's status as a badge, with an icon and the word. */
const TARGET_STATUS = {
  succeeded: "SUCCEEDED",
  failed: "FAILED",
  "rolled-back": "FAILED",
  skipped: "NOT_RUN",
  "not-started": "NOT_RUN",
};
function targetBadge(status) {
  if (!status) return "";
  const as = TARGET_STATUS[status];
  if (!as) return status;
  const [icon] = STATUS_TEXT[as];
  return h(
    "span",
    { class: `status s-${as}`, "data-status": as },
    h("span", { "aria-hidden": "true" }, icon),
    String(status).replace(/-/g, " "),
  );
}

/** A run's results: its summary, a row per target, its artifacts; the runbook's own record raw. */
function resultsView(run) {
  const o = run.outcome ?? { summary: "", targets: [] };
  const out = [];
  if (o.summary) out.push(h("p", { class: "summary" }, h("strong", {}, o.summary)));
  if (o.targets.length) {
    out.push(
      h(
        "table",
        { id: "targets" },
        h(
          "caption",
          { class: "skip" },
          run.dryRun ? "Targets (dry-run: nothing was changed)" : "Per-target results",
        ),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Target", "Status", "Result"].map((c) => h("th", { scope: "col" }, c)),
          ),
        ),
        h(
          "tbody",
          {},
          o.targets.map((t) =>
            h(
              "tr",
              { "data-target": t.id, "data-kind": t.kind },
              h("td", {}, t.name ?? "", h("div", { class: "small" }, h("code", {}, t.id))),
              h("td", {}, targetBadge(t.status)),
              h("td", { class: "small" }, targetDetails(t)),
            ),
          ),
        ),
      ),
    );
  }
  if (o.artifacts?.length)
    out.push(
      h(
        "ul",
        { class: "artifacts" },
        o.artifacts.map((a) =>
          h(
            "li",
            { "data-artifact": a.kind },
            `${a.kind}: `,
            h("code", {}, a.id),
            a.note ? ` — ${a.note}` : "",
          ),
        ),
      ),
    );
  if (!out.length)
    out.push(
      h(
        "p",
        { class: "muted" },
        run.status === "RUNNING"
          ? "No results yet; they appear as steps finish."
          : "This run reported no results.",
      ),
    );
  out.push(
    h(
      "details",
      { "data-key": "result-raw" },
      h("summary", {}, "Whole result (JSON)"),
      json(run.result ?? {}),
    ),
  );
  return out;
}

/** A table of step records: target, status, start, time taken, error or output. */
function recordsTable(records) {
  const rec = (r) =>
    h(
      "tr",
      { "data-step": r.step },
      h("td", {}, r.target ? h("code", {}, r.target) : h("span", { class: "muted" }, "—")),
      h("td", {}, r.state && r.state !== r.step ? `${r.state} ` : "", badge(r.status)),
      h("td", {}, time(r.startedAt)),
      h(
        "td",
        {},
        duration(
          r.durationMs ??
            (r.endedAt
              ? Date.parse(r.endedAt) - Date.parse(r.startedAt)
              : Date.now() - Date.parse(r.startedAt)),
        ),
      ),
      h(
        "td",
        { class: "small" },
        r.error ? h("strong", {}, `${r.error}: `) : "",
        r.cause ?? "",
        r.output !== undefined && r.output !== null
          ? h("details", {}, h("summary", {}, "output"), json(r.output))
          : "",
      ),
    );
  return h(
    "table",
    {},
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Target", "Status", "Started", "Took", "Error / output"].map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    h("tbody", {}, records.map(rec)),
  );
}

/**
 * A Map state's iterations, one `<details>` per item: opened, it draws the item's own state
 * machine (the Map's ItemProcessor) with each inner state's status, and its records. Drawn
 * when opened, so a run over hundreds of targets stays quick to show.
 */
function iterationsView(node, st, run, names) {
  const inner = node.state.ItemProcessor ?? node.state.Iterator;
  const { items, untargeted } = iterations(st.records);
  const took = (recs) =>
    duration(
      Date.parse(recs[recs.length - 1].endedAt ?? new Date().toISOString()) - Date.parse(recs[0].startedAt),
    );
  return h(
    "ol",
    { class: "iterations" },
    items.map((it) => {
      const key = `iter-${node.name}-${it.target}`;
      const d = h(
        "details",
        { "data-key": key, "data-iteration": it.target },
        h(
          "summary",
          {},
          h("code", {}, it.target),
          names.get(it.target) ? ` ${names.get(it.target)}` : "",
          " ",
          badge(it.status),
          h("span", { class: "muted small" }, ` ${it.records.length} record(s), ${took(it.records)}`),
        ),
      );
      let drawn = false;
      const draw = () => {
        if (drawn || !d.open) return;
        drawn = true;
        const parts = [];
        if (inner?.States) {
          const g = aslGraph(inner);
          const sts = statusOf(g, { ...run, status: it.status, steps: it.records });
          parts.push(
            h(
              "div",
              { class: "graph-wrap", "data-iteration-graph": it.target },
              renderGraph(g, sts, () => {}),
            ),
          );
        }
        parts.push(recordsTable(it.records));
        d.append(...parts);
      };
      d.addEventListener("toggle", draw);
      // Restored open across refreshes: draw once it is in the page.
      queueMicrotask(draw);
      return h("li", {}, d);
    }),
    untargeted.length
      ? h(
          "li",
          {},
          h(
            "details",
            { "data-key": `iter-${node.name}-untargeted` },
            h("summary", {}, `${untargeted.length} record(s) of no single target`),
            recordsTable(untargeted),
          ),
        )
      : "",
  );
}

function stepsTable(graph, statuses, run) {
  const names = new Map((run.outcome?.targets ?? []).filter((t) => t.name).map((t) => [t.id, t.name]));
  const rows = [];
  for (const n of graph.nodes) {
    const st = statuses.get(n.name);
    if (!st.records.length) continue;
    const count = n.iterates ? iterations(st.records).items.length : 0;
    rows.push(
      h(
        "details",
        {
          id: `state-${n.name}`,
          "data-key": `state-${n.name}`,
          open: n.iterates || st.records.length > 5 ? undefined : true,
        },
        h(
          "summary",
          {},
          h("strong", {}, n.name),
          n.iterates
            ? ` — Map: ${count} iteration(s), ${st.records.length} record(s) `
            : ` — ${st.records.length} record(s) `,
          badge(st.status),
        ),
        n.iterates ? iterationsView(n, st, run, names) : recordsTable(st.records),
      ),
    );
  }
  return rows.length ? rows : [h("p", { class: "muted" }, "No step has started yet.")];
}

/** The run a run repeats (a re-run from the console, the CLI or Slack), if any. */
const repeats = (run) =>
  run.trigger?.rerunOf ??
  run.rerunOf ??
  (run.trigger?.kind === "rerun" ? run.trigger.executionId : undefined);

const openState = new Map();

views.run = {
  title: "Run",
  async render(main, first, id) {
    const res = await api("GET", `/api/executions/${encodeURIComponent(id)}`);
    if (res.status !== 200) {
      fill(
        main,
        h("h2", {}, "Run ", h("code", {}, id)),
        empty(
          res.status === 404 ? "No such run. " : `Could not load it: ${errorText(res)}. `,
          h("a", { href: "#/runs" }, "Back to runs"),
        ),
      );
      return;
    }
    const run = res.body;
    // One request: the run answers with its runbook's state machine and its re-runs.
    const def = run.stateMachine ? { stateMachine: run.stateMachine } : await runbookDef(run.runbook);
    const key = JSON.stringify([
      run,
      def.missing,
      run.status === "RUNNING" ? Math.floor(Date.now() / 1000) : 0,
    ]);
    if (!first && main.dataset.key === key) return;
    main.dataset.key = key;
    // Keep what the reader opened or closed across refreshes.
    for (const d of main.querySelectorAll("details[data-key]"))
      openState.set(`${id}:${d.dataset.key}`, d.open);

    // Its layout needs dagre (loading since index.html ran; without it the states are listed).
    if (def.stateMachine) await BOOT.dagre;
    const graph = def.stateMachine ? aslGraph(def.stateMachine) : undefined;
    const statuses = graph ? statusOf(graph, run) : undefined;
    const select = (name) => {
      const d = document.getElementById(`state-${name}`);
      if (d) {
        d.open = true;
        d.scrollIntoView({ block: "nearest" });
        d.querySelector("summary")?.focus();
      } else flash(`${name} has no step records: it writes none, or it has not run.`);
    };
    const startedAudit = (run.audit ?? []).find((a) => a.kind === "execution.started");
    const rerunOf = repeats(run);
    const reruns = run.reruns ?? [];
    const live = !TERMINAL.includes(run.status);

    const actions = h("div", { class: "actions" });
    if (run.status === "WAITING_FOR_APPROVAL") {
      actions.append(
        h(
          "button",
          {
            type: "button",
            class: "primary",
            onclick: (ev) =>
              act(ev, "POST", `/api/executions/${encodeURIComponent(run.id)}/approve`, {}, "Approved."),
          },
          "✓ Approve",
        ),
        h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: (ev) =>
              act(ev, "POST", `/api/executions/${encodeURIComponent(run.id)}/reject`, {}, "Rejected."),
          },
          "✗ Reject",
        ),
      );
    }
    if (live)
      actions.append(
        h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: (ev) => {
              // Graceful abort: no new target starts, steps in flight finish, then the
              // runbook's rollback undoes what was done. The reason is audited.
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
            },
          },
          "■ Abort",
        ),
      );
    else
      actions.append(
        h(
          "button",
          {
            type: "button",
            onclick: async (ev) => {
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
                    h(
                      "a",
                      {
                        href: `#/start/${encodeURIComponent(run.runbook)}?from=${encodeURIComponent(run.id)}`,
                      },
                      "Start it again with the same params",
                    ),
                    ".",
                  ],
                  true,
                );
            },
          },
          "↻ Re-run",
        ),
        h(
          "a",
          {
            class: "button",
            href: `#/start/${encodeURIComponent(run.runbook)}?from=${encodeURIComponent(run.id)}`,
          },
          "Edit params and start…",
        ),
      );

    fill(
      main,
      h("p", { class: "small" }, h("a", { href: "#/runs" }, "← All runs")),
      h(
        "div",
        { class: "run-head" },
        h("h2", {}, run.runbook, run.dryRun ? h("span", { class: "badge dry" }, "dry-run") : ""),
        h("span", { id: "run-status" }, badge(run.status)),
        actions,
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Execution"),
        h("dd", {}, h("code", {}, run.id)),
        h("dt", {}, "Trigger"),
        h(
          "dd",
          {},
          triggerText(run.trigger),
          run.trigger?.eventId
            ? [
                " · event ",
                h(
                  "a",
                  {
                    href: `#/runs?text=${encodeURIComponent(run.trigger.eventId)}`,
                    title: "Every run this event started",
                    "data-event": run.trigger.eventId,
                  },
                  h("code", {}, run.trigger.eventId),
                ),
              ]
            : "",
        ),
        run.trigger?.alarm
          ? [h("dt", {}, "Alarm"), h("dd", { id: "run-alarm" }, alarmText(run.trigger.alarm))]
          : "",
        h("dt", {}, "Why"),
        h(
          "dd",
          { id: "run-why" },
          run.trigger?.alarm?.reason ?? run.trigger?.reason ?? startedAudit?.reason ?? "—",
        ),
        h("dt", {}, "Started"),
        h("dd", {}, time(run.startedAt)),
        h("dt", {}, "Ended"),
        h("dd", {}, run.endedAt ? time(run.endedAt) : "still running"),
        h("dt", {}, "Duration"),
        h("dd", {}, runDuration(run), live ? " so far" : ""),
        run.error || run.cause
          ? [
              h("dt", {}, "Error"),
              h("dd", {}, h("strong", {}, run.error ?? ""), run.cause ? ` ${run.cause}` : ""),
            ]
          : "",
        run.locks?.length
          ? [
              h("dt", {}, live ? "Locks held" : "Locks taken"),
              h(
                "dd",
                {},
                run.locks.map((l) => h("code", {}, l, " ")),
              ),
            ]
          : "",
        rerunOf
          ? [
              h("dt", {}, "Re-run of"),
              h("dd", {}, h("a", { href: `#/runs/${encodeURIComponent(rerunOf)}` }, rerunOf)),
            ]
          : "",
        reruns.length
          ? [
              h("dt", {}, "Re-runs"),
              h(
                "dd",
                {},
                reruns.map((id) => [h("a", { href: `#/runs/${encodeURIComponent(id)}` }, id), " "]),
              ),
            ]
          : "",
      ),
      h(
        "div",
        { class: "run-body" },
        h(
          "section",
          { class: "run-graph", "aria-label": "State machine" },
          h(
            "h3",
            {},
            "State machine",
            live ? h("span", { class: "muted small" }, ` · live, every ${POLL_MS / 1000} s`) : "",
          ),
          graph
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
            : empty(`The graph is not available: ${def.missing}.`),
        ),
        h(
          "div",
          { class: "run-side" },
          h(
            "section",
            { "aria-labelledby": "h-results" },
            h("h3", { id: "h-results" }, "Results per target"),
            resultsView(run),
          ),
          h(
            "section",
            { "aria-labelledby": "h-params" },
            h("h3", { id: "h-params" }, "Params"),
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
            ),
          ),
        ),
      ),
      h("h3", {}, "Steps"),
      graph ? stepsTable(graph, statuses, run) : json(run.steps),
      h("h3", {}, "Audit"),
      (run.audit ?? []).length
        ? h(
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
              run.audit.map((a) =>
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
          )
        : h("p", { class: "muted" }, "No audit entries for this run."),
    );
    for (const d of main.querySelectorAll("details[data-key]")) {
      const was = openState.get(`${id}:${d.dataset.key}`);
      if (was !== undefined) d.open = was;
    }
  },
};

// ---------- start a runbook ----------

/** A form field for a JSON Schema node: `{ el, read() }`; read throws `{ path, message }`. */
function field(schema, name, path, required, value) {
  const id = `f-${path.join("-") || "root"}`;
  const hintId = `${id}-hint`;
  const hint = [
    schema.description,
    schema.default !== undefined ? `default: ${JSON.stringify(schema.default)}` : "",
  ]
    .filter(Boolean)
    .join(" — ");
  const label = (text) =>
    h(
      "label",
      { for: id },
      text,
      required ? h("span", { class: "req", title: "required" }, " * (required)") : "",
    );
  const wrap = (control) =>
    h(
      "div",
      { class: "field", "data-path": path.join(".") },
      label(name),
      control,
      hint ? h("div", { class: "hint", id: hintId }, hint) : "",
    );
  const fail = (message) => {
    throw { path: path.join("."), message };
  };

  if (schema.oneOf || schema.anyOf) {
    const variants = schema.oneOf ?? schema.anyOf;
    const tag = (v, i) => {
      const c = Object.entries(v.properties ?? {}).find(([, p]) => p.const !== undefined);
      return c ? `${c[0]}: ${c[1].const}` : `option ${i + 1}`;
    };
    const pick = variants.findIndex((v) =>
      Object.entries(v.properties ?? {}).some(([k, p]) => p.const !== undefined && value?.[k] === p.const),
    );
    const holder = h("div");
    let current;
    const show = (i) => {
      current = field(variants[i], "", path, required, i === Math.max(pick, 0) ? value : undefined);
      fill(holder, current.el);
    };
    const sel = h(
      "select",
      { id, onchange: (ev) => show(Number(ev.target.value)) },
      variants.map((v, i) => h("option", { value: i, selected: i === Math.max(pick, 0) }, tag(v, i))),
    );
    show(Math.max(pick, 0));
    return {
      el: h("div", {}, h("div", { class: "field" }, h("label", { for: id }, "Variant"), sel), holder),
      read: () => current.read(),
    };
  }
  if (schema.type === "object" && schema.properties) {
    const req = new Set(schema.required ?? []);
    const kids = Object.entries(schema.properties).map(([k, p]) => [
      k,
      field(p, k, [...path, k], req.has(k), value?.[k]),
    ]);
    const inner = kids.map(([, f]) => f.el);
    return {
      el: name
        ? h(
            "fieldset",
            { "data-path": path.join(".") },
            h("legend", {}, name, required ? " *" : ""),
            hint ? h("p", { class: "hint small muted" }, hint) : "",
            inner,
          )
        : h("div", {}, inner),
      read() {
        const out = {};
        for (const [k, f] of kids) {
          const v = f.read();
          if (v !== undefined) out[k] = v;
        }
        if (!Object.keys(out).length && !required) return undefined;
        return out;
      },
    };
  }
  if (schema.type === "object") {
    // A map of strings, e.g. a tag selector: one `Key=Value` a line.
    const text = value
      ? Object.entries(value)
          .map(([k, v]) => `${k}=${v}`)
          .join("\n")
      : "";
    const ta = h(
      "textarea",
      {
        id,
        name: path.join("."),
        "aria-describedby": hint ? hintId : undefined,
        placeholder: "Key=Value, one a line",
        rows: 2,
      },
      text,
    );
    return {
      el: wrap(ta),
      read() {
        const lines = ta.value
          .split("\n")
          .map((l) => l.trim())
          .filter(Boolean);
        if (!lines.length) return required ? fail("required") : undefined;
        const out = {};
        for (const l of lines) {
          const at = l.indexOf("=");
          if (at < 1) fail(`'${l}' is not Key=Value`);
          out[l.slice(0, at).trim()] = l.slice(at + 1).trim();
        }
        return out;
      },
    };
  }
  if (schema.type === "array" && schema.items?.type === "string") {
    const ta = h(
      "textarea",
      {
        id,
        name: path.join("."),
        "aria-describedby": hint ? hintId : undefined,
        placeholder: "one a line",
        rows: 2,
      },
      (value ?? []).join("\n"),
    );
    return {
      el: wrap(ta),
      read() {
        const items = ta.value
          .split(/[\n,]/)
          .map((l) => l.trim())
          .filter(Boolean);
        return items.length ? items : required ? fail("required") : undefined;
      },
    };
  }
  if (schema.type === "boolean") {
    const initial = value ?? schema.default ?? false;
    const cb = h("input", {
      id,
      type: "checkbox",
      name: path.join("."),
      checked: Boolean(initial),
      "aria-describedby": hint ? hintId : undefined,
    });
    return { el: wrap(cb), read: () => cb.checked };
  }
  if (schema.const !== undefined) {
    return {
      el: wrap(h("output", { id }, h("code", {}, JSON.stringify(schema.const)))),
      read: () => schema.const,
    };
  }
  if (Array.isArray(schema.enum)) {
    const sel = h(
      "select",
      { id, name: path.join("."), "aria-describedby": hint ? hintId : undefined },
      h("option", { value: "" }, required ? "choose…" : "(default)"),
      schema.enum.map((v) => h("option", { value: v, selected: v === value }, v)),
    );
    return { el: wrap(sel), read: () => sel.value || (required ? fail("required") : undefined) };
  }
  if (schema.type === "integer" || schema.type === "number") {
    const input = h("input", {
      id,
      type: "number",
      name: path.join("."),
      min: schema.minimum,
      max: schema.maximum,
      step: schema.type === "integer" ? 1 : "any",
      value: value ?? "",
      placeholder: schema.default !== undefined ? String(schema.default) : "",
      "aria-describedby": hint ? hintId : undefined,
    });
    return {
      el: wrap(input),
      read() {
        if (input.value === "") return required ? fail("required") : undefined;
        const n = Number(input.value);
        if (!Number.isFinite(n)) fail("not a number");
        return n;
      },
    };
  }
  if (schema.type === "string") {
    const input = h("input", {
      id,
      name: path.join("."),
      value: value ?? "",
      placeholder: schema.default !== undefined ? String(schema.default) : "",
      "aria-describedby": hint ? hintId : undefined,
      size: 32,
    });
    return { el: wrap(input), read: () => input.value.trim() || (required ? fail("required") : undefined) };
  }
  // Anything the form does not know how to draw: JSON.
  const ta = h(
    "textarea",
    { id, name: path.join("."), placeholder: "JSON", "aria-describedby": hint ? hintId : undefined },
    value !== undefined ? JSON.stringify(value) : "",
  );
  return {
    el: wrap(ta),
    read() {
      if (!ta.value.trim()) return required ? fail("required") : undefined;
      try {
        return JSON.parse(ta.value);
      } catch {
        return fail("not valid JSON");
      }
    },
  };
}

views.start = {
  title: "Start a runbook",
  async render(main, first, name, query) {
    if (!first) return;
    let rbs;
    try {
      rbs = await runbooks();
    } catch (err) {
      fill(main, h("h2", {}, "Start a runbook"), empty(err.message));
      return;
    }
    if (!name) {
      fill(
        main,
        h("h2", {}, "Start a runbook"),
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
          : empty("No runbooks are registered."),
      );
      return;
    }
    const rb = rbs.find((r) => r.name === name);
    if (!rb) {
      fill(
        main,
        h("h2", {}, "Start a runbook"),
        empty(`No runbook '${name}'. `, h("a", { href: "#/start" }, "Pick one")),
      );
      return;
    }
    let initial;
    const from = query.get("from");
    if (from) {
      const prev = await api("GET", `/api/executions/${encodeURIComponent(from)}`);
      if (prev.status === 200) initial = prev.body.params;
    }
    const holder = h("div");
    let form = field(rb.params ?? {}, "", [], true, initial);
    holder.append(form.el);
    const dry = h("input", { id: "dry-run", type: "checkbox", name: "dryRun", checked: true });
    const problem = h("p", { class: "field-error", role: "alert" });
    const submit = async (ev) => {
      ev.preventDefault();
      problem.textContent = "";
      for (const el of main.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
      let params;
      try {
        params = form.read() ?? {};
      } catch (err) {
        problem.textContent = `${err.path || "params"}: ${err.message}`;
        main
          .querySelector(
            `[data-path="${err.path}"] input, [data-path="${err.path}"] textarea, [data-path="${err.path}"] select`,
          )
          ?.setAttribute("aria-invalid", "true");
        return;
      }
      const button = ev.submitter;
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
    fill(
      main,
      h("p", { class: "small" }, h("a", { href: "#/start" }, "← All runbooks")),
      h("h2", {}, `Start ${rb.name}`, h("span", { class: "badge" }, `risk: ${rb.risk}`)),
      h("p", {}, rb.summary),
      from && initial
        ? h(
            "p",
            { class: "muted" },
            "Params copied from ",
            h("a", { href: `#/runs/${encodeURIComponent(from)}` }, from),
            ".",
          )
        : "",
      h(
        "form",
        { class: "start", onsubmit: submit, "aria-label": `Params of ${rb.name}` },
        holder,
        h(
          "p",
          {},
          h(
            "button",
            {
              type: "button",
              onclick: () => {
                form = field(rb.params ?? {}, "", [], true, rb.example);
                fill(holder, form.el);
              },
            },
            "Fill with the example",
          ),
        ),
        h(
          "p",
          {},
          dry,
          h("label", { for: "dry-run" }, " Dry-run: report the plan, change nothing"),
          h("div", { class: "small muted" }, rb.dryRun),
        ),
        problem,
        h("button", { type: "submit", class: "primary" }, "Start"),
      ),
    );
  },
};

// ---------- routing and polling ----------

let current = { key: "" };
function parseRoute() {
  const [path, q] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(q ?? "");
  if (parts[0] === "runs" && parts[1]) return { view: "run", arg: parts[1], query, nav: "runs" };
  if (parts[0] === "approvals") return { view: "approvals", query, nav: "approvals" };
  if (parts[0] === "start") return { view: "start", arg: parts[1], query, nav: "start" };
  return { view: "runs", query, nav: "runs" };
}

let busy = false;
let queue = Promise.resolve();
/** Refreshes the page; one refresh at a time, so a slow answer never paints over a newer view. */
function tick(first = false) {
  if (busy && !first) return queue;
  busy = true;
  queue = queue.then(() => refresh(first)).finally(() => (busy = false));
  return queue;
}

async function refresh(first) {
  const main = document.getElementById("main");
  const route = parseRoute();
  const key = location.hash;
  const isNew = first || current.key !== key;
  if (isNew) {
    current = { key };
    main.dataset.key = "";
    main._list = undefined;
    for (const a of document.querySelectorAll("[data-nav]")) {
      if (a.dataset.nav === route.nav) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    document.title = `${views[route.view].title} · Reflex`;
  }
  try {
    const view = views[route.view].render(main, isNew, route.arg, route.query);
    // A new page is drawn before the banner and the count are asked for, so its request does
    // not share the server with theirs; later refreshes ask for all three at once.
    if (isNew) await view;
    await Promise.all([
      view,
      refreshGuardrails(),
      route.view === "approvals" ? undefined : refreshApprovals(),
    ]);
  } catch (err) {
    flash(`The console hit an error: ${err.message}`, true);
  }
}

let navigations = 0;
window.addEventListener("hashchange", () => {
  flash("");
  const main = document.getElementById("main");
  const navigation = ++navigations;
  // Busy until the new page is drawn: screen readers wait for it, and so can a test.
  main.setAttribute("aria-busy", "true");
  const focused = document.activeElement;
  tick(true).then(() => {
    if (navigation !== navigations) return;
    // The new page takes the focus, unless the person moved it while the page was drawn (opened
    // a list in the banner, say): taking it then would leave Escape and typing nowhere.
    const now = document.activeElement;
    if (!now || now === focused || now === document.body) main.focus({ preventScroll: true });
    main.removeAttribute("aria-busy");
  });
});
setInterval(() => {
  if (!document.hidden) tick();
}, POLL_MS);
tick(true);
