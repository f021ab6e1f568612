/**
 * The console signed in through an identity provider, in headless Chromium, against
 * `reflex start --sso` (a real OIDC provider on loopback): the person is the token's subject
 * through `people`, never what the page claims. One browser and one local mode for the file;
 * each person signs in in a context of their own (the IdP's session is a cookie).
 */

import { join } from "node:path";
import { type ConfigInput, validateConfig } from "@reflex/core";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { type LocalMode, startLocal } from "../packages/local/src/local-mode.ts";
import { launchChromium } from "./support/browser.ts";
import { api } from "./support/local.ts";

const CONFIG = {
  environment: "prod",
  people: [
    { name: "alice", oidc: ["alice"], slack: "UALICE" },
    { name: "bob", oidc: ["bob"] },
    { name: "carol", oidc: ["carol"] },
  ],
  console: {
    localUsers: [
      { sub: "alice", name: "Alice" },
      { sub: "bob", name: "Bob" },
      { sub: "carol", name: "Carol" },
      { sub: "mallory", name: "Mallory", email: "mallory@example.com" },
    ],
  },
  access: {
    roles: { sre: ["person:alice", "person:bob"], viewer: ["person:carol"] },
    allow: [
      { role: "sre", runbooks: ["*"], actions: ["run", "dry-run", "approve", "abort"] },
      { role: "viewer", runbooks: ["*"], actions: ["dry-run"] },
    ],
  },
  approvals: { approvers: ["sre"] },
};

/** `REFLEX_SCREENSHOTS=docs/img` also writes docs/console.md's sign-in screenshots. */
const SCREENSHOTS = process.env.REFLEX_SCREENSHOTS;

let local: LocalMode;
let browser: Browser;

