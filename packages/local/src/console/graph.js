/**
 * The run graph: a runbook's state machine (ASL) with each state's status from the run's step
 * records. Only Task states write step records; the states between them (Choice, Wait, Pass,
 * Succeed, Fail) are inferred as "passed" when they lie on a path between states that ran, with
 * Choice rules on `$.execution.*` and `$.params.*` evaluated against the run (the only parts of
 * the state input the console knows). Laid out by dagre when it is loaded, else listed.
 */

const SVG = "http://www.w3.org/2000/svg";

/** Status words, each with an icon, so colour is never the only signal. */
export const STATUS_TEXT = {
  SUCCEEDED: ["✓", "succeeded"],
  PASSED: ["✓", "passed (inferred)"],
  FAILED: ["✗", "failed"],
  STARTING: ["…", "starting"],
  RUNNING: ["▶", "running"],
  WAITING_FOR_APPROVAL: ["❚❚", "waiting for approval"],
  NOT_RUN: ["○", "not run"],
  ABORTED: ["■", "aborted"],
  TIMED_OUT: ["◷", "timed out"],
};

/** The step names of the Task states in a state list (recursing into Map and Parallel). */
function taskSteps(states) {
  const out = [];
  for (const s of Object.values(states ?? {})) {
    if (s.Type === "Task" && s.Parameters?.step) out.push(s.Parameters.step);
    const inner = s.ItemProcessor ?? s.Iterator;
    if (inner) out.push(...taskSteps(inner.States));
    for (const b of s.Branches ?? []) out.push(...taskSteps(b.States));
  }
  return out;
}

/** Nodes and edges of a state machine's top level; Map/Parallel states carry their inner steps. */
export function aslGraph(asl) {
  const nodes = [];
  const edges = [];
  for (const [name, s] of Object.entries(asl.States ?? {})) {
    const inner = s.ItemProcessor ?? s.Iterator;
    const steps =
      s.Type === "Task"
        ? [s.Parameters?.step ?? name]
        : inner
          ? taskSteps(inner.States)
          : s.Branches
            ? s.Branches.flatMap((b) => taskSteps(b.States))
            : [];
    nodes.push({
      name,
      type: s.Type,
      steps,
      iterates: Boolean(inner),
      approval: s.Type === "Task" && String(s.Resource ?? "").includes("waitForTaskToken"),
      end: s.Type === "Succeed" || s.Type === "Fail" || s.End === true,
      state: s,
    });
    const to = (target, kind, label) => edges.push({ from: name, to: target, kind, label });
    if (s.Next) to(s.Next, "next");
    for (const [i, c] of (s.Choices ?? []).entries()) to(c.Next, "choice", `rule ${i + 1}`);
    if (s.Default) to(s.Default, "default", "default");
    for (const c of s.Catch ?? []) to(c.Next, "catch", "on error");
  }
  return { start: asl.StartAt, nodes, edges };
}

/** A JSONPath like `$.params.mode` read from what the console knows of the state input. */
function read(path, known) {
  if (typeof path !== "string" || !/^\$\.(execution|params)(\.|$)/.test(path)) return { known: false };
  let v = known;
  for (const part of path.slice(2).split(".")) {
    if (v === null || typeof v !== "object" || !(part in v)) return { known: true, present: false };
    v = v[part];
  }
  return { known: true, present: true, value: v };
}

