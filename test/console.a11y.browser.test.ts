/**
 * The console for everyone on call, in headless Chromium against local mode: axe-core (injected
 * into the page) finds no serious or critical violation on the runs list, a run page and the
 * approvals page; a run, an approval and a step have addresses of their own (deep links); an
 * approval is given with the keyboard alone. And live without drawing the world again: a
 * refresh builds only the rows and parts whose data changed, and a Map's iterations are shown a
 * page at a time.
 *
 * `REFLEX_SCREENSHOTS=docs/img npx vitest run test/console.a11y.browser.test.ts` also writes
 * docs/img/console-approval.png.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { SRE_APPROVES } from "./support/approvals.ts";
import { launchChromium } from "./support/browser.ts";
import { api, runStatus as runStatusOf, startAs as startRunAs, startTestLocal } from "./support/local.ts";
import { storeMapRun } from "./support/map-run.ts";

const SCREENSHOTS = process.env.REFLEX_SCREENSHOTS;
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
let local: LocalMode;
let browser: Browser;
let page: Page;
let backup: string;
let waiting: string;

const runStatus = (id: string) => runStatusOf(local, id);
const startAs = (actor: string, runbook: string, params: unknown, dryRun = false) =>
  startRunAs(local, actor, runbook, params, dryRun);

/** axe-core's serious and critical violations on the page as it is: rule, impact, where. */
async function seriousViolations(): Promise<string[]> {
  if (!(await page.evaluate("typeof window.axe === 'object'"))) await page.addScriptTag({ path: AXE });
  const found = (await page.evaluate(
    "window.axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ') + ' ' + n.failureSummary + ' ' + n.html.slice(0, 300)) })))",
  )) as Array<{ id: string; impact: string; nodes: string[] }>;
  return found
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 5).join(", ")}`);
}

beforeAll(async () => {
  local = await startTestLocal(SRE_APPROVES);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: "America/New_York" });
  backup = await startAs("U789", "backup-snapshot", { selector: { tag: { Backup: "daily" } } });
  waiting = await startAs("U123", "scale", { autoScalingGroup: "web", change: "+1" });
  const reaches = (id: string, status: string) =>
    vi.waitFor(async () => expect(await runStatus(id)).toBe(status), { timeout: 20_000, interval: 50 });
  await reaches(waiting, "WAITING_FOR_APPROVAL");
  await reaches(backup, "SUCCEEDED");
  await page.goto(`${local.url}/#/runs`);
  await page.fill("#actor", "U789");
  await page.dispatchEvent("#actor", "change");
});
afterAll(async () => {
  await browser?.close();
  await local?.stop();
});

describe("the console, for everyone on call", () => {
  it("has no serious or critical axe-core violation on the runs list", async () => {
    await page.goto(`${local.url}/#/runs`);
    await page.locator(`main:not([aria-busy]) #runs tr[data-execution="${backup}"]`).waitFor();
    await page.locator("#guardrails #locks").waitFor();

    expect(await seriousViolations()).toEqual([]);
  });

  it("has no serious or critical axe-core violation on a run page, its Map iterations open", async () => {
    await page.goto(`${local.url}/#/runs/${backup}`);
    await page.locator("main:not([aria-busy]) #graph svg").waitFor();
    await page.locator("#state-SnapshotTargets > summary").click();
    await page.locator("#state-SnapshotTargets [data-iteration] > summary").first().click();
    await page.locator("[data-iteration-graph] svg").first().waitFor();

    expect(await seriousViolations()).toEqual([]);
  });

  it("has no serious or critical axe-core violation on the approvals page", async () => {
    await page.goto(`${local.url}/#/approvals`);
    await page.locator(`main:not([aria-busy]) .approval[data-execution="${waiting}"]`).waitFor();
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, "console-approval.png") });

    expect(await seriousViolations()).toEqual([]);
  });

  it("gives a step chosen in the graph with the keyboard its own address", async () => {
    await page.goto(`${local.url}/#/runs/${backup}`);
    await page.locator('main:not([aria-busy]) #graph [data-state="Plan"]').press("Enter");

    await expect.poll(() => page.url()).toBe(`${local.url}/#/runs/${backup}/Plan`);
    await expect.poll(() => page.locator("#state-Plan").getAttribute("open")).toBe("");
  });

  it("opens a step from its own address, its records open and focused", async () => {
    await page.goto(`${local.url}/#/runs/${backup}/SnapshotTargets`);
    const step = page.locator("#state-SnapshotTargets");
    await expect.poll(() => step.getAttribute("open")).toBe("");
    await expect
      .poll(() => page.evaluate("document.activeElement?.closest('#state-SnapshotTargets')?.id ?? null"))
      .toBe("state-SnapshotTargets");
  });

  it("opens an approval from its own address, and it is given with the keyboard alone", async () => {
    await page.goto(`${local.url}/#/approvals/${waiting}`);
    const card = page.locator(`.approval[data-execution="${waiting}"]`);
    await expect
      .poll(() => page.evaluate(`document.activeElement?.closest('.approval')?.dataset.execution ?? null`))
      .toBe(waiting);

    // Tab from the card to its Approve button, then Enter.
    const onApprove =
      "document.activeElement?.tagName === 'BUTTON' && document.activeElement.textContent.includes('Approve')";
    for (let i = 0; i < 10 && !(await page.evaluate(onApprove)); i++) await page.keyboard.press("Tab");
    expect(await page.evaluate(onApprove)).toBe(true);
    await page.keyboard.press("Enter");

    await expect.poll(() => runStatus(waiting), { timeout: 20_000 }).toBe("SUCCEEDED");
    await card.waitFor({ state: "detached", timeout: 10_000 });
  });
});

