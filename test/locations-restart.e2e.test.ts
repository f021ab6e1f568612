/**
 * A fan-out over many locations outlives the process that answered it (issue 26): local mode is
 * stopped right after the 202 and started again on the same data, and the fan-out finishes —
 * every location with an outcome, none started twice — as a deployed one does after the API's
 * Lambda is frozen.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Audit, Locations, validateConfig } from "@reflex/core";
import { afterAll, describe, expect, it } from "vitest";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { type LocalMode, startLocal } from "../packages/local/src/local-mode.ts";

const dir = mkdtempSync(join(tmpdir(), "reflex-fan-out-"));
let local: LocalMode | undefined;
afterAll(async () => {
  await local?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const start = () =>
  startLocal({
    config: validateConfig({}),
    port: 0,
    quiet: true,
    dataDir: dir,
    waitMs: 20,
    snapshotDurationMs: 50,
    scheduler: false,
    cloud: SimulatedCloud.seeded({ snapshotDurationMs: 50 }),
    accounts: { count: 2, regions: ["us-east-1", "eu-west-1"] },
  });

describe("a fan-out when local mode stops right after answering", () => {
  it("finishes after a restart on the same data: every location has an outcome, no child is started twice", async () => {
    local = await start();
    const res = await fetch(`${local.url}/api/runbooks/backup-snapshot/executions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        params: { selector: { tag: { Backup: "daily" } } },
        locations: { accounts: ["*"] },
        locationConcurrency: 1,
        locationMaxErrors: "100%",
      }),
    });
    const { parentId, children } = (await res.json()) as {
      parentId: string;
      children: Array<{ executionId: string }>;
    };
    expect([res.status, children.length]).toEqual([202, 4]);
    await local.stop();
    local = undefined;
    // Stopped at once, one location at a time: most of the fan-out is left to the next process.
    local = await start();

    let done = await Locations.outcome(parentId);
    while (!done) {
      await new Promise((r) => setTimeout(r, 50));
      done = await Locations.outcome(parentId);
    }
    expect(done.locations.map((l) => l.executionId)).toEqual(children.map((c) => c.executionId));
    // A child the first process had started was closed as lost (its change may be half-done);
    // the rest were started by the resumed fan-out and succeeded.
    for (const l of done.locations) expect(["SUCCEEDED", "FAILED"]).toContain(l.status);
    expect(done.locations.filter((l) => l.status === "SUCCEEDED").length).toBeGreaterThanOrEqual(3);
    const trail = await Audit.forExecution(parentId);
    expect(trail.filter((e) => e.kind === "locations.finished")).toHaveLength(1);
    for (const c of children) {
      const started = (await Audit.forExecution(c.executionId)).filter((e) => e.kind === "execution.started");
      expect(started, c.executionId).toHaveLength(1);
    }
  });
});
