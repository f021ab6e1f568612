/**
 * A recovery drill end to end in local mode: backup-snapshot backs db-1 up, then the drill's
 * schedule fires — admitted like any scheduled start — and the restore runbook restores db-1's
 * backup into a scratch instance, checksums it, measures RTO/RPO against the config's targets
 * and deletes everything it made; the run shows in the API, the audit trail and Slack's outbox.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restore } from "../examples/runbooks/restore/index.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { manageWithSsm } from "../packages/local/src/cloud/patching-helpers.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, runAndWait, startTestLocal } from "./support/local.ts";

let local: LocalMode;
let cloud: SimulatedCloud;
let db1: string;
let scratch: string;

beforeAll(async () => {
  cloud = SimulatedCloud.seeded({
    snapshotDurationMs: 150,
    volumeCreateMs: 50,
    volumeCreatePerGiBMs: 0.1,
    volumeAttachMs: 30,
  });
  db1 = cloud.instance("db-1")?.InstanceId as string;
  const zone = cloud.instance("db-1")?.Placement?.AvailabilityZone;
  scratch = cloud.addInstance({
    name: "drill-scratch",
    availabilityZone: zone,
    tags: { "reflex:managed": "true", Role: "drill" },
  }).InstanceId as string;
  manageWithSsm(cloud, [scratch]);
  local = await startTestLocal(
    {
      runbooks: [restore],
      drills: [
        {
          name: "db-1",
          source: { instanceId: db1 },
          isolate: { instanceId: scratch },
          targets: { rtoMinutes: 30, rpoMinutes: 60 },
        },
      ],
      schedules: [
        { name: "drill-db-1", cron: "cron(0 4 ? * SUN *)", run: "restore", with: { drill: "db-1" } },
      ],
    },
    { cloud },
  );
});
afterAll(async () => local?.stop());

const drillVolumes = () => cloud.volumes().filter((v) => v.Tags?.some((t) => t.Key === "reflex:drill"));

describe("a scheduled recovery drill in local mode", () => {
  it("restores db-1's last backup into the scratch instance, verifies it, meets its targets and leaves nothing", async () => {
    const backup = await runAndWait(local, "backup-snapshot", { selector: { instanceIds: [db1] } });
    expect(backup.status).toBe("SUCCEEDED");
    const backedUp = cloud
      .snapshots()
      .filter((s) => s.Tags?.some((t) => t.Key === "reflex:execution-id" && t.Value === backup.id));
    expect(backedUp.map((s) => SimulatedCloud.tag(s, "reflex:device")).sort()).toEqual([
      "/dev/sdf",
      "/dev/xvda",
    ]);

    await local.jobs.find((j) => j.name === "drill-db-1")?.fire();
    await local.idle();

    const list = await api(local, "GET", "/api/executions?runbook=restore");
    expect(list.body.executions).toHaveLength(1);
    const run = (await api(local, "GET", `/api/executions/${list.body.executions[0].id}`)).body;
    expect(run.status).toBe("SUCCEEDED");
    expect(run.trigger).toMatchObject({ kind: "schedule", name: "drill-db-1" });
    // Admitted like any scheduled start: audited with the schedule as the actor's trigger.
    expect(run.audit.map((e: { kind: string }) => e.kind)).toContain("execution.started");
    // Restored from this backup, each device's checksum the snapshot's data.
    const verification = run.result.verification;
    expect(verification.passed).toBe(true);
    expect(verification.targets).toMatchObject({ rto: "met", rpo: "met" });
    for (const v of verification.volumes) expect(v.checksum).toBe(cloud.snapshotMarker(v.snapshotId));
    expect(verification.volumes.map((v: { snapshotId: string }) => v.snapshotId).sort()).toEqual(
      backedUp.map((s) => s.SnapshotId).sort(),
    );
    // Nothing left: by tag, by the call log, and on the scratch instance.
    expect(drillVolumes()).toEqual([]);
    const calls = cloud.calls.filter((c) => c.executionId === run.id && c.mutating && !c.error);
    const created = calls.filter((c) => c.operation === "CreateVolume");
    expect(created).toHaveLength(2);
    expect(calls.filter((c) => c.operation === "DeleteVolume")).toHaveLength(2);
    expect(cloud.instance(scratch)?.BlockDeviceMappings).toHaveLength(1);
    // Shown in Slack like any run.
    const posted = local.outbox.list({ limit: 1000 }).filter((e) => e.text.includes(run.id));
    expect(posted.length).toBeGreaterThan(0);
  });
});
