/**
 * The console's first paint, drawn by local mode's server: `/runs/<id>` (a run page, also
 * `/runs/<id>/<state>[/<target>]`) and `/runs` (the runs list) answer index.html with the page
 * already in `<main>`, built by the console's own view builders (views/run-page.js,
 * views/runs-list.js, run here on server-dom.ts's DOM), and the API answers it was drawn from
 * inlined as `<script type="application/json" id="reflex-inline">` (data, never run). The page
 * is on screen when the HTML is parsed, before any module has loaded; then boot.js turns the
 * address into the console's own (`/#/runs/<id>`), the modules load, take the inlined answers
 * instead of asking again (lib/api.js), and draw the page live over it (buttons, polling).
 *
 * Who sees what does not change: the server asks its own API for the data, with the navigation's
 * headers, through the same authorizer (`reflex start --sso`) and handler as any API request, so
 * a page carries only what that caller would have been answered; refused, the page is the
 * console's shell, as at `/`. Deployed, the console is static files on S3 and has no such path.
 */
import { createRequire } from "node:module";
import { must } from "@reflex/core";
import { consoleAsset } from "./dashboard.ts";

/** What a path of the console's own asks the server to draw, or undefined. */
export type ConsolePage =
  | { view: "run"; id: string; hash: string; state?: string; target?: string }
  | { view: "runs"; hash: string; filters: Record<string, string> };

/**
 * `/runs` and `/runs/<id>…`: the pages the server draws. The list's filters in the query
 * (`/runs?status=…&text=…`, views/runs-list.js FILTERS) are drawn set, and boot.js moves them
 * into the console's route (`/#/runs?text=…`), where the list reads them.
 */
export async function consolePage(path: string, query?: URLSearchParams): Promise<ConsolePage | undefined> {
  if (path === "/runs" || path === "/runs/") {
    const [, , runsList] = await loadViews();
    const filters = runsList.filtersFrom(query);
    const named = new URLSearchParams(filters).toString();
    return { view: "runs", hash: `#/runs${named ? `?${named}` : ""}`, filters };
  }
  const m = /^\/runs\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?\/?$/.exec(path);
  if (!m) return undefined;
  try {
    // A step (and a Map iteration) deep link: drawn as the console draws it (that iteration shown).
    const [id, state, target] = m.slice(1).map((p) => (p === undefined ? undefined : decodeURIComponent(p)));
    return { view: "run", id: id as string, hash: `#${path}`, state, target };
  } catch {
    return undefined;
  }
}

/** The API requests a page is drawn from (the same paths the console's first request takes). */
export function pageRequests(page: ConsolePage): string[] {
  return page.view === "run"
    ? [`/api/executions/${encodeURIComponent(page.id)}`]
    : ["/api/executions?limit=100", "/api/runbooks"];
}

/** An API answer as the page gets it inlined. */
export interface InlineAnswer {
  status: number;
  etag?: string;
  body: unknown;
}

interface RunPageModule {
  frame(id: string): { el: Record<string, unknown>; page: unknown };
  runParts(
    run: unknown,
    def: { stateMachine?: unknown; missing?: string },
    opts: { link: { state?: string; target?: string } },
  ): Record<string, [string, () => unknown]>;
  drawParts(el: Record<string, unknown>, parts: Record<string, [string, () => unknown]>): void;
}
interface RunsListModule {
  filtersFrom(query: URLSearchParams | undefined): Record<string, string>;
  runMatches(filters: Record<string, unknown>, run: unknown): boolean;
  frame(names: string[], filters: Record<string, unknown>, setFilter: () => void): unknown;
  drawList(
    target: unknown,
    res: InlineAnswer,
    opts: {
      filters: Record<string, unknown>;
      rowOf: (run: unknown) => unknown;
      matches: (run: unknown) => boolean;
      more: () => void;
      origin: string;
    },
  ): void;
  runRow(run: unknown): unknown;
}

const VIEWS = new URL("./console/views/", import.meta.url);
let modules: Promise<[unknown, RunPageModule, RunsListModule, typeof import("./server-dom.ts")]> | undefined;
/**
 * The view builders (none of them reads a page at load), loaded when the console is first asked
 * for (server.ts), so the first page drawn does not wait for them; never by a process that
 * serves no console.
 */
export function loadViews() {
  modules ??= Promise.all([
    dagreModule(),
    import(new URL("run-page.js", VIEWS).href) as Promise<RunPageModule>,
    import(new URL("runs-list.js", VIEWS).href) as Promise<RunsListModule>,
    import("./server-dom.ts"),
  ]);
  return modules;
}

let dagre: unknown;
/** dagre (a dev dependency, as for the browser's graph): without it the states are listed. */
function dagreModule(): unknown {
  if (dagre === undefined) {
    try {
      dagre = createRequire(import.meta.url)("@dagrejs/dagre");
    } catch {
      dagre = null;
    }
  }
  return dagre ?? undefined;
}