/** A waiting scale, asked for by alice from Slack's identity (another channel than the console). */
async function waitingRun(): Promise<string> {
  const res = await fetch(`${local.url}/api/runbooks/scale/executions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-reflex-actor": "slack:UALICE" },
    body: JSON.stringify({ params: { autoScalingGroup: "web", change: "+1" } }),
  });
  const body = (await res.json()) as { executionId?: string };
  if (!body.executionId) throw new Error(`start failed: ${res.status} ${JSON.stringify(body)}`);
  const executionId = body.executionId;
  await expect.poll(() => runStatus(executionId), { timeout: 10_000 }).toBe("WAITING_FOR_APPROVAL");
  return executionId;
}

/** The requester withdraws a run left waiting, so the next test can lock the group again. */
async function withdraw(id: string): Promise<void> {
  await fetch(`${local.url}/api/executions/${id}/reject`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-reflex-actor": "slack:UALICE" },
    body: JSON.stringify({ reason: "test done" }),
  });
  await local.idle();
}

const runStatus = async (id: string) => (await api(local, "GET", `/api/executions/${id}`)).body.status;

const contexts = new Map<string, BrowserContext>();

/**
 * Opens the console at `route` as `sub`: through the IdP's login page the first time, and
 * straight back (the IdP's session) after that. The token is in the page's memory only, so
 * every page signs in.
 */
async function signedIn(sub: string, route = "#/approvals"): Promise<Page> {
  let context = contexts.get(sub);
  const first = !context;
  context ??= await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.set(sub, context);
  const page = await context.newPage();
  page.on("dialog", (d) => d.accept(d.defaultValue() || "from the test"));
  await page.goto(`${local.url}/${route}`);
  if (first) {
    await page.waitForURL((u) => u.origin === local.idp?.issuer);
    if (SCREENSHOTS && sub === "bob")
      await page.screenshot({ path: join(SCREENSHOTS, "console-signin.png") });
    await page.selectOption('select[name="login"]', sub);
    await page.click('button[type="submit"]');
  }
  await page.waitForURL((u) => u.origin === local.url && u.hash === route && !u.search);
  return page;
}

beforeAll(async () => {
  local = await startLocal({
    config: validateConfig(CONFIG as ConfigInput),
    port: 0,
    quiet: true,
    dataDir: null,
    waitMs: 20,
    sso: true,
    cloud: SimulatedCloud.seeded({ snapshotDurationMs: 150 }),
  });
  browser = await launchChromium();
});
afterAll(async () => {
  for (const c of contexts.values()) await c.close();
  await browser?.close();
  await local?.stop();
});

describe("the console signed in through the IdP (reflex start --sso)", () => {
  it("lets an approver sign in and approve a waiting run, and the audit names the person and the subject", async () => {
    const id = await waitingRun();
    const page = await signedIn("bob");
    expect(await page.locator("#signed-in").textContent()).toBe("Signed in as bob");
    if (SCREENSHOTS) {
      await page.locator("#guardrails button").waitFor();
      await page.screenshot({ path: join(SCREENSHOTS, "console-signed-in.png") });
    }

    const card = page.locator(`.approval[data-execution="${id}"]`);
    await card.locator("button.primary").click();

    await expect.poll(() => runStatus(id), { timeout: 10_000 }).not.toBe("WAITING_FOR_APPROVAL");
    await local.idle();
    const audit = (await api(local, "GET", `/api/audit?execution=${id}`)).body.entries as Array<{
      kind: string;
      actor: string;
      identity?: string;
    }>;
    expect(audit.find((e) => e.kind === "approval.approved")).toMatchObject({
      actor: "bob",
      identity: "oidc:bob",
    });
  });

  it("refuses the requester's own approval from the console, though they asked from Slack", async () => {
    const id = await waitingRun();
    const page = await signedIn("alice");
    const approve = page.locator(`.approval[data-execution="${id}"] button.primary`);

    // The page offers only what alice may do: her own run's Approve is off, with the reason; she may withdraw it.
    expect(await approve.isDisabled()).toBe(true);
    expect(await page.locator(`.approval[data-execution="${id}"] .why-not`).textContent()).toBe(
      "alice asked for this run and may not approve it",
    );
    expect(await page.locator(`.approval[data-execution="${id}"] button.danger`).isDisabled()).toBe(false);
    // And the server refuses it all the same when the page is bypassed.
    await approve.evaluate((b) => b.removeAttribute("disabled"));
    await approve.click();

    await expect
      .poll(() => page.locator("#flash").textContent())
      .toMatch(/asked for this run and may not approve it/);
    expect(await runStatus(id)).toBe("WAITING_FOR_APPROVAL");
    await withdraw(id);
  });

  it("shows someone who may only dry-run no action they may not take, each with the reason", async () => {
    const id = await waitingRun();
    const page = await signedIn("carol");
    const card = page.locator(`.approval[data-execution="${id}"]`);

    expect(await card.locator("button.primary").isDisabled()).toBe(true);
    expect(await card.locator("button.danger").isDisabled()).toBe(true);
    expect(await card.locator(".why-not").first().textContent()).toBe(
      "carol is not an approver of scale (roles: sre)",
    );
    expect(await page.locator("#guardrails button[type=submit]").isDisabled()).toBe(true);

    // Moved in the page (the token lives in its memory).
    await page.evaluate(`location.hash = "#/runs/${encodeURIComponent(id)}"`);
    const head = page.locator("#main .actions").first();
    await head.locator("button.danger", { hasText: "Abort" }).waitFor();
    expect(await Promise.all((await head.locator("button").all()).map((b) => b.isDisabled()))).toEqual([
      true,
      true,
      true,
    ]);
    expect(await head.textContent()).toContain("carol may not abort scale runs");

    // A dry-run she may start; a real run she may not.
    await page.evaluate(`location.hash = "#/start/scale"`);
    const start = page.getByRole("button", { name: "Start", exact: true });
    await start.waitFor();
    expect(await start.isDisabled()).toBe(false);
    await page.uncheck("#dry-run");
    expect(await start.isDisabled()).toBe(true);
    expect(await page.locator("#start-why-not").textContent()).toBe(" carol may not start scale runs");

    // bob, an approver, gets them all.
    const bobs = await signedIn("bob", `#/runs/${encodeURIComponent(id)}`);
    const bobHead = bobs.locator("#main .actions").first();
    await bobHead.locator("button.danger", { hasText: "Abort" }).waitFor();
    expect(await bobHead.locator("button:disabled").count()).toBe(0);
    await withdraw(id);
  });

  it("shows a signed-in stranger the no-access page naming them, and audits the refusal", async () => {
    const page = await signedIn("mallory", "#/runs");

    await page.getByRole("heading", { name: "No access" }).waitFor();
    expect(await page.locator("#main").textContent()).toContain(
      "oidc:mallory (Mallory, mallory@example.com)",
    );
    const refused = (await api(local, "GET", "/api/audit?kind=access.refused")).body.entries;
    expect(refused).toEqual(expect.arrayContaining([expect.objectContaining({ actor: "oidc:mallory" })]));
  });

  it("answers a token tampered in flight with 401: nothing happens, and the page asks to sign in again", async () => {
    const id = await waitingRun();
    const page = await signedIn("bob");
    // The page has its token and its modules have drawn it: a click before then would send no
    // token to tamper with.
    await page.locator("#signed-in").waitFor();
    await page.locator("body[data-live]").waitFor({ state: "attached" });
    let sentWithoutToken = false;
    // The token's payload says alice now: its signature no longer matches.
    await page.route("**/api/executions/*/approve", (route) => {
      const authorization = route.request().headers().authorization;
      if (!authorization) {
        // Left to the API (which answers 401 too), and failed below by name, not by a timeout.
        sentWithoutToken = true;
        return route.continue();
      }
      const [h, p, s] = authorization.replace(/^Bearer /, "").split(".");
      const claims = JSON.parse(Buffer.from(p, "base64url").toString());
      const forged = Buffer.from(JSON.stringify({ ...claims, sub: "alice" })).toString("base64url");
      return route.continue({
        headers: { ...route.request().headers(), authorization: `Bearer ${h}.${forged}.${s}` },
      });
    });
    const answered = page.waitForResponse("**/api/executions/*/approve");

    await page.locator(`.approval[data-execution="${id}"] button.primary`).click();

    expect((await answered).status()).toBe(401);
    expect(sentWithoutToken).toBe(false);
    const again = page.locator("#signin-banner").getByRole("button", { name: "Sign in again" });
    await again.waitFor();
    expect(await runStatus(id)).toBe("WAITING_FOR_APPROVAL");
    await withdraw(id);

    // Signing in again comes back to the page the person was on (moved to in the page), signed in.
    await page.unrouteAll();
    await page.click('nav a[href="#/runs"]');
    await page.waitForURL((u) => u.hash === "#/runs");
    await again.click();
    // The banner goes with the page it was on: the round trip through the IdP has ended (the URL
    // alone cannot say so, as the page was on #/runs before the click too).
    await page.locator("#signin-banner").waitFor({ state: "detached" });
    await page.locator("#signed-in").waitFor();
    await page.waitForURL((u) => u.origin === local.url && u.hash === "#/runs" && !u.search);
    expect(await page.locator("#signin-banner").count()).toBe(0);
  });

  it("draws no run into the first paint of a browser that has not signed in (the API refuses it too)", async () => {
    const id = await waitingRun();
    // A browser's navigation (it sends sec-fetch-site) carries no token: the API answers it 401.
    const navigation = { "sec-fetch-site": "none", "sec-fetch-mode": "navigate", accept: "text/html" };
    for (const path of [`/runs/${id}`, "/runs"]) {
      const res = await fetch(`${local.url}${path}`, { headers: navigation });
      const html = await res.text();
      expect(res.status).toBe(200);
      expect(html).not.toContain("reflex-inline");
      expect(html).not.toContain(id);
      expect(html).toContain('<main id="main" tabindex="-1"><p class="muted">Loading…</p></main>');
    }
    const api = await fetch(`${local.url}/api/executions/${id}`, { headers: navigation });
    expect(api.status).toBe(401);
    await withdraw(id);
  });

  it("says the IdP cannot be reached when it is down, and does nothing", async () => {
    await local.idp?.stop();
    const context = await browser.newContext();
    contexts.set("nobody", context);
    const page = await context.newPage();

    await page.goto(`${local.url}/#/runs`);

    await page.getByRole("heading", { name: "Cannot sign in" }).waitFor();
    expect(await page.locator("#main").textContent()).toContain(`(${local.idp?.issuer}) cannot be reached`);
  });
});
