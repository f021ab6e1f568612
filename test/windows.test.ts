/**
 * Maintenance windows: DST-correct firing, `reflex windows`, the cutoff (no target starts after
 * it; in-flight targets finish), freezes (a window during one is suppressed and audited), and
 * config validation with paths.
 */
import { Admission, ConfigError, useConfig, validateConfig } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../packages/local/src/cli/main.ts";
import { nextWindows } from "../packages/local/src/cli/windows.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { seedPatchFleet, setPatchingSettings } from "../packages/local/src/cloud/patching-helpers.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { startScheduler } from "../packages/local/src/scheduler.ts";
import { until } from "./support/child.ts";
import { api, startTestLocal } from "./support/local.ts";

const QUICK = { pollSeconds: 1, healthTimeoutSeconds: 5, drainTimeoutSeconds: 5, commandTimeoutSeconds: 5 };
const sundayPatch = (overrides: Record<string, unknown> = {}) => ({
  name: "sunday-patch",
  cron: "cron(0 3 ? * SUN *)",
  timezone: "Europe/Berlin",
  duration: "4h",
  cutoff: "1h",
  run: "patch",
  with: { selector: { tag: { PatchGroup: "win" } }, maxConcurrency: "2", ...QUICK },
  ...overrides,
});

describe("window firing across DST", () => {
  it("fires at 03:00 Berlin time on both sides of the spring and autumn changes", () => {
    const config = validateConfig({ windows: [sundayPatch()] });
    const [job] = startScheduler(config, async () => undefined);
    try {
      // Spring forward (2026-03-29): CET (+1) before, CEST (+2) after.
      expect(job.nextRun(new Date("2026-03-20T00:00:00Z"))?.toISOString()).toBe("2026-03-22T02:00:00.000Z");
      expect(job.nextRun(new Date("2026-03-23T00:00:00Z"))?.toISOString()).toBe("2026-03-29T01:00:00.000Z");
      // Fall back (2026-10-25): CEST before, CET after.
      expect(job.nextRun(new Date("2026-10-19T00:00:00Z"))?.toISOString()).toBe("2026-10-25T02:00:00.000Z");
      expect(job.nextRun(new Date("2026-10-26T00:00:00Z"))?.toISOString()).toBe("2026-11-01T02:00:00.000Z");
    } finally {
      job.stop();
    }
  });

  it("reflex windows lists the next occurrence in its zone and in UTC, and the freeze that blocks it", () => {
    const config = validateConfig({
      windows: [sundayPatch()],
      freezes: [{ name: "spring-freeze", from: "2026-03-28T00:00:00Z", to: "2026-03-30T00:00:00Z" }],
    });

    const [before, during] = nextWindows(config, new Date("2026-03-20T00:00:00Z"), 2);

    expect(before).toMatchObject({
      name: "sunday-patch",
      local: "2026-03-22 03:00 UTC+1",
      startsAt: "2026-03-22T02:00:00.000Z",
      cutoffAt: "2026-03-22T05:00:00.000Z",
      endsAt: "2026-03-22T06:00:00.000Z",
    });
    expect(before.blockedBy).toBeUndefined();
    expect(during).toMatchObject({ local: "2026-03-29 03:00 UTC+2", startsAt: "2026-03-29T01:00:00.000Z" });
    expect(during.blockedBy?.freeze).toBe("spring-freeze");
  });

  it("reflex windows prints each occurrence as JSON, with the freeze that blocks one", async () => {
    const printed: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => printed.push(s) > 0) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main([
        "windows",
        "--config",
        "test/fixtures/windows.config.ts",
        "--from",
        "2026-12-20T00:00:00Z",
        "--count",
        "2",
        "--json",
      ]);
    } finally {
      process.stdout.write = write;
    }

    expect(code).toBe(0);
    const { windows } = JSON.parse(printed.join(""));
    expect(windows.map((w: { startsAt: string }) => w.startsAt)).toEqual([
      "2026-12-20T02:00:00.000Z",
      "2026-12-27T02:00:00.000Z",
    ]);
    expect(windows[0].blockedBy).toBeUndefined();
    expect(windows[1].blockedBy.freeze).toBe("year-end");
  });

  it("config check names the path of a bad window", () => {
    let error: ConfigError | undefined;
    try {
      validateConfig({
        windows: [sundayPatch({ cron: "cron(0 3 * * SUN *)", timezone: "Mars/Olympus", cutoff: "5h" })],
      });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const paths = error!.issues.map((i) => i.path);
    expect(paths).toContain("windows[0].cron");
    expect(paths).toContain("windows[0].timezone");
  });

  it("config check refuses a cutoff not shorter than the duration", () => {
    expect(() => validateConfig({ windows: [sundayPatch({ cutoff: "4h" })] })).toThrow(
      expect.objectContaining({
        issues: [{ path: "windows[0].cutoff", message: "cutoff must be shorter than duration" }],
      }),
    );
  });
});

