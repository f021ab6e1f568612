/**
 * bench/chatops: what Slack waits for. `npx tsx bench/run.ts chatops`
 *
 * - `{ figure: "chatops-bundle" }`: the acknowledgement handler (packages/functions/src/slack.ts)
 *   and the hello-world baseline bundled as SST bundles Reflex's functions (see {@link bundle}),
 *   bytes and gzip, and the packages that make up the bundle (target ≤ 300 KB).
 * - `{ figure: "chatops-cold" }`: fresh `node` processes, each paired with a hello-world one, timed
 *   as Lambda splits a cold start: `initRatio` = the init (spawn → bundle imported → exit) over
 *   hello-world's (target ≤ 1.5); `firstAckRatio` = the first invocation's duration over the warm
 *   ones after it in the same process (target ≤ 4). An invocation is one signed `/reflex help`
 *   acknowledged: the signing secret (read on the first request from the stage's SSM parameter, one
 *   GetParameter answered by a local stub), the replay guard's PutItem to a local dynalite, the
 *   asynchronous Lambda Invoke answered by the stub.
 * - `{ figure: "chatops-ack" }`: warm handler time to acknowledge, p50/p99 over 1,000 signed
 *   requests, in-process against dynalite (`handler`), and through the local server over HTTP on
 *   127.0.0.1 with the worker doing the work behind each (`http`).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { ChatOps, tableName } from "@reflex/core";
import esbuild from "esbuild";
import { ensureTable, startStorage } from "../packages/local/src/storage.ts";
import { lambdaEnvCredentials } from "../stacks/support/lambda-credentials.ts";
import { zodEnglishOnly } from "../stacks/support/zod-english.ts";
import { startTestLocal } from "../test/support/local.ts";

const SECRET = "bench-signing-secret";
const SECRET_PARAMETER = "/sst/reflex/bench/Secret/SLACK_SIGNING_SECRET/value";
const REQUESTS = 1000;
const COLD_RUNS = 9;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(2));
};
const median = (xs: number[]) => pct(xs, 50);
const round = (n: number) => Number(n.toFixed(1));

/**
 * Bundles a handler with the options SST 2.49.8 gives esbuild for Reflex's functions
 * (sst/runtime/handlers/node.js with sst.config.ts's `nodejs` props: esm, esnext, module-first
 * main fields, minify, keepNames, splitting, a linked source map, SST's banner) and the plugins
 * every function gets, so the file measured is the file deployed. (`npm run bench -- bundles`
 * measures the same files out of a synthesized app.)
 */
async function bundle(
  entry: string,
  outdir: string,
): Promise<{ file: string; loaded: string[]; lazy: string[]; top: Array<{ input: string; kb: number }> }> {
  const name = entry.split("/").pop()!.replace(/\.ts$/, "");
  const result = await esbuild.build({
    entryPoints: { [name]: entry },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "esnext",
    mainFields: ["module", "main"],
    minify: true,
    keepNames: true,
    splitting: true,
    sourcemap: true,
    outExtension: { ".js": ".mjs" },
    metafile: true,
    outdir,
    logLevel: "silent",
    // As the stacks bundle every function (sst.config.ts; its third plugin, the config's own
    // runbooks, only resolves the runbook registry, which the acknowledgement does not import).
    plugins: [zodEnglishOnly, lambdaEnvCredentials],
    // SST's banner for esm bundles: CommonJS dependencies may still call require().
    banner: {
      js: [
        `import { createRequire as topLevelCreateRequire } from 'module';`,
        `const require = topLevelCreateRequire(import.meta.url);`,
        `import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url"`,
        `const __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url))`,
        "",
      ].join("\n"),
    },
  });
  const outputs = result.metafile.outputs;
  const [outfile] = Object.entries(outputs).find(([, o]) => o.entryPoint === entry)!;
  // What loads at init: the entry and the chunks it imports statically (SST splits, so shared
  // code is a chunk); a chunk behind a dynamic import() is uploaded but only loaded if called.
  const loaded = new Set([outfile]);
  for (const file of loaded)
    for (const i of outputs[file].imports)
      if (i.kind === "import-statement" && outputs[i.path]) loaded.add(i.path);
  const lazy = Object.keys(outputs).filter((o) => o.endsWith(".mjs") && !loaded.has(o));
  const inputs = [...loaded].flatMap((o) => Object.entries(outputs[o].inputs));
  const sizes = new Map<string, number>();
  for (const [input, { bytesInOutput }] of inputs) {
    const pkg =
      input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? input.split("/").slice(0, 4).join("/");
    sizes.set(pkg, (sizes.get(pkg) ?? 0) + bytesInOutput);
  }
  const top = [...sizes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([input, bytes]) => ({ input, kb: round(bytes / 1024) }));
  return {
    file: resolve(outfile),
    loaded: [...loaded].map((o) => resolve(o)),
    lazy: lazy.map((o) => resolve(o)),
    top,
  };
}

