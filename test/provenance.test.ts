/**
 * Invoking a Lambda directly is no authority (issue 17, item 3). The schedule function runs the
 * config's schedule of that name, never the payload's `run`/`with`; execution-status closes a
 * run only when Step Functions confirms it ended; the gate takes an alarm only with its own ARN
 * (account, Region, name) in `resources`.
 */
import { Audit, Executions, Gate, Locks } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler as statusHandler } from "../packages/functions/src/execution-status.ts";
import { handler as scheduleHandler } from "../packages/functions/src/schedule.ts";
import { lambdaContext } from "../packages/local/src/lambda.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { executionFailedEvent } from "./support/events.ts";
import { startTestLocal } from "./support/local.ts";
import { waitFor } from "./support/wait.ts";

const BACKUP = { selector: { tag: { Backup: "daily" } } };

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal({
    environment: "prod", // scale waits for a person
    schedules: [{ name: "nightly", cron: "cron(0 2 * * ? *)", run: "backup-snapshot", with: BACKUP }],
    windows: [
      {
        name: "sunday",
        cron: "cron(0 3 ? * SUN *)",
        duration: "4h",
        run: "backup-snapshot",
        with: BACKUP,
      },
    ],
    rules: [
      {
        name: "web-cpu-high",
        on: {
          source: ["aws.cloudwatch"],
          "detail-type": ["CloudWatch Alarm State Change"],
          detail: { alarmName: ["web-cpu-high"], state: { value: ["ALARM"] } },
        },
        run: "backup-snapshot",
        with: BACKUP,
        dryRun: true,
      },
    ],
  });
});
afterAll(async () => local?.stop());

describe("the schedule function", () => {
  it("runs the config's schedule of that name and ignores the payload's run and with", async () => {
    const scheduledTime = new Date().toISOString();
    const out = await scheduleHandler(
      {
        kind: "schedule",
        name: "nightly",
        run: "scale",
        with: { autoScalingGroup: "web", change: "+9" },
        scheduledTime,
      },
      lambdaContext("reflex-test-schedule"),
    );

    expect(out.decision).toBe("started");
    const run = await Executions.get(out.executionId as string);
    expect(run).toMatchObject({ runbook: "backup-snapshot", params: BACKUP });
    await local.idle();
  });

  it("rejects and audits a name the config has no schedule for, starting nothing", async () => {
    const before = (await Executions.list({ limit: 500 })).executions.length;
    const out = await scheduleHandler(
      {
        kind: "schedule",
        name: "forged",
        run: "scale",
        with: { autoScalingGroup: "web", change: "+9" },
        scheduledTime: new Date().toISOString(),
      },
      lambdaContext("reflex-test-schedule"),
    );

    expect(out).toMatchObject({
      decision: "rejected",
      reason: expect.stringContaining("no schedule named 'forged'"),
    });
    expect((await Executions.list({ limit: 500 })).executions).toHaveLength(before);
    expect((await Audit.list({ kind: "schedule.rejected" })).entries).toContainEqual(
      expect.objectContaining({ actor: "schedule:forged", reason: out.reason }),
    );
  });

  it("refuses a fire time ahead of the clock, which would open a maintenance window now", async () => {
    const nextSunday = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const out = await scheduleHandler(
      { kind: "window", name: "sunday", scheduledTime: nextSunday },
      lambdaContext("reflex-test-schedule"),
    );
    const garbled = await scheduleHandler(
      { kind: "window", name: "sunday", scheduledTime: "next sunday" },
      lambdaContext("reflex-test-schedule"),
    );

    expect(out).toMatchObject({
      decision: "rejected",
      reason: expect.stringContaining("ahead of the clock"),
    });
    expect(garbled).toMatchObject({
      decision: "rejected",
      reason: expect.stringContaining("not an instant"),
    });
    expect((await Executions.list({ limit: 500 })).executions.map((e) => e.trigger.name)).not.toContain(
      "sunday",
    );
  });
});

