/**
 * A real `reflex start` in a child process, for crash tests: started on a data dir (optionally
 * armed to SIGKILL itself at a crash point, `REFLEX_CRASH_AT`), killed, and started again on the
 * same dir — by `restartHere`, in this process, or by `startChild` again. Call `stopChildren()`
 * in `afterEach`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LocalMode } from "../../packages/local/src/local-mode.ts";
import { until as untilIn } from "./wait.ts";

/** {@link untilIn} with a child server's deadline: 60 s (a process started, killed, restarted). */
export function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  return untilIn(what, probe, ms);
}

const ROOT = join(import.meta.dirname, "../..");
const BIN = join(ROOT, "packages/local/bin/reflex.mjs");

export interface Child {
  proc: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

/** Local mode started again on a dead child's data dir, in this process. */
export interface Restarted {
  url: string;
  local: LocalMode;
  /** The lines `reflex start` would have printed: one per event decision and run transition. */
  output: () => string;
  stop: () => Promise<void>;
}

const children: Child[] = [];
const here: Restarted[] = [];
const dirs: string[] = [];

export async function stopChildren(): Promise<void> {
  for (const c of children.splice(0)) {
    c.proc.kill("SIGKILL");
    await c.exited;
  }
  for (const r of here.splice(0)) await r.local.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "reflex-crash-"));
  dirs.push(dir);
  return dir;
}

export async function startChild(dir: string, config: string, crashAt?: string): Promise<Child> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", POWERTOOLS_LOG_LEVEL: "SILENT" };
  if (crashAt) env.REFLEX_CRASH_AT = crashAt;
  else delete env.REFLEX_CRASH_AT;
  const proc = spawn(
    process.execPath,
    [BIN, "start", "--port", "0", "--data", dir, "--config", join(ROOT, config)],
    { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
  );
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
  const child: Child = { proc, url: "", exited, output: () => text };
  children.push(child);
  child.url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reflex start did not get ready:\n${text}`)), 120_000);
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
  return child;
}

/**
 * Starts local mode on `dir` in this process, as `reflex start --port 0 --data <dir> --config
 * <config>` does (`loadConfig`, then `startLocal` with the same options): the restart after a
 * crash, where what is under test is what the dead child left in the dir. A child spends ~3 s of
 * CPU loading its modules before it listens (CPU profile of `reflex start`); this process has
 * them loaded after its first start. Local mode is one per process: stop it (or let
 * `stopChildren` do so) before the next.
 */
export async function restartHere(dir: string, config: string): Promise<Restarted> {
  // Loaded here, not at the top: a file that only starts children need not load local mode.
  const { loadConfig } = await import("@reflex/core");
  const { startLocal } = await import("../../packages/local/src/local-mode.ts");
  let text = "";
  const local = await startLocal({
    config: await loadConfig(join(ROOT, config)),
    port: 0,
    dataDir: dir,
    quiet: false,
    sso: false,
    activity: (line) => {
      text += `${line}\n`;
    },
  });
  const restarted: Restarted = {
    url: local.url,
    local,
    output: () => text,
    stop: async () => {
      here.splice(here.indexOf(restarted), 1);
      await local.stop();
    },
  };
  here.push(restarted);
  return restarted;
}

/** Kills a child now (SIGKILL) and waits until it is gone. */
export async function kill(child: Child): Promise<void> {
  child.proc.kill("SIGKILL");
  await child.exited;
  children.splice(children.indexOf(child), 1);
}

/** JSON answers of the API, shaped per test. */
type Json = any;

export async function call(url: string, method: string, path: string, body?: unknown, actor?: string) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(actor ? { "x-reflex-actor": actor } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

export async function waitUntilEnded(url: string, id: string): Promise<Json> {
  return until(`run ${id} to end`, async () => {
    const e = await call(url, "GET", `/api/executions/${id}`);
    return e.status === 200 && !["RUNNING", "STARTING", "WAITING_FOR_APPROVAL"].includes(e.body.status)
      ? e.body
      : undefined;
  });
}

/** The simulated account as the child last saved it (`<dir>/cloud.json`). */
export function savedCloud(dir: string): Json {
  return JSON.parse(readFileSync(join(dir, "cloud.json"), "utf8"));
}
