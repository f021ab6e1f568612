/** off-hours through the test kit: the local engine, a simulated account kept across ticks. */
import { EC2Client, StartInstancesCommand } from "@aws-sdk/client-ec2";
import type { SimulatedCloud } from "@reflex/local/cloud/index";
import {
  callsOutsidePermissions,
  mutatingCalls,
  openSimulation,
  type SimulationSession,
  simulate,
} from "@reflex/sdk/testing";
import { afterEach, describe, expect, it } from "vitest";
import { offHours } from "./index.ts";

const config = {
  offHours: {
    schedules: [
      {
        name: "office",
        timezone: "Europe/Berlin",
        periods: [{ days: "mon-fri", start: "07:00", stop: "19:00" }],
        holidays: ["2026-12-25"],
        hibernate: true,
      },
      {
        name: "strict",
        timezone: "America/New_York",
        periods: [{ days: "mon-fri", start: "07:00", stop: "19:00" }],
        enforce: true,
      },
    ],
    prices: { asOf: "2026-12-01", perHour: { "t3.micro": 0.0104, "m5.large": 0.096 } },
  },
};

const managed = { "reflex:managed": "true" };
let ids: Record<string, string> = {};

/** A small account: two office instances (one can hibernate), an opted-out one, a misspelled one, one without the automation tag, a strict one, and an office group of 2. */
function seed(cloud: SimulatedCloud): void {
  const add = (name: string, tags: Record<string, string>, extra: Record<string, unknown> = {}) => {
    ids[name] = cloud.addInstance({ name, tags, ...extra }).InstanceId as string;
  };
  ids = {};
  add("web-a", { ...managed, "reflex:off-hours": "office" }, { instanceType: "t3.micro" });
  add("web-b", { ...managed, "reflex:off-hours": "office" }, { instanceType: "m5.large", hibernation: true });
  add("keep", { ...managed, "reflex:off-hours": "never" });
  add("typo", { ...managed, "reflex:off-hours": "offfice" });
  add("unfenced", { "reflex:off-hours": "office" });
  add("lab", { ...managed, "reflex:off-hours": "strict" }, { instanceType: "t3.micro" });
  cloud.addAutoScalingGroup({
    name: "batch",
    minSize: 1,
    desiredCapacity: 2,
    maxSize: 4,
    instanceType: "t3.micro",
    tags: { ...managed, "reflex:off-hours": "office" },
  });
}

const state = (s: SimulationSession | { cloud: SimulatedCloud }, name: string) =>
  s.cloud.instance(ids[name])?.State?.Name;
const group = (s: { cloud: SimulatedCloud }) =>
  s.cloud.autoScalingGroups().find((g) => g.AutoScalingGroupName === "batch");
const target = (o: { targets: Array<{ id: string; reason?: string }> }, id: string) =>
  o.targets.find((t) => t.id === id);

// Monday 2026-03-30 (CEST, UTC+2): 19:00 Berlin is 17:00Z.
const MON_BEFORE_STOP = "2026-03-30T16:55:00Z";
const MON_AFTER_STOP = "2026-03-30T17:05:00Z";
const TUE_AFTER_START = "2026-03-31T05:05:00Z";

let session: SimulationSession | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
});