describe("the console, live without drawing the world again", () => {
  it("draws only the rows whose run changed: an ended run's row keeps its element while a new run comes and ends", async () => {
    await page.goto(`${local.url}/#/runs`);
    const kept = page.locator(`#runs tr[data-execution="${backup}"]`);
    await kept.waitFor();
    await kept.evaluate((el) => Object.assign(el, { reflexMarked: true }));

    const dry = await startAs("U789", "backup-snapshot", { selector: { tag: { Backup: "daily" } } }, true);
    const row = page.locator(`#runs tr[data-execution="${dry}"]`);
    await expect.poll(() => row.getAttribute("data-status"), { timeout: 20_000 }).toBe("SUCCEEDED");

    expect(await kept.evaluate((el) => (el as unknown as { reflexMarked?: boolean }).reflexMarked)).toBe(
      true,
    );
  });

  it("draws only the parts of a run page whose data changed: the params stay as they were while the run is approved and ends", async () => {
    const id = await startAs("U123", "scale", { autoScalingGroup: "web", change: "+1" });
    await expect.poll(() => runStatus(id), { timeout: 10_000 }).toBe("WAITING_FOR_APPROVAL");
    await page.goto(`${local.url}/#/runs/${id}`);
    const params = page.locator("#params");
    await params.waitFor();
    await params.evaluate((el) => Object.assign(el, { reflexMarked: true }));

    const approved = await fetch(`${local.url}/api/executions/${id}/approve`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": "U789" },
      body: "{}",
    });
    expect(approved.status).toBe(200);
    await expect
      .poll(() => page.locator("#run-status [data-status]").getAttribute("data-status"), { timeout: 20_000 })
      .toBe("SUCCEEDED");

    expect(await params.evaluate((el) => (el as unknown as { reflexMarked?: boolean }).reflexMarked)).toBe(
      true,
    );
  });

  it("shows a Map's iterations 50 at a time, and a deep link opens one further down (the bench times a Map of 1,000)", async () => {
    const from = (await api(local, "GET", `/api/executions/${backup}`)).body;
    await storeMapRun(from, "map-120", 120);
    const target = (i: number) => `i-${String(i).padStart(17, "0")}`;

    await page.goto(`${local.url}/#/runs/map-120/SnapshotTargets`);
    const map = page.locator("#state-SnapshotTargets");
    await expect.poll(() => map.getAttribute("open")).toBe("");
    expect(await map.locator("summary").first().textContent()).toContain("Map: 120 iteration(s)");
    expect(await map.locator("[data-iteration]").count()).toBe(50);
    await map.locator("button[data-more]").press("Enter");
    await expect.poll(() => map.locator("[data-iteration]").count()).toBe(100);
    // The keyboard carries on at the first newly shown iteration.
    expect(
      await page.evaluate("document.activeElement?.closest('[data-iteration]')?.dataset.iteration"),
    ).toBe(target(50));

    await page.goto(`${local.url}/#/runs/map-120/SnapshotTargets/${target(110)}`);
    const it110 = page.locator(`[data-iteration="${target(110)}"]`);
    await expect.poll(() => it110.getAttribute("open")).toBe("");
    await expect
      .poll(() =>
        page.evaluate("document.activeElement?.closest('[data-iteration]')?.dataset.iteration ?? null"),
      )
      .toBe(target(110));
    await it110.locator("[data-iteration-graph] svg").waitFor();
  });
});
