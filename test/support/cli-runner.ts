/**
 * The CLI in a child process of its own that loads it once and then runs one command at a time,
 * as the bin runs it (`main(argv)` on the process's stdout and stderr; see cli-runner-child.mjs).
 * For tests that run many commands: a `node bin/reflex.mjs …` process spends about a second of
 * CPU loading the CLI before it does anything (CPU profile of `reflex executions`: module
 * compilation and tsx), which a runner pays once. A test that must run the shipped bin still
 * spawns it.
 */
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "../..");
const CHILD = join(import.meta.dirname, "cli-runner-child.mjs");

export interface Ran {
  code: number;
  output: string;
}

export class CliRunner {
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;
  private exited = false;
  private pending?: { resolve: (r: Ran) => void; reject: (e: Error) => void };
  private stderr = "";

  /** `env` is the whole environment the commands see (as a shell's child would). */
  constructor(env: NodeJS.ProcessEnv) {
    // No execArgv of this process (a test worker's): the runner starts as `node <file>` does.
    this.child = fork(CHILD, [], { cwd: ROOT, env, execArgv: [], stdio: ["ignore", "pipe", "pipe", "ipc"] });
    // Written before the CLI is loaded (or by Node itself): kept for the error if it dies.
    this.child.stderr?.on("data", (b) => {
      this.stderr += b;
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.once("message", () => resolve());
      this.child.once("exit", (code, signal) => {
        this.exited = true;
        const e = new Error(`the CLI runner exited (${code ?? signal}):\n${this.stderr}`);
        reject(e);
        this.pending?.reject(e);
      });
    });
  }

  /**
   * Runs `reflex <argv>` with `env` added to the runner's environment; one command at a time.
   * A command still running after `timeoutMs` kills the runner (the test then fails).
   */
  async run(argv: string[], env: Record<string, string> = {}, timeoutMs = 150_000): Promise<Ran> {
    await this.ready;
    if (this.pending) throw new Error("the CLI runner runs one command at a time");
    if (this.exited) throw new Error(`the CLI runner has exited:\n${this.stderr}`);
    const answer = new Promise<Ran>((resolve, reject) => {
      this.pending = { resolve, reject };
    });
    const onMessage = (m: Ran) => this.pending?.resolve(m);
    this.child.on("message", onMessage);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    this.child.send({ argv, env });
    try {
      return await answer;
    } finally {
      clearTimeout(timer);
      this.child.off("message", onMessage);
      this.pending = undefined;
    }
  }

  close(): void {
    if (!this.exited) this.child.kill("SIGKILL");
  }
}
