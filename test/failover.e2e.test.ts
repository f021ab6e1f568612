/**
 * failover end to end: local mode in-process, the real ASL on the local Step Functions engine,
 * the real step handler, dynalite, and the simulated cloud with the demo pair seeded: app-a
 * (primary, 10.0.200.11) and app-b (standby, 10.0.200.12), Elastic IP 203.0.113.10 on app-a,
 * and `app.example.internal A 10.0.200.11` in zone example.internal.
 *
 * The tests share one local mode and run in order; each starts from the layout the previous
 * one left, which it asserts first.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { type ConfigInput, Pairs } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_PAIR as D, SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { instanceStoppedEvent } from "./support/events.ts";
import { startTestLocal } from "./support/local.ts";
import { until } from "./support/wait.ts";

const A = D.primary.instance;
const B = D.standby.instance;
const PROBE = { a: "http://app-a.internal/health", b: "http://app-b.internal/health" };

function failoverConfig(extra: Partial<ConfigInput> = {}): ConfigInput {
  return {
    pairs: [
      {
        name: "app",
        primary: { instance: A, recordValue: D.primary.privateIp, health: { url: PROBE.a } },
        standby: { instance: B, recordValue: D.standby.privateIp, health: { url: PROBE.b } },
        elasticIp: { allocationId: D.allocationId },
        record: { hostedZoneId: D.hostedZoneId, zone: D.zone, name: D.record, type: "A", ttl: 60 },
        readiness: {
          namespace: "Reflex/Demo",
          metricName: "ReplicationLagSeconds",
          dimensions: { InstanceId: "$instance" },
          comparison: "<",
          threshold: 30,
          within: "1h",
        },
        verifyTimeout: "1s",
      },
    ],
    rules: [
      {
        name: "app-primary-down",
        on: {
          source: ["aws.ec2"],
          "detail-type": ["EC2 Instance State-change Notification"],
          detail: { state: ["stopping", "stopped", "terminated"], "instance-id": [A, B] },
        },
        run: "failover",
        with: { pair: "app", ifPrimary: "$.detail.instance-id" },
        approval: "required",
        cooldown: "1s",
      },
    ],
    ...extra,
  };
}

type Json = any;
async function call(local: LocalMode, method: string, path: string, body?: unknown, actor?: string) {
  const res = await fetch(`${local.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(actor ? { "x-reflex-actor": actor } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

/** Starts a failover (as cli:alice) and waits until it asks for approval. */
async function startWaiting(local: LocalMode, params: unknown = { pair: "app" }): Promise<string> {
  const started = await call(local, "POST", "/api/runbooks/failover/executions", { params }, "cli:alice");
  if (started.status !== 202) throw new Error(`start failed: ${JSON.stringify(started.body)}`);
  const id = started.body.executionId as string;
  await until("the approval request", async () => {
    const e = await call(local, "GET", `/api/executions/${id}`);
    if (!["RUNNING", "WAITING_FOR_APPROVAL"].includes(e.body.status))
      throw new Error(`run ${id} ended ${e.body.status} before asking: ${e.body.error}: ${e.body.cause}`);
    return e.body.status === "WAITING_FOR_APPROVAL" ? true : undefined;
  });
  return id;
}

const execution = async (local: LocalMode, id: string) =>
  (await call(local, "GET", `/api/executions/${id}`)).body;

function layout(local: LocalMode) {
  return {
    eip: local.cloud.failover.addressInstance(D.allocationId),
    record: local.cloud.failover.recordValues(D.hostedZoneId, D.record),
  };
}
const ON_A = { eip: A, record: [D.primary.privateIp] };
const ON_B = { eip: B, record: [D.standby.privateIp] };

