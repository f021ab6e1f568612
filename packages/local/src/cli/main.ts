/**
 * The `reflex` CLI. Exit codes: 0 ok, 1 the operation failed (e.g. the runbook failed),
 * 2 bad usage or bad input. `--json` prints machine-readable output only.
 */

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig, Patterns, ValidationError } from "@reflex/core";
import { ApiClient, ApiError } from "./client.ts";
import { formatExecution, formatExecutionList } from "./format.ts";
import { parseParamPairs } from "./params.ts";
import * as People from "./people.ts";
import { readyBanner } from "./start-banner.ts";
import { serverUrl } from "./transport.ts";

export const USAGE = `reflex — event-driven runbook automation for AWS

Usage:
  reflex start [--port 8787] [--config reflex.config.ts] [--data .reflex] [--quiet]
  reflex run <runbook> [--param key=value]… [--dry-run] [--wait] [--json] [--url URL]
             [--override-freeze "<reason>"] [--override-pause "<reason>"] [--as <actor>]
  reflex approvals [--all] [--json] · reflex approve <id> [--comment …] · reflex reject <id> --reason …
  reflex abort <id> --reason … [--now] · reflex rerun <id> [--dry-run] · reflex whoami [--json]
  reflex executions [--json] · reflex status [--json]
  reflex show <execution-id|prefix|latest> [--json]
  reflex config check [--config reflex.config.ts]
  reflex events put <file.json> [--json] [--url URL]
  reflex events test --pattern <pattern.json> --event <event.json>
  reflex pause [--reason …] · reflex resume · reflex guardrails [--json]
  reflex pairs [--json]                  failover pairs and who is primary now
  reflex cloud [--json] · reflex cloud calls [--mutating] [--since 10m|ISO|#] [--execution id] [--json]
  reflex chaos add --op ec2:CreateSnapshot --error RequestLimitExceeded [--rate 0.3] [--count N] [--burst N] [--latency 500ms]
  reflex chaos list [--json] · reflex chaos clear [id]
  reflex outbox [--thread TS] [--channel ID] [--json]   what local mode would have posted to Slack
  reflex windows [--config …] [--from ISO] [--count N] [--json]
  reflex cloud seed --instances N [--patch-group fleet] [--data .reflex] [--json]
  reflex demo

Exit codes: 0 ok, 1 the operation failed, 2 bad usage or bad input.`;

class UsageError extends Error {}

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

function defaultUrl(): string {
  return serverUrl();
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "start":
        return await cmdStart(rest);
      case "run":
        return await cmdRun(rest);
      case "executions":
        return await cmdExecutions(rest);
      case "show":
        return await cmdShow(rest);
      case "config":
        return await cmdConfig(rest);
      case "events":
        return await cmdEvents(rest);
      case "cloud":
        if (rest[0] === "seed") return await cmdLocalTool("cloud seed", rest);
        return await (await import("./cloud.ts")).cmdCloud(rest);
      case "chaos":
        return await (await import("./cloud.ts")).cmdChaos(rest);
      case "demo": {
        const { demo } = await import("./demo.ts");
        return await demo();
      }
      case "pairs":
        return await cmdPairs(rest);
      case "windows":
        return await cmdLocalTool("windows", rest);
      case "pause":
      case "resume":
      case "guardrails":
        return await cmdGuardrails(command, rest);
      case "status":
        return await cmdStatus(rest);
      case "approvals":
      case "approve":
      case "reject":
      case "abort":
      case "rerun":
      case "whoami":
        return await cmdPeople(command, rest);
      case "outbox": {
        const { values } = parse(rest, {
          thread: { type: "string" },
          channel: { type: "string" },
          limit: { type: "string" },
          json: { type: "boolean" },
          url: { type: "string" },
        });
        const { outboxCommand } = await import("../outbox.ts");
        return await outboxCommand(values, (values.url as string | undefined) ?? defaultUrl(), out);
      }
      case undefined:
      case "help":
      case "--help":
      case "-h":
        out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof People.PeopleUsageError) {
      err(`reflex: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof ConfigError) {
      err(`reflex: ${e.message}`);
      for (const i of e.issues) err(`  ${i.path}: ${i.message}`);
      return 2;
    }
    if (e instanceof ApiError) {
      err(`reflex: ${e.message}`);
      // Bad input (400, 404, 413, 415) is a usage problem; a refusal (403 access, 409 a
      // guardrail or a run in the wrong state) means the operation failed.
      return e.status >= 400 && e.status < 500 && e.status !== 409 && e.status !== 403 ? 2 : 1;
    }
    if (
      (e as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ||
      (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      err(`reflex: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    err(`reflex: ${(e as Error).message}`);
    return 1;
  }
}

type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>["options"]>;

