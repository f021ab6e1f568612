/**
 * What `reflex start` gives a person beyond the server: the port file the CLI finds it by, a
 * ready banner whose commands reach it, and one line per event decision and run transition.
 */
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateConfig } from "@reflex/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ApiClient, ApiError } from "../packages/local/src/cli/client.ts";
import { readyBanner, tryPrefix } from "../packages/local/src/cli/start-banner.ts";
import { openTransport, openTransportOnceStarted } from "../packages/local/src/cli/transport.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import {
  type LocalMode,
  type LocalOptions,
  type StartPhase,
  startLocal,
} from "../packages/local/src/local-mode.ts";
import { api, runAndWait } from "./support/local.ts";

const CONFIG = validateConfig({
  rules: [
    {
      name: "scale-web-on-cpu",
      on: {
        source: ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        detail: { alarmName: [{ prefix: "web-cpu-" }], state: { value: ["ALARM"] } },
      },
      run: "scale",
      with: { autoScalingGroup: "web", change: "+1" },
      cooldown: "10m",
    },
  ],
});

function alarm(timestamp: string, id: string) {
  return {
    version: "0",
    id,
    "detail-type": "CloudWatch Alarm State Change",
    source: "aws.cloudwatch",
    account: "123456789012",
    time: timestamp.replace(/\.000\+0000$/, "Z"),
    region: "us-east-1",
    resources: ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-cpu-high"],
    detail: {
      alarmName: "web-cpu-high",
      state: { value: "ALARM", reason: "Threshold Crossed", timestamp },
      previousState: { value: "OK", reason: "Threshold Crossed", timestamp },
      configuration: { metrics: [] },
    },
  };
}

function start(opts: Partial<LocalOptions> = {}): Promise<LocalMode> {
  return startLocal({
    config: CONFIG,
    port: 0,
    dataDir: null,
    waitMs: 20,
    scheduler: false,
    cloud: SimulatedCloud.seeded({ snapshotDurationMs: 150 }),
    ...opts,
  });
}

const TIME = String.raw`\d\d:\d\d:\d\d`;
const ID = String.raw`\S+`;

describe("reflex start prints one line per event decision and run transition", () => {
  let local: LocalMode;
  const lines: string[] = [];
  beforeAll(async () => {
    local = await start({ activity: (line) => lines.push(line) });
  });
  afterAll(async () => local?.stop());

  it("says what the gate did with an alarm: started, then duplicate, then held by the cooldown", async () => {
    const first = alarm("2026-11-30T14:02:00.000+0000", "e-1");

    await api(local, "POST", "/events", first);
    await api(local, "POST", "/events", first);
    await api(local, "POST", "/events", alarm("2026-11-30T14:05:00.000+0000", "e-2"));

    // The run may end between the events: its line is the next test's.
    expect(lines.filter((l) => / event {2}/.test(l))).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${TIME} event  aws.cloudwatch alarm web-cpu-high ALARM → started scale ${ID} \\(rule scale-web-on-cpu\\)$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(`^${TIME} event  aws.cloudwatch alarm web-cpu-high ALARM → duplicate`),
      ),
      expect.stringMatching(
        new RegExp(
          `^${TIME} event  aws.cloudwatch alarm web-cpu-high ALARM → suppressed: cooldown — .+ \\(rule scale-web-on-cpu\\)$`,
        ),
      ),
    ]);
  });

  it("says when the alarm's run ends, with how long it took", async () => {
    const id = /started scale (\S+)/.exec(lines[0])?.[1];

    await local.idle();

    await expect
      .poll(() => lines.find((l) => l.includes(` run    scale ${id} `)))
      .toMatch(new RegExp(`^${TIME} run    scale ${id} RUNNING → SUCCEEDED \\(\\d+\\.\\d s\\)$`));
  });

  it("says when a person's backup starts and ends", async () => {
    const run = await runAndWait(local, "backup-snapshot", { selector: { tag: { Backup: "daily" } } });

    await expect
      .poll(() => lines.filter((l) => l.includes(` ${run.id} `)))
      .toEqual([
        expect.stringMatching(
          new RegExp(`^${TIME} run    backup-snapshot ${run.id} → RUNNING \\(manual by \\S+\\)$`),
        ),
        expect.stringMatching(
          new RegExp(`^${TIME} run    backup-snapshot ${run.id} RUNNING → SUCCEEDED \\(\\d+\\.\\d s\\)$`),
        ),
      ]);
  });
});

