/**
 * restore in place, data volume, through the test kit (one local mode for the file): a volume
 * restored from the instance's own backup of the device, swapped in (stop, detach, attach,
 * start) with the original kept; a failure after the swap puts the original back and deletes
 * the restored one; a dry-run makes no mutating call; a zone or region mismatch is refused.
 */
import type { SimulatedCloud } from "@reflex/local/cloud/index";
import {
  callsOutsidePermissions,
  mutatingCalls,
  openSimulation,
  type SimulationSession,
} from "@reflex/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restore } from "./index.ts";
import { implementation } from "./steps.ts";

const HOUR = 3_600_000;
const DEVICES = ["/dev/xvda", "/dev/sdf", "/dev/sdg"];
const MANAGED = { "reflex:managed": "true" };
// In place is risk high: approval required by default; these runs are approved by policy.
const config = { approvals: { policies: [{ runbooks: ["restore"], require: false }] } };

let app = "";
let data = "";
let dataSnap = "";
let session: SimulationSession;

const volumeAt = (cloud: SimulatedCloud, device: string) =>
  cloud.instance(app)?.BlockDeviceMappings?.find((m) => m.DeviceName === device)?.Ebs?.VolumeId;

function setup(cloud: SimulatedCloud) {
  app = cloud.addInstance({ name: "db-1", volumeSizes: [8, 20, 30], tags: MANAGED }).InstanceId as string;
  const snaps = (cloud.instance(app)?.BlockDeviceMappings ?? []).map((m, n) => {
    const volumeId = m.Ebs?.VolumeId as string;
    cloud.writeVolume(volumeId, `a${n}`.padEnd(64, "0"));
    return cloud.addSnapshot({
      volumeId,
      state: "completed",
      startTime: Date.now() - 2 * HOUR,
      tags: {
        ...MANAGED,
        "reflex:runbook": "backup-snapshot",
        "reflex:execution-id": "backup-1",
        "reflex:source-instance": app,
        "reflex:source-volume": volumeId,
        "reflex:device": DEVICES[n],
      },
    }).SnapshotId as string;
  });
  dataSnap = snaps[1];
  data = volumeAt(cloud, "/dev/sdf") as string;
  cloud.writeVolume(data, "f".repeat(64)); // written after the backup: what the restore replaces
}

