/**
 * Local mode's own commands: `start` (the whole backend on 127.0.0.1), `demo`, `outbox`.
 */
import { Accounts, DEFAULT_CONFIG_FILE, loadConfig } from "@reflex/core";
import type { Command } from "commander";
import { clientFor, type Io, type ServerOptions, UsageError } from "../io.ts";
import * as Runs from "../runs.ts";
import { readyBanner } from "../start-banner.ts";
import { type CommandContext, finish } from "./context.ts";

/** `reflex start`. */
export function startCommand(program: Command, { io, act }: CommandContext): void {
  finish(
    program
      .command("start")
      .description("local mode: the whole backend on 127.0.0.1 with a seeded simulated cloud")
      .option("--port <port>", "port to listen on (0 picks a free one)", process.env.REFLEX_PORT ?? "8787")
      .option("--config <file>", "the automation config", DEFAULT_CONFIG_FILE)
      .option("--data <dir>", "where local data is kept", process.env.REFLEX_DATA_DIR ?? ".reflex")
      .option("--quiet", "do not print a line per event decision and run transition")
      .option("--sso", "the console signs in through an OIDC provider on loopback (users from the config)")
      .option("--accounts <n>", "simulate this many member accounts (0-9) beside the hub, with simulated STS")
      .option(
        "--regions <n|list>",
        "each member's Regions: a count (first of us-east-1,us-west-2,eu-west-1,ap-southeast-2) or a list",
        "2",
      )
      .action(act((o) => cmdStart(io, o))),
    [
      "reflex start",
      "reflex start --port 8788 --data .reflex-2 --quiet",
      "reflex start --sso",
      "reflex start --accounts 3 --regions 2",
    ],
  );
}

/** `reflex demo`. */
export function demoCommand(program: Command, { act }: CommandContext): void {
  finish(
    program
      .command("demo")
      .description("a scripted scenario, in memory: each runbook, its trigger and its guardrails")
      .action(act(async () => (await import("../demo.ts")).demo())),
    ["reflex demo"],
  );
}

/** `reflex outbox`. */
export function outboxCommand(program: Command, { io, act }: CommandContext): void {
  finish(
    program
      .command("outbox")
      .description("what local mode would have posted to Slack, oldest first")
      .option("--thread <ts>", "one run's thread")
      .option("--channel <id>", "one channel")
      .option("--limit <n>", "at most this many")
      .action(act((o) => cmdOutbox(io, o))),
    ["reflex outbox", "reflex outbox --limit 5 --json"],
    { json: true, server: true, as: false },
  );
}

async function cmdStart(
  io: Io,
  values: {
    port: string;
    config: string;
    data: string;
    quiet?: boolean;
    sso?: boolean;
    accounts?: string;
    regions: string;
  },
): Promise<number> {
  const began = performance.now();
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port '${values.port}' is not a port`);
  const accounts = memberAccounts(values.accounts, values.regions);
  const config = await loadConfig(values.config);
  const { startLocal } = await import("../../local-mode.ts");
  const dataDir = values.data;
  const local = await startLocal({
    config,
    port,
    dataDir,
    quiet: Boolean(values.quiet),
    sso: Boolean(values.sso),
    ...(accounts ? { accounts } : {}),
  });
  const readyMs = Math.round(performance.now() - began);
  io.out(await readyBanner(local, { readyMs, dataDir }));
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  io.err("\nstopping… (Ctrl-C again to quit at once)");
  process.once("SIGINT", () => process.exit(130));
  await local.stop();
  io.err("stopped.");
  return 0;
}

const MEMBER_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];

/** `--accounts 3 --regions 2` (or `--regions us-east-1,eu-west-1`): the simulated members, checked as usage. */
export function memberAccounts(
  count: string | undefined,
  regions: string,
): { count: number; regions: string[] } | undefined {
  if (count === undefined) return undefined;
  const n = Number(count);
  if (!Number.isInteger(n) || n < 0 || n > 9) throw new UsageError(`--accounts '${count}' must be 0 to 9`);
  if (/^\d+$/.test(regions)) {
    const r = Number(regions);
    if (r < 1 || r > MEMBER_REGIONS.length)
      throw new UsageError(`--regions '${regions}' must be 1 to ${MEMBER_REGIONS.length}, or a list`);
    return { count: n, regions: MEMBER_REGIONS.slice(0, r) };
  }
  const list = regions.split(",").map((s) => s.trim());
  const unknown = list.find((r) => !(Accounts.KNOWN_REGIONS as readonly string[]).includes(r));
  if (unknown !== undefined) throw new UsageError(`--regions: unknown Region '${unknown}'`);
  return { count: n, regions: list };
}

async function cmdOutbox(
  io: Io,
  values: ServerOptions & { thread?: string; channel?: string; limit?: string; json?: boolean },
): Promise<number> {
  const { formatEntry } = await import("../../outbox.ts");
  const query = new URLSearchParams();
  for (const k of ["thread", "channel"] as const) if (values[k]) query.set(k, String(values[k]));
  // Checked here: the server takes `abc` or `0` as "the default" and `-5` as "all but the first 5".
  const limit = Runs.parseLimit(values.limit);
  if (limit !== undefined) query.set("limit", String(limit));
  const body = await (await clientFor(values)).call<{ messages: Parameters<typeof formatEntry>[0][] }>(
    "GET",
    `/api/outbox${query.size ? `?${query}` : ""}`,
  );
  const oldestFirst = [...body.messages].reverse();
  io.out(
    values.json ? JSON.stringify(body) : oldestFirst.map(formatEntry).join("\n") || "the outbox is empty",
  );
  return 0;
}
