/**
 * patch end to end: local mode in-process, the real ASL (a Distributed Map, run as child
 * executions by the local engine), the real step handler, dynalite, s3rver and the simulated
 * cloud (SSM nodes and commands, target groups, root-volume replacement).
 */
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Aws } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CallRecord, SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import {
  addTargetGroup,
  rootVolumeTasks,
  seedPatchFleet,
  setPatchingSettings,
  setPatchOutcome,
  targetGroupMembers,
} from "../packages/local/src/cloud/patching-helpers.ts";
import { HISTORY_LIMIT } from "../packages/local/src/engine/history.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, runAndWait, startTestLocal } from "./support/local.ts";

let local: LocalMode;
let cloud: SimulatedCloud;
let fleet: string[];
let single: string;
/** The instance whose patch outlives its cancel (its own, so its installed patches count nowhere else). */
let stubborn: string;

const FAST = {
  commandDurationMs: 60,
  rebootMs: 40,
  healthCheckMs: 20,
  deregistrationDelayMs: 30,
  replaceRootVolumeMs: 40,
};
const QUICK = { pollSeconds: 1, healthTimeoutSeconds: 5, drainTimeoutSeconds: 5, commandTimeoutSeconds: 5 };

beforeAll(async () => {
  cloud = SimulatedCloud.seeded({ snapshotDurationMs: 30, callLogSize: 100_000 });
  setPatchingSettings(cloud, FAST);
  fleet = seedPatchFleet(cloud, { count: 20, patchGroup: "twenty" });
  [single] = seedPatchFleet(cloud, { count: 1, patchGroup: "single", targetGroups: false });
  addTargetGroup(cloud, { name: "single-tg", instanceIds: [single], deregistrationDelayMs: 30 });
  [stubborn] = seedPatchFleet(cloud, { count: 1, patchGroup: "stubborn", targetGroups: false });
  local = await startTestLocal({}, { cloud });
});
afterAll(async () => local?.stop());

/** Calls about exactly one instance of `ids` (plan-time bulk calls name many), by log position. */
function perInstanceCalls(calls: CallRecord[], ids: string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  calls.forEach((c, n) => {
    const text = JSON.stringify(c.input);
    const named = ids.filter((id) => text.includes(id));
    if (named.length === 1) out.set(named[0], [...(out.get(named[0]) ?? []), n]);
  });
  return out;
}

const rootVolume = (id: string) => {
  const i = cloud.instance(id)!;
  const volumeId = i.BlockDeviceMappings![0].Ebs!.VolumeId!;
  return cloud.volumes().find((v) => v.VolumeId === volumeId)!;
};