const params = { source: { instanceId: "" }, mode: "in-place", device: "/dev/sdf" };
const start = (extra: Record<string, unknown> = {}) =>
  fetch(`${session.url}/api/runbooks/restore/executions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-reflex-actor": "cli:test" },
    body: JSON.stringify({ params: { ...params, source: { instanceId: app }, ...extra } }),
  });

beforeAll(async () => {
  session = await openSimulation(restore, { setup, config });
  // The data volume is tagged for automation (IAM lets Reflex detach only such); /dev/sdg is not.
  await session.cloud.invoke("ec2", "us-east-1", "CreateTags", {
    Resources: [data],
    Tags: Object.entries(MANAGED).map(([Key, Value]) => ({ Key, Value })),
  });
});
afterAll(() => session?.close());

describe("restore in place (data volume)", () => {
  it("plans in a dry-run (zone, the volume it swaps and keeps) with no mutating call", async () => {
    const s = await session.run({ ...params, source: { instanceId: app } }, { dryRun: true });
    expect(s.run.status, `${s.run.error}: ${s.run.cause}`).toBe("SUCCEEDED");
    expect(mutatingCalls(s)).toEqual([]);
    expect(s.outcome.summary).toContain(
      `would replace the data volume ${data} at ${app}:/dev/sdf with one restored from ${dataSnap} in us-east-1a`,
    );
    expect(s.run.result?.plan).toMatchObject({
      availabilityZone: "us-east-1a",
      inPlace: { instanceId: app, keptVolumeId: data, snapshotId: dataSnap, data: { device: "/dev/sdf" } },
    });
  });

  it("refuses a zone other than the instance's, a region without the instance and the root's snapshot for a data device, with no mutating call", async () => {
    const before = session.cloud.calls.length;
    const zone = await start({ availabilityZone: "us-east-1b" });
    expect(zone.status).toBe(400);
    expect(((await zone.json()) as { error: { code: string; path: string } }).error).toMatchObject({
      code: "ZoneMismatch",
      path: "availabilityZone",
    });
    const empty = await start({ device: "/dev/sdz" });
    expect(empty.status).toBe(409);
    expect(((await empty.json()) as { error: { code: string } }).error.code).toBe("NoVolumeAtDevice");
    const untagged = await start({ device: "/dev/sdg" });
    expect(untagged.status).toBe(409);
    const why = ((await untagged.json()) as { error: { code: string; message: string } }).error;
    expect(why.code).toBe("VolumeNotManaged");
    expect(why.message).toContain("reflex:managed=true");
    const region = await start({ region: "eu-west-1" });
    expect(region.status).toBe(400);
    expect(session.cloud.calls.slice(before).filter((c) => c.mutating)).toEqual([]);
    expect(volumeAt(session.cloud, "/dev/sdf")).toBe(data);
  });

  it("refuses a snapshot tagged as this device's backup that EC2 records as another volume's (forged tags): 400 ForeignLineage, no mutating call", async () => {
    const before = session.cloud.calls.length;
    const other = volumeAt(session.cloud, "/dev/sdg") as string;
    const forged = session.cloud.addSnapshot({
      volumeId: other,
      state: "completed",
      // Older than backup-1, so the later tests' newest set is still backup-1.
      startTime: Date.now() - 3 * HOUR,
      tags: {
        ...MANAGED,
        "reflex:runbook": "backup-snapshot",
        "reflex:execution-id": "backup-forged",
        "reflex:source-instance": app,
        "reflex:source-volume": data,
        "reflex:device": "/dev/sdf",
      },
    }).SnapshotId as string;
    const res = await start({ source: { snapshotId: forged }, instanceId: app });
    const body = (await res.json()) as { error: { code: string; message: string; path: string } };
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(body.error).toMatchObject({ code: "ForeignLineage", path: "source.snapshotId" });
    expect(body.error.message).toContain(other);
    expect(session.cloud.calls.slice(before).filter((c) => c.mutating)).toEqual([]);
    expect(volumeAt(session.cloud, "/dev/sdf")).toBe(data);
  });

  it("a run killed between the original's detach and the restored volume's attach: the reconciler's sweep puts the original back, starts the instance and deletes the orphaned restored volume", async () => {
    // Attaching the restored volume is throttled for as long as it takes: the run is caught with
    // the original detached and nothing at the device; then it is stopped with no rollback (a kill).
    const fault = session.cloud.injectFault({
      service: "ec2",
      operation: "AttachVolume",
      kind: "error",
      code: "RequestLimitExceeded",
      httpStatusCode: 503,
      match: (input) => (input as { VolumeId?: string }).VolumeId !== data,
    });
    const res = await start();
    expect(res.status).toBe(202);
    const { executionId } = (await res.json()) as { executionId: string };
    let restored = "";
    for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
      restored =
        session.cloud.volumes().find((v) => v.Tags?.some((t) => t.Value === executionId))?.VolumeId ?? "";
      const tried = session.cloud.calls.some(
        (c) => c.operation === "AttachVolume" && (c.input as { VolumeId?: string }).VolumeId === restored,
      );
      if (restored && tried && volumeAt(session.cloud, "/dev/sdf") === undefined) break;
    }
    expect(volumeAt(session.cloud, "/dev/sdf")).toBeUndefined();
    const killed = await fetch(`${session.url}/api/executions/${executionId}/abort`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": "cli:test" },
      body: JSON.stringify({ reason: "the process died", now: true }),
    });
    expect(killed.status).toBeLessThan(300);
    type Run = { status: string; params: Record<string, unknown>; result?: Record<string, unknown> };
    let run: Run | undefined;
    for (const end = Date.now() + 30_000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
      run = (await (await fetch(`${session.url}/api/executions/${executionId}`)).json()) as Run;
      if (run.status !== "RUNNING") break;
    }
    expect(run?.status).toBe("ABORTED");
    session.cloud.removeFault(fault);
    expect(volumeAt(session.cloud, "/dev/sdf")).toBeUndefined();

    // What the reconciler asks of a lost run (Steps.inspectLost → sweepLost).
    const swept = (await implementation.sweepLost?.({
      id: executionId,
      params: run?.params ?? {},
      startedAt: "",
      ...(run?.result ? { result: run.result } : {}),
    } as never)) as { deleted: string[]; undecided?: string; note: string };

    expect(swept.undecided, swept.note).toBeUndefined();
    expect(volumeAt(session.cloud, "/dev/sdf")).toBe(data);
    expect(session.cloud.volumeMarker(data)).toBe("f".repeat(64));
    expect(session.cloud.instance(app)?.State?.Name).toBe("running");
    expect(swept.deleted).toEqual([restored]);
    expect(session.cloud.volumes().some((v) => v.VolumeId === restored)).toBe(false);
  });

  it("swaps a volume restored from the snapshot in at the same device: its marker is the snapshot's, the original kept", async () => {
    const s = await session.run({ ...params, source: { instanceId: app } });
    expect(s.run.status, JSON.stringify(s.run.result)).toBe("SUCCEEDED");
    expect(callsOutsidePermissions(s)).toEqual([]);
    const now = volumeAt(s.cloud, "/dev/sdf") as string;
    expect(now).not.toBe(data);
    expect(s.cloud.volumeMarker(now)).toBe(s.cloud.snapshotMarker(dataSnap));
    const restored = s.cloud.volumes().find((v) => v.VolumeId === now);
    expect(restored?.AvailabilityZone).toBe("us-east-1a");
    expect(restored?.Tags).toEqual(expect.arrayContaining([{ Key: "reflex:replaces", Value: data }]));
    const kept = s.cloud.volumes().find((v) => v.VolumeId === data);
    expect(kept?.State).toBe("available");
    expect(s.cloud.volumeMarker(data)).toBe("f".repeat(64));
    expect(s.cloud.instance(app)?.State?.Name).toBe("running");
    expect(s.run.result?.replacedBy).toEqual({ [data]: now });
    expect(s.calls.filter((c) => c.mutating).map((c) => c.operation)).toEqual([
      "CreateVolume",
      "StopInstances",
      "DetachVolume",
      "AttachVolume",
      "StartInstances",
    ]);
    // The next test starts from the original again.
    data = now;
  });

  it("puts the original back when the run fails after the swap: marker and device back, the restored volume deleted", async () => {
    const original = data;
    const marker = session.cloud.volumeMarker(original);
    // Fails checkSwapped's read of the restored volume, once it is at the device and the instance runs.
    const fault = session.cloud.injectFault({
      service: "ec2",
      operation: "DescribeVolumes",
      kind: "error",
      code: "UnauthorizedOperation",
      httpStatusCode: 403,
      match: (input) => {
        const at = volumeAt(session.cloud, "/dev/sdf");
        return (
          Array.isArray((input as { VolumeIds?: string[] }).VolumeIds) &&
          at !== original &&
          session.cloud.instance(app)?.State?.Name === "running"
        );
      },
    });
    try {
      const s = await session.run({ ...params, source: { instanceId: app } });
      expect(s.run.status).toBe("FAILED");
      expect(s.run.error).toBe("RestoreFailed");
      const made = s.calls.find((c) => c.operation === "CreateVolume" && c.mutating);
      const restoredId = s.cloud.volumes().find((v) => v.Tags?.some((t) => t.Value === s.run.id))?.VolumeId;
      expect(made).toBeDefined();
      // The restored volume was swapped in, then the original attached again.
      const attached = s.calls
        .filter((c) => c.operation === "AttachVolume")
        .map((c) => (c.input as { VolumeId?: string }).VolumeId);
      expect(attached).toHaveLength(2);
      expect(attached[1]).toBe(original);
      expect(s.outcome.summary).toContain(`has its original ${original} at /dev/sdf again`);
      expect(s.outcome.summary).toContain("UnauthorizedOperation");
      expect(volumeAt(s.cloud, "/dev/sdf")).toBe(original);
      expect(s.cloud.volumeMarker(original)).toBe(marker);
      expect(s.cloud.instance(app)?.State?.Name).toBe("running");
      expect(
        restoredId === undefined ||
          s.cloud.volumes().find((v) => v.VolumeId === restoredId)?.State === "deleted",
      ).toBe(true);
      expect(s.calls.filter((c) => c.operation === "DeleteVolume")).toHaveLength(1);
      expect(s.outcome.targets).toEqual([expect.objectContaining({ id: app, status: "rolled-back" })]);
      expect(callsOutsidePermissions(s)).toEqual([]);
    } finally {
      session.cloud.removeFault(fault);
    }
  });
});
