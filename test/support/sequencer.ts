/**
 * The order vitest starts test files in (`sequence.sequencer` in vitest.config.ts).
 *
 * With two workers, a long file started last is paid for in wall time alone: the other worker
 * has nothing left to do. Vitest's own order puts the longest first only when it has timings
 * from an earlier run; on a clean clone (CI) it has none and starts the largest files first,
 * which left docs-commands (~60 s), crash (~30 s) and restore-kill (~25 s) starting after most
 * of the suite. So the files known to be long start first, in the order below, and every other
 * file follows in vitest's order (its timings when it has them, else size).
 *
 * The stack tests that read the shared synthesis (`stacks/support/shared-synth.ts`) wait for it,
 * holding a worker while the synthesis runs in its own process: `stacks/stacks.test.ts` asks for it
 * first, and the others come after four long files, by which time it is usually there.
 *
 * The list is a hint, never a gate: a file missing from it still runs, and a name here that no
 * longer exists is ignored. `isolate: false` files run after the isolated ones, together, so a
 * worker that finished one can take the next without starting again (see vitest.config.ts).
 *
 * `REFLEX_TEST_SEED=N` puts the files in an order made from N instead, each file's tests in their
 * own order: how a file is shown to leave nothing behind for the next in a shared process,
 * whatever comes before it. (vitest's `--sequence.shuffle` does not do that here: with a sequencer
 * of our own it keeps this order of files and shuffles the tests in each, and many files' tests
 * build on the ones before.)
 */
import { BaseSequencer, type TestSpecification } from "vitest/node";

/** Files started first, in this order (paths from the repository root). */
export const LONG_FIRST = [
  "stacks/stacks.test.ts",
  "test/docs-commands.test.ts",
  "test/approval-integrity.test.ts",
  "test/crash-changes.test.ts",
  "test/crash.test.ts",
  "stacks/policy-matrix.test.ts",
  "stacks/config-runbook.test.ts",
  "test/fuzz.test.ts",
  "test/chaos.test.ts",
  "test/restore-kill.e2e.test.ts",
  "stacks/extra-runbook.test.ts",
  "test/console.browser.test.ts",
  "test/differential.test.ts",
  "test/console.sso.browser.test.ts",
  "test/runbook-bundles.test.ts",
  "test/console.approvals.browser.test.ts",
  "test/cloud-api.test.ts",
  "test/cli-commands.test.ts",
  "test/console.run-page.browser.test.ts",
  "test/console-first-paint.browser.test.ts",
  "test/cli.test.ts",
  "test/locations-restart.e2e.test.ts",
];

export default class LongFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    // From the files' names, not vitest's timings: a seed gives the same order on every machine.
    const seed = process.env.REFLEX_TEST_SEED;
    if (seed)
      return shuffled(
        [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId)),
        Number(seed),
      );
    const root = this.ctx.config.root;
    const rank = (spec: TestSpecification) => {
      const at = LONG_FIRST.indexOf(spec.moduleId.slice(root.length + 1));
      return at === -1 ? LONG_FIRST.length : at;
    };
    const isolated = (spec: TestSpecification) => (spec.project.config.isolate === false ? 1 : 0);
    // Array.prototype.sort is stable: within a rank, vitest's own order stays.
    return (await super.sort(files)).sort((a, b) => isolated(a) - isolated(b) || rank(a) - rank(b));
  }
}

/** `files` in an order made from `seed` (Fisher–Yates over mulberry32): the same seed, the same order. */
function shuffled<T>(files: T[], seed: number): T[] {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...files];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