describe("windows in local mode", () => {
  let local: LocalMode;
  let cloud: SimulatedCloud;
  let fleet: string[];
  beforeAll(async () => {
    cloud = SimulatedCloud.seeded({ snapshotDurationMs: 30, callLogSize: 100_000 });
    setPatchingSettings(cloud, {
      // Long enough that the first targets are still patching when the cutoff passes.
      commandDurationMs: 3000,
      rebootMs: 40,
      healthCheckMs: 20,
      deregistrationDelayMs: 30,
      replaceRootVolumeMs: 40,
    });
    fleet = seedPatchFleet(cloud, { count: 8, patchGroup: "win" });
    local = await startTestLocal(
      {
        windows: [
          sundayPatch(),
          sundayPatch({ name: "late-window", duration: "2m", cutoff: "1m" }),
          sundayPatch({ name: "frozen-window" }),
        ],
      },
      { cloud },
    );
  });
  afterAll(async () => local?.stop());

  const execution = async (id: string) => (await api(local, "GET", `/api/executions/${id}`)).body;

  it("a run crossing the cutoff starts no target after it; targets in flight finish", async () => {
    // The cutoff passes when the test moves the clock, once a target is in flight, not when the
    // machine's load happens to let it (a real 2.5 s cutoff failed whenever planning took longer).
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    try {
      await crossTheCutoff();
    } finally {
      vi.useRealTimers();
    }
  });

  async function crossTheCutoff() {
    const cutoffAt = new Date(Date.now() + 60_000);
    const before = local.cloud.lastCallSeq;

    const admission = await Admission.admit({
      runbook: "patch",
      // Timeouts longer than the clock's jump, so a target in flight finishes rather than times out.
      params: {
        ...sundayPatch().with,
        commandTimeoutSeconds: 300,
        healthTimeoutSeconds: 300,
        drainTimeoutSeconds: 300,
      },
      trigger: { kind: "window", name: "sunday-patch" },
      actor: { id: "window:sunday-patch" },
      window: {
        name: "sunday-patch",
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
        cutoffAt: cutoffAt.toISOString(),
      },
    });
    expect(admission.admitted).toBe(true);
    // A target is in flight (its patch command sent, 3 s long): now the cutoff passes.
    await until("a target's patch command", async () =>
      local.cloud.callsSince(before).some((c) => c.operation === "SendCommand") ? true : undefined,
    );
    vi.setSystemTime(cutoffAt.getTime() + 1000);
    await local.idle();

    const run = await execution(admission.admitted ? admission.execution.id : "");
    const calls = local.cloud.callsSince(before);
    for (const id of fleet) {
      const considered = calls.find(
        (c) =>
          c.operation === "DescribeInstanceInformation" &&
          JSON.stringify(c.input).includes(id) &&
          !JSON.stringify(c.input).includes(fleet.find((f) => f !== id)!),
      );
      const snapshot = calls.find(
        (c) => c.operation === "CreateSnapshot" && JSON.stringify(c.input).includes(id),
      );
      if (snapshot) expect(considered!.at).toBeLessThan(cutoffAt.getTime());
    }
    const c = run.result.compliance;
    expect(c.notStarted.cutoff).toBeGreaterThan(0);
    expect(c.patched).toBeGreaterThan(0);
    expect(c.patched + c.notStarted.cutoff).toBe(8);
    expect(
      run.result.targets
        .filter((t: { status: string }) => t.status === "not-started")
        .every((t: { reason: string }) => t.reason === "cutoff"),
    ).toBe(true);
    expect(run.status).toBe("SUCCEEDED");
  }

  it("a window fired after its cutoff reports every target not-started (cutoff) and changes nothing", async () => {
    const job = local.jobs.find((j) => j.name === "late-window")!;
    const before = local.cloud.lastCallSeq;
    const at = new Date(Date.now() - 90_000); // cutoffAt = scheduled minute + 1m: already past

    await job.fire(at);
    await local.idle();

    const stamp = new Date(Math.floor(at.getTime() / 60_000) * 60_000)
      .toISOString()
      .replace(/[^0-9TZ]/g, "")
      .slice(0, 16);
    const run = await execution(`late-window-${stamp}`);
    expect(run.window).toMatchObject({ name: "late-window" });
    expect(run.result.compliance.notStarted.cutoff).toBe(8);
    expect(local.cloud.callsSince(before).filter((c) => c.mutating)).toEqual([]);
  });

  it("a window during a freeze is suppressed, and audited with the freeze", async () => {
    const job = local.jobs.find((j) => j.name === "frozen-window")!;
    const frozen = validateConfig({
      windows: [sundayPatch(), sundayPatch({ name: "frozen-window" })],
      freezes: [
        {
          name: "patch-freeze",
          from: new Date(Date.now() - 60_000).toISOString(),
          to: new Date(Date.now() + 60_000).toISOString(),
          runbooks: ["patch"],
        },
      ],
    });
    const at = new Date();
    useConfig(frozen);
    try {
      await job.fire(at);
    } finally {
      useConfig(local.config);
    }

    const stamp = new Date(Math.floor(at.getTime() / 60_000) * 60_000)
      .toISOString()
      .replace(/[^0-9TZ]/g, "")
      .slice(0, 16);
    expect((await api(local, "GET", `/api/executions/frozen-window-${stamp}`)).status).toBe(404);
    const audit = (await api(local, "GET", "/api/audit")).body;
    const entry = audit.entries.find(
      (e: { kind: string; reason: string }) =>
        e.kind === "start.suppressed" && e.reason.includes("frozen-window"),
    );
    expect(entry?.reason).toContain("patch-freeze");
    expect(entry?.actor).toBe("window:frozen-window");
  });
});