describe("reflex start --quiet", () => {
  it("prints nothing for decisions and transitions", async () => {
    const lines: string[] = [];
    const local = await start({ quiet: true, activity: (line) => lines.push(line) });
    try {
      await api(local, "POST", "/events", alarm("2026-11-30T15:00:00.000+0000", "q-1"));
      await runAndWait(local, "backup-snapshot", { selector: { tag: { Backup: "daily" } } });
    } finally {
      await local.stop();
    }
    expect(lines).toEqual([]);
  });
});

describe("the port file", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "reflex-start-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is written once local mode is ready, found by the CLI, and removed on stop", async () => {
    const dataDir = join(dir, ".reflex");
    const local = await start({ dataDir, quiet: true });
    let found: Awaited<ReturnType<typeof openTransport>>;
    try {
      const file = JSON.parse(readFileSync(join(dataDir, "server.json"), "utf8"));
      expect(file).toMatchObject({ url: local.url, port: Number(new URL(local.url).port), pid: process.pid });
      found = await openTransport({ cwd: dir, env: {} });
      expect([found.baseUrl, found.source, found.remote]).toEqual([local.url, "port-file", false]);
      expect((await found.fetch("/api/runbooks")).status).toBe(200);
    } finally {
      await local.stop();
    }
    expect(existsSync(join(dataDir, "server.json"))).toBe(false);
  });
});

describe("a start without a data dir", () => {
  // Its store and signing key live in temporary dirs: each stop (or failed start) removes them, or
  // every test that starts local mode leaves a reflex-s3-* and a reflex-keys-* dir in /tmp.
  let tmp: string;
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.TMPDIR;
    tmp = mkdtempSync(join(tmpdir(), "reflex-tmp-"));
    process.env.TMPDIR = tmp;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    rmSync(tmp, { recursive: true, force: true });
  });
  /** What is in TMPDIR, less the ASL validator's cache, which is meant to outlive a process. */
  const left = () =>
    readdirSync(tmp)
      .filter((name) => !name.startsWith("reflex-asl-"))
      .sort();

  it("leaves no temporary dir behind once stopped: not the store's buckets, not the sealer's key", async () => {
    const local = await start({ quiet: true });
    try {
      expect(left()).toEqual([expect.stringMatching(/^reflex-keys-/), expect.stringMatching(/^reflex-s3-/)]);
    } finally {
      await local.stop();
    }
    expect(left()).toEqual([]);
  });

  it("closes what it opened when its store cannot be set up (a table name DynamoDB refuses): no temporary dir, the data dir free", async () => {
    const table = process.env.REFLEX_TABLE;
    process.env.REFLEX_TABLE = "x";
    const dataDir = join(tmp, "data");
    let failed: unknown;
    try {
      failed = await start({ quiet: true }).catch((e: Error) => e);
      await start({ quiet: true, dataDir }).catch(() => undefined);
    } finally {
      if (table === undefined) delete process.env.REFLEX_TABLE;
      else process.env.REFLEX_TABLE = table;
    }
    expect(failed).toMatchObject({ message: expect.stringMatching(/TableName/) });
    // Left claimed, a new `reflex start` in another process would be refused as in use.
    expect(readdirSync(dataDir)).not.toContain("reflex.pid");
    expect(left()).toEqual(["data"]);
  });

  it("leaves no temporary dir behind when the start fails after listening", async () => {
    const failed = await start({
      quiet: true,
      atPhase: (phase) => {
        if (phase === "recovering") throw new Error("recovery failed");
      },
    }).catch((e: Error) => e);
    expect(failed).toMatchObject({ message: "recovery failed" });
    expect(left()).toEqual([]);
  });
});

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A start held at each phase between listening and ready until the test lets it go on. */
function heldStart(opts: Partial<LocalOptions>) {
  const reached = { listening: deferred<string>(), recovering: deferred<string>() };
  const release = { listening: deferred(), recovering: deferred() };
  const local = start({
    ...opts,
    atPhase: (phase: StartPhase, url: string) => {
      reached[phase].resolve(url);
      return release[phase].promise;
    },
  });
  return { reached, release, local };
}

/** What a caller meets while the start is held: the answer, or that nothing listens. */
async function ask(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() };
}

