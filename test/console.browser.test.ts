/**
 * The console in a real headless Chromium, against local mode in-process: an alarm starts a
 * scale and the open runs page shows it without a reload; the run page draws the state machine
 * with each state's status; a backup started from the form is followed live to its per-target
 * results; Pause and Resume drive the guardrails banner.
 *
 * `REFLEX_SCREENSHOTS=docs/img npx vitest run test/console.browser.test.ts` also writes the
 * README's screenshots.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page, Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { launchChromium } from "./support/browser.ts";
import { refuseCheckAfterScaling } from "./support/cloud.ts";
import { api, runAndWait, startTestLocal } from "./support/local.ts";

const SCREENSHOTS = process.env.REFLEX_SCREENSHOTS;
const alarm = JSON.parse(readFileSync(new URL("../examples/alarm-cpu-high.json", import.meta.url), "utf8"));

let local: LocalMode;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
/** While set, the simulated cloud's clock stands still there, so its snapshots stay pending. */
let cloudHeldAt: number | undefined;

beforeAll(async () => {
  local = await startTestLocal(
    {
      rules: [
        {
          name: "web-cpu-high",
          on: {
            source: ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            detail: { alarmName: ["web-cpu-high"], state: { value: ["ALARM"] } },
          },
          run: "scale",
          with: { autoScalingGroup: "web", change: "+2" },
          cooldown: "10m",
        },
      ],
      freezes: [{ name: "year-end", from: "2099-12-24T00:00:00Z", to: "2100-01-02T00:00:00Z" }],
    },
    // Snapshots take long enough for the page to see the backup running.
    { cloud: SimulatedCloud.seeded({ snapshotDurationMs: 2500, clock: () => cloudHeldAt ?? Date.now() }) },
  );
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 860 }, timezoneId: "Europe/Berlin" });
  page.on("pageerror", (err) => pageErrors.push(err.message));
  page.on("dialog", (d) => d.accept());
});
afterAll(async () => {
  await browser?.close();
  await local?.stop();
});

const node = (state: string) => page.locator(`#graph [data-state="${state}"]`);

