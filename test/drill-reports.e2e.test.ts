/**
 * Drill reports in S3 and the compliance summary: when a drill ends, its report
 * (`reports/drills/<name>/<date>.json`: verdict, RTO by phase, RPO, targets met or missed, what
 * it created, deleted and left) and the month's summary (`reports/drills/summary/<yyyy-mm>.json`)
 * are in the reports bucket; `GET /api/drills?from=&to=` and `reflex drills --summary` answer
 * the summary; a report that cannot be written leaves the drill's verdict alone, says so, and
 * the reconciler's pass writes it. One local mode (in-process, s3rver) for the file.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Aws, HistoryReports } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { restore } from "../examples/runbooks/restore/index.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { manageWithSsm, setPatchingSettings } from "../packages/local/src/cloud/patching-helpers.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { reflex } from "./support/cli.ts";
import { clearOfMonthEnd, holdOneMonth } from "./support/clock.ts";
import { api, runAndWait, startTestLocal } from "./support/local.ts";

const HOUR = 3_600_000;
const MANAGED = { "reflex:managed": "true" };
let local: LocalMode;
let cloud: SimulatedCloud;

async function readS3(url: string): Promise<any> {
  const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(url) ?? [];
  const object = await Aws.client(S3Client, "s3").send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await (object.Body as { transformToString(): Promise<string> }).transformToString());
}

const rowOf = async (drill: string, executionId: string) =>
  (await api(local, "GET", `/api/drills/${drill}/history`)).body.runs.find(
    (r: { executionId: string }) => r.executionId === executionId,
  );

beforeAll(async () => {
  // The drills' summaries are a month's: run in a month's last seconds, the drills here fell on
  // either side of midnight and the month's summary counted some of them.
  holdOneMonth();
  cloud = SimulatedCloud.seeded({
    snapshotDurationMs: 20,
    volumeCreateMs: 20,
    volumeCreatePerGiBMs: 0.1,
    volumeAttachMs: 20,
  });
  const app = cloud.addInstance({ name: "app-1", tags: MANAGED, availabilityZone: "us-east-1b" });
  const scratch = cloud.addInstance({ name: "scratch-1", tags: MANAGED, availabilityZone: "us-east-1b" })
    .InstanceId as string;
  manageWithSsm(cloud, [scratch]);
  setPatchingSettings(cloud, { commandDurationMs: 20 });
  const volumeId = app.BlockDeviceMappings?.[0]?.Ebs?.VolumeId as string;
  const backup = cloud.addSnapshot({
    volumeId,
    state: "completed",
    startTime: Date.now() - 2 * HOUR,
    tags: {
      ...MANAGED,
      "reflex:runbook": "backup-snapshot",
      "reflex:execution-id": "backup-1",
      "reflex:source-instance": app.InstanceId as string,
      "reflex:source-volume": volumeId,
      "reflex:device": "/dev/xvda",
    },
  }).SnapshotId as string;
  const drill = (name: string, rpoMinutes: number) => ({
    name,
    source: { snapshotId: backup },
    isolate: { instanceId: scratch },
    targets: { rtoMinutes: 30, rpoMinutes },
  });
  local = await startTestLocal(
    // `tight` restores the same 2 h old backup against a 1 h RPO: missed.
    { runbooks: [restore], drills: [drill("app-1", 600), drill("tight", 60), drill("never", 600)] },
    { cloud },
  );
});
afterAll(async () => {
  await local?.stop();
  vi.useRealTimers();
});

describe("the file's clock", () => {
  it("starts 4 minutes before a month's end when the machine's clock is nearer to it, as in its last 100 ms", () => {
    expect(new Date(clearOfMonthEnd(Date.parse("2026-11-30T23:59:59.900Z"))).toISOString()).toBe(
      "2026-11-30T23:56:00.000Z",
    );
    expect(new Date(clearOfMonthEnd(Date.parse("2028-02-29T23:57:00.000Z"))).toISOString()).toBe(
      "2028-02-29T23:56:00.000Z",
    );
  });

  it("is the machine's clock otherwise, a month's first seconds included", () => {
    for (const at of ["2026-11-30T23:55:59.999Z", "2026-12-01T00:00:00.000Z", "2026-12-15T12:00:00.000Z"])
      expect(new Date(clearOfMonthEnd(Date.parse(at))).toISOString()).toBe(at);
  });
});

describe("drill reports in S3", () => {
  let met: { id: string; row: any };
  let missed: { id: string; row: any };

  it("writes each drill's report when it ends: verdict, RTO by phase, RPO, targets, resources created, deleted and left", async () => {
    const a = await runAndWait(local, "restore", { drill: "app-1" });
    const b = await runAndWait(local, "restore", { drill: "tight" });
    expect([a.status, b.status]).toEqual(["SUCCEEDED", "FAILED"]);
    met = { id: a.id, row: await rowOf("app-1", a.id) };
    missed = { id: b.id, row: await rowOf("tight", b.id) };
    expect(met.row.report).toMatch(/^s3:\/\/[^/]+\/reports\/drills\/app-1\/\d{4}-\d{2}-\d{2}T\d{6}Z\.json$/);
    const report = await readS3(met.row.report);
    expect(report).toMatchObject({
      drill: "app-1",
      runbook: "restore",
      executionId: a.id,
      verdict: "met",
      rto: "met",
      rpo: "met",
      targets: { rtoMinutes: 30, rpoMinutes: 600 },
      cleanup: "torn down: 1 volume(s) deleted",
    });
    expect(Object.keys(report.phasesMinutes)).toEqual(["plan", "volumes", "attach", "verify"]);
    expect(report.rpoMinutes).toBeGreaterThanOrEqual(120);
    expect(report.resources.created).toHaveLength(1);
    expect(report.resources.deleted).toEqual(report.resources.created);
    expect(report.resources.left).toEqual([]);
    // What the report says is left is what the cloud holds: no volume of the drill remains.
    expect(cloud.volumes().filter((v) => v.Tags?.some((t) => t.Key === "reflex:drill"))).toEqual([]);
    expect(await readS3(missed.row.report)).toMatchObject({
      drill: "tight",
      verdict: "missed",
      rpo: "missed",
    });
  });

  it("keeps the month's compliance summary beside them: drills run, met, missed, per drill and overall", async () => {
    const month = met.row.startedAt.slice(0, 7);
    expect(met.row.report.replace(/\/app-1\/.*$/, "")).toBe(missed.row.report.replace(/\/tight\/.*$/, ""));
    const summary = await readS3(met.row.report.replace(/\/app-1\/.*$/, `/summary/${month}.json`));
    expect(summary.overall).toMatchObject({
      runs: 2,
      met: 1,
      missed: 1,
      failed: 0,
      metPercent: 50,
      entries: 3,
      neverRun: ["never"],
    });
    const byName = Object.fromEntries(summary.entries.map((e: { name: string }) => [e.name, e]));
    expect(byName["app-1"]).toMatchObject({ runs: 1, met: 1, missed: 0, last: { executionId: met.id } });
    expect(byName.tight).toMatchObject({ runs: 1, met: 0, missed: 1 });
  });

  it("answers the summary over a period from GET /api/drills?from=&to=, and a bad period is a 400 naming the field", async () => {
    const from = `${met.row.startedAt.slice(0, 10)}`;
    const res = await api(local, "GET", `/api/drills?from=${from}`);
    expect(res.status).toBe(200);
    expect(res.body.drills.map((d: { name: string }) => d.name).sort()).toEqual(["app-1", "never", "tight"]);
    expect(res.body.summary.overall).toMatchObject({ runs: 2, met: 1, missed: 1 });
    // A period before any drill ran: nothing run, every drill named as not drilled.
    const before = await api(local, "GET", "/api/drills?from=2020-01-01&to=2020-02-01");
    expect(before.body.summary.overall).toMatchObject({ runs: 0, metPercent: null });
    expect(before.body.summary.overall.neverRun.sort()).toEqual(["app-1", "never", "tight"]);
    expect((await api(local, "GET", "/api/drills")).body.summary).toBeUndefined();
    for (const [query, path] of [
      ["from=yesterday", "from"],
      ["from=2026-13-45", "from"],
      ["to=2026-12-01T00:00", "to"],
      ["from=2026-12-02&to=2026-12-01", "to"],
    ]) {
      const bad = await api(local, "GET", `/api/drills?${query}`);
      expect({ query, status: bad.status, code: bad.body.error?.code, path: bad.body.error?.path }).toEqual({
        query,
        status: 400,
        code: "invalid_query",
        path,
      });
    }
  });

  it("refuses a period with a day its month does not have, or empty, with a 400 naming the field given", async () => {
    for (const [query, path] of [
      ["from=2026-02-31", "from"],
      ["from=2026-02-29", "from"],
      ["from=2026-01-01&to=2026-04-31T00:00Z", "to"],
      ["to=2026-06-31T10:00:00+02:00", "to"],
      // Only from, in the future: the period to now is empty, and from is the field at fault.
      ["from=2999-01-01", "from"],
      ["to=2000-01-01", "to"],
    ]) {
      const bad = await api(local, "GET", `/api/drills?${query}`);
      expect({ query, status: bad.status, path: bad.body.error?.path }).toEqual({ query, status: 400, path });
    }
    // A leap day in a leap year is a date.
    expect((await api(local, "GET", "/api/drills?from=2028-02-29&to=2028-03-01")).status).toBe(200);
  });

  it("reflex drills --summary prints it, per drill and overall; --json is the API's summary", async () => {
    const text = await reflex(["drills", "--summary", "--from", "2020-01-01", "--url", local.url]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^app-1: 1 run\(s\), 1 met, 0 missed, 0 failed, 0 lost; met 100%$/m);
    expect(text.stdout).toMatch(/^overall: 2 run\(s\) of 3 drill\(s\), 1 met, 1 missed, .*met 50%$/m);
    expect(text.stdout).toContain("not drilled in the period: never");
    const json = await reflex(["drills", "--summary", "--json", "--url", local.url]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).overall).toMatchObject({ runs: 2, met: 1, missed: 1 });
    const bad = await reflex(["drills", "--summary", "--from", "soon", "--url", local.url]);
    expect(bad.code).toBe(2);
  });

  it("a report that cannot be written leaves a met drill met, says so on its row, and the reconciler's pass writes it", async () => {
    const bucket = process.env.REFLEX_BUCKET;
    process.env.REFLEX_BUCKET = "no-such-bucket";
    let run: any;
    try {
      run = await runAndWait(local, "restore", { drill: "app-1" });
    } finally {
      process.env.REFLEX_BUCKET = bucket;
    }
    expect(run.status).toBe("SUCCEEDED");
    const pending = await rowOf("app-1", run.id);
    expect(pending.verdict).toBe("met");
    expect(pending.report).toMatch(/^pending: NoSuchBucket: .*\(retried by the reconciler\)$/);

    const written = await HistoryReports.catchUp();
    expect(written.map((w) => [w.executionId, w.error])).toEqual([[run.id, undefined]]);
    const row = await rowOf("app-1", run.id);
    expect(row.report).toMatch(/^s3:\/\/.*\/reports\/drills\/app-1\/.*\.json$/);
    expect(await readS3(row.report)).toMatchObject({ executionId: run.id, verdict: "met" });
    const summary = await readS3(
      row.report.replace(/\/app-1\/.*$/, `/summary/${row.startedAt.slice(0, 7)}.json`),
    );
    expect(summary.overall).toMatchObject({ runs: 3, met: 2, missed: 1 });
    // Nothing left to write: a second pass writes nothing.
    expect(await HistoryReports.catchUp()).toEqual([]);
  });

  it("a month's summary left stale (two drills ending at once, the older view landing last) is put right by the reconciler's pass", async () => {
    const row = (await api(local, "GET", "/api/drills/app-1/history")).body.runs[0];
    const key = row.report
      .replace(/^s3:\/\/[^/]+\//, "")
      .replace(/\/app-1\/.*$/, `/summary/${row.startedAt.slice(0, 7)}.json`);
    const bucket = process.env.REFLEX_BUCKET;
    await Aws.client(S3Client, "s3").send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify({ overall: { runs: 1 } }) }),
    );
    expect(await HistoryReports.catchUp(undefined, new Date(row.startedAt))).toEqual([]);
    expect((await readS3(`s3://${bucket}/${key}`)).overall).toMatchObject({ runs: 3, met: 2, missed: 1 });
  });
});