describe("failover in local mode", () => {
  let local: LocalMode;
  const mutatingSince = (mark: number) => local.cloud.calls.slice(mark).filter((c) => c.mutating);

  beforeAll(async () => {
    const cloud = SimulatedCloud.seeded({ snapshotDurationMs: 150 });
    cloud.failover.seedDemoPair();
    local = await startTestLocal(failoverConfig(), { cloud });
  });
  afterAll(async () => local?.stop());

  it("lists failover with an example, and dry-runs it with the plan and no mutating call", async () => {
    const { body } = await call(local, "GET", "/api/runbooks");
    const failover = body.runbooks.find((r: { name: string }) => r.name === "failover");
    expect(failover).toMatchObject({ risk: "high", example: { pair: "app" } });
    const mark = local.cloud.calls.length;

    const started = await call(local, "POST", "/api/runbooks/failover/executions", {
      params: failover.example,
      dryRun: true,
    });
    await local.idle();
    const run = await execution(local, started.body.executionId);

    expect(run.status).toBe("SUCCEEDED");
    expect(mutatingSince(mark)).toEqual([]);
    expect(run.result.plan).toMatchObject({
      from: { instance: A },
      to: { instance: B },
      elasticIp: { publicIp: D.publicIp, from: A, to: B },
      record: {
        name: `${D.record}.`,
        type: "A",
        ttl: 60,
        from: [D.primary.privateIp],
        to: D.standby.privateIp,
      },
    });
    expect(run.result.summary).toBe(`dry-run: would fail over app from ${A} to ${B}`);
    expect(layout(local)).toEqual(ON_A);
  });

  it("refuses a pair the config does not define with 400, naming the known pairs", async () => {
    const res = await call(local, "POST", "/api/runbooks/failover/executions", { params: { pair: "db" } });

    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/unknown pair 'db'; known pairs: app/);
  });

  it("fails at readiness, with every reason and no mutating call, when the standby is not ready", async () => {
    local.cloud.failover.setStatusChecks(B, { instance: "impaired" });
    local.cloud.failover.failProbe(PROBE.b, { status: 503 });
    const mark = local.cloud.calls.length;
    try {
      const id = await (async () => {
        const s = await call(local, "POST", "/api/runbooks/failover/executions", { params: { pair: "app" } });
        return s.body.executionId as string;
      })();
      await local.idle();
      const run = await execution(local, id);

      expect(run.status).toBe("FAILED");
      expect(run.error).toBe("StandbyNotReady");
      expect(run.cause).toMatch(/instance status impaired/);
      expect(run.cause).toMatch(/answered 503/);
      expect(mutatingSince(mark)).toEqual([]);
      expect(layout(local)).toEqual(ON_A);
    } finally {
      local.cloud.failover.setStatusChecks(B, { instance: "ok" });
      local.cloud.failover.healProbes();
    }
  });

  it("switches nothing when the approver rejects", async () => {
    const id = await startWaiting(local);
    const mark = local.cloud.calls.length;

    const answer = await call(
      local,
      "POST",
      `/api/executions/${id}/reject`,
      { reason: "not now" },
      "cli:bob",
    );
    await local.idle();
    const run = await execution(local, id);

    expect(answer.status).toBe(200);
    expect(run.status).toBe("ABORTED");
    expect(run.error).toBe("ApprovalRejected");
    expect(mutatingSince(mark)).toEqual([]);
    expect(layout(local)).toEqual(ON_A);
    expect(await Pairs.get("app")).toBeUndefined();
  });

  it("answers 409 to an approval of a run that is not waiting", async () => {
    const dry = await call(local, "POST", "/api/runbooks/failover/executions", {
      params: { pair: "app" },
      dryRun: true,
    });
    await local.idle();

    const res = await call(local, "POST", `/api/executions/${dry.body.executionId}/approve`, {}, "cli:bob");

    expect(res.status).toBe(409);
  });

  it("switches after approval: Elastic IP and record on app-b, INSYNC, verified, roles swapped, approver audited", async () => {
    local.cloud.failover.setInsyncDelay(100);
    const id = await startWaiting(local);
    const waiting = await execution(local, id);
    expect(waiting.result.plan.actions[0]).toMatch(/move Elastic IP 203\.0\.113\.10/);
    expect(layout(local)).toEqual(ON_A);

    const answer = await call(local, "POST", `/api/executions/${id}/approve`, {}, "cli:bob");
    await local.idle();
    const run = await execution(local, id);

    expect(answer.status).toBe(200);
    expect(run.status).toBe("SUCCEEDED");
    expect(layout(local)).toEqual(ON_B);
    expect(await Pairs.get("app")).toMatchObject({ primary: B, standby: A, executionId: id });
    expect(run.result.summary).toBe(`failed over app: ${B} is primary, ${A} standby`);
    const polls = run.steps.filter((s: { step: string }) => s.step === "awaitChange");
    expect(polls.length).toBeGreaterThan(0); // the change was PENDING at first
    const { entries } = (await call(local, "GET", "/api/audit?limit=200")).body as {
      entries: Array<{ kind: string; actor: string; executionId?: string }>;
    };
    expect(entries.filter((e) => e.executionId === id && e.actor === "cli:bob").map((e) => e.kind)).toEqual([
      expect.stringMatching(/^approval\./),
    ]);
    const pairs = (await call(local, "GET", "/api/pairs")).body;
    expect(pairs.pairs).toEqual([expect.objectContaining({ name: "app", primary: B, standby: A })]);
    local.cloud.failover.setInsyncDelay(0);
  });

  it("shows who is primary with `reflex pairs`", async () => {
    const bin = join(import.meta.dirname, "../packages/local/bin/reflex.mjs");

    const { stdout } = await promisify(execFile)(process.execPath, [bin, "pairs", "--url", local.url]);

    expect(stdout).toMatch(new RegExp(`^app: primary ${B}, standby ${A} \\(since .*, failover-`));
  });

  it("fails back with the same runbook: the roles as they now stand, back to the original layout", async () => {
    const id = await startWaiting(local);
    expect((await execution(local, id)).result.plan).toMatchObject({
      from: { instance: B },
      to: { instance: A },
    });

    await call(local, "POST", `/api/executions/${id}/approve`, {}, "cli:bob");
    await local.idle();
    const run = await execution(local, id);

    expect(run.status).toBe("SUCCEEDED");
    expect(layout(local)).toEqual(ON_A);
    expect(await Pairs.get("app")).toMatchObject({ primary: A, standby: B });
  });

  it("switches back when the verify fails: Elastic IP and record end where they started", async () => {
    // The standby passes readiness (first probe), then fails every probe after the switch.
    local.cloud.failover.failProbe(PROBE.b, { status: 500, after: 1 });
    try {
      const id = await startWaiting(local);
      await call(local, "POST", `/api/executions/${id}/approve`, {}, "cli:bob");
      await local.idle();
      const run = await execution(local, id);

      expect(run.status).toBe("FAILED");
      expect(run.error).toBe("VerifyFailed");
      expect(run.cause).toMatch(/answered 500/);
      expect(layout(local)).toEqual(ON_A);
      expect(run.result.switched.actions).toEqual([
        `AssociateAddress ${D.publicIp} → ${B}`,
        `UPSERT A ${D.record}. → ${D.standby.privateIp}`,
      ]);
      expect(run.result.switchBack).toMatchObject({
        towards: A,
        actions: [`AssociateAddress ${D.publicIp} → ${A}`, `UPSERT A ${D.record}. → ${D.primary.privateIp}`],
        failure: { Error: "VerifyFailed" },
      });
      expect(run.result.switchBack.verified.every((c: { ok: boolean }) => c.ok)).toBe(true);
      expect(await Pairs.get("app")).toMatchObject({ primary: A });
    } finally {
      local.cloud.failover.healProbes();
    }
  });

  it("starts a failover that waits for approval when the primary's EC2 state changes to stopped", async () => {
    const res = await call(local, "POST", "/events", instanceStoppedEvent(A, "evt-primary-stopped"));
    const started = res.body.results[0];
    expect(started.decision).toBe("started");
    const waiting = await until("the approval request", async () => {
      const e = await execution(local, started.executionId);
      return e.status === "WAITING_FOR_APPROVAL" ? e : undefined;
    });

    expect(waiting.result.plan).toMatchObject({ from: { instance: A }, to: { instance: B } });
    expect(layout(local)).toEqual(ON_A);
    await call(local, "POST", `/api/executions/${started.executionId}/reject`, { reason: "test" }, "cli:bob");
    await local.idle();
  });

  it("ends skipped, changing nothing, when the event is about the standby", async () => {
    const mark = local.cloud.calls.length;
    const started = await call(local, "POST", "/api/runbooks/failover/executions", {
      params: { pair: "app", ifPrimary: B },
    });
    await local.idle();
    const run = await execution(local, started.body.executionId);

    expect(run.status).toBe("SUCCEEDED");
    expect(run.result.summary).toMatch(/^skipped: .* is not the current primary of pair app/);
    expect(mutatingSince(mark)).toEqual([]);
  });
});

