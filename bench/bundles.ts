/**
 * bench/bundles: the Lambda bundles exactly as `sst deploy` would upload them, and what they
 * cost at cold start. `npx tsx bench/bundles.ts [--runs 9] [--keep]`
 *
 * Synthesizes the app offline (stacks/support/synth.ts) with one extra stack holding a
 * hello-world function, so the baseline is bundled by SST with the same default function
 * props (esm, minify, sourcemap, arm64, nodejs24.x). Then, for every function in the cloud
 * assembly, it reads the bundle from the function's asset directory and prints, as JSON lines:
 *
 * - `{ figure: "bundle", handler, bytes, gzipBytes, sourcemapBytes, ... }`: the .mjs Lambda loads;
 * - `{ figure: "init", handler, medianMs, helloWorldMs, ratio, ... }`: `medianMs` is the median
 *   wall time of a fresh `node` process that imports the bundle and exits (what Lambda's Init
 *   Duration covers: runtime start + module initialization); `importMedianMs` is the import alone,
 *   timed inside that process. Each run of a handler is paired with a hello-world run, so both
 *   see the same machine. The child gets the function's own environment from the template
 *   (references to other stacks become placeholders) plus dummy AWS credentials: module-scope code
 *   (config validation, client construction) runs as it would in Lambda, with no network.
 *
 * - `{ figure: "composition", handler, top: [{ input, kb }] }` for hot-path handlers: the packages
 *   that make up the bundle (esbuild's metafile, SST's options, rebuilt in memory).
 *
 * Targets (the issue's): hot-path handlers (trigger, chatops) ≤ 300 KB and init ≤ 1.5× hello world.
 * The figures are printed as measured, whether or not they meet them.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
// SST 2.49.8 bundles with this esbuild (its own dependency, hoisted): used here only to say what a bundle is made of.
import esbuild from "esbuild";
import { Function as SstFunction, type StackContext } from "sst/constructs";
import { synthApp, TEST_ENV } from "../stacks/support/synth.ts";

const HOT_PATH = ["trigger", "chatops"];
const TARGET = { bytes: 300 * 1024, ratio: 1.5 };
const HELLO = "bench/bundles/hello-world.handler";
/** Reflex names its functions `<app>-<stage>-<name>`. */
const FUNCTION_PREFIX = `reflex-${TEST_ENV.stage}-`;

type Figure = Record<string, unknown>;

interface Bundle {
  /** Short name: the function name without `<app>-<stage>-`. */
  handler: string;
  functionName: string;
  entry: string;
  file: string;
  env: Record<string, string>;
}

function BenchHelloWorld({ stack }: StackContext) {
  new SstFunction(stack, "HelloWorld", { handler: HELLO, functionName: `${stack.stackName}-hello-world` });
}

/** Environment values that are CloudFormation references (another stack's table name...) become placeholders. */
function literalEnv(vars: Record<string, unknown> = {}): Record<string, string> {
  return Object.fromEntries(
    Object.entries(vars).map(([k, v]) => [
      k,
      typeof v === "string" ? v : `bench-placeholder-${k.toLowerCase()}`,
    ]),
  );
}

/** Every function of the assembly with its bundle file, read from the asset manifests. */
function bundlesOf(outdir: string, stacks: Array<{ stackName: string; template: any }>): Bundle[] {
  const out: Bundle[] = [];
  for (const { stackName, template } of stacks) {
    const manifest = JSON.parse(readFileSync(join(outdir, `${stackName}.assets.json`), "utf8")) as {
      files: Record<string, { source: { path: string } }>;
    };
    for (const resource of Object.values(template.Resources as Record<string, any>)) {
      if (resource.Type !== "AWS::Lambda::Function") continue;
      const entry = String(resource.Properties.Handler);
      if (!entry.startsWith("packages/") && !entry.startsWith("bench/")) continue; // SST's own custom-resource handler
      const hash = String(resource.Properties.Code.S3Key).replace(/\.zip$/, "");
      const dir = join(outdir, manifest.files[hash].source.path);
      const file = join(dir, `${entry.slice(0, entry.lastIndexOf("."))}.mjs`);
      const functionName = String(resource.Properties.FunctionName);
      out.push({
        handler: entry === HELLO ? "hello-world" : functionName.replace(FUNCTION_PREFIX, ""),
        functionName,
        entry,
        file,
        env: literalEnv(resource.Properties.Environment?.Variables),
      });
    }
  }
  return out;
}

const CHILD = `
const started = performance.now();
const mod = await import(process.env.BENCH_BUNDLE_URL);
const ms = performance.now() - started;
if (typeof mod.handler !== "function") { console.error("no handler export"); process.exit(3); }
process.stdout.write(String(ms));
`;

