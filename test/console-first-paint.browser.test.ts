/**
 * The console's first paint from local mode's server (first-paint.ts): `/runs/<id>` and `/runs`
 * answer with the page drawn in the HTML by the console's own view builders and the API answers
 * it was drawn from inlined, so the content is on screen before any module loads; the modules
 * then take over the page (buttons, polling) without asking for those answers again. One local
 * mode and one browser for the file.
 */
import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { launchChromium } from "./support/browser.ts";
import { runAndWait, startTestLocal } from "./support/local.ts";
import { storeMapRun } from "./support/map-run.ts";

let local: LocalMode;
let browser: Browser;
let run: { id: string; status: string };
beforeAll(async () => {
  local = await startTestLocal();
  browser = await launchChromium();
  run = await runAndWait(local, "backup-snapshot", { selector: { tag: { Backup: "daily" } } });
});
afterAll(async () => {
  await browser?.close();
  await local?.stop();
});

/** The JSON inlined in a page, by API path. */
const inlined = (html: string) =>
  JSON.parse(
    /<script type="application\/json" id="reflex-inline">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? "{}",
  ) as Record<string, { status: number; etag?: string; body: unknown }>;

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** axe-core's serious and critical violations on the page as it is (as console.a11y's). */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  const found = (await page.evaluate(
    "window.axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) })))",
  )) as Array<{ id: string; impact: string; nodes: string[] }>;
  return found
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 5).join(", ")}`);
}

/** A page with every console module refused: what it shows is the server's HTML alone. */
async function withoutModules(path: string): Promise<Page> {
  // bypassCSP: axe-core goes in as an inline script, which the page's CSP (script-src 'self') refuses.
  const page = await browser.newPage({ bypassCSP: true });
  await page.route(/\/console\/.*\.js$/, (route) => route.abort());
  await page.goto(`${local.url}${path}`);
  return page;
}

/**
 * Installed before the page: once the HTML is parsed (before the modules start, after the first
 * frame), notes nodes the server drew and counts the elements removed from `<main>` from then on.
 */
const NOTE_DRAWN = `(() => {
  window.__removed = 0;
  document.addEventListener("DOMContentLoaded", () => {
    const main = document.getElementById("main");
    const found = {
      heading: main.querySelector("h2"),
      graph: main.querySelector("#graph svg"),
      target: main.querySelector("#targets tbody tr"),
      steps: main.querySelector("#state-SnapshotTargets"),
      audit: main.querySelector("#audit"),
      form: main.querySelector("form.filters"),
      row: main.querySelector("#runs tbody tr"),
    };
    window.__drawn = Object.fromEntries(Object.entries(found).filter(([, el]) => el));
    new MutationObserver((records) => {
      for (const r of records)
        for (const n of r.removedNodes) if (n.nodeType === 1) window.__removed += 1 + n.querySelectorAll("*").length;
    }).observe(main, { childList: true, subtree: true });
  });
})();`;
/** Whether each node NOTE_DRAWN noted is still in the page. */
/**
 * A new page for counting a test's own requests: the console polls only a tab on screen, and
 * this one says it is hidden once `quiet()` is called (after it is live). `asked`: the API
 * requests it sends whose path starts with one of `prefixes`, as `path?query`.
 */
async function quietPage(prefixes: string[]) {
  const page = await browser.newPage();
  await page.addInitScript({
    content: `Object.defineProperty(Document.prototype, "hidden", { get: () => Boolean(window.__hidden) });`,
  });
  const asked: string[] = [];
  page.on("request", (r) => {
    const url = new URL(r.url());
    if (prefixes.some((p) => url.pathname.startsWith(p))) asked.push(`${url.pathname}${url.search}`);
  });
  return { page, asked, quiet: () => page.evaluate("window.__hidden = true") };
}

const DRAWN_STILL_THERE =
  "Object.fromEntries(Object.entries(window.__drawn).map(([k, el]) => [k, el.isConnected]))";

describe("the console's first paint (local mode)", () => {
  it("a run page's HTML carries the run as the API answers it, drawn: graph, targets, steps", async () => {
    const res = await fetch(`${local.url}/runs/${run.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    const answer = await fetch(`${local.url}/api/executions/${run.id}`);
    const data = inlined(html)[`/api/executions/${run.id}`];
    expect(data.status).toBe(200);
    expect(data.body).toEqual(await answer.json());
    expect(data.etag).toBe(answer.headers.get("etag"));
    // Data, never run: no "<" in it, so no "</script>" ends it early.
    expect(/id="reflex-inline">([\s\S]*?)<\/script>/.exec(html)?.[1]).not.toContain("<");
    expect(html).toContain('data-state="Report"');
    expect(html).toContain('<table id="targets">');
    expect(html).toContain('id="state-SnapshotTargets"');
    expect(html).toContain("<title>Run · Reflex</title>");
  });

  it("writes a run's text as text: markup in a param is neither markup in the page nor the end of its data", async () => {
    const markup = '</script><img src=x onerror="alert(1)">';
    const dry = await runAndWait(local, "backup-snapshot", { selector: { tag: { Backup: markup } } }, true);
    const html = await (await fetch(`${local.url}/runs/${dry.id}`)).text();
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;/script&gt;&lt;img src=x onerror=");
    const data = inlined(html)[`/api/executions/${dry.id}`].body as {
      params: { selector: { tag: { Backup: string } } };
    };
    expect(data.params).toEqual(dry.params);
    expect(data.params.selector.tag.Backup).toBe(markup);
  });

  it("shows a run page and the runs list with no module loaded, and no axe-core violation there", async () => {
    const page = await withoutModules(`/runs/${run.id}`);
    try {
      await page.locator("#graph svg [data-state=Report]").waitFor();
      await expect.poll(() => page.locator("#targets tbody tr").count()).toBeGreaterThan(0);
      expect(await page.locator("#run-status").textContent()).toContain("succeeded");
      expect(await seriousViolations(page)).toEqual([]);
      await page.goto(`${local.url}/runs`);
      await page.locator(`#runs tbody tr[data-execution="${run.id}"]`).waitFor();
      expect(await page.title()).toBe("Runs · Reflex");
      expect(await seriousViolations(page)).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("paints from its HTML alone: styled with every console file refused, nothing in <head> to wait for, the modules only after the first frame", async () => {
    const html = await (await fetch(`${local.url}/runs/${run.id}`)).text();
    const head = /<head>([\s\S]*?)<\/head>/.exec(html)?.[1] ?? "";
    // No stylesheet to fetch, no script that stops the parser; the modules' script is not in the page.
    expect(head).not.toMatch(/<link rel="stylesheet"/);
    for (const script of head.match(/<script[^>]*>/g) ?? [])
      expect(script).toMatch(/ defer|type="application\/json"/);
    expect(html).not.toContain('<script type="module"');
    // The modules' preloads come inert (a <template>), added by boot.js after the first frame.
    expect(head.replace(/<template id="reflex-preload">[\s\S]*?<\/template>/, "")).not.toContain(
      "modulepreload",
    );
    expect(head).toMatch(/<template id="reflex-preload">\s*<link rel="modulepreload"/);

    const page = await browser.newPage();
    // Frames counted from the start; the count when the content, then the modules' script, was in the page.
    await page.addInitScript({
      content: `(() => {
        window.__frames = 0;
        const count = () => { window.__frames++; requestAnimationFrame(count); };
        requestAnimationFrame(count);
        new MutationObserver(() => {
          if (window.__framesAtContent === undefined && document.querySelector("#graph svg"))
            window.__framesAtContent = window.__frames;
          if (window.__framesAtModules === undefined && document.querySelector('script[type="module"]'))
            window.__framesAtModules = window.__frames;
        }).observe(document, { childList: true, subtree: true });
      })();`,
    });
    try {
      await page.goto(`${local.url}/runs/${run.id}`);
      await page.getByRole("button", { name: "↻ Re-run" }).waitFor();
      // A frame went out with the content before the modules' script was in the page.
      const [content, modules] = (await page.evaluate(
        "[window.__framesAtContent, window.__framesAtModules]",
      )) as number[];
      expect(modules).toBeGreaterThan(content);
      await page.route(/\/console\//, (route) => route.abort());
      await page.goto(`${local.url}/runs/${run.id}`);
      await page.locator("#graph svg [data-state=Report]").waitFor();
      // console.css's `.top` (the header bar) is a flex row: the styles came in the page.
      expect(
        await page
          .locator("header.top")
          .evaluate(
            (e) =>
              (
                globalThis as unknown as { getComputedStyle(e: unknown): { display: string } }
              ).getComputedStyle(e).display,
          ),
      ).toBe("flex");
    } finally {
      await page.close();
    }
  });

  it("is taken over by the modules: the console's address, the buttons, no second request for the run", async () => {
    const page = await browser.newPage();
    const answered: string[] = [];
    page.on("response", (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith("/api/executions")) answered.push(`${url.pathname} ${r.status()}`);
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    try {
      await page.goto(`${local.url}/runs/${run.id}`);
      // The address becomes the console's own once the first frame is out (boot.js).
      await expect.poll(() => new URL(page.url()).pathname).toBe("/");
      expect(new URL(page.url()).hash).toBe(`#/runs/${run.id}`);
      // The button is the modules' (the server draws none): the page is live.
      await page.getByRole("button", { name: "↻ Re-run" }).waitFor();
      await expect.poll(() => page.locator("#reflex-inline").count()).toBe(0);
      // The run's first poll asks "changed since?" with the inlined answer's ETag: not modified.
      await expect.poll(() => answered.length, { timeout: 10_000 }).toBeGreaterThan(0);
      expect(answered[0]).toBe(`/api/executions/${encodeURIComponent(run.id)} 304`);
      // A link on the drawn page goes where the console's own would.
      await page.getByRole("link", { name: "← All runs" }).click();
      await page.locator(`#runs tbody tr[data-execution="${run.id}"]`).waitFor();
      expect(new URL(page.url()).hash).toBe("#/runs");
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("is taken over as drawn: the server's nodes stay (none removed), the graph and the steps are live on them", async () => {
    const page = await browser.newPage();
    await page.addInitScript({ content: NOTE_DRAWN });
    try {
      await page.goto(`${local.url}/runs/${run.id}`);
      await page.locator("body[data-live]").waitFor({ state: "attached" });
      await page.getByRole("button", { name: "↻ Re-run" }).waitFor();
      expect(await page.evaluate(DRAWN_STILL_THERE)).toEqual({
        heading: true,
        graph: true,
        target: true,
        steps: true,
        audit: true,
      });
      expect(await page.evaluate("window.__removed")).toBe(0);
      // The server's graph answers a click: the state's records open, the address names it.
      await page.locator("#graph [data-state=SnapshotTargets]").click();
      await expect.poll(() => page.locator("#state-SnapshotTargets").getAttribute("open")).toBe("");
      expect(new URL(page.url()).hash).toBe(`#/runs/${run.id}/SnapshotTargets`);
      // The server's iterations open into their own state machine.
      await page.locator("#state-SnapshotTargets details[data-iteration] > summary").first().click();
      await page.locator("#state-SnapshotTargets [data-iteration-graph] svg").first().waitFor();
      expect(await page.evaluate("window.__removed")).toBe(0);
    } finally {
      await page.close();
    }
  });

  it("the runs list is taken over as drawn: its rows stay, its filters work on the server's form", async () => {
    const page = await browser.newPage();
    await page.addInitScript({ content: NOTE_DRAWN });
    try {
      await page.goto(`${local.url}/runs`);
      await page.locator("body[data-live]").waitFor({ state: "attached" });
      expect(await page.evaluate(DRAWN_STILL_THERE)).toEqual({ heading: true, form: true, row: true });
      expect(await page.evaluate("window.__removed")).toBe(0);
      const row = page.locator(`#runs tbody tr[data-execution="${run.id}"]`);
      await page.locator('select[name="status"]').selectOption("FAILED");
      await row.waitFor({ state: "detached" });
      await page.locator('select[name="status"]').selectOption("");
      await page.locator('input[name="text"]').fill(run.id);
      await row.waitFor();
      expect(await page.locator("#runs tbody tr").count()).toBe(1);
    } finally {
      await page.close();
    }
  });

  it("keeps a filter chosen on the drawn list before the modules came, and applies it", async () => {
    const page = await browser.newPage();
    // The modules' entry is held until the person has chosen a filter on the server's form.
    let release = () => {};
    const chosen = new Promise<void>((done) => {
      release = done;
    });
    await page.route(/\/console\/console\.js$/, async (route) => {
      await chosen;
      await route.continue();
    });
    try {
      await page.goto(`${local.url}/runs`);
      const row = page.locator(`#runs tbody tr[data-execution="${run.id}"]`);
      await row.waitFor();
      await page.locator('select[name="status"]').selectOption("FAILED");
      release();
      await page.locator("body[data-live]").waitFor({ state: "attached" });
      await row.waitFor({ state: "detached" });
      expect(await page.locator('select[name="status"]').inputValue()).toBe("FAILED");
    } finally {
      await page.close();
    }
  });

  it("draws `/runs?status=…&text=…` filtered: the form set as the address says, only the runs that match", async () => {
    const html = await (
      await fetch(`${local.url}/runs?status=SUCCEEDED&text=${encodeURIComponent(run.id)}`)
    ).text();
    const main = /<main[^>]*>([\s\S]*?)<\/main>/.exec(html)?.[1] ?? "";
    expect(main).toMatch(new RegExp(`<input[^>]* name="text"[^>]* value="${run.id}"`));
    expect(main).toMatch(/<option value="SUCCEEDED" selected/);
    expect(main.match(/<tr data-execution=/g)).toHaveLength(1);
    expect(main).toContain(`data-execution="${run.id}"`);
    const none = await (
      await fetch(`${local.url}/runs?status=FAILED&text=${encodeURIComponent(run.id)}`)
    ).text();
    expect(none).not.toContain("<tr data-execution=");
    expect(none).toContain("No run matches these filters.");
    // A runbook the address names that is not registered is still what the form says it filters by.
    const gone = await (await fetch(`${local.url}/runs?runbook=gone-runbook`)).text();
    expect(gone).toContain('<option value="gone-runbook" selected>');
    expect(gone).toContain("No run matches these filters.");
  });

  it("keeps a first-painted `/runs?…` filter when taken over and on reload: the address carries it in the console's route", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(
        `${local.url}/runs?status=FAILED&text=${encodeURIComponent(run.id)}&api=${encodeURIComponent(local.url)}`,
      );
      await page.locator("body[data-live]").waitFor({ state: "attached" });
      // The filters go into the console's route; `?api=` stays where boot.js reads it.
      await expect.poll(() => new URL(page.url()).pathname).toBe("/");
      const url = new URL(page.url());
      expect(url.search).toBe(`?api=${encodeURIComponent(local.url)}`);
      expect(url.hash).toBe(`#/runs?status=FAILED&text=${encodeURIComponent(run.id)}`);
      const row = page.locator(`#runs tbody tr[data-execution="${run.id}"]`);
      await page.getByText("No run matches these filters.").waitFor();
      expect(await page.locator('select[name="status"]').inputValue()).toBe("FAILED");
      expect(await page.locator('input[name="text"]').inputValue()).toBe(run.id);
      // Drawn by the modules from the address alone (no first paint at `/`): the same filters.
      await page.reload();
      await page.getByText("No run matches these filters.").waitFor();
      expect(await page.locator('select[name="status"]').inputValue()).toBe("FAILED");
      expect(await page.locator('input[name="text"]').inputValue()).toBe(run.id);
      // And they are live: the status cleared, the text still applies.
      await page.locator('select[name="status"]').selectOption("");
      await row.waitFor();
      expect(await page.locator("#runs tbody tr").count()).toBe(1);
    } finally {
      await page.close();
    }
  });

  it("a deep link to a Map iteration past the first 50 is drawn by the server as the console draws it, and opened when taken over", async () => {
    const target = `i-${String(55).padStart(17, "0")}`;
    await storeMapRun(run as unknown as Parameters<typeof storeMapRun>[0], "first-paint-map", 60);
    const page = await browser.newPage();
    await page.addInitScript({ content: NOTE_DRAWN });
    try {
      await page.goto(`${local.url}/runs/first-paint-map/SnapshotTargets/${target}`);
      await page.locator("body[data-live]").waitFor({ state: "attached" });
      const iteration = page.locator(`#state-SnapshotTargets details[data-iteration="${target}"]`);
      await expect.poll(() => iteration.getAttribute("open")).toBe("");
      await iteration.locator("[data-iteration-graph] svg").waitFor();
      expect(await page.evaluate("window.__removed")).toBe(0);
    } finally {
      await page.close();
    }
  });

  it("moves inside the console by its links: one request per page, the list's rows kept coming back, back and forward still work", async () => {
    const { page, asked, quiet } = await quietPage(["/api/executions", "/api/runbooks"]);
    try {
      await page.goto(`${local.url}/runs`);
      await page.locator("body[data-live]").waitFor({ state: "attached" });
      await quiet();
      const row = `#runs tbody tr[data-execution="${run.id}"]`;
      await page.locator(row).evaluate((tr) => {
        (tr as unknown as { dataset: Record<string, string> }).dataset.noted = "";
      });
      asked.length = 0;
      await page.locator(`${row} a[href^="#/runs/"]`).click();
      await page.locator("#graph svg [data-state=Report]").waitFor();
      await page.locator("main:not([aria-busy])").waitFor({ state: "attached" });
      expect(new URL(page.url()).hash).toBe(`#/runs/${run.id}`);
      expect(asked).toEqual([`/api/executions/${run.id}`]);
      asked.length = 0;
      await page.getByRole("link", { name: "← All runs" }).click();
      // The same row node, back in place: the list was not drawn again.
      await page.locator(`${row}[data-noted]`).waitFor();
      expect(asked).toEqual(["/api/executions?limit=100"]);
      await page.goBack();
      await page.locator("#graph svg [data-state=Report]").waitFor();
      expect(new URL(page.url()).hash).toBe(`#/runs/${run.id}`);
      await page.goForward();
      await page.locator(`${row}[data-noted]`).waitFor();
      expect(new URL(page.url()).hash).toBe("#/runs");
    } finally {
      await page.close();
    }
  });

  it("asks for a page's data when its link is pressed (a run page, the list), and the page takes that answer; a press that ends in no click is not taken later", async () => {
    const { page, asked, quiet } = await quietPage(["/api/executions"]);
    try {
      await page.goto(`${local.url}/runs`);
      await page.locator("body[data-live]").waitFor({ state: "attached" });
      await quiet();
      const link = page.locator(`#runs tbody tr[data-execution="${run.id}"] a[href^="#/runs/"]`);
      const box = await link.boundingBox();
      if (!box) throw new Error("the run's link is not on screen");
      asked.length = 0;
      // Pressed, not yet released: the request is already out, the page not yet moved.
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await expect.poll(() => asked).toEqual([`/api/executions/${run.id}`]);
      expect(new URL(page.url()).hash).toBe("#/runs");
      await page.mouse.up();
      await page.locator("#graph svg [data-state=Report]").waitFor();
      await page.locator("main:not([aria-busy])").waitFor({ state: "attached" });
      // One request: the page took the answer its press asked for.
      expect(asked).toEqual([`/api/executions/${run.id}`]);

      // The list's link, pressed: the list's request goes out before the release, and is the one.
      const back = await page.getByRole("link", { name: "← All runs" }).boundingBox();
      if (!back) throw new Error("the link back to the runs is not on screen");
      asked.length = 0;
      await page.mouse.move(back.x + back.width / 2, back.y + back.height / 2);
      await page.mouse.down();
      await expect.poll(() => asked).toEqual(["/api/executions?limit=100"]);
      await page.mouse.up();
      await page.locator(`#runs tbody tr[data-execution="${run.id}"]`).waitFor();
      await page.locator("main:not([aria-busy])").waitFor({ state: "attached" });
      expect(asked).toEqual(["/api/executions?limit=100"]);

      // Back on the list, a press that is dragged off the link and released elsewhere: no page,
      // and its answer, asked more than a second before the next click, is not the page's.
      const again = await link.boundingBox();
      if (!again) throw new Error("the run's link is not on screen");
      asked.length = 0;
      await page.mouse.move(again.x + again.width / 2, again.y + again.height / 2);
      await page.mouse.down();
      await page.mouse.move(5, 5);
      await page.mouse.up();
      await expect.poll(() => asked).toEqual([`/api/executions/${run.id}`]);
      expect(new URL(page.url()).hash).toBe("#/runs");
      // More than the prefetch's second, by the page's own clock (not a sleep of the test's).
      await page.evaluate(
        "new Promise((r) => { const t0 = performance.now(); const f = () => (performance.now() - t0 > 1100 ? r() : setTimeout(f, 50)); f(); })",
      );
      await link.click();
      await page.locator("#graph svg [data-state=Report]").waitFor();
      expect(asked).toEqual([`/api/executions/${run.id}`, `/api/executions/${run.id}`]);
    } finally {
      await page.close();
    }
  });

  it("asks once for many presses on one link (a press dragged off, a touch that scrolls), a crafted link asks only the API path its view would, or nothing, and a press as one person is not the page of another", async () => {
    const page = await browser.newPage();
    // Every API request the page makes, counted as it is made (fetch called), not as it arrives.
    await page.addInitScript({
      content: `window.__asked = []; const f = window.fetch; window.fetch = (u, o) => (window.__asked.push({ url: String(u), actor: o?.headers?.["x-reflex-actor"] ?? "" }), f(u, o));`,
    });
    try {
      await page.goto(`${local.url}/runs`);
      await page.locator("body[data-live]").waitFor({ state: "attached" });
      // Ten presses on the run's link in one task (well within the prefetch's second), none a click.
      const asked = (await page.evaluate(`(() => {
        window.__asked.length = 0;
        const link = document.querySelector('#runs tbody tr[data-execution="${run.id}"] a[href^="#/runs/"]');
        for (let i = 0; i < 10; i++)
          link.dispatchEvent(new PointerEvent("pointerdown", { bubbles: true, button: 0, isPrimary: true }));
        return window.__asked.map((a) => new URL(a.url, location.href).pathname);
      })()`)) as string[];
      expect(asked).toEqual([`/api/executions/${run.id}`]);

      // Crafted links pressed: a bad escape asks nothing (and throws nothing); an escaped slash or
      // a query stays inside the one run's path, escaped as the run page would ask it.
      const crafted = (await page.evaluate(`(() => {
        window.__asked.length = 0;
        const errors = [];
        window.addEventListener("error", (e) => errors.push(e.message));
        for (const href of ["#/runs/%", "#/runs/..%2F..", "#/runs/x?y=1", "#/runs/" + "a".repeat(5000)]) {
          const a = document.createElement("a");
          a.href = href;
          a.textContent = "crafted";
          document.getElementById("main").append(a);
          a.dispatchEvent(new PointerEvent("pointerdown", { bubbles: true, button: 0, isPrimary: true }));
          a.remove();
        }
        return { errors, asked: window.__asked.map((a) => new URL(a.url, location.href).pathname) };
      })()`)) as { errors: string[]; asked: string[] };
      expect(crafted).toEqual({
        errors: [],
        asked: ["/api/executions/..%2F..", "/api/executions/x", `/api/executions/${"a".repeat(5000)}`],
      });

      // Pressed as one person, clicked as another (the "Acting as" field changed in between): the
      // page asks again, as the person now acting, and does not take the answer asked for the first.
      await page.locator("#actor").fill("press-w4");
      await page.locator("#actor").dispatchEvent("change");
      await page.evaluate(`(() => {
        window.__asked.length = 0;
        const link = document.querySelector('#runs tbody tr[data-execution="${run.id}"] a[href^="#/runs/"]');
        link.dispatchEvent(new PointerEvent("pointerdown", { bubbles: true, button: 0, isPrimary: true }));
        const actor = document.getElementById("actor");
        actor.value = "click-w4";
        actor.dispatchEvent(new Event("change"));
        link.click();
      })()`);
      await page.locator("#graph svg [data-state=Report]").waitFor();
      await page.locator("main:not([aria-busy])").waitFor({ state: "attached" });
      const people = (await page.evaluate(
        `window.__asked.filter((a) => new URL(a.url, location.href).pathname.startsWith("/api/executions/")).map((a) => a.actor)`,
      )) as string[];
      expect(people).toEqual(["press-w4", "click-w4"]);
    } finally {
      await page.close();
    }
  });

  it("draws a run page's step records and audit once its first frame is out, and is busy until they are there", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${local.url}/runs`);
      await page.locator("body[data-live]").waitFor({ state: "attached" });
      // What <main> held in the first frame after the graph and the targets were there.
      await page.evaluate(`(() => {
        window.__frame = new Promise((done) => {
          const seen = () => document.querySelector("#graph svg [data-state=Report]") && document.querySelector("#targets tbody tr");
          const observer = new MutationObserver(() => {
            if (!seen()) return;
            observer.disconnect();
            requestAnimationFrame(() => done({
              steps: document.querySelectorAll("#steps details").length,
              audit: document.querySelectorAll("#audit tbody tr").length,
              busy: document.getElementById("main").hasAttribute("aria-busy"),
            }));
          });
          observer.observe(document, { childList: true, subtree: true });
        });
      })()`);
      await page.locator(`#runs tbody tr[data-execution="${run.id}"] a[href^="#/runs/"]`).click();
      const first = (await page.evaluate("window.__frame")) as {
        steps: number;
        audit: number;
        busy: boolean;
      };
      expect(first).toEqual({ steps: 0, audit: 0, busy: true });
      await page.locator("main:not([aria-busy])").waitFor({ state: "attached" });
      // Not busy: everything is there, read at once (no waiting).
      const after = (await page.evaluate(
        `({ steps: document.querySelectorAll("#steps details").length, audit: document.querySelectorAll("#audit tbody tr").length })`,
      )) as { steps: number; audit: number };
      expect(after.steps).toBeGreaterThan(0);
      expect(after.audit).toBeGreaterThan(0);
    } finally {
      await page.close();
    }
  });

  it("writes a filter chosen in the list's form into the address, so a reload shows the same list; back from a run page, the address says the filters again", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${local.url}/runs`);
      await page.locator("body[data-live]").waitFor({ state: "attached" });
      const history = Number(await page.evaluate("history.length"));
      await page.locator('select[name="status"]').selectOption("FAILED");
      await page.locator('input[name="text"]').fill(run.id);
      await expect
        .poll(() => new URL(page.url()).hash)
        .toBe(`#/runs?status=FAILED&text=${encodeURIComponent(run.id)}`);
      // Replaced, not pushed: Back still leaves the list.
      expect(Number(await page.evaluate("history.length"))).toBe(history);
      await page.getByText("No run matches these filters.").waitFor();
      await page.reload();
      await page.getByText("No run matches these filters.").waitFor();
      expect(await page.locator('select[name="status"]').inputValue()).toBe("FAILED");
      expect(await page.locator('input[name="text"]').inputValue()).toBe(run.id);
      // Cleared again: the address with them.
      await page.locator('select[name="status"]').selectOption("");
      await page.locator(`#runs tbody tr[data-execution="${run.id}"]`).waitFor();
      await expect.poll(() => new URL(page.url()).hash).toBe(`#/runs?text=${encodeURIComponent(run.id)}`);
      // To the run and back by "← All runs" (#/runs): the list as it was, and the address says its filter.
      await page.locator(`#runs tbody tr[data-execution="${run.id}"] a[href^="#/runs/"]`).click();
      await page.locator("#graph svg [data-state=Report]").waitFor();
      await page.getByRole("link", { name: "← All runs" }).click();
      await page.locator(`#runs tbody tr[data-execution="${run.id}"]`).waitFor();
      await expect.poll(() => new URL(page.url()).hash).toBe(`#/runs?text=${encodeURIComponent(run.id)}`);
    } finally {
      await page.close();
    }
  });

  it("a run that does not exist is the console's own 'No such run', from the inlined 404", async () => {
    const html = await (await fetch(`${local.url}/runs/no-such-run`)).text();
    expect(inlined(html)["/api/executions/no-such-run"].status).toBe(404);
    const page = await browser.newPage();
    try {
      await page.goto(`${local.url}/runs/no-such-run`);
      await page.getByText("No such run.").waitFor();
    } finally {
      await page.close();
    }
  });

  it("a page's answer asked on a press while an action was on its way is not taken: the runs list, pressed while a start was being sent, shows the run it started", async () => {
    const { page, quiet } = await quietPage([]);
    let release = () => {};
    const held = new Promise<void>((done) => (release = done));
    let posted = false;
    try {
      await page.goto(`${local.url}/#/start/backup-snapshot`);
      await page.locator("body[data-live]").waitFor({ state: "attached" });
      // No polls: the list drawn is the answer its page took, not a later one.
      await quiet();
      await page.fill('textarea[name="selector.tag"]', "Backup=daily");
      // The start's POST held on its way (the server has not seen it).
      await page.route("**/api/runbooks/*/executions", async (route) => {
        posted = true;
        await held;
        await route.continue();
      });
      await page.click('form.start button[type="submit"]');
      await expect.poll(() => posted).toBe(true);
      // "Runs" pressed while the start is on its way: the list is asked for (without the new run).
      await page.locator('a[data-nav="runs"]').scrollIntoViewIfNeeded();
      const runs = await page.locator('a[data-nav="runs"]').boundingBox();
      if (!runs) throw new Error("the Runs link is not on screen");
      const listed = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/executions");
      await page.mouse.move(runs.x + runs.width / 2, runs.y + runs.height / 2);
      await page.mouse.down();
      await listed;
      // The start goes through: the console shows the new run, then the press ends in a click.
      release();
      await page.waitForURL(/#\/runs\/backup-snapshot-/);
      const started = decodeURIComponent(new URL(page.url()).hash.replace("#/runs/", ""));
      await page.mouse.up();
      await page.waitForURL(/#\/runs$/);
      await page.locator("main:not([aria-busy])").waitFor({ state: "attached" });
      expect(await page.locator(`#runs tbody tr[data-execution="${started}"]`).count()).toBe(1);
    } finally {
      release();
      await page.close();
    }
  });

  it("a drawn page at an address that starts with `//` (`//other.host/runs`) is taken over on its own origin, not broken by an address another origin's", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    try {
      // The server reads `//other.host/runs` as `/runs` and draws the list; the page's own path is `//other.host/runs`.
      await page.goto(`${local.url}//other.example/runs?text=${encodeURIComponent(run.id)}`);
      await page.locator("body[data-live]").waitFor({ state: "attached" });
      expect(errors).toEqual([]);
      expect(new URL(page.url()).origin).toBe(new URL(local.url).origin);
      expect(new URL(page.url()).hash).toBe(`#/runs?text=${encodeURIComponent(run.id)}`);
      await page.locator(`#runs tbody tr[data-execution="${run.id}"]`).waitFor();
    } finally {
      await page.close();
    }
  });
});
