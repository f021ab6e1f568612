/**
 * The console shows what events and callers chose — an alarm's name and reason (anyone who can
 * name an alarm or send an event), a run's params and actor — as text, never as markup: the
 * page a hostile alarm reaches runs none of it.
 */
import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { launchChromium } from "./support/browser.ts";
import { api, startTestLocal } from "./support/local.ts";

const alarm = JSON.parse(readFileSync(new URL("../examples/alarm-cpu-high.json", import.meta.url), "utf8"));
const NAME = `web-<img src=x onerror="window.__xss='name'">`;
const REASON = `<script>window.__xss='reason'</script><img src=x onerror="window.__xss='reason-img'">`;
const TAG = `<svg onload="window.__xss='params'"></svg>`;
const ACTOR = `<img src=x onerror="window.__xss='actor'">`;

let local: LocalMode;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  local = await startTestLocal({
    rules: [
      {
        name: "web-any",
        on: { source: ["aws.cloudwatch"], detail: { alarmName: [{ prefix: "web-" }] } },
        run: "backup-snapshot",
        with: { selector: { tag: { Backup: "daily" } } },
        dryRun: true,
      },
    ],
  });
  browser = await launchChromium();
  page = await browser.newPage();
});
afterAll(async () => {
  await browser?.close();
  await local?.stop();
});

/** Markup the hostile strings would have made, had any been parsed as HTML. */
const injected = (p: Page) =>
  p.evaluate(() => {
    const g = globalThis as unknown as {
      __xss?: string;
      document: { querySelectorAll(selector: string): { length: number } };
    };
    return {
      xss: g.__xss,
      elements: g.document.querySelectorAll("img, svg[onload], script:not([src]), [onerror], [onload]")
        .length,
    };
  });

describe("the console, given hostile strings", () => {
  it("shows an alarm's name and reason, a run's params and actor as text, and runs none of them", async () => {
    const sent = await api(local, "POST", "/events", {
      ...alarm,
      id: "xss-1",
      time: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      resources: [`arn:aws:cloudwatch:${alarm.region}:${alarm.account}:alarm:${NAME}`],
      detail: { ...alarm.detail, alarmName: NAME, state: { ...alarm.detail.state, reason: REASON } },
    });
    expect(sent.body.results[0].decision).toBe("started");
    const byAlarm = sent.body.results[0].executionId as string;
    const manual = await fetch(`${local.url}/api/runbooks/backup-snapshot/executions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": ACTOR },
      body: JSON.stringify({ params: { selector: { tag: { Backup: TAG } } }, dryRun: true }),
    });
    expect(manual.status).toBe(202);
    const manualId = ((await manual.json()) as { executionId: string }).executionId;
    await local.idle();

    await page.goto(`${local.url}/#/runs`);
    await page.locator(`#runs tr[data-execution="${byAlarm}"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator("#runs").textContent()).toContain(REASON);
    expect(await injected(page)).toEqual({ xss: undefined, elements: 0 });

    await page.goto(`${local.url}/#/runs/${encodeURIComponent(byAlarm)}`);
    await expect
      .poll(() => page.locator("#run-alarm").textContent(), { timeout: 10_000 })
      .toBe(`alarm ${NAME} → ALARM`);
    expect(await page.locator("main").textContent()).toContain(REASON);
    expect(await injected(page)).toEqual({ xss: undefined, elements: 0 });

    await page.goto(`${local.url}/#/runs/${encodeURIComponent(manualId)}`);
    await expect.poll(() => page.locator("main").textContent(), { timeout: 10_000 }).toContain(ACTOR);
    expect(await page.locator("main").textContent()).toContain(JSON.stringify(TAG).slice(1, -1));
    expect(await injected(page)).toEqual({ xss: undefined, elements: 0 });
  });

  it("ignores ?api= naming another server: a crafted link cannot send actions elsewhere", async () => {
    const asked: string[] = [];
    page.on("request", (r) => {
      if (r.url().startsWith("https://evil.example")) asked.push(r.url());
    });
    await page.goto(`${local.url}/?api=https://evil.example/#/runs`);
    await expect.poll(() => page.locator("main").textContent(), { timeout: 10_000 }).toContain("web-any");
    expect(asked).toEqual([]);
  });
});
