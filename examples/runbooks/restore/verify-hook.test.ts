/**
 * restore's verify hook (`verify.lambda`, AWS Backup's restore-validation Lambda as a step of
 * the run), through the test kit with one local mode for the file: the simulated Lambda answers
 * as configured; `failed` makes a drill missed and `timed-out` the same with its reason, and
 * either way every volume the drill made is deleted; `passed` keeps the drill met.
 */

import { Steps } from "@reflex/core";
import { addLambdaFunction } from "@reflex/local/cloud/containers-helpers";
import type { SimulatedCloud } from "@reflex/local/cloud/index";
import {
  callsOutsidePermissions,
  manageWithSsm,
  openSimulation,
  type Simulation,
  type SimulationSession,
} from "@reflex/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restore } from "./index.ts";
import type { Hook } from "./steps.ts";

const HOUR = 3_600_000;
const DEVICES = ["/dev/xvda", "/dev/sdf"];
const MANAGED = { "reflex:managed": "true" };

let source = "";
let scratch = "";
let session: SimulationSession;

function setup(cloud: SimulatedCloud) {
  const src = cloud.addInstance({ name: "app-1", volumeSizes: [8, 20], tags: MANAGED });
  source = src.InstanceId as string;
  scratch = cloud.addInstance({ name: "scratch-1", tags: MANAGED }).InstanceId as string;
  manageWithSsm(cloud, [scratch]);
  (src.BlockDeviceMappings ?? []).forEach((m, i) => {
    const volumeId = m.Ebs?.VolumeId as string;
    cloud.writeVolume(volumeId, `a${i}`.padEnd(64, "0"));
    cloud.addSnapshot({
      volumeId,
      state: "completed",
      startTime: Date.now() - HOUR,
      tags: {
        ...MANAGED,
        "reflex:runbook": "backup-snapshot",
        "reflex:execution-id": "backup-1",
        "reflex:source-instance": source,
        "reflex:source-volume": volumeId,
        "reflex:device": DEVICES[i],
      },
    });
  });
  const hook = (name: string, answers: unknown[]) =>
    addLambdaFunction(cloud, { name, tags: MANAGED, answers });
  hook("check-passes", [{ verdict: "passed" }]);
  hook("check-fails", [{ verdict: "failed", reason: "orders table has 0 rows" }]);
  hook("check-hangs", [
    { functionError: { errorType: "Sandbox.Timedout", errorMessage: "Task timed out after 900.00 seconds" } },
  ]);
}

const drill = (name: string, lambda: string) => ({
  name,
  source: { instanceId: source },
  isolate: { instanceId: scratch },
  targets: { rtoMinutes: 30, rpoMinutes: 180 },
  verify: { lambda },
});

beforeAll(async () => {
  session = await openSimulation(restore, {
    setup,
    config: () => ({
      drills: [
        drill("hook-passes", "check-passes"),
        drill("hook-fails", "check-fails"),
        drill("hook-hangs", `arn:aws:lambda:us-east-1:123456789012:function:check-hangs`),
        // Keeps what it restored a day for a person's checks; the reconciler deletes it after.
        { ...drill("kept-a-day", "check-passes"), keepFor: 24 },
      ],
    }),
  });
});
afterAll(() => session?.close());

const leftovers = (s: Simulation) =>
  s.cloud.volumes().filter((v) => v.Tags?.some((t) => t.Key === "reflex:restore-execution"));
const invokes = (s: Simulation) => s.calls.filter((c) => c.service === "lambda" && c.operation === "Invoke");