describe("off-hours preview", () => {
  it("shows a schedule's next transitions in its zone and UTC (DST included), what each tick would stop or start, the hours a week, and changes nothing", async () => {
    session = await openSimulation(offHours, { config, setup: seed });
    const office = [ids["web-a"], ids["web-b"], "asg:batch"].sort();

    const spring = await session.run(
      { action: "preview", schedule: "office", at: MON_BEFORE_STOP },
      { dryRun: true },
    );
    expect(spring.run.status).toBe("SUCCEEDED");
    const preview = spring.run.result?.preview as {
      hoursPerWeek: number;
      transitions: Array<{ utc: string; local: string; to: string; stops: string[]; starts: string[] }>;
    };
    expect(preview.hoursPerWeek).toBe(60);
    expect(preview.transitions.map((t) => [t.utc, t.local, t.to])).toEqual([
      ["2026-03-30T17:00:00.000Z", "2026-03-30 19:00 Europe/Berlin", "stopped"],
      ["2026-03-31T05:00:00.000Z", "2026-03-31 07:00 Europe/Berlin", "running"],
      ["2026-03-31T17:00:00.000Z", "2026-03-31 19:00 Europe/Berlin", "stopped"],
      ["2026-04-01T05:00:00.000Z", "2026-04-01 07:00 Europe/Berlin", "running"],
    ]);
    expect(preview.transitions[0]).toMatchObject({ stops: office, starts: [] });
    expect(preview.transitions[1]).toMatchObject({ stops: [], starts: office });
    expect(spring.outcome.summary).toMatch(
      /^preview of office \(Europe\/Berlin\): 3 target\(s\), running 60 h a week; next: stop at 2026-03-30 19:00 Europe\/Berlin/,
    );

    // The week before the change to summer time, 19:00 Berlin is 18:00Z; and a real (not dry) run of preview changes nothing either.
    const winter = await session.run({
      action: "preview",
      schedule: "office",
      at: "2026-03-23T16:55:00Z",
      transitions: 1,
    });
    expect(winter.run.status).toBe("SUCCEEDED");
    expect((winter.run.result as { preview: typeof preview }).preview.transitions).toEqual([
      {
        utc: "2026-03-23T18:00:00.000Z",
        local: "2026-03-23 19:00 Europe/Berlin",
        to: "stopped",
        stops: office,
        starts: [],
        kept: [],
      },
    ]);
    expect(mutatingCalls(spring)).toEqual([]);
    expect(mutatingCalls(winter)).toEqual([]);
    expect(state(session, "web-a")).toBe("running");
  });
});