/** `<main>`'s content for `page`, from its answers; "" when there is nothing to draw (refused, not found). */
async function mainHtml(page: ConsolePage, answers: Record<string, InlineAnswer>, origin: string) {
  const [dagre, runPage, runsList, dom] = await loadViews();
  const [first, second] = pageRequests(page).map((p) => answers[p]);
  if (first?.status !== 200) return "";
  return dom.withServerDom({ dagre }, () => {
    if (page.view === "run") {
      const run = first.body as { id: string; stateMachine?: unknown };
      const { el, page: built } = runPage.frame(run.id);
      const def = run.stateMachine
        ? { stateMachine: run.stateMachine }
        : { missing: "its runbook is not registered here" };
      // Each part with the key of what it was drawn from (`data-drawn`): the modules keep a part
      // whose key is theirs. The buttons depend on who the person is: the modules draw them.
      runPage.drawParts(el, runPage.runParts(run, def, { link: { state: page.state, target: page.target } }));
      return dom.toHtml(built);
    }
    // The filters the address named, as the console's list sets them from its route (views/runs.js).
    const filters = { status: "", runbook: "", trigger: "", text: "", limit: 100, ...page.filters };
    const names =
      second?.status === 200
        ? ((second.body as { runbooks?: Array<{ name: string }> }).runbooks ?? []).map((r) => r.name)
        : [];
    const built = runsList.frame(names, filters, () => {});
    const root = dom.serverDocument.createElement("div");
    root.append(...flatNodes(built));
    const target = root.querySelector("#runs-body");
    runsList.drawList(target, first, {
      filters,
      rowOf: runsList.runRow,
      matches: (run) => runsList.runMatches(filters, run),
      more: () => {},
      origin,
    });
    return dom.toHtml(built);
  });

  function flatNodes(built: unknown): Array<InstanceType<typeof dom.ServerNode> | string> {
    if (built === undefined || built === null || built === false || built === "") return [];
    if (Array.isArray(built)) return built.flatMap(flatNodes);
    return built instanceof dom.ServerNode ? [built] : [String(built)];
  }
}

/** console.css, as it goes inside `<style>` (it holds no `</style>`: checked, not assumed). */
function css(): string {
  const sheet = must(consoleAsset("/console/console.css"), "console.css").body;
  if (/<\/style/i.test(sheet)) throw new Error("console.css holds </style>: it cannot go inside <style>");
  return sheet;
}

/** JSON inside `<script type="application/json">`: no `<` (so no `</script>`), the same value. */
const scriptJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");

/**
 * index.html as the first paint of `page`: `<main>` drawn from `answers` (the API's answers to
 * {@link pageRequests}, for this caller; none when it was refused), those answers inlined for the
 * modules, the console's files addressed from the root (the page is at `/runs/…`).
 */
export async function firstPaintHtml(
  index: string,
  page: ConsolePage,
  answers: Record<string, InlineAnswer>,
  origin: string,
): Promise<string> {
  const main = await mainHtml(page, answers, origin);
  const inline = Object.keys(answers);
  // Replaced by functions, never by replacement strings: the data may hold "$&", "$$"…
  const put = (html: string, at: string | RegExp, text: (found: string) => string) =>
    html.replace(at, (found) => text(found));
  const paths = inline.join(" ").replace(/&/g, "&amp;").replace(/"/g, "&quot;");
  let html = index.replace(/(src|href)="console\//g, (_, attr) => `${attr}="/console/`);
  // Nothing in <head> holds the first paint back: the stylesheet comes in the page (a fetch, or
  // for a tab beside an open console a revalidation, before anything could be painted), and
  // boot.js runs once the page is parsed (deferred; before console.js, in document order) instead
  // of stopping the parser before <main>: this page's data is in it, so boot.js asks for none early.
  html = put(html, '<link rel="stylesheet" href="/console/console.css">', () => `<style>${css()}</style>`);
  html = put(html, '<script src="/console/boot.js">', () => '<script defer src="/console/boot.js">');
  html = put(
    html,
    "<title>Reflex console</title>",
    () => `<title>${page.view === "run" ? "Run" : "Runs"} · Reflex</title>`,
  );
  html = put(html, 'data-nav="runs">', () => 'data-nav="runs" aria-current="page">');
  if (inline.length)
    html = put(
      html,
      '<script defer src="/console/boot.js">',
      (boot) => `<meta name="reflex-inline" content="${paths}">\n${boot}`,
    );
  // `data-first-paint`: the modules take this page over as it is (views/run.js, views/runs.js).
  if (main)
    html = html.replace(
      /<main id="main"([^>]*)>[\s\S]*?<\/main>/,
      (_, attrs) => `<main id="main"${attrs} data-first-paint>${main}</main>`,
    );
  // The modules start once the page's first frame is out: boot.js adds their script then, and
  // their preloads (inert in a <template> until then: the parser's preload scanner took 7 ms of
  // the thread before the frame in a trace, and their fetches shared the loopback with the page).
  if (inline.length) html = put(html, '<script type="module" src="/console/console.js"></script>', () => "");
  if (inline.length)
    html = html.replace(
      /(?:<link rel="modulepreload"[^>]*>\n?)+/,
      (links) => `<template id="reflex-preload">${links}</template>\n`,
    );
  if (inline.length)
    html = put(
      html,
      "</body>",
      (end) => `<script type="application/json" id="reflex-inline">${scriptJson(answers)}</script>\n${end}`,
    );
  return html;
}
