/**
 * The listing filters of the JSON API (`GET /api/executions?status&runbook&since`,
 * `GET /api/audit?execution&actor&kind&since`), paged across filtered index pages, and what
 * `GET /api/guardrails` says is held: locks and running cooldowns.
 */
import { Audit, Executions, Gate, Locks } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, startTestLocal } from "./support/local.ts";

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal();
});
afterAll(async () => local?.stop());

const MINUTE = 60_000;
const NOW = Date.now();

/** A listed execution of `runbook`, started `minutesAgo`, closed with `status` unless RUNNING. */
async function execution(
  id: string,
  runbook: string,
  minutesAgo: number,
  status: "RUNNING" | "SUCCEEDED" | "FAILED" = "RUNNING",
): Promise<void> {
  const at = new Date(NOW - minutesAgo * MINUTE);
  await Executions.create(
    { id, runbook, dryRun: false, params: {}, trigger: { kind: "manual", actor: "test" } },
    at,
  );
  if (status !== "RUNNING") await Executions.complete(id, { status }, at);
}

/** Every page of a listing, following `next`; the ids in order and the pages' sizes. */
async function walk(path: string, field: "executions" | "entries") {
  const ids: string[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const res = await api(local, "GET", `${path}${cursor ? `&cursor=${cursor}` : ""}`);
    expect(res.status).toBe(200);
    ids.push(...res.body[field].map((x: { id: string }) => x.id));
    sizes.push(res.body[field].length);
    cursor = res.body.next;
    if (!cursor) return { ids, sizes };
  }
  throw new Error("the listing did not end");
}

describe("GET /api/executions filters", () => {
  // 12 `filt-a` runs (every third FAILED, the rest SUCCEEDED), newest first by id, among 250
  // `filt-b` runs started between them, so a filtered page reads several index pages.
  const wantedA: string[] = [];
  const failedA: string[] = [];
  beforeAll(async () => {
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 12; i++) {
      const id = `filt-a-${String(i).padStart(2, "0")}`;
      const status = i % 3 === 0 ? "FAILED" : "SUCCEEDED";
      writes.push(execution(id, "filt-a", 1000 + i * 30, status));
      wantedA.push(id);
      if (status === "FAILED") failedA.push(id);
    }
    for (let j = 0; j < 250; j++) writes.push(execution(`filt-b-${j}`, "filt-b", 1001 + j * 1.4));
    await Promise.all(writes);
  });

  it("lists only one runbook's runs, newest first, across pages filled from several index pages", async () => {
    const { ids, sizes } = await walk("/api/executions?runbook=filt-a&limit=5", "executions");

    expect(ids).toEqual(wantedA);
    expect(sizes).toEqual([5, 5, 2]);
  });

  it("filters by status, case-insensitively and by several statuses", async () => {
    const failed = await walk("/api/executions?runbook=filt-a&status=failed&limit=2", "executions");
    const both = await api(local, "GET", "/api/executions?runbook=filt-a&status=FAILED,succeeded&limit=50");
    const running = await api(local, "GET", "/api/executions?status=RUNNING&limit=500");

    expect(failed.ids).toEqual(failedA);
    expect(both.body.executions.map((e: { id: string }) => e.id)).toEqual(wantedA);
    expect(running.body.executions.every((e: { runbook: string }) => e.runbook === "filt-b")).toBe(true);
    expect(running.body.executions).toHaveLength(250);
  });

  it("lists only runs started since an instant or a duration ago, and stops there", async () => {
    const since = new Date(NOW - 1100 * MINUTE).toISOString();
    const byInstant = await walk(`/api/executions?runbook=filt-a&since=${since}&limit=2`, "executions");
    const byDuration = await api(local, "GET", "/api/executions?runbook=filt-a&since=1100m");

    expect(byInstant.ids).toEqual(wantedA.slice(0, 4));
    expect(byDuration.body.executions.map((e: { id: string }) => e.id)).toEqual(wantedA.slice(0, 4));
    expect(byDuration.body.next).toBeUndefined();
  });

  it("ends a listing whose cursor lies before `since` instead of failing", async () => {
    const first = await api(local, "GET", "/api/executions?runbook=filt-a&limit=11");
    const res = await api(local, "GET", `/api/executions?since=1h&cursor=${first.body.next}`);

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ executions: [] });
  });

  it.each([
    ["status", "status=RUNNING,DONE"],
    ["status", "status="],
    ["since", "since=yesterday"],
    ["since", "since=2026-13-01T00:00:00Z"],
    ["since", "since=-5m"],
    ["runbook", `runbook=${"r".repeat(200)}`],
  ])("answers 400 naming %s for %s", async (param, query) => {
    const res = await api(local, "GET", `/api/executions?${query}`);

    expect(res.status).toBe(400);
    expect(res.body.error.path).toBe(param);
  });
});

