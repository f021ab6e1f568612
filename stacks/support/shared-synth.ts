/**
 * The fixture app (`FIXTURE_CONFIG`, cdk-nag's AwsSolutions checks on), synthesized once per
 * test run and read by every stack test file that needs it.
 *
 * A synthesis bundles every function and takes 30-90 s; when each stack test file made its own,
 * the stack tests took ~200 s. Now the first file to ask has the app synthesized (in a child
 * process, `./shared-synth-child.ts`) into the run's directory (made by `./global-setup.ts`, so a
 * run with no stack test never synthesizes), and the others, in the other worker or later, wait
 * for it and read the cloud assembly it wrote.
 * Templates come from the assembly's JSON (`Template.fromJSON`, the same template
 * `Template.fromStack` would read), and cdk-nag's findings from its manifest (`assembly.stacks[i].messages`)
 * and `assembly.directory`'s `AwsSolutions-<stack>-NagReport.csv`.
 *
 * A test that needs another app (another config, another runbook registered, another stage)
 * synthesizes its own with `synthApp` from `./synth.ts`, and can take the shared synthesis's
 * bundles rather than build them again: `synthApp({ bundlesFrom: (await sharedSynth()).bundles })`.
 *
 * @example
 * import { beforeAll, it } from "vitest";
 * import { Storage } from "./storage.ts";
 * import { type SharedSynth, SHARED_SYNTH_TIMEOUT, sharedSynth } from "./support/shared-synth.ts";
 *
 * let app: SharedSynth;
 * beforeAll(async () => {
 *   app = await sharedSynth();
 * }, SHARED_SYNTH_TIMEOUT);
 *
 * it("keeps the state table", () => {
 *   app.template(Storage).resourceCountIs("AWS::DynamoDB::Table", 1);
 * });
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "aws-cdk-lib/assertions";
import { CloudAssembly } from "aws-cdk-lib/cx-api";
import { inject } from "vitest";
import { type BundleIndex, ROOT } from "./synth.ts";

const CHILD = join(ROOT, "stacks/support/shared-synth-child.ts");

declare module "vitest" {
  export interface ProvidedContext {
    /** The run's directory for the shared synthesis (see global-setup.ts). */
    reflexSharedSynthDir: string;
  }
}

/** A `beforeAll` timeout that covers waiting for the synthesis on a loaded 2-core machine. */
export const SHARED_SYNTH_TIMEOUT = 300_000;

/** A stack of the app, named as `sst.config.ts` adds it (`app.stack(Storage)`). */
export type StackFunction = (...args: never[]) => unknown;

export interface SharedSynth {
  /** The cloud assembly, as `app.synth()` returned it in the process that synthesized it. */
  assembly: CloudAssembly;
  /** The stack's CloudFormation template (parsed once per test file). */
  template(stack: StackFunction): Template;
  /**
   * Its bundles, for a test that synthesizes another app from the same sources:
   * `synthApp({ bundlesFrom: shared.bundles })` copies them rather than building them again.
   */
  bundles: BundleIndex;
}

let shared: Promise<SharedSynth> | undefined;

/** The fixture app's synthesis for this test run: made by the first caller, read by the others. */
export function sharedSynth(): Promise<SharedSynth> {
  shared ??= load();
  return shared;
}

async function load(): Promise<SharedSynth> {
  const dir = runDirectory();
  const outdir = await synthesizedOnce(dir);
  const assembly = new CloudAssembly(outdir);
  const bundles = JSON.parse(readFileSync(join(dir, "bundles.json"), "utf8")) as BundleIndex;
  const templates = new Map<StackFunction, Template>();
  return {
    assembly,
    bundles,
    template(stack) {
      let template = templates.get(stack);
      if (!template) {
        const found = assembly.stacks.filter((s) => s.stackName.endsWith(`-${stack.name}`));
        if (found.length !== 1) {
          const names = assembly.stacks.map((s) => s.stackName).join(", ");
          throw new Error(`no single stack named after ${stack.name} in the shared synthesis (${names})`);
        }
        template = Template.fromJSON(found[0].template);
        templates.set(stack, template);
      }
      return template;
    },
  };
}

/** The run's directory; outside a run with the global setup, a directory of this process's own. */
function runDirectory(): string {
  let dir: string | undefined;
  try {
    dir = inject("reflexSharedSynthDir");
  } catch {
    // not under vitest's runner
  }
  if (dir) return dir;
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  const own = mkdtempSync(join(ROOT, ".tmp", "shared-synth-own-"));
  process.once("exit", () => rmSync(own, { recursive: true, force: true }));
  return own;
}

/**
 * The cloud assembly directory in `dir`, synthesized by a child process of whichever test file
 * claims `dir/owner` first (an exclusive create: one winner across workers). The others wait for
 * `ready.json` or `failed.txt`, and stop waiting if the owner's process is gone without either.
 */
async function synthesizedOnce(dir: string): Promise<string> {
  const owner = join(dir, "owner");
  const ready = join(dir, "ready.json");
  const failed = join(dir, "failed.txt");
  let claimed = false;
  try {
    writeFileSync(owner, String(process.pid), { flag: "wx" });
    claimed = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  if (claimed) await synthesizeIn(dir);
  for (;;) {
    if (existsSync(ready)) return (JSON.parse(readFileSync(ready, "utf8")) as { outdir: string }).outdir;
    if (existsSync(failed)) throw new Error(`the shared synthesis failed:\n${readFileSync(failed, "utf8")}`);
    // Empty only in the instant between the owner's create and its write.
    const ownerPid = Number.parseInt(readFileSync(owner, "utf8"), 10);
    if (Number.isInteger(ownerPid) && !alive(ownerPid)) {
      // It may have written its answer just before it ended.
      if (existsSync(ready) || existsSync(failed)) continue;
      throw new Error(
        `the test process synthesizing the shared app (pid ${ownerPid}) ended without finishing`,
      );
    }
    await changeIn(dir);
  }
}

/** Runs the synthesis in a child process (its pid in `dir/child`, for the global teardown) to its end. */
async function synthesizeIn(dir: string): Promise<void> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  writeFileSync(join(dir, "child"), String(child.pid));
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  const failed = join(dir, "failed.txt");
  if (!existsSync(join(dir, "ready.json")) && !existsSync(failed)) {
    writeFileSync(
      failed,
      `the synthesis process ended (${signal ?? `exit ${code}`}) with no answer:\n${stderr}`,
    );
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Resolves when something in `dir` changes, or after a second so a missed event (or a dead owner) is noticed. */
async function changeIn(dir: string): Promise<void> {
  await new Promise<void>((resolve) => {
    const watcher = watch(dir, () => done());
    const timer = setTimeout(() => done(), 1_000);
    function done() {
      clearTimeout(timer);
      watcher.close();
      resolve();
    }
  });
}
