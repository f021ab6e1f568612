/**
 * backup-snapshot end to end: local mode in-process, the real ASL on the local Step Functions
 * engine, the real step handler, dynalite, s3rver and the simulated cloud.
 */
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Aws, Locks } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Snapshot } from "../packages/local/src/cloud/index.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, runAndWait, startTestLocal } from "./support/local.ts";

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal({
    schedules: [
      {
        name: "nightly-backup",
        cron: "cron(0 2 * * ? *)",
        run: "backup-snapshot",
        with: { selector: { tag: { Backup: "daily" } } },
      },
    ],
  });
});
afterAll(async () => local?.stop());

const tag = (s: Snapshot, key: string) => s.Tags?.find((t) => t.Key === key)?.Value;
const daily = () =>
  local.cloud.instances().filter((i) => i.Tags?.some((t) => t.Key === "Backup" && t.Value === "daily"));
const volumesOf = (instances: ReturnType<typeof daily>) =>
  instances.flatMap((i) => (i.BlockDeviceMappings ?? []).map((m) => m.Ebs!.VolumeId!));

describe("backup-snapshot in local mode", () => {
  it("dry-run reports the plan and makes no mutating call", async () => {
    const before = local.cloud.calls.length;

    const run = await runAndWait(
      local,
      "backup-snapshot",
      { selector: { tag: { Backup: "daily" } }, keepLast: 1 },
      true,
    );

    expect(run.status).toBe("SUCCEEDED");
    const calls = local.cloud.calls.slice(before);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.filter((c) => c.mutating)).toEqual([]);
    expect(run.result.plan.create).toHaveLength(volumesOf(daily()).length);
    expect(run.result.plan.prune.length).toBeGreaterThan(0);
  });

  it("snapshots every volume, prunes only expired Reflex snapshots, writes the manifest and the records", async () => {
    const volumes = volumesOf(daily());
    const seeded = local.cloud.snapshots("us-east-1");
    const expiredOfSelected = seeded.filter(
      (s) =>
        tag(s, "reflex:runbook") &&
        volumes.includes(tag(s, "reflex:source-volume")!) &&
        Date.parse(tag(s, "reflex:retain-until")!) < Date.now(),
    );
    const untouchable = seeded.filter((s) => !expiredOfSelected.includes(s));
    expect(expiredOfSelected.length).toBeGreaterThan(0);
    expect(untouchable.some((s) => !tag(s, "reflex:managed"))).toBe(true); // the manual snapshot

    const run = await runAndWait(local, "backup-snapshot", {
      selector: { tag: { Backup: "daily" } },
      keepLast: 1,
      retainDays: 14,
    });

    expect(run.status).toBe("SUCCEEDED");
    const after = local.cloud.snapshots("us-east-1");
    const made = after.filter((s) => tag(s, "reflex:execution-id") === run.id);
    expect(made.map((s) => s.VolumeId).sort()).toEqual([...volumes].sort());
    for (const s of made) {
      expect(s.State).toBe("completed");
      expect(tag(s, "reflex:managed")).toBe("true");
      expect(tag(s, "reflex:source-volume")).toBe(s.VolumeId);
      expect(Date.parse(tag(s, "reflex:retain-until")!) - Date.now()).toBeGreaterThan(13 * 86_400_000);
    }
    const ids = new Set(after.map((s) => s.SnapshotId));
    for (const s of expiredOfSelected) expect(ids.has(s.SnapshotId)).toBe(false);
    for (const s of untouchable) expect(ids.has(s.SnapshotId)).toBe(true);

    // per-target results and the S3 manifest
    expect(run.result.targets).toHaveLength(daily().length);
    expect(run.result.targets.every((t: { status: string }) => t.status === "succeeded")).toBe(true);
    expect(run.result.pruned.deleted.map((d: { snapshotId: string }) => d.snapshotId).sort()).toEqual(
      expiredOfSelected.map((s) => s.SnapshotId).sort(),
    );
    const [, bucket, key] = run.result.manifest.match(/^s3:\/\/([^/]+)\/(.+)$/);
    const object = await Aws.client(S3Client, "s3").send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const manifest = JSON.parse(await object.Body!.transformToString());
    expect(manifest).toMatchObject({ runbook: "backup-snapshot", executionId: run.id });
    expect(
      manifest.targets
        .flatMap((t: { snapshots: Array<{ snapshotId: string }> }) => t.snapshots.map((s) => s.snapshotId))
        .sort(),
    ).toEqual(made.map((s) => s.SnapshotId).sort());

    // the DynamoDB records: every step, and the audit trail of the run
    expect(run.steps.map((s: { step: string }) => s.step)).toEqual(
      expect.arrayContaining(["plan", "snapshotInstance", "checkSnapshots", "prune", "report"]),
    );
    expect(run.steps.filter((s: { step: string }) => s.step === "snapshotInstance")).toHaveLength(
      daily().length,
    );
    expect(run.audit.map((a: { kind: string }) => a.kind)).toEqual([
      "execution.started",
      "execution.succeeded",
    ]);
  });

  it("reports a target that failed, fails the run, and still backs up the others", async () => {
    const victim = daily()[0];
    const victimVolume = victim.BlockDeviceMappings![0].Ebs!.VolumeId!;
    local.cloud.injectFault({
      operation: "CreateSnapshot",
      kind: "error",
      code: "IncorrectState",
      message: "volume is in a bad state",
      match: (input) => input.VolumeId === victimVolume,
    });
    try {
      const run = await runAndWait(local, "backup-snapshot", { selector: { tag: { Backup: "daily" } } });

      expect(run.status).toBe("FAILED");
      expect(run.error).toBe("PartialFailure");
      const failed = run.result.targets.filter((t: { status: string }) => t.status === "failed");
      expect(failed).toEqual([
        expect.objectContaining({
          instanceId: victim.InstanceId,
          error: expect.stringContaining("volume is in a bad state"),
        }),
      ]);
      expect(run.result.targets.filter((t: { status: string }) => t.status === "succeeded")).toHaveLength(
        daily().length - 1,
      );
    } finally {
      local.cloud.clearFaults();
    }
  });

  it("rides out throttling through the SDK's retries", async () => {
    local.cloud.injectFault({ operation: "CreateSnapshot", kind: "throttle", times: 2 });
    try {
      const run = await runAndWait(local, "backup-snapshot", {
        selector: { instanceIds: [daily()[1].InstanceId] },
      });
      expect({ status: run.status, error: run.error, cause: run.cause }).toEqual({
        status: "SUCCEEDED",
        error: null,
        cause: null,
      });
      expect(
        local.cloud.calls.filter(
          (c) => c.operation === "CreateSnapshot" && c.error === "RequestLimitExceeded",
        ),
      ).toHaveLength(2);
    } finally {
      local.cloud.clearFaults();
    }
  });

  it("copies to the DR region when asked", async () => {
    const run = await runAndWait(local, "backup-snapshot", {
      selector: { instanceIds: [daily()[2].InstanceId] },
      copyToRegion: "us-west-2",
    });
    expect(run.status).toBe("SUCCEEDED");
    const copies = local.cloud.snapshots("us-west-2").filter((s) => tag(s, "reflex:execution-id") === run.id);
    expect(copies).toHaveLength(run.result.targets[0].snapshots.length);
    expect(copies.map((c) => tag(c, "reflex:source-snapshot")).sort()).toEqual(
      run.result.targets[0].snapshots.map((s: { snapshotId: string }) => s.snapshotId).sort(),
    );
  });

  it("runs from the config's schedule, once per fire time", async () => {
    const job = local.jobs.find((j) => j.name === "nightly-backup")!;
    // A fire time the Scheduler could still be delivering (one older than its last retry is refused).
    const at = new Date(Math.floor((Date.now() - 5 * 60_000) / 60_000) * 60_000);
    await job.fire(at);
    await job.fire(at); // a redelivered invocation
    await local.idle();
    const { body } = await api(local, "GET", "/api/executions?limit=50");
    const scheduled = body.executions.filter(
      (e: { trigger: { kind: string } }) => e.trigger.kind === "schedule",
    );
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]).toMatchObject({ status: "SUCCEEDED", trigger: { name: "nightly-backup" } });
    // A redelivery after the run ended must not leave the target locked.
    await job.fire(at);
    await local.idle();
    expect(await Locks.list()).toEqual([]);
  });
});

