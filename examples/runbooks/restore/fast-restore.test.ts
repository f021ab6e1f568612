/**
 * restore with `fastRestore`: fast snapshot restore on before the volumes are made, off once
 * they exist and in every teardown, a phase of the RTO; refused beyond 5 snapshots. One local
 * mode for the file; the test kit's cloud enables FSR in tens of milliseconds.
 */
import type { SimulatedCloud } from "@reflex/local/cloud/index";
import {
  callsOutsidePermissions,
  manageWithSsm,
  mutatingCalls,
  openSimulation,
  type Simulation,
  type SimulationSession,
} from "@reflex/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { creditBucket } from "./fast-restore.ts";
import { restore } from "./index.ts";
import { sweepLost, type Verification } from "./steps.ts";

const HOUR = 3_600_000;
const managed = { "reflex:managed": "true" };

interface Fixture {
  /** db-1: two volumes (8 GiB, 2 TiB: buckets of 10 and 1), backed up an hour ago. */
  source: string;
  snapshots: string[];
  /** big-1: six volumes backed up, one more than FSR's limit. */
  big: string;
  scratch: string;
}
let fx: Fixture;

function backUp(cloud: SimulatedCloud, name: string, sizes: number[]) {
  const i = cloud.addInstance({ name, volumeSizes: sizes, tags: managed, availabilityZone: "us-east-1b" });
  const id = i.InstanceId as string;
  const snapshots = (i.BlockDeviceMappings ?? []).map(
    (m) =>
      cloud.addSnapshot({
        volumeId: m.Ebs?.VolumeId as string,
        state: "completed",
        startTime: Date.now() - HOUR,
        tags: {
          ...managed,
          "reflex:runbook": "backup-snapshot",
          "reflex:execution-id": `backup-${name}`,
          "reflex:source-instance": id,
          "reflex:source-volume": m.Ebs?.VolumeId as string,
          "reflex:device": m.DeviceName as string,
        },
      }).SnapshotId as string,
  );
  return { id, snapshots };
}

function prepare(cloud: SimulatedCloud): void {
  const db = backUp(cloud, "db-1", [8, 2048]);
  const big = backUp(cloud, "big-1", [8, 8, 8, 8, 8, 8]);
  const scratch = cloud.addInstance({ name: "scratch-1", tags: managed, availabilityZone: "us-east-1b" });
  manageWithSsm(cloud, [scratch.InstanceId as string]);
  fx = { source: db.id, snapshots: db.snapshots, big: big.id, scratch: scratch.InstanceId as string };
}

let s: SimulationSession;
beforeAll(async () => {
  s = await openSimulation(restore, {
    setup: prepare,
    config: () => ({
      drills: [
        {
          name: "db-fast",
          source: { instanceId: fx.source },
          isolate: { instanceId: fx.scratch },
          targets: { rtoMinutes: 30, rpoMinutes: 600 },
          fastRestore: true,
        },
      ],
    }),
  });
}, 60_000);
afterAll(() => s?.close());

const ec2 = (op: string, input: object) => s.cloud.invoke("ec2", "us-east-1", op, input) as Promise<any>;
/** FSR states of the fixture's db-1 snapshots in us-east-1b (absent: disabled). */
const fsrStates = async () =>
  Object.fromEntries(
    (
      (await ec2("DescribeFastSnapshotRestores", {})).FastSnapshotRestores as Array<{
        SnapshotId: string;
        State: string;
      }>
    ).map((r) => [r.SnapshotId, r.State]),
  );
const seqOf = (sim: Simulation, op: string) =>
  mutatingCalls(sim)
    .filter((c) => c.operation === op && !c.error)
    .map((c) => c.seq);