describe("off-hours", () => {
  it("dry-run lists what the tick would do and why, and makes no mutating call", async () => {
    const s = await simulate(offHours, {
      params: { at: MON_AFTER_STOP },
      dryRun: true,
      config,
      setup: seed,
    });

    expect(s.run.status).toBe("SUCCEEDED");
    expect(mutatingCalls(s)).toEqual([]);
    expect(target(s.outcome, ids["web-a"])).toMatchObject({
      status: "not-started",
      reason: expect.stringMatching(/^would stop: off hours since 19:00 Europe\/Berlin \(17:00Z\)/),
    });
    expect(target(s.outcome, ids["web-b"])?.reason).toMatch(/^would hibernate: off hours since 19:00/);
    expect(target(s.outcome, "asg:batch")).toMatchObject({
      status: "not-started",
      details: { capacity: "1/2/4" },
    });
    expect(target(s.outcome, ids.keep)).toMatchObject({
      status: "skipped",
      reason: expect.stringMatching(/^opted out/),
    });
    expect(target(s.outcome, ids.typo)).toMatchObject({
      status: "skipped",
      reason: expect.stringMatching(/^unknown schedule 'offfice'/),
    });
    expect(target(s.outcome, ids.unfenced)?.reason).toMatch(/^lacks the automation tag/);
    // Group members are the group's: none is a target of its own.
    const members = group(s)?.Instances?.map((i) => i.InstanceId) ?? [];
    expect(members).toHaveLength(2);
    for (const m of members) expect(target(s.outcome, m as string)).toBeUndefined();
  });

  it("stops at the first tick after 19:00 and starts at the first after 07:00: hibernating what can, groups back to their exact size, members never one by one", async () => {
    session = await openSimulation(offHours, { config, setup: seed });

    const before = await session.run({ at: MON_BEFORE_STOP });
    expect(before.run.status).toBe("SUCCEEDED");
    expect(mutatingCalls(before)).toEqual([]);

    const stop = await session.run({ at: MON_AFTER_STOP });
    expect(stop.run.status).toBe("SUCCEEDED");
    expect(callsOutsidePermissions(stop)).toEqual([]);
    expect(state(session, "web-a")).toBe("stopped");
    expect(state(session, "web-b")).toBe("stopped");
    expect(state(session, "keep")).toBe("running");
    expect(state(session, "typo")).toBe("running");
    expect(state(session, "unfenced")).toBe("running");
    expect(group(session)).toMatchObject({ MinSize: 0, DesiredCapacity: 0, MaxSize: 0 });
    const stops = stop.calls.filter((c) => c.operation === "StopInstances");
    // web-b hibernates; web-a is a plain stop (the schedule asks for hibernation, it has none).
    expect(stops.map((c) => c.input)).toEqual(
      expect.arrayContaining([
        { InstanceIds: [ids["web-a"]], Hibernate: false },
        { InstanceIds: [ids["web-b"]], Hibernate: true },
      ]),
    );
    expect(target(stop.outcome, ids["web-a"])?.reason).toMatch(/not enabled for it: a plain stop/);
    // No member of the group was stopped by itself.
    expect(stops.flatMap((c) => (c.input as { InstanceIds: string[] }).InstanceIds).sort()).toEqual(
      [ids["web-a"], ids["web-b"]].sort(),
    );

    const start = await session.run({ at: TUE_AFTER_START });
    expect(start.run.status).toBe("SUCCEEDED");
    expect(state(session, "web-a")).toBe("running");
    expect(state(session, "web-b")).toBe("running");
    expect(group(session)).toMatchObject({ MinSize: 1, DesiredCapacity: 2, MaxSize: 4 });
    expect(group(session)?.Tags?.some((t) => t.Key === "reflex:off-hours-capacity")).toBe(false);
  });

  it("catches up after a missed stop: Reflex down across 19:00 stops at the first tick after", async () => {
    session = await openSimulation(offHours, { config, setup: seed });
    // The last tick before the outage ran at 18:55; the next one comes at 23:40 local.
    await session.run({ at: MON_BEFORE_STOP });
    const late = await session.run({ at: "2026-03-30T21:40:00Z" });

    expect(late.run.status).toBe("SUCCEEDED");
    expect(state(session, "web-a")).toBe("stopped");
  });

  it("respects a start by hand during off hours until the next stop, unless the schedule enforces", async () => {
    session = await openSimulation(offHours, { config, setup: seed });
    await session.run({ at: MON_AFTER_STOP });
    expect(state(session, "web-a")).toBe("stopped");
    // New York 19:00 EDT is 23:00Z: strict's lab stops then.
    await session.run({ at: "2026-03-30T23:05:00Z" });
    expect(state(session, "lab")).toBe("stopped");

    // Someone starts both by hand: web-a from the EC2 console, lab through Reflex.
    const ec2 = new EC2Client({ region: "us-east-1" });
    session.cloud.attach(ec2, "ec2", "us-east-1");
    await ec2.send(new StartInstancesCommand({ InstanceIds: [ids["web-a"]] }));
    await session.run({ action: "start", targets: [ids.lab] });
    expect(state(session, "web-a")).toBe("running");
    expect(state(session, "lab")).toBe("running");

    const tick = await session.run({ at: "2026-03-30T23:30:00Z" });
    // office does not enforce: left running; strict enforces: stopped again.
    expect(state(session, "web-a")).toBe("running");
    expect(target(tick.outcome, ids["web-a"])?.reason).toMatch(/started by hand/);
    expect(state(session, "lab")).toBe("stopped");

    // And office's next stop (Tuesday 19:00 Berlin) stops it again.
    await session.run({ at: "2026-03-31T17:05:00Z" });
    expect(state(session, "web-a")).toBe("stopped");
  });

  it("falls back to a plain stop, reported, when EC2 refuses to hibernate an instance enabled for it", async () => {
    session = await openSimulation(offHours, { config, setup: seed });
    session.cloud.injectFault({
      service: "ec2",
      operation: "StopInstances",
      kind: "error",
      code: "UnsupportedHibernationConfiguration",
      times: 1,
      match: (input: { Hibernate?: boolean }) => input.Hibernate === true,
    });

    const s = await session.run({ at: MON_AFTER_STOP });

    expect(s.run.status).toBe("SUCCEEDED");
    expect(state(session, "web-b")).toBe("stopped");
    expect(target(s.outcome, ids["web-b"])?.reason).toMatch(
      /^stopped: .*hibernation refused .*: a plain stop$/,
    );
  });

  it("starts again what it stopped when a stop fails part-way, and fails the run", async () => {
    session = await openSimulation(offHours, { config, setup: seed });
    // The group is scaled to zero first (asg:… sorts before i-…); then web-b's stop is refused.
    session.cloud.injectFault({
      service: "ec2",
      operation: "StopInstances",
      kind: "error",
      code: "UnauthorizedOperation",
      match: (input: { InstanceIds?: string[] }) => input.InstanceIds?.[0] === ids["web-b"],
    });

    const s = await session.run({ at: MON_AFTER_STOP });

    expect(s.run.status).toBe("FAILED");
    expect(s.run.error).toBe("OffHoursFailed");
    const failed = s.outcome.targets.filter((t) => t.status === "failed");
    expect(failed).toHaveLength(1);
    const rolledBack = s.outcome.targets.filter((t) => t.status === "rolled-back");
    expect(rolledBack.length).toBeGreaterThan(0);
    // Everything it stopped runs again; the group is back to its size.
    expect(state(session, "web-a")).toBe("running");
    expect(state(session, "web-b")).toBe("running");
    expect(group(session)).toMatchObject({ MinSize: 1, DesiredCapacity: 2, MaxSize: 4 });
  });
});

