/**
 * No runbook acts while its run waits for a person: for every runbook Reflex ships (built-ins
 * and examples), a run the approval policy sends to approval makes no mutating call until a
 * second person approves, and none at all when rejected. Found when restore, off-hours,
 * restart-service, scale-service, db-backup and backup-snapshot had no approval states: the step
 * runner counted every step as "before the approval", so the run acted while "waiting".
 */

import { EC2Client, RebootInstancesCommand } from "@aws-sdk/client-ec2";
import { Runbooks, validateConfig } from "@reflex/core";
import { setContainerSettings } from "@reflex/local/cloud/containers-helpers";
import { setDatabaseTimings } from "@reflex/local/cloud/databases";
import { SimulatedCloud } from "@reflex/local/cloud/index";
import { setPatchingSettings } from "@reflex/local/cloud/patching-helpers";
import { type LocalMode, startLocal } from "@reflex/local/local-mode";
import { client, defineRunbook, stepTask } from "@reflex/sdk";
import { manageWithSsm } from "@reflex/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { dbBackup } from "../examples/runbooks/db-backup/index.ts";
import { offHours } from "../examples/runbooks/off-hours/index.ts";
import { restartService } from "../examples/runbooks/restart-service/index.ts";
import { scaleService } from "../examples/runbooks/scale-service/index.ts";

// Every run waits for a person; carol and erin approve, alice starts.
const config = {
  access: {
    roles: { oncall: ["cli:alice"], sre: ["cli:carol", "cli:erin"] },
    allow: [
      { role: "oncall", runbooks: ["*"], actions: ["run", "dry-run", "abort"] },
      { role: "sre", runbooks: ["*"], actions: ["run", "dry-run", "approve", "abort"] },
    ],
  },
  approvals: { policies: [{ require: true }] },
};

async function call(url: string, as: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json", "x-reflex-actor": as },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** Waits for the run's state (not for time): the first status not in `passing` (default: RUNNING). */
async function settled(
  url: string,
  id: string,
  passing = ["RUNNING"],
): Promise<{ status: string; steps?: unknown }> {
  let run: { status: string; steps?: unknown } = { status: "unknown" };
  // Bounded only so a run that never settles fails here, saying where it was.
  for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    run = (await call(url, "cli:alice", "GET", `/api/executions/${id}`)).body;
    if (!passing.includes(run.status)) return run;
  }
  return run;
}

/**
 * A team's low-risk runbook written with no approval states: a run of it that needs approval
 * (here every run does) can never wait, so the step runner must refuse its every step.
 */
const noWait = defineRunbook({
  name: "no-wait",
  summary: "Reboots one instance, with no approval states",
  risk: "low",
  params: z.object({ instanceId: z.string() }).strict(),
  example: { instanceId: "i-0" },
  cap: { maxTargets: 1 },
  permissions: [
    {
      actions: ["ec2:RebootInstances"],
      mutating: true,
      resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
    },
  ],
  rollback: ["reboot"],
  dryRun: "Says which instance it would reboot.",
  stateMachine: { StartAt: "Reboot", States: { Reboot: stepTask("no-wait", "reboot", { End: true }) } },
  implementation: async () => ({
    steps: {
      reboot: async (input: { params: { instanceId: string } }) =>
        client(EC2Client, "ec2").send(new RebootInstancesCommand({ InstanceIds: [input.params.instanceId] })),
    },
  }),
});

const cases: Array<{
  name: string;
  params: Record<string, unknown>;
  setup?: (cloud: SimulatedCloud) => void;
  extra?: Record<string, unknown>;
}> = [
  { name: "backup-snapshot", params: { selector: { tag: { Backup: "daily" } } } },
  {
    name: "db-backup",
    params: { selector: { tag: { Backup: "daily" } }, retainDays: 7 },
    setup: (cloud) => setDatabaseTimings(cloud, { snapshotMs: 30, backupMs: 30, failoverMs: 30 }),
  },
  {
    name: "off-hours",
    // Monday 2026-03-30, 19:05 in Berlin: the office's instances are due to stop.
    params: { schedule: "office", at: "2026-03-30T17:05:00Z" },
    setup: (cloud) => {
      cloud.addInstance({ name: "desk", tags: { "reflex:managed": "true", "reflex:off-hours": "office" } });
    },
    extra: {
      offHours: {
        schedules: [
          {
            name: "office",
            timezone: "Europe/Berlin",
            periods: [{ days: "mon-fri", start: "07:00", stop: "19:00" }],
          },
        ],
      },
    },
  },
  {
    name: "restart-service",
    params: { unit: "nginx", selector: { tag: { Role: "web" } } },
    setup: (cloud) => {
      const ids = cloud
        .instances()
        .filter((i) => i.Tags?.some((t) => t.Key === "Role" && t.Value === "web"))
        .map((i) => i.InstanceId as string);
      manageWithSsm(cloud, ids);
    },
  },
  {
    name: "scale-service",
    params: { target: { kind: "ecs-service", cluster: "prod", service: "api" }, change: "+1" },
    setup: (cloud) => {
      setContainerSettings(cloud, { ecsRolloutMs: 40, lambdaReadyMs: 40 });
    },
  },
];

