/**
 * Every `npx reflex …` command in the README and docs/ runs as written against a real
 * `reflex start` (the shipped config, the seeded simulated account): each document gets a
 * fresh server and its commands run in order, through a shell, as a reader would paste them.
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

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "packages/local/bin/reflex.mjs");

interface DocCommand {
  line: number;
  command: string;
  exit: number;
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
    out.push({ line: i + 1, command: command.replaceAll("<execution-id>", "latest"), exit });
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
  child.stdout?.on("data", (b) => log.push(String(b)));
  child.stderr?.on("data", (b) => log.push(String(b)));
  const url = `http://127.0.0.1:${port}`;
  // A deadline, not a count of tries: under load a start-up takes longer, and each try longer still.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/api/runbooks`)).ok) return { url, child, dir, log };
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill("SIGKILL");
  throw new Error(`reflex start did not come up:\n${log.join("")}`);
}

/**
 * `npx reflex` is the workspace's bin, `packages/local/bin/reflex.mjs` (a test below checks
 * that npx resolves there): run it with this Node directly, sparing each of the ~70 commands
 * npx's own start-up (a second or more under load).
 */
const REFLEX = `"${process.execPath}" "${BIN}"`;

function sh(command: string, url: string): Promise<{ code: number; output: string }> {
  const direct = command.replace(/^npx reflex\b/, REFLEX);
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
      "npm test",
      "```",
    ].join("\n");
    expect(docCommands(md)).toEqual([
      { line: 3, command: "npx reflex run x --param 'a=#1' --wait", exit: 0 },
      { line: 5, command: "npx reflex show latest", exit: 3 },
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
// commands mostly wait on runs; more servers at once would crowd a 2-core machine).
const inTurn = limiter(3);

describe("the commands in each document", () => {
  const servers: Array<{ child: ChildProcess; dir: string }> = [];
  afterAll(() => {
    for (const s of servers) {
      s.child.kill("SIGKILL");
      rmSync(s.dir, { recursive: true, force: true });
    }
  });

  for (const { file, commands, config } of docs)
    it.concurrent(
      `in ${file} run as written against reflex start`,
      () =>
        inTurn(async () => {
          const server = await startServer(config);
          servers.push(server);
          const failures: string[] = [];
          for (const c of commands) {
            const { code, output } = await sh(c.command, server.url);
            if (code !== c.exit)
              failures.push(
                `${file}:${c.line}: ${c.command}\n  exit ${code}, expected ${c.exit}\n  ${output.trim().split("\n").slice(-8).join("\n  ")}`,
              );
          }
          expect(failures).toEqual([]);
        }),
      15 * 60_000,
    );
});
