/**
 * restore's bad input is refused before the run starts (a 400 or 409 naming it, through
 * admission, nothing written), and drills have a history: `GET /api/drills` and
 * `GET /api/drills/:name/history` with RTO/RPO, the checksum result and the cleanup state.
 * One local mode for the file (in-process), a simulated account with a Reflex backup of app-1.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restore } from "../examples/runbooks/restore/index.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { manageWithSsm, setPatchingSettings } from "../packages/local/src/cloud/patching-helpers.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { ANSI, reflex } from "./support/cli.ts";
import { api, startTestLocal } from "./support/local.ts";

const HOUR = 3_600_000;
const MANAGED = { "reflex:managed": "true" };
let local: LocalMode;
let cloud: SimulatedCloud;
let source: string;
let scratch: string;
let backup: string;
let foreign: string;
let pending: string;

beforeAll(async () => {
  // A pending snapshot stays pending for the file (an hour to complete).
  cloud = SimulatedCloud.seeded({
    snapshotDurationMs: 3_600_000,
    volumeCreateMs: 20,
    volumeCreatePerGiBMs: 0.1,
    volumeAttachMs: 20,
  });
  const app = cloud.addInstance({ name: "app-1", tags: MANAGED, availabilityZone: "us-east-1b" });
  source = app.InstanceId as string;
  scratch = cloud.addInstance({ name: "scratch-1", tags: MANAGED, availabilityZone: "us-east-1b" })
    .InstanceId as string;
  manageWithSsm(cloud, [scratch]);
  setPatchingSettings(cloud, { commandDurationMs: 20 });
  const volumeId = app.BlockDeviceMappings?.[0]?.Ebs?.VolumeId as string;
  const reflexBackup = {
    ...MANAGED,
    "reflex:runbook": "backup-snapshot",
    "reflex:execution-id": "backup-1",
    "reflex:source-instance": source,
    "reflex:source-volume": volumeId,
    "reflex:device": "/dev/xvda",
  };
  backup = cloud.addSnapshot({
    volumeId,
    state: "completed",
    startTime: Date.now() - 2 * HOUR,
    tags: reflexBackup,
  }).SnapshotId as string;
  foreign = cloud.addSnapshot({ volumeId, state: "completed", tags: MANAGED }).SnapshotId as string;
  pending = cloud.addSnapshot({
    volumeId,
    state: "pending",
    tags: { ...reflexBackup, "reflex:execution-id": "backup-2" },
  }).SnapshotId as string;
  local = await startTestLocal(
    {
      runbooks: [restore],
      drills: [
        {
          name: "app-1",
          source: { snapshotId: backup },
          isolate: { instanceId: scratch },
          targets: { rtoMinutes: 30, rpoMinutes: 600 },
        },
        {
          name: "gone",
          source: { instanceId: "i-0000000000000dead" },
          isolate: { instanceId: scratch },
          targets: { rtoMinutes: 30, rpoMinutes: 600 },
        },
      ],
    },
    { cloud },
  );
});
afterAll(async () => local?.stop());

const start = (params: unknown, dryRun = false) =>
  api(local, "POST", "/api/runbooks/restore/executions", { params, dryRun });
const restoreRuns = async () =>
  (await api(local, "GET", "/api/executions?runbook=restore")).body.executions as unknown[];

describe("restore: bad input is refused before the run starts", () => {
  it.each([
    ["an unknown snapshot", () => ({ source: { snapshotId: "snap-0123456789abcdef0" } }), "SnapshotNotFound"],
    [
      "a snapshot Reflex's backup did not make",
      () => ({ source: { snapshotId: foreign } }),
      "NotReflexBackup",
    ],
    ["an instance with no backup", () => ({ source: { instanceId: "i-0000000000000beef" } }), "NoBackup"],
    [
      "a scratch instance that does not exist",
      () => ({ source: { snapshotId: backup }, attachTo: { instanceId: "i-0000000000000cafe" } }),
      "InstanceNotFound",
    ],
    ["a drill the config does not have", () => ({ drill: "nope" }), "UnknownDrill"],
    ["a drill whose source has no backup", () => ({ drill: "gone" }), "NoBackup"],
  ])("%s: 400 naming it, no run recorded", async (_what, params, code) => {
    const before = (await restoreRuns()).length;
    const res = await start(params());
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(/\S/);
    expect(await restoreRuns()).toHaveLength(before);
  });

  it("a caller whose role may not describe EC2 is not refused for it: the plan checks instead and fails the run naming the snapshot", async () => {
    cloud.injectFault({
      service: "ec2",
      operation: "DescribeSnapshots",
      kind: "error",
      code: "UnauthorizedOperation",
      times: 1,
    });
    const res = await start({ source: { snapshotId: "snap-0123456789abcdef1" } });
    expect(res.status).toBe(202);
    await local.idle();
    const run = (await api(local, "GET", `/api/executions/${res.body.executionId}`)).body;
    expect(run).toMatchObject({ status: "FAILED", error: "SnapshotNotFound" });
  });

  it("a snapshot not completed yet: 409 SnapshotNotReady naming its state", async () => {
    const res = await start({ source: { snapshotId: pending } });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: "SnapshotNotReady" });
    expect(res.body.error.message).toContain(pending);
    expect(res.body.error.message).toContain("pending");
  });

  it("a second start of a drill already running: 409 naming the run that holds it", async () => {
    const first = await start({ drill: "app-1" });
    expect(first.status).toBe(202);
    const second = await start({ drill: "app-1" });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe("target_locked");
    expect(second.body.error.message).toContain(first.body.executionId);
    await local.idle();
    const run = (await api(local, "GET", `/api/executions/${first.body.executionId}`)).body;
    expect(run.status).toBe("SUCCEEDED");
  });
});

describe("drill history: GET /api/drills and GET /api/drills/:name/history", () => {
  it("lists every drill of the config with its last run's RTO/RPO against the targets, the checksum result and the cleanup", async () => {
    const run = await start({ drill: "app-1" });
    expect(run.status).toBe(202);
    await local.idle();

    const res = await api(local, "GET", "/api/drills");
    expect(res.status).toBe(200);
    const byName = Object.fromEntries(res.body.drills.map((d: { name: string }) => [d.name, d]));
    expect(Object.keys(byName).sort()).toEqual(["app-1", "gone"]);
    expect(byName.gone).toMatchObject({ runs: 0, trend: [] });
    const app = byName["app-1"];
    expect(app.runs).toBeGreaterThanOrEqual(1);
    expect(app.met).toBe(app.runs);
    expect(app.trend[0]).toBe("met");
    expect(app.last).toMatchObject({
      executionId: run.body.executionId,
      status: "SUCCEEDED",
      verdict: "met",
      rto: "met",
      rpo: "met",
      targets: { rtoMinutes: 30, rpoMinutes: 600 },
      checksum: "passed (1 of 1 device(s) checksummed)",
      cleanup: "torn down: 1 volume(s) deleted",
    });
    // RPO: the backup is 2 h older than the drill's start.
    expect(app.last.rpoMinutes).toBeGreaterThanOrEqual(120);
    expect(app.last.rpoMinutes).toBeLessThan(130);
    expect(app.last.rtoMinutes).toBeTypeOf("number");
    expect(Object.keys(app.last.phasesMinutes)).toEqual(["plan", "volumes", "attach", "verify"]);

    const history = await api(local, "GET", "/api/drills/app-1/history");
    expect(history.status).toBe(200);
    expect(history.body.runs[0].executionId).toBe(run.body.executionId);
    expect(history.body.runs).toHaveLength(app.runs);
  });

  it("reflex drills prints each drill's last result and trend; reflex drills <name> its runs; --json is the API's answer", async () => {
    const text = await reflex(["drills", "--url", local.url]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^app-1: \d+ run\(s\), \d+ met, 0 missed, 0 failed; trend met/m);
    expect(text.stdout).toMatch(
      /last: .* MET {2}RTO [\d.]+ min {2}RPO 12\d(\.\d+)? min \(RTO met ≤ 30 min, RPO met ≤ 600 min\) {2}checksum passed/,
    );
    expect(text.stdout).toContain("gone: 0 run(s)");
    const json = await reflex(["drills", "app-1", "--json", "--url", local.url]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).runs[0]).toMatchObject({
      verdict: "met",
      cleanup: "torn down: 1 volume(s) deleted",
    });
    // The JSON-only rule every --json command keeps (test/cli-commands.test.ts): no colour, JSON alone.
    for (const argv of [["drills"], ["drill", "run", "app-1"]]) {
      const ran = await reflex([...argv, "--json", "--url", local.url], { colour: true });
      expect({ argv, code: ran.code }).toEqual({ argv, code: 0 });
      expect(() => JSON.parse(ran.stdout)).not.toThrow();
      expect(ran.stdout.includes(ANSI)).toBe(false);
    }
    const unknown = await reflex(["drills", "nope", "--url", local.url]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("'nope' does not exist");
  });

  it("a drill the config does not have: 404", async () => {
    const res = await api(local, "GET", "/api/drills/nope/history");
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
  });
});
