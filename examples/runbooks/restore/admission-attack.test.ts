/**
 * restore's doors, attacked at admission (t7): a start that its plan would refuse anyway is a
 * 400 before anything is written or changed, never a 202 and a failed run.
 */
import type { SimulatedCloud } from "@reflex/local/cloud/index";
import { openSimulation, type SimulationSession } from "@reflex/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restore } from "./index.ts";

/** app-1 with a Reflex backup of its one volume. */
function prepare(cloud: SimulatedCloud) {
  const tags = { "reflex:managed": "true" };
  const src = cloud.addInstance({ name: "app-1", volumeSizes: [8], tags, availabilityZone: "us-east-1b" });
  const volumeId = src.BlockDeviceMappings?.[0]?.Ebs?.VolumeId as string;
  const snapshotId = cloud.addSnapshot({
    volumeId,
    state: "completed",
    startTime: Date.now() - 3_600_000,
    tags: {
      ...tags,
      "reflex:runbook": "backup-snapshot",
      "reflex:execution-id": "backup-1",
      "reflex:source-instance": src.InstanceId as string,
      "reflex:source-volume": volumeId,
      "reflex:device": "/dev/xvda",
    },
  }).SnapshotId as string;
  return { source: src.InstanceId as string, snapshotId };
}

let session: SimulationSession;
let fx: ReturnType<typeof prepare>;
beforeAll(async () => {
  session = await openSimulation(restore, {
    setup: (cloud) => {
      fx = prepare(cloud);
    },
  });
});
afterAll(() => session?.close());

/** POST a restore as the API takes it: the answer's status and body. */
async function start(params: Record<string, unknown>) {
  const res = await fetch(`${session.url}/api/runbooks/restore/executions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-reflex-actor": "cli:test" },
    body: JSON.stringify({ params }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; path?: string } } };
}

/** The runs local mode holds, as `GET /api/executions` lists them. */
async function runs(): Promise<unknown[]> {
  return ((await (await fetch(`${session.url}/api/executions`)).json()) as { executions: unknown[] })
    .executions;
}

describe("restore's admission, attacked", () => {
  it("refuses attachTo naming the source instance itself: 400 ScratchIsSource at attachTo.instanceId, no run, no mutating call", async () => {
    const mark = session.cloud.lastCallSeq;
    const out = await start({ source: { instanceId: fx.source }, attachTo: { instanceId: fx.source } });
    expect(out).toMatchObject({
      status: 400,
      body: { error: { code: "ScratchIsSource", path: "attachTo.instanceId" } },
    });
    expect(session.cloud.mutatingCalls().filter((c) => c.seq > mark)).toEqual([]);
    expect(await runs()).toEqual([]);
  });

  it("refuses attachTo the source instance of a snapshot named by id (its backup's instance)", async () => {
    const out = await start({ source: { snapshotId: fx.snapshotId }, attachTo: { instanceId: fx.source } });
    expect(out).toMatchObject({ status: 400, body: { error: { code: "ScratchIsSource" } } });
  });

  it("refuses a verify hook whose ARN names another Region than the restore's: 400 VerifyElsewhere at verify.lambda", async () => {
    const out = await start({
      source: { snapshotId: fx.snapshotId },
      verify: { lambda: "arn:aws:lambda:eu-west-1:123456789012:function:check" },
    });
    expect(out).toMatchObject({
      status: 400,
      body: { error: { code: "VerifyElsewhere", path: "verify.lambda" } },
    });
    expect(await runs()).toEqual([]);
  });
});
