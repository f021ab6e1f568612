/**
 * A drill killed for real: `reflex start` runs as a child process on a data dir, a drill of the
 * seeded db-2 restores its two volumes and attaches them to its scratch instance, and the
 * process is killed with SIGKILL there (no teardown, no shutdown hook, no save but the ones the
 * simulated cloud made as it went). Started again on the same dir, the cloud comes back from
 * `cloud.json` with the drill's volumes still attached, and the reconciler closes the lost run
 * and sweeps them: 0 drill volumes left in the cloud (as the API and the saved file say), each
 * deleted by a DeleteVolume in the restarted process's call log.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { manageWithSsm, setPatchingSettings } from "../packages/local/src/cloud/patching-helpers.ts";
import { call, dataDir, kill, savedCloud, startChild, stopChildren, until } from "./support/child.ts";

const CONFIG = "test/fixtures/drill-crash.config.ts";
const DB2 = "i-21c58c1cfa5683372";
const DB3 = "i-daaf632145d556c82";
const HOUR = 3_600_000;

afterAll(stopChildren);

/** The saved account's volumes a drill made (restore tags each `reflex:drill=<name>` on create). */
type SavedVolume = { id: string; tags: Array<{ Key: string; Value: string }>; attachment?: unknown };
const drillVolumes = (dir: string): SavedVolume[] =>
  (savedCloud(dir).regions["us-east-1"].volumes as SavedVolume[]).filter((v) =>
    v.tags.some((t) => t.Key === "reflex:drill" && t.Value === "db-2"),
  );

/** The seeded account on the data dir, with a completed Reflex backup set of db-2 and a checksum that never ends. */
function prepare(dir: string): void {
  const cloud = SimulatedCloud.seeded({ persistPath: join(dir, "cloud.json") });
  cloud.batch(() => {
    const db2 = cloud.instance(DB2);
    for (const m of db2?.BlockDeviceMappings ?? [])
      cloud.addSnapshot({
        volumeId: m.Ebs?.VolumeId,
        state: "completed",
        startTime: Date.now() - HOUR,
        tags: {
          "reflex:managed": "true",
          "reflex:runbook": "backup-snapshot",
          "reflex:execution-id": "backup-db-2",
          "reflex:source-instance": DB2,
          "reflex:source-volume": m.Ebs?.VolumeId as string,
          "reflex:device": m.DeviceName as string,
        },
      });
    manageWithSsm(cloud, [DB3]);
    // The drill is caught with its volumes attached, its checksum running.
    setPatchingSettings(cloud, { commandDurationMs: 10 * HOUR });
  });
}

describe("a drill killed with SIGKILL mid-way", () => {
  it("leaves 0 drill volumes after the restart's sweep, in the cloud's state and in its call log", async () => {
    const dir = dataDir();
    prepare(dir);
    const doomed = await startChild(dir, CONFIG);
    const started = await call(doomed.url, "POST", "/api/runbooks/restore/executions", {
      params: { drill: "db-2" },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = started.body.executionId as string;
    const made = await until("the drill's two volumes attached to db-3", async () => {
      const vs = drillVolumes(dir);
      return vs.length === 2 && vs.every((v) => v.attachment) ? vs.map((v) => v.id).sort() : undefined;
    });

    await kill(doomed);
    expect(
      drillVolumes(dir)
        .map((v) => v.id)
        .sort(),
    ).toEqual(made);

    const restarted = await startChild(dir, CONFIG);
    const run = (await call(restarted.url, "GET", `/api/executions/${id}`)).body;
    expect(run).toMatchObject({ status: "ABORTED", error: "ExecutionLost" });
    expect(run.attention.report.swept.left).toEqual([]);
    expect([...run.attention.report.swept.deleted].sort()).toEqual(made);
    // The cloud, as the restarted server answers it and as it saved it: none of them is left.
    const account = (await call(restarted.url, "GET", "/api/cloud")).body;
    const ids = new Set(account.volumes.map((v: { volumeId: string }) => v.volumeId));
    expect(made.filter((v) => ids.has(v))).toEqual([]);
    expect(drillVolumes(dir)).toEqual([]);
    expect(
      savedCloud(dir).regions["us-east-1"].instances.find((i: { id: string }) => i.id === DB3).devices,
    ).toHaveLength(2);
    // The call log of the restarted process: each was detached and deleted, and the delete succeeded.
    const calls = (await call(restarted.url, "GET", "/api/cloud/calls?mutating=true")).body.calls as Array<{
      operation: string;
      outcome: string;
      digest: string;
    }>;
    // The log shows each call's params as a digest (sha256 of the JSON, 12 hex digits).
    const digest = (volumeId: string) =>
      createHash("sha256")
        .update(JSON.stringify({ VolumeId: volumeId }))
        .digest("hex")
        .slice(0, 12);
    const deletes = calls.filter((c) => c.operation === "DeleteVolume" && c.outcome === "ok");
    expect(deletes.map((c) => c.digest).sort()).toEqual(made.map(digest).sort());
  });
});
