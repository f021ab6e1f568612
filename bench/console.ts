/**
 * bench/console: what the console costs a browser. `npx tsx bench/run.ts console`
 *
 * - `{ figure: "console-weight", bytes, gzipBytes, files }`: HTML + JS + CSS the page loads, as
 *   served (dagre's bundle included), raw and gzipped.
 * - `{ figure: "console-first-render", ... }`: local mode in-process with 1,000 runs in the store
 *   (one real backup run on the local engine, 999 execution records written through core), then
 *   Debian's headless chromium opens the backup's run page, cold (a new browser context each
 *   time), and the time from navigation to the graph and the per-target table being on screen
 *   is measured from the test driver (`medianMs`, new browser context included) and in the page's
 *   own clock from navigation start (`inPageMedianMs`); medians of `samples`, all samples printed.
 *   The same for the runs list, and the `/api/…` requests each page made (`apiRequests`).
 * - `{ figure: "console-vs-get" }`: those first renders over `GET /api/executions/:id` alone
 *   (fetched from this process), all three interleaved sample by sample in one run (target ≤ 2).
 */
import { gzipSync } from "node:zlib";
import { Executions } from "@reflex/core";
import { consoleAssets } from "../packages/local/src/dashboard.ts";
import { launchChromium } from "../test/support/browser.ts";
import { runAndWait, startTestLocal } from "../test/support/local.ts";

const RUNS = 1000;
const SAMPLES = 7;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function weight(): Record<string, unknown> {
  const files: Record<string, number> = {};
  let raw = "";
  for (const [path, asset] of consoleAssets()) {
    if (path === "/") continue; // the same file as /index.html
    files[path] = Buffer.byteLength(asset.body);
    raw += asset.body;
  }
  return {
    figure: "console-weight",
    bytes: Buffer.byteLength(raw),
    gzipBytes: gzipSync(raw).length,
    files,
  };
}

export async function consoleBench(): Promise<Array<Record<string, unknown>>> {
  const local = await startTestLocal();
  const browser = await launchChromium();
  try {
    const run = await runAndWait(local, "backup-snapshot", { selector: { tag: { Backup: "daily" } } });
    const base = Date.now() - 86_400_000;
    for (let i = 0; i < RUNS - 1; i++) {
      const id = `bench-${String(i).padStart(4, "0")}`;
      await Executions.create(
        {
          id,
          runbook: i % 2 ? "scale" : "backup-snapshot",
          dryRun: i % 3 === 0,
          params: { autoScalingGroup: "web", change: "+1" },
          trigger: { kind: "manual", actor: "bench" },
        },
        new Date(base + i * 60_000),
      );
      await Executions.complete(
        id,
        { status: i % 10 ? "SUCCEEDED" : "FAILED" },
        new Date(base + i * 60_000 + 5_000),
      );
    }
    // One sample of a page: a new browser context, navigation to the selectors being on screen.
    const render = async (hash: string, ready: string[]) => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const api: string[] = [];
      page.on("request", (r) => {
        const url = new URL(r.url());
        if (url.pathname.startsWith("/api/")) api.push(`${r.method()} ${url.pathname}${url.search}`);
      });
      const started = performance.now();
      await page.goto(`${local.url}/${hash}`, { waitUntil: "commit" });
      for (const selector of ready) await page.waitForSelector(selector, { timeout: 30_000 });
      const ms = Math.round(performance.now() - started);
      const inPage = Math.round(await page.evaluate(() => performance.now()));
      // Where the time went, in the page's own clock (ms since navigation start).
      const resources = await page.evaluate(() =>
        performance
          .getEntriesByType("resource")
          .map((e) => `${new URL(e.name).pathname} ${Math.round(e.startTime)}+${Math.round(e.duration)}`),
      );
      await context.close();
      return { ms, inPage, resources, api };
    };
    const getAlone = async () => {
      const t0 = performance.now();
      const res = await fetch(`${local.url}/api/executions/${run.id}`);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`GET /api/executions/${run.id}: ${res.status}`);
      return performance.now() - t0;
    };
    await getAlone(); // warm-up, not counted
    const runSamples: Array<Awaited<ReturnType<typeof render>>> = [];
    const listSamples: Array<Awaited<ReturnType<typeof render>>> = [];
    const gets: number[] = [];
    // Interleaved, so a change in the machine's load hits all three alike.
    for (let i = 0; i < SAMPLES; i++) {
      runSamples.push(
        await render(`#/runs/${run.id}`, ["#graph svg [data-state=Report]", "#targets tbody tr"]),
      );
      gets.push(await getAlone());
      listSamples.push(await render("#/runs", ["#runs tbody tr"]));
      gets.push(await getAlone());
    }
    const summary = (xs: Array<Awaited<ReturnType<typeof render>>>) => ({
      medianMs: median(xs.map((x) => x.ms)),
      samplesMs: xs.map((x) => x.ms),
      inPageMedianMs: median(xs.map((x) => x.inPage)),
      lastSampleResources: xs.at(-1)?.resources,
      apiRequests: xs.at(-1)?.api,
    });
    const runPage = summary(runSamples);
    const runsList = summary(listSamples);
    const getMedian = Number(median(gets).toFixed(1));
    const ratio = (ms: number) => Number((ms / getMedian).toFixed(2));
    return [
      weight(),
      { figure: "console-first-render", page: "run", runsInStore: RUNS, samples: SAMPLES, ...runPage },
      { figure: "console-first-render", page: "runs", runsInStore: RUNS, samples: SAMPLES, ...runsList },
      {
        figure: "console-vs-get",
        note: "first render (in the page's clock, from navigation start) over GET /api/executions/:id alone, interleaved in one run",
        getExecutionMedianMs: getMedian,
        runPageRatio: ratio(runPage.inPageMedianMs),
        runsListRatio: ratio(runsList.inPageMedianMs),
        runPageRatioWithNewContext: ratio(runPage.medianMs),
        runsListRatioWithNewContext: ratio(runsList.medianMs),
        target: 2,
        withinTarget: ratio(runPage.inPageMedianMs) <= 2 && ratio(runsList.inPageMedianMs) <= 2,
      },
    ];
  } finally {
    await browser.close();
    await local.stop();
  }
}