/** One cold start: wall time of a fresh node process importing the bundle, and the import time inside it. */
function coldStart(bundle: Bundle): { wallMs: number; importMs: number } {
  const env = {
    PATH: process.env.PATH ?? "",
    ...bundle.env,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "bench",
    AWS_SECRET_ACCESS_KEY: "bench",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_LAMBDA_FUNCTION_NAME: bundle.functionName,
    AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
    BENCH_BUNDLE_URL: pathToFileURL(bundle.file).href,
  };
  const started = performance.now();
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", CHILD], { env, encoding: "utf8" });
  const wallMs = performance.now() - started;
  if (child.status !== 0) throw new Error(`${bundle.handler}: the bundle failed to load:\n${child.stderr}`);
  return { wallMs, importMs: Number(child.stdout) };
}

/** The largest contributors to a bundle, by package (or project folder), in KB of minified output. */
async function composition(entry: string): Promise<Array<{ input: string; kb: number }>> {
  const file = `${entry.slice(0, entry.lastIndexOf("."))}.ts`;
  const result = await esbuild.build({
    entryPoints: [file],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "esnext",
    mainFields: ["module", "main"],
    minify: true,
    keepNames: true,
    metafile: true,
    write: false,
    outdir: "out",
    logLevel: "silent",
  });
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint)!;
  const sizes = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const pkg =
      input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? input.split("/").slice(0, 3).join("/");
    sizes.set(pkg, (sizes.get(pkg) ?? 0) + bytesInOutput);
  }
  return [...sizes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([input, bytes]) => ({ input, kb: round(bytes / 1024) }));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (n: number, digits = 1) => Number(n.toFixed(digits));

export async function bundles(options: { runs?: number; keep?: boolean } = {}): Promise<Figure[]> {
  const runs = options.runs ?? 9;
  const synth = await synthApp({ extend: (app) => app.stack(BenchHelloWorld) });
  try {
    const assembly = synth.app.synth();
    const all = bundlesOf(synth.outdir, assembly.stacks);
    const hello = all.find((b) => b.entry === HELLO)!;
    const measured = all.filter((b) => b !== hello);
    const figures: Figure[] = [
      {
        figure: "context",
        node: process.version,
        cpus: cpus().length,
        cpu: cpus()[0]?.model,
        runs,
        note: "medianMs: fresh node process importing the bundle, spawn to exit; importMedianMs: the import() inside it",
      },
    ];

    for (const b of [hello, ...measured]) {
      const bytes = statSync(b.file).size;
      const map = `${b.file}.map`;
      const hot = HOT_PATH.includes(b.handler);
      figures.push({
        figure: "bundle",
        handler: b.handler,
        function: b.functionName,
        entry: b.entry,
        bytes,
        kb: round(bytes / 1024),
        gzipBytes: gzipSync(readFileSync(b.file)).length,
        sourcemapBytes: statSync(map, { throwIfNoEntry: false })?.size ?? 0,
        hotPath: hot,
        ...(hot ? { targetBytes: TARGET.bytes, withinTarget: bytes <= TARGET.bytes } : {}),
      });
    }

    for (const b of measured) {
      coldStart(b); // warm the file cache; not counted
      coldStart(hello);
      const wall: number[] = [];
      const imports: number[] = [];
      const helloWall: number[] = [];
      const helloImports: number[] = [];
      for (let i = 0; i < runs; i++) {
        const h = coldStart(hello);
        const r = coldStart(b);
        helloWall.push(h.wallMs);
        helloImports.push(h.importMs);
        wall.push(r.wallMs);
        imports.push(r.importMs);
      }
      const ratio = median(wall) / median(helloWall);
      const hot = HOT_PATH.includes(b.handler);
      figures.push({
        figure: "init",
        handler: b.handler,
        medianMs: round(median(wall)),
        helloWorldMs: round(median(helloWall)),
        ratio: round(ratio, 2),
        importMedianMs: round(median(imports)),
        helloWorldImportMs: round(median(helloImports), 2),
        runs,
        hotPath: hot,
        ...(hot ? { targetRatio: TARGET.ratio, withinTarget: ratio <= TARGET.ratio } : {}),
      });
    }

    for (const b of measured.filter((m) => HOT_PATH.includes(m.handler))) {
      figures.push({ figure: "composition", handler: b.handler, top: await composition(b.entry) });
    }

    for (const name of HOT_PATH) {
      if (!measured.some((b) => b.handler === name)) {
        figures.push({
          figure: "missing",
          handler: name,
          reason: `no deployed function '${name}' (its handler is not in the app yet)`,
        });
      }
    }
    return figures;
  } finally {
    if (!options.keep) synth.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const runsAt = args.indexOf("--runs");
  const figures = await bundles({
    runs: runsAt >= 0 ? Number(args[runsAt + 1]) : undefined,
    keep: args.includes("--keep"),
  });
  for (const f of figures) process.stdout.write(`${JSON.stringify(f)}\n`);
}
