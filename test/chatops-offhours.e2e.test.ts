/**
 * `/reflex offhours keep|release` end to end in local mode (issue 25): signed Slack commands to
 * the local server, the same acknowledgement and worker as the Lambdas; the override is an
 * off-hours run admitted as the person their Slack id maps to through `people`, stored with who
 * and why, and refused — politely, audited, nothing written — for someone without the role or
 * for bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offHours } from "../examples/runbooks/off-hours/index.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, startTestLocal } from "./support/local.ts";
import { postSlack } from "./support/slack.ts";

const SECRET = "offhours-signing-secret";

let local: LocalMode;
let web: string;
let plain: string;

beforeAll(async () => {
  process.env.SLACK_SIGNING_SECRET = SECRET;
  const cloud = SimulatedCloud.seeded({ snapshotDurationMs: 150 });
  const managed = { "reflex:managed": "true" };
  web = cloud.addInstance({ name: "web-a", tags: { ...managed, "reflex:off-hours": "office" } })
    .InstanceId as string;
  plain = cloud.addInstance({ name: "plain", tags: managed }).InstanceId as string;
  local = await startTestLocal(
    {
      environment: "local",
      chatops: { channel: "C0NCALL" },
      runbooks: [offHours],
      people: [{ name: "alice", slack: "UALICE1" }],
      access: {
        roles: { oncall: ["person:alice"] },
        allow: [{ role: "oncall", runbooks: ["off-hours"], actions: ["run", "dry-run"] }],
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
afterAll(async () => {
  await local?.stop();
  delete process.env.SLACK_SIGNING_SECRET;
});

async function command(user: string, text: string, answeredInAck = false) {
  const responseUrl = `https://hooks.slack.com/commands/T1/1/${user}/${Math.random()}`;
  const body = new URLSearchParams({
    command: "/reflex",
    text,
    user_id: user,
    user_name: user.toLowerCase(),
    channel_id: "C0NCALL",
    team_id: "T1",
    response_url: responseUrl,
  }).toString();
  const res = await postSlack(local.url, "commands", body, SECRET);
  expect(res.status).toBe(200);
  // A command Reflex cannot read is answered in the acknowledgement itself.
  if (answeredInAck) return (await res.json()) as { text: string };
  // The worker answers through this command's response URL: wait for that answer.
  const end = Date.now() + 20_000;
  for (;;) {
    const got = local.outbox.list({ limit: 1000 }).find((e) => e.responseUrl === responseUrl);
    if (got) return got;
    if (Date.now() > end) throw new Error(`no answer to ${text}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const overrides = async () => (await api(local, "GET", "/api/offhours/overrides")).body.overrides;
const runs = async () => (await api(local, "GET", "/api/executions?limit=500")).body.executions.length;

describe("/reflex offhours in local mode", () => {
  it("keeps a target for 4h as the person the Slack id maps to, then releases it", async () => {
    const kept = await command("UALICE1", `offhours keep ${web} for 4h because release night`);
    expect(kept.text).toMatch(
      new RegExp(`^:alarm_clock: Keeping \`${web}\` running for 4h: release night\\.`),
    );
    await local.idle();
    const [o] = await overrides();
    expect(o).toMatchObject({ target: web, reason: "release night" });
    expect(o.setBy).toBe("alice");
    expect(Date.parse(o.until) - Date.parse(o.setAt)).toBe(4 * 3_600_000);
    const audit = (await api(local, "GET", `/api/audit?execution=${o.execution}`)).body.entries;
    expect(audit.length).toBeGreaterThan(0);

    const released = await command("UALICE1", `offhours release ${web} because done early`);
    expect(released.text).toMatch(/^:alarm_clock: Cancelling the override on/);
    await local.idle();
    expect(await overrides()).toEqual([]);
  });

  it("refuses a Slack user without the role politely, audited, nothing written", async () => {
    const before = await runs();
    const answer = await command("UMALLORY", `keep ${web} until 22:00 because mine`);
    expect(answer.text).toMatch(/^:no_entry: Sorry <@UMALLORY>, you may not do that/);
    const audit = (await api(local, "GET", "/api/audit?actor=slack:UMALLORY")).body.entries;
    expect(audit.map((e: { kind: string }) => e.kind)).toEqual(
      expect.arrayContaining(["chatops.command", "start.refused"]),
    );
    expect(await runs()).toBe(before);
    expect(await overrides()).toEqual([]);
  });

  it("names what is wrong — an untagged target, an end beyond maxOverride, no reason — and writes nothing", async () => {
    const before = await runs();
    const untagged = await command("UALICE1", `offhours keep ${plain} for 1h because test`);
    expect(untagged.text).toMatch(/carries no reflex:off-hours tag/);
    const long = await command("UALICE1", `offhours keep ${web} for 13h because test`);
    expect(long.text).toMatch(/more than maxOverride \(12h\)/);
    const noReason = await command("UALICE1", `offhours keep ${web} for 1h`, true);
    expect(noReason.text).toMatch(/a reason is required/);
    expect(noReason.text).toContain("/reflex offhours keep");
    expect(await runs()).toBe(before);
    expect(await overrides()).toEqual([]);
  });
});
