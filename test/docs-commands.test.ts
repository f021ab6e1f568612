/**
 * Every `npx reflex …` command in the README and docs/ runs as written against a real
 * `reflex start` (the shipped config, the seeded simulated account): each document gets a
 * fresh server and its commands run in order, each through a shell, as a reader would paste them.
 *
 * The shell makes the command's words (quotes, `$(mktemp -d)`); the CLI then runs them in a
 * runner that loads it once (test/support/cli-runner.ts), sparing each of the ~90 commands the
 * second of CPU a new process spends loading the CLI. A test below runs commands through `npx`
 * and the shipped bin as well and expects the same exit code and output from both. A command
 * the shell would do more with than run reflex once (a pipe, a redirect, a list) runs through
 * the bin as written.
 *
 * A command exits 0 unless its comment says otherwise (`# exits 2`). Lines that are not
 * `npx reflex …` (npm, curl with a computed signature) are not run; `npx reflex start` is
 * the server itself. Placeholders: `<execution-id>` is the latest run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CliRunner } from "./support/cli-runner.ts";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "packages/local/bin/reflex.mjs");

interface DocCommand {
  line: number;
  command: string;
  exit: number;
  /** The comment says the run it starts `waits for approval`: the next command comes once it does. */
  waitsForApproval?: true;
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith(".md") ? [path] : [];
  });
}

/** The `npx reflex` lines of a document's fenced code blocks, with the exit code each expects. */
export function docCommands(markdown: string): DocCommand[] {
  const out: DocCommand[] = [];
  let fenced = false;
  markdown.split("\n").forEach((raw, i) => {
    if (/^\s*```/.test(raw)) {
      fenced = !fenced;
      return;
    }
    if (!fenced) return;
    const text = raw.trim().replace(/^\$\s+/, "");
    if (!text.startsWith("npx reflex ")) return;
    // A trailing comment starts at a `#` after whitespace, outside quotes.
    let command = text;
    let comment = "";
    let quote: string | undefined;
    for (let j = 0; j < text.length; j++) {
      const ch = text[j];
      if (quote) {
        if (ch === quote) quote = undefined;
      } else if (ch === "'" || ch === '"') quote = ch;
      else if (ch === "#" && /\s/.test(text[j - 1] ?? "")) {
        command = text.slice(0, j).trim();
        comment = text.slice(j + 1);
        break;
      }
    }
    if (/^npx reflex start\b/.test(command)) return;
    const exit = Number(/\bexits (\d+)/.exec(comment)?.[1] ?? 0);
    out.push({
      line: i + 1,
      command: command.replaceAll("<execution-id>", "latest"),
      exit,
      ...(/\bwaits for approval\b/.test(comment) ? { waitsForApproval: true as const } : {}),
    });
  });
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const ENV = {
  ...process.env,
  AWS_ACCESS_KEY_ID: "local",
  AWS_SECRET_ACCESS_KEY: "local",
  AWS_REGION: "us-east-1",
  AWS_EC2_METADATA_DISABLED: "true",
  NO_COLOR: "1",
};

/** A document's own server config: `<!-- docs-test: start --config <file> -->` (its commands need that config). */
function configOf(markdown: string): string[] {
  const m = /<!-- docs-test: start --config (\S+) -->/.exec(markdown);
  return m ? ["--config", m[1]] : [];
}

async function startServer(
  extra: string[] = [],
): Promise<{ url: string; child: ChildProcess; dir: string; log: string[] }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "reflex-docs-"));
  const log: string[] = [];
  const args = [BIN, "start", "--port", String(port), "--data", join(dir, "data"), ...extra];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: ENV,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr?.on("data", (b) => log.push(String(b)));
  const url = `http://127.0.0.1:${port}`;
  // Ready when it says so, as a reader waits for it: it listens a little before (the store's
  // endpoints and the runs the last process left come after), and a request then may fail.
  const ready = await new Promise<boolean>((resolve) => {
    // A deadline only fails the test: under load a start-up takes longer.
    const timer = setTimeout(() => resolve(false), 120_000);
    child.stdout?.on("data", (b) => {
      log.push(String(b));
      if (/ready in \d+ ms/.test(log.join(""))) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (ready) return { url, child, dir, log };
  await stopServer({ child, dir });
  throw new Error(`reflex start did not come up:\n${log.join("")}`);
}

/** Kills a server and removes its data dir once it has exited (a live one may still write there). */
async function stopServer({ child, dir }: { child: ChildProcess; dir: string }): Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else {
      child.once("exit", () => resolve());
      // A child that never started emits no exit.
      child.once("error", () => resolve());
    }
  });
  child.kill("SIGKILL");
  await exited;
  rmSync(dir, { recursive: true, force: true });
}