describe("failover with health alarms and a short approval deadline", () => {
  let local: LocalMode;
  beforeAll(async () => {
    const cloud = SimulatedCloud.seeded({ snapshotDurationMs: 150 });
    cloud.failover.seedDemoPair();
    const config = failoverConfig({ approvals: { deadline: "1s" } });
    const [pair] = config.pairs as Array<Record<string, any>>;
    pair.primary.health = { alarm: "app-a-health" };
    pair.standby.health = { alarm: "app-b-health" };
    config.rules = [
      {
        name: "app-primary-unhealthy",
        on: {
          source: ["aws.cloudwatch"],
          "detail-type": ["CloudWatch Alarm State Change"],
          detail: { alarmName: ["app-a-health", "app-b-health"], state: { value: ["ALARM"] } },
        },
        run: "failover",
        with: { pair: "app", ifPrimary: "$.detail.alarmName" },
      },
    ];
    local = await startTestLocal(config, { cloud });
  });
  afterAll(async () => local?.stop());

  it("starts a failover that waits for approval when the primary's health alarm goes to ALARM", async () => {
    local.cloud.failover.setAlarm("app-a-health", "ALARM", "probe failing");
    const event = {
      id: "evt-app-a-health",
      version: "0",
      source: "aws.cloudwatch",
      account: "123456789012",
      time: new Date().toISOString(),
      region: "us-east-1",
      resources: ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:app-a-health"],
      "detail-type": "CloudWatch Alarm State Change",
      detail: {
        alarmName: "app-a-health",
        state: { value: "ALARM", reason: "probe failing", timestamp: new Date().toISOString() },
        previousState: { value: "OK", timestamp: new Date(Date.now() - 60_000).toISOString() },
      },
    };

    const res = await call(local, "POST", "/events", event);
    const started = res.body.results[0];
    expect(started.decision).toBe("started");
    // Read once the 1 s deadline has ended it: polling for WAITING_FOR_APPROVAL would race the
    // deadline, which a loaded machine can lose. Its request is written before its wait can end.
    await local.idle();
    const run = await execution(local, started.executionId);

    expect(run.audit).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: "approval.requested" })]),
    );
    expect(run.result.plan).toMatchObject({ from: { instance: A }, to: { instance: B } });
    expect(run.result.readiness.checks).toContainEqual(
      expect.objectContaining({ check: "health", ok: true, detail: "alarm app-b-health is OK (seeded)" }),
    );
    local.cloud.failover.setAlarm("app-a-health", "OK");
  });

  it("switches nothing when nobody answers before the deadline", async () => {
    const mark = local.cloud.calls.length;
    const started = await call(
      local,
      "POST",
      "/api/runbooks/failover/executions",
      { params: { pair: "app" } },
      "cli:alice",
    );
    expect(started.status).toBe(202);
    // No wait for WAITING_FOR_APPROVAL here either: the 1 s deadline could end the wait first.
    await local.idle();
    const run = await execution(local, started.body.executionId);

    expect(run.audit).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: "approval.requested" })]),
    );
    expect(run.status).toBe("ABORTED");
    expect(run.error).toBe("ApprovalTimedOut");
    expect(local.cloud.calls.slice(mark).filter((c) => c.mutating)).toEqual([]);
    expect(layout(local)).toEqual(ON_A);
  });
});
