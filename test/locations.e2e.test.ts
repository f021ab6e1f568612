/**
 * One runbook in many accounts and Regions from one hub (issue 26, part A): local mode with
 * three simulated member accounts of two Regions each, backup-snapshot by tag in every
 * location, a child run per location.
 */
import {
  type Admission,
  type Config,
  currentConfig,
  Gate,
  Locations,
  useConfig,
  validateConfig,
} from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as Executions from "../packages/core/src/state/executions.ts";
import * as FanOuts from "../packages/core/src/state/fan-outs.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { type LocalMode, startLocal } from "../packages/local/src/local-mode.ts";
import { reflex } from "./support/cli.ts";

let local: LocalMode;
const REGIONS = ["us-east-1", "eu-west-1"];

beforeAll(async () => {
  local = await startLocal({
    config: validateConfig({}),
    port: 0,
    quiet: true,
    dataDir: null,
    waitMs: 20,
    snapshotDurationMs: 100,
    scheduler: false,
    cloud: SimulatedCloud.seeded({ snapshotDurationMs: 100 }),
    accounts: { count: 3, regions: REGIONS },
  });
});
afterAll(() => local?.stop());

/** The run's end, as its record says once the run is closed. */
async function waitForEnd(id: string) {
  const execution = local.engine.list().find((e) => e.name === id);
  await execution?.done;
  const record = await Executions.find(id);
  return { status: record?.status ?? "UNKNOWN", error: record?.error, cause: record?.cause };
}

const backup = (accounts: string[], limits: Locations.LocationLimits, regions?: string[]) =>
  Locations.start(
    {
      runbook: "backup-snapshot",
      params: { selector: { tag: { Backup: "daily" } } },
      trigger: { kind: "manual" },
      actor: { id: "cli:alice" },
    },
    { accounts, ...(regions ? { regions } : {}) },
    limits,
  );

/** The most locations with a call in flight at once: each location's calls span [first, last] in the org's call order. */
function peakConcurrency(calls: Array<{ seq: number; executionId?: string }>): number {
  const spans = new Map<string, [number, number]>();
  for (const c of calls) {
    if (!c.executionId) continue;
    const s = spans.get(c.executionId);
    spans.set(c.executionId, s ? [s[0], c.seq] : [c.seq, c.seq]);
  }
  let peak = 0;
  for (const c of calls) {
    const open = [...spans.values()].filter(([a, b]) => a <= c.seq && c.seq <= b).length;
    peak = Math.max(peak, open);
  }
  return peak;
}