describe("GET /api/audit filters", () => {
  const actor = `test:auditor-${Math.random().toString(36).slice(2, 8)}`;
  const ofRun: string[] = [];
  beforeAll(async () => {
    // Newest first: entries over three days, 40 of them by `actor`, every fourth about one run.
    for (let i = 39; i >= 0; i--) {
      const entry = await Audit.record(
        {
          kind: i % 2 === 0 ? "test.even" : "test.odd",
          actor,
          reason: `entry ${i}`,
          executionId: i % 4 === 0 ? "filt-audit-run" : undefined,
        },
        new Date(NOW - i * 100 * MINUTE),
      );
      if (i % 4 === 0) ofRun.unshift(entry.id);
    }
  });

  it("lists one actor's entries, one kind of them, newest first, across days and pages", async () => {
    const all = await walk(`/api/audit?actor=${encodeURIComponent(actor)}&limit=7`, "entries");
    const odd = await walk(`/api/audit?actor=${encodeURIComponent(actor)}&kind=test.odd&limit=3`, "entries");

    expect(all.ids).toHaveLength(40);
    expect(new Set(all.ids).size).toBe(40);
    expect(odd.ids).toHaveLength(20);
    const entries = (await api(local, "GET", `/api/audit?actor=${encodeURIComponent(actor)}&limit=500`)).body
      .entries as Array<{ at: string; kind: string }>;
    expect(entries.map((e) => e.at)).toEqual([...entries.map((e) => e.at)].sort().reverse());
  });

  it("lists one execution's entries, and only those since a time", async () => {
    const run = await walk("/api/audit?execution=filt-audit-run&limit=4", "entries");
    const recent = await walk(`/api/audit?actor=${encodeURIComponent(actor)}&since=450m&limit=2`, "entries");

    expect(run.ids).toEqual(ofRun);
    expect(recent.ids).toHaveLength(5);
  });

  it.each([
    ["since", "since=soon"],
    ["execution", "execution=not%20an%20id"],
    ["actor", `actor=${"a".repeat(300)}`],
  ])("answers 400 naming %s for %s", async (param, query) => {
    const res = await api(local, "GET", `/api/audit?${query}`);

    expect(res.status).toBe(400);
    expect(res.body.error.path).toBe(param);
  });
});

describe("GET /api/guardrails: locks and cooldowns", () => {
  it("lists held locks with their holder and runbook, and running cooldowns, not expired ones", async () => {
    await execution("guard-holder", "scale", 1);
    expect(await Locks.acquire("asg:guard-web", "guard-holder", 10 * MINUTE)).toBe(true);
    expect(await Locks.acquire("asg:guard-old", "guard-gone", MINUTE, NOW - 5 * MINUTE)).toBe(true);
    await Gate.Guardrails.takeCooldown(
      "guard-rule",
      "asg:guard-web",
      10 * MINUTE,
      "guard-holder",
      NOW,
      "scale",
    );
    await Gate.Guardrails.takeCooldown("guard-rule", "asg:guard-old", MINUTE, "x", NOW - 5 * MINUTE, "scale");

    const res = await api(local, "GET", "/api/guardrails");

    expect(res.status).toBe(200);
    expect(res.body.locks).toEqual([
      {
        key: "asg:guard-web",
        target: "asg:guard-web",
        executionId: "guard-holder",
        runbook: "scale",
        since: expect.any(String),
        expiresAt: expect.any(String),
      },
    ]);
    expect(Date.parse(res.body.locks[0].expiresAt)).toBeGreaterThan(Date.now());
    expect(res.body.cooldowns).toEqual([
      {
        key: "guard-rule#asg:guard-web",
        rule: "guard-rule",
        target: "asg:guard-web",
        runbook: "scale",
        executionId: "guard-holder",
        until: new Date(NOW + 10 * MINUTE).toISOString(),
      },
    ]);
  });
});
