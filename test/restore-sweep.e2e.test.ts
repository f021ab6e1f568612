/**
 * A drill lost mid-way: local mode stops while the drill's restored volume is attached to the
 * scratch instance (the engine leaves the run RUNNING, as a killed process does; no teardown
 * runs), and starts again on the same data. The reconciler closes the lost run and sweeps what
 * it made — by the run's tag and by the ids it recorded, a volume whose tag was removed
 * included — so no drill volume is left to bill, and the drill's history says so.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateConfig } from "@reflex/core";
import { afterAll, describe, expect, it } from "vitest";
import { restore } from "../examples/runbooks/restore/index.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { manageWithSsm, setPatchingSettings } from "../packages/local/src/cloud/patching-helpers.ts";
import { type LocalMode, startLocal } from "../packages/local/src/local-mode.ts";
import { until } from "./support/child.ts";
import { api } from "./support/local.ts";

const HOUR = 3_600_000;
const MANAGED = { "reflex:managed": "true" };
const dir = mkdtempSync(join(tmpdir(), "reflex-sweep-"));
let local: LocalMode | undefined;
afterAll(async () => {
  await local?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function account() {
  const cloud = SimulatedCloud.seeded({ volumeCreateMs: 20, volumeCreatePerGiBMs: 0.1, volumeAttachMs: 20 });
  const app = cloud.addInstance({ name: "app-1", volumeSizes: [8, 20], tags: MANAGED });
  const scratch = cloud.addInstance({ name: "scratch-1", tags: MANAGED }).InstanceId as string;
  manageWithSsm(cloud, [scratch]);
  // The checksum command never ends: the drill is caught with its volumes attached.
  setPatchingSettings(cloud, { commandDurationMs: 10 * HOUR });
  const source = app.InstanceId as string;
  for (const [i, m] of (app.BlockDeviceMappings ?? []).entries())
    cloud.addSnapshot({
      volumeId: m.Ebs?.VolumeId,
      state: "completed",
      startTime: Date.now() - HOUR,
      tags: {
        ...MANAGED,
        "reflex:runbook": "backup-snapshot",
        "reflex:execution-id": "backup-1",
        "reflex:source-instance": source,
        "reflex:source-volume": m.Ebs?.VolumeId as string,
        "reflex:device": i === 0 ? "/dev/xvda" : "/dev/sdf",
      },
    });
  return { cloud, source, scratch };
}

const start = (cloud: SimulatedCloud, source: string, scratch: string) =>
  startLocal({
    config: validateConfig({
      runbooks: [restore],
      drills: [
        {
          name: "app-1",
          source: { instanceId: source },
          isolate: { instanceId: scratch },
          targets: { rtoMinutes: 30, rpoMinutes: 600 },
        },
      ],
    }),
    port: 0,
    quiet: true,
    dataDir: dir,
    waitMs: 20,
    scheduler: false,
    cloud,
  });

const drillVolumes = (cloud: SimulatedCloud) =>
  cloud.volumes().filter((v) => SimulatedCloud.tag(v, "reflex:runbook") === "restore");

describe("a drill lost mid-way", () => {
  it("is swept by the reconciler when local mode starts again: its volumes detached and deleted, the untagged one found by id, the drill marked lost and swept", async () => {
    const { cloud, source, scratch } = account();
    local = await start(cloud, source, scratch);
    const started = await api(local, "POST", "/api/runbooks/restore/executions", {
      params: { drill: "app-1" },
    });
    expect(started.status).toBe(202);
    const id = started.body.executionId as string;
    // Both restored volumes attached to the scratch instance, the checksum running: lose the run here.
    const attached = await until("the drill's volumes attached", async () => {
      const vs = drillVolumes(cloud);
      return vs.length === 2 && vs.every((v) => v.Attachments?.[0]?.State === "attached") ? vs : undefined;
    });
    // Someone removed the run's tag from one: the sweep must still find it, by the id the run recorded.
    const untagged = attached[1]?.VolumeId as string;
    await cloud.invoke("ec2", "us-east-1", "DeleteTags", {
      Resources: [untagged],
      Tags: [{ Key: "reflex:restore-execution" }],
    });
    await local.stop();
    local = undefined;
    expect(drillVolumes(cloud)).toHaveLength(2);

    local = await start(cloud, source, scratch);

    const run = (await api(local, "GET", `/api/executions/${id}`)).body;
    expect(run.status).toBe("ABORTED");
    expect(run.error).toBe("ExecutionLost");
    expect(run.attention.report.swept).toMatchObject({ left: [], untagged: [untagged] });
    expect([...run.attention.report.swept.deleted].sort()).toEqual(attached.map((v) => v.VolumeId).sort());
    expect(drillVolumes(cloud)).toEqual([]);
    expect(cloud.instance(scratch)?.BlockDeviceMappings).toHaveLength(1);
    const deletes = cloud.calls.filter((c) => c.operation === "DeleteVolume" && c.mutating && !c.error);
    expect(deletes.map((c) => (c.input as { VolumeId: string }).VolumeId).sort()).toEqual(
      attached.map((v) => v.VolumeId).sort(),
    );
    const { drills } = (await api(local, "GET", "/api/drills")).body;
    expect(drills[0].last).toMatchObject({
      executionId: id,
      verdict: "lost",
      cleanup:
        "swept by the reconciler after the run was lost: 2 volume(s) deleted (1 had lost their tag: " +
        untagged +
        ")",
    });
  });
});
