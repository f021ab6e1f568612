/**
 * Synthesizes the whole SST app offline, exactly as `sst deploy` would build it (same
 * `stacks(app)`, same default function props, every function bundled by esbuild), with no AWS
 * credentials and no network. Used by the stack tests and by bench/bundles.ts.
 *
 * Synthesize the returned App once (`app.synth()`, which `Template.fromStack` reuses): SST's
 * unique-id aspect keeps state between runs, so a second, forced synthesis of the same App
 * fails (`Annotations.fromStack` forces one; read cdk-nag's findings from the assembly instead).
 *
 * Each synth gets its own work directory under `.tmp/` (CDK's `cdk.out`, SST's build
 * artifacts), so two synths running at once (parallel test files, the bench) never delete
 * each other's bundles.
 *
 * A stack test that reads the fixture app should not call this: {@link sharedSynth} (in
 * `./shared-synth.ts`) gives every test file of a run the one synthesis of it.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cp } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Aspects } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { App } from "sst/constructs";
import { initProject, useProject } from "sst/project.js";
import { type RuntimeHandler, useRuntimeHandlers } from "sst/runtime/handlers.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** A config with rules, schedules and windows, so every kind of trigger is synthesized. */
export const FIXTURE_CONFIG = join(ROOT, "stacks/support/fixture.config.ts");

export const TEST_ENV = { stage: "test", region: "us-east-1", account: "123456789012" } as const;

export interface SynthOptions {
  /** The Reflex config to deploy; default the fixture. */
  configFile?: string;
  /** Add cdk-nag's AwsSolutions checks before synthesis (findings become annotations). */
  nag?: boolean;
  /** Called after sst.config's stacks, before the build: add stacks the app itself does not have (the bench's hello world). */
  extend?: (app: App) => void;
  /** Stage, region and account to synthesize for; default {@link TEST_ENV}. */
  env?: { stage: string; region: string; account: string };
  /** Synthesize into this (existing, empty) directory rather than a new one under `.tmp/`. */
  workDir?: string;
  /**
   * Bundles another synth of the same sources made ({@link Synth.bundles}): a function whose
   * handler and build options are there gets a copy, as it would within one synth.
   */
  bundlesFrom?: BundleIndex;
}

/** Bundles by what they were built from (handler, runtime, options): their directory and handler path. */
export type BundleIndex = Record<string, { out: string; handler: string }>;

export interface Synth {
  app: App;
  /** This synth's own directory: `cdk.out/` (the cloud assembly) and `.sst/artifacts/` (bundles). */
  workDir: string;
  outdir: string;
  /** Deletes the work directory (bundles and their source maps take ~100 MB per synth). */
  cleanup(): void;
  /** The bundles this synth built, for another synth's {@link SynthOptions.bundlesFrom}. */
  bundles(): Promise<BundleIndex>;
  /** How many functions esbuild bundled, and how many got a copy of a bundle with the same key. */
  bundling(): { built: number; copied: number };
}

