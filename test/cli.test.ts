/**
 * The `reflex` CLI as a user runs it: its output and its exit code. What only a process shows
 * (the bin itself, `start` refusing a config, `demo`) runs as a child process; the rest runs
 * `main()` in-process (test/support/cli.ts: the same code, output and exit code), sparing each
 * command a Node start-up and tsx's compile of the CLI (about a second each on a loaded machine).
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { reflex as inProcess } from "./support/cli.ts";
import { startTestLocal } from "./support/local.ts";

const run = promisify(execFile);
// Scratch files for these tests (gitignored, so a clean clone has no such folder).
mkdirSync(join(import.meta.dirname, "../.tmp"), { recursive: true });
const BIN = join(import.meta.dirname, "../packages/local/bin/reflex.mjs");

async function reflexProcess(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, NO_COLOR: "1" },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const reflex = (...args: string[]) => inProcess(args);

describe("reflex events test", () => {
  it("prints true or false and exits 0", async () => {
    expect(
      await reflexProcess(
        "events",
        "test",
        "--pattern",
        "test/fixtures/pattern.json",
        "--event",
        "examples/alarm-cpu-high.json",
      ),
    ).toMatchObject({ code: 0, stdout: "true\n" });
    const other = join(import.meta.dirname, "../.tmp/ok-event.json");
    writeFileSync(
      other,
      JSON.stringify({
        source: "aws.cloudwatch",
        detail: { state: { value: "OK" }, alarmName: "web-cpu-high" },
      }),
    );
    expect(
      await reflex("events", "test", "--pattern", "test/fixtures/pattern.json", "--event", other),
    ).toMatchObject({ code: 0, stdout: "false\n" });
  });

  it("exits 2 with the reason for bad JSON or an invalid pattern", async () => {
    const bad = join(import.meta.dirname, "../.tmp/bad-pattern.json");
    writeFileSync(bad, JSON.stringify({ detail: { state: "ALARM" } }));
    const invalid = await reflex(
      "events",
      "test",
      "--pattern",
      bad,
      "--event",
      "examples/alarm-cpu-high.json",
    );
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/detail\.state/);
    const notJson = await reflex(
      "events",
      "test",
      "--pattern",
      "README.md",
      "--event",
      "examples/alarm-cpu-high.json",
    );
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/pattern/);
  });
});

describe("reflex config check", () => {
  it("passes the shipped config", async () => {
    expect(await reflex("config", "check")).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("reflex.config.ts: ok"),
    });
  });

  it("proves each failover pair's time budget and says a pair added or changed needs a redeploy", async () => {
    const out = await reflex("config", "check", "--json");
    expect(out.code).toBe(0);
    const { notes } = JSON.parse(out.stdout);
    expect(notes).toEqual([
      expect.stringMatching(
        /^failover \(pair app\): approval deadline \+ worst-case steps \+ rollback = .* ≤ state machine timeout 16h$/,
      ),
      expect.stringContaining("needs a redeploy"),
    ]);
  });

  it("lists every problem with its path and exits 2", async () => {
    const out = await reflex("config", "check", "--config", "test/fixtures/bad.config.ts");
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("schedules[0].cron: cron needs 6 fields");
    expect(out.stderr).toContain("rules[0].on.source");
    expect(out.stderr).toContain("rules[0].run: unknown runbook 'no-such-runbook'");
  });

  it("refuses to start local mode with the same problems", async () => {
    const out = await reflexProcess("start", "--config", "test/fixtures/bad.config.ts", "--port", "0");
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("rules[0].run: unknown runbook 'no-such-runbook'");
  });
});

describe("against a running local mode", () => {
  let local: LocalMode;
  beforeAll(async () => {
    local = await startTestLocal({
      rules: [
        {
          name: "cpu-high",
          on: { source: ["aws.cloudwatch"] },
          run: "backup-snapshot",
          with: { selector: { tag: { Backup: "daily" } } },
          dryRun: true,
        },
      ],
    });
  });
  afterAll(async () => local?.stop());

  it("runs a runbook, waits, and prints the snapshots it made", async () => {
    const out = await reflex(
      "run",
      "backup-snapshot",
      "--param",
      "selector.tag.Role=db",
      "--wait",
      "--url",
      local.url,
    );
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/SUCCEEDED/);
    expect(out.stdout.match(/snap-[0-9a-f]+\s+vol-[0-9a-f]+\s+completed/g)).toHaveLength(6); // 3 db instances × 2 volumes
  });

  it("prints machine-readable JSON only with --json, and lists executions", async () => {
    const out = await reflex(
      "run",
      "backup-snapshot",
      "--param",
      "selector.tag.Role=web",
      "--dry-run",
      "--wait",
      "--json",
      "--url",
      local.url,
    );
    expect(out.code).toBe(0);
    const parsed = JSON.parse(out.stdout);
    expect(parsed).toMatchObject({ status: "SUCCEEDED", dryRun: true });
    const list = await reflex("executions", "--json", "--url", local.url);
    expect(JSON.parse(list.stdout).executions.map((e: { id: string }) => e.id)).toContain(parsed.id);
  });

  it("exits 2 for an unknown runbook or a bad param", async () => {
    expect((await reflex("run", "nope", "--url", local.url)).code).toBe(2);
    const bad = await reflex(
      "run",
      "backup-snapshot",
      "--param",
      "retainDays=0",
      "--param",
      "selector.tag.Role=web",
      "--url",
      local.url,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("params.retainDays");
  });

  it("puts an event on the bus and prints the gate's decision", async () => {
    const out = await reflex("events", "put", "examples/alarm-cpu-high.json", "--json", "--url", local.url);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout).results).toMatchObject([{ decision: "started", rule: "cpu-high" }]);
  });

  it("exits 1 when some entries were accepted and others rejected, 2 only when none was", async () => {
    const valid = JSON.parse(readFileSync("examples/alarm-cpu-high.json", "utf8"));
    valid.detail.state.timestamp = "2026-11-28T11:00:00.000+0000"; // a new transition
    const mixed = join(import.meta.dirname, "../.tmp/mixed-events.json");
    writeFileSync(mixed, JSON.stringify({ Entries: [valid, { garbage: true }] }));
    const allBad = join(import.meta.dirname, "../.tmp/bad-events.json");
    writeFileSync(allBad, JSON.stringify({ Entries: [{ garbage: true }, { nope: 1 }] }));

    const some = await reflex("events", "put", mixed, "--url", local.url);
    const none = await reflex("events", "put", allBad, "--url", local.url);

    expect(some.code).toBe(1);
    expect(some.stdout).toMatch(/started|suppressed/); // the valid entry was taken (a cooldown may hold it)
    expect(some.stdout).toMatch(/rejected/);
    expect(none.code).toBe(2);
  });
});

describe("reflex demo", () => {
  it("walks through each runbook and guardrail and exits 0", async () => {
    const out = await reflexProcess("demo");
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("mutating calls made: 0");
    expect(out.stdout).toMatch(/suppressed by cooldown/);
    expect(out.stdout).toMatch(/suppressed by breaker/);
    expect(out.stdout).toMatch(/after `reflex resume` by a person: started/);
  });
});

describe("--param typing", () => {
  it("types params of a runbook whose schema has two shapes (scale: horizontal | vertical)", async () => {
    const { parseParamPairs } = await import("../packages/local/src/cli/params.ts");
    const { Runbooks } = await import("@reflex/core");
    const schema = Runbooks.get("scale").jsonSchema;
    expect(parseParamPairs(["autoScalingGroup=web", "change=+2", "maxStep=4"], schema)).toEqual({
      autoScalingGroup: "web",
      change: "+2",
      maxStep: 4,
    });
    expect(parseParamPairs(["mode=vertical", "snapshotFirst=false"], schema)).toEqual({
      mode: "vertical",
      snapshotFirst: false,
    });
  });
});

describe("people commands: approvals, approve, abort, rerun, whoami", () => {
  let local: LocalMode;
  beforeAll(async () => {
    local = await startTestLocal({
      environment: "prod",
      access: {
        roles: { oncall: ["cli:alice"], sre: ["cli:carol"] },
        allow: [
          { role: "oncall", runbooks: ["*"], actions: ["run", "dry-run", "abort"] },
          { role: "sre", runbooks: ["*"], actions: ["run", "dry-run", "approve", "abort"] },
        ],
      },
    });
  });
  afterAll(async () => local?.stop());

  /** cli:alice runs scale +1 with the CLI (it waits for an sre's approval): its execution id. */
  async function aliceScales(): Promise<string> {
    const run = await reflex(
      ...["run", "scale", "--param", "autoScalingGroup=web", "--param", "change=+1"],
      ...["--json", "--as", "cli:alice", "--url", local.url],
    );
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout).executionId as string;
  }

  it("starts a run that waits, lists it for the approver, approves it, and says who you are", async () => {
    const url = ["--url", local.url];
    const id = await aliceScales();
    let listed: { approvals: Array<{ executionId: string }> } = { approvals: [] };
    for (let i = 0; i < 50 && !listed.approvals.some((a) => a.executionId === id); i++) {
      listed = JSON.parse((await reflex("approvals", "--json", "--as", "cli:carol", ...url)).stdout);
    }
    const refused = await reflex("approve", id, "--as", "cli:alice", ...url);
    const approved = await reflex("approve", id, "--comment", "ok", "--as", "cli:carol", ...url);
    const me = await reflex("whoami", "--json", "--as", "cli:carol", ...url);
    await local.idle();
    const again = await reflex("rerun", id, "--dry-run", "--json", "--as", "cli:alice", ...url);

    expect(listed.approvals.map((a) => a.executionId)).toContain(id);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not an approver|may not/);
    expect(approved).toMatchObject({ code: 0, stdout: expect.stringContaining("approved") });
    expect(JSON.parse(me.stdout)).toMatchObject({ actor: "cli:carol", roles: ["sre"] });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).executionId).not.toBe(id);
  });

  it("status shows what runs, waits, and holds; show latest prints the newest run's steps", async () => {
    const url = ["--url", local.url];
    const id = await aliceScales();
    let status = {
      running: [] as Array<{ id: string; status: string }>,
      approvals: [] as Array<{ executionId: string }>,
    };
    for (let i = 0; i < 50 && !status.approvals.some((a) => a.executionId === id); i++)
      status = JSON.parse((await reflex("status", "--json", ...url)).stdout);
    const human = await reflex("status", ...url);
    const latest = await reflex("show", "latest", ...url);
    await reflex("reject", id, "--reason", "just a test", "--as", "cli:alice", ...url);

    expect(status.running.map((e) => e.id)).toContain(id);
    expect(status.approvals.map((a) => a.executionId)).toContain(id);
    expect(human.stdout).toMatch(/waiting for approval: 1/);
    expect(human.stdout).toMatch(/locks held: 1\n\s+asg:web/);
    expect(latest.code).toBe(0);
    expect(latest.stdout).toContain(id);
  });

  it("needs a reason to abort or reject (exit 2), and says 409 for a run that has ended (exit 1)", async () => {
    const url = ["--url", local.url];
    const run = await reflex(
      "run",
      "backup-snapshot",
      "--param",
      "selector.tag.Role=db",
      "--dry-run",
      "--wait",
      "--json",
      "--as",
      "cli:alice",
      ...url,
    );
    const id = JSON.parse(run.stdout).id as string;
    expect((await reflex("abort", id, ...url)).code).toBe(2);
    expect((await reflex("reject", id, ...url)).code).toBe(2);
    const ended = await reflex("abort", id, "--reason", "too late", "--as", "cli:alice", ...url);
    expect(ended.code).toBe(1);
    expect(ended.stderr).toMatch(/SUCCEEDED/);
  });
});
