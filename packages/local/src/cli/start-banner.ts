/**
 * What `reflex start` prints once it listens: where everything is, and commands to try that
 * reach *this* server from another terminal — plain `npx reflex …` when the CLI will find it
 * (the port file in the default data dir, or the default port), else with `REFLEX_URL=…`.
 */
import { resolve } from "node:path";
import { faultView } from "../cloud/http.ts";
import type { LocalMode } from "../local-mode.ts";
import { formatFault } from "./cloud.ts";
import { DEFAULT_DATA_DIR, defaultServerUrl } from "./transport.ts";

export interface BannerOptions {
  readyMs: number;
  /** The data dir as the user gave it (`--data`, `REFLEX_DATA_DIR` or `.reflex`). */
  dataDir: string;
  /** Where the CLI in another terminal would look (default this process's cwd and env). */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export async function readyBanner(local: LocalMode, opts: BannerOptions): Promise<string> {
  const runbooks = (
    (await (await fetch(`${local.url}/api/runbooks`)).json()) as {
      runbooks: Array<{ name: string }>;
    }
  ).runbooks.map((r) => r.name);
  const faults = local.realCloud ? [] : local.cloud.faults().map(faultView);
  const endpoints = Object.entries(local.realCloud?.endpoints ?? {});
  const cloud = local.realCloud
    ? `the AWS account your credentials reach (REFLEX_CLOUD=aws)${endpoints.length ? `; ${endpoints.map(([s, e]) => `${s} at ${e}`).join(", ")}` : ""}`
    : `simulated account: ${local.cloud.instances().length} instances, ${local.cloud.snapshots().length} snapshots`;
  const noFaults = local.realCloud
    ? "none: reflex chaos injects faults into the simulated account only"
    : "none armed (reflex chaos add --op ec2:CreateSnapshot --error RequestLimitExceeded --rate 0.3)";
  const prefix = tryPrefix(local.url, opts);
  const reflex = `${prefix}npx reflex`;
  // The port file is found from this directory only; elsewhere the URL must be named.
  const elsewhere =
    !prefix && local.url !== defaultServerUrl(opts.env ?? process.env)
      ? `\n  (from another directory: REFLEX_URL=${local.url} npx reflex …)`
      : "";
  return `Reflex local mode is ready in ${opts.readyMs} ms — ${local.url}
  dashboard   ${local.url}/${local.idp ? `\n  sign-in     ${local.idp.issuer} (OIDC, --sso): ${local.idp.users.map((u) => u.sub).join(", ") || "no users: add people with oidc: subjects or console.localUsers"}` : ""}
  API         ${local.url}/api/runbooks
  DynamoDB    ${local.storage.dynamoEndpoint} (dynalite, data in ${opts.dataDir}/)
  S3          ${local.storage.s3Endpoint} (s3rver, bucket reflex-local-reports)
  cloud       ${cloud}
  runbooks    ${runbooks.join(", ")}
  faults      ${faults.length ? faults.map(formatFault).join("; ") : noFaults}
  schedules   ${local.jobs.map((j) => `${j.name} (${j.expression} ${j.timezone}, next ${j.nextRun()?.toISOString() ?? "never"})`).join("; ") || "none"}

Try, in another terminal:
  ${reflex} run backup-snapshot --param selector.tag.Backup=daily --dry-run --wait
  ${reflex} run backup-snapshot --param selector.tag.Backup=daily --wait
  ${reflex} executions${elsewhere}
Press Ctrl-C to stop.`;
}

/**
 * `REFLEX_URL=… ` when a CLI started in the same directory and environment would not find this
 * server by itself; the port file (when the data dir is the one the CLI reads) or the default
 * port otherwise does.
 */
export function tryPrefix(url: string, opts: Pick<BannerOptions, "dataDir" | "cwd" | "env">): string {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const cliDataDir = resolve(cwd, env.REFLEX_DATA_DIR || DEFAULT_DATA_DIR);
  const found = env.REFLEX_URL
    ? env.REFLEX_URL.replace(/\/+$/, "")
    : resolve(cwd, opts.dataDir) === cliDataDir
      ? url
      : defaultServerUrl(env);
  return found === url ? "" : `REFLEX_URL=${url} `;
}