function parse(args: string[], options: Options) {
  return parseArgs({ args, options, allowPositionals: true, strict: true });
}

/** `reflex windows` and `reflex cloud seed`: local tools; a RangeError is bad usage (exit 2). */
async function cmdLocalTool(tool: "windows" | "cloud seed", args: string[]): Promise<number> {
  const run =
    tool === "windows"
      ? (await import("./windows.ts")).cmdWindows
      : (await import("./cloud-seed.ts")).cmdCloudSeed;
  try {
    return await run(args, out);
  } catch (e) {
    throw e instanceof RangeError ? new UsageError(e.message) : e;
  }
}

async function cmdStart(args: string[]): Promise<number> {
  const { values } = parse(args, {
    port: { type: "string" },
    config: { type: "string" },
    data: { type: "string" },
    quiet: { type: "boolean" },
  });
  const began = performance.now();
  const port = Number(values.port ?? process.env.REFLEX_PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port '${values.port}' is not a port`);
  const config = await loadConfig((values.config as string | undefined) ?? DEFAULT_CONFIG_FILE);
  const { startLocal } = await import("../local-mode.ts");
  const dataDir = (values.data as string | undefined) ?? process.env.REFLEX_DATA_DIR ?? ".reflex";
  const local = await startLocal({ config, port, dataDir, quiet: Boolean(values.quiet) });
  const readyMs = Math.round(performance.now() - began);
  out(await readyBanner(local, { readyMs, dataDir }));
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  err("\nstopping…");
  await local.stop();
  return 0;
}

async function cmdRun(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    param: { type: "string", multiple: true },
    "dry-run": { type: "boolean" },
    wait: { type: "boolean" },
    json: { type: "boolean" },
    url: { type: "string" },
    as: { type: "string" },
    "override-freeze": { type: "string" },
    "override-pause": { type: "string" },
  });
  const [runbook, extra] = positionals;
  if (!runbook) throw new UsageError("run needs a runbook name, e.g. reflex run backup-snapshot");
  if (extra) throw new UsageError(`unexpected argument '${extra}'`);
  const api = client(values);
  const schema = await api.runbookSchema(runbook);
  let params: Record<string, unknown>;
  try {
    params = parseParamPairs((values.param as string[] | undefined) ?? [], schema);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const started = await api.startExecution(runbook, params, Boolean(values["dry-run"]), {
    overrideFreeze: values["override-freeze"] as string | undefined,
    overridePause: values["override-pause"] as string | undefined,
  });
  if (started.approval?.required && !values.json)
    err(
      `${started.executionId} waits for approval (${started.approval.reasons?.join("; ")}); approvers: ${started.approval.approvers?.join(", ") || "anyone allowed to approve"} — reflex approve ${started.executionId}`,
    );
  if (!values.wait) {
    if (values.json) out(JSON.stringify(started));
    else
      out(
        `started ${started.executionId}${values["dry-run"] ? " (dry-run)" : ""}\n  follow it: npx reflex show ${started.executionId}`,
      );
    return 0;
  }
  if (!values.json) err(`started ${started.executionId}${values["dry-run"] ? " (dry-run)" : ""}; waiting…`);
  const done = await api.waitForExecution(started.executionId);
  if (values.json) out(JSON.stringify(done));
  else out(formatExecution(done));
  return done.status === "SUCCEEDED" ? 0 : 1;
}

async function cmdExecutions(args: string[]): Promise<number> {
  const { values } = parse(args, {
    json: { type: "boolean" },
    url: { type: "string" },
    limit: { type: "string" },
  });
  const api = new ApiClient((values.url as string | undefined) ?? defaultUrl());
  const page = await api.listExecutions(values.limit ? Number(values.limit) : 25);
  out(values.json ? JSON.stringify(page) : formatExecutionList(page.executions));
  return 0;
}

async function cmdShow(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: "boolean" }, url: { type: "string" } });
  if (!positionals[0]) throw new UsageError("show needs an execution id, a prefix of one, or latest");
  const api = new ApiClient((values.url as string | undefined) ?? defaultUrl());
  const execution = await api.getExecution(await resolveId(api, positionals[0]));
  out(values.json ? JSON.stringify(execution) : formatExecution(execution));
  return 0;
}

async function cmdConfig(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "check")
    throw new UsageError(`unknown config command '${sub ?? ""}'; try: reflex config check`);
  const { values } = parse(rest, { config: { type: "string" }, json: { type: "boolean" } });
  const file = (values.config as string | undefined) ?? DEFAULT_CONFIG_FILE;
  try {
    const config = await loadConfig(file);
    if (values.json) out(JSON.stringify({ ok: true, file }));
    else
      out(
        `${file}: ok — ${config.rules.length} rule(s), ${config.schedules.length} schedule(s), ${config.windows.length} window(s), ${config.freezes.length} freeze(s)`,
      );
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (values.json) out(JSON.stringify({ ok: false, file, issues: e.issues }));
    else {
      err(`${file}: ${e.issues.length} problem(s)`);
      for (const i of e.issues) err(`  ${i.path}: ${i.message}`);
    }
    return 2;
  }
}

function readFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${what} file '${path}': ${(e as Error).message}`);
  }
}