/**
 * One fresh node process, timed as Lambda reports a cold start: `imported` is the module's init
 * (Lambda's Init Duration, less the runtime's own start), `first` the first invocation's duration,
 * `warm` the median duration of the next WARM_ACKS invocations in the same process.
 */
const WARM_ACKS = 5;
const CHILD = `
const t0 = performance.now();
const mod = await import(process.env.BENCH_BUNDLE_URL);
const imported = performance.now() - t0;
let first = 0;
let answeredAt = 0;
const warm = [];
if (process.env.BENCH_ACK === "1") {
  const events = JSON.parse(process.env.BENCH_EVENTS);
  for (const [i, event] of events.entries()) {
    const started = performance.now();
    const out = await mod.handler(event, {});
    if (out.statusCode !== 200) { console.error(JSON.stringify(out)); process.exit(4); }
    // performance.now() counts from the process's start: answeredAt is start -> first ack.
    if (i === 0) { first = performance.now() - started; answeredAt = performance.now(); }
    else warm.push(performance.now() - started);
  }
}
warm.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ imported, first, answeredAt, warm: warm[Math.floor(warm.length / 2)] ?? 0 }));
`;

interface ChildTimes {
  wallMs: number;
  imported: number;
  first: number;
  answeredAt: number;
  warm: number;
}

/** One fresh node process (async: dynalite and the Lambda stub answer it from this process). */
function spawnOnce(file: string, env: Record<string, string>, ack: boolean): Promise<ChildTimes> {
  const started = performance.now();
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD], {
    env: {
      PATH: process.env.PATH ?? "",
      ...env,
      BENCH_BUNDLE_URL: pathToFileURL(file).href,
      BENCH_ACK: ack ? "1" : "0",
    },
  });
  let stderr = "";
  let stdout = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  return new Promise((resolve, reject) =>
    child.on("close", (code) =>
      code === 0
        ? resolve({ wallMs: performance.now() - started, ...JSON.parse(stdout) })
        : reject(new Error(`bench child failed (${code}): ${stderr}`)),
    ),
  );
}

