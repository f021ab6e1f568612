/**
 * An approval decided by a process that dies before it tells the run: a child `reflex start`
 * is killed with SIGKILL at `approval:after-decide` (the answer won its conditional write and
 * is audited; SendTaskSuccess not yet sent) and restarted on the same data dir. The run must
 * do what the recorded decision says — not wait for a second approval, not be lost.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "packages/local/bin/reflex.mjs");
const CONFIG = join(ROOT, "test/fixtures/approval.config.ts");

interface Child {
  proc: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
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
  const child = { proc, url, exited };
  children.push(child);
  return child;
}

async function call(url: string, as: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json", "x-reflex-actor": as },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function until(url: string, id: string, ok: (status: string) => boolean): Promise<any> {
  const end = Date.now() + 30_000;
  for (;;) {
    const e = await call(url, "cli:alice", "GET", `/api/executions/${id}`);
    if (e.status === 200 && ok(e.body.status)) return e.body;
    if (Date.now() > end) throw new Error(`run ${id} is still ${e.body.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("a crash between an approval's decision and telling the run", () => {
  it("is finished at restart from the recorded decision: the run goes on as approved", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reflex-approval-crash-"));
    dirs.push(dir);
    const doomed = await startChild(dir, "approval:after-decide");
    const started = await call(doomed.url, "cli:alice", "POST", "/api/runbooks/scale/executions", {
      params: { autoScalingGroup: "web", change: "+1" },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = started.body.executionId as string;
    await until(doomed.url, id, (s) => s === "WAITING_FOR_APPROVAL");
    await call(doomed.url, "cli:carol", "POST", `/api/executions/${id}/approve`, {}).catch(() => undefined);
    expect((await doomed.exited).signal).toBe("SIGKILL");

    const restarted = await startChild(dir);
    const run = await until(restarted.url, id, (s) => !["RUNNING", "WAITING_FOR_APPROVAL"].includes(s));
    const again = await call(restarted.url, "cli:carol", "POST", `/api/executions/${id}/approve`, {});

    expect(run.status).toBe("SUCCEEDED");
    expect(run.audit.map((a: { kind: string }) => a.kind)).toContain("approval.approved");
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain("already approved by cli:carol");
  });
});
