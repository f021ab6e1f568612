/**
 * CPU profiles of chosen phases of a bench (the gate's slices of the alarm storm, not the raw
 * writes or the runs between them), summed into where the time went: each sample's own function
 * put in a part (the store's own work, the AWS SDK client, HTTP, zod, the local engine, or the
 * project file it is in), and the SDK's and HTTP's samples also charged to the nearest project
 * function on their stack (which of Reflex's calls paid for them). Turn on with
 * `BENCH_STORM_PROFILE=<file.json>`; the raw profiles go beside it for a closer look.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** The part of the code a frame's script belongs to. */
function partOf(url: string, fn: string): string {
  if (!url) return fn.startsWith("(") ? fn : "(native)";
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/g);
  if (m) {
    const pkg = (m[m.length - 1] as string).replace("node_modules/", "");
    if (
      /^(dynalite|level|memdown|abstract-|lock|once|big\.js|async|lazy|subleveldown|encoding|deferred|memory-level|classic-level|browser-level|module-error|maybe-combine|queue-microtask|catering|napi-macros|node-gyp-build)/.test(
        pkg,
      )
    )
      return "store (dynalite)";
    if (pkg.startsWith("@aws-sdk/") || pkg.startsWith("@smithy/") || pkg.startsWith("@aws-crypto/"))
      return "AWS SDK client";
    if (pkg === "zod") return "zod";
    if (pkg === "aws-local-stepfunctions") return "local engine";
    if (pkg.startsWith("@aws-lambda-powertools/") || pkg.startsWith("@middy/")) return "middy/Powertools";
    return `npm:${pkg}`;
  }
  if (url.startsWith("node:")) {
    if (/http|net|stream|_http|tls|dns|url|events|buffer/.test(url)) return "node:http/stream";
    return "node:other";
  }
  const p = url.match(/packages\/([^/]+)\/src\/(.*)$/);
  if (p) return `${p[1]}/${p[2]}`;
  return url.replace(/^file:\/\/.*?\/(bench|test)\//, "$1/");
}

const OWN = /packages\/(core|functions|local)\/src\//;

export class PhaseProfiler {
  readonly #session = new Session();
  readonly #profiles: Profile[] = [];
  #on = false;

  constructor(readonly file: string | undefined) {}

  get enabled(): boolean {
    return Boolean(this.file);
  }

  async start(): Promise<void> {
    if (!this.file) return;
    if (!this.#on) {
      this.#session.connect();
      await this.#session.post("Profiler.enable");
      await this.#session.post("Profiler.setSamplingInterval", { interval: 200 });
      this.#on = true;
    }
    await this.#session.post("Profiler.start");
  }

  async stop(): Promise<void> {
    if (!this.file) return;
    const { profile } = (await this.#session.post("Profiler.stop")) as unknown as { profile: Profile };
    this.#profiles.push(profile);
  }

  /** Sums the profiles: ms by part, by project function, and SDK/HTTP time by the project function that caused it. */
  summary(per: number): Record<string, unknown> {
    const byPart: Record<string, number> = {};
    const byOwnFn: Record<string, number> = {};
    const sdkByCaller: Record<string, number> = {};
    let total = 0;
    for (const profile of this.#profiles) {
      const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
      const parent = new Map<number, number>();
      for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
      const samples = profile.samples ?? [];
      const deltas = profile.timeDeltas ?? [];
      for (let i = 0; i < samples.length; i++) {
        const ms = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000;
        const node = nodes.get(samples[i] as number) as Node;
        const { url, functionName } = node.callFrame;
        if (functionName === "(idle)") continue;
        total += ms;
        const part = partOf(url, functionName);
        byPart[part] = (byPart[part] ?? 0) + ms;
        if (OWN.test(url)) {
          const k = `${partOf(url, functionName)}:${functionName || "(anonymous)"}:${node.callFrame.lineNumber + 1}`;
          byOwnFn[k] = (byOwnFn[k] ?? 0) + ms;
        } else if (part === "AWS SDK client" || part.startsWith("node:") || part === "zod") {
          // The nearest of Reflex's own frames above it: who asked.
          let up = parent.get(node.id);
          let caller = "(async: no project frame)";
          while (up !== undefined) {
            const f = (nodes.get(up) as Node).callFrame;
            if (OWN.test(f.url)) {
              caller = `${partOf(f.url, f.functionName)}:${f.functionName || "(anonymous)"}`;
              break;
            }
            up = parent.get(up);
          }
          const k = `${part} <- ${caller}`;
          sdkByCaller[k] = (sdkByCaller[k] ?? 0) + ms;
        }
      }
    }
    const top = (o: Record<string, number>, n: number) =>
      Object.fromEntries(
        Object.entries(o)
          .sort(([, a], [, b]) => b - a)
          .slice(0, n)
          .map(([k, v]) => [k, { ms: Math.round(v), msPer: +(v / per).toFixed(3) }]),
      );
    const out = {
      busyMs: Math.round(total),
      busyMsPerEvent: +(total / per).toFixed(3),
      byPart: top(byPart, 40),
      byOwnFunction: top(byOwnFn, 40),
      sdkAndNodeByCaller: top(sdkByCaller, 40),
    };
    if (this.file) {
      writeFileSync(this.file, `${JSON.stringify(out, null, 2)}\n`);
      for (const [i, p] of this.#profiles.entries())
        writeFileSync(this.file.replace(/\.json$/, `-${i}.cpuprofile`), JSON.stringify(p));
    }
    return out;
  }
}
