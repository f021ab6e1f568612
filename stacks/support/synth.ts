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
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Aspects } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { App } from "sst/constructs";
import { initProject, useProject } from "sst/project.js";

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
}

export interface Synth {
  app: App;
  /** This synth's own directory: `cdk.out/` (the cloud assembly) and `.sst/artifacts/` (bundles). */
  workDir: string;
  outdir: string;
  /** Deletes the work directory (bundles and their source maps take ~100 MB per synth). */
  cleanup(): void;
}

export async function synthApp(options: SynthOptions = {}): Promise<Synth> {
  // NODE_ENV=test keeps App.finish() from looking up the bootstrap stack (an AWS call).
  process.env.NODE_ENV = "test";
  process.env.REFLEX_CONFIG_FILE = options.configFile ?? FIXTURE_CONFIG;
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  const workDir = mkdtempSync(join(ROOT, ".tmp", "synth-"));
  // CDK and esbuild put temporary files under TMPDIR; keep them in the project.
  process.env.TMPDIR = workDir;

  const env = options.env ?? TEST_ENV;
  await initProject({ stage: env.stage, root: ROOT });
  const project = useProject();
  project.paths.out = join(workDir, ".sst");
  project.paths.artifacts = join(workDir, ".sst", "artifacts");
  mkdirSync(project.paths.artifacts, { recursive: true });

  const outdir = join(workDir, "cdk.out");
  const app = new App({ mode: "deploy", name: project.config.name, ...env }, { outdir });
  if (options.nag) Aspects.of(app).add(new AwsSolutionsChecks());
  const { default: config } = await import("../../sst.config.ts");
  await config.stacks(app);
  options.extend?.(app);
  await app.finish();
  return { app, workDir, outdir, cleanup: () => rmSync(workDir, { recursive: true, force: true }) };
}