/** Waits until the newest run waits for approval (state, not time; the deadline only fails the test). */
async function untilLatestWaits(url: string): Promise<string | undefined> {
  let status = "none";
  for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    const [latest] = ((await (await fetch(`${url}/api/executions?limit=1`)).json()) as any).executions;
    status = latest?.status ?? "none";
    if (status === "WAITING_FOR_APPROVAL") return undefined;
    if (status !== "RUNNING" && status !== "STARTING") break;
  }
  return `the run it started did not wait for approval (${status})`;
}

/**
 * `npx reflex` is the workspace's bin, `packages/local/bin/reflex.mjs` (a test below checks
 * that npx resolves there): run it with this Node directly, sparing each of the ~70 commands
 * npx's own start-up (a second or more under load).
 */
const REFLEX = `"${process.execPath}" "${BIN}"`;

function sh(
  command: string,
  url: string,
  opts: { npx?: boolean } = {},
): Promise<{ code: number; output: string }> {
  const direct = opts.npx ? command : command.replace(/^npx reflex\b/, REFLEX);
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", direct], { cwd: ROOT, env: { ...ENV, REFLEX_URL: url } });
    let output = "";
    child.stdout.on("data", (b) => {
      output += b;
    });
    child.stderr.on("data", (b) => {
      output += b;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 150_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output });
    });
  });
}

/**
 * Whether a shell would do more with the command than run one program: a pipe, a redirect, a
 * list or a background job (an unquoted `|;&<>` or a backquote outside `$(…)`).
 */
export function onlyOneProgram(command: string): boolean {
  let quote: string | undefined;
  let depth = 0;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i];
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === "\\" && quote === '"') i++;
    } else if (ch === "\\") i++;
    else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "$" && command[i + 1] === "(") {
      depth++;
      i++;
    } else if (ch === ")" && depth > 0) depth--;
    else if (depth === 0 && /[|;&<>`]/.test(ch)) return false;
  }
  return true;
}

/**
 * The words `sh` makes of an `npx reflex …` command, with `npx reflex` a shell function that
 * prints its arguments: the shell itself splits, unquotes and expands them, as it would before
 * running the bin. Undefined when the command is more than one program (see onlyOneProgram).
 */
export async function shellWords(
  command: string,
  env: NodeJS.ProcessEnv = ENV,
): Promise<string[] | undefined> {
  if (!onlyOneProgram(command)) return undefined;
  const script = `reflex() { printf '%s\\0' "$@"; }\n${command.replace(/^npx reflex\b/, "reflex")}`;
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", script], { cwd: ROOT, env });
    let out = "";
    let err = "";
    child.stdout.on("data", (b) => {
      out += b;
    });
    child.stderr.on("data", (b) => {
      err += b;
    });
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`sh could not read \`${command}\` (exit ${code}): ${err}`));
      else resolve(out.split("\0").slice(0, -1));
    });
  });
}

const docs = ["README.md", ...markdownFiles(join(ROOT, "docs")).map((p) => relative(ROOT, p))]
  .map((file) => {
    const text = readFileSync(join(ROOT, file), "utf8");
    return { file, commands: docCommands(text), config: configOf(text) };
  })
  .filter((d) => d.commands.length > 0);

describe("docCommands", () => {
  it("takes commands from fenced blocks only, drops comments outside quotes, reads `exits N`", () => {
    const md = [
      "npx reflex executions",
      "```sh",
      "$ npx reflex run x --param 'a=#1' --wait   # the # inside quotes stays",
      "npx reflex start &",
      "npx reflex show <execution-id>  # exits 3",
      "npx reflex run y   # waits for approval",
      "npm test",
      "```",
    ].join("\n");
    expect(docCommands(md)).toEqual([
      { line: 3, command: "npx reflex run x --param 'a=#1' --wait", exit: 0 },
      { line: 5, command: "npx reflex show latest", exit: 3 },
      { line: 6, command: "npx reflex run y", exit: 0, waitsForApproval: true },
    ]);
  });

  it("runs `npx reflex` as the workspace bin the commands below are given to directly", () => {
    // npx runs a package's bin from the nearest node_modules/.bin before anything else.
    expect(realpathSync(join(ROOT, "node_modules/.bin/reflex"))).toBe(BIN);
  });

  it("finds commands in the README and the docs", () => {
    expect(docs.map((d) => d.file)).toContain("README.md");
    expect(docs.reduce((n, d) => n + d.commands.length, 0)).toBeGreaterThan(20);
  });
});

