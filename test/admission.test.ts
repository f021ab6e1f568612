/**
 * Admission, table-driven: for each trigger kind and each check, the decision, the audit entry
 * and the actor recorded. Every start goes through `Admission.admit`; these call it the way
 * each entry point does (the gate, the schedule handler, the API), and read the audit back.
 */
import {
  Admission,
  Audit,
  type ConfigInput,
  Executions,
  Gate,
  Locks,
  Runs,
  useConfig,
  validateConfig,
} from "@reflex/core";
import { fire as fireSchedule } from "@reflex/functions/schedule";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { alarmEvent } from "./support/events.ts";
import { api, startTestLocal } from "./support/local.ts";

const FREEZE = {
  name: "holidays",
  from: "2026-12-24T00:00:00Z",
  to: "2027-01-02T00:00:00Z",
  reason: "year end",
};
const IN_FREEZE = new Date("2026-12-25T01:00:00Z");
const OUTSIDE = new Date("2026-12-10T01:00:00Z");

const CONFIG: ConfigInput = {
  environment: "staging",
  rules: [
    {
      name: "cpu-high",
      on: { source: ["aws.cloudwatch"], detail: { state: { value: ["ALARM"] } } },
      run: "backup-snapshot",
      with: { selector: { tag: { Role: "db" } } },
      cooldown: "0s",
    },
  ],
  schedules: [
    {
      name: "nightly",
      cron: "cron(0 2 * * ? *)",
      run: "backup-snapshot",
      with: { selector: { tag: { Role: "db" } } },
    },
  ],
  freezes: [FREEZE],
  access: {
    roles: { oncall: ["cli:alice"], lead: ["cli:lena"], viewer: ["cli:vic"] },
    allow: [
      { role: "oncall", runbooks: ["*"], actions: ["run", "dry-run"] },
      {
        role: "lead",
        runbooks: ["*"],
        actions: ["run", "dry-run", "approve", "abort", "override-freeze", "override-pause"],
      },
      { role: "viewer", runbooks: ["*"], actions: ["dry-run"] },
    ],
  },
};
const config = validateConfig(CONFIG);
const BACKUP = { selector: { tag: { Role: "db" } } };

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal({ ...CONFIG, schedules: [] });
  // The schedule function runs the schedule of the config in force (never the payload's): the
  // one the tests invoke it for. (Local mode started without it, so its scheduler fires nothing.)
  useConfig(config);
});
afterAll(async () => local?.stop());
beforeEach(async () => {
  await Gate.Guardrails.resume("test");
  await local.idle();
});

type Kind = "rule" | "schedule" | "manual" | "rerun";
interface Outcome {
  decision: "started" | "refused";
  check?: string;
  audit?: { kind: string; actor: string; guardrail?: string };
}

