/**
 * `GET/POST/DELETE /api/offhours/overrides` (issue 25): an override is an off-hours run through
 * admit() — access checked, audited with who and why — with an end that must be given and is
 * bounded by `maxOverride`; bad input is a 400 naming the field and starts nothing. One server
 * for the file, running the team's off-hours runbook from examples/.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offHours } from "../examples/runbooks/off-hours/index.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { startTestLocal } from "./support/local.ts";

let local: LocalMode;
let tagged: string;
let untagged: string;
let simulated: SimulatedCloud;

beforeAll(async () => {
  const cloud = SimulatedCloud.seeded({ snapshotDurationMs: 150 });
  simulated = cloud;
  const managed = { "reflex:managed": "true" };
  tagged = cloud.addInstance({ name: "web-a", tags: { ...managed, "reflex:off-hours": "office" } })
    .InstanceId as string;
  untagged = cloud.addInstance({ name: "plain", tags: managed }).InstanceId as string;
  local = await startTestLocal(
    {
      runbooks: [offHours],
      access: {
        roles: { ops: ["cli:ops"], viewer: ["cli:viewer"], admin: ["cli:admin"] },
        allow: [
          { role: "ops", runbooks: ["*"], actions: ["run", "dry-run"] },
          { role: "admin", runbooks: ["off-hours"], actions: ["run", "override-limits"] },
          { role: "viewer", runbooks: ["*"], actions: ["dry-run"] },
        ],
      },
      offHours: {
        maxOverride: "12h",
        schedules: [
          { name: "office", timezone: "UTC", periods: [{ days: "daily", start: "00:00", stop: "23:59" }] },
        ],
      },
    },
    { cloud },
  );
});
afterAll(async () => local?.stop());

async function call(as: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${local.url}${path}`, {
    method,
    headers: { "content-type": "application/json", "x-reflex-actor": as },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const runCount = async () =>
  (await call("cli:ops", "GET", "/api/executions?limit=500")).body.executions.length;

describe("the off-hours overrides routes", () => {
  it("keeps a target with who and why, lists it, audits it, and releases it", async () => {
    const kept = await call("cli:ops", "POST", "/api/offhours/overrides", {
      targets: [tagged],
      for: "3h",
      reason: "release testing",
    });
    expect(kept.status, JSON.stringify(kept.body)).toBe(202);
    await local.idle();
    const run = await call("cli:ops", "GET", `/api/executions/${kept.body.executionId}`);
    expect(run.body.status, JSON.stringify(run.body)).toBe("SUCCEEDED");

    const listed = await call("cli:viewer", "GET", "/api/offhours/overrides");
    expect(listed.body.overrides).toEqual([
      expect.objectContaining({ target: tagged, setBy: "cli:ops", reason: "release testing" }),
    ]);
    const until = Date.parse(listed.body.overrides[0].until);
    expect(until - Date.parse(listed.body.overrides[0].setAt)).toBe(3 * 3_600_000);
    const audit = await call("cli:ops", "GET", `/api/audit?execution=${kept.body.executionId}`);
    expect(audit.body.entries).toContainEqual(expect.objectContaining({ actor: "cli:ops" }));

    const released = await call("cli:ops", "DELETE", "/api/offhours/overrides", {
      targets: [tagged],
      reason: "testing done",
    });
    expect(released.status, JSON.stringify(released.body)).toBe(202);
    await local.idle();
    expect((await call("cli:ops", "GET", "/api/offhours/overrides")).body.overrides).toEqual([]);
  });

  it("refuses a person without the run action, audited, and writes nothing", async () => {
    const before = await runCount();
    const since = Date.now();
    const refused = await call("cli:viewer", "POST", "/api/offhours/overrides", {
      targets: [tagged],
      for: "1h",
      reason: "let me",
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain("cli:viewer");
    const trail = await call(
      "cli:ops",
      "GET",
      `/api/audit?actor=cli:viewer&since=${new Date(since).toISOString()}`,
    );
    expect(trail.body.entries.length).toBeGreaterThan(0);
    expect(
      (await call("cli:viewer", "DELETE", "/api/offhours/overrides", { targets: [tagged] })).status,
    ).toBe(403);
    expect(await runCount()).toBe(before);
    expect((await call("cli:ops", "GET", "/api/offhours/overrides")).body.overrides).toEqual([]);
  });

  it("refuses a person without override-limits an override beyond maxOverride: a 403 naming why, audited with the actor, nothing started", async () => {
    const before = await runCount();
    const since = new Date().toISOString();
    const res = await call("cli:ops", "POST", "/api/offhours/overrides", {
      targets: [tagged],
      for: "13h",
      reason: "long test",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.error).toMatchObject({ code: "access_denied", path: "for" });
    expect(res.body.error.message).toMatch(
      /^cli:ops may not set this override: for: .* more than maxOverride \(12h\) away: a longer override .* override-limits/,
    );
    const trail = await call("cli:admin", "GET", `/api/audit?actor=cli:ops&since=${since}`);
    expect(trail.body.entries).toContainEqual(
      expect.objectContaining({ kind: "start.refused", actor: "cli:ops", guardrail: "access" }),
    );
    expect(await runCount()).toBe(before);
    expect((await call("cli:ops", "GET", "/api/offhours/overrides")).body.overrides).toEqual([]);
  });

  it("lets a person whose role has override-limits keep a target beyond maxOverride, audited with the actor", async () => {
    const kept = await call("cli:admin", "POST", "/api/offhours/overrides", {
      targets: [tagged],
      for: "30h",
      reason: "quarter-end batch",
    });
    expect(kept.status, JSON.stringify(kept.body)).toBe(202);
    await local.idle();
    const run = await call("cli:admin", "GET", `/api/executions/${kept.body.executionId}`);
    expect(run.body.status, JSON.stringify(run.body)).toBe("SUCCEEDED");
    const [o] = (await call("cli:ops", "GET", "/api/offhours/overrides")).body.overrides;
    expect(o).toMatchObject({ target: tagged, setBy: "cli:admin", reason: "quarter-end batch" });
    expect(Date.parse(o.until) - Date.parse(o.setAt)).toBe(30 * 3_600_000);
    expect(JSON.stringify(run.body)).toContain("longer than maxOverride 12h: cli:admin has override-limits");
    const audit = await call("cli:admin", "GET", `/api/audit?execution=${kept.body.executionId}`);
    expect(audit.body.entries).toContainEqual(expect.objectContaining({ actor: "cli:admin" }));
    await call("cli:admin", "DELETE", "/api/offhours/overrides", { targets: [tagged], reason: "done" });
    await local.idle();
    expect((await call("cli:ops", "GET", "/api/offhours/overrides")).body.overrides).toEqual([]);
  });

  it("refuses the long override in the run when admission could not look (no describe grant): the step asks the starter's role again", async () => {
    // Admission's precheck cannot describe EC2 (as a deployed API role cannot), and an end given
    // as HH:MM needs the target's zone: the start goes through, and the override step refuses.
    simulated.injectFault({
      service: "ec2",
      operation: "DescribeInstances",
      kind: "error",
      code: "UnauthorizedOperation",
      httpStatusCode: 403,
      times: 1,
    });
    const until = new Date(Date.now() + 13 * 3_600_000).toISOString().slice(11, 16);
    const res = await call("cli:ops", "POST", "/api/offhours/overrides", {
      targets: [tagged],
      until,
      reason: "long test",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await local.idle();
    const run = await call("cli:ops", "GET", `/api/executions/${res.body.executionId}`);
    expect(run.body.status).toBe("FAILED");
    expect(`${run.body.error} ${run.body.cause}`).toMatch(/OverrideNotAllowed.*override-limits/s);
    expect((await call("cli:ops", "GET", "/api/offhours/overrides")).body.overrides).toEqual([]);
  });

  it("refuses even override-limits beyond maxLongOverride (default 7d): a 400 naming the field, nothing started", async () => {
    const before = await runCount();
    const res = await call("cli:admin", "POST", "/api/offhours/overrides", {
      targets: [tagged],
      for: "8d",
      reason: "forever",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error).toMatchObject({ code: "InvalidOverride", path: "for" });
    expect(res.body.error.message).toContain(
      "more than maxLongOverride (7d) away: nobody may set a longer override",
    );
    expect(await runCount()).toBe(before);
  });

  it.each([
    ["no reason", { targets: ["TAGGED"], for: "1h" }, "reason"],
    ["no end", { targets: ["TAGGED"], reason: "x" }, "until"],
    ["both ends", { targets: ["TAGGED"], for: "1h", until: "22:00", reason: "x" }, "until"],
    ["an end in the past", { targets: ["TAGGED"], until: "2020-01-01T00:00:00Z", reason: "x" }, "until"],
    [
      "an instant beyond maxLongOverride",
      { targets: ["TAGGED"], until: "2099-01-01T00:00:00Z", reason: "x" },
      "until",
    ],
    ["a malformed duration", { targets: ["TAGGED"], for: "3 hours", reason: "x" }, "for"],
    ["a target without the off-hours tag", { targets: ["PLAIN"], for: "1h", reason: "x" }, "targets"],
    ["a target that is not an id", { targets: ["web-a"], for: "1h", reason: "x" }, "targets[0]"],
    ["no targets", { targets: [], for: "1h", reason: "x" }, "targets"],
    ["an unknown field", { targets: ["TAGGED"], for: "1h", reason: "x", setBy: "cli:ceo" }, "body"],
  ])("answers %s with a 400 naming the field, starting nothing", async (_, raw, path) => {
    const body = JSON.parse(JSON.stringify(raw).replace("TAGGED", tagged).replace("PLAIN", untagged));
    const before = await runCount();
    const res = await call("cli:ops", "POST", "/api/offhours/overrides", body);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.path ?? "body").toContain(path);
    expect(await runCount()).toBe(before);
  });

  it("answers a release of an untagged target with a 400 naming targets", async () => {
    const res = await call("cli:ops", "DELETE", "/api/offhours/overrides", { targets: [untagged] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "InvalidOverride", path: "targets" });
  });

  it("answers fuzzed override bodies with a 4xx naming a field, never a 5xx, and starts nothing", async () => {
    const before = await runCount();
    const valid = () => ({ targets: [untagged], for: "1h", reason: "fuzz" });
    const spoil = fc.oneof(
      fc.record({ targets: fc.anything() }).map((s) => ({ ...valid(), ...s })),
      fc.record({ for: fc.anything() }).map((s) => ({ ...valid(), ...s })),
      fc.record({ until: fc.string({ maxLength: 60 }) }).map((s) => ({ ...valid(), ...s })),
      fc
        .record({
          reason: fc.oneof(
            fc.constant(""),
            fc.constant("  "),
            fc.integer(),
            fc.string({ minLength: 1001, maxLength: 1100 }),
          ),
        })
        .map((s) => ({ ...valid(), ...s })),
      fc.record({ start: fc.anything() }).map((s) => ({ ...valid(), ...s })),
      fc.dictionary(fc.string({ maxLength: 10 }), fc.anything(), { minKeys: 1, maxKeys: 3 }),
      fc.constant(valid()), // untagged: refused by the precheck
    );
    await fc.assert(
      fc.asyncProperty(spoil, fc.constantFrom("POST", "DELETE"), async (body, method) => {
        const res = await call("cli:ops", method, "/api/offhours/overrides", body);
        expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
        expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
        expect(typeof res.body.error.message).toBe("string");
      }),
      { numRuns: 60 },
    );
    expect(await runCount()).toBe(before);
  });
});