describe("locks per target", () => {
  const instanceId = (name: string) =>
    local.cloud.instances().find((i) => i.Tags?.some((t) => t.Key === "Name" && t.Value === name))!
      .InstanceId!;
  const start = async (params: unknown) => {
    const res = await api(local, "POST", "/api/runbooks/backup-snapshot/executions", { params });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.executionId as string;
  };
  const show = async (id: string) => (await api(local, "GET", `/api/executions/${id}`)).body;

  it("never lets two backups snapshot one instance at once, whatever selector named it", async () => {
    const db1 = instanceId("db-1");
    // Four selectors that all name db-1: tag order swapped, and by instance id.
    const ids = [
      await start({ selector: { tag: { Backup: "daily", Role: "db" } } }),
      await start({ selector: { tag: { Role: "db", Backup: "daily" } } }),
      await start({ selector: { instanceIds: [db1] } }),
      await start({ selector: { tag: { Name: "db-1" } } }),
    ];
    await local.idle();
    const runs = await Promise.all(ids.map(show));

    // db-1's volumes were snapshotted by exactly one run; the others skipped it, saying who held it.
    const db1Volumes = local.cloud.instances().find((i) => i.InstanceId === db1)!.BlockDeviceMappings!.length;
    const made = local.cloud
      .snapshots()
      .filter(
        (s) => ids.includes(tag(s, "reflex:execution-id") ?? "") && tag(s, "reflex:source-instance") === db1,
      );
    expect(made).toHaveLength(db1Volumes);
    const owners = runs.filter((r) =>
      (r.result.targets ?? []).some((t: any) => t.instanceId === db1 && t.status === "succeeded"),
    );
    expect(owners).toHaveLength(1);
    for (const r of runs.filter((r) => r !== owners[0])) {
      const skippedDb1 =
        (r.result.targets ?? []).find((t: any) => t.instanceId === db1)?.error ??
        (r.result.plan?.skipped ?? []).find((t: any) => t.instanceId === db1)?.reason ??
        r.cause;
      expect(skippedDb1, `run ${r.id} must report db-1 as locked`).toMatch(/locked by/);
    }
    expect(await Locks.list()).toEqual([]);
  });
});