let seq = 0;
/** Audit entries already looked at: each start is judged by the entries it added. */
const seen = new Set<string>();
const keyOf = (e: { at: string; kind: string; reason: string }) => `${e.at}|${e.kind}|${e.reason}`;
/** Entries filed under the decision's day and under today (what ran afterwards). */
async function recent(at: Date) {
  const [then, today] = await Promise.all([Audit.list({ now: at, limit: 100 }), Audit.list({ limit: 100 })]);
  return [...then.entries, ...today.entries];
}
/** Starts one run the way `kind`'s entry point does, and reads the audit entry it left. */
async function startAs(
  kind: Kind,
  at: Date,
  opts: { actor?: string; overrideFreeze?: string; overridePause?: string } = {},
): Promise<Outcome> {
  seq++;
  let admitted: boolean;
  let check: string | undefined;
  let executionId: string | undefined;
  if (kind === "rule") {
    const [d] = await Gate.handleEvent(alarmEvent(`adm-${seq}`, "ALARM", at), { config, now: at });
    admitted = d.decision === "started";
    check = d.guardrail;
    executionId = d.executionId;
  } else if (kind === "schedule") {
    // Fired when it is due: the schedule function refuses a fire time ahead of its clock.
    const scheduledAt = new Date(at.getTime() + seq * 60_000);
    const out = await fireSchedule(
      { kind: "schedule", name: "nightly", scheduledTime: scheduledAt.toISOString() },
      scheduledAt,
    );
    admitted = out.decision === "started";
    executionId = out.executionId;
    check = admitted ? undefined : "freeze-or-pause";
  } else {
    const a =
      kind === "manual"
        ? await Admission.admit({
            runbook: "backup-snapshot",
            params: BACKUP,
            trigger: { kind: "manual" },
            actor: { id: opts.actor ?? "cli:alice" },
            overrideFreeze: opts.overrideFreeze,
            overridePause: opts.overridePause,
            config,
            now: at,
          })
        : await Admission.rerun({
            executionId: (await firstRun()).id,
            actor: { id: opts.actor ?? "cli:alice" },
            overrideFreeze: opts.overrideFreeze,
            config,
            now: at,
          });
    admitted = a.admitted;
    check = a.admitted ? undefined : a.check;
    executionId = a.admitted ? a.execution.id : undefined;
  }
  await local.idle();
  const entries = (await recent(at)).filter((e) => !seen.has(keyOf(e)));
  for (const e of entries) seen.add(keyOf(e));
  const audit = admitted
    ? entries.find((e) => e.kind === "execution.started" && e.executionId === executionId)
    : entries.find((e) => e.kind === "start.refused" || e.kind === "start.suppressed");
  return { decision: admitted ? "started" : "refused", check, audit };
}

let first: { id: string } | undefined;
async function firstRun() {
  if (!first) {
    const a = await Admission.admit({
      runbook: "backup-snapshot",
      params: BACKUP,
      trigger: { kind: "manual" },
      actor: { id: "cli:alice" },
      config,
      now: OUTSIDE,
    });
    if (!a.admitted) throw new Error(a.reason);
    first = a.execution;
    await local.idle();
  }
  return first;
}