/** Runs `task` once fewer than `limit` others are running. */
function limiter(limit: number) {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    while (running >= limit) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

// Each document has its own server, so the documents run side by side, three at a time (their
// commands mostly wait on runs; more servers at once would crowd a 2-core machine), each with a
// CLI runner of its own while it runs.
const inTurn = limiter(3);
const idle: CliRunner[] = [];
const runners: CliRunner[] = [];
function runner(): CliRunner {
  const r = idle.pop() ?? new CliRunner(ENV);
  if (!runners.includes(r)) runners.push(r);
  return r;
}

/** A document's command as a reader's shell would run it: the shell's words, run by the CLI. */
async function runAsWritten(
  runner: CliRunner,
  command: string,
  url: string,
): Promise<{ code: number; output: string }> {
  const env = { ...ENV, REFLEX_URL: url };
  const argv = await shellWords(command, env);
  return argv ? runner.run(argv, { REFLEX_URL: url }) : sh(command, url);
}

describe("onlyOneProgram and shellWords", () => {
  it("leave a pipe, a redirect or a list to the shell, and take quotes and $(…) as the shell does", async () => {
    expect(onlyOneProgram(`npx reflex run x --param 'a=|;' --dir "$(mktemp -d)"`)).toBe(true);
    expect(onlyOneProgram("npx reflex executions | head -3")).toBe(false);
    expect(onlyOneProgram("npx reflex executions > out.txt")).toBe(false);
    expect(onlyOneProgram("npx reflex status && npx reflex cloud")).toBe(false);
    expect(await shellWords("npx reflex executions | head")).toBeUndefined();
    const words = await shellWords(
      `npx reflex run x --param 'selector={"tag":{"A":"b c"}}' --dir "$(echo /tmp/a b)"`,
    );
    expect(words).toEqual(["run", "x", "--param", 'selector={"tag":{"A":"b c"}}', "--dir", "/tmp/a b"]);
  });
});

describe("the commands in each document", () => {
  const servers: Array<{ child: ChildProcess; dir: string }> = [];
  afterAll(async () => {
    for (const r of runners) r.close();
    await Promise.all(servers.map(stopServer));
  });

  it("npx reflex, through a shell, answers as the runner does (exit code and output)", async () => {
    const r = runner();
    try {
      // Commands that need no server: a runbook of one's own loaded (TypeScript) and checked; a typo.
      for (const command of [
        "npx reflex runbooks check examples/runbooks/restart-service/index.ts",
        "npx reflex exections",
      ]) {
        const shipped = await sh(command, "http://127.0.0.1:9", { npx: true });
        const ran = await runAsWritten(r, command, "http://127.0.0.1:9");
        expect(ran, command).toEqual(shipped);
      }
    } finally {
      idle.push(r);
    }
  }, 150_000);

  for (const { file, commands, config } of docs)
    it.concurrent(
      `in ${file} run as written against reflex start`,
      () =>
        inTurn(async () => {
          const server = await startServer(config);
          servers.push(server);
          const r = runner();
          const failures: string[] = [];
          try {
            for (const c of commands) {
              const { code, output } = await runAsWritten(r, c.command, server.url);
              if (code !== c.exit)
                failures.push(
                  `${file}:${c.line}: ${c.command}\n  exit ${code}, expected ${c.exit}\n  ${output.trim().split("\n").slice(-8).join("\n  ")}`,
                );
              const notWaiting = c.waitsForApproval && code === 0 && (await untilLatestWaits(server.url));
              if (notWaiting) failures.push(`${file}:${c.line}: ${c.command}\n  ${notWaiting}`);
            }
          } finally {
            idle.push(r);
            // Done with: an idle server still runs its scheduler and sealer beside the next ones.
            servers.splice(servers.indexOf(server), 1);
            await stopServer(server);
          }
          expect(failures).toEqual([]);
        }),
      15 * 60_000,
    );
});
