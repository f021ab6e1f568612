/**
 * The console's modules as served: every import a module makes is a file the server serves
 * (a view split into a new file cannot be left out), and index.html preloads every module, so
 * none waits for the module that imports it to arrive first.
 */
import { describe, expect, it } from "vitest";
import { consoleAssets } from "../dashboard.ts";

const assets = consoleAssets();
// boot.js is a classic script; dagre and oauth4webapi are vendored libraries loaded on demand
// (oauth4webapi only when sign-in is on), so a page without them never fetches them.
const modules = [...assets.keys()].filter(
  (p) =>
    p.endsWith(".js") &&
    !["/console/boot.js", "/console/dagre.min.js", "/console/oauth4webapi.js"].includes(p),
);

describe("the console's modules", () => {
  it("import only files the server serves", () => {
    const missing: string[] = [];
    let imports = 0;
    for (const path of modules) {
      const body = assets.get(path)?.body ?? "";
      for (const [, spec] of body.matchAll(/^import\s[^"']*["']([^"']+)["']/gm)) {
        imports++;
        const url = new URL(spec, `http://console${path}`).pathname;
        if (!assets.has(url)) missing.push(`${path} imports ${spec}`);
      }
    }
    expect(imports).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });

  it("are all preloaded by index.html", () => {
    const html = assets.get("/index.html")?.body ?? "";
    const preloaded = [...html.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map(
      ([, href]) => `/${href}`,
    );
    expect(preloaded.sort()).toEqual([...modules].sort());
  });
});