describe("admission: trigger kind × check", () => {
  const actorOf: Record<Kind, string> = {
    rule: "rule:cpu-high",
    schedule: "schedule:nightly",
    manual: "cli:alice",
    rerun: "cli:alice",
  };

  for (const kind of ["rule", "schedule", "manual", "rerun"] as Kind[]) {
    it(`${kind}: outside any freeze, starts and audits the start with its actor`, async () => {
      const out = await startAs(kind, OUTSIDE);
      expect(out).toMatchObject({
        decision: "started",
        audit: { kind: "execution.started", actor: actorOf[kind] },
      });
    });

    it(`${kind}: during a freeze, is refused and audited with its actor and the check`, async () => {
      const out = await startAs(kind, IN_FREEZE);
      expect(out.decision).toBe("refused");
      expect(out.audit).toMatchObject({ actor: actorOf[kind], guardrail: "freeze" });
      expect(out.audit?.kind).toBe(
        kind === "rule" || kind === "schedule" ? "start.suppressed" : "start.refused",
      );
    });

    it(`${kind}: while paused, ${kind === "rule" || kind === "schedule" ? "is suppressed" : "is refused without an override"}`, async () => {
      await Gate.Guardrails.pause("cli:lena", "incident");
      const out = await startAs(kind, OUTSIDE);
      expect(out.decision).toBe("refused");
      expect(out.audit).toMatchObject({ actor: actorOf[kind], guardrail: "pause" });
    });
  }

  it("manual: a person without the run action is refused by access (403), audited with the actor", async () => {
    const out = await startAs("manual", OUTSIDE, { actor: "cli:vic" });
    expect(out).toMatchObject({
      decision: "refused",
      check: "access",
      audit: { actor: "cli:vic", guardrail: "access" },
    });
  });

  it("manual: during a freeze, a role allowed to override starts one run with the reason; it needs approval and the override is audited", async () => {
    const refused = await startAs("manual", IN_FREEZE, { actor: "cli:alice", overrideFreeze: "hotfix" });
    const a = await Admission.admit({
      runbook: "backup-snapshot",
      params: BACKUP,
      trigger: { kind: "manual" },
      actor: { id: "cli:lena" },
      overrideFreeze: "hotfix for INC-42",
      config,
      now: IN_FREEZE,
    });
    // It waits for a person (a freeze override always does): aborted, so the next test starts clean.
    if (a.admitted)
      await fetch(`${local.url}/api/executions/${a.execution.id}/abort`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-reflex-actor": "cli:lena" },
        body: JSON.stringify({ reason: "test done", now: true }),
      });
    await local.idle();
    const audit = await recent(IN_FREEZE);

    expect(refused).toMatchObject({ decision: "refused", check: "access" });
    expect(a.admitted).toBe(true);
    if (a.admitted)
      expect(a.approval).toMatchObject({
        required: true,
        reasons: [expect.stringContaining("hotfix for INC-42")],
      });
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: "guardrail.overridden",
          actor: "cli:lena",
          reason: expect.stringContaining("hotfix for INC-42"),
        }),
      ]),
    );
  });

  it("manual: while paused, an explicit override by an allowed role starts, audited", async () => {
    await Gate.Guardrails.pause("cli:lena", "incident");
    const a = await Admission.admit({
      runbook: "backup-snapshot",
      params: BACKUP,
      trigger: { kind: "manual" },
      actor: { id: "cli:lena" },
      overridePause: "restore needed",
      config,
      now: OUTSIDE,
    });
    expect(a.admitted).toBe(true);
  });

  it("a person's dry-run passes freeze and pause (it changes nothing)", async () => {
    await Gate.Guardrails.pause("cli:lena", "incident");
    const a = await Admission.admit({
      runbook: "backup-snapshot",
      params: BACKUP,
      dryRun: true,
      trigger: { kind: "manual" },
      actor: { id: "cli:vic" },
      config,
      now: IN_FREEZE,
    });
    expect(a.admitted).toBe(true);
  });

  it("the shipped config's nightly backup on 2026-12-25 is suppressed by its year-end freeze", async () => {
    const { loadConfig } = await import("@reflex/core");
    const shipped = await loadConfig("reflex.config.ts");
    const nightly = shipped.schedules.find((s) => s.name === "nightly-backup")!;
    const a = await Admission.admit({
      runbook: nightly.run,
      params: nightly.with,
      trigger: { kind: "schedule", name: nightly.name },
      actor: { id: `schedule:${nightly.name}` },
      config: shipped,
      now: new Date("2026-12-25T01:00:00Z"),
    });
    expect(a).toMatchObject({
      admitted: false,
      check: "freeze",
      reason: expect.stringContaining("year-end"),
    });
  });

  it("a lock held by another run refuses the start (409) and leaves no record behind", async () => {
    const runs = (await api(local, "GET", "/api/executions?limit=500")).body.executions.length;
    // A run that holds the group (recorded and locked the way a start leaves them).
    const held = await Executions.create({
      id: `held-${Date.now()}`,
      runbook: "scale",
      dryRun: false,
      params: {},
      trigger: { kind: "manual", actor: "test" },
      locks: ["asg:web"],
    });
    await Locks.acquire("asg:web", held.id, 60_000);
    const a = await Admission.admit({
      runbook: "scale",
      params: { autoScalingGroup: "web", change: "=6" },
      trigger: { kind: "manual" },
      actor: { id: "cli:alice" },
      config,
    });
    await local.idle();
    expect(a).toMatchObject({
      admitted: false,
      check: "lock",
      status: 409,
      reason: expect.stringContaining(held.id),
    });
    expect((await api(local, "GET", "/api/executions?limit=500")).body.executions).toHaveLength(runs + 1);
    await Runs.finish(held.id, { status: "SUCCEEDED" });
    expect(await Locks.holder("asg:web")).toBeUndefined();
  });
});