async function cmdEvents(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "test") {
    const { values } = parse(rest, { pattern: { type: "string" }, event: { type: "string" } });
    if (!values.pattern || !values.event)
      throw new UsageError("events test needs --pattern <file.json> and --event <file.json>");
    try {
      out(
        String(
          Patterns.testEventPattern(
            readFile(values.pattern as string, "pattern"),
            readFile(values.event as string, "event"),
          ),
        ),
      );
      return 0;
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      err(`reflex: ${e.message}${e.path ? ` (at ${e.path})` : ""}`);
      return 2;
    }
  }
  if (sub === "put") {
    const { values, positionals } = parse(rest, { json: { type: "boolean" }, url: { type: "string" } });
    if (!positionals[0])
      throw new UsageError("events put needs a file: reflex events put examples/alarm-cpu-high.json");
    let body: unknown;
    try {
      body = JSON.parse(readFile(positionals[0], "event"));
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`'${positionals[0]}' is not JSON: ${(e as Error).message}`);
    }
    const api = new ApiClient((values.url as string | undefined) ?? defaultUrl());
    const { results } = await api.putEvents(body);
    if (values.json) out(JSON.stringify({ results }));
    else
      for (const r of results) {
        out(
          `${r.eventId}  ${r.decision}${r.rule ? `  rule ${r.rule}` : ""}${r.executionId ? `  → ${r.executionId}` : ""}${r.guardrail ? `  [${r.guardrail}]` : ""}\n  ${r.reason}`,
        );
      }
    // 2 only when nothing was accepted (all bad input); 1 when some entries were taken and
    // others rejected or must be sent again (in-progress); 0 when every entry was handled.
    const refused = results.filter((r) => r.decision === "rejected" || r.decision === "in-progress");
    if (refused.length === 0) return 0;
    if (results.every((r) => r.decision === "rejected")) return 2;
    if (results.some((r) => r.decision === "in-progress"))
      err("some events are still being handled by an earlier delivery; send the file again in a minute");
    return 1;
  }
  throw new UsageError(
    `unknown events command '${sub ?? ""}'; try: reflex events put <file> or reflex events test`,
  );
}

async function cmdPairs(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: "boolean" }, url: { type: "string" } });
  const { pairs } = await new ApiClient((values.url as string | undefined) ?? defaultUrl()).pairs();
  if (values.json) out(JSON.stringify({ pairs }));
  else if (pairs.length === 0) out("no pairs in the config");
  for (const p of values.json ? [] : pairs)
    out(
      `${p.name}: primary ${p.primary}, standby ${p.standby}${p.executionId ? ` (since ${p.since}, ${p.executionId})` : " (as configured)"}`,
    );
  return 0;
}

async function cmdGuardrails(command: string, args: string[]): Promise<number> {
  const { values } = parse(args, {
    reason: { type: "string" },
    json: { type: "boolean" },
    url: { type: "string" },
  });
  const api = new ApiClient((values.url as string | undefined) ?? defaultUrl());
  if (command === "pause") await api.pause((values.reason as string | undefined) ?? "paused from the CLI");
  if (command === "resume") await api.resume();
  const state = await api.guardrails();
  if (values.json) out(JSON.stringify(state));
  else {
    out(
      state.paused ? `automatic runs PAUSED by ${state.pausedBy}: ${state.reason}` : "automatic runs enabled",
    );
    out(
      `breaker: ${state.breaker.recentFailures}/${state.breaker.failures} failures within ${Math.round(state.breaker.within / 60_000)} min`,
    );
    for (const f of state.freezes)
      out(`freeze ${f.name}: ${f.from} → ${f.to}${f.active ? "  (ACTIVE)" : ""}`);
  }
  return 0;
}

function client(values: Record<string, unknown>): ApiClient {
  const url = (values.url as string | undefined) ?? defaultUrl();
  return values.as ? new ApiClient(url, values.as as string) : new ApiClient(url);
}