function signedEvent(text: string): Record<string, unknown> {
  const body = new URLSearchParams({
    user_id: "UBENCH",
    channel_id: "CBENCH",
    text,
    response_url: "https://hooks.slack.com/commands/x",
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  return {
    rawPath: "/slack/commands",
    headers: {
      "x-slack-request-timestamp": String(ts),
      "x-slack-signature": ChatOps.Signature.sign(SECRET, ts, body),
    },
    body,
    isBase64Encoded: false,
  };
}

export async function chatopsBench(): Promise<Array<Record<string, unknown>>> {
  const figures: Array<Record<string, unknown>> = [];
  const dir = mkdtempSync(join(tmpdir(), "reflex-bench-chatops-"));
  const storage = await startStorage({ region: "us-east-1" });
  await ensureTable(storage.dynamoEndpoint, "us-east-1", tableName());
  // The worker's async Invoke, answered as Lambda does (202, empty body); and the stage's
  // signing secret, answered as SSM's GetParameter does (the handler reads its own parameter).
  const lambda = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (String(req.headers["x-amz-target"]).endsWith(".GetParameter")) {
        res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
        res.end(
          JSON.stringify({ Parameter: { Name: SECRET_PARAMETER, Type: "SecureString", Value: SECRET } }),
        );
        return;
      }
      res.writeHead(202, { "content-type": "application/json" });
      res.end("");
    });
  });
  await new Promise<void>((r) => lambda.listen(0, "127.0.0.1", () => r()));
  try {
    const ack = await bundle("packages/functions/src/slack.ts", dir);
    const hello = await bundle("bench/bundles/hello-world.ts", dir);
    for (const [name, b] of [
      ["chatops", ack],
      ["hello-world", hello],
    ] as const) {
      const bytes = b.loaded.reduce((n, f) => n + statSync(f).size, 0);
      figures.push({
        figure: "chatops-bundle",
        handler: name,
        bytes,
        kb: round(bytes / 1024),
        gzipBytes: b.loaded.reduce((n, f) => n + gzipSync(readFileSync(f)).length, 0),
        files: b.loaded.length,
        lazyBytes: b.lazy.reduce((n, f) => n + statSync(f).size, 0),
        ...(name === "chatops"
          ? { top: b.top, targetBytes: 300 * 1024, withinTarget: bytes <= 300 * 1024 }
          : {}),
      });
    }

    const env = {
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "bench",
      AWS_SECRET_ACCESS_KEY: "bench",
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_LAMBDA_FUNCTION_NAME: "reflex-bench-chatops",
      REFLEX_TABLE: tableName(),
      REFLEX_SLACK_WORKER: "reflex-bench-chatops-worker",
      REFLEX_ENDPOINT_DYNAMODB: storage.dynamoEndpoint,
      REFLEX_ENDPOINT_LAMBDA: `http://127.0.0.1:${(lambda.address() as AddressInfo).port}`,
      REFLEX_ENDPOINT_SSM: `http://127.0.0.1:${(lambda.address() as AddressInfo).port}`,
      REFLEX_SLACK_SIGNING_SECRET_PARAMETER: SECRET_PARAMETER,
    };
    await spawnOnce(ack.file, env, false); // file cache warm-up, not counted
    const init: ChildTimes[] = [];
    const helloInit: ChildTimes[] = [];
    const acks: ChildTimes[] = [];
    const helloFirst: ChildTimes[] = [];
    // Each ack run is its own cold container: its own signatures, so the replay guard passes them.
    const events = (i: number) =>
      JSON.stringify(Array.from({ length: 1 + WARM_ACKS }, (_, j) => signedEvent(`help ${i}.${j}`)));
    for (let i = 0; i < COLD_RUNS; i++) {
      helloInit.push(await spawnOnce(hello.file, env, false));
      init.push(await spawnOnce(ack.file, env, false));
      helloFirst.push(await spawnOnce(hello.file, { ...env, BENCH_EVENTS: JSON.stringify([{}, {}]) }, true));
      acks.push(await spawnOnce(ack.file, { ...env, BENCH_EVENTS: events(i) }, true));
    }
    const of = (xs: ChildTimes[], k: keyof ChildTimes) => median(xs.map((x) => x[k]));
    const initRatio = of(init, "wallMs") / of(helloInit, "wallMs");
    // Per process: its first ack over its own warm ones, so both see the same machine.
    const firstOverWarm = median(acks.map((a) => a.first / a.warm));
    figures.push({
      figure: "chatops-cold",
      runs: COLD_RUNS,
      initMedianMs: round(of(init, "wallMs")),
      helloWorldInitMedianMs: round(of(helloInit, "wallMs")),
      initRatio: Number(initRatio.toFixed(2)),
      targetInitRatio: 1.5,
      importMedianMs: round(of(init, "imported")),
      helloWorldImportMedianMs: round(of(helloInit, "imported")),
      firstAckMs: round(of(acks, "first")),
      warmAckMs: round(of(acks, "warm")),
      firstAckRatio: Number(firstOverWarm.toFixed(2)),
      targetFirstAckRatio: 4,
      withinTarget: initRatio <= 1.5 && firstOverWarm <= 4,
      coldAckMedianMs: round(of(acks, "answeredAt")),
      helloWorldFirstResponseMedianMs: round(of(helloFirst, "answeredAt")),
      slackLimitMs: 3000,
      note: "initMedianMs: a fresh node process importing the bundle, spawn to exit (Lambda's Init Duration: runtime start + module init), paired run by run with hello-world's. firstAckMs: the first invocation's duration in a fresh process (one SSM GetParameter for the signing secret, the replay guard's PutItem to dynalite, the worker's Invoke to a local stub, all on new connections); warmAckMs: the same process's next invocations (median of 5); firstAckRatio: the median over processes of first / warm. coldAckMedianMs: the process's start to its first ack answered (what Slack waits for, less the network and Lambda's own start)",
    });

    // Warm, in-process: the handler's own time to acknowledge.
    const { Aws } = await import("@reflex/core");
    Aws.configure({ endpoints: { dynamodb: storage.dynamoEndpoint } });
    const replay = ChatOps.Replay.dynamoReplayGuard;
    const handlerMs: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const e = signedEvent(`status run-${i}`);
      const t0 = performance.now();
      const out = await ChatOps.Ack.acknowledge({
        route: "commands",
        rawBody: e.body as string,
        headers: e.headers as Record<string, string>,
        secret: SECRET,
        replay,
        dispatch: async () => {},
      });
      handlerMs.push(performance.now() - t0);
      if (out.statusCode !== 200) throw new Error(`ack ${out.statusCode}: ${out.body}`);
    }
    figures.push({
      figure: "chatops-ack",
      path: "handler",
      requests: REQUESTS,
      p50Ms: pct(handlerMs, 50),
      p99Ms: pct(handlerMs, 99),
      maxMs: pct(handlerMs, 100),
      targetP99Ms: 100,
    });
  } finally {
    lambda.close();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }

  // Through the local server, with the worker running behind every request.
  process.env.SLACK_SIGNING_SECRET = SECRET;
  const local = await startTestLocal({});
  try {
    const httpMs: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const e = signedEvent(`${i % 2 ? "whoami" : "list"} ${i}`);
      const t0 = performance.now();
      const res = await fetch(`${local.url}/slack/commands`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          ...(e.headers as Record<string, string>),
        },
        body: e.body as string,
      });
      await res.text();
      httpMs.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`local ack ${res.status}`);
    }
    figures.push({
      figure: "chatops-ack",
      path: "http",
      requests: REQUESTS,
      p50Ms: pct(httpMs, 50),
      p99Ms: pct(httpMs, 99),
      maxMs: pct(httpMs, 100),
      targetP99Ms: 100,
      note: "local server on 127.0.0.1; each request's work (list / whoami, audit, response_url to the outbox) runs in the same process",
    });
  } finally {
    await local.stop();
  }
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  for (const f of await chatopsBench()) process.stdout.write(`${JSON.stringify(f)}\n`);
  process.exit(0);
}