describe("patch in local mode", () => {
  it("is listed with an example that validates", async () => {
    const { body } = await api(local, "GET", "/api/runbooks");
    const patch = body.runbooks.find((r: { name: string }) => r.name === "patch");
    expect(patch).toMatchObject({ name: "patch", risk: "medium" });
    expect(patch.example.selector).toBeDefined();
  });

  it("dry-run lists the targets in batches with zero mutating calls", async () => {
    const before = local.cloud.lastCallSeq;

    const run = await runAndWait(
      local,
      "patch",
      { selector: { tag: { PatchGroup: "twenty" } }, maxConcurrency: "25%" },
      true,
    );

    expect(run.status).toBe("SUCCEEDED");
    const calls = local.cloud.callsSince(before);
    expect(calls.some((c) => c.operation === "DescribeInstanceInformation")).toBe(true);
    expect(calls.filter((c) => c.mutating)).toEqual([]);
    expect(run.result.plan.maxConcurrency).toBe(5);
    expect(run.result.plan.batches).toHaveLength(4);
    expect(run.result.plan.batches.flatMap((b: { instanceIds: string[] }) => b.instanceIds).sort()).toEqual(
      [...fleet].sort(),
    );
  });

  it("rejects a malformed maxConcurrency with a 400 that names the field", async () => {
    const res = await api(local, "POST", "/api/runbooks/patch/executions", {
      params: { selector: { tag: { PatchGroup: "twenty" } }, maxConcurrency: "150%" },
    });

    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain("maxConcurrency");
  });

  it("rejects polling so fine that one target's execution could pass the 25,000-event history limit", async () => {
    const res = await api(local, "POST", "/api/runbooks/patch/executions", {
      params: { selector: { tag: { PatchGroup: "twenty" } }, pollSeconds: 1, commandTimeoutSeconds: 172_800 },
    });

    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain("pollSeconds");
  });

  it("with 25% concurrency and 10% maxErrors, never runs more than 5 at once and starts none after errors pass 2", async () => {
    for (const id of fleet.slice(0, 4)) setPatchOutcome(cloud, id, { result: "failure" });
    const before = local.cloud.lastCallSeq;

    const run = await runAndWait(local, "patch", {
      selector: { tag: { PatchGroup: "twenty" } },
      maxConcurrency: "25%",
      maxErrors: "10%",
      ...QUICK,
    });

    const calls = local.cloud.callsSince(before);
    const byInstance = perInstanceCalls(calls, fleet);
    // Concurrency: each instance is in flight from its first call to its last.
    const intervals = [...byInstance.values()].map((ns) => [ns[0], ns[ns.length - 1]]);
    let peak = 0;
    for (const [start] of intervals)
      peak = Math.max(peak, intervals.filter(([s, e]) => s <= start && start <= e).length);
    expect(peak).toBeLessThanOrEqual(5);
    expect(peak).toBeGreaterThan(1);
    // maxErrors 10% of 20 = 2: once a 3rd target failed (its rollback began), no target starts.
    const replaces = calls.flatMap((c, n) => (c.operation === "CreateReplaceRootVolumeTask" ? [n] : []));
    expect(replaces.length).toBeGreaterThanOrEqual(3);
    const third = replaces[2];
    const started = fleet.filter((id) =>
      (byInstance.get(id) ?? []).some((n) => calls[n].operation === "CreateSnapshot"),
    );
    for (const id of started) {
      const considered = (byInstance.get(id) ?? []).find(
        (n) => calls[n].operation === "DescribeInstanceInformation",
      )!;
      expect(considered).toBeLessThan(third);
    }
    expect(run.status).toBe("FAILED");
    expect(run.error).toBe("PartialFailure");
    const c = run.result.compliance;
    expect(c.rolledBack).toBe(4);
    expect(c.notStarted.maxErrors).toBeGreaterThan(0);
    expect(c.patched + c.rolledBack + c.failed + c.notStarted.maxErrors).toBe(20);
    expect(started).toHaveLength(c.patched + c.rolledBack);
    const notStarted = run.result.targets.filter((t: { status: string }) => t.status === "not-started");
    expect(notStarted.every((t: { reason: string }) => t.reason === "maxErrors")).toBe(true);
    for (const id of fleet.slice(0, 4)) setPatchOutcome(cloud, id, { result: "success" });
  });

  it("a failed patch ends on its pre-patch root volume and back in its target group", async () => {
    // The patch installs, needs a reboot, and leaves the instance failing its status checks.
    setPatchOutcome(cloud, single, { result: "reboot", breaksHealth: true });
    const originalRoot = rootVolume(single).VolumeId;

    const run = await runAndWait(local, "patch", { selector: { instanceIds: [single] }, ...QUICK });

    expect(run.status).toBe("FAILED");
    const [target] = run.result.targets;
    expect(target).toMatchObject({ instanceId: single, status: "rolled-back", rebooted: true });
    expect(target.reason).toContain("InstanceImpaired");
    const root = rootVolume(single);
    expect(root.VolumeId).not.toBe(originalRoot);
    expect(root.SnapshotId).toBe(target.snapshotId);
    const snapshot = cloud.snapshots().find((s) => s.SnapshotId === target.snapshotId)!;
    expect(snapshot.VolumeId).toBe(originalRoot);
    expect(rootVolumeTasks(cloud).filter((t) => t.instanceId === single)).toHaveLength(1);
    const members = targetGroupMembers(cloud, "single-tg");
    expect(members.find((m) => m.id === single && m.deregisteredAt === undefined)).toBeDefined();
    expect(local.cloud.calls.some((c) => c.operation === "RebootInstances")).toBe(true);
  });

  it("a timed-out patch whose cancel is refused is rolled back only after its command has ended", async () => {
    // The command runs 3 s, past a 1 s commandTimeoutSeconds; every CancelCommand is AccessDenied
    // (as it was when the role granted it on instance/* only, where it has no resource type).
    setPatchOutcome(cloud, stubborn, { result: "success", durationMs: 3000 });
    const fault = cloud.injectFault({
      service: "ssm",
      operation: "CancelCommand",
      kind: "error",
      code: "AccessDeniedException",
      httpStatusCode: 400,
    });
    const before = local.cloud.lastCallSeq;
    try {
      const run = await runAndWait(local, "patch", {
        selector: { instanceIds: [stubborn] },
        ...QUICK,
        commandTimeoutSeconds: 1,
      });

      const calls = local.cloud.callsSince(before);
      const sent = calls.find((c) => c.operation === "SendCommand")!;
      const cancels = calls.filter((c) => c.operation === "CancelCommand");
      const replace = calls.find((c) => c.operation === "CreateReplaceRootVolumeTask")!;
      expect(replace).toBeDefined();
      expect(replace.at - sent.at).toBeGreaterThanOrEqual(3000);
      expect(cancels.length).toBeGreaterThan(0);
      expect(cancels.every((c) => c.error === "AccessDeniedException")).toBe(true);
      expect(run.status).toBe("FAILED");
      const [target] = run.result.targets;
      expect(target).toMatchObject({ instanceId: stubborn, status: "rolled-back" });
      expect(target.reason).toContain("PatchCommandTimedOut");
      expect(target.reason).toContain("cancel failed (AccessDeniedException");
    } finally {
      cloud.removeFault(fault);
      setPatchOutcome(cloud, stubborn, { result: "success" });
    }
  });

  it("patches, reboots when patches are pending, writes the report, and keeps every history under the limit", async () => {
    setPatchOutcome(cloud, single, { result: "reboot" });

    const run = await runAndWait(local, "patch", { selector: { instanceIds: [single] }, ...QUICK });

    expect(run.status).toBe("SUCCEEDED");
    expect(run.result.targets[0]).toMatchObject({ status: "patched", rebooted: true, installed: 3 });
    expect(run.result.compliance).toMatchObject({ patched: 1, compliancePercent: 100 });
    const [, bucket, key] = run.result.report.match(/^s3:\/\/([^/]+)\/(.+)$/);
    const s3 = Aws.client(S3Client, "s3");
    const body = JSON.parse(
      await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString(),
    );
    expect(body.targets[0].instanceId).toBe(single);
    const histories = local.engine.list().map((e) => local.engine.historyEvents(e.executionArn));
    expect(Math.max(...histories)).toBeLessThan(HISTORY_LIMIT);
    expect(Math.min(...histories)).toBeGreaterThan(0);
  });

  it("an abort before any patch command was sent leaves every target not started, back in its groups, none failed", async () => {
    // Draining takes long, so both targets in flight are still waiting to leave their groups.
    setPatchingSettings(cloud, { deregistrationDelayMs: 2_000 });
    const before = local.cloud.lastCallSeq;
    const started = await api<{ executionId: string }>(local, "POST", "/api/runbooks/patch/executions", {
      params: { selector: { tag: { PatchGroup: "twenty" } }, maxConcurrency: "2", ...QUICK },
    });
    const deadline = Date.now() + 10_000;
    while (
      local.cloud.callsSince(before).filter((c) => c.operation === "DeregisterTargets").length < 2 &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 10));

    const aborted = await api(local, "POST", `/api/executions/${started.body.executionId}/abort`, {
      reason: "wrong maintenance window",
    });
    await local.idle();
    setPatchingSettings(cloud, FAST);

    expect(aborted.status).toBe(202);
    const run = (await api(local, "GET", `/api/executions/${started.body.executionId}`)).body;
    expect(run.status).toBe("ABORTED");
    expect(local.cloud.callsSince(before).some((c) => c.operation === "SendCommand")).toBe(false);
    const statuses = run.result.targets.map(
      (t: { status: string; reason?: string }) => `${t.status} ${t.reason ?? ""}`,
    );
    expect(run.result.compliance.notStarted.aborted, statuses.join("; ")).toBe(20);
    const touched = run.result.targets.filter((t: { targetGroups?: string[] }) => t.targetGroups?.length);
    expect(touched.length).toBeGreaterThan(0);
    for (const t of touched)
      for (const arn of t.targetGroups) {
        const member = targetGroupMembers(cloud, arn.split("/")[1]).find((m) => m.id === t.instanceId);
        expect(member).toBeDefined();
        expect(member?.deregisteredAt).toBeUndefined();
      }
  });

  it("a graceful abort starts no new target, rolls back the ones in flight, re-registers them and ends ABORTED", async () => {
    setPatchingSettings(cloud, { commandDurationMs: 400 });
    const before = local.cloud.lastCallSeq;
    const started = await api<{ executionId: string }>(local, "POST", "/api/runbooks/patch/executions", {
      params: { selector: { tag: { PatchGroup: "twenty" } }, maxConcurrency: "2", ...QUICK },
    });
    const deadline = Date.now() + 10_000;
    while (
      !local.cloud.callsSince(before).some((c) => c.operation === "SendCommand") &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 10));

    const aborted = await api(local, "POST", `/api/executions/${started.body.executionId}/abort`, {
      reason: "wrong patch baseline",
    });
    await local.idle();
    setPatchingSettings(cloud, FAST);

    expect(aborted.status).toBe(202);
    const run = (await api(local, "GET", `/api/executions/${started.body.executionId}`)).body;
    expect(run.status).toBe("ABORTED");
    const c = run.result.compliance;
    expect(c.notStarted.aborted).toBeGreaterThan(0);
    expect(c.rolledBack).toBeGreaterThan(0);
    const statuses = run.result.targets.map(
      (t: { status: string; reason?: string }) => `${t.status} ${t.reason ?? ""}`,
    );
    expect(c.patched + c.rolledBack + c.notStarted.aborted, statuses.join("; ")).toBe(20);
    for (const t of run.result.targets.filter((x: { status: string }) => x.status === "rolled-back")) {
      expect(rootVolume(t.instanceId).SnapshotId).toBe(t.snapshotId);
      const group = t.targetGroups[0].split("/")[1];
      expect(
        targetGroupMembers(cloud, group).find((m) => m.id === t.instanceId)?.deregisteredAt,
      ).toBeUndefined();
    }
  });
});
