/**
 * bench/chatops: what Slack waits for. `npx tsx bench/run.ts chatops`
 *
 * - `{ figure: "chatops-bundle" }`: the acknowledgement handler (packages/functions/src/slack.ts)
 *   and the hello-world baseline bundled with esbuild as SST bundles functions (esm, node,
 *   minified, keepNames), bytes and gzip, and the packages that make up the bundle.
 * - `{ figure: "chatops-cold" }`: fresh `node` processes, each paired with a hello-world one:
 *   `initMs` = spawn → bundle imported → exit; `firstAckMs` = spawn → bundle imported → one
 *   signed `/reflex help` acknowledged (signature, replay guard write to a local dynalite, the
 *   async Lambda Invoke answered by a local stub) → exit. The signing secret is read on the first
 *   request from the stage's own SSM parameter (one GetParameter call), here answered by the same
 *   local stub, so the figure includes that call.
 * - `{ figure: "chatops-ack" }`: warm handler time to acknowledge, p50/p99 over 1,000 signed
 *   requests, in-process against dynalite (`handler`), and through the local server over HTTP on
 *   127.0.0.1 with the worker doing the work behind each (`http`).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

async function bundle(
  entry: string,
  outdir: string,
): Promise<{ file: string; top: Array<{ input: string; kb: number }> }> {
  const outfile = join(outdir, `${entry.split("/").pop()!.replace(/\.ts$/, "")}.mjs`);
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "esnext",
    mainFields: ["module", "main"],
    minify: true,
    keepNames: true,
    metafile: true,
    outfile,
    logLevel: "silent",
    // As the stacks bundle every function (sst.config.ts).
    plugins: [zodEnglishOnly, lambdaEnvCredentials],
    // As SST does for esm bundles: CommonJS dependencies may still call require().
    banner: {
      js: `import { createRequire as topLevelCreateRequire } from 'module';const require = topLevelCreateRequire(import.meta.url);`,
    },
  });
  const sizes = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(Object.values(result.metafile.outputs)[0].inputs)) {
    const pkg =
      input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? input.split("/").slice(0, 4).join("/");
    sizes.set(pkg, (sizes.get(pkg) ?? 0) + bytesInOutput);
  }
  const top = [...sizes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([input, bytes]) => ({ input, kb: round(bytes / 1024) }));
  return { file: outfile, top };
}

const CHILD = `
const t0 = performance.now();
const mod = await import(process.env.BENCH_BUNDLE_URL);
const imported = performance.now() - t0;
let acked = imported;
if (process.env.BENCH_ACK === "1") {
  const out = await mod.handler(JSON.parse(process.env.BENCH_EVENT), {});
  if (out.statusCode !== 200) { console.error(JSON.stringify(out)); process.exit(4); }
  acked = performance.now() - t0;
}
process.stdout.write(JSON.stringify({ imported, acked }));
`;

/** One fresh node process (async: dynalite and the Lambda stub answer it from this process). */
function spawnOnce(file: string, env: Record<string, string>, ack: boolean): Promise<{ wallMs: number }> {
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
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  child.stdout.resume();
  return new Promise((resolve, reject) =>
    child.on("close", (code) =>
      code === 0
        ? resolve({ wallMs: performance.now() - started })
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
      const bytes = statSync(b.file).size;
      figures.push({
        figure: "chatops-bundle",
        handler: name,
        bytes,
        kb: round(bytes / 1024),
        gzipBytes: gzipSync(readFileSync(b.file)).length,
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
    const init: number[] = [];
    const helloInit: number[] = [];
    const firstAck: number[] = [];
    const helloFirst: number[] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      helloInit.push((await spawnOnce(hello.file, env, false)).wallMs);
      init.push((await spawnOnce(ack.file, env, false)).wallMs);
      helloFirst.push((await spawnOnce(hello.file, { ...env, BENCH_EVENT: "{}" }, true)).wallMs);
      const event = JSON.stringify(signedEvent(`help ${i}`));
      firstAck.push((await spawnOnce(ack.file, { ...env, BENCH_EVENT: event }, true)).wallMs);
    }
    figures.push({
      figure: "chatops-cold",
      runs: COLD_RUNS,
      initMedianMs: round(median(init)),
      helloWorldInitMedianMs: round(median(helloInit)),
      initRatio: Number((median(init) / median(helloInit)).toFixed(2)),
      firstAckMedianMs: round(median(firstAck)),
      helloWorldFirstResponseMedianMs: round(median(helloFirst)),
      slackLimitMs: 3000,
      note: "fresh node process, spawn to exit; the first ack includes one SSM GetParameter for the signing secret (a local stub here)",
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
