/**
 * scale end to end: local mode in-process, the real ASL on the local Step Functions engine,
 * the real step handler, dynalite, and the simulated cloud (seeded: Auto Scaling group `web`,
 * min 2 / max 12 / desired 6; db-1..db-3 r5.xlarge, all tagged reflex:managed=true).
 */
import { Alarms } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Instance, SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { refuseCheckAfterScaling } from "./support/cloud.ts";
import { api, runAndWait, startTestLocal } from "./support/local.ts";

const tag = (r: { Tags?: Array<{ Key?: string; Value?: string }> }, key: string) =>
  r.Tags?.find((t) => t.Key === key)?.Value;
const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000).toISOString();

function views(local: LocalMode) {
  return {
    web: () => local.cloud.autoScalingGroups("us-east-1").find((g) => g.AutoScalingGroupName === "web")!,
    runningWeb: () =>
      local.cloud
        .instances("us-east-1")
        .filter((i) => tag(i, "aws:autoscaling:groupName") === "web" && i.State?.Name === "running"),
    instance: (name: string) => local.cloud.instance(name, "us-east-1") as Instance,
    mutatingSince: (mark: number) => local.cloud.calls.slice(mark).filter((c) => c.mutating),
  };
}

describe("scale in local mode", () => {
  let local: LocalMode;
  let v: ReturnType<typeof views>;
  beforeAll(async () => {
    local = await startTestLocal();
    v = views(local);
  });
  afterAll(async () => local?.stop());

  it("dry-runs the runbook's own example: reports the plan and makes no mutating call", async () => {
    const { body } = await api(local, "GET", "/api/runbooks");
    const scale = body.runbooks.find((r: { name: string }) => r.name === "scale");
    expect(scale).toMatchObject({ risk: "medium", cap: { maxTargets: 20 } });
    const mark = local.cloud.calls.length;

    const run = await runAndWait(local, "scale", scale.example, true);

    expect(run.status).toBe("SUCCEEDED");
    expect(local.cloud.calls.slice(mark).map((c) => c.operation)).toContain("DescribeAutoScalingGroups");
    expect(v.mutatingSince(mark)).toEqual([]);
    expect(run.result).toMatchObject({ previousCapacity: 6, plan: { target: 8, delta: 2, limits: [] } });
    expect(run.result.summary).toBe("dry-run: would set web: desired capacity 6 → 8");
    expect(v.web().DesiredCapacity).toBe(6);
  });

  it("scales web out by 2: desired 8, and 8 running instances", async () => {
    const run = await runAndWait(local, "scale", { autoScalingGroup: "web", change: "+2" });

    expect({ status: run.status, error: run.error, cause: run.cause }).toEqual({
      status: "SUCCEEDED",
      error: null,
      cause: null,
    });
    expect(v.web().DesiredCapacity).toBe(8);
    expect(v.runningWeb()).toHaveLength(8);
    expect(run.result).toMatchObject({
      previousCapacity: 6,
      applied: { from: 6, to: 8 },
      verified: { inService: 8 },
    });
    expect(run.steps.map((s: { step: string }) => s.step)).toEqual(
      expect.arrayContaining(["planCapacity", "setCapacity", "checkCapacity"]),
    );
  });

  it("holds back a scale-in while the alarm has not been OK for requireOkFor, changing nothing", async () => {
    await Alarms.record({ alarmName: "web-cpu-high", state: "OK", since: minutesAgo(3) });
    const mark = local.cloud.calls.length;

    const run = await runAndWait(local, "scale", {
      autoScalingGroup: "web",
      change: "-2",
      alarmName: "web-cpu-high",
      requireOkFor: "10m",
    });

    expect(run.status).toBe("SUCCEEDED");
    expect(run.result.skipped).toMatch(
      /^scale-in skipped: scale-in needs alarm 'web-cpu-high' OK for 10m; it has been OK for only 3m/,
    );
    expect(v.mutatingSince(mark)).toEqual([]);
    expect(v.web().DesiredCapacity).toBe(8);
  });

  it("scales in once the alarm has been OK for requireOkFor", async () => {
    await Alarms.record({ alarmName: "web-latency-high", state: "OK", since: minutesAgo(15) });

    const run = await runAndWait(local, "scale", {
      autoScalingGroup: "web",
      change: "-2",
      alarmName: "web-latency-high",
      requireOkFor: "10m",
    });

    expect(run.status).toBe("SUCCEEDED");
    expect(run.result.plan.scaleIn).toMatch(/has been OK for 15m/);
    expect(v.web().DesiredCapacity).toBe(6);
    expect(v.runningWeb()).toHaveLength(6);
  });

  it("restores the previous capacity and fails when the check after SetDesiredCapacity fails", async () => {
    // The first describe after the capacity was set is refused (as if a policy changed mid-run).
    const mark = refuseCheckAfterScaling(local.cloud);
    try {
      const run = await runAndWait(local, "scale", { autoScalingGroup: "web", change: "+2" });

      expect(run.status).toBe("FAILED");
      expect(run.error).toBe("AccessDenied");
      const sets = local.cloud.calls.slice(mark).filter((c) => c.operation === "SetDesiredCapacity");
      expect(sets.map((c) => (c.input as { DesiredCapacity: number }).DesiredCapacity)).toEqual([8, 6]);
      expect(run.result.rollback).toMatchObject({ restored: true, found: 8, desired: 6 });
      expect(v.web().DesiredCapacity).toBe(6);
      // Six members; which two went is the termination policy's choice, and a kept new one may still be Pending.
      expect(v.web().Instances).toHaveLength(6);
    } finally {
      local.cloud.clearFaults();
    }
  });

  it("fails without changing anything when SetDesiredCapacity is refused", async () => {
    local.cloud.injectFault({
      operation: "SetDesiredCapacity",
      kind: "error",
      code: "ScalingActivityInProgress",
      times: 1,
    });
    try {
      const run = await runAndWait(local, "scale", { autoScalingGroup: "web", change: "+1" });

      expect(run.status).toBe("FAILED");
      // The SDK's name for Auto Scaling's ScalingActivityInProgress code (its modelled class).
      expect(run.error).toBe("ScalingActivityInProgressFault");
      expect(run.result.rollback).toMatchObject({ restored: false, found: 6 });
      expect(v.web().DesiredCapacity).toBe(6);
    } finally {
      local.cloud.clearFaults();
    }
  });

  it("dry-runs a resize of db-1 with no mutating call", async () => {
    const db1 = v.instance("db-1");
    const mark = local.cloud.calls.length;

    const run = await runAndWait(
      local,
      "scale",
      { mode: "vertical", instanceId: db1.InstanceId, instanceType: "r5.2xlarge" },
      true,
    );

    expect(run.status).toBe("SUCCEEDED");
    expect(v.mutatingSince(mark)).toEqual([]);
    expect(run.result.plan).toMatchObject({
      from: "r5.xlarge",
      to: "r5.2xlarge",
      state: "running",
      toSpec: { vcpus: 8 },
    });
    expect(v.instance("db-1").InstanceType).toBe("r5.xlarge");
  });

  it("resizes db-1 to r5.2xlarge: snapshot, stop, modify, start, and it runs as the new type", async () => {
    const db1 = v.instance("db-1");
    const mark = local.cloud.calls.length;

    const run = await runAndWait(local, "scale", {
      mode: "vertical",
      instanceId: db1.InstanceId,
      instanceType: "r5.2xlarge",
    });

    expect({ status: run.status, error: run.error, cause: run.cause }).toEqual({
      status: "SUCCEEDED",
      error: null,
      cause: null,
    });
    const after = v.instance("db-1");
    expect(after.InstanceType).toBe("r5.2xlarge");
    expect(after.State?.Name).toBe("running");
    expect(v.mutatingSince(mark).map((c) => c.operation)).toEqual([
      "CreateSnapshot",
      "CreateSnapshot",
      "StopInstances",
      "ModifyInstanceAttribute",
      "StartInstances",
    ]);
    const snapshots = local.cloud
      .snapshots("us-east-1")
      .filter((s) => tag(s, "reflex:execution-id") === run.id);
    expect(snapshots).toHaveLength(2);
    for (const s of snapshots) {
      expect(tag(s, "reflex:managed")).toBe("true");
      expect(tag(s, "reflex:runbook")).toBe("scale");
      expect(tag(s, "reflex:source-instance")).toBe(db1.InstanceId);
    }
    expect(run.result).toMatchObject({
      previous: { instanceType: "r5.xlarge", state: "running" },
      verified: { instanceType: "r5.2xlarge", state: "running" },
    });
  });

  it("rolls back when ModifyInstanceAttribute fails: the old type, running again", async () => {
    const db2 = v.instance("db-2");
    local.cloud.injectFault({
      operation: "ModifyInstanceAttribute",
      kind: "error",
      code: "Unsupported",
      message: "The requested configuration is currently not supported.",
      times: 1,
    });
    try {
      const run = await runAndWait(local, "scale", {
        mode: "vertical",
        instanceId: db2.InstanceId,
        instanceType: "r5.2xlarge",
        snapshotFirst: false,
      });

      expect(run.status).toBe("FAILED");
      expect(run.error).toBe("Unsupported");
      const after = v.instance("db-2");
      expect(after.InstanceType).toBe("r5.xlarge");
      expect(after.State?.Name).toBe("running");
      expect(run.result.rollback).toMatchObject({
        restored: true,
        instanceType: "r5.xlarge",
        state: "running",
        actions: ["StartInstances"],
      });
    } finally {
      local.cloud.clearFaults();
    }
  });

  it("rolls back when the start after the resize fails: sets the old type back and starts it", async () => {
    const db3 = v.instance("db-3");
    // A 400, so the SDK does not retry it: the forward start fails once, rollback's start works.
    local.cloud.injectFault({
      operation: "StartInstances",
      kind: "error",
      code: "InsufficientInstanceCapacity",
      httpStatusCode: 400,
      times: 1,
    });
    try {
      const run = await runAndWait(local, "scale", {
        mode: "vertical",
        instanceId: db3.InstanceId,
        instanceType: "r5.2xlarge",
        snapshotFirst: false,
      });

      expect(run.status).toBe("FAILED");
      expect(run.error).toBe("InsufficientInstanceCapacity");
      const after = v.instance("db-3");
      expect(after.InstanceType).toBe("r5.xlarge");
      expect(after.State?.Name).toBe("running");
      expect(run.result.rollback.actions).toEqual([
        "ModifyInstanceAttribute r5.2xlarge → r5.xlarge",
        "StartInstances",
      ]);
    } finally {
      local.cloud.clearFaults();
    }
  });

  it("refuses to resize an instance not tagged for automation, changing nothing", async () => {
    const batch = v.instance("batch-1");
    const mark = local.cloud.calls.length;

    const run = await runAndWait(local, "scale", {
      mode: "vertical",
      instanceId: batch.InstanceId,
      instanceType: "c5.xlarge",
    });

    expect(run.status).toBe("FAILED");
    expect(run.error).toBe("NotManaged");
    expect(run.cause).toContain("does not carry the automation tag reflex:managed=true");
    expect(v.mutatingSince(mark)).toEqual([]);
  });
});

describe("scale when new instances are slow to come up", () => {
  let local: LocalMode;
  let v: ReturnType<typeof views>;
  beforeAll(async () => {
    // Instances take a minute to go pending → running, far past the run's timeout.
    local = await startTestLocal({}, { cloud: SimulatedCloud.seeded({ stateTransitionMs: 60_000 }) });
    v = views(local);
  });
  afterAll(async () => local?.stop());

  it("gives up at the timeout, restores the previous capacity, and fails", async () => {
    const run = await runAndWait(local, "scale", { autoScalingGroup: "web", change: "+2", timeout: "300ms" });

    expect(run.status).toBe("FAILED");
    expect(run.error).toBe("CapacityTimeout");
    expect(run.cause).toMatch(/^'web' has 6 of 8 instance\(s\) InService after \d+s \(timeout 300ms\)$/);
    expect(run.result.rollback).toMatchObject({ restored: true, found: 8, desired: 6 });
    expect(v.web().DesiredCapacity).toBe(6);
  });
});
