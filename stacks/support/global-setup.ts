/**
 * Vitest global setup: a directory per test run for the shared synthesis of the fixture app
 * (see `./shared-synth.ts`). Making it costs nothing; the synthesis itself happens only when a
 * test file asks for it, so a run without stack tests never synthesizes. Removed after the run,
 * with any left by runs that were killed (their process is gone).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

// Not imported from ./synth.ts: that loads the CDK and SST, which every run would then pay for.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

const PREFIX = "shared-synth-run-";

export default function setup(project: TestProject): () => void {
  const tmp = join(ROOT, ".tmp");
  mkdirSync(tmp, { recursive: true });
  for (const name of readdirSync(tmp)) {
    const pid = Number.parseInt(name.slice(PREFIX.length), 10);
    if (name.startsWith(PREFIX) && Number.isInteger(pid) && !alive(pid)) {
      rmSync(join(tmp, name), { recursive: true, force: true });
    }
  }
  let dir = fresh(tmp, project);
  // In watch mode the sources may have changed: each rerun synthesizes again, in a new directory.
  project.onTestsRerun(() => {
    remove(dir);
    dir = fresh(tmp, project);
  });
  return () => remove(dir);
}

function fresh(tmp: string, project: TestProject): string {
  const dir = mkdtempSync(join(tmp, `${PREFIX}${process.pid}-`));
  project.provide("reflexSharedSynthDir", dir);
  return dir;
}

function remove(dir: string): void {
  // A synthesis still running (its test file was cancelled) is stopped before its directory goes.
  const child = Number.parseInt(readIfThere(join(dir, "child")), 10);
  if (Number.isInteger(child) && alive(child)) process.kill(child);
  rmSync(dir, { recursive: true, force: true });
}

function readIfThere(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
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