describe("restore's verify hook", () => {
  it("invokes the drill's function with the restored volumes; passed keeps the drill met, and nothing is left", async () => {
    const s = await session.run({ drill: "hook-passes" });
    expect(s.run.status, `${s.run.error}: ${s.run.cause}`).toBe("SUCCEEDED");
    expect(s.run.result?.verifyHook).toEqual({ function: "check-passes", verdict: "passed" });
    const [call] = invokes(s);
    const payload = JSON.parse(new TextDecoder().decode((call.input as { Payload: Uint8Array }).Payload));
    expect(payload).toMatchObject({ executionId: s.run.id, drill: "hook-passes", instanceId: scratch });
    expect(payload.volumes.map((v: { device: string }) => v.device).sort()).toEqual([...DEVICES].sort());
    expect(leftovers(s)).toEqual([]);
    expect(callsOutsidePermissions(s)).toEqual([]);
  });

  it("failed: the drill is missed, with the hook's reason, and every volume it made is deleted", async () => {
    const s = await session.run({ drill: "hook-fails" });
    expect(s.run.status).toBe("FAILED");
    expect(s.run.error).toBe("DrillMissed");
    expect(s.run.result?.verifyHook).toEqual({
      function: "check-fails",
      verdict: "failed",
      reason: "orders table has 0 rows",
    } satisfies Hook);
    expect(s.outcome.summary).toContain("verify hook check-fails: failed (orders table has 0 rows)");
    expect(invokes(s)).toHaveLength(1);
    const made = s.calls.filter((c) => c.operation === "CreateVolume" && c.mutating && !c.error);
    expect(made).toHaveLength(2);
    expect(s.calls.filter((c) => c.operation === "DeleteVolume" && !c.error)).toHaveLength(2);
    expect(leftovers(s)).toEqual([]);
    expect(s.cloud.instance(scratch)?.BlockDeviceMappings).toHaveLength(1);
    const { drills } = (await (await fetch(`${session.url}/api/drills`)).json()) as {
      drills: Array<{ name: string; last?: { verdict: string } }>;
    };
    expect(JSON.stringify(drills.find((d) => d.name === "hook-fails"))).toContain('"verdict":"missed"');
  });

  it("timed-out (the function ran out of time): missed the same, with its reason", async () => {
    const s = await session.run({ drill: "hook-hangs" });
    expect(s.run.status).toBe("FAILED");
    expect(s.run.error).toBe("DrillMissed");
    expect(s.run.result?.verifyHook).toMatchObject({ verdict: "timed-out" });
    expect((s.run.result?.verifyHook as Hook | undefined)?.reason).toContain(
      "Task timed out after 900.00 seconds",
    );
    expect(leftovers(s)).toEqual([]);
  });

  it("a plain restore whose hook fails did not verify: its volumes are deleted", async () => {
    const failed = await session.run({ source: { instanceId: source }, verify: { lambda: "check-fails" } });
    expect(failed.run.status).toBe("FAILED");
    expect(failed.run.error).toBe("VerifyFailed");
    expect(leftovers(failed)).toEqual([]);
  });

  it("is refused with an in-place restore (it would never run there): 400 naming verify", async () => {
    const res = await fetch(`${session.url}/api/runbooks/restore/executions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": "cli:test" },
      body: JSON.stringify({
        params: { source: { instanceId: source }, mode: "in-place", verify: { lambda: "check-passes" } },
      }),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain("verify");
  });

  it("keepFor: the drill keeps its volumes for its checks; the reconciler deletes them once the hours passed, not before", async () => {
    const s = await session.run({ drill: "kept-a-day" });
    expect(s.run.status, `${s.run.error}: ${s.run.cause}`).toBe("SUCCEEDED");
    const made = leftovers(s).filter((v) => v.Tags?.some((t) => t.Value === s.run.id));
    expect(made).toHaveLength(2);
    const kept = s.run.result?.kept as { until: string; hours: number; volumes: string[] };
    expect(kept.hours).toBe(24);
    expect([...kept.volumes].sort()).toEqual(made.map((v) => v.VolumeId).sort());
    const until = Date.parse(kept.until);

    // An hour before its time: nothing is deleted.
    expect(await Steps.sweepKept(new Date(until - HOUR))).toEqual([]);
    expect(s.cloud.volumes().filter((v) => kept.volumes.includes(v.VolumeId as string))).toHaveLength(2);

    const swept = await Steps.sweepKept(new Date(until + 1));
    expect(swept.map((x) => x.executionId)).toEqual([s.run.id]);
    expect(s.cloud.volumes().filter((v) => kept.volumes.includes(v.VolumeId as string))).toEqual([]);
    expect(s.cloud.instance(scratch)?.BlockDeviceMappings).toHaveLength(1);
    // Swept once: the next pass finds nothing left to do.
    expect(await Steps.sweepKept(new Date(until + 2 * HOUR))).toEqual([]);
    const { drills } = (await (await fetch(`${session.url}/api/drills`)).json()) as {
      drills: Array<{ name: string; last?: { cleanup: string; resources: { left: string[] } } }>;
    };
    const last = drills.find((d) => d.name === "kept-a-day")?.last;
    expect(last?.cleanup).toBe("kept 24 h for your checks, then deleted by the reconciler: 2 volume(s)");
    expect(last?.resources.left).toEqual([]);
  });
});