export async function synthApp(options: SynthOptions = {}): Promise<Synth> {
  // NODE_ENV=test keeps App.finish() from looking up the bootstrap stack (an AWS call).
  process.env.NODE_ENV = "test";
  process.env.REFLEX_CONFIG_FILE = options.configFile ?? FIXTURE_CONFIG;
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  const workDir = options.workDir ?? mkdtempSync(join(ROOT, ".tmp", "synth-"));
  mkdirSync(workDir, { recursive: true });
  // CDK and esbuild put temporary files under TMPDIR; keep them in the project.
  process.env.TMPDIR = workDir;

  const env = options.env ?? TEST_ENV;
  await initProject({ stage: env.stage, root: ROOT });
  const project = useProject();
  project.paths.out = join(workDir, ".sst");
  project.paths.artifacts = join(workDir, ".sst", "artifacts");
  mkdirSync(project.paths.artifacts, { recursive: true });
  bundleEachHandlerOnce();
  const builds: SynthBuilds = { first: new Map(), built: 0, copied: 0 };
  for (const [key, { out, handler }] of Object.entries(options.bundlesFrom ?? {}))
    builds.first.set(key, Promise.resolve({ out, result: { type: "success", handler } }));
  buildsBySynth.set(project.paths.artifacts, builds);

  const outdir = join(workDir, "cdk.out");
  const app = new App({ mode: "deploy", name: project.config.name, ...env }, { outdir });
  if (options.nag) Aspects.of(app).add(new AwsSolutionsChecks());
  const { default: config } = await import("../../sst.config.ts");
  await config.stacks(app);
  options.extend?.(app);
  await app.finish();
  return {
    app,
    workDir,
    outdir,
    cleanup: () => rmSync(workDir, { recursive: true, force: true }),
    bundling: () => ({ built: builds.built, copied: builds.copied }),
    bundles: async () => {
      const index: BundleIndex = {};
      for (const [key, build] of builds.first) {
        const { out, result } = await build;
        if (result.type === "success" && !result.sourcemap) index[key] = { out, handler: result.handler };
      }
      return index;
    },
  };
}

type BuildInput = Parameters<RuntimeHandler["build"]>[0];
type BuildResult = Awaited<ReturnType<RuntimeHandler["build"]>>;
type FirstBuild = { out: string; result: BuildResult };
/** Per synth (its artifacts directory), the first build of each bundle key. */
interface SynthBuilds {
  first: Map<string, Promise<FirstBuild>>;
  /** Functions bundled by esbuild, and functions given a copy of a bundle. */
  built: number;
  copied: number;
}
const buildsBySynth = new Map<string, SynthBuilds>();
const patched = new WeakSet<RuntimeHandler>();

/**
 * Functions with the same handler and the same build options get the same bundle: esbuild runs
 * once per handler in a synth and the other functions get a copy of its output (every runbook's
 * step worker runs `step.handler`, so 4 of the 12 builds were the same build). The copy is what
 * the build would have written, byte for byte (each bundle sits at the same depth under its
 * function's directory, so even the source map's relative paths agree; the one difference, the
 * name npm gives the lock file, is rewritten), so templates and asset hashes are those of a full build.
 * SST's own builder is patched in this process only, never in a deploy.
 */
function bundleEachHandlerOnce(): void {
  const node = useRuntimeHandlers().for("nodejs24.x");
  if (patched.has(node)) return;
  patched.add(node);
  const build = node.build.bind(node);
  node.build = async (input: BuildInput) => {
    const builds = buildsBySynth.get(useProject().paths.artifacts);
    const key = bundleKey(input);
    if (!builds) return build(input);
    const first = key ? builds.first.get(key) : undefined;
    const done = first && (await first);
    // A failed build is reported for each function, and SST moves an external source map away.
    if (done?.result.type !== "success" || done.result.sourcemap) {
      builds.built++;
      const built = build(input).then((result) => ({ out: input.out, result }));
      if (key && !first) builds.first.set(key, built);
      return (await built).result;
    }
    builds.copied++;
    await cp(done.out, input.out, { recursive: true });
    // SST runs `npm install` in each function's directory; npm names the lock file after it.
    const lock = join(input.out, "package-lock.json");
    if (existsSync(lock)) {
      const named = (dir: string) => `"name": ${JSON.stringify(basename(dir))},`;
      writeFileSync(lock, readFileSync(lock, "utf8").replace(named(done.out), named(input.out)));
    }
    return done.result;
  };
}

/** What a Node bundle depends on besides the sources: handler, runtime, options. */
function bundleKey(input: BuildInput): string | undefined {
  const { props } = input;
  // Hooks may write anything into the output; such a function gets its own build.
  if (props.hooks || props.nodejs?.install?.length) return undefined;
  return JSON.stringify(
    [input.mode, props.handler, props.runtime, props.architecture, props.nodejs],
    // An esbuild plugin is known by its name: its setup function's text depends on who loaded it (tsx, vitest).
    (_key: string, value: unknown) => (typeof value === "function" ? "function" : value),
  );
}