describe("reflex start before it is ready", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "reflex-starting-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("answers 503 `starting` with Retry-After (never 500, nothing written) and writes the port file only once ready", async () => {
    const dataDir = join(dir, "held");
    const { reached, release, local } = heldStart({ dataDir, quiet: true });
    const starting = {
      status: 503,
      retryAfter: expect.stringMatching(/^\d+$/),
      body: { error: { code: "starting", message: expect.stringContaining("starting") } },
    };
    let started: LocalMode | undefined;
    try {
      for (const phase of ["listening", "recovering"] as const) {
        const url = await reached[phase].promise;
        expect(await ask(url, "GET", "/api/executions"), phase).toEqual(starting);
        const run = { params: { selector: { tag: { Backup: "daily" } } }, dryRun: true };
        expect(await ask(url, "POST", "/api/runbooks/backup-snapshot/executions", run), phase).toEqual(
          starting,
        );
        expect(existsSync(join(dataDir, "server.json")), phase).toBe(false);
        release[phase].resolve();
      }
      started = await local;
      expect(JSON.parse(readFileSync(join(dataDir, "server.json"), "utf8")).url).toBe(started.url);
      const after = await api(started, "GET", "/api/executions");
      expect([after.status, after.body.executions]).toEqual([200, []]);
    } finally {
      release.listening.resolve();
      release.recovering.resolve();
      await (started ?? (await local.catch(() => undefined)))?.stop();
    }
  });

  it("is waited out by the CLI, which retries a 503 `starting` until the server is ready", async () => {
    const { reached, release, local } = heldStart({ dataDir: null, quiet: true });
    let started: LocalMode | undefined;
    try {
      release.listening.resolve();
      const url = await reached.recovering.promise;
      const refused = deferred<boolean>();
      const transport = await openTransport({
        url,
        fetch: async (input, init) => {
          const res = await fetch(input, init);
          if (res.status === 503) refused.resolve(true);
          return res;
        },
      });
      const asked = new ApiClient(transport).call<{ executions: unknown[] }>("GET", "/api/executions");
      // Let the start go on only once the CLI has been told it is starting: its answer comes after.
      expect(await Promise.race([refused.promise, asked.then(() => false)])).toBe(true);
      release.recovering.resolve();
      expect((await asked).executions).toEqual([]);
      started = await local;
    } finally {
      release.listening.resolve();
      release.recovering.resolve();
      await (started ?? (await local.catch(() => undefined)))?.stop();
    }
  });

  it("closes what it opened when the start fails after listening: no server left answering `starting`, no port file, the data dir free", async () => {
    const dataDir = join(dir, "failed");
    const seen = deferred<string>();
    const failed = await start({
      dataDir,
      quiet: true,
      atPhase: (phase, url) => {
        seen.resolve(url);
        if (phase === "recovering") throw new Error("recovery failed");
      },
    }).catch((e: Error) => e);
    expect(failed).toMatchObject({ message: "recovery failed" });
    const url = await seen.promise;
    await expect(fetch(`${url}/api/executions`)).rejects.toThrow();
    expect(existsSync(join(dataDir, "server.json"))).toBe(false);
    expect(existsSync(join(dataDir, "reflex.pid"))).toBe(false);
    // The store is closed too: a new start on the same data dir opens it.
    const again = await start({ dataDir, quiet: true });
    await again.stop();
  });

  it("lets the CLI find a server still starting on another port: it waits for the port file, not the default port", async () => {
    const cwd = join(dir, "other-port");
    const { reached, release, local } = heldStart({ dataDir: join(cwd, ".reflex"), quiet: true });
    let started: LocalMode | undefined;
    try {
      release.listening.resolve();
      await reached.recovering.promise;
      const waitingFor = deferred<number>();
      // Found by the default port before the start is done, it would be told nothing listens there.
      const found = openTransportOnceStarted({ cwd, env: {} }, (starting) =>
        waitingFor.resolve(starting.pid),
      );
      expect(await Promise.race([waitingFor.promise, found.then((t) => t.source)])).toBe(process.pid);
      release.recovering.resolve();
      started = await local;
      const transport = await found;
      expect([transport.baseUrl, transport.source]).toEqual([started.url, "port-file"]);
    } finally {
      release.listening.resolve();
      release.recovering.resolve();
      await (started ?? (await local.catch(() => undefined)))?.stop();
    }
  });

  it("gives the CLI a clear error when the server is still starting after the CLI's wait", async () => {
    const { reached, release, local } = heldStart({ dataDir: null, quiet: true });
    let started: LocalMode | undefined;
    try {
      const url = await reached.listening.promise;
      const client = new ApiClient(url, undefined, { startingWaitMs: 0 });
      const error = await client.call("GET", "/api/executions").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({
        status: 503,
        code: "starting",
        message: expect.stringMatching(/^Reflex at http:\/\/127\.0\.0\.1:\d+ is still starting/),
      });
      release.listening.resolve();
      release.recovering.resolve();
      started = await local;
    } finally {
      release.listening.resolve();
      release.recovering.resolve();
      await (started ?? (await local.catch(() => undefined)))?.stop();
    }
  });
});