describe("the console", () => {
  it("says what to do when there are no runs yet", async () => {
    await page.goto(`${local.url}/`);

    await expect
      .poll(() => page.locator("#runs-body .empty").textContent(), { timeout: 10_000 })
      .toContain("No runs yet");
    expect(await page.locator("#runs-body .empty a").getAttribute("href")).toBe("#/start");
  });

  it("shows a run started by an alarm appear on the open runs page, with its rule and event", async () => {
    await page.goto(`${local.url}/#/runs`);
    await page.locator("#runs-body .empty").waitFor();

    const sent = await api(local, "POST", "/events", { ...alarm, time: new Date().toISOString() });
    const executionId = sent.body.results[0].executionId as string;
    expect(sent.body.results[0].decision).toBe("started");

    const row = page.locator(`#runs tr[data-execution="${executionId}"]`);
    await row.waitFor({ timeout: 10_000 });
    await local.idle();
    await expect.poll(() => row.getAttribute("data-status"), { timeout: 10_000 }).toBe("SUCCEEDED");
    const cells = await row.locator("td").allTextContents();
    expect(cells[0]).toContain("succeeded");
    expect(cells[1]).toContain("scale");
    expect(cells[2]).toContain("rule web-cpu-high");
    expect(cells[2]).toContain(`alarm web-cpu-high → ALARM: ${alarm.detail.state.reason}`);
    expect(cells[2]).toContain(`event ${alarm.id}`);
    expect(cells[5]).toContain("web: desired capacity 6 → 8");
    const started = row.locator("td time");
    expect(await started.getAttribute("title")).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  });

  it("filters runs by status and by text", async () => {
    await page.selectOption('select[name="status"]', "FAILED");
    await expect.poll(() => page.locator("#runs-body").textContent()).toContain("No run matches");

    await page.selectOption('select[name="status"]', "");
    await page.fill('input[name="text"]', "web-cpu-high");
    await expect.poll(() => page.locator("#runs tbody tr").count()).toBe(1);
    await page.fill('input[name="text"]', "no-such-thing");
    await expect.poll(() => page.locator("#runs-body").textContent()).toContain("No run matches");
    await page.fill('input[name="text"]', "");
  });

  it("draws the scale run's state machine with each state's status", async () => {
    const { body } = await api(local, "GET", "/api/executions");
    const scale = body.executions.find((e: { runbook: string }) => e.runbook === "scale");

    await page.goto(`${local.url}/#/runs/${scale.id}`);
    await node("PlanCapacity").waitFor({ timeout: 10_000 });

    const statuses = Object.fromEntries(
      await page
        .locator("#graph [data-state]")
        .evaluateAll((els) => els.map((e) => [e.getAttribute("data-state"), e.getAttribute("data-status")])),
    );
    expect(statuses).toMatchObject({
      Mode: "PASSED",
      PlanCapacity: "SUCCEEDED",
      CapacityDecision: "PASSED",
      SetCapacity: "SUCCEEDED",
      CheckCapacity: "SUCCEEDED",
      Scaled: "PASSED",
      PlanResize: "NOT_RUN",
      DryRunPlanned: "NOT_RUN",
      RestoreCapacity: "NOT_RUN",
      PlanFailed: "NOT_RUN",
    });
    // Colour is not the only signal: each state says its status in words.
    expect(await node("SetCapacity").textContent()).toContain("succeeded");
    expect(await node("PlanResize").textContent()).toContain("not run");
    const web = page.locator('#targets tr[data-target="web"]');
    expect(await web.locator("[data-detail=capacity]").textContent()).toBe("capacity: 6 → 8");
    expect(await web.locator("[data-detail=inService]").textContent()).toBe("inService: 8");
    expect(await web.locator("[data-status]").textContent()).toContain("succeeded");
    expect(await page.locator("#params").textContent()).toContain('"+2"');
    // Why it started: the rule, the alarm and CloudWatch's reason, and a link to the event's runs.
    expect(await page.locator("dl.facts").textContent()).toContain("rule web-cpu-high");
    expect(await page.locator("#run-alarm").textContent()).toBe("alarm web-cpu-high → ALARM");
    expect(await page.locator("#run-why").textContent()).toBe(alarm.detail.state.reason);
    expect(await page.locator(`a[data-event="${alarm.id}"]`).getAttribute("href")).toBe(
      `#/runs?text=${alarm.id}`,
    );
    expect(await page.locator("#audit").textContent()).toContain("scale started by rule 'web-cpu-high'");
  });

  it("starts a backup from the form (dry-run checked by default) and follows it live to its per-target results", async () => {
    await page.goto(`${local.url}/#/start/backup-snapshot`);
    await page.locator("form.start").waitFor();
    expect(await page.isChecked("#dry-run")).toBe(true);

    await page.fill('textarea[name="selector.tag"]', "Backup=daily");
    await page.fill('input[name="retainDays"]', "14");
    await page.uncheck("#dry-run");
    // The snapshots stay pending until the page has shown the Map done and the report not run:
    // the page refreshes every 1.5 s, which a real 2.5 s wait for them raced on a loaded machine.
    cloudHeldAt = Date.now();
    try {
      await page.click('form.start button[type="submit"]');

      await page.waitForURL(/#\/runs\/backup-snapshot-/);
      // Live: the page shows it running, and the snapshot Map done, before it ends …
      await expect
        .poll(() => page.locator("#run-status [data-status]").getAttribute("data-status"))
        .toBe("RUNNING");
      await expect
        .poll(() => node("SnapshotTargets").getAttribute("data-status"), { timeout: 10_000 })
        .toBe("SUCCEEDED");
      expect(await node("Report").getAttribute("data-status")).toBe("NOT_RUN");
    } finally {
      cloudHeldAt = undefined;
    }
    const executionId = decodeURIComponent(page.url().split("#/runs/")[1]);
    // … then ends, without a reload.
    await expect
      .poll(() => page.locator("#run-status [data-status]").getAttribute("data-status"), { timeout: 20_000 })
      .toBe("SUCCEEDED");
    await expect.poll(() => node("Report").getAttribute("data-status")).toBe("SUCCEEDED");
    expect(await node("Done").getAttribute("data-status")).toBe("PASSED");
    expect(await node("DryRunPlanned").getAttribute("data-status")).toBe("NOT_RUN");

    const made = local.cloud
      .snapshots("us-east-1")
      .filter((s) => s.Tags?.some((t) => t.Key === "reflex:execution-id" && t.Value === executionId));
    expect(made.length).toBeGreaterThan(0);
    const rows = page.locator("#targets tbody tr");
    const instances = new Set(
      made.map((s) => s.Tags!.find((t) => t.Key === "reflex:source-instance")!.Value),
    );
    expect(await rows.count()).toBe(instances.size);
    const table = await page.locator("#targets").textContent();
    for (const s of made) expect(table).toContain(s.SnapshotId!);
    expect(await page.locator("#params").textContent()).toContain("14");

    if (SCREENSHOTS) {
      await page.setViewportSize({ width: 1280, height: 1500 });
      await page.screenshot({ path: join(SCREENSHOTS, "console-run.png") });
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  it("shows the plan of a dry-run, and the dry-run's graph ends in DryRunPlanned", async () => {
    await page.goto(`${local.url}/#/start/backup-snapshot`);
    await page.fill('textarea[name="selector.tag"]', "Backup=daily");
    await page.click('form.start button[type="submit"]');
    await page.waitForURL(/#\/runs\/backup-snapshot-/);
    await local.idle();

    await expect
      .poll(() => node("DryRunPlanned").getAttribute("data-status"), { timeout: 10_000 })
      .toBe("PASSED");
    expect(await node("SnapshotTargets").getAttribute("data-status")).toBe("NOT_RUN");
    expect(await page.locator(".run-head").textContent()).toContain("dry-run");
    // The planned targets, in the one result shape: not started, each with what it would do.
    expect(await page.locator("#targets caption").textContent()).toBe(
      "Targets (dry-run: nothing was changed)",
    );
    expect(await page.locator("#targets").textContent()).toMatch(/web-1.*not started.*would snapshot vol-/);
  });

  it("shows a failed scale's rollback: the catch path in the graph, and what it restored", async () => {
    refuseCheckAfterScaling(local.cloud);
    let run: { id: string; status: string };
    try {
      run = await runAndWait(local, "scale", { autoScalingGroup: "web", change: "+2" });
    } finally {
      local.cloud.clearFaults();
    }
    expect(run.status).toBe("FAILED");

    await page.goto(`${local.url}/#/runs/${run.id}`);
    await node("RestoreCapacity").waitFor({ timeout: 10_000 });

    expect(await node("CheckCapacity").getAttribute("data-status")).toBe("FAILED");
    expect(await node("RestoreCapacity").getAttribute("data-status")).toBe("SUCCEEDED");
    expect(await node("RolledBack").getAttribute("data-status")).toBe("FAILED");
    expect(await node("Scaled").getAttribute("data-status")).toBe("NOT_RUN");
    expect(await page.locator("dl.facts").textContent()).toContain("AccessDenied");
    expect(await page.locator('#targets tr[data-target="web"]').textContent()).toMatch(
      /rolled back.*set the desired capacity back from 10 to 8/,
    );

    await page.goto(`${local.url}/#/runs`);
    const row = page.locator(`#runs tr[data-execution="${run.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator("td").nth(5).textContent()).toMatch(/^AccessDenied: /);
    expect(await row.locator("td").first().textContent()).toContain("failed");
  });

  it("is usable from the keyboard: a graph state opens its step records, and every control has a label", async () => {
    const { body } = await api(local, "GET", "/api/executions");
    const backup = body.executions.find(
      (e: { runbook: string; dryRun: boolean }) => e.runbook === "backup-snapshot" && !e.dryRun,
    );
    await page.goto(`${local.url}/#/runs/${backup.id}`);
    await node("SnapshotTargets").waitFor({ timeout: 10_000 });
    expect(await page.locator("#state-SnapshotTargets").getAttribute("open")).toBeNull();

    await node("SnapshotTargets").focus();
    await page.keyboard.press("Enter");

    await expect.poll(() => page.locator("#state-SnapshotTargets").getAttribute("open")).toBe("");
    // One iteration per target; opened, an iteration draws its own state machine.
    const iterations = page.locator("#state-SnapshotTargets [data-iteration]");
    expect(await iterations.count()).toBe(await page.locator("#targets tbody tr").count());
    await iterations.first().locator("summary").focus();
    await page.keyboard.press("Enter");
    const inner = iterations.first().locator("[data-iteration-graph] [data-state]");
    await inner.first().waitFor({ timeout: 5_000 });
    expect(
      await inner.evaluateAll((els) => els.some((e) => e.getAttribute("data-status") === "SUCCEEDED")),
    ).toBe(true);
    for (const [hash, heading] of [
      ["#/runs", "Runs"],
      ["#/start/scale", "Start scale"],
      ["#/start/backup-snapshot", "Start backup-snapshot"],
    ]) {
      await page.goto(`${local.url}/${hash}`);
      // This page, drawn: the last page's inputs would otherwise be checked while being replaced.
      await page.locator("main:not([aria-busy]) h2", { hasText: heading }).waitFor();
      await page.locator("main input, main select").first().waitFor();
      const unlabelled = await page
        .locator("input, select, textarea, button")
        .evaluateAll((els) =>
          els
            .filter(
              (el: any) => !(el.labels?.length || el.getAttribute("aria-label") || el.textContent?.trim()),
            )
            .map((el) => el.outerHTML.slice(0, 80)),
        );
      expect(unlabelled, hash).toEqual([]);
    }
  });

  it("shows the cooldown the alarm's scale started in the banner, with the time left", async () => {
    await page.goto(`${local.url}/#/runs`);
    // The page is drawn first (it takes the focus once drawn), then the list is opened.
    await page.locator("main:not([aria-busy]) #runs-body").waitFor();

    const cooldowns = page.locator("#guardrails #cooldowns");
    await expect
      .poll(() => cooldowns.locator("summary").textContent(), { timeout: 10_000 })
      .toBe("⏳ 1 cooldown running");
    await cooldowns.locator("summary").press("Enter");
    await expect.poll(() => cooldowns.getAttribute("open")).toBe("");
    const item = cooldowns.locator("li").first();
    expect(await item.textContent()).toContain("web-cpu-high");
    expect(await item.textContent()).toMatch(/\d+ min( \d+ s)? left$/);
    // Escape goes to what has the focus: wait until that is the open list (a banner drawn
    // again in between gives the focus back to the list, but not at once).
    await expect
      .poll(() => page.evaluate("document.activeElement?.closest('#cooldowns[open]') !== null"))
      .toBe(true);
    await page.keyboard.press("Escape");
    await expect.poll(() => cooldowns.getAttribute("open")).toBeNull();
    // Focus is back on the list's summary, where the person was.
    expect(await page.evaluate("document.activeElement?.closest('#cooldowns') !== null")).toBe(true);
  });

  it("closes an open list on Escape even when the focus is no longer in it", async () => {
    await page.goto(`${local.url}/#/runs`);
    await page.locator("main:not([aria-busy])").waitFor();
    const cooldowns = page.locator("#guardrails #cooldowns");
    await cooldowns.locator("summary").press("Enter");
    await expect.poll(() => cooldowns.getAttribute("open")).toBe("");
    // The focus leaves the list without the person moving it (the page took it while drawn).
    await page.locator("#main").focus();
    await page.keyboard.press("Escape");

    await expect.poll(() => cooldowns.getAttribute("open")).toBeNull();
    // The page kept the focus where it was.
    expect(await page.evaluate("document.activeElement?.id")).toBe("main");
  });

  it("leaves the focus in a list opened while the page was still being drawn, so Escape closes it", async () => {
    await page.goto(`${local.url}/#/start/scale`);
    await page.locator("main:not([aria-busy]) input").first().waitFor();
    // The runs list's answer is held until the list is open: the page is drawn after the person moved focus.
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await page.route(/\/api\/executions(\?|$)/, async (route) => {
      held();
      await released;
      await route.continue();
    });
    try {
      await page.goto(`${local.url}/#/runs`);
      await holding;
      const cooldowns = page.locator("#guardrails #cooldowns");
      await cooldowns.locator("summary").press("Enter");
      await expect.poll(() => cooldowns.getAttribute("open")).toBe("");

      release();
      await page.locator("main:not([aria-busy])").waitFor();
      await page.keyboard.press("Escape");

      await expect.poll(() => cooldowns.getAttribute("open")).toBeNull();
    } finally {
      release();
      await page.unroute(/\/api\/executions(\?|$)/);
    }
  });

  it("keeps the focus in an open list when the banner is drawn again, so Escape closes it", async () => {
    await page.goto(`${local.url}/#/runs`);
    await page.locator("main:not([aria-busy])").waitFor();
    const cooldowns = page.locator("#guardrails #cooldowns");
    await cooldowns.locator("summary").press("Enter");
    await expect.poll(() => cooldowns.getAttribute("open")).toBe("");

    // A change the page did not make (someone else pauses): the banner is drawn again.
    const paused = await fetch(`${local.url}/api/guardrails/pause`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": "U789" },
      body: JSON.stringify({ reason: "someone else" }),
    });
    expect(paused.status).toBe(200);
    try {
      await page.locator("#paused-banner").waitFor();
      expect(await cooldowns.getAttribute("open")).toBe("");
      await page.keyboard.press("Escape");

      await expect.poll(() => cooldowns.getAttribute("open")).toBeNull();
    } finally {
      const resumed = await fetch(`${local.url}/api/guardrails/resume`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-reflex-actor": "U789" },
        body: "{}",
      });
      expect(resumed.status).toBe(200);
      await page.locator("#paused-banner").waitFor({ state: "detached" });
    }
  });

  it("lists locks and cooldowns from GET /api/guardrails, each lock linked to its holder run", async () => {
    const until = new Date(Date.now() + 8 * 60_000 + 30_000).toISOString();
    await page.route("**/api/guardrails", async (route) => {
      const real = await route.fetch();
      const body = await real.json();
      await route.fulfill({
        response: real,
        json: {
          ...body,
          locks: [
            {
              key: "asg:web",
              executionId: "scale-20261130T100000Z-abc123",
              runbook: "scale",
              since: new Date(Date.now() - 60_000).toISOString(),
              expiresAt: new Date(Date.now() + 14 * 60_000).toISOString(),
            },
          ],
          cooldowns: [
            { key: "web-cpu-high/web", runbook: "scale", until },
            { key: "web-cpu-low/web", runbook: "scale", until: new Date(Date.now() - 1000).toISOString() },
          ],
        },
      });
    });
    try {
      await page.goto(`${local.url}/#/runs`);
      const locks = page.locator("#guardrails #locks");
      const cooldowns = page.locator("#guardrails #cooldowns");
      await expect
        .poll(() => locks.locator("summary").textContent(), { timeout: 10_000 })
        .toBe("🔒 1 lock held");
      // A cooldown that has run out is not "running".
      expect(await cooldowns.locator("summary").textContent()).toBe("⏳ 1 cooldown running");

      await locks.locator("summary").focus();
      await page.keyboard.press("Enter");
      const lock = locks.locator('li[data-lock="asg:web"]');
      expect(await lock.textContent()).toMatch(
        /^asg:web held by scale scale-20261130T100000Z-abc123 since .+ · lease until /,
      );
      expect(await lock.locator("a").getAttribute("href")).toBe("#/runs/scale-20261130T100000Z-abc123");
      expect(await lock.locator("time").first().getAttribute("title")).toMatch(/ UTC$/);

      await cooldowns.locator("summary").click();
      const cooldown = cooldowns.locator("li");
      expect(await cooldown.textContent()).toMatch(
        /^web-cpu-high\/web \(scale\) until .+ — 8 min( \d+ s)? left$/,
      );
      // Opening one list closes the other, as a menu does; the open one stays open across the
      // banner's refreshes, and never covers Pause.
      expect(await locks.getAttribute("open")).toBeNull();
      // Each answer here is new (the lock's `since`), so the banner is drawn again: wait for that
      // (the list drawn now is a new element), not for time.
      await cooldowns.evaluate((el) => el.setAttribute("data-drawn-before", ""));
      await expect
        .poll(() => page.locator("#guardrails #cooldowns[data-drawn-before]").count(), { timeout: 10_000 })
        .toBe(0);
      expect(await cooldowns.getAttribute("open")).toBe("");
      await page.locator("#guardrails button.danger").click({ trial: true, timeout: 2000 });
    } finally {
      await page.unroute("**/api/guardrails");
    }
  });

  it("shows the Pause banner with who paused and why, and Resume clears it", async () => {
    await page.goto(`${local.url}/#/runs`);
    await page.fill("#actor", "U789");
    await page.dispatchEvent("#actor", "change");
    await page.fill('#guardrails input[name="reason"]', "database migration");
    await page.click("#guardrails button.danger");

    const banner = page.locator("#paused-banner");
    await banner.waitFor({ timeout: 10_000 });
    expect(await banner.textContent()).toContain("Automatic runs paused by U789: database migration");
    expect((await api(local, "GET", "/api/guardrails")).body).toMatchObject({
      paused: true,
      pausedBy: "U789",
    });
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, "console-runs.png") });

    await page.click("#guardrails button.primary");
    await banner.waitFor({ state: "detached", timeout: 10_000 });
    expect((await api(local, "GET", "/api/guardrails")).body.paused).toBe(false);
  });

  it("keeps a Pause reason being typed, and its focus, when a refresh draws the form again", async () => {
    await page.goto(`${local.url}/#/runs`);
    const reason = page.locator('#guardrails input[name="reason"]');
    await reason.waitFor();
    // The guardrails answer asked for after the person changes is held until the reason is typed,
    // then answered with something new, as a refresh under load would.
    const held: Route[] = [];
    await page.route("**/api/guardrails", async (route) => {
      if (route.request().headers()["x-reflex-actor"] !== "U790") return route.continue();
      held.push(route);
    });
    try {
      await page.fill("#actor", "U790");
      await page.dispatchEvent("#actor", "change");
      await expect.poll(() => held.length, { timeout: 10_000 }).toBeGreaterThan(0);
      await reason.evaluate((el) => el.setAttribute("data-typed-into", ""));
      await reason.fill("database migration");
      await page.keyboard.press("ArrowLeft");
      for (const route of held.splice(0)) {
        const res = await route.fetch();
        await route.fulfill({ response: res, json: { ...(await res.json()), changed: true } });
      }
      // Drawn again for U790: a new input, which must carry what was typed and the caret.
      await page.waitForFunction(
        `!document.querySelector('#guardrails input[name="reason"]')?.hasAttribute("data-typed-into")`,
        undefined,
        { timeout: 10_000 },
      );
      expect(await reason.inputValue()).toBe("database migration");
      expect(
        await page.evaluate(
          `[document.activeElement === document.querySelector('#guardrails input[name="reason"]'), document.activeElement?.selectionStart]`,
        ),
      ).toEqual([true, "database migration".length - 1]);
    } finally {
      await page.unroute("**/api/guardrails");
      await reason.fill("");
    }
  });

  it("keeps a Pause reason being typed through a refresh that could not read the guardrails", async () => {
    await page.goto(`${local.url}/#/runs`);
    const reason = page.locator('#guardrails input[name="reason"]');
    await reason.fill("disk full on db-1");
    await page.route("**/api/guardrails", (route) =>
      route.fulfill({ status: 503, json: { error: { code: "unavailable", message: "try again" } } }),
    );
    try {
      await expect
        .poll(() => page.locator("#guardrails").textContent(), { timeout: 10_000 })
        .toContain("Guardrails unavailable");
    } finally {
      await page.unroute("**/api/guardrails");
    }
    await expect
      .poll(() => page.locator("#guardrails").textContent(), { timeout: 10_000 })
      .toContain("Automation active");
    expect(await reason.inputValue()).toBe("disk full on db-1");
    await reason.fill("");
  });

  it("lists what waits on you, or says why it cannot", async () => {
    const approvals = await api(local, "GET", "/api/approvals");

    await page.goto(`${local.url}/#/approvals`);

    const text = () => page.locator("main").textContent();
    await expect
      .poll(text, { timeout: 10_000 })
      .toContain(approvals.status === 404 ? "no approvals API yet" : "Nothing is waiting on you");
  });

  it("ran without a script error", () => {
    expect(pageErrors).toEqual([]);
  });
});
