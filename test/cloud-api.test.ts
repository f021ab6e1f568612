/**
 * The simulated cloud from outside (local mode only): `GET /api/cloud`, the call log at
 * `GET /api/cloud/calls`, faults at `/api/cloud/faults`, and `reflex cloud` / `reflex chaos`
 * as a user runs them (a child process against the running server).
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, runAndWait, startTestLocal } from "./support/local.ts";

const exec = promisify(execFile);
const BIN = join(import.meta.dirname, "../packages/local/bin/reflex.mjs");

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal();
});
afterAll(async () => local?.stop());

async function reflex(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args, "--url", local.url], {
      env: { ...process.env, NO_COLOR: "1" },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("GET /api/cloud", () => {
  it("lists the seeded account: named instances with tags, the web group, volumes, snapshots", async () => {
    const { status, body } = await api(local, "GET", "/api/cloud");

    expect(status).toBe(200);
    const db1 = body.instances.find((i: { name: string }) => i.name === "db-1");
    expect(db1).toMatchObject({
      instanceId: expect.stringMatching(/^i-/),
      state: "running",
      region: "us-east-1",
    });
    expect(db1.tags).toMatchObject({ "reflex:managed": "true" });
    expect(body.groups).toContainEqual(expect.objectContaining({ name: "web", min: 2, max: 12, desired: 6 }));
    expect(body.volumes.some((v: { instanceId: string }) => v.instanceId === db1.instanceId)).toBe(true);
    expect(body.snapshots.length).toBeGreaterThan(0);
  });
});

describe("/api/cloud/faults", () => {
  it("arms a fault that fires on its count of calls, lists it, and is gone once used up", async () => {
    const armed = await api(local, "POST", "/api/cloud/faults", {
      operation: "ec2:DescribeInstances",
      error: "RequestLimitExceeded",
      count: 2,
    });
    expect(armed.status).toBe(201);
    expect(armed.body.fault).toMatchObject({
      service: "ec2",
      operation: "DescribeInstances",
      kind: "throttle",
    });
    expect((await api(local, "GET", "/api/cloud/faults")).body.faults).toHaveLength(1);

    const mark = local.cloud.lastCallSeq;
    const run = await runAndWait(local, "backup-snapshot", { selector: { tag: { Backup: "daily" } } }, true);

    expect(run.status).toBe("SUCCEEDED"); // the SDK rode out two throttles
    const calls = (await api(local, "GET", `/api/cloud/calls?since=${mark}`)).body.calls;
    expect(calls.filter((c: { outcome: string }) => c.outcome === "RequestLimitExceeded")).toHaveLength(2);
    expect((await api(local, "GET", "/api/cloud/faults")).body.faults).toEqual([]);
  });

  it("refuses a bad fault with a 400 naming the field, and arms nothing", async () => {
    for (const [body, path] of [
      [{ operation: "ec2:CreateSnapshot", error: "InternalError", rate: 1.5 }, "rate"],
      [{ operation: "s3:PutObject", error: "InternalError" }, "operation"],
      [{ operation: "ec2:CreateSnapshot" }, "error"],
      [{ operation: "ec2:CreateSnapshot", latency: "soon" }, "latency"],
      [{ operation: "ec2:CreateSnapshot", error: "InternalError", extra: 1 }, "extra"],
    ] as const) {
      const r = await api(local, "POST", "/api/cloud/faults", body);
      expect({ status: r.status, path: r.body.error?.path }).toEqual({ status: 400, path });
    }
    expect(local.cloud.faults()).toEqual([]);
  });
});

describe("GET /api/cloud/calls", () => {
  it("lists mutating calls with their execution, digest and outcome", async () => {
    const mark = local.cloud.lastCallSeq;
    const run = await runAndWait(local, "scale", { autoScalingGroup: "web", change: "+1" });

    const { body } = await api(local, "GET", `/api/cloud/calls?mutating=true&since=${mark}`);
    expect(body.calls).toEqual([
      expect.objectContaining({
        service: "autoscaling",
        operation: "SetDesiredCapacity",
        mutating: true,
        outcome: "ok",
        executionId: run.id,
        digest: expect.stringMatching(/^[0-9a-f]{12}$/),
      }),
    ]);
    expect((await api(local, "GET", "/api/cloud/calls?since=yesterday-ish")).status).toBe(400);
  });
});

describe("reflex cloud and reflex chaos", () => {
  it("lists the account, arms a fault, lists it, and clears it", async () => {
    const cloud = await reflex("cloud");
    expect(cloud.code).toBe(0);
    expect(cloud.stdout).toMatch(/db-1\s+us-east-1\s+running\s+r5\.xlarge/);

    const add = await reflex(
      "chaos",
      "add",
      "--op",
      "ec2:CreateSnapshot",
      "--error",
      "InternalError",
      "--rate",
      "0.3",
    );
    expect(add).toMatchObject({ code: 0 });
    expect(add.stdout).toMatch(/^armed fault-\d+\s+ec2:CreateSnapshot\s+InternalError\s+rate 0.3/);
    expect((await reflex("chaos", "list")).stdout).toMatch(/ec2:CreateSnapshot\s+InternalError/);
    expect(await reflex("chaos", "clear")).toMatchObject({ code: 0, stdout: "disarmed 1 fault(s)\n" });
    expect(local.cloud.faults()).toEqual([]);
  });

  it("exits 2 on a bad fault, with the reason", async () => {
    const bad = await reflex(
      "chaos",
      "add",
      "--op",
      "ec2:CreateSnapshot",
      "--error",
      "InternalError",
      "--rate",
      "2",
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/rate/);
  });
});

describe("the README's and runbook docs' examples", () => {
  it("name only instance, volume and snapshot ids that exist in the seeded cloud", async () => {
    const { readFileSync, readdirSync } = await import("node:fs");
    const root = join(import.meta.dirname, "..");
    const files = ["README.md", ...readdirSync(join(root, "docs/runbooks")).map((f) => `docs/runbooks/${f}`)];
    const seeded = SimulatedCloud.seeded();
    const known = new Set([
      ...seeded.instances().map((i) => i.InstanceId),
      ...seeded.volumes().map((v) => v.VolumeId),
      ...seeded.snapshots().map((s) => s.SnapshotId),
    ]);
    const named = files.flatMap((f) =>
      [...readFileSync(join(root, f), "utf8").matchAll(/\b(?:i|vol|snap)-[0-9a-f]{8,17}\b/g)].map(
        (m) => `${f}: ${m[0]}`,
      ),
    );

    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((n) => !known.has(n.split(": ")[1]))).toEqual([]);
  });
});