async function cmdPeople(command: string, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    json: { type: "boolean" },
    url: { type: "string" },
    as: { type: "string" },
    all: { type: "boolean" },
    comment: { type: "string" },
    reason: { type: "string" },
    now: { type: "boolean" },
    "dry-run": { type: "boolean" },
    "override-freeze": { type: "string" },
    "override-pause": { type: "string" },
  });
  const api = client(values);
  const json = Boolean(values.json);
  // approve / reject / abort / rerun take an id, a unique prefix of one, or `latest`, like show.
  const id =
    positionals[0] && command !== "approvals" && command !== "whoami"
      ? await resolveId(api, positionals[0])
      : positionals[0];
  switch (command) {
    case "approvals":
      return People.approvals(api, { json, all: Boolean(values.all) });
    case "approve":
    case "reject":
      return People.answer(api, command, id, {
        comment: values.comment as string | undefined,
        reason: (values.reason as string | undefined) ?? (values.comment as string | undefined),
        json,
      });
    case "abort":
      return People.abort(api, id, {
        reason: values.reason as string | undefined,
        now: Boolean(values.now),
        json,
      });
    case "rerun":
      return People.rerun(api, id, {
        dryRun: values["dry-run"] as boolean | undefined,
        overrideFreeze: values["override-freeze"] as string | undefined,
        overridePause: values["override-pause"] as string | undefined,
        json,
      });
    default:
      return People.whoami(api, { json });
  }
}

/** `latest`, a unique prefix of a recent run's id, or the id itself. */
async function resolveId(api: ApiClient, wanted: string): Promise<string> {
  if (wanted !== "latest" && /-\d{8}T\d{6}Z-[0-9a-f]{6}$/.test(wanted)) return wanted;
  const { executions } = await api.listExecutions(200);
  if (wanted === "latest") {
    if (!executions[0]) throw new UsageError("there are no executions yet");
    return executions[0].id;
  }
  const matches = executions.filter((e) => e.id.startsWith(wanted));
  if (matches.length === 1) return matches[0].id;
  if (matches.length > 1)
    throw new UsageError(
      `'${wanted}' matches ${matches.length} runs: ${matches
        .slice(0, 5)
        .map((e) => e.id)
        .join(", ")}…`,
    );
  return wanted; // not among the recent ones: let the server say whether it exists
}

async function cmdStatus(args: string[]): Promise<number> {
  const { values } = parse(args, {
    json: { type: "boolean" },
    url: { type: "string" },
    as: { type: "string" },
  });
  const api = client(values);
  const [page, approvals, guardrails, locks] = await Promise.all([
    api.listExecutions(200),
    api.call<{
      approvals: Array<{ executionId: string; runbook: string; requestedBy: string; deadline: string }>;
    }>("GET", "/api/approvals"),
    api.call<{
      paused: boolean;
      pausedBy?: string;
      reason?: string;
      breaker: { recentFailures: number; failures: number };
      freezes: Array<{ name: string; from: string; to: string; active: boolean }>;
    }>("GET", "/api/guardrails"),
    api.call<{ locks: Array<{ target: string; owner: string; leaseUntil: number }> }>("GET", "/api/locks"),
  ]);
  const running = page.executions.filter(
    (e) => e.status === "RUNNING" || e.status === "WAITING_FOR_APPROVAL",
  );
  const lost = page.executions.filter((e) => e.attention);
  const now = Date.now();
  const freezes = guardrails.freezes.filter((f) => f.active || Date.parse(f.from) > now);
  if (values.json) {
    out(
      JSON.stringify({
        running,
        approvals: approvals.approvals,
        guardrails,
        freezes,
        locks: locks.locks,
        needsAttention: lost,
      }),
    );
    return 0;
  }
  out(
    guardrails.paused
      ? `PAUSED by ${guardrails.pausedBy}: ${guardrails.reason ?? ""} (reflex resume)`
      : "automation: on",
  );
  out(
    `breaker: ${guardrails.breaker.recentFailures} of ${guardrails.breaker.failures} failures in its window`,
  );
  for (const f of freezes)
    out(`freeze ${f.name}: ${f.active ? "ACTIVE until" : `from ${f.from} to`} ${f.to}`);
  out(`running: ${running.length}`);
  for (const e of running)
    out(
      `  ${e.id}  ${e.runbook}  ${e.status}  ${e.trigger.kind}${e.trigger.name ? `:${e.trigger.name}` : ""}`,
    );
  out(`waiting for approval: ${approvals.approvals.length}`);
  for (const a of approvals.approvals)
    out(`  ${a.executionId}  ${a.runbook}  asked by ${a.requestedBy}  deadline ${a.deadline}`);
  out(`locks held: ${locks.locks.length}`);
  for (const l of locks.locks) out(`  ${l.target}  by ${l.owner}`);
  if (lost.length) {
    out(`needs attention (lost runs): ${lost.length}`);
    for (const e of lost) out(`  ${e.id}  ${e.runbook}  — reflex show ${e.id}`);
  }
  return 0;
}