describe("no runbook acts while its run waits for approval", () => {
  let local: LocalMode;
  // One local mode with every runbook (built-ins and the examples), each case's account set up in it.
  beforeAll(async () => {
    const cloud = SimulatedCloud.seeded({
      seed: 1,
      snapshotDurationMs: 50,
      volumeCreateMs: 30,
      volumeAttachMs: 20,
    });
    setPatchingSettings(cloud, { commandDurationMs: 20 });
    for (const c of cases) c.setup?.(cloud);
    const extra = Object.assign({}, ...cases.map((c) => c.extra ?? {}));
    local = await startLocal({
      config: validateConfig({
        ...config,
        ...extra,
        runbooks: [dbBackup, offHours, restartService, scaleService, noWait],
      }),
      port: 0,
      quiet: true,
      dataDir: null,
      waitMs: 5,
      scheduler: false,
      cloud,
    });
  });
  afterAll(async () => {
    await local?.stop();
    // A runbook made to be refused: left registered, the next file in the process would list it.
    Runbooks.unregister(noWait.name);
  });

  for (const c of cases) {
    it(`${c.name}: waits with no mutating call, acts only after a second person approves; rejected, changes nothing`, async () => {
      const url = local.url;
      const start = async () => {
        const res = await call(url, "cli:alice", "POST", `/api/runbooks/${c.name}/executions`, {
          params: c.params,
        });
        expect(res.status, JSON.stringify(res.body)).toBe(202);
        return res.body.executionId as string;
      };
      const mutating = (id: string) =>
        local.cloud.calls.filter((x) => x.mutating && x.executionId === id).map((x) => x.operation);

      const approved = await start();
      expect(await settled(url, approved)).toMatchObject({ status: "WAITING_FOR_APPROVAL" });
      expect(mutating(approved)).toEqual([]);
      const yes = await call(url, "cli:carol", "POST", `/api/executions/${approved}/approve`, {});
      expect(yes.status, JSON.stringify(yes.body)).toBe(200);
      expect(await settled(url, approved, ["RUNNING", "WAITING_FOR_APPROVAL"])).toMatchObject({
        status: "SUCCEEDED",
      });
      expect(mutating(approved).length).toBeGreaterThan(0);

      const rejected = await start();
      expect(await settled(url, rejected)).toMatchObject({ status: "WAITING_FOR_APPROVAL" });
      const no = await call(url, "cli:erin", "POST", `/api/executions/${rejected}/reject`, {
        reason: "not now",
      });
      expect(no.status, JSON.stringify(no.body)).toBe(200);
      expect(await settled(url, rejected, ["RUNNING", "WAITING_FOR_APPROVAL"])).toMatchObject({
        status: "ABORTED",
      });
      expect(mutating(rejected)).toEqual([]);
    });
  }

  it("a runbook with no approval states takes no step of a run that needs approval: refused, audited, nothing changed", async () => {
    const instanceId = local.cloud.instances()[0].InstanceId as string;
    const res = await call(local.url, "cli:alice", "POST", "/api/runbooks/no-wait/executions", {
      params: { instanceId },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const id = res.body.executionId as string;
    expect(await settled(local.url, id, ["RUNNING", "WAITING_FOR_APPROVAL"])).toMatchObject({
      status: "FAILED",
    });
    expect(local.cloud.calls.filter((x) => x.mutating && x.executionId === id)).toEqual([]);
    const audit = (await call(local.url, "cli:carol", "GET", `/api/audit?execution=${id}&kind=step.refused`))
      .body;
    expect(JSON.stringify(audit)).toMatch(/has no approval states/);
  });
});
