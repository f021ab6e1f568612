/**
 * The console's approval, abort and re-run buttons in headless Chromium, against local mode.
 * Scale (medium risk) in `prod` waits for one approval from the `sre` role.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { SRE_APPROVES } from "./support/approvals.ts";
import { launchChromium } from "./support/browser.ts";
import { api, runStatus as runStatusOf, startAs as startRunAs, startTestLocal } from "./support/local.ts";

let local: LocalMode;
let browser: Browser;
let page: Page;

const runStatus = (id: string) => runStatusOf(local, id);
const startAs = (actor: string, runbook: string, params: unknown, dryRun = false) =>
  startRunAs(local, actor, runbook, params, dryRun);
const desired = () =>
  local.cloud.autoScalingGroups("us-east-1").find((g) => g.AutoScalingGroupName === "web")!.DesiredCapacity;

beforeAll(async () => {
  local = await startTestLocal(SRE_APPROVES, {
    cloud: SimulatedCloud.seeded({ snapshotDurationMs: 30_000 }),
  });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("dialog", (d) =>
    d.type() === "prompt" ? d.accept(d.defaultValue() || "from the test") : d.accept(),
  );
  await page.goto(`${local.url}/#/approvals`);
  await page.fill("#actor", "U789");
  await page.dispatchEvent("#actor", "change");
});
afterAll(async () => {
  await browser?.close();
  await local?.stop();
});

describe("the console's approval, abort and re-run buttons", () => {
  it("lists a waiting scale with its plan and requester, and Approve lets it change the group", async () => {
    const before = desired();
    const id = await startAs("U123", "scale", { autoScalingGroup: "web", change: "+2" });
    await expect.poll(() => runStatus(id), { timeout: 10_000 }).toBe("WAITING_FOR_APPROVAL");

    const card = page.locator(`.approval[data-execution="${id}"]`);
    await card.waitFor({ timeout: 10_000 });
    expect(await card.textContent()).toContain("U123");
    expect(await page.locator("#approval-count").textContent()).toBe("1");
    expect(desired()).toBe(before);
    // The waiting run holds its group's lock: the banner counts it and names the holder.
    const locks = page.locator("#guardrails #locks");
    await expect
      .poll(() => locks.locator("summary").textContent(), { timeout: 10_000 })
      .toBe("🔒 1 lock held");
    await locks.locator("summary").click();
    const held = locks.locator('li[data-lock="asg:web"]');
    expect(await held.locator(`a[href="#/runs/${id}"]`).count()).toBe(1);

    await card.locator("button.primary").click();

    await expect.poll(() => runStatus(id), { timeout: 20_000 }).toBe("SUCCEEDED");
    expect(desired()).toBe(before! + 2);
    await card.waitFor({ state: "detached", timeout: 10_000 });
  });

  it("Reject ends the waiting run with nothing changed", async () => {
    const before = desired();
    const id = await startAs("U123", "scale", { autoScalingGroup: "web", change: "+1" });
    await expect.poll(() => runStatus(id), { timeout: 10_000 }).toBe("WAITING_FOR_APPROVAL");
    const card = page.locator(`.approval[data-execution="${id}"]`);
    await card.waitFor({ timeout: 10_000 });

    const reason = card.locator('input[name="reason"]');
    await reason.fill("not during the migration");
    // A refresh whose answer changed (another run came to wait) draws the list again: the reason
    // being typed, and the focus in it, are kept.
    await reason.evaluate((el) => el.setAttribute("data-typed-into", ""));
    await page.route("**/api/approvals", async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, json: { ...(await res.json()), changed: true } });
    });
    try {
      await page.waitForFunction(
        `!document.querySelector('.approval[data-execution="${id}"] input[name="reason"]')?.hasAttribute("data-typed-into")`,
        undefined,
        { timeout: 10_000 },
      );
    } finally {
      await page.unroute("**/api/approvals");
    }
    expect(await reason.inputValue()).toBe("not during the migration");
    expect(await page.evaluate(`document.activeElement?.closest(".approval")?.dataset.execution`)).toBe(id);
    await card.locator("button.danger").click();

    await expect.poll(() => runStatus(id), { timeout: 20_000 }).not.toBe("WAITING_FOR_APPROVAL");
    expect(desired()).toBe(before);
  });

  it("Abort on a running backup's page ends it ABORTED", async () => {
    const id = await startAs("U789", "backup-snapshot", { selector: { tag: { Backup: "daily" } } });
    await page.goto(`${local.url}/#/runs/${id}`);
    await expect
      .poll(() => page.locator("#run-status [data-status]").getAttribute("data-status"), { timeout: 10_000 })
      .toBe("RUNNING");

    await page.getByRole("button", { name: /Abort/ }).click();

    await expect
      .poll(() => page.locator("#run-status [data-status]").getAttribute("data-status"), { timeout: 30_000 })
      .toBe("ABORTED");
    expect(await runStatus(id)).toBe("ABORTED");
  });

  it("Re-run on an ended run starts a new run with the same params and opens it", async () => {
    const id = await startAs("U789", "backup-snapshot", { selector: { tag: { Backup: "daily" } } }, true);
    await local.idle();
    await page.goto(`${local.url}/#/runs/${id}`);
    await page.getByRole("button", { name: /Re-run/ }).click();

    await page.waitForURL((url) => url.hash.startsWith("#/runs/") && !url.hash.endsWith(id), {
      timeout: 10_000,
    });
    const rerun = decodeURIComponent(page.url().split("#/runs/")[1]);
    const [a, b] = await Promise.all([
      api(local, "GET", `/api/executions/${id}`),
      api(local, "GET", `/api/executions/${rerun}`),
    ]);
    expect(b.body.params).toEqual(a.body.params);
    // The two runs link to each other.
    await page.locator(`dl.facts a[href="#/runs/${id}"]`).waitFor({ timeout: 10_000 });
    await page.goto(`${local.url}/#/runs/${id}`);
    await page.locator(`dl.facts a[href="#/runs/${rerun}"]`).waitFor({ timeout: 10_000 });
  });
});
