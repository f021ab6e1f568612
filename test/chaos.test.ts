/**
 * Chaos: runbooks against a cloud that fails the way AWS does. Local mode in-process (the real
 * ASL on the local engine, the real step handler, dynalite, the simulated cloud), with faults
 * injected per operation. Transient errors (throttling, 5xx) must be ridden out by the SDK's
 * and the state machines' retries, above all in rollback; permanent ones must fail fast.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CallRecord, SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, runAndWait, startTestLocal } from "./support/local.ts";

const tag = (r: { Tags?: Array<{ Key?: string; Value?: string }> }, key: string) =>
  r.Tags?.find((t) => t.Key === key)?.Value;

/** A small seeded PRNG (mulberry32), so a failing chaos run can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("transient errors in rollback", () => {
  let local: LocalMode;
  const web = () => local.cloud.autoScalingGroups("us-east-1").find((g) => g.AutoScalingGroupName === "web")!;
  beforeAll(async () => {
    local = await startTestLocal();
  });
  afterAll(async () => local?.stop());

  it("puts a group back when its rollback meets a burst of 5xx errors longer than the SDK's retries", async () => {
    const mark = local.cloud.lastCallSeq;
    const applied = () =>
      local.cloud.callsSince(mark).some((c) => c.operation === "SetDesiredCapacity" && !c.error);
    // The check after the change is refused (a permanent error): the run must roll back...
    local.cloud.injectFault({
      operation: "DescribeAutoScalingGroups",
      kind: "error",
      code: "AccessDenied",
      times: 1,
      match: applied,
    });
    // ...and the rollback's SetDesiredCapacity meets 10 InternalErrors in a row: more than the
    // SDK's 4 attempts, so only the state machine's retry of the rollback step gets it through.
    local.cloud.injectFault({
      service: "autoscaling",
      operation: "SetDesiredCapacity",
      kind: "error",
      code: "InternalError",
      times: 10,
      match: applied,
    });
    try {
      const run = await runAndWait(local, "scale", { autoScalingGroup: "web", change: "+1" });

      expect({ status: run.status, error: run.error }).toEqual({ status: "FAILED", error: "AccessDenied" });
      expect(run.result.rollback).toMatchObject({ restored: true, found: 7, desired: 6 });
      expect(web().DesiredCapacity).toBe(6);
      const sets = local.cloud.callsSince(mark).filter((c) => c.operation === "SetDesiredCapacity");
      expect(sets.filter((c) => c.error === "InternalError")).toHaveLength(10);
      expect(
        sets.filter((c) => !c.error).map((c) => (c.input as { DesiredCapacity: number }).DesiredCapacity),
      ).toEqual([7, 6]);
    } finally {
      local.cloud.clearFaults();
    }
  });

  it("fails fast on a permanent error: one call, no retry, the run fails with AWS's reason", async () => {
    const mark = local.cloud.lastCallSeq;
    local.cloud.injectFault({
      service: "autoscaling",
      operation: "SetDesiredCapacity",
      kind: "error",
      code: "AccessDenied",
      message: "User is not authorized to perform: autoscaling:SetDesiredCapacity",
    });
    try {
      const run = await runAndWait(local, "scale", { autoScalingGroup: "web", change: "+1" });

      expect(run.status).toBe("FAILED");
      expect(run.error).toBe("AccessDenied");
      expect(run.cause).toContain("not authorized to perform: autoscaling:SetDesiredCapacity");
      const sets = local.cloud.callsSince(mark).filter((c) => c.operation === "SetDesiredCapacity");
      expect(sets).toHaveLength(1);
      expect(web().DesiredCapacity).toBe(6);
    } finally {
      local.cloud.clearFaults();
    }
  });

  it("attributes every call a run's steps make to its execution in the call log", async () => {
    const mark = local.cloud.lastCallSeq;
    const run = await runAndWait(local, "scale", { autoScalingGroup: "web", change: "+1" }, true);

    const calls = local.cloud.callsSince(mark);
    expect(calls.length).toBeGreaterThan(0);
    expect(new Set(calls.map((c) => c.executionId))).toEqual(new Set([run.id]));
  });
});

describe("chaos: 30 % throttling and 5xx bursts on every EC2 and Auto Scaling operation", () => {
  const RUNS = 20;
  let local: LocalMode;
  const cloud = SimulatedCloud.seeded({ snapshotDurationMs: 150, random: seeded(7) });
  const groups = Array.from({ length: RUNS }, (_, i) => `chaos-${i}`);
  const instances = Array.from({ length: RUNS }, (_, i) =>
    cloud.addInstance({
      name: `chaos-db-${i}`,
      tags: { ChaosBackup: `b-${i}`, "reflex:managed": "true" },
      volumeSizes: [8, 20],
    }),
  );
  for (const name of groups) {
    cloud.addAutoScalingGroup({
      name,
      minSize: 1,
      maxSize: 10,
      desiredCapacity: 3,
      tags: { "reflex:managed": "true" },
    });
  }

  beforeAll(async () => {
    local = await startTestLocal({ guardrails: { rateLimit: { runs: 10_000, per: "1h" } } }, { cloud });
  });
  afterAll(async () => local?.stop());

  it("brings 20 backups and 20 scale changes to a correct end state, and makes no snapshot twice", async () => {
    const mark = cloud.lastCallSeq;
    // Every fourth scale run also meets a permanent error after its change (the check is
    // refused), so it must roll back through the same storm of transient faults.
    const doomed = new Set(groups.filter((_, i) => i % 4 === 3));
    for (const name of doomed) {
      const changed = () =>
        cloud
          .callsSince(mark)
          .some(
            (c) =>
              c.operation === "SetDesiredCapacity" &&
              !c.error &&
              (c.input as { AutoScalingGroupName: string }).AutoScalingGroupName === name,
          );
      cloud.injectFault({
        service: "autoscaling",
        operation: "DescribeAutoScalingGroups",
        kind: "error",
        code: "AccessDenied",
        times: 1,
        match: (input) => input.AutoScalingGroupNames?.includes(name) && changed(),
      });
    }
    for (const service of ["ec2", "autoscaling"]) {
      cloud.injectFault({ service, operation: "*", kind: "throttle", rate: 0.3 });
      cloud.injectFault({
        service,
        operation: "*",
        kind: "error",
        code: "InternalError",
        rate: 0.03,
        burst: 4,
      });
      cloud.injectFault({
        service,
        operation: "*",
        kind: "error",
        code: "ServiceUnavailable",
        rate: 0.01,
        burst: 6,
      });
    }
    const before = new Map(
      cloud.autoScalingGroups("us-east-1").map((g) => [g.AutoScalingGroupName!, g.DesiredCapacity!]),
    );
    const changes = groups.map((_, i) => (i % 2 === 0 ? "+2" : "-1"));
    let started: Array<{ kind: "backup" | "scale"; i: number; id: string }>;
    try {
      const starts = [
        ...instances.map(async (_, i) => {
          const r = await api(local, "POST", "/api/runbooks/backup-snapshot/executions", {
            params: { selector: { tag: { ChaosBackup: `b-${i}` } } },
          });
          expect(r.status).toBe(202);
          return { kind: "backup" as const, i, id: r.body.executionId as string };
        }),
        ...groups.map(async (name, i) => {
          const r = await api(local, "POST", "/api/runbooks/scale/executions", {
            params: { autoScalingGroup: name, change: changes[i] },
          });
          expect(r.status).toBe(202);
          return { kind: "scale" as const, i, id: r.body.executionId as string };
        }),
      ];
      started = await Promise.all(starts);
      await local.idle();
    } finally {
      cloud.clearFaults();
    }
    const calls = cloud.callsSince(mark);
    const injected = calls.filter((c) => c.error).length;
    // The faults really fired, on both services, or this test proves nothing.
    expect(calls.filter((c) => c.service === "ec2" && c.error).length).toBeGreaterThan(20);
    expect(calls.filter((c) => c.service === "autoscaling" && c.error).length).toBeGreaterThan(20);
    expect(calls.some((c) => c.error === "InternalError")).toBe(true);

    const outcomes: Record<string, number> = {};
    for (const s of started) {
      const run = (await api(local, "GET", `/api/executions/${s.id}`)).body;
      const key = `${s.kind} ${run.status}${run.error ? ` ${run.error}` : ""}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      if (s.kind === "scale") {
        const group = cloud
          .autoScalingGroups("us-east-1")
          .find((g) => g.AutoScalingGroupName === groups[s.i])!;
        const from = before.get(groups[s.i])!;
        const running = cloud
          .instances("us-east-1")
          .filter((x) => tag(x, "aws:autoscaling:groupName") === groups[s.i] && x.State?.Name === "running");
        if (!doomed.has(groups[s.i])) {
          // Transient faults only: the retries must carry the run through.
          const to = from + (changes[s.i] === "+2" ? 2 : -1);
          expect({ run: s.id, desired: group.DesiredCapacity, running: running.length }).toEqual({
            run: s.id,
            desired: to,
            running: to,
          });
          expect(run.status).toBe("SUCCEEDED");
        } else {
          // A failed scale leaves the group where it started, its rollback carried through the storm.
          expect({ run: s.id, status: run.status, error: run.error, desired: group.DesiredCapacity }).toEqual(
            {
              run: s.id,
              status: "FAILED",
              error: "AccessDenied",
              desired: from,
            },
          );
          expect(run.result.rollback).toMatchObject({ restored: true, desired: from });
        }
      } else {
        const volumes = instances[s.i].BlockDeviceMappings!.map((m) => m.Ebs!.VolumeId!);
        const made = cloud.snapshots("us-east-1").filter((x) => tag(x, "reflex:execution-id") === s.id);
        const skipped = JSON.stringify(run.result ?? {}).includes("locked by another run");
        if (!skipped) {
          // Transient faults only: the run succeeds, with one completed snapshot per volume.
          expect({ run: s.id, status: run.status, error: run.error }).toEqual({
            run: s.id,
            status: "SUCCEEDED",
            error: null,
          });
          expect({
            run: s.id,
            volumes: made.map((x) => x.VolumeId).sort(),
            states: made.map((x) => x.State),
          }).toEqual({
            run: s.id,
            volumes: [...volumes].sort(),
            states: volumes.map(() => "completed"),
          });
        } else {
          // Skipped because another run holds the instance: it made nothing.
          expect(made).toEqual([]);
        }
      }
    }
    // No snapshot made twice, from the call log: one successful CreateSnapshot per (run, volume).
    const creates = calls.filter((c: CallRecord) => c.operation === "CreateSnapshot" && !c.error);
    const perVolume = new Map<string, number>();
    for (const c of creates) {
      const key = `${c.executionId} ${(c.input as { VolumeId: string }).VolumeId}`;
      perVolume.set(key, (perVolume.get(key) ?? 0) + 1);
    }
    expect([...perVolume].filter(([, n]) => n > 1)).toEqual([]);
    expect(creates.every((c) => c.executionId)).toBe(true);
    console.info(
      `chaos: ${calls.length} calls, ${injected} failed by injected faults; outcomes ${JSON.stringify(outcomes)}`,
    );
  }, 240_000);
});