describe("target locations", () => {
  it("backs up by tag in 3 accounts x 2 Regions, never more than 2 locations at once, each call in its own account", async () => {
    const mark = local.organization.calls().at(-1)?.seq ?? 0;
    const { parentId, locations } = await backup(["tag:env=prod"], { locationConcurrency: 2 });

    expect(locations).toHaveLength(6);
    expect(locations.map((l) => l.status)).toEqual(Array(6).fill("SUCCEEDED"));
    // The history budget (25,000 events per execution): the parent's holds the Map Run only,
    // whatever the count of locations; each location's iteration, 11 events and 9 per look.
    const fanOut = local.engine
      .list()
      .filter((e) => e.name.startsWith(parentId) && e.stateMachineArn.includes(Locations.FAN_OUT_MACHINE));
    const parent = fanOut.find((e) => e.name === parentId);
    expect(local.engine.historyEvents(parent?.executionArn ?? "")).toBe(11);
    const iterations = fanOut.filter((e) => e !== parent);
    expect(iterations).toHaveLength(6);
    for (const it of iterations) {
      const { events, tasks } = local.engine.historyStats(it.executionArn);
      expect(events).toBe(11 + 9 * (tasks - 1));
    }
    const calls = local.organization.calls().filter((c) => c.seq > mark);
    expect(peakConcurrency(calls)).toBe(2);
    const where = new Map(locations.map((l) => [l.executionId, l]));
    for (const c of calls) {
      const location = where.get(c.executionId);
      expect(location, `call ${c.seq} belongs to a child run`).toBeDefined();
      expect([c.account, c.region]).toEqual([location?.account, location?.region]);
      // The member account sees (and may log) which run made the call.
      expect(c.session).toBe(`reflex-${c.executionId}`);
      expect(c.session).toContain(parentId);
    }
    // Each account got snapshots in each of its Regions, and only there.
    for (const [id, cloud] of local.organization.members)
      for (const region of REGIONS)
        expect(cloud.snapshots(region).length, `${id}/${region}`).toBeGreaterThan(0);
    const child = await Executions.find(locations[0]?.executionId ?? "");
    expect(child?.location).toEqual({ account: locations[0]?.account, region: locations[0]?.region });

    // The member clouds are seeded alike: one instance id in every account is as many locks.
    const id = local.organization.member("111111111111").instances("us-east-1")[0]?.InstanceId ?? "";
    expect(
      local.organization
        .member("222222222222")
        .instances("us-east-1")
        .map((i) => i.InstanceId),
    ).toContain(id);
    const locks = await Promise.all(
      locations
        .filter((l) => l.region === "us-east-1")
        .map(async (l) => (await Executions.find(l.executionId ?? ""))?.locks ?? []),
    );
    expect(locks.map((l) => l.filter((k) => k.endsWith(`/instance:${id}`)))).toEqual([
      [`111111111111/us-east-1/instance:${id}`],
      [`222222222222/us-east-1/instance:${id}`],
      [`333333333333/us-east-1/instance:${id}`],
    ]);
  });

  it("one account whose role is missing: its locations fail with the reason, the others succeed", async () => {
    const role = "arn:aws:iam::222222222222:role/ReflexExecutionRole";
    local.organization.sts.deleteRole(role);
    try {
      const { locations } = await backup(["*"], { locationConcurrency: 3, locationMaxErrors: "50%" }, [
        "us-east-1",
      ]);
      expect(locations.map((l) => [l.account, l.status])).toEqual([
        ["111111111111", "SUCCEEDED"],
        ["222222222222", "FAILED"],
        ["333333333333", "SUCCEEDED"],
      ]);
      expect(locations.find((l) => l.account === "222222222222")?.reason).toMatch(
        /cannot assume arn:aws:iam::222222222222:role\/ReflexExecutionRole.*AccessDenied/,
      );
      // `reflex accounts check` says the same, location by location, and exits 1.
      const check = await reflex(["accounts", "check", "--url", local.url]);
      expect(check.code).toBe(1);
      expect(check.stdout).toMatch(/FAIL {2}222222222222 \(member-2\) us-east-1: .*AccessDenied/);
      expect(check.stdout).toMatch(/ok {4}111111111111 \(member-1\) eu-west-1/);
      expect(check.stdout).toMatch(/4 of 6 location\(s\) ok/);
    } finally {
      local.organization.sts.putRole({ arn: role, trust: [local.organization.sts.hubPrincipal] });
    }
  });

  it("starts no new location once more than locationMaxErrors have failed: the rest are SKIPPED, the parent lists each", async () => {
    const role = "arn:aws:iam::111111111111:role/ReflexExecutionRole";
    local.organization.sts.deleteRole(role);
    try {
      // One at a time, no error tolerated: member-1's first location fails, nothing else starts.
      const { locations } = await backup(["*"], { locationConcurrency: 1, locationMaxErrors: 0 }, [
        "us-east-1",
      ]);
      expect(locations.map((l) => [l.account, l.status])).toEqual([
        ["111111111111", "FAILED"],
        ["222222222222", "SKIPPED"],
        ["333333333333", "SKIPPED"],
      ]);
      expect(locations[1]?.reason).toBe("more than 0 location(s) failed");
      expect(locations[1]?.executionId).toBeUndefined();
    } finally {
      local.organization.sts.putRole({ arn: role, trust: [local.organization.sts.hubPrincipal] });
    }
  });

  it("starts no child for a fan-out that has finished: a replayed or late 'start' is a conflict, nothing admitted or recorded", async () => {
    // A Lambda invoked again after Finish (a retry landing late, a replayed event): the
    // fan-out's outcome is settled and audited, so a child it never started must stay unstarted.
    const planned = Locations.plan(
      { runbook: "backup-snapshot", params: { selector: { tag: { Backup: "daily" } } } },
      { accounts: ["member-1"], regions: ["us-east-1"] },
      {},
    );
    await FanOuts.create({
      parentId: planned.parentId,
      runbook: planned.runbook,
      request: {
        runbook: "backup-snapshot",
        params: { selector: { tag: { Backup: "daily" } } },
        trigger: { kind: "manual" },
        actor: { id: "cli:alice" },
      },
      concurrency: 1,
      maxErrors: 0,
      children: planned.children,
      createdAt: new Date().toISOString(),
    });
    await FanOuts.finish(planned.parentId);
    const before = await FanOuts.find(planned.parentId);
    await expect(
      Locations.step({ action: "start", parentId: planned.parentId, index: 0 }),
    ).rejects.toMatchObject({
      name: "ConflictError",
    });
    expect(await Executions.find(`${planned.parentId}-1`)).toBeUndefined();
    expect(await FanOuts.find(planned.parentId)).toEqual(before);
  });

  it("refuses a location the config does not name, or a runbook whose state machine calls AWS itself (400, nothing started)", async () => {
    const { Admission: A } = await import("@reflex/core");
    const refused: Admission.Admission = await A.admit({
      runbook: "backup-snapshot",
      params: { selector: { tag: { Backup: "daily" } } },
      trigger: { kind: "manual" },
      actor: { id: "cli:alice" },
      location: { account: "999999999999", region: "us-east-1" },
    });
    expect(refused).toMatchObject({ admitted: false, status: 400, check: "params" });
    const wrongRegion = await A.admit({
      runbook: "backup-snapshot",
      params: { selector: { tag: { Backup: "daily" } } },
      trigger: { kind: "manual" },
      actor: { id: "cli:alice" },
      location: { account: "member-1", region: "ap-south-1" },
    });
    expect(wrongRegion).toMatchObject({ admitted: false, status: 400 });
    // The params' own Region, when it is not the location's: the run's clients would act there
    // (a Region the account does not list), under locks keyed by the location's Region.
    const before = (await Executions.list({ limit: 500 })).executions.length;
    const elsewhere = await A.admit({
      runbook: "backup-snapshot",
      params: { selector: { tag: { Backup: "daily" } }, region: "ap-south-1" },
      trigger: { kind: "manual" },
      actor: { id: "cli:alice" },
      location: { account: "member-1", region: "us-east-1" },
    });
    expect(elsewhere).toMatchObject({
      admitted: false,
      status: 400,
      check: "params",
      issues: [{ path: "params.region" }],
    });
    expect((await Executions.list({ limit: 500 })).executions).toHaveLength(before);
    // A runbook that calls AWS from its state machine (aws() Tasks) would act in the hub.
    const { restartService } = await import("../examples/runbooks/restart-service/index.ts");
    const config = validateConfig({ runbooks: [restartService], accounts: local.config.accounts });
    const sdkTasks = await A.admit({
      runbook: "restart-service",
      params: restartService.example,
      trigger: { kind: "manual" },
      actor: { id: "cli:alice" },
      location: { account: "member-1", region: "us-east-1" },
      config,
    });
    expect(sdkTasks).toMatchObject({
      admitted: false,
      status: 400,
      reason: expect.stringMatching(/hub's account only/),
    });
  });
});

describe("a run in one location, from the HTTP API", () => {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${local.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  it("starts in the account and Region asked, and a rerun runs there again; an unknown account is a 400", async () => {
    const params = { selector: { tag: { Backup: "daily" } }, region: "eu-west-1" };
    const started = await post("/api/runbooks/backup-snapshot/executions", {
      params,
      location: { account: "member-3", region: "eu-west-1" },
    });
    expect(started.status).toBe(202);
    expect(await waitForEnd(started.body.executionId)).toMatchObject({ status: "SUCCEEDED" });
    const again = await post(`/api/executions/${started.body.executionId}/rerun`, {});
    expect(again.status).toBe(202);
    await waitForEnd(again.body.executionId);
    for (const id of [started.body.executionId, again.body.executionId])
      expect((await Executions.find(id))?.location).toEqual({ account: "333333333333", region: "eu-west-1" });

    const bad = await post("/api/runbooks/backup-snapshot/executions", {
      params,
      location: { account: "444444444444", region: "eu-west-1" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/account '444444444444' is not in config accounts/);
  });
});

describe("a run in one location whose params name no Region", () => {
  it("acts in the location's Region: admission sets the params' region to it, as the fan-out does", async () => {
    // A runbook of the SDK reads `params.region ?? AWS_REGION` (db-backup, db-failover, restore):
    // left unset, its clients would act in the hub's Region of the member account.
    const { Admission: A } = await import("@reflex/core");
    const admitted = await A.admit({
      runbook: "backup-snapshot",
      params: { selector: { tag: { Backup: "daily" } } },
      dryRun: true,
      trigger: { kind: "manual" },
      actor: { id: "cli:alice" },
      location: { account: "member-2", region: "eu-west-1" },
    });
    expect(admitted.admitted).toBe(true);
    if (!admitted.admitted) return;
    await waitForEnd(admitted.execution.id);
    expect((await Executions.find(admitted.execution.id))?.params).toMatchObject({ region: "eu-west-1" });
  });
});

describe("many locations from the HTTP API", () => {
  const post = async (body: unknown) => {
    const res = await fetch(`${local.url}/api/runbooks/backup-snapshot/executions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const params = { selector: { tag: { Backup: "daily" } } };

  it("starts one child per location the selector names: 202 with the parent id and the children", async () => {
    const started = await post({
      params,
      locations: { accounts: ["tag:env=prod"], regions: ["eu-west-1"], excludeAccounts: ["member-2"] },
      locationConcurrency: 2,
    });
    expect(started.status).toBe(202);
    const { parentId, children } = started.body;
    expect(children).toEqual([
      { account: "111111111111", accountName: "member-1", region: "eu-west-1", executionId: `${parentId}-1` },
      { account: "333333333333", accountName: "member-3", region: "eu-west-1", executionId: `${parentId}-2` },
    ]);
    for (const child of children) {
      expect(await Locations.untilEnd(child.executionId)).toMatchObject({ status: "SUCCEEDED" });
      const record = await Executions.find(child.executionId);
      expect(record?.location).toEqual({ account: child.account, region: child.region });
      expect(record?.params).toMatchObject({ region: "eu-west-1" });
    }
  });

  it("refuses a bad selector or limit with a 400 naming the field, nothing started", async () => {
    const before = (await Executions.list({ limit: 500 })).executions.length;
    const cases: Array<[unknown, string]> = [
      [{ params, locations: { accounts: ["tag:env=nope"] } }, "locations.accounts[0]"],
      [{ params, locations: { accounts: ["member-1", "444444444444"] } }, "locations.accounts[1]"],
      [{ params, locations: { accounts: ["*"], regions: ["ap-south-1"] } }, "locations"],
      [{ params, locations: { accounts: [] } }, "locations.accounts"],
      [{ params, locations: { accounts: ["*"] }, locationConcurrency: "150%" }, "locationConcurrency"],
      [{ params, locations: { accounts: ["*"] }, locationMaxErrors: "some" }, "locationMaxErrors"],
      [{ params, locationConcurrency: 2 }, "locationConcurrency"],
      [{ params: { ...params, retainDays: "x" }, locations: { accounts: ["*"] } }, "params.retainDays"],
      [
        { params, locations: { accounts: ["*"] }, location: { account: "member-1", region: "us-east-1" } },
        "locations",
      ],
    ];
    for (const [body, path] of cases) {
      const res = await post(body);
      expect([res.status, res.body.error?.path], JSON.stringify(body)).toEqual([400, path]);
    }
    expect((await Executions.list({ limit: 500 })).executions.length).toBe(before);
  });
});

describe("reflex run --accounts", () => {
  it("starts a child per location, waits for the fan-out's end and exits 1 when a location failed", async () => {
    const role = "arn:aws:iam::333333333333:role/ReflexExecutionRole";
    local.organization.sts.deleteRole(role);
    try {
      const ran = await reflex([
        "run",
        "backup-snapshot",
        "--param",
        "selector.tag.Backup=daily",
        "--accounts",
        "member-1,333333333333",
        "--regions",
        "us-east-1",
        "--location-concurrency",
        "2",
        "--location-max-errors",
        "50%",
        "--wait",
        "--url",
        local.url,
      ]);
      expect(ran.stdout).toMatch(/in 2 location\(s\), 2 at a time, stop after 1 error\(s\)/);
      expect(ran.stdout).toMatch(/^SUCCEEDED \S+-1 {2}111111111111 \(member-1\) us-east-1$/m);
      expect(ran.stdout).toMatch(/^FAILED {3} \S+-2 {2}333333333333 \(member-3\) us-east-1$/m);
      expect(ran.stdout).toMatch(/1 of 2 location\(s\) succeeded; 333333333333\/us-east-1 FAILED/);
      expect(ran.code).toBe(1);
    } finally {
      local.organization.sts.putRole({ arn: role, trust: [local.organization.sts.hubPrincipal] });
    }
    const usage = await reflex(["run", "backup-snapshot", "--regions", "us-east-1", "--url", local.url]);
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringMatching(/need --accounts/)]);
    const bad = await reflex(["run", "backup-snapshot", "--accounts", "tag:env=nope", "--url", local.url]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/'tag:env=nope' matches no account/);
  });
});

describe("the location shown", () => {
  it("in the approval (API and Slack message), reflex show and reflex executions", async () => {
    const { Admission: A } = await import("@reflex/core");
    const { approvalRequest } = await import("../packages/core/src/chatops/blocks.ts");
    local.organization.member("222222222222").addAutoScalingGroup({
      region: "eu-west-1",
      name: "web",
      minSize: 1,
      maxSize: 4,
      desiredCapacity: 1,
      tags: { "reflex:managed": "true" },
    });
    const admitted = await A.admit({
      runbook: "scale",
      params: { autoScalingGroup: "web", change: "+1", region: "eu-west-1" },
      trigger: { kind: "manual" },
      actor: { id: "cli:alice" },
      approval: "required",
      location: { account: "member-2", region: "eu-west-1" },
    });
    if (!admitted.admitted) throw new Error(admitted.reason);
    const id = admitted.execution.id;
    const get = async (path: string) => (await (await fetch(`${local.url}${path}`)).json()) as any;
    let pending: any;
    // The run waits for a person once its plan is made: the request is there when the API lists it.
    while (!pending) {
      pending = (await get("/api/approvals")).approvals.find((a: any) => a.executionId === id);
      const run = await Executions.find(id);
      if (!pending && run && (Executions.TERMINAL as readonly string[]).includes(run.status))
        throw new Error(`${id} ended ${run.status} without waiting: ${run.error} ${run.cause}`);
    }
    const where = { account: "222222222222", accountName: "member-2", region: "eu-west-1" };
    expect(pending.location).toEqual(where);
    const message = approvalRequest(pending);
    expect(message.text).toContain(`${id} in 222222222222 (member-2) eu-west-1 waits for approval`);
    expect(JSON.stringify(message.blocks)).toContain("*In* account 222222222222 (member-2) eu-west-1");

    const show = await reflex(["show", id, "--url", local.url]);
    expect(show.stdout).toMatch(/^ {2}location {2}account 222222222222, Region eu-west-1$/m);
    const list = await reflex(["executions", "--runbook", "scale", "--all", "--url", local.url]);
    expect(list.stdout).toMatch(new RegExp(`${id} +scale @222222222222/eu-west-1 `));

    const abort = await fetch(`${local.url}/api/executions/${id}/abort`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reason: "only looking", now: true }),
    });
    expect(abort.status).toBe(202);
    expect(await Locations.untilEnd(id)).toMatchObject({ status: "ABORTED" });
  });
});

describe("a lost run in a member account", () => {
  it("is inspected in that account, with a session named for the run", async () => {
    const { Steps } = await import("@reflex/core");
    const mark = local.organization.calls().at(-1)?.seq ?? 0;
    const lost = {
      id: "backup-snapshot-20261207T000000Z-lost01",
      runbook: "backup-snapshot",
      status: "RUNNING",
      dryRun: false,
      params: { selector: { tag: { Backup: "daily" } }, region: "eu-west-1" },
      trigger: { kind: "manual", actor: "cli:alice" },
      startedAt: "2026-12-07T00:00:00.000Z",
      location: { account: "333333333333", region: "eu-west-1" },
    } as const;
    await Steps.inspectLost(lost as never);
    const calls = local.organization.calls().filter((c) => c.seq > mark);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.map((c) => [c.account, c.session])).toEqual(
      calls.map(() => ["333333333333", `reflex-${lost.id}`]),
    );
  });
});

describe("reflex start --accounts --regions", () => {
  it("takes a count of Regions or a list, and refuses what it cannot simulate (exit 2)", async () => {
    const { memberAccounts } = await import("../packages/local/src/cli/commands/local.ts");
    expect(memberAccounts("3", "2")).toEqual({ count: 3, regions: ["us-east-1", "us-west-2"] });
    expect(memberAccounts("1", "eu-west-1,ap-south-1")).toEqual({
      count: 1,
      regions: ["eu-west-1", "ap-south-1"],
    });
    expect(memberAccounts(undefined, "2")).toBeUndefined();
    expect(() => memberAccounts("12", "2")).toThrow(/0 to 9/);
    expect(() => memberAccounts("2", "eu-west-9")).toThrow(/unknown Region 'eu-west-9'/);
    expect((await reflex(["start", "--accounts", "x"])).code).toBe(2);
  });
});

describe("locations on rules and schedules", () => {
  const backup = { run: "backup-snapshot", with: { selector: { tag: { Backup: "daily" } } } };
  const withConfig = async <T>(extra: Record<string, unknown>, fn: (config: Config) => Promise<T>) => {
    const before = currentConfig();
    const config = validateConfig({ accounts: local.config.accounts, ...extra });
    useConfig(config);
    try {
      return await fn(config);
    } finally {
      useConfig(before);
    }
  };
  const envelope = (detailType: string, account: string, region: string) => ({
    version: "0",
    id: `evt-${Math.random().toString(36).slice(2)}`,
    "detail-type": detailType,
    source: "custom.reflex-test",
    account,
    time: new Date().toISOString(),
    region,
    resources: [],
    detail: {},
  });
  const until = async <T>(read: () => Promise<T | undefined>): Promise<T> => {
    for (;;) {
      const value = await read();
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it("runs an event from a member account in that account and Region; the rule's selector decides which it takes; from the hub it fans out", async () => {
    const on = (t: string) => ({ source: ["custom.reflex-test"], "detail-type": [t] });
    await withConfig(
      {
        rules: [
          // Dry-runs: no locks, so the runs here never wait on one another.
          { name: "anywhere", on: on("Anywhere"), ...backup, dryRun: true, cooldown: "0s" },
          {
            name: "member-1-eu",
            on: on("Member one"),
            ...backup,
            dryRun: true,
            cooldown: "0s",
            locations: { accounts: ["member-1"], regions: ["eu-west-1"] },
          },
        ],
      },
      async (config) => {
        // No `locations` on the rule: an event from member-3 runs in member-3, where it happened.
        const [plain] = await Gate.handleEvent(envelope("Anywhere", "333333333333", "us-east-1"), { config });
        expect(plain?.decision).toBe("started");
        expect((await Executions.find(plain?.executionId ?? ""))?.location).toEqual({
          account: "333333333333",
          region: "us-east-1",
        });

        const [inside] = await Gate.handleEvent(envelope("Member one", "111111111111", "eu-west-1"), {
          config,
        });
        expect(inside?.decision).toBe("started");
        expect((await Executions.find(inside?.executionId ?? ""))?.location).toEqual({
          account: "111111111111",
          region: "eu-west-1",
        });
        const [outside] = await Gate.handleEvent(envelope("Member one", "222222222222", "eu-west-1"), {
          config,
        });
        expect(outside).toMatchObject({
          decision: "no-match",
          reason: expect.stringMatching(
            /from 222222222222 \(member-2\) eu-west-1, which its locations do not name/,
          ),
        });

        // From the hub (an account the config does not name as a member): every location it names.
        const [hub] = await Gate.handleEvent(envelope("Member one", "000000000000", "us-east-1"), { config });
        expect(hub?.decision).toBe("started");
        const done = await until(() => Locations.outcome(hub?.executionId ?? ""));
        expect(done.locations.map((l) => [l.account, l.region, l.status])).toEqual([
          ["111111111111", "eu-west-1", "SUCCEEDED"],
        ]);
        const child = await Executions.find(done.locations[0]?.executionId ?? "");
        expect(child?.trigger).toMatchObject({ kind: "rule", name: "member-1-eu" });
      },
    );
  });

  it("cools a rule down per location: the same alarm in two member accounts starts twice, again in one is suppressed", async () => {
    const on = { source: ["custom.reflex-test"], "detail-type": ["Cool"] };
    await withConfig(
      { rules: [{ name: "cool", on, ...backup, dryRun: true, cooldown: "10m", target: "$.detail-type" }] },
      async (config) => {
        const decide = async (account: string) =>
          (await Gate.handleEvent(envelope("Cool", account, "us-east-1"), { config }))[0];
        expect((await decide("111111111111"))?.decision).toBe("started");
        expect((await decide("222222222222"))?.decision).toBe("started");
        expect(await decide("111111111111")).toMatchObject({ decision: "suppressed", guardrail: "cooldown" });
      },
    );
  });

  it("starts a schedule with locations as a fan-out, the same one when the firing is redelivered", async () => {
    const { fire } = await import("../packages/functions/src/schedule.ts");
    await withConfig(
      {
        schedules: [
          {
            name: "members-nightly",
            cron: "cron(0 2 * * ? *)",
            ...backup,
            locations: { accounts: ["tag:env=prod"], regions: ["us-east-1"], locationConcurrency: 2 },
          },
        ],
      },
      async () => {
        const scheduledTime = new Date().toISOString();
        const first = await fire({ kind: "schedule", name: "members-nightly", scheduledTime });
        expect(first.decision).toBe("started");
        const again = await fire({ kind: "schedule", name: "members-nightly", scheduledTime });
        expect(again).toEqual({ executionId: first.executionId, decision: "duplicate" });
        const done = await until(() => Locations.outcome(first.executionId ?? ""));
        expect(done.locations.map((l) => [l.account, l.status])).toEqual([
          ["111111111111", "SUCCEEDED"],
          ["222222222222", "SUCCEEDED"],
          ["333333333333", "SUCCEEDED"],
        ]);
        const child = await Executions.find(done.locations[0]?.executionId ?? "");
        expect(child?.trigger).toMatchObject({ kind: "schedule", name: "members-nightly" });
      },
    );
  });
});
