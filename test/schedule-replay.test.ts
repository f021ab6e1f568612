/**
 * A schedule's firing replayed (issue 17's leftovers): the schedule function invoked again for
 * a fire time it has already run, however that time is written, or long after the Scheduler
 * would have stopped retrying it, starts no second run.
 */
import { Audit, Executions } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fire } from "../packages/functions/src/schedule.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { startTestLocal } from "./support/local.ts";

const BACKUP = { selector: { tag: { Backup: "daily" } } };

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal({
    schedules: [{ name: "hourly", cron: "cron(0 * * * ? *)", run: "backup-snapshot", with: BACKUP }],
  });
});
afterAll(async () => local?.stop());

async function runsOf(schedule: string) {
  const all = (await Executions.list({ limit: 500 })).executions;
  return all.filter((e) => e.trigger.kind === "schedule" && e.trigger.name === schedule);
}

describe("a schedule's firing replayed", () => {
  it("starts one run for one fire time, however the time is written", async () => {
    const minute = new Date(Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000);
    const iso = minute.toISOString(); // …T10:50:00.000Z
    const forms = [
      iso,
      iso.replace(".000Z", "Z"),
      new Date(minute.getTime() + 30_000).toISOString(), // the same minute, other seconds
      // The same instant as a wall time one hour ahead of UTC (the date turns with it after 23:00Z).
      `${new Date(minute.getTime() + 3_600_000).toISOString().slice(0, 19)}+01:00`,
    ];
    expect(new Set(forms.map((f) => Math.floor(Date.parse(f) / 60_000))).size).toBe(1);

    const outs = [];
    for (const scheduledTime of forms)
      outs.push(await fire({ kind: "schedule", name: "hourly", scheduledTime }));
    await local.idle();

    expect(outs.map((o) => o.decision)).toEqual(["started", "duplicate", "duplicate", "duplicate"]);
    expect(new Set(outs.map((o) => o.executionId)).size).toBe(1);
    expect(await runsOf("hourly")).toHaveLength(1);
  });

  it("starts one run when the same fire time arrives twice at once", async () => {
    const scheduledTime = new Date(Math.floor((Date.now() - 20 * 60_000) / 60_000) * 60_000).toISOString();
    const before = (await runsOf("hourly")).length;

    const outs = await Promise.all([
      fire({ kind: "schedule", name: "hourly", scheduledTime }),
      fire({ kind: "schedule", name: "hourly", scheduledTime }),
    ]);
    await local.idle();

    expect(outs.map((o) => o.decision).sort()).toEqual(["duplicate", "started"]);
    expect(await runsOf("hourly")).toHaveLength(before + 1);
  });

  it("refuses and audits a fire time older than the Scheduler's last retry, starting nothing", async () => {
    const scheduledTime = new Date(Math.floor((Date.now() - 3 * 3_600_000) / 60_000) * 60_000).toISOString();
    const before = (await runsOf("hourly")).length;

    const out = await fire({ kind: "schedule", name: "hourly", scheduledTime });

    expect(out).toMatchObject({ decision: "rejected", reason: expect.stringContaining("older than") });
    expect(await runsOf("hourly")).toHaveLength(before);
    expect((await Audit.list({ kind: "schedule.rejected" })).entries).toContainEqual(
      expect.objectContaining({ actor: "schedule:hourly", reason: out.reason }),
    );
  });
});