/** true / false, or undefined when the rule reads something the console cannot know. */
export function evaluateChoice(rule, known) {
  if (rule.And) {
    const r = rule.And.map((x) => evaluateChoice(x, known));
    return r.includes(false) ? false : r.includes(undefined) ? undefined : true;
  }
  if (rule.Or) {
    const r = rule.Or.map((x) => evaluateChoice(x, known));
    return r.includes(true) ? true : r.includes(undefined) ? undefined : false;
  }
  if (rule.Not) {
    const r = evaluateChoice(rule.Not, known);
    return r === undefined ? undefined : !r;
  }
  const v = read(rule.Variable, known);
  if (!v.known) return undefined;
  if ("IsPresent" in rule) return v.present === rule.IsPresent;
  if (!v.present) return false;
  const ops = {
    BooleanEquals: (a, b) => a === b,
    StringEquals: (a, b) => a === b,
    NumericEquals: (a, b) => a === b,
    NumericGreaterThan: (a, b) => a > b,
    NumericGreaterThanEquals: (a, b) => a >= b,
    NumericLessThan: (a, b) => a < b,
    NumericLessThanEquals: (a, b) => a <= b,
  };
  for (const [op, fn] of Object.entries(ops)) if (op in rule) return fn(v.value, rule[op]);
  return undefined;
}

const byStart = (a, b) => String(a.startedAt).localeCompare(String(b.startedAt));

/**
 * Each node's status and timing for one run.
 * @returns {Map<string, {status: string, records: object[], inferred: boolean}>}
 */
export function statusOf(graph, run, now = Date.now()) {
  const steps = [...(run.steps ?? [])].sort(byStart);
  const out = new Map();
  const isTask = (n) => n.steps.length > 0;
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  for (const n of graph.nodes) {
    const records = steps.filter((r) => n.steps.includes(r.step) || r.state === n.name);
    let status = "NOT_RUN";
    if (records.length) {
      const last = records[records.length - 1];
      status = records.some((r) => r.status === "RUNNING")
        ? "RUNNING"
        : n.iterates
          ? records.some((r) => r.status === "FAILED")
            ? "FAILED"
            : "SUCCEEDED"
          : last.status;
    }
    out.set(n.name, { status, records, inferred: false, timing: timing(records, now) });
  }
  const ran = (name) => out.get(name)?.records.length > 0;
  const known = {
    execution: { id: run.id, dryRun: run.dryRun, runbook: run.runbook },
    params: run.params ?? {},
  };

  // Edges a state can leave by, given what we know of it.
  const leaving = (n) =>
    graph.edges.filter((e) => {
      if (e.from !== n.name) return false;
      if (e.kind === "catch") return out.get(n.name).status === "FAILED";
      if (n.type === "Choice") {
        const results = (n.state.Choices ?? []).map((c) => evaluateChoice(c, known));
        const decided = results.indexOf(true);
        const open = results.some((r) => r === undefined);
        if (e.kind === "choice") {
          const i = n.state.Choices.findIndex((c) => c.Next === e.to);
          return decided >= 0 ? i === decided : results[i] !== false;
        }
        return decided < 0 && (open || results.every((r) => r === false));
      }
      return true;
    });
  // Non-task states reachable from `from` without crossing a task state.
  const reach = (from) => {
    const seen = new Set();
    const queue = [...from];
    while (queue.length) {
      const n = byName.get(queue.shift());
      if (!n) continue;
      for (const e of leaving(n)) {
        const t = byName.get(e.to);
        if (!t || seen.has(t.name) || isTask(t)) continue;
        seen.add(t.name);
        queue.push(t.name);
      }
    }
    return seen;
  };
  const tasksRan = graph.nodes.filter((n) => isTask(n) && ran(n.name)).map((n) => n.name);
  const startNode = byName.get(graph.start);
  const seeds = [...tasksRan];
  const forward = reach(seeds);
  if (startNode && !isTask(startNode)) {
    forward.add(startNode.name);
    for (const x of reach([startNode.name])) forward.add(x);
  }
  // Where the run is, or ended: the states after the last task that ran.
  const lastTask = steps.length
    ? graph.nodes.find((n) => n.steps.includes(steps[steps.length - 1].step))
    : undefined;
  const after = lastTask ? reach([lastTask.name]) : startNode && !isTask(startNode) ? forward : new Set();
  const targets = new Set(tasksRan);
  const ended = ["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"].includes(run.status);
  if (ended) {
    const wanted = run.status === "SUCCEEDED" ? "Succeed" : "Fail";
    const ends = [...after].filter((name) => {
      const n = byName.get(name);
      return n.type === wanted || (run.status === "SUCCEEDED" && n.end && n.type !== "Fail");
    });
    if (ends.length === 1) {
      targets.add(ends[0]);
      out.get(ends[0]).status = run.status === "SUCCEEDED" ? "PASSED" : "FAILED";
      out.get(ends[0]).inferred = true;
    }
  }
  if (run.status === "WAITING_FOR_APPROVAL") {
    // The approval state the run stands in: the last state that ran, or one right after it.
    const waiting = graph.nodes.find(
      (n) => n.approval && (!lastTask || n === lastTask || leaving(lastTask).some((e) => e.to === n.name)),
    );
    if (waiting) out.get(waiting.name).status = "WAITING_FOR_APPROVAL";
  }
  // A non-task state passed: reached from what ran, and leading to something that ran.
  for (const name of forward) {
    if (targets.has(name)) continue;
    const via = [name, ...reach([name])];
    const leadsOn = via.some((v) => leaving(byName.get(v)).some((e) => targets.has(e.to)));
    if (leadsOn) {
      out.get(name).status = "PASSED";
      out.get(name).inferred = true;
    }
  }
  return out;
}

