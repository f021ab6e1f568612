/**
 * The console's run page draws from one request: `GET /api/executions/:id` (the run, its steps,
 * audit, result, its runbook's state machine and its re-runs); no `/api/runbooks/:name`, no list
 * of runs. A new page is drawn before the banner's requests are sent. The first page's request
 * goes out from index.html, while the console's scripts are still loading.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newExecutionId } from "../packages/core/src/runs-api.ts";
import * as Executions from "../packages/core/src/state/executions.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { launchChromium } from "./support/browser.ts";
import { api, runAndWait, startTestLocal } from "./support/local.ts";

let local: LocalMode;
let browser: Browser;
beforeAll(async () => {
  local = await startTestLocal();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await local?.stop();
});

describe("the console's run page", () => {
  it("is drawn from GET /api/executions/:id alone, re-run links included", async () => {
    const first = await runAndWait(
      local,
      "backup-snapshot",
      { selector: { tag: { Backup: "daily" } } },
      true,
    );
    const rerun = await api<{ executionId: string }>(local, "POST", `/api/executions/${first.id}/rerun`, {});
    await local.idle();

    const context = await browser.newContext();
    const page = await context.newPage();
    const log: string[] = [];
    page.on("request", (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith("/api/")) log.push(`start ${url.pathname}${url.search}`);
    });
    page.on("requestfinished", (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith("/api/")) log.push(`end ${url.pathname}${url.search}`);
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    try {
      await page.goto(`${local.url}/#/runs/${first.id}`);
      await page.locator("#graph svg [data-state=Report]").waitFor();
      await page.locator(`dl.facts a[href="#/runs/${rerun.body.executionId}"]`).waitFor();
      await page.locator("#guardrails").waitFor({ state: "attached" });
      await expect.poll(() => log.some((l) => l.startsWith("end /api/guardrails"))).toBe(true);

      // Only the run itself (the page refreshes it while open): no runbook, no list of runs.
      const data = new Set(
        log.filter((l) => l.startsWith("start") && /\/api\/(executions|runbooks)/.test(l)),
      );
      expect([...data]).toEqual([`start /api/executions/${first.id}`]);
      // The banner's requests go out once the run's answer is in.
      expect(log.indexOf(`end /api/executions/${first.id}`)).toBeLessThan(
        log.indexOf("start /api/guardrails"),
      );
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it.each(["/", "/console/console.js", "/console/views/run.js"])(
    "serves %s with an ETag, to be revalidated, and answers 304 without a body to a browser that holds it",
    async (path) => {
      const first = await fetch(`${local.url}${path}`);
      await first.arrayBuffer();
      const etag = first.headers.get("etag");

      const again = await fetch(`${local.url}${path}`, { headers: { "if-none-match": etag ?? "" } });

      expect(first.status).toBe(200);
      expect(first.headers.get("cache-control")).toBe("no-cache");
      expect(etag).toMatch(/^"[\w-]{22}"$/);
      expect(again.status).toBe(304);
      expect(await again.text()).toBe("");
    },
  );

  it.each([
    ["run page", "#/runs/:id", (id: string) => `/api/executions/${id}`, "#graph svg [data-state=Report]"],
    ["runs list", "#/runs", () => "/api/executions?limit=100", "#runs tbody tr"],
  ])(
    "draws the %s from one request for its data, sent beside whoami from index.html, not again after it",
    async (_page, route, path, drawn) => {
      const run = await runAndWait(
        local,
        "backup-snapshot",
        { selector: { tag: { Backup: "daily" } } },
        true,
      );
      const context = await browser.newContext();
      // The page notes, in its own clock, when the content is first in the document; the requests
      // of the first draw are those it started before then. (Counting what the driver had seen
      // when it noticed the content also counted the page's refresh 1.5 s later under load.)
      await context.addInitScript({
        content: `new MutationObserver(() => {
          if (window.drawnAt === undefined && document.querySelector(${JSON.stringify(drawn)}))
            window.drawnAt = performance.now();
        }).observe(document, { childList: true, subtree: true });`,
      });
      const page = await context.newPage();
      try {
        await page.goto(`${local.url}/${route.replace(":id", run.id)}`);
        await page.locator(drawn).first().waitFor();
        const firstDraw: string[] = await page.evaluate(`performance
          .getEntriesByType("resource")
          .filter((e) => e.startTime <= window.drawnAt)
          .map((e) => new URL(e.name))
          .filter((u) => u.pathname.startsWith("/api/"))
          .map((u) => u.pathname + u.search)`);

        expect(firstDraw.filter((p) => p === path(run.id))).toHaveLength(1);
        expect(firstDraw.filter((p) => p === "/api/whoami")).toHaveLength(1);
        expect(firstDraw.slice(0, 2).sort()).toEqual([path(run.id), "/api/whoami"].sort());
      } finally {
        await context.close();
      }
    },
  );

  it.each([
    ["run page", "#/runs/:id", (id: string) => `/api/executions/${id}`, "#graph svg [data-state=Report]"],
    ["runs list", "#/runs", () => "/api/executions?limit=100", "#runs tbody tr"],
  ])("asks for the %s's data while its scripts are still loading", async (_page, route, path, drawn) => {
    const run = await runAndWait(local, "backup-snapshot", { selector: { tag: { Backup: "daily" } } }, true);
    const context = await browser.newContext();
    const page = await context.newPage();
    // The scripts are held until the page's data has been asked for: only a request sent
    // before them (index.html's) lets the page draw at all.
    let asked!: () => void;
    const dataAsked = new Promise<void>((r) => {
      asked = r;
    });
    page.on("request", (r) => {
      const url = new URL(r.url());
      if (`${url.pathname}${url.search}` === path(run.id)) asked();
    });
    const held: string[] = [];
    await page.route(/\/console\/(console|graph|dagre\.min)\.js$/, async (r) => {
      held.push(new URL(r.request().url()).pathname);
      await dataAsked;
      await r.continue();
    });
    try {
      await page.goto(`${local.url}/${route.replace(":id", run.id)}`, { waitUntil: "commit" });
      await page.locator(drawn).first().waitFor({ timeout: 20_000 });
      expect(held).toContain("/console/console.js");
    } finally {
      await context.close();
    }
  });

  it("asks for the console's settings from index.html, so the sign-in gate does not wait for auth.js to load first", async () => {
    const run = await runAndWait(local, "backup-snapshot", { selector: { tag: { Backup: "daily" } } }, true);
    const context = await browser.newContext();
    const page = await context.newPage();
    let asked!: () => void;
    const settingsAsked = new Promise<void>((r) => {
      asked = r;
    });
    page.on("request", (r) => {
      if (new URL(r.url()).pathname === "/console-config.json") asked();
    });
    // auth.js is held until the settings have been asked for: only a request sent before it
    // (boot.js's) lets the page draw at all.
    await page.route(/\/console\/auth\.js$/, async (r) => {
      await settingsAsked;
      await r.continue();
    });
    try {
      await page.goto(`${local.url}/#/runs/${run.id}`, { waitUntil: "commit" });
      await page.locator("#graph svg [data-state=Report]").waitFor({ timeout: 20_000 });
    } finally {
      await context.close();
    }
  });

  it("shows the account and Region a run acts in, on its page and in the list", async () => {
    // A child run of a multi-account start (issue 26) carries its location on its record.
    const id = newExecutionId("backup-snapshot");
    await Executions.create({
      id,
      runbook: "backup-snapshot",
      dryRun: true,
      params: { selector: { tag: { Backup: "daily" } } },
      trigger: { kind: "manual", actor: "cli:alice" },
      location: { account: "222222222222", region: "eu-west-1" },
    });
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${local.url}/#/runs/${id}`);
      expect(await page.locator("#run-location").textContent()).toBe("222222222222 / eu-west-1");

      await page.click('nav a[href="#/runs"]');
      const row = page.locator(`#runs tr[data-execution="${id}"]`);
      expect(await row.locator(".location").textContent()).toBe("222222222222 / eu-west-1");
      // A run with no location says nothing about one.
      expect(await page.locator(`#runs tr:not([data-execution="${id}"]) .location`).count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it("polls an unchanged run with If-None-Match and keeps the page on the 304", async () => {
    const run = await runAndWait(local, "backup-snapshot", { selector: { tag: { Backup: "daily" } } }, true);
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      const path = `/api/executions/${run.id}`;
      const notModified = page.waitForResponse(
        (r) => new URL(r.url()).pathname === path && r.status() === 304,
      );
      await page.goto(`${local.url}/#/runs/${run.id}`);
      await page.locator("#graph svg [data-state=Report]").waitFor();

      const answer = await notModified;
      expect(await answer.request().headerValue("if-none-match")).toMatch(/^"[^"]+"$/);
      // The page still shows the run, drawn from the answer it holds.
      await expect.poll(() => page.locator("#run-status").textContent()).toMatch(/succeeded/i);
      expect(await page.locator("#graph svg [data-state=Report]").count()).toBe(1);
    } finally {
      await context.close();
    }
  });
});
