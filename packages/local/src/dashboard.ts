/**
 * The on-call console: static HTML, CSS and browser JavaScript under `./console/`, read once
 * when this module loads and served as they are — no build step, no network at run time. The
 * page only talks to the JSON API (base URL configurable in the page), so the same files can
 * later be hosted as a static site in front of the deployed API.
 *
 * The run graph is laid out by dagre's prebuilt browser bundle, served from node_modules. It is
 * a dev dependency: when it is absent the console still works and shows the states as a list.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { must } from "@reflex/core";

export interface ConsoleAsset {
  body: string;
  contentType: string;
  /** A strong ETag of the body (set when served by local mode). */
  etag?: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
};

function dagreBundle(): string {
  try {
    const entry = createRequire(import.meta.url).resolve("@dagrejs/dagre");
    return readFileSync(join(dirname(entry), "dagre.min.js"), "utf8").replace(
      /\n\/\/# sourceMappingURL=.*$/m,
      "",
    );
  } catch {
    return "/* @dagrejs/dagre is not installed: the console lists the states instead of drawing them. */\n";
  }
}

/** oauth4webapi's browser build (one ES module, no imports), for auth.js's sign-in. */
function oauthBundle(): string {
  const entry = createRequire(import.meta.url).resolve("oauth4webapi");
  return readFileSync(entry, "utf8").replace(/\n\/\/# sourceMappingURL=.*$/m, "");
}

function load(): Map<string, ConsoleAsset> {
  const file = (name: string): ConsoleAsset => ({
    body: readFileSync(join(here, "console", name), "utf8"),
    contentType: TYPES[must(name.split(".").pop(), 'name.split(".").pop()')],
  });
  const index = file("index.html");
  const assets = new Map<string, ConsoleAsset>([
    ["/", index],
    ["/index.html", index],
  ]);
  // The stylesheet and every browser module (one a view, under views/ and lib/); not the
  // modules' types, tests or tsconfig.
  const served = readdirSync(join(here, "console"), { recursive: true, encoding: "utf8" })
    .map((name) => name.split(sep).join("/"))
    .filter((name) => /\.(js|css)$/.test(name))
    .sort();
  for (const name of served) assets.set(`/console/${name}`, file(name));
  index.body = withModulePreloads(index.body, assets);
  assets.set("/console/dagre.min.js", { body: dagreBundle(), contentType: TYPES.js });
  assets.set("/console/oauth4webapi.js", { body: oauthBundle(), contentType: TYPES.js });
  for (const asset of new Set(assets.values()))
    asset.etag = `"${createHash("sha256").update(asset.body).digest("base64url").slice(0, 22)}"`;
  return assets;
}

/** Where index.html takes its generated `<link rel="modulepreload">` lines. */
const PRELOADS = "<!-- modulepreload -->";

/**
 * index.html with a `<link rel="modulepreload">` for every module the page's module script
 * imports, directly or not (static `import … from "…"` lines, followed from the entry), so the
 * browser asks for them all at once instead of learning of each import only when the module
 * that makes it has arrived. Generated from the files, so a module split off a view is preloaded
 * without anyone listing it.
 */
function withModulePreloads(html: string, files: ReadonlyMap<string, ConsoleAsset>): string {
  const entry = html.match(/<script type="module" src="([^"]+)">/)?.[1];
  if (!entry || !html.includes(PRELOADS)) return html;
  const found: string[] = [];
  const visit = (path: string) => {
    if (found.includes(path) || !files.has(path)) return;
    found.push(path);
    const body = files.get(path)?.body ?? "";
    for (const [, spec] of body.matchAll(/^import\s[^"']*["'](\.{1,2}\/[^"']+)["']/gm))
      visit(new URL(spec, `http://console${path}`).pathname);
  };
  visit(`/${entry}`);
  const links = found.map((path) => `<link rel="modulepreload" href="${path.slice(1)}">`).join("\n");
  return html.replace(PRELOADS, links);
}

let assets: Map<string, ConsoleAsset> | undefined;

/** The console file served at `path` (`/`, `/index.html`, `/console/*`), or undefined. */
export function consoleAsset(path: string): ConsoleAsset | undefined {
  assets ??= load();
  return assets.get(path);
}

/** Every console file by path (for the page-weight figure). */
export function consoleAssets(): ReadonlyMap<string, ConsoleAsset> {
  assets ??= load();
  return assets;
}