describe("bad input", () => {
  it("answers 404 for an unknown runbook and 400 naming the bad param, starting nothing; the refused start is audited with its actor", async () => {
    const before = (await api(local, "GET", "/api/executions?limit=500")).body.executions.length;
    const auditBefore = (await api(local, "GET", "/api/audit?limit=500")).body.entries.length;

    const unknown = await api(local, "POST", "/api/runbooks/no-such/executions", { params: {} });
    const invalid = await api(local, "POST", "/api/runbooks/backup-snapshot/executions", {
      params: { selector: { tag: { Backup: "daily" } }, retainDays: "soon" },
    });
    const garbage = await api(local, "POST", "/api/runbooks/backup-snapshot/executions", "{not json");

    expect(unknown).toEqual({
      status: 404,
      body: { error: { code: "not_found", message: "runbook 'no-such' does not exist" } },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error).toMatchObject({ code: "invalid_params", path: "params.retainDays" });
    expect(garbage).toMatchObject({ status: 400, body: { error: { code: "invalid_json" } } });
    expect((await api(local, "GET", "/api/executions?limit=500")).body.executions).toHaveLength(before);
    const audit = (await api(local, "GET", "/api/audit?limit=500")).body.entries;
    // One line, for the start refused for its params (bad JSON and unknown runbooks start nothing to refuse).
    expect(audit).toHaveLength(auditBefore + 1);
    expect(audit[0]).toMatchObject({ kind: "start.refused", guardrail: "params", actor: expect.any(String) });
  });

  it("lists each runbook with its params schema and an example that validates", async () => {
    const { body } = await api(local, "GET", "/api/runbooks");
    const backup = body.runbooks.find((r: { name: string }) => r.name === "backup-snapshot");
    expect(backup).toMatchObject({
      risk: "low",
      params: { type: "object" },
      example: { selector: { tag: { Backup: "daily" } } },
    });
    const run = await runAndWait(local, "backup-snapshot", backup.example, true);
    expect(run.status).toBe("SUCCEEDED");
  });
});