const start = (params: object) =>
  fetch(`${s.url}/api/runbooks/restore/executions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-reflex-actor": "cli:test" },
    body: JSON.stringify({ params, dryRun: false }),
  });

describe("restore with fastRestore", () => {
  it("a drill enables FSR for each snapshot in the zone before creating a volume, disables it once they exist, and records the fastRestore phase", async () => {
    const sim = await s.run({ drill: "db-fast" });

    expect(sim.run.status).toBe("SUCCEEDED");
    expect(callsOutsidePermissions(sim)).toEqual([]);
    const [enable] = mutatingCalls(sim).filter((c) => c.operation === "EnableFastSnapshotRestores");
    expect(enable.input).toEqual({
      AvailabilityZones: ["us-east-1b"],
      SourceSnapshotIds: [...fx.snapshots].sort(),
    });
    const created = seqOf(sim, "CreateVolume");
    const disabled = seqOf(sim, "DisableFastSnapshotRestores");
    expect(created).toHaveLength(2);
    expect(enable.seq).toBeLessThan(Math.min(...created));
    // It waited for enabled: the describe just before the first CreateVolume answered so.
    expect(disabled.length).toBeGreaterThanOrEqual(1);
    expect(disabled[0]).toBeGreaterThan(Math.max(...created));
    const ran = sim.calls.filter((c) => c.operation === "DescribeFastSnapshotRestores" && c.seq < created[0]);
    expect(ran.length).toBeGreaterThanOrEqual(1);
    for (const state of Object.values(await fsrStates())) expect(state).toMatch(/^disabl/);
    expect(sim.outcome.summary).toMatch(/RTO [\d.]+ min \(plan [\d.]+, fastRestore [\d.]+, volumes/);
    const v = sim.run.result?.verification as Verification;
    expect(Object.keys(v.phases)).toEqual(["plan", "fastRestore", "volumes", "attach", "verify"]);
    expect(v.phases.fastRestore).toBeGreaterThan(0);
    expect(Object.values(v.phases).reduce((a, b) => a + b, 0)).toBe(v.rtoMs);
  });

  it("a failure after enabling (a volume refused) still disables FSR in the teardown", async () => {
    s.cloud.injectFault({
      service: "ec2",
      operation: "CreateVolume",
      kind: "error",
      code: "InvalidParameterValue",
      times: 1,
    });
    const sim = await s.run({ source: { instanceId: fx.source }, fastRestore: true });

    expect(sim.run.status).toBe("FAILED");
    const [enabled] = seqOf(sim, "EnableFastSnapshotRestores");
    const disabled = seqOf(sim, "DisableFastSnapshotRestores");
    expect(enabled).toBeDefined();
    expect(disabled.some((seq) => seq > enabled)).toBe(true);
    for (const state of Object.values(await fsrStates())) expect(state).toMatch(/^disabl/);
    expect(sim.run.result?.teardown).toMatchObject({ fastRestoreDisabled: [...fx.snapshots].sort() });
  });

  it("is refused before it starts for more snapshots than FSR's limit (400 FastRestoreLimit at fastRestore); nothing enabled", async () => {
    const res = await start({ source: { instanceId: fx.big }, fastRestore: true });
    const body = (await res.json()) as { error: { code: string; message: string; path?: string } };

    expect(res.status).toBe(400);
    expect(body.error).toMatchObject({ code: "FastRestoreLimit", path: "fastRestore" });
    expect(body.error.message).toMatch(/6 snapshots: at most 5/);
  });

  it("leaves on what was on before the run (someone else's FSR): enables and disables only the rest", async () => {
    const [theirs, ours] = [...fx.snapshots].sort();
    await ec2("EnableFastSnapshotRestores", {
      AvailabilityZones: ["us-east-1b"],
      SourceSnapshotIds: [theirs],
    });

    const sim = await s.run({ source: { instanceId: fx.source }, fastRestore: true });

    expect(sim.run.status).toBe("SUCCEEDED");
    const calls = mutatingCalls(sim).filter((c) => c.operation.endsWith("FastSnapshotRestores") && !c.error);
    expect(
      calls.map((c) => [c.operation, (c.input as { SourceSnapshotIds: string[] }).SourceSnapshotIds]),
    ).toEqual([
      ["EnableFastSnapshotRestores", [ours]],
      ["DisableFastSnapshotRestores", [ours]],
    ]);
    // The volumes it made (kept: a plain restore) are fully initialized, as AWS says with FastRestored.
    const made = s.cloud
      .volumes()
      .filter((v) => v.Tags?.some((t) => t.Key === "reflex:restore-execution" && t.Value === sim.run.id));
    expect(made.map((v) => [v.SnapshotId, v.FastRestored]).sort()).toEqual([
      [theirs, true],
      [ours, true],
    ]);
    const states = await fsrStates();
    expect(states[theirs]).not.toMatch(/^disabl/);
    expect(states[ours] ?? "disabled").toMatch(/^disabl/);
    await ec2("DisableFastSnapshotRestores", {
      AvailabilityZones: ["us-east-1b"],
      SourceSnapshotIds: [theirs],
    });
  });

  it("the reconciler's sweep of a lost drill disables the FSR it had enabled", async () => {
    await ec2("EnableFastSnapshotRestores", {
      AvailabilityZones: ["us-east-1b"],
      SourceSnapshotIds: fx.snapshots,
    });
    expect(Object.values(await fsrStates()).some((st) => !st.startsWith("disabl"))).toBe(true);

    const swept = await sweepLost({
      id: "lost-fsr-1",
      params: { drill: "db-fast" },
      result: {
        plan: {
          region: "us-east-1",
          fastRestore: { availabilityZone: "us-east-1b", snapshotIds: fx.snapshots, buckets: {} },
        },
      },
    });

    expect(swept.fastRestoreDisabled?.sort()).toEqual([...fx.snapshots].sort());
    for (const state of Object.values(await fsrStates())) expect(state).toMatch(/^disabl/);
  });

  it("a volume made while FSR is off is not fast-restored (the simulated cloud's FastRestored)", async () => {
    const v = await ec2("CreateVolume", { SnapshotId: fx.snapshots[0], AvailabilityZone: "us-east-1b" });
    const [described] = (await ec2("DescribeVolumes", { VolumeIds: [v.VolumeId] })).Volumes;

    expect(described.FastRestored).toBeUndefined();
  });

  it("credits: 128 GiB a bucket of 8, 2 TiB a bucket of 1 (enough: one volume per snapshot)", () => {
    expect(creditBucket(128)).toBe(8);
    expect(creditBucket(2048)).toBe(1);
    expect(creditBucket(8)).toBe(10);
  });
});
