/**
 * off-hours in local mode, end to end: the config's offHours key adds one tick per schedule to
 * the schedules, the local scheduler fires it through the schedule handler and admit() (a
 * schedule trigger named off-hours-<schedule>), and a change freeze narrows it to starts only.
 */
import { validateConfig } from "@reflex/core";
import { SimulatedCloud } from "@reflex/local/cloud/index";
import { type LocalMode, startLocal } from "@reflex/local/local-mode";
import { afterEach, describe, expect, it } from "vitest";
import { offHours } from "./index.ts";

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/** A UTC schedule whose one daily period starts an hour from now: off hours now. */
function configWith(extra: Record<string, unknown> = {}) {
  const now = Date.now();
  return validateConfig({
    runbooks: [offHours],
    offHours: {
      schedules: [
        {
          name: "office",
          timezone: "UTC",
          periods: [{ days: "daily", start: hhmm(now + 3_600_000), stop: hhmm(now + 7_200_000) }],
        },
      ],
    },
    ...extra,
  });
}

let local: LocalMode | undefined;
afterEach(async () => {
  await local?.stop();
  local = undefined;
});

async function boot(config: ReturnType<typeof validateConfig>) {
  const cloud = SimulatedCloud.seeded({ seed: 3 });
  const id = cloud.addInstance({
    name: "web-a",
    tags: { "reflex:managed": "true", "reflex:off-hours": "office" },
  }).InstanceId as string;
  local = await startLocal({ config, port: 0, quiet: true, dataDir: null, waitMs: 5, cloud });
  const tick = local.jobs.find((j) => j.name === "off-hours-office");
  if (!tick) throw new Error(`no off-hours tick among ${local.jobs.map((j) => j.name).join(", ")}`);
  return { cloud, id, tick, local };
}

async function latestRun(url: string) {
  const list = (await (await fetch(`${url}/api/executions?runbook=off-hours`)).json()) as {
    executions: Array<{ id: string }>;
  };
  return (await (await fetch(`${url}/api/executions/${list.executions[0].id}`)).json()) as {
    status: string;
    trigger: { kind: string; name: string; actor: string };
    params: Record<string, unknown>;
    outcome: { targets: Array<{ id: string; status: string; reason?: string }> };
  };
}

describe("off-hours in local mode", () => {
  it("adds a tick per schedule that starts through admit() as a schedule and stops what is off hours", async () => {
    const { cloud, id, tick, local: l } = await boot(configWith());
    expect(tick.expression).toBe("rate(5 minutes)");

    await tick.fire();
    await l.idle();

    const run = await latestRun(l.url);
    expect(run.status).toBe("SUCCEEDED");
    expect(run.trigger).toMatchObject({
      kind: "schedule",
      name: "off-hours-office",
      actor: "schedule:off-hours-office",
    });
    expect(run.params).toMatchObject({ action: "reconcile", schedule: "office" });
    expect(cloud.instance(id)?.State?.Name).toBe("stopped");
  });

  it("in a change freeze, starts only: the stop is suppressed, listed with the freeze, and the narrowing audited", async () => {
    const now = Date.now();
    const freezes = [
      {
        name: "year-end",
        from: new Date(now - 3_600_000).toISOString(),
        to: new Date(now + 3_600_000).toISOString(),
      },
    ];
    const { cloud, id, tick, local: l } = await boot(configWith({ freezes }));

    await tick.fire();
    await l.idle();

    const run = await latestRun(l.url);
    expect(run.status).toBe("SUCCEEDED");
    expect(cloud.instance(id)?.State?.Name).toBe("running");
    expect(run.outcome.targets.find((t) => t.id === id)).toMatchObject({
      status: "skipped",
      reason: expect.stringMatching(/^stop suppressed by change freeze 'year-end'/),
    });
    const audit = (await (await fetch(`${l.url}/api/audit?kind=guardrail.narrowed`)).json()) as {
      entries: Array<{ actor: string; reason: string }>;
    };
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0].actor).toBe("schedule:off-hours-office");
  });

  it("in a change freeze with duringFreeze: nothing, the tick is refused by the freeze", async () => {
    const now = Date.now();
    const config = validateConfig({
      runbooks: [offHours],
      offHours: {
        duringFreeze: "nothing",
        schedules: [
          {
            name: "office",
            timezone: "UTC",
            periods: [{ days: "daily", start: hhmm(now + 3_600_000), stop: hhmm(now + 7_200_000) }],
          },
        ],
      },
      freezes: [
        {
          name: "year-end",
          from: new Date(now - 3_600_000).toISOString(),
          to: new Date(now + 3_600_000).toISOString(),
        },
      ],
    });
    const { cloud, id, tick, local: l } = await boot(config);

    await tick.fire();
    await l.idle();

    expect(cloud.instance(id)?.State?.Name).toBe("running");
    const audit = (await (await fetch(`${l.url}/api/audit?actor=schedule:off-hours-office`)).json()) as {
      entries: Array<{ reason: string; guardrail?: string }>;
    };
    expect(audit.entries.some((e) => e.guardrail === "freeze")).toBe(true);
  });
});