/** Human timing of a state's records: one duration, a count and total, or items for a Map. */
function timing(records, now) {
  if (!records.length) return "";
  const ms = (r) =>
    r.durationMs ??
    (r.endedAt ? Date.parse(r.endedAt) - Date.parse(r.startedAt) : now - Date.parse(r.startedAt));
  if (records.length === 1) return duration(ms(records[0]));
  const total = records.reduce((s, r) => s + ms(r), 0);
  return `×${records.length}, ${duration(total)} total`;
}

export function duration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  const rest = (n, unit) => (n ? ` ${n} ${unit}` : "");
  if (m < 60) return `${m} min${rest(Math.round(s % 60), "s")}`;
  return `${Math.floor(m / 60)} h${rest(m % 60, "min")}`;
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

/**
 * A Map state's iterations: its records grouped by target (one item each), in the order they
 * started, each with its status — running while any record runs, else its last record's (a
 * retried step that failed and then succeeded is a success). Records that name no target
 * (steps that run before an item is known) are returned apart, as `untargeted`.
 * @returns {{ items: Array<{ target: string, records: object[], status: string }>, untargeted: object[] }}
 */
export function iterations(records) {
  const byTarget = new Map();
  const untargeted = [];
  for (const r of [...records].sort(byStart)) {
    if (r.target === undefined || r.target === null || r.target === "") untargeted.push(r);
    else byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r]);
  }
  const items = [...byTarget].map(([target, recs]) => ({
    target,
    records: recs,
    status: recs.some((r) => r.status === "RUNNING") ? "RUNNING" : recs[recs.length - 1].status,
  }));
  return { items, untargeted };
}

/** `text` in at most `chars` characters, cut short with "…". @param {string} text @param {number} chars */
function cut(text, chars) {
  const all = [...text];
  return all.length <= chars
    ? text
    : `${all
        .slice(0, chars - 1)
        .join("")
        .trimEnd()}…`;
}

/** A node's second line: status word and timing, or the Map's item counts. */
function subLine(node, st) {
  const [icon, word] = STATUS_TEXT[st.status] ?? ["", st.status];
  if (node.iterates && st.records.length) {
    const { items } = iterations(st.records);
    const count = (status) => items.filter((i) => i.status === status).length;
    const [ok, failed, running] = [count("SUCCEEDED"), count("FAILED"), count("RUNNING")];
    return `${icon} ${items.length} item(s): ${ok} ✓${failed ? ` ${failed} ✗` : ""}${running ? ` ${running} ▶` : ""}`;
  }
  return `${icon} ${word}${st.timing ? ` · ${st.timing}` : ""}`;
}