describe("a second reflex start on the same data dir", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "reflex-start-two-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is refused with the first one's pid and URL, its port file left alone, before touching the store", async () => {
    // The first server: another live process whose port file is in the data dir.
    const first = spawn("sleep", ["30"], { stdio: "ignore" });
    const dataDir = join(dir, "busy");
    mkdirSync(dataDir);
    const file = JSON.stringify({
      url: "http://127.0.0.1:9955",
      port: 9955,
      pid: first.pid,
      startedAt: new Date(Date.now() + 1000).toISOString(),
    });
    writeFileSync(join(dataDir, "server.json"), file);
    try {
      await expect(start({ dataDir, quiet: true })).rejects.toThrow(
        `data dir ${dataDir} is in use by another reflex start (pid ${first.pid}, http://127.0.0.1:9955)`,
      );
      expect(readFileSync(join(dataDir, "server.json"), "utf8")).toBe(file);
      expect(existsSync(join(dataDir, "dynamodb"))).toBe(false);
    } finally {
      first.kill();
    }
  });

  it("is refused while the first is still starting (its claim is there, its port file not yet)", async () => {
    // A first start between claiming the data dir and listening: a live process, its claim,
    // no port file. (Reaching the store's lock used to kill the second with a stack trace.)
    const first = spawn("sleep", ["30"], { stdio: "ignore" });
    const dataDir = join(dir, "starting");
    mkdirSync(dataDir);
    writeFileSync(
      join(dataDir, "reflex.pid"),
      JSON.stringify({ pid: first.pid, startedAt: new Date(Date.now() + 1000).toISOString() }),
    );
    try {
      await expect(start({ dataDir, quiet: true })).rejects.toThrow(
        `data dir ${dataDir} is in use by another reflex start (pid ${first.pid})`,
      );
      expect(existsSync(join(dataDir, "dynamodb"))).toBe(false);
    } finally {
      first.kill();
    }
  });

  it("takes over a claim left by a start that was killed", async () => {
    const dataDir = join(dir, "claimed");
    mkdirSync(dataDir);
    writeFileSync(
      join(dataDir, "reflex.pid"),
      JSON.stringify({ pid: 2 ** 22 + 12346, startedAt: new Date().toISOString() }),
    );
    const local = await start({ dataDir, quiet: true });
    try {
      expect(JSON.parse(readFileSync(join(dataDir, "reflex.pid"), "utf8")).pid).toBe(process.pid);
    } finally {
      await local.stop();
    }
    expect(existsSync(join(dataDir, "reflex.pid"))).toBe(false);
  });

  it("stops on Ctrl-C while a run waits for approval, and exits 0", async () => {
    const dataDir = join(dir, "ctrl-c");
    const bin = join(import.meta.dirname, "../packages/local/bin/reflex.mjs");
    const child = spawn(process.execPath, [bin, "start", "--port", "0", "--data", dataDir, "--quiet"], {
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (b) => {
      output += b;
    });
    child.stderr?.on("data", (b) => {
      output += b;
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    try {
      // Ready when it says so (state, not a count of tries: under load a start-up takes longer).
      const url = await new Promise<string | undefined>((resolve) => {
        const check = () => {
          const m = /ready in \d+ ms — (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
          if (m) resolve(m[1]);
        };
        child.stdout?.on("data", check);
        void exited.then(() => resolve(undefined));
        check();
      });
      expect(url, output).toBeDefined();
      const started = await fetch(`${url}/api/runbooks/failover/executions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ params: { pair: "app" } }),
      });
      const { executionId } = (await started.json()) as { executionId: string };
      let status = "";
      for (let i = 0; i < 100 && status !== "WAITING_FOR_APPROVAL"; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = ((await (await fetch(`${url}/api/executions/${executionId}`)).json()) as { status: string })
          .status;
      }
      expect(status).toBe("WAITING_FOR_APPROVAL");
      child.kill("SIGINT");
      const code = await Promise.race([
        exited,
        new Promise((r) => setTimeout(() => r("still running"), 15_000)),
      ]);
      expect(code, output).toBe(0);
      expect(output).toContain("stopped.");
    } finally {
      child.kill("SIGKILL");
    }
  }, 60_000);

  it("takes over a port file left by a start that was killed", async () => {
    const dataDir = join(dir, "stale");
    mkdirSync(dataDir);
    writeFileSync(
      join(dataDir, "server.json"),
      JSON.stringify({
        url: "http://127.0.0.1:9956",
        port: 9956,
        pid: 2 ** 22 + 12345,
        startedAt: new Date().toISOString(),
      }),
    );
    const local = await start({ dataDir, quiet: true });
    try {
      const now = JSON.parse(readFileSync(join(dataDir, "server.json"), "utf8"));
      expect([now.url, now.pid]).toEqual([local.url, process.pid]);
    } finally {
      await local.stop();
    }
  });
});

describe("the ready banner's Try commands", () => {
  const url = "http://127.0.0.1:8790";

  it("stay plain `npx reflex` when the CLI finds the server through the default data dir's port file", () => {
    expect(tryPrefix(url, { dataDir: ".reflex", cwd: "/w", env: {} })).toBe("");
    expect(tryPrefix(url, { dataDir: "/d", cwd: "/w", env: { REFLEX_DATA_DIR: "/d" } })).toBe("");
  });

  it("name REFLEX_URL when the data dir is not the one the CLI reads", () => {
    expect(tryPrefix(url, { dataDir: "/elsewhere", cwd: "/w", env: {} })).toBe(`REFLEX_URL=${url} `);
  });

  it("stay plain on the default port whatever the data dir", () => {
    expect(tryPrefix("http://127.0.0.1:8787", { dataDir: "/elsewhere", cwd: "/w", env: {} })).toBe("");
  });

  it("name REFLEX_URL when REFLEX_URL points at another server", () => {
    expect(tryPrefix(url, { dataDir: ".reflex", cwd: "/w", env: { REFLEX_URL: "http://127.0.0.1:9" } })).toBe(
      `REFLEX_URL=${url} `,
    );
  });

  it("describe the real account, not the unused simulated one, with REFLEX_CLOUD=aws (defect 5)", async () => {
    const saved = { cloud: process.env.REFLEX_CLOUD, ec2: process.env.REFLEX_ENDPOINT_EC2 };
    process.env.REFLEX_CLOUD = "aws";
    process.env.REFLEX_ENDPOINT_EC2 = "http://127.0.0.1:9";
    const local = await start({ quiet: true });
    try {
      const banner = await readyBanner(local, { readyMs: 5, dataDir: "/tmp/other", cwd: "/w", env: {} });
      const cloud = await fetch(`${local.url}/api/cloud`);
      const calls = await fetch(`${local.url}/api/cloud/calls`);

      expect(banner).not.toContain("simulated account:");
      expect(banner).toMatch(/cloud {7}the AWS account your credentials reach \(REFLEX_CLOUD=aws\)/);
      expect(banner).toContain("ec2 at http://127.0.0.1:9");
      expect(banner).toMatch(/faults {6}none: reflex chaos injects faults into the simulated account only/);
      expect(cloud.status).toBe(409);
      expect(((await cloud.json()) as { error: { code: string } }).error.code).toBe("not_simulated");
      expect(calls.status).toBe(409);
    } finally {
      await local.stop();
      for (const [k, v] of [
        ["REFLEX_CLOUD", saved.cloud],
        ["REFLEX_ENDPOINT_EC2", saved.ec2],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });

  it("print the commands for the port in use", async () => {
    const local = await start({ quiet: true });
    try {
      const banner = await readyBanner(local, { readyMs: 5, dataDir: "/tmp/other", cwd: "/w", env: {} });
      expect(banner).toContain(`Reflex local mode is ready in 5 ms — ${local.url}`);
      expect(banner).toContain(`  REFLEX_URL=${local.url} npx reflex executions`);
      expect(banner).toContain("runbooks    ");
    } finally {
      await local.stop();
    }
  });
});
