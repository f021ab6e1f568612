/**
 * restore in place, root volume, through the test kit: the instance's root put back from its
 * own backup (CreateReplaceRootVolumeTask), a snapshot of another lineage refused before any
 * change, and a replacement that ends failed-detached paging a person, failing the run and
 * putting the kept original back.
 */
import type { FaultSpec, SimulatedCloud } from "@reflex/local/cloud/index";
import {
  callsOutsidePermissions,
  mutatingCalls,
  openSimulation,
  type SimulationSession,
  simulate,
} from "@reflex/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lineageOf } from "./in-place.ts";
import { restore } from "./index.ts";
import { implementation } from "./steps.ts";

const HOUR = 3_600_000;
const DEVICES = ["/dev/xvda", "/dev/sdf"];
const MANAGED = { "reflex:managed": "true" };
// In place is risk high: approval required by default; these runs are approved by policy.
const config = { approvals: { policies: [{ runbooks: ["restore"], require: false }] } };

interface Fixture {
  app: string;
  other: string;
  root: string;
  /** app's backup 2 h ago: root and data snapshot; other's root backup. */
  rootSnap: string;
  dataSnap: string;
  otherRootSnap: string;
}
let fx: Fixture;

function backup(cloud: SimulatedCloud, instanceId: string, run: string, marker: string): string[] {
  const i = cloud.instance(instanceId);
  return (i?.BlockDeviceMappings ?? []).map((m, n) => {
    const volumeId = m.Ebs?.VolumeId as string;
    cloud.writeVolume(volumeId, `${marker}${n}`.padEnd(64, "0"));
    return cloud.addSnapshot({
      volumeId,
      state: "completed",
      startTime: Date.now() - 2 * HOUR,
      tags: {
        ...MANAGED,
        "reflex:runbook": "backup-snapshot",
        "reflex:execution-id": run,
        "reflex:source-instance": instanceId,
        "reflex:source-volume": volumeId,
        "reflex:device": DEVICES[n],
      },
    }).SnapshotId as string;
  });
}

function setup(cloud: SimulatedCloud) {
  const app = cloud.addInstance({ name: "app-1", volumeSizes: [8, 20], tags: MANAGED }).InstanceId as string;
  const other = cloud.addInstance({ name: "app-2", tags: MANAGED }).InstanceId as string;
  const [rootSnap, dataSnap] = backup(cloud, app, "backup-1", "a");
  const [otherRootSnap] = backup(cloud, other, "backup-2", "b");
  const root = rootOf(cloud, app) as string;
  cloud.writeVolume(root, "f".repeat(64)); // written after the backup: what the restore replaces
  fx = { app, other, root, rootSnap, dataSnap, otherRootSnap };
}

const rootOf = (cloud: SimulatedCloud, id: string) =>
  cloud.instance(id)?.BlockDeviceMappings?.find((m) => m.DeviceName === "/dev/xvda")?.Ebs?.VolumeId;