/**
 * How many characters of a state's second line (status and timing, or a Map's counts) its box
 * holds: every box is sized to its name and this, not to what its line says now, so the graph
 * keeps its shape while a run's timings tick and its states change (no box grows and pushes the
 * others aside between two polls), and a runbook's layout is one per state machine, the same for
 * every run. A longer line is cut short with "…"; the state's `<title>` has the whole of it.
 */
const SUB_CHARS = 27;

/**
 * Layouts already made, by what they were made from (the states and their boxes' widths, the
 * edges), as plain data: laying out is most of the cost of drawing a run page, in the browser and
 * on local mode's server. Every run of a runbook has the same layout, so it is made once: kept
 * here (the newest {@link LAYOUTS}) and, in a browser, in localStorage, so a new tab or the next
 * visit draws a run of a runbook already seen without dagre. Only ever read after it is made here,
 * and a stored one is checked against its key and its shape before it is used.
 * @typedef {{ width: number, height: number, nodes: Record<string, { x: number, y: number, width: number, height: number }>,
 *   edges: Array<{ from: string, to: string, kind: string, points: Array<{ x: number, y: number }> }> }} Layout
 */
const layouts = new Map();
const LAYOUTS = 32;
const STORED = "reflex.layouts";

/** The browser's localStorage, or undefined (local mode's server; storage refused by the browser). */
function storage() {
  try {
    return globalThis.window === globalThis ? (globalThis.localStorage ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

/** The stored layouts, `[key, layout]` newest last; [] when there are none or they are unreadable. */
function storedLayouts() {
  try {
    const list = JSON.parse(storage()?.getItem(STORED) ?? "[]");
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

/**
 * A stored layout for `key` that is one of `graph`'s (a box of the width it is laid out with for
 * each state, and exactly the edges dagre is given), or undefined: one written by another version
 * or tampered with (an edge between states that do not exist, a kind that is more classes, a box
 * resized) is laid out again, not drawn.
 * @param {string} key @param {{ nodes: Array<{ name: string }>, edges: Array<{ from: string, to: string, kind: string, label?: string }> }} graph
 * @param {number[]} widths
 */
function storedLayout(key, graph, widths) {
  const found = storedLayouts().find((e) => Array.isArray(e) && e[0] === key)?.[1];
  const own = (o, k) => o !== null && typeof o === "object" && Object.hasOwn(o, k);
  const box = (b, width) =>
    b && Number.isFinite(b.x) && Number.isFinite(b.y) && b.width === width && b.height === BOX_HEIGHT;
  const point = (p) => p && Number.isFinite(p.x) && Number.isFinite(p.y);
  const names = new Set(graph.nodes.map((n) => n.name));
  // The edges dagre is given (layout below): one per from, to, kind and label, to a state.
  const given = new Map();
  for (const e of graph.edges)
    if (names.has(e.to))
      given.set(JSON.stringify([e.from, e.to, e.kind, e.label ?? ""]), [e.from, e.to, e.kind]);
  const wanted = [...given.values()].map((e) => JSON.stringify(e)).sort();
  const ok =
    found &&
    Number.isFinite(found.width) &&
    Number.isFinite(found.height) &&
    graph.nodes.every((n, i) => own(found.nodes, n.name) && box(found.nodes[n.name], widths[i])) &&
    Array.isArray(found.edges) &&
    found.edges.every(
      (e) =>
        typeof e?.from === "string" &&
        typeof e.to === "string" &&
        typeof e.kind === "string" &&
        Array.isArray(e.points) &&
        e.points.length > 0 &&
        e.points.every(point),
    ) &&
    JSON.stringify(found.edges.map((e) => JSON.stringify([e.from, e.to, e.kind])).sort()) ===
      JSON.stringify(wanted);
  return ok ? /** @type {Layout} */ (found) : undefined;
}

/** Keeps `layout` for `key` in localStorage too (the newest LAYOUTS; nothing when it cannot). @param {string} key @param {Layout} layout */
function storeLayout(key, layout) {
  const store = storage();
  if (!store) return;
  const list = storedLayouts().filter((e) => !(Array.isArray(e) && e[0] === key));
  list.push([key, layout]);
  try {
    store.setItem(STORED, JSON.stringify(list.slice(-LAYOUTS)));
  } catch {
    // Full or refused: the layout is still kept in this page.
  }
}

/** dagre's settings for a run's graph. */
const GRAPH = Object.freeze({
  rankdir: "TB",
  nodesep: 26,
  ranksep: 34,
  edgesep: 12,
  marginx: 14,
  marginy: 14,
});

/** A state's box's height: its name and its second line. */
const BOX_HEIGHT = 50;

/** A box's width: its name and type, and {@link SUB_CHARS} of its second line. */
function boxWidth(n) {
  const typeLabel = (n.iterates ? "map" : n.type).length * 6.5;
  return Math.round(Math.max(n.name.length * 7.6 + typeLabel + 16, SUB_CHARS * 6.6, 80) + 22);
}

/**
 * The graph's layout: from this page's or the browser's store when this state machine was laid
 * out before, else by dagre (undefined without it).
 * @returns {Layout | undefined}
 */
function layout(dagre, graph) {
  const widths = graph.nodes.map(boxWidth);
  // What the layout is made from, dagre's settings included: a console that lays out otherwise
  // does not take a layout another one stored.
  const key = JSON.stringify([
    GRAPH,
    graph.nodes.map((n, i) => [n.name, widths[i]]),
    graph.edges.map((e) => [e.from, e.to, e.kind, e.label ?? ""]),
  ]);
  const made = layouts.get(key) ?? storedLayout(key, graph, widths);
  if (made) {
    layouts.delete(key); // the newest again
    layouts.set(key, made);
    return made;
  }
  if (!dagre?.layout) return undefined;
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ ...GRAPH });
  g.setDefaultEdgeLabel(() => ({}));
  for (const [i, n] of graph.nodes.entries()) g.setNode(n.name, { width: widths[i], height: BOX_HEIGHT });
  for (const e of graph.edges)
    if (g.hasNode(e.to)) g.setEdge(e.from, e.to, { kind: e.kind }, `${e.kind}:${e.label ?? ""}`);
  dagre.layout(g);
  /** @type {Layout} */
  const out = { width: g.graph().width, height: g.graph().height, nodes: {}, edges: [] };
  for (const n of graph.nodes) {
    const { x, y, width, height } = g.node(n.name);
    out.nodes[n.name] = { x, y, width, height };
  }
  for (const k of g.edges()) {
    const e = g.edge(k);
    out.edges.push({ from: k.v, to: k.w, kind: e.kind, points: e.points.map(({ x, y }) => ({ x, y })) });
  }
  layouts.set(key, out);
  if (layouts.size > LAYOUTS) layouts.delete(layouts.keys().next().value);
  storeLayout(key, out);
  return out;
}

/** The `<svg>` with its arrow marker, sized to the drawing. */
/** @param {Layout} g */
function canvas(g) {
  // The drawing's bounds: dagre's size does not always include edges routed around nodes.
  let width = g.width;
  let height = g.height;
  for (const e of g.edges)
    for (const p of e.points) {
      width = Math.max(width, p.x + 14);
      height = Math.max(height, p.y + 14);
    }
  const root = svg("svg", {
    class: "graph",
    width: Math.ceil(width),
    height: Math.ceil(height),
    viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`,
    role: "group",
    "aria-label": "State machine of this run; each state shows its status",
  });
  const marker = {
    id: "arrow",
    viewBox: "0 0 10 10",
    refX: 9,
    refY: 5,
    markerWidth: 9,
    markerHeight: 9,
    markerUnits: "userSpaceOnUse",
    orient: "auto",
  };
  root.append(
    svg("defs", {}, svg("marker", marker, svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8c959f" }))),
  );
  return root;
}

/** The edges, the path the run took drawn thick. */
/** @param {Layout} g */
function edges(g, statuses) {
  const lit = (name) =>
    ["SUCCEEDED", "PASSED", "FAILED", "RUNNING", "WAITING_FOR_APPROVAL"].includes(statuses.get(name)?.status);
  return g.edges.map((e) => {
    const pts = e.points;
    let d = `M${pts[0].x},${pts[0].y}`;
    for (let i = 1; i < pts.length; i++) d += ` L${pts[i].x},${pts[i].y}`;
    const fromStatus = statuses.get(e.from)?.status;
    const taken = lit(e.from) && lit(e.to) && (e.kind !== "catch" || fromStatus === "FAILED");
    return svg("path", { d, class: `edge ${e.kind}${taken ? " taken" : ""}`, "marker-end": "url(#arrow)" });
  });
}

/** One state: a focusable box with its name, type, status line; click or Enter selects it. */
function stateNode(n, st, pos) {
  const [, word] = STATUS_TEXT[st.status] ?? ["", st.status];
  const x = pos.x - pos.width / 2;
  const y = pos.y - pos.height / 2;
  const title = `${n.name} (${n.type}): ${word}${st.timing ? `, ${st.timing}` : ""}${st.inferred ? " — inferred, this state writes no step record" : ""}`;
  const node = svg(
    "g",
    {
      class: `node n-${st.status}`,
      "data-state": n.name,
      "data-status": st.status,
      tabindex: 0,
      role: "button",
      // Its name is its <title> (name, type, status, timing): no aria-label that would differ
      // from the words it shows (WCAG 2.5.3, label in name).
    },
    svg("title", {}, title),
    svg("rect", { x, y, width: pos.width, height: pos.height }),
    svg("text", { x: x + 10, y: y + 18 }, n.name),
    svg(
      "text",
      { class: "type", x: x + pos.width - 8, y: y + 13, "text-anchor": "end" },
      n.iterates ? "map" : n.type,
    ),
    svg("text", { class: "sub", x: x + 10, y: y + 38 }, cut(subLine(n, st), SUB_CHARS)),
  );
  return node;
}

/**
 * Makes a drawn graph's states selectable: click, Enter or Space on a state calls
 * `onSelect(name)`. One listener per kind on the graph's root, so a graph local mode's server
 * drew (first-paint.ts) is made live as it is, without being drawn again.
 * @param {Element} root the `<svg>` (or, without dagre, the `<ol>`) renderGraph returned
 * @param {(name: string) => void} [onSelect]
 */
export function livenGraph(root, onSelect) {
  const stateOf = (ev) => ev.target.closest?.("[data-state]")?.dataset.state;
  root.addEventListener("click", (ev) => {
    const name = stateOf(ev);
    if (name) onSelect?.(name);
  });
  root.addEventListener("keydown", (ev) => {
    const name = (ev.key === "Enter" || ev.key === " ") && root.tagName !== "OL" ? stateOf(ev) : undefined;
    if (!name) return;
    ev.preventDefault();
    onSelect?.(name);
  });
  return root;
}

/**
 * Draws the graph. `onSelect(name)` is called when a state is clicked or chosen with Enter.
 * @returns {Element}
 */
export function renderGraph(graph, statuses, onSelect) {
  const g = layout(globalThis.dagre, graph);
  if (!g) return renderList(graph, statuses, onSelect);
  const root = canvas(g);
  root.append(...edges(g, statuses));
  for (const n of graph.nodes) root.append(stateNode(n, statuses.get(n.name), g.nodes[n.name]));
  return livenGraph(root, onSelect);
}

/** Without dagre: the states in definition order, each with its status. */
function renderList(graph, statuses, onSelect) {
  const ol = document.createElement("ol");
  ol.className = "graph-list";
  for (const n of graph.nodes) {
    const st = statuses.get(n.name);
    const li = document.createElement("li");
    li.dataset.state = n.name;
    li.dataset.status = st.status;
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = `${n.name} (${n.type}) — ${subLine(n, st)}`;
    li.append(b);
    ol.append(li);
  }
  return livenGraph(ol, onSelect);
}
