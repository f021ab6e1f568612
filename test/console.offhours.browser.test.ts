/**
 * The console's off-hours page (`#/offhours`), in headless Chromium against local mode running
 * the team's off-hours runbook: the overrides in force (target, end in the viewer's time and in
 * UTC, who, why), one kept and cancelled with the keyboard through the overrides routes, the
 * API's error shown beside the form with the field it names marked, actions disabled with the
 * reason for a person who may not, and no serious axe-core violation.
 */
import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offHours } from "../examples/runbooks/off-hours/index.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { launchChromium } from "./support/browser.ts";
import { api, startTestLocal } from "./support/local.ts";

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

let local: LocalMode;
let browser: Browser;
let page: Page;
let tagged: string;
let untagged: string;

async function seriousViolations(): Promise<string[]> {
  if (!(await page.evaluate("typeof window.axe === 'object'"))) await page.addScriptTag({ path: AXE });
  const found = (await page.evaluate(
    "window.axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ') + ' ' + n.failureSummary) })))",
  )) as Array<{ id: string; impact: string; nodes: string[] }>;
  return found
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 5).join(", ")}`);
}

async function actAs(actor: string) {
  await page.goto(`${local.url}/#/offhours`);
  await page.fill("#actor", actor);
  await page.dispatchEvent("#actor", "change");
  await page.reload();
  await page.locator("main:not([aria-busy]) #override-form").waitFor();
}

beforeAll(async () => {
  const cloud = SimulatedCloud.seeded();
  const managed = { "reflex:managed": "true" };
  tagged = cloud.addInstance({ name: "web-a", tags: { ...managed, "reflex:off-hours": "office" } })
    .InstanceId as string;
  untagged = cloud.addInstance({ name: "plain", tags: managed }).InstanceId as string;
  local = await startTestLocal(
    {
      runbooks: [offHours],
      access: {
        roles: { ops: ["cli:ops"], viewer: ["cli:viewer"] },
        allow: [
          { role: "ops", runbooks: ["*"], actions: ["run", "dry-run"] },
          { role: "viewer", runbooks: ["*"], actions: ["dry-run"] },
        ],
      },
      offHours: {
        maxOverride: "12h",
        schedules: [
          { name: "office", timezone: "UTC", periods: [{ days: "daily", start: "00:00", stop: "23:59" }] },
        ],
      },
    },
    { cloud },
  );
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: "Asia/Tokyo" });
});
afterAll(async () => {
  await browser?.close();
  await local?.stop();
});

describe("the console's off-hours page", () => {
  it("keeps a target with the keyboard alone, lists it with its end in local time and UTC, who and why, and cancels it", async () => {
    await actAs("cli:ops");
    await expect.poll(() => page.locator('nav a[data-nav="offhours"]').isVisible()).toBe(true);
    await expect(page.locator("#overrides .empty").textContent()).resolves.toContain("No override");

    await page.locator("#override-targets").focus();
    await page.keyboard.type(tagged);
    await page.keyboard.press("Tab");
    await page.keyboard.type("3h");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    await page.keyboard.type("release testing");
    await page.keyboard.press("Enter");

    const row = page.locator(`#overrides tr[data-target="${tagged}"]`);
    await row.waitFor();
    const listed = (await api(local, "GET", "/api/offhours/overrides")).body.overrides[0];
    const until = new Date(listed.until);
    const cells = await row.locator("th, td").allTextContents();
    expect(cells.slice(0, 5)).toEqual([
      tagged,
      until.toLocaleString("en-US", { timeZone: "Asia/Tokyo" }),
      `${until.toISOString().slice(0, 16).replace("T", " ")} UTC`,
      "cli:ops",
      "release testing",
    ]);
    expect(await seriousViolations()).toEqual([]);

    await row.getByRole("button", { name: `Cancel the override on ${tagged}` }).focus();
    await page.keyboard.press("Enter");
    await row.waitFor({ state: "detached" });
    expect((await api(local, "GET", "/api/offhours/overrides")).body.overrides).toEqual([]);
  });

  it("shows the API's error beside the form and marks the field it names, keeping nothing", async () => {
    await actAs("cli:ops");
    await page.fill("#override-targets", untagged);
    await page.fill("#override-for", "1h");
    await page.fill("#override-reason", "patching");
    await page.locator("#override-form button[type=submit]").click();

    const problem = page.locator("#override-problem");
    await expect.poll(() => problem.textContent()).toContain(`carries no reflex:off-hours tag`);
    expect(await page.locator("#override-targets").getAttribute("aria-invalid")).toBe("true");

    await page.fill("#override-targets", tagged);
    await page.fill("#override-for", "30h");
    await page.locator("#override-form button[type=submit]").click();
    await expect.poll(() => problem.textContent()).toContain("cli:ops may not set this override");
    expect(await page.locator("#override-for").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#override-targets").getAttribute("aria-invalid")).toBeNull();
    expect(await seriousViolations()).toEqual([]);
    expect((await api(local, "GET", "/api/offhours/overrides")).body.overrides).toEqual([]);
  });

  it("disables keeping and cancelling, with the reason, for a person who may not run off-hours", async () => {
    const kept = await fetch(`${local.url}/api/offhours/overrides`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": "cli:ops" },
      body: JSON.stringify({ targets: [tagged], for: "1h", reason: "night job" }),
    });
    expect(kept.status).toBe(202);
    await actAs("cli:viewer");
    const row = page.locator(`#overrides tr[data-target="${tagged}"]`);
    await row.waitFor();

    const submit = page.locator("#override-form button[type=submit]");
    expect(await submit.isDisabled()).toBe(true);
    expect(await page.locator("#override-form .why-not").textContent()).toBe(
      "cli:viewer may not start off-hours runs",
    );
    expect(await row.getByRole("button").isDisabled()).toBe(true);
    expect(await seriousViolations()).toEqual([]);
  });

  it("keeps what was typed in the form when a refresh draws it again for another person", async () => {
    await actAs("cli:ops");
    await page.fill("#override-targets", tagged);
    await page.fill("#override-reason", "release night");
    await page.fill("#actor", "cli:viewer");
    await page.dispatchEvent("#actor", "change");

    const submit = page.locator("#override-form button[type=submit]");
    await expect.poll(() => submit.isDisabled(), { timeout: 10_000 }).toBe(true);
    expect(await page.inputValue("#override-targets")).toBe(tagged);
    expect(await page.inputValue("#override-reason")).toBe("release night");
  });
});