describe("off-hours overrides and savings", () => {
  it("keeps a target up until the override's end, then the next tick stops it with no human step; the override names who set it", async () => {
    // A UTC schedule whose running period ends an hour from now, so the override outlives it.
    const now = Date.now();
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    const until = hhmm(now + 2 * 3_600_000);
    const cfg = {
      offHours: {
        schedules: [
          {
            name: "office",
            timezone: "UTC",
            periods: [{ days: "daily", start: hhmm(now - 3_600_000), stop: hhmm(now + 3_600_000) }],
          },
        ],
        prices: { asOf: "2026-12-01", perHour: { "t3.micro": 0.0104 } },
      },
    };
    session = await openSimulation(offHours, { config: cfg, setup: seed });

    const keep = await session.run(
      { action: "keep", targets: [ids["web-a"]], until, reason: "release testing" },
      { as: "cli:alice" },
    );
    expect(keep.run.status).toBe("SUCCEEDED");
    const listed = (await (
      await fetch(`${session.url}/api/runbooks/off-hours/items?prefix=override%23`)
    ).json()) as {
      items: Array<{ value: { setBy: string; reason: string; until: string } }>;
    };
    expect(listed.items).toHaveLength(1);
    expect(listed.items[0].value).toMatchObject({ setBy: "cli:alice", reason: "release testing" });
    const audit = (await (await fetch(`${session.url}/api/audit?actor=cli:alice`)).json()) as {
      entries: Array<{ executionId?: string; actor: string }>;
    };
    expect(audit.entries.some((e) => e.executionId === keep.run.id)).toBe(true);

    // After the schedule's stop, before the override's end: web-a stays up, web-b stops.
    const during = await session.run({ at: new Date(now + 90 * 60_000).toISOString() });
    expect(state(session, "web-a")).toBe("running");
    expect(state(session, "web-b")).toBe("stopped");
    expect(target(during.outcome, ids["web-a"])?.reason).toMatch(
      /^kept running until .* by cli:alice: release testing$/,
    );

    // The first tick after the override's end stops it: nobody removed the override.
    const after = await session.run({ at: new Date(now + 2 * 3_600_000 + 5 * 60_000).toISOString() });
    expect(after.run.status).toBe("SUCCEEDED");
    expect(state(session, "web-a")).toBe("stopped");
  });

  it("refuses an override beyond maxLongOverride and one on a target without the off-hours tag at admission, naming the field, nothing written", async () => {
    session = await openSimulation(offHours, { config, setup: seed });
    const untagged = session.cloud.addInstance({ name: "plain", tags: managed }).InstanceId as string;

    // No access section: in local mode the local user may do everything, override-limits
    // included, so only the hard limit (maxLongOverride, default 7d) refuses.
    await expect(
      session.run({ action: "keep", targets: [ids["web-a"]], for: "8d", reason: "x" }),
    ).rejects.toThrow(/InvalidOverride: for: .* is more than maxLongOverride \(7d\) away/);
    await expect(
      session.run({ action: "keep", targets: [untagged], for: "1h", reason: "x" }),
    ).rejects.toThrow(/InvalidOverride: targets: i-[0-9a-f]+ carries no reflex:off-hours tag/);
    await expect(session.run({ action: "release", targets: [untagged] })).rejects.toThrow(
      /InvalidOverride: targets: /,
    );

    const items = (await (await fetch(`${session.url}/api/runbooks/off-hours/items`)).json()) as {
      items: unknown[];
    };
    const runs = (await (await fetch(`${session.url}/api/executions`)).json()) as { executions: unknown[] };
    expect({ items: items.items, runs: runs.executions }).toEqual({ items: [], runs: [] });
  });
});