describe("restore in place (root volume)", () => {
  it("plans in a dry-run (the snapshot, the root it replaces and keeps) with no mutating call", async () => {
    const s = await simulate(restore, {
      setup,
      config,
      params: () => ({ source: { instanceId: fx.app }, mode: "in-place" }),
      dryRun: true,
    });
    expect(s.run.status).toBe("SUCCEEDED");
    expect(mutatingCalls(s)).toEqual([]);
    expect(s.outcome.summary).toContain(
      `would replace the root volume of ${fx.app} (/dev/xvda) with one restored from ${fx.rootSnap}, in place`,
    );
    expect(s.run.result?.plan).toMatchObject({
      inPlace: { instanceId: fx.app, keptVolumeId: fx.root, snapshotId: fx.rootSnap },
    });
  });

  it("replaces the root from the instance's own backup: its data is the snapshot's, the original kept detached, ClientToken = the run", async () => {
    const s = await simulate(restore, {
      setup,
      config,
      params: () => ({ source: { instanceId: fx.app }, mode: "in-place" }),
    });
    expect(s.run.status, `${s.run.error}: ${s.run.cause}`).toBe("SUCCEEDED");
    expect(callsOutsidePermissions(s)).toEqual([]);
    const root = rootOf(s.cloud, fx.app) as string;
    expect(root).not.toBe(fx.root);
    expect(s.cloud.volumeMarker(root)).toBe(s.cloud.snapshotMarker(fx.rootSnap));
    expect(s.cloud.volumes().find((v) => v.VolumeId === fx.root)?.State).toBe("available");
    const creates = s.calls.filter((c) => c.operation === "CreateReplaceRootVolumeTask");
    expect(creates).toHaveLength(1);
    expect(creates[0].input).toMatchObject({
      InstanceId: fx.app,
      SnapshotId: fx.rootSnap,
      DeleteReplacedRootVolume: false,
      ClientToken: s.run.id,
    });
    expect(s.outcome.targets).toEqual([expect.objectContaining({ id: fx.app, status: "succeeded" })]);
  });

  it("is risk high in place: with the default policies it needs a person's approval", async () => {
    const session = await openSimulation(restore, { setup });
    try {
      const res = await fetch(`${session.url}/api/runbooks/restore/executions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-reflex-actor": "cli:test" },
        body: JSON.stringify({ params: { source: { instanceId: fx.app }, mode: "in-place" } }),
      });
      expect(res.status).toBe(202);
      const { executionId } = (await res.json()) as { executionId: string };
      type Run = { status: string; approval?: { required: boolean; reasons: string[] } };
      // Wait for the state (the run waiting for a person), then look at what it changed: nothing.
      let run: Run | undefined;
      for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
        run = (await (await fetch(`${session.url}/api/executions/${executionId}`)).json()) as Run;
        if (run.status !== "RUNNING") break;
      }
      expect(run?.status).toBe("WAITING_FOR_APPROVAL");
      expect(run?.approval).toMatchObject({ required: true, reasons: ["policy: high risk in dev"] });
      const changed = session.cloud.calls.filter((c) => c.mutating && c.executionId === executionId);
      expect(changed.map((c) => c.operation)).toEqual([]);
      // Aborted, so local mode stops at once instead of waiting out the approval.
      const aborted = await fetch(`${session.url}/api/executions/${executionId}/abort`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-reflex-actor": "cli:test" },
        body: JSON.stringify({ reason: "test over", now: true }),
      });
      expect(aborted.status).toBeLessThan(300);
    } finally {
      await session.close();
    }
  });

  it("refuses a snapshot of another volume lineage at admission (400 ForeignLineage), with no mutating call", async () => {
    const session = await openSimulation(restore, { setup, config });
    try {
      for (const [snapshotId, why] of [
        [fx.dataSnap, "/dev/sdf"],
        [fx.otherRootSnap, fx.other],
      ]) {
        const res = await fetch(`${session.url}/api/runbooks/restore/executions`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-reflex-actor": "cli:test" },
          body: JSON.stringify({ params: { source: { snapshotId }, instanceId: fx.app, mode: "in-place" } }),
        });
        const body = (await res.json()) as { error: { code: string; message: string; path: string } };
        expect(res.status).toBe(400);
        expect(body.error).toMatchObject({ code: "ForeignLineage", path: "source.snapshotId" });
        expect(body.error.message).toContain(why);
      }
      expect(session.cloud.calls.filter((c) => c.mutating)).toEqual([]);
      expect(rootOf(session.cloud, fx.app)).toBe(fx.root);
      // AWS replaces the root of a running instance only: a stopped one is a 409, not a run that fails.
      await session.cloud.invoke("ec2", "us-east-1", "StopInstances", { InstanceIds: [fx.other] });
      const stopped = await fetch(`${session.url}/api/runbooks/restore/executions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-reflex-actor": "cli:test" },
        body: JSON.stringify({ params: { source: { instanceId: fx.other }, mode: "in-place" } }),
      });
      expect(stopped.status).toBe(409);
      expect(((await stopped.json()) as { error: { code: string } }).error.code).toBe("InstanceNotRunning");
    } finally {
      await session.close();
    }
  });

  describe("lineage from EC2's records, not from tags (one local mode)", () => {
    let forged = "";
    let session: SimulationSession;
    beforeAll(async () => {
      session = await openSimulation(restore, {
        setup: (cloud) => {
          setup(cloud);
          // A snapshot of app-2's root, tagged (by anyone with ec2:CreateTags) as app-1's newest root backup.
          forged = cloud.addSnapshot({
            volumeId: rootOf(cloud, fx.other) as string,
            state: "completed",
            startTime: Date.now() - HOUR,
            tags: {
              ...MANAGED,
              "reflex:runbook": "backup-snapshot",
              "reflex:execution-id": "backup-3",
              "reflex:source-instance": fx.app,
              "reflex:source-volume": fx.root,
              "reflex:device": "/dev/xvda",
            },
          }).SnapshotId as string;
        },
        config,
      });
    });
    afterAll(() => session?.close());

    it("refuses a snapshot whose tags claim the instance's root but which EC2 records as another volume's (forged tags): 400 ForeignLineage, no mutating call", async () => {
      for (const [params, path] of [
        [{ source: { snapshotId: forged }, instanceId: fx.app, mode: "in-place" }, "source.snapshotId"],
        // The newest set by its tags is the forged one: refused, never swapped in.
        [{ source: { instanceId: fx.app }, mode: "in-place" }, "source"],
      ] as const) {
        const res = await fetch(`${session.url}/api/runbooks/restore/executions`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-reflex-actor": "cli:test" },
          body: JSON.stringify({ params }),
        });
        const body = (await res.json()) as { error: { code: string; message: string; path: string } };
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(body.error).toMatchObject({ code: "ForeignLineage", path });
      }
      expect(session.cloud.calls.filter((c) => c.mutating)).toEqual([]);
      expect(rootOf(session.cloud, fx.app)).toBe(fx.root);
    });

    it("reads the instance's root replacements past DescribeReplaceRootVolumeTasks' first page: a root kept by the sixth is of its lineage", async () => {
      const region = "us-east-1";
      const lone = session.cloud.addInstance({ name: "lone", tags: MANAGED }).InstanceId as string;
      const replace = (tags: Array<{ Key: string; Value: string }>) =>
        session.cloud.invoke("ec2", region, "CreateReplaceRootVolumeTask", {
          InstanceId: lone,
          DeleteReplacedRootVolume: false,
          TagSpecifications: [{ ResourceType: "replace-root-volume-task", Tags: tags }],
        });
      // Five replacements by hand, then one by Reflex that kept the root it replaced (a volume of its own).
      for (let n = 0; n < 5; n++) await replace([{ Key: "by", Value: "hand" }]);
      const { VolumeId: kept } = (await session.cloud.invoke("ec2", region, "CreateVolume", {
        AvailabilityZone: session.cloud.instance(lone)?.Placement?.AvailabilityZone,
        Size: 8,
      })) as { VolumeId: string };
      await replace([{ Key: "reflex:kept-volume", Value: kept }]);

      const lineage = await lineageOf(region, rootOf(session.cloud, lone) as string, lone);

      expect(lineage.has(kept)).toBe(true);
    });

    it("takes a backup of a root it replaced earlier (EC2's chain: the root's snapshot, that snapshot's volume)", async () => {
      const params = { source: { snapshotId: fx.rootSnap }, instanceId: fx.app, mode: "in-place" };
      const first = await session.run(params);
      expect(first.run.status, `${first.run.error}: ${first.run.cause}`).toBe("SUCCEEDED");
      const replaced = rootOf(session.cloud, fx.app) as string;
      expect(replaced).not.toBe(fx.root);
      // fx.rootSnap is of fx.root, no longer the root: a root the instance had before, so still its lineage.
      const again = await session.run(params);
      expect(again.run.status, `${again.run.error}: ${again.run.cause}`).toBe("SUCCEEDED");
      const now = rootOf(session.cloud, fx.app) as string;
      expect(now).not.toBe(replaced);
      expect(session.cloud.volumeMarker(now)).toBe(session.cloud.snapshotMarker(fx.rootSnap));
    });

    it("a run killed between the replacement's start and its end (failed-detached, no root): the reconciler's sweep puts the kept root back and starts the instance", async () => {
      const kept = rootOf(session.cloud, fx.app) as string;
      session.cloud.injectFault({
        service: "ec2",
        operation: "CreateReplaceRootVolumeTask",
        kind: "outcome",
        outcome: "failed-detached",
        times: 1,
      });
      // What the lost run's ReplaceRoot step did before the process died: the task, and nothing after.
      const { ReplaceRootVolumeTask: task } = (await session.cloud.invoke(
        "ec2",
        "us-east-1",
        "CreateReplaceRootVolumeTask",
        {
          InstanceId: fx.app,
          SnapshotId: fx.rootSnap,
          DeleteReplacedRootVolume: false,
          ClientToken: "restore-lost-1",
          TagSpecifications: [
            {
              ResourceType: "replace-root-volume-task",
              Tags: [{ Key: "reflex:restore-execution", Value: "restore-lost-1" }],
            },
          ],
        },
      )) as { ReplaceRootVolumeTask: { ReplaceRootVolumeTaskId: string } };
      expect(rootOf(session.cloud, fx.app)).toBeUndefined();
      const lost = {
        id: "restore-lost-1",
        params: { source: { snapshotId: fx.rootSnap }, instanceId: fx.app, mode: "in-place" },
        startedAt: "",
        result: {
          plan: {
            region: "us-east-1",
            inPlace: {
              instanceId: fx.app,
              rootDevice: "/dev/xvda",
              keptVolumeId: kept,
              snapshotId: fx.rootSnap,
            },
          },
          replaceRootTask: task.ReplaceRootVolumeTaskId,
        },
      };
      const state = async () =>
        (
          (await session.cloud.invoke("ec2", "us-east-1", "DescribeReplaceRootVolumeTasks", {
            ReplaceRootVolumeTaskIds: [task.ReplaceRootVolumeTaskId],
          })) as { ReplaceRootVolumeTasks: Array<{ TaskState: string }> }
        ).ReplaceRootVolumeTasks[0]?.TaskState;
      // Still under way: the sweep cannot decide, and changes nothing.
      if ((await state()) !== "failed-detached") {
        const early = (await implementation.sweepLost?.(lost as never)) as { undecided?: string };
        expect(early.undecided).toContain("is still");
        for (const end = Date.now() + 30_000; Date.now() < end && (await state()) !== "failed-detached"; )
          await new Promise((r) => setTimeout(r, 20));
      }
      expect(await state()).toBe("failed-detached");

      const swept = (await implementation.sweepLost?.(lost as never)) as { undecided?: string; note: string };

      expect(swept.undecided, swept.note).toBeUndefined();
      expect(rootOf(session.cloud, fx.app)).toBe(kept);
      expect(session.cloud.instance(fx.app)?.State?.Name).toBe("running");
    });
  });

  it("pages a person when the replacement ends failed-detached, fails the run and puts the original root back; failed changes nothing", async () => {
    const fault: FaultSpec = {
      service: "ec2",
      operation: "CreateReplaceRootVolumeTask",
      kind: "outcome",
      outcome: "failed-detached",
      times: 1,
    };
    const session = await openSimulation(restore, {
      setup: (cloud) => {
        setup(cloud);
        cloud.injectFault(fault);
      },
      config: { ...config, chatops: { channel: "C0NCALL" } },
    });
    try {
      const s = await session.run({ source: { instanceId: fx.app }, mode: "in-place" });
      expect(s.run.status).toBe("FAILED");
      expect(s.run.error).toBe("RestoreFailed");
      // The page: a lifecycle event for a person, naming the run and the state, before the run ended.
      const { events } = (await (await fetch(`${session.url}/api/lifecycle`)).json()) as {
        events: Array<{ "detail-type": string; detail: { executionId: string; reason: string } }>;
      };
      const page = events.find((e) => e["detail-type"] === "Reflex Attention Needed");
      expect(page?.detail).toMatchObject({ executionId: s.run.id });
      expect(page?.detail.reason).toContain("failed-detached");
      expect(s.run.result?.page).toMatchObject({ reason: page?.detail.reason });
      // Slack gets it, from the run's record.
      const outbox = JSON.stringify(await (await fetch(`${session.url}/api/outbox`)).json());
      expect(outbox).toContain(`needs a person now: the root volume replacement`);
      // The kept original is the root again, and the instance runs on it.
      expect(rootOf(s.cloud, fx.app)).toBe(fx.root);
      expect(s.cloud.volumeMarker(fx.root)).toBe("f".repeat(64));
      expect(s.cloud.instance(fx.app)?.State?.Name).toBe("running");
      expect(s.outcome.targets).toEqual([expect.objectContaining({ id: fx.app, status: "rolled-back" })]);
      expect(callsOutsidePermissions(s)).toEqual([]);

      // `failed` changes nothing: the run fails, nobody is paged, the instance is never stopped.
      session.cloud.injectFault({ ...fault, outcome: "failed" });
      const again = await session.run({ source: { instanceId: fx.app }, mode: "in-place" });
      expect(again.run.status).toBe("FAILED");
      expect(again.run.result?.page).toBeUndefined();
      expect(again.calls.filter((c) => c.mutating).map((c) => c.operation)).toEqual([
        "CreateReplaceRootVolumeTask",
      ]);
      expect(rootOf(again.cloud, fx.app)).toBe(fx.root);
    } finally {
      await session.close();
    }
  });
});