describe("the execution-status function", () => {
  const machine = () => `${process.env.REFLEX_STATE_MACHINE_ARN_PREFIX}scale`;
  const forged = (name: string) => executionFailedEvent(machine(), name, "Forged", "nobody ran this");

  it("changes nothing on a forged FAILED for a run Step Functions still runs: the run waits, its lock is held", async () => {
    const started = await fetch(`${local.url}/api/runbooks/scale/executions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": "cli:alice" },
      body: JSON.stringify({ params: { autoScalingGroup: "web", change: "+1" } }),
    });
    const { executionId } = (await started.json()) as { executionId: string };
    await waitFor(
      () => Executions.get(executionId),
      (e) => e.status === "WAITING_FOR_APPROVAL",
    );

    await statusHandler(forged(executionId) as never, lambdaContext("reflex-test-status") as never);

    expect((await Executions.get(executionId)).status).toBe("WAITING_FOR_APPROVAL");
    expect((await Locks.list()).map((l) => l.owner)).toContain(executionId);
    await fetch(`${local.url}/api/executions/${executionId}/reject`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": "cli:alice" },
      body: JSON.stringify({ reason: "test done" }),
    });
    await waitFor(
      () => Executions.get(executionId),
      (e) => e.status === "ABORTED",
    );
    await local.idle();
  });

  it("changes nothing on an event for an execution Step Functions never had", async () => {
    await Executions.create({
      id: "never-started-1",
      runbook: "scale",
      dryRun: false,
      params: {},
      trigger: { kind: "manual", actor: "cli:alice" },
    });

    await statusHandler(forged("never-started-1") as never, lambdaContext("reflex-test-status") as never);

    expect((await Executions.get("never-started-1")).status).toBe("RUNNING");
  });
});

describe("the gate and alarm provenance", () => {
  const alarm = (over: { account?: string; region?: string; resources?: string[] }) => {
    const account = over.account ?? "123456789012";
    const region = over.region ?? "us-east-1";
    return {
      version: "0",
      id: crypto.randomUUID(),
      "detail-type": "CloudWatch Alarm State Change",
      source: "aws.cloudwatch",
      account,
      time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      region,
      resources: over.resources ?? [`arn:aws:cloudwatch:${region}:${account}:alarm:web-cpu-high`],
      detail: {
        alarmName: "web-cpu-high",
        state: { value: "ALARM", reason: "Threshold Crossed", timestamp: new Date().toISOString() },
      },
    };
  };
  const decide = async (e: unknown) =>
    (await Gate.handleEvent(e, { config: (await import("@reflex/core")).currentConfig() }))[0];

  it("starts on an alarm whose ARN in resources names its own account, Region and name", async () => {
    const d = await decide(alarm({}));
    await local.idle();
    expect(d.decision).toBe("started");
  });

  it("rejects an alarm without its ARN in resources, or with another alarm's", async () => {
    const none = await decide(alarm({ resources: [] }));
    const other = await decide(
      alarm({ resources: ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:some-other-alarm"] }),
    );

    expect(none).toMatchObject({ decision: "rejected", reason: expect.stringMatching(/resources/) });
    expect(other).toMatchObject({ decision: "rejected", reason: expect.stringMatching(/resources/) });
  });

  it("rejects an alarm from another account or Region than the deployment's", async () => {
    process.env.REFLEX_ACCOUNT = "123456789012";
    process.env.REFLEX_REGION = "us-east-1";
    try {
      const account = await decide(alarm({ account: "999999999999" }));
      const region = await decide(alarm({ region: "eu-west-1" }));

      expect(account).toMatchObject({ decision: "rejected", reason: expect.stringMatching(/account/) });
      expect(region).toMatchObject({ decision: "rejected", reason: expect.stringMatching(/Region/) });
    } finally {
      delete process.env.REFLEX_ACCOUNT;
      delete process.env.REFLEX_REGION;
    }
  });
});
