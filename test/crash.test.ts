/**
 * Crash safety with real processes: a child `reflex start` is killed with SIGKILL at every
 * write boundary of the start path (named crash points, `REFLEX_CRASH_AT`) and at timed
 * offsets after a request, then restarted on the same data dir. After the restart, no lock may
 * be held by a run that does not exist or has ended, every listed execution must be readable,
 * and the target must be free for the next run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "packages/local/bin/reflex.mjs");
const CONFIG = join(ROOT, "test/fixtures/crash.config.ts");
const ALARM = JSON.parse(readFileSync(join(ROOT, "examples/alarm-cpu-high.json"), "utf8"));

interface Child {
  proc: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

const children: Child[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    c.proc.kill("SIGKILL");
    await c.exited;
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function startChild(dataDir: string, crashAt?: string): Promise<Child> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", POWERTOOLS_LOG_LEVEL: "SILENT" };
  if (crashAt) env.REFLEX_CRASH_AT = crashAt;
  else delete env.REFLEX_CRASH_AT;
  const proc = spawn(process.execPath, [BIN, "start", "--port", "0", "--data", dataDir, "--config", CONFIG], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  proc.stdout?.on("data", (b) => {
    text += b;
  });
  proc.stderr?.on("data", (b) => {
    text += b;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reflex start did not get ready:\n${text}`)), 45_000);
    const check = () => {
      const m = text.match(/ready in \d+ ms — (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout?.on("data", check);
    void exited.then(() => reject(new Error(`reflex start exited before it was ready:\n${text}`)));
  });
  const child = { proc, url, exited, output: () => text };
  children.push(child);
  return child;
}

async function call(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

async function waitUntilEnded(url: string, id: string): Promise<any> {
  for (let i = 0; i < 300; i++) {
    const e = await call(url, "GET", `/api/executions/${id}`);
    if (e.status === 200 && !["RUNNING", "STARTING"].includes(e.body.status)) return e.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${id} did not end`);
}

/** What must hold after any crash and restart. */
async function assertConsistent(url: string): Promise<void> {
  const listed = (await call(url, "GET", "/api/executions?limit=500")).body.executions as Array<{
    id: string;
  }>;
  for (const e of listed) {
    const shown = await call(url, "GET", `/api/executions/${e.id}`);
    expect(shown.status, `listed execution ${e.id} must be readable`).toBe(200);
    expect(shown.body.status, `listed execution ${e.id} is half-written`).not.toBe("STARTING");
  }
  const locks = (await call(url, "GET", "/api/locks")).body.locks as Array<{ target: string; owner: string }>;
  for (const lock of locks) {
    const holder = await call(url, "GET", `/api/executions/${lock.owner}`);
    expect(holder.status, `lock ${lock.target} is held by ${lock.owner}, which does not exist`).toBe(200);
    expect(holder.body.status, `lock ${lock.target} is held by ended run ${lock.owner}`).toBe("RUNNING");
  }
  // The target is free: the next scale of the group starts and finishes.
  const next = await call(url, "POST", "/api/runbooks/scale/executions", {
    params: { autoScalingGroup: "web", change: "+1" },
  });
  expect(next.status, JSON.stringify(next.body)).toBe(202);
  expect((await waitUntilEnded(url, next.body.executionId)).status).toBe("SUCCEEDED");
}

const START_POINTS = [
  "start:after-record",
  "start:after-locks",
  "start:after-promote",
  "start:after-start-execution",
];

describe("a crash in the start path", () => {
  for (const point of START_POINTS) {
    it(`leaves no orphaned lock and no half-written run when killed at ${point}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "reflex-crash-"));
      dirs.push(dir);
      const doomed = await startChild(dir, point);
      await call(doomed.url, "POST", "/api/runbooks/scale/executions", {
        params: { autoScalingGroup: "web", change: "+1" },
      }).catch(() => undefined); // the connection dies with the process
      expect((await doomed.exited).signal).toBe("SIGKILL");

      const restarted = await startChild(dir);
      await assertConsistent(restarted.url);
      if (point === "start:after-start-execution") {
        // The run had begun: it is closed as lost and flagged for a person, not silently aborted.
        const listed = (await call(restarted.url, "GET", "/api/executions")).body.executions;
        const lost = listed.find((e: any) => e.error === "ExecutionLost");
        expect(lost).toMatchObject({
          status: "ABORTED",
          attention: { reason: expect.stringContaining("lost") },
        });
        const lifecycle = (await call(restarted.url, "GET", "/api/lifecycle")).body.events;
        expect(lifecycle.map((e: any) => e["detail-type"])).toContain("Reflex Execution Lost");
      }
    });
  }

  it("leaves a consistent store when killed at timed offsets during a start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reflex-crash-"));
    dirs.push(dir);
    for (const offset of [0, 15, 40]) {
      const doomed = await startChild(dir);
      const request = call(doomed.url, "POST", "/api/runbooks/scale/executions", {
        params: { autoScalingGroup: "web", change: "+1" },
      }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, offset));
      doomed.proc.kill("SIGKILL");
      await Promise.all([request, doomed.exited]);
      children.splice(children.indexOf(doomed), 1);
    }
    const restarted = await startChild(dir);
    await assertConsistent(restarted.url);
  });
});

describe("a crash while the gate handles an event", () => {
  it("answers the resend with 503 and Retry-After, never duplicate, while the dead claim's lease runs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reflex-crash-"));
    dirs.push(dir);
    const event = {
      ...ALARM,
      detail: { ...ALARM.detail, state: { ...ALARM.detail.state, timestamp: new Date().toISOString() } },
    };
    const doomed = await startChild(dir, "gate:after-claim");
    await call(doomed.url, "POST", "/events", event).catch(() => undefined);
    expect((await doomed.exited).signal).toBe("SIGKILL");

    const restarted = await startChild(dir);
    const resent = await call(restarted.url, "POST", "/events", event);

    expect(resent.status).toBe(503);
    expect(Number(resent.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(resent.body.results).toMatchObject([{ decision: "in-progress" }]);
    expect((await call(restarted.url, "GET", "/api/executions")).body.executions).toHaveLength(0);
  });
});
