/**
 * The `reflex` command tree: help and suggestions for every command, `--json` for every
 * command that takes it, the human views of a run (show, logs, run --wait), paging and
 * filters, colour. Most run the CLI in-process (`main(argv, io)`); Ctrl-C and NO_COLOR run the
 * real bin in a child process.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { colourWanted } from "../packages/local/src/cli/colour.ts";
import type { Io } from "../packages/local/src/cli/io.ts";
import { main } from "../packages/local/src/cli/main.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { ANSI, commandTree, pathOf, reflex } from "./support/cli.ts";
import { api, startTestLocal } from "./support/local.ts";

const BIN = join(import.meta.dirname, "../packages/local/bin/reflex.mjs");
const tree = commandTree();

describe("help and usage errors", () => {
  it.each(tree.map((c) => [pathOf(c).join(" ") || "(reflex)", pathOf(c)] as const))(
    "`reflex %s --help` exits 0 and shows examples",
    async (_name, path) => {
      const ran = await reflex([...path, "--help"]);

      expect(ran.code).toBe(0);
      expect(ran.stdout).toContain("Usage: reflex");
      expect(ran.stdout).toContain("Example");
    },
  );

  it("`reflex help <command>` is help too: exit 0", async () => {
    const ran = await reflex(["help", "run"]);

    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain("Usage: reflex run");
  });

  it("answers `reflex help <unknown command>` with 'did you mean' and exit 2", async () => {
    const ran = await reflex(["help", "exections"]);

    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("unknown command 'exections'");
    expect(ran.stderr).toContain("Did you mean executions?");
  });

  it("answers an unknown flag with 'did you mean' and exit 2", async () => {
    const ran = await reflex(["executions", "--jsn"]);

    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("unknown option '--jsn'");
    expect(ran.stderr).toContain("Did you mean --json?");
  });

  it("answers an unknown command with 'did you mean' and exit 2", async () => {
    const ran = await reflex(["exections"]);

    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("Did you mean executions?");
  });

  it("exits 2 with the usage for no command, a missing argument, or a bad --since", async () => {
    expect((await reflex([])).code).toBe(2);
    expect((await reflex(["show"])).code).toBe(2);
    const since = await reflex(["executions", "--since", "yesterday"]);
    expect(since.code).toBe(2);
    expect(since.stderr).toContain("--since 'yesterday'");
  });
});

describe("colour", () => {
  it("is on for a terminal, off with NO_COLOR (which wins), forced in a pipe by FORCE_COLOR", () => {
    expect(colourWanted({ isTTY: true }, {})).toBe(true);
    expect(colourWanted({ isTTY: false }, {})).toBe(false);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: "1", FORCE_COLOR: "1" })).toBe(false);
    expect(colourWanted({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true);
    expect(colourWanted({ isTTY: true }, { FORCE_COLOR: "0" })).toBe(false);
  });
});

describe("against a running local mode", () => {
  let local: LocalMode;
  let url: string[];
  let data: string;
  beforeAll(async () => {
    data = mkdtempSync(join(tmpdir(), "reflex-cli-"));
    local = await startTestLocal({
      // medium risk in prod waits for approval: the people commands have runs to answer.
      environment: "prod",
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
    url = ["--url", local.url];
  });
  afterAll(async () => {
    await local?.stop();
    rmSync(data, { recursive: true, force: true });
  });

  it("run --wait prints a line per step as it goes, then the run; show latest prints its steps and targets", async () => {
    const ran = await reflex(["run", "backup-snapshot", "--param", "selector.tag.Role=db", "--wait", ...url]);
    const shown = await reflex(["show", "latest", ...url]);

    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(/✓ plan\s+SUCCEEDED \d+ ms/);
    expect(ran.stdout).toMatch(/✓ snapshotInstance\s+i-[0-9a-f]+\s+SUCCEEDED/);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^backup-snapshot-\S+ {2}backup-snapshot {2}✓ SUCCEEDED/);
    expect(shown.stdout).toMatch(/\nSteps \(\d+\)\n {2}✓ plan/);
    // One line for the polling step: folded (×N) when it polled more than once, which depends on
    // how soon the simulated snapshots complete (the folding itself: cli/format.test.ts).
    expect(shown.stdout.match(/✓ checkSnapshots( ×\d+)?\s/g)).toHaveLength(1);
    expect(shown.stdout).toMatch(
      /\nTargets\n {2}✓ i-[0-9a-f]+ \(db-1\) {2}succeeded\n {6}snap-[0-9a-f]+ {2}vol-/,
    );
    expect(shown.stdout).toMatch(/\nAudit \(\d+\)\n.*execution\.started/);
  });

  it("show prints a dry-run's planned targets with the reason for each clamp", async () => {
    await reflex([
      "run",
      "scale",
      "--param",
      "autoScalingGroup=web",
      "--param",
      "change=+20",
      "--dry-run",
      "--wait",
      ...url,
    ]);

    const shown = await reflex(["show", "latest", ...url]);

    expect(shown.stdout).toMatch(/\nTargets \(dry-run: nothing was changed\)\n {2}– web {2}not-started\n/);
    expect(shown.stdout).toContain("      capacity: 6 → 12 (planned)");
    expect(shown.stdout).toMatch(/\n {6}limits: .*clamped to maxStep/);
  });

  it("logs prints the run's steps and audit entries in time order", async () => {
    const ran = await reflex(["logs", "latest", ...url]);
    const times = ran.stdout
      .trim()
      .split("\n")
      .map((l) => l.slice(0, 24));

    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(/execution\.started/);
    expect(ran.stdout).toMatch(/… planCapacity started\n.*✓ planCapacity succeeded in \d+ ms/);
    expect([...times].sort()).toEqual(times);
  });

  it("runbooks lists each runbook, and with a name its params, defaults and an example that runs", async () => {
    const list = await reflex(["runbooks", ...url]);
    const one = await reflex(["runbooks", "backup-snapshot", ...url]);
    const example = one.stdout.match(/\n {2}(reflex run backup-snapshot .*--dry-run)\n/)?.[1];
    const ran = await reflex([...example!.replace(/^reflex /, "").split(" "), ...url]);

    expect(list.stdout).toMatch(/backup-snapshot\s+low\s+Snapshot/);
    expect(one.stdout).toMatch(/retainDays\s+integer 1\.\.3650\s+7\s+Snapshots older/);
    expect(one.stdout).toMatch(/selector\s+object\s+yes/);
    expect(ran.code).toBe(0);
  });

  it("executions pages: a page with more prints the command for the next one", async () => {
    const first = await reflex(["executions", "--limit", "1", ...url]);
    const next = first.stdout.match(/more: (reflex executions .*)\n/)?.[1];
    const second = await reflex([...next!.replace(/^reflex /, "").split(" ")]);

    expect(next).toContain(`--url ${local.url}`);
    expect(second.code).toBe(0);
    expect(second.stdout.split("\n")[1].split(" ")[0]).not.toBe(first.stdout.split("\n")[1].split(" ")[0]);
  });

  it("executions --status, --runbook and --since are filtered by the server", async () => {
    const before = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const dry = JSON.parse(
      (
        await reflex([
          "run",
          "backup-snapshot",
          "--param",
          "selector.tag.Role=web",
          "--dry-run",
          "--wait",
          "--json",
          ...url,
        ])
      ).stdout,
    );

    const succeeded = JSON.parse(
      (await reflex(["executions", "--status", "SUCCEEDED", "--json", ...url])).stdout,
    );
    const waiting = JSON.parse(
      (await reflex(["executions", "--status", "WAITING_FOR_APPROVAL,RUNNING", "--json", ...url])).stdout,
    );
    const since = JSON.parse((await reflex(["executions", "--since", before, "--json", ...url])).stdout);
    const recent = JSON.parse(
      (await reflex(["executions", "--since", "1h", "--runbook", "scale", "--json", ...url])).stdout,
    );

    expect(succeeded.executions.length).toBeGreaterThan(0);
    expect(new Set(succeeded.executions.map((e: { status: string }) => e.status))).toEqual(
      new Set(["SUCCEEDED"]),
    );
    for (const e of waiting.executions) expect(["WAITING_FOR_APPROVAL", "RUNNING"]).toContain(e.status);
    expect(since.executions.map((e: { id: string }) => e.id)).toEqual([dry.id]);
    expect(recent.executions.length).toBeGreaterThan(0);
    expect(new Set(recent.executions.map((e: { runbook: string }) => e.runbook))).toEqual(new Set(["scale"]));
  });

  it("show says which alarm started a run and why, with escape sequences in the reason made harmless", async () => {
    // Whoever names an alarm or writes its reason chooses these characters.
    const event = JSON.parse(readFileSync("examples/alarm-cpu-high.json", "utf8"));
    event.detail.state.reason = "Threshold Crossed\u001b]0;pwned\u0007\u001b[2J: 3 datapoints";
    const file = join(data, "alarm-with-escapes.json");
    writeFileSync(file, JSON.stringify(event));
    const put = JSON.parse((await reflex(["events", "put", file, "--json", ...url])).stdout);
    const id = put.results[0].executionId as string;
    await local.idle();

    const shown = await reflex(["show", id, ...url]);
    const json = JSON.parse((await reflex(["show", id, "--json", ...url])).stdout);

    expect(shown.stdout).toMatch(/trigger {3}rule:cpu-high/);
    expect(shown.stdout).toContain(
      "alarm     web-cpu-high → ALARM: Threshold Crossed\\x1b]0;pwned\\x07\\x1b[2J: 3",
    );
    expect(shown.stdout).not.toContain("\u001b");
    expect(json.trigger.alarm.reason).toBe(event.detail.state.reason); // --json passes it on as it is
  });

  it("show --follow and logs --follow print until the run ends, then the whole run", async () => {
    const started = await reflex([
      "run",
      "backup-snapshot",
      "--param",
      "selector.tag.Role=db",
      "--json",
      ...url,
    ]);
    const id = JSON.parse(started.stdout).executionId as string;

    const [shown, logged] = await Promise.all([
      reflex(["show", id, "--follow", ...url]),
      reflex(["logs", id, "--follow", ...url]),
    ]);

    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/\nSteps \(\d+\)\n/);
    expect(shown.stdout).toMatch(/\nTargets\n/);
    expect(logged.code).toBe(0);
    expect(logged.stdout).toMatch(/✓ report succeeded in \d+/);
    expect(logged.stdout.trim().split("\n").at(-1)).toBe(`${id} ended: ✓ SUCCEEDED`);
  });

  it("show --follow and logs --follow exit 1 for a run that failed, as run --wait does", async () => {
    // Every DescribeInstances refused: the plan fails, and so does the run.
    const armed = await api(local, "POST", "/api/cloud/faults", {
      operation: "ec2:DescribeInstances",
      error: "UnauthorizedOperation",
    });
    expect(armed.status).toBe(201);
    try {
      const started = await reflex([
        "run",
        "backup-snapshot",
        "--param",
        "selector.tag.Role=db",
        "--json",
        ...url,
      ]);
      const id = JSON.parse(started.stdout).executionId as string;
      const [shown, logged, waited] = await Promise.all([
        reflex(["show", id, "--follow", ...url]),
        reflex(["logs", id, "--follow", ...url]),
        reflex(["show", id, ...url]),
      ]);
      const final = JSON.parse((await reflex(["show", id, "--json", ...url])).stdout);
      expect(final.status).toBe("FAILED");
      expect(shown.code).toBe(1);
      expect(logged.code).toBe(1);
      expect(logged.stdout.trim().split("\n").at(-1)).toBe(`${id} ended: ✗ FAILED`);
      // Without --follow, show reports what it found: exit 0.
      expect(waited.code).toBe(0);
    } finally {
      await api(local, "DELETE", "/api/cloud/faults");
    }
  });

  it("audit --execution and --kind are filtered by the server", async () => {
    const id = JSON.parse((await reflex(["show", "latest", "--json", ...url])).stdout).id as string;

    const mine = JSON.parse((await reflex(["audit", "--execution", id, "--json", ...url])).stdout);
    const started = JSON.parse(
      (await reflex(["audit", "--kind", "execution.started", "--json", ...url])).stdout,
    );

    expect(mine.entries.length).toBeGreaterThan(0);
    expect(new Set(mine.entries.map((a: { executionId: string }) => a.executionId))).toEqual(new Set([id]));
    expect(new Set(started.entries.map((a: { kind: string }) => a.kind))).toEqual(
      new Set(["execution.started"]),
    );
  });

  it("audit --execution with an id that does not exist exits 2 and says so, as show does", async () => {
    const ran = await reflex(["audit", "--execution", "scale-20200101T000000Z-000000", ...url]);

    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("does not exist");
  });

  it("cloud calls --execution takes latest or a prefix, and an unknown id exits 2 rather than 'no calls'", async () => {
    await reflex([
      "run",
      "backup-snapshot",
      "--param",
      "selector.tag.Backup=daily",
      "--dry-run",
      "--wait",
      ...url,
    ]);

    const latest = await reflex(["cloud", "calls", "--execution", "latest", "--json", ...url]);
    const unknown = await reflex(["cloud", "calls", "--execution", "scale-20200101T000000Z-000000", ...url]);

    expect(JSON.parse(latest.stdout).length).toBeGreaterThan(0);
    expect(unknown.code).toBe(2);
  });

  it("executions --runbook with a name that is no runbook exits 2 and names the known ones", async () => {
    const ran = await reflex(["executions", "--runbook", "backup", ...url]);

    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("known: backup-snapshot");
  });

  it("outbox --limit that is not 1 to 500 exits 2 rather than printing everything", async () => {
    for (const limit of ["0", "abc", "-5"]) {
      const ran = await reflex(["outbox", "--limit", limit, ...url]);

      expect(ran.code).toBe(2);
      expect(ran.stderr).toContain("--limit");
    }
  });

  it("an empty --as exits 2 rather than acting as the server's default actor", async () => {
    const ran = await reflex(["whoami", "--as", "", ...url]);

    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("--as");
  });

  it("an error under --json is a JSON object on stdout, with the exit code", async () => {
    const unknown = await reflex(["show", "scale-20200101T000000Z-000000", "--json", ...url]);
    const down = await reflex(["executions", "--json", "--url", "http://127.0.0.1:1"]);
    const usage = await reflex(["executions", "--limit", "0", "--json", ...url]);

    expect(JSON.parse(unknown.stdout).error).toMatchObject({ exitCode: 2 });
    expect(JSON.parse(down.stdout).error).toMatchObject({ exitCode: 1 });
    expect(JSON.parse(usage.stdout).error.message).toContain("--limit");
  });

  it("run --wait --json on a run that waits for approval says so on stderr, with how to approve", async () => {
    const web1 = local.cloud
      .instances()
      .find((i) => i.Tags?.some((t) => t.Key === "Name" && t.Value === "web-1"));
    const err: string[] = [];
    const io: Io = { out: () => {}, err: (s) => err.push(s), colour: false, tty: false };
    const waiting = main(
      [
        "run",
        "scale",
        "--param",
        "mode=vertical",
        "--param",
        `instanceId=${web1?.InstanceId}`,
        "--param",
        "instanceType=t3.large",
        "--wait",
        "--json",
        ...url,
      ],
      io,
    );

    await waitFor(async () => err.join("\n").includes("waits for approval"));
    const id = err.join("\n").match(/reflex approve (\S+)/)?.[1];
    await reflex(["abort", id!, "--reason", "test over", "--now", ...url]);

    expect(await waiting).toBe(1);
  });

  it("every command that takes --json prints JSON only, with no colour even on a colour terminal", async () => {
    // Three runs waiting for approval, on three instances (a run locks its targets).
    const db = local.cloud
      .instances()
      .filter((i) => i.Tags?.some((t) => t.Key === "Name" && /^db-[123]$/.test(t.Value ?? "")));
    const waiting: string[] = [];
    for (const instance of db) {
      const started = await reflex([
        "run",
        "scale",
        "--param",
        "mode=vertical",
        "--param",
        `instanceId=${instance.InstanceId}`,
        "--param",
        "instanceType=t3.large",
        "--json",
        "--as",
        "cli:alice",
        ...url,
      ]);
      waiting.push(JSON.parse(started.stdout).executionId);
    }
    expect(waiting).toHaveLength(3);
    await waitFor(async () => {
      const { approvals } = JSON.parse((await reflex(["approvals", "--all", "--json", ...url])).stdout);
      return waiting.every((id) => approvals.some((a: { executionId: string }) => a.executionId === id));
    });
    // Two hours before this one sealed (nothing of this test's can land there), for audit verify.
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    await local.audit.sealer.run(new Date(), new Date(hour - 2 * 3_600_000));
    const args: Record<string, string[]> = {
      run: ["backup-snapshot", "--param", "selector.tag.Role=web", "--dry-run", "--wait"],
      runbooks: ["scale"],
      "runbooks check": ["examples/runbooks/restart-service/index.ts"],
      "new runbook": ["json-probe", "--dir", data],
      executions: ["--limit", "5"],
      show: ["latest"],
      logs: ["latest"],
      audit: ["--limit", "5"],
      "audit verify": [
        "--from",
        new Date(hour - 2 * 3_600_000).toISOString(),
        "--to",
        new Date(hour - 3_600_000).toISOString(),
      ],
      "audit keys": [],
      status: [],
      "config check": [],
      "events put": ["examples/alarm-cpu-high.json"],
      cloud: [],
      "cloud calls": ["--limit", "5"],
      "cloud seed": ["--instances", "2", "--data", data],
      "chaos add": ["--op", "ec2:DescribeRegions", "--error", "InternalError", "--count", "1"],
      "chaos list": [],
      "chaos clear": [],
      pairs: [],
      windows: [],
      pause: ["--reason", "a test"],
      resume: [],
      guardrails: [],
      approvals: ["--all"],
      approve: [waiting[0], "--as", "cli:bob"],
      reject: [waiting[1], "--reason", "a test", "--as", "cli:bob"],
      abort: [waiting[2], "--reason", "a test", "--as", "cli:bob"],
      rerun: [waiting[1], "--dry-run", "--as", "cli:bob"],
      whoami: ["--as", "cli:bob"],
      outbox: [],
      "prices import": ["examples/runbooks/off-hours/prices.csv", "--as-of", "2026-12-01"],
      "prices refresh": ["--types", "t3.micro"],
      "accounts list": [],
      "accounts check": [],
    };
    const withJson = tree
      .filter((c) => c.options.some((o) => o.long === "--json"))
      .map((c) => pathOf(c).join(" "));

    // A new command needs its line above; off-hours' commands need a server with that runbook
    // (test/cli-offhours.test.ts), and the drill commands one with restore and its drills
    // (test/restore-admission.e2e.test.ts).
    const own = withJson.filter(
      (name) => !name.startsWith("offhours ") && !["drills", "drill run"].includes(name),
    );
    expect(own.filter((name) => !(name in args))).toEqual([]);
    for (const name of own) {
      const takesUrl = tree
        .find((c) => pathOf(c).join(" ") === name)!
        .options.some((o) => o.long === "--url");
      const ran = await reflex([...name.split(" "), ...args[name], "--json", ...(takesUrl ? url : [])], {
        colour: true,
      });
      const parsed = () =>
        name === "logs"
          ? ran.stdout
              .trim()
              .split("\n")
              .map((l) => JSON.parse(l)) // one object per line
          : JSON.parse(ran.stdout);
      expect({ name, code: ran.code, stderr: ran.stderr }).toEqual({
        name,
        code: 0,
        stderr: expect.any(String),
      });
      expect(parsed, name).not.toThrow();
      expect(ran.stdout.includes(ANSI), name).toBe(false);
    }
  });

  it("status shows pause, breaker, runs, approvals, locks", async () => {
    const ran = await reflex(["status", ...url], { colour: true });

    expect(ran.stdout).toMatch(/automation: on/);
    expect(ran.stdout).toMatch(/breaker: .*0 of 3 failures/);
    expect(ran.stdout).toMatch(/\nrunning: \d+\n/);
    expect(ran.stdout).toMatch(/\nwaiting for approval: \d+\n/);
    expect(ran.stdout).toMatch(/locks held: \d+/);
    expect(ran.stdout).toContain(ANSI); // the colour terminal gets colour…
  });

  it("prints no colour under NO_COLOR, and keeps the words and marks", async () => {
    const env = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "1" };
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, "executions", ...url], { env });

    expect(stdout).toMatch(/✓ SUCCEEDED/);
    expect(stdout.includes(ANSI)).toBe(false);
  });
});

describe("the server going away during --follow", () => {
  it("exits 1 and says the run may go on and how to follow it again", async () => {
    const local = await startTestLocal({ environment: "prod" });
    const url = ["--url", local.url];
    const db1 = local.cloud
      .instances()
      .find((i) => i.Tags?.some((t) => t.Key === "Name" && t.Value === "db-1"));
    const started = await reflex([
      "run",
      "scale",
      "--param",
      "mode=vertical",
      "--param",
      `instanceId=${db1?.InstanceId}`,
      "--param",
      "instanceType=t3.large",
      "--json",
      ...url,
    ]);
    const id = JSON.parse(started.stdout).executionId as string;
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (s) => out.push(s), err: (s) => err.push(s), colour: false, tty: false };
    const following = main(["logs", id, "--follow", ...url], io);
    // Following: it has printed the run's log once (state, not a fixed 500 ms before the stop).
    await waitFor(async () => out.length > 0);

    await local.stop();
    const code = await following;

    expect(code).toBe(1);
    expect(err.join("\n")).toContain(`reflex show ${id} --follow`);
  });
});

describe("reflex cloud seed", () => {
  it("refuses a data dir a running reflex start owns, exit 1, and leaves its cloud alone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reflex-seed-"));
    writeFileSync(
      join(dir, "server.json"),
      JSON.stringify({ url: "http://127.0.0.1:8787", pid: process.pid, startedAt: new Date().toISOString() }),
    );
    try {
      const ran = await reflex(["cloud", "seed", "--instances", "2", "--data", dir]);

      expect(ran.code).toBe(1);
      expect(ran.stderr).toContain("in use by reflex start");
      expect(existsSync(join(dir, "cloud.json"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("reflex start on a port in use", () => {
  it("exits 1 with a message naming the port, rather than hanging with the store still open", async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    const port = (busy.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), "reflex-busy-"));
    try {
      const child = spawn(
        process.execPath,
        [BIN, "start", "--port", String(port), "--data", dir, "--quiet"],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stderr = "";
      child.stderr.on("data", (b) => {
        stderr += b;
      });
      const code = await new Promise<number | null>((resolve) => {
        const t = setTimeout(() => {
          child.kill("SIGKILL");
          resolve(null);
        }, 30_000);
        child.once("exit", (c) => {
          clearTimeout(t);
          resolve(c);
        });
      });

      expect(code).toBe(1);
      expect(stderr).toContain(String(port));
    } finally {
      busy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});

describe("Ctrl-C during run --wait", () => {
  let local: LocalMode;
  /** How far the cloud's clock is ahead of the machine's: the test moves it. */
  let ahead = 0;
  const SNAPSHOT_MS = 10 * 60_000;
  beforeAll(async () => {
    // Snapshots pending until the test moves the cloud's clock past them: the run is still going
    // when Ctrl-C comes, however long the CLI takes to see it (a real 2.5 s snapshot raced that).
    local = await startTestLocal(
      {},
      {
        cloud: SimulatedCloud.seeded({ snapshotDurationMs: SNAPSHOT_MS, clock: () => Date.now() + ahead }),
      },
    );
  });
  afterAll(async () => local?.stop());

  it("detaches with exit 130, says how to follow the run, and the run goes on", async () => {
    const child = spawn(
      process.execPath,
      [BIN, "run", "backup-snapshot", "--param", "selector.tag.Role=db", "--wait", "--url", local.url],
      { env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => {
      stdout += b;
    });
    child.stderr.on("data", (b) => {
      stderr += b;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    await waitFor(async () => /snapshotInstance/.test(stdout), 30_000);

    child.kill("SIGINT");
    const code = await exited;
    const id = stderr.match(/started (backup-snapshot-\S+);/)?.[1];
    const during = JSON.parse((await reflex(["show", id!, "--json", "--url", local.url])).stdout);
    ahead = SNAPSHOT_MS; // the snapshots complete
    await local.idle();
    const after = JSON.parse((await reflex(["show", id!, "--json", "--url", local.url])).stdout);

    expect(code).toBe(130);
    expect(stderr).toContain(`reflex show ${id} --follow`);
    expect(stderr).toContain(`reflex logs ${id} --follow`);
    expect(during.status).toBe("RUNNING");
    expect(after.status).toBe("SUCCEEDED");
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}
