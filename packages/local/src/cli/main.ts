/**
 * The `reflex` CLI, on commander: every command has `--help` with examples, unknown commands
 * and flags are answered with "did you mean". Exit codes: 0 ok, 1 the operation failed (e.g.
 * the runbook failed), 2 bad usage or bad input, 130 detached with Ctrl-C. `--json` prints
 * machine-readable output only, never coloured.
 */

import { readFileSync } from "node:fs";
import {
  Admission,
  ConfigError,
  configNotes,
  DEFAULT_CONFIG_FILE,
  loadConfig,
  Patterns,
  ValidationError,
} from "@reflex/core";
import { Command, CommanderError, Option } from "commander";
import { ApiError } from "./client.ts";
import { clientFor, type Io, processIo, type ServerOptions, UsageError } from "./io.ts";
import { registerOffHours } from "./offhours-command.ts";
import * as People from "./people.ts";
import { cmdNewRunbook, cmdRunbooksCheck } from "./runbook-author.ts";
import * as Runs from "./runs.ts";
import { readyBanner } from "./start-banner.ts";

type Action = (...args: any[]) => Promise<number | undefined>;

const URL_HELP =
  "the Reflex server: local mode or a deployed API (https, SigV4-signed); default REFLEX_URL, then the port `reflex start` wrote to .reflex/, then http://127.0.0.1:8787";

/**
 * Finishes a command: the shared options after its own (`--json` where it prints data,
 * `--url` where it talks to the server, `--as` where the server records who acted), and the
 * examples its help ends with.
 */
function finish(
  cmd: Command,
  lines: string[],
  shared: { json?: boolean; server?: boolean; as?: boolean } = {},
): Command {
  if (shared.json) cmd.option("--json", "machine-readable output only (JSON, no colour)");
  if (shared.server) cmd.option("--url <url>", URL_HELP);
  if (shared.server && shared.as)
    cmd.option("--as <actor>", "act as this person, e.g. cli:alice (local mode only; default cli:$USER)");
  return cmd.addHelpText("after", `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`);
}

const collect = (value: string, previous: string[]) => [...previous, value];

/**
 * The whole command tree. Actions store their exit code in `state`; nothing here exits the
 * process, so tests run the CLI in-process and walk this tree.
 */
export function buildProgram(io: Io, state: { code: number } = { code: 0 }): Command {
  const act =
    (fn: Action) =>
    async (...args: unknown[]) => {
      state.code = (await fn(...args)) ?? 0;
    };
  const program = new Command("reflex")
    .description("reflex — event-driven runbook automation for AWS")
    .usage("<command> [options]")
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, "")),
      writeErr: (s) => io.err(s.replace(/\n$/, "")),
    })
    .showSuggestionAfterError(true)
    // A command's options stop at its subcommand: `cloud calls --url …` is calls' --url.
    .enablePositionalOptions()
    .showHelpAfterError("(add --help for usage and examples)")
    .exitOverride();
  program.addHelpText(
    "after",
    `
Exit codes: 0 ok, 1 the operation failed, 2 bad usage or bad input, 130 detached (Ctrl-C).

Examples:
  $ reflex start
  $ reflex runbooks backup-snapshot
  $ reflex run backup-snapshot --param selector.tag.Backup=daily --dry-run --wait
  $ reflex status
  $ reflex show latest
  $ reflex <command> --help
`,
  );

  finish(
    program
      .command("start")
      .description("local mode: the whole backend on 127.0.0.1 with a seeded simulated cloud")
      .option("--port <port>", "port to listen on (0 picks a free one)", process.env.REFLEX_PORT ?? "8787")
      .option("--config <file>", "the automation config", DEFAULT_CONFIG_FILE)
      .option("--data <dir>", "where local data is kept", process.env.REFLEX_DATA_DIR ?? ".reflex")
      .option("--quiet", "do not print a line per event decision and run transition")
      .action(act((o) => cmdStart(io, o))),
    ["reflex start", "reflex start --port 8788 --data .reflex-2 --quiet"],
  );

  finish(
    program
      .command("run")
      .description("start a runbook; with --wait, follow its steps until it ends")
      .argument("<runbook>", "a runbook name (reflex runbooks lists them)")
      .option(
        "--param <key=value>",
        "a param; repeat it; dotted keys nest, key:=<json> passes JSON",
        collect,
        [],
      )
      .option("--dry-run", "plan only: no mutating call, the plan is the result")
      .option("--wait", "print each step as it happens and wait for the end (Ctrl-C detaches)")
      .option("--override-freeze <reason>", "start during a change freeze (audited; your role must allow it)")
      .option("--override-pause <reason>", "start while automation is paused (audited)")
      .action(act((runbook, o) => Runs.run(io, runbook, o))),
    [
      "reflex run backup-snapshot --param selector.tag.Backup=daily --dry-run --wait",
      "reflex run scale --param autoScalingGroup=web --param change=+2 --wait",
      "reflex run backup-snapshot --param selector.tag.Role=db --json",
    ],
    { json: true, server: true, as: true },
  );

  finish(
    program
      .command("runbooks")
      .description("the runbooks: name, risk and summary; with a name, its params and an example")
      .argument("[name]", "a runbook name")
      .action(act((name, o) => Runs.runbooks(io, name, o))),
    ["reflex runbooks", "reflex runbooks scale", "reflex runbooks patch --json"],
    { json: true, server: true, as: false },
  );

  finish(
    program
      .command("executions")
      .description("executions, newest first, filtered and paged by the server")
      .option("--status <s[,s]>", "only these statuses, e.g. RUNNING,FAILED")
      .option("--runbook <name>", "only runs of this runbook")
      .option(
        "--since <when>",
        "only runs started since: a duration back from now (2h, 7d) or an RFC 3339 time",
      )
      .option("--limit <n>", "at most this many per page (1-500, default 25)")
      .option("--cursor <cursor>", "the page after this cursor (printed under a page that has more)")
      .option("--all", "follow every page to the end")
      .action(act((o) => Runs.executions(io, o))),
    [
      "reflex executions",
      "reflex executions --status RUNNING,FAILED --since 2h",
      "reflex executions --runbook backup-snapshot --limit 10",
      "reflex executions --all --json",
    ],
    { json: true, server: true, as: false },
  );

  finish(
    program
      .command("show")
      .description(
        "one execution: steps with status and timing, per-target results, plan reasons, rollback, audit, links",
      )
      .argument("<id>", "an execution id, a unique prefix of one, or latest")
      .option("--follow", "keep showing new steps until the run ends (Ctrl-C stops following, not the run)")
      .action(act((id, o) => Runs.show(io, id, o))),
    ["reflex show latest", "reflex show backup-snapshot --json", "reflex show latest --follow"],
    { json: true, server: true, as: false },
  );

  finish(
    program
      .command("logs")
      .description(
        "a run as chronological lines: steps started and ended (target, duration, error), audit entries",
      )
      .argument("<id>", "an execution id, a unique prefix of one, or latest")
      .option("--follow", "keep printing new lines until the run ends (Ctrl-C stops following, not the run)")
      .addHelpText("after", "\n--json prints one JSON object per line.")
      .action(act((id, o) => Runs.logs(io, id, o))),
    ["reflex logs latest", "reflex logs latest --follow", "reflex logs latest --json"],
    { json: true, server: true, as: false },
  );

  finish(
    program
      .command("audit")
      .description("the audit trail, newest first: every decision with its actor and reason")
      .option(
        "--execution <id>",
        "only entries about this execution: an id, a unique prefix of one, or latest",
      )
      .option("--actor <actor>", "only entries by this actor, e.g. cli:alice or rule:web-cpu-high")
      .option("--kind <kind>", "only entries of this kind, e.g. event.suppressed or execution.failed")
      .option("--since <when>", "only entries since: a duration back from now (2h) or an RFC 3339 time")
      .option("--limit <n>", "at most this many (1-500, default 50)")
      .option("--cursor <cursor>", "the page after this cursor")
      .action(act((o) => Runs.audit(io, o))),
    [
      "reflex audit",
      "reflex audit --kind event.suppressed --since 1h",
      "reflex audit --actor cli:alice --json",
    ],
    { json: true, server: true, as: false },
  );

  finish(
    program
      .command("status")
      .description("what runs, what waits for approval, pause and breaker, freezes, locks, cooldowns")
      .action(act((o) => Runs.status(io, o))),
    ["reflex status", "reflex status --json"],
    { json: true, server: true, as: true },
  );

  // The runbook author's commands (runbook-author.ts).
  const runbooks = program.commands.find((c) => c.name() === "runbooks") as Command;
  finish(
    runbooks
      .command("check")
      .description(
        "lint the runbooks a module exports: manifest, dry-run and rollback, example, permissions vs SDK imports",
      )
      .argument("<file>", "the module, e.g. runbooks/restart-service/index.ts")
      .action(act((file, o) => cmdRunbooksCheck(io, file, o))),
    ["reflex runbooks check examples/runbooks/restart-service/index.ts"],
    { json: true },
  );
  const scaffold = program.command("new").description("start something new from a template");
  finish(
    scaffold
      .command("runbook")
      .description(
        "write a runbook folder: manifest, steps, rollback, dry-run, permissions, a test, a doc page",
      )
      .argument("<name>", "the runbook's name, kebab-case")
      .option("--dir <dir>", "where its folder goes", "runbooks")
      .action(act((name, o) => cmdNewRunbook(io, name, o))),
    ["reflex new runbook restart-queue --dir runbooks"],
    { json: true },
  );
  finish(scaffold, ["reflex new runbook restart-queue --dir runbooks"]);

  const config = program.command("config").description("the automation config");
  finish(
    config
      .command("check")
      .description("validate the config; print each problem with its path (exit 2 when there is one)")
      .option("--config <file>", "the config file", DEFAULT_CONFIG_FILE)
      .action(act((o) => cmdConfigCheck(io, o))),
    ["reflex config check", "reflex config check --config reflex.config.ts --json"],
    { json: true },
  );
  finish(config, ["reflex config check"]);

  const events = program.command("events").description("EventBridge events: send them, test patterns");
  finish(
    events
      .command("put")
      .description(
        "send one EventBridge event (or { Entries: [...] }) to the bus; exit 1 when some were refused, 2 when all were",
      )
      .argument("<file>", "a JSON file")
      .action(act((file, o) => cmdEventsPut(io, file, o))),
    [
      "reflex events put examples/alarm-cpu-high.json",
      "reflex events put examples/alarm-cpu-high.json --json",
    ],
    { json: true, server: true, as: false },
  );
  finish(
    events
      .command("test")
      .description("print true or false, like aws events test-event-pattern; bad JSON or pattern: exit 2")
      .requiredOption("--pattern <file>", "an EventBridge pattern (JSON file)")
      .requiredOption("--event <file>", "an event (JSON file)")
      .action(act((o) => cmdEventsTest(io, o))),
    ["reflex events test --pattern test/fixtures/pattern.json --event examples/alarm-cpu-high.json"],
  );
  finish(events, ["reflex events put examples/alarm-cpu-high.json"]);

  const cloud = finish(
    program
      .command("cloud")
      .description("the simulated AWS account of a running local server")
      .action(act(async (o) => (await import("./cloud.ts")).account(io, o))),
    ["reflex cloud", "reflex cloud calls --mutating --since 10m", "reflex cloud --json"],
    { json: true, server: true, as: false },
  );
  finish(
    cloud
      .command("calls")
      .description("the call log: service, operation, params digest, outcome, time, execution")
      .option("--mutating", "only calls that could change state")
      .option("--since <when>", "an ISO time, a duration back from now (10m), or a call number")
      .option(
        "--execution <id>",
        "only calls made by this execution's steps: an id, a unique prefix of one, or latest",
      )
      .option("--limit <n>", "at most this many, the newest", "100")
      .action(act(async (o) => (await import("./cloud.ts")).calls(io, o))),
    ["reflex cloud calls", "reflex cloud calls --mutating --since 10m --json"],
    { json: true, server: true, as: false },
  );
  finish(
    cloud
      .command("seed")
      .description("add SSM-managed instances to the saved simulated cloud (run it before reflex start)")
      .requiredOption("--instances <n>", "how many, 1 to 10000")
      .option("--patch-group <name>", "their PatchGroup tag", "fleet")
      .option("--data <dir>", "the local data folder", process.env.REFLEX_DATA_DIR ?? ".reflex")
      .action(
        act(async (o) => {
          try {
            return await (await import("./cloud-seed.ts")).cmdCloudSeed(o, io.out);
          } catch (e) {
            throw e instanceof RangeError ? new UsageError(e.message) : e;
          }
        }),
      ),
    ["reflex cloud seed --instances 100 --patch-group fleet"],
    { json: true },
  );

  const chaos = program
    .command("chaos")
    .description("inject faults into the simulated cloud of a running local server");
  finish(
    chaos
      .command("add")
      .description("arm a fault on an operation")
      .requiredOption(
        "--op <service:Operation>",
        "the service by its IAM prefix (ec2, autoscaling, ssm, elasticloadbalancing, route53, cloudwatch), e.g. ec2:CreateSnapshot, elasticloadbalancing:*, *",
      )
      .option("--error <code>", "the AWS error code, e.g. RequestLimitExceeded, InternalError, AccessDenied")
      .option("--rate <p>", "probability per call, 0 < p <= 1 (default every call)")
      .option("--count <n>", "fire on this many calls, then disarm")
      .option("--burst <n>", "once fired, also fail the next n-1 calls")
      .option("--latency <duration>", "delay each affected call, e.g. 500ms")
      .action(act(async (o) => (await import("./cloud.ts")).addFault(io, o))),
    [
      "reflex chaos add --op ec2:CreateSnapshot --error RequestLimitExceeded --rate 0.3",
      "reflex chaos add --op autoscaling:* --latency 500ms --count 5",
      "reflex chaos add --op elasticloadbalancing:RegisterTargets --error InternalError --burst 3",
    ],
    { json: true, server: true, as: false },
  );
  finish(
    chaos
      .command("list")
      .description("the armed faults")
      .action(act(async (o) => (await import("./cloud.ts")).listFaults(io, o))),
    ["reflex chaos list", "reflex chaos list --json"],
    { json: true, server: true, as: false },
  );
  finish(
    chaos
      .command("clear")
      .description("disarm every fault, or the one named")
      .argument("[id]", "a fault id from reflex chaos list")
      .action(act(async (id, o) => (await import("./cloud.ts")).clearFaults(io, id, o))),
    ["reflex chaos clear", "reflex chaos clear fault-1"],
    { json: true, server: true, as: false },
  );
  finish(chaos, ["reflex chaos add --op ec2:CreateSnapshot --error InternalError", "reflex chaos list"]);

  finish(
    program
      .command("demo")
      .description("a scripted scenario, in memory: each runbook, its trigger and its guardrails")
      .action(act(async () => (await import("./demo.ts")).demo())),
    ["reflex demo"],
  );

  finish(
    program
      .command("pairs")
      .description("failover pairs and who is primary now")
      .action(act((o) => cmdPairs(io, o))),
    ["reflex pairs", "reflex pairs --json"],
    { json: true, server: true, as: false },
  );

  registerOffHours(program, io, act, finish);

  finish(
    program
      .command("windows")
      .description("the next occurrences of each maintenance window, and the freeze that would block one")
      .option("--config <file>", "the config file", DEFAULT_CONFIG_FILE)
      .option("--from <time>", "list occurrences after this ISO time (default now)")
      .option("--count <n>", "occurrences per window, 1 to 100", "1")
      .action(
        act(async (o) => {
          try {
            return await (await import("./windows.ts")).cmdWindows(o, io.out);
          } catch (e) {
            throw e instanceof RangeError ? new UsageError(e.message) : e;
          }
        }),
      ),
    ["reflex windows", "reflex windows --count 3 --json"],
    { json: true },
  );

  finish(
    program
      .command("pause")
      .description("pause automatic runs (rules, schedules, windows); people can still start runs")
      .option("--reason <text>", "why, for the audit trail and the banner", "paused from the CLI")
      .action(act((o) => cmdGuardrails(io, "pause", o))),
    ['reflex pause --reason "incident 42: hands off"'],
    { json: true, server: true, as: true },
  );
  finish(
    program
      .command("resume")
      .description("resume automatic runs (and reset the breaker)")
      .action(act((o) => cmdGuardrails(io, "resume", o))),
    ["reflex resume"],
    { json: true, server: true, as: true },
  );
  finish(
    program
      .command("guardrails")
      .description("pause, breaker, freezes, limits")
      .action(act((o) => cmdGuardrails(io, "show", o))),
    ["reflex guardrails", "reflex guardrails --json"],
    { json: true, server: true, as: false },
  );

  finish(
    program
      .command("approvals")
      .description("runs waiting for your approval")
      .option("--all", "every pending request, not only those you may answer")
      .action(act(async (o) => People.approvals(io, await clientFor(o), o))),
    ["reflex approvals", "reflex approvals --all --json"],
    { json: true, server: true, as: true },
  );
  finish(
    program
      .command("approve")
      .description("approve a run that waits for approval")
      .argument("<id>", "an execution id, a unique prefix of one, or latest")
      .option("--comment <text>", "recorded with your answer")
      .action(
        act(async (id, o) => {
          const api = await clientFor(o);
          return People.answer(io, api, "approve", await Runs.resolveId(api, id), o);
        }),
      ),
    ['reflex approve scale-20261128T100000Z-ab12cd --comment "looks right"'],
    { json: true, server: true, as: true },
  );
  finish(
    program
      .command("reject")
      .description("reject a run that waits for approval; it ends having changed nothing")
      .argument("<id>", "an execution id, a unique prefix of one, or latest")
      .option("--reason <text>", "why (required)")
      .addOption(new Option("--comment <text>", "same as --reason").hideHelp())
      .action(
        act(async (id, o) => {
          const api = await clientFor(o);
          return People.answer(io, api, "reject", await Runs.resolveId(api, id), {
            ...o,
            reason: o.reason ?? o.comment,
          });
        }),
      ),
    ['reflex reject scale-20261128T100000Z-ab12cd --reason "not during the sale"'],
    { json: true, server: true, as: true },
  );
  finish(
    program
      .command("abort")
      .description("stop a run: no new target starts, steps in flight finish, then rollback runs")
      .argument("<id>", "an execution id, a unique prefix of one, or latest")
      .option("--reason <text>", "why (required)")
      .option("--now", "stop at once, skipping rollback (check the targets afterwards)")
      .action(
        act(async (id, o) => {
          const api = await clientFor(o);
          return People.abort(io, api, await Runs.resolveId(api, id), o);
        }),
      ),
    ['reflex abort scale-20261128T100000Z-ab12cd --reason "wrong group"'],
    { json: true, server: true, as: true },
  );
  finish(
    program
      .command("rerun")
      .description("start a run again with the same params, through every check a new run passes")
      .argument("<id>", "the execution to repeat: an id, a unique prefix of one, or latest")
      .option("--dry-run", "repeat it as a dry-run")
      .option("--override-freeze <reason>", "start during a change freeze (audited)")
      .option("--override-pause <reason>", "start while automation is paused (audited)")
      .action(
        act(async (id, o) => {
          const api = await clientFor(o);
          return People.rerun(io, api, await Runs.resolveId(api, id), o);
        }),
      ),
    ["reflex rerun scale-20261128T100000Z-ab12cd --dry-run"],
    { json: true, server: true, as: true },
  );
  finish(
    program
      .command("whoami")
      .description("who the server thinks you are, your roles, and what you may do")
      .action(act(async (o) => People.whoami(io, await clientFor(o), o))),
    ["reflex whoami", "reflex whoami --as cli:alice --json"],
    { json: true, server: true, as: true },
  );

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

  // Subcommands created with .command() inherit the output and suggestion settings; exit
  // handling is set on each so that no command ever calls process.exit.
  for (const c of walk(program)) c.exitOverride().showSuggestionAfterError(true);
  return program;
}

/** Every command under (and including) `root`. */
export function walk(root: Command): Command[] {
  return [root, ...root.commands.flatMap((c) => walk(c as Command))];
}

/**
 * Runs the CLI. Returns the exit code; `io` defaults to the process's stdout and stderr.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2));
 */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const state = { code: 0 };
  const program = buildProgram(io, state);
  if (argv.length === 0) {
    io.err(program.helpInformation().trimEnd());
    return 2;
  }
  // `reflex help exections` would print the whole help as an error, with no word about the
  // typo: parse the command name alone, which answers "unknown command … did you mean".
  const [first, named] = argv;
  if (first === "help" && named !== undefined && !program.commands.some((c) => c.name() === named))
    argv = [named];
  try {
    await program.parseAsync(argv, { from: "user" });
    return state.code;
  } catch (e) {
    const code = failure(io, e);
    // A script that asked for --json reads stdout as JSON: an error is JSON there too (the
    // message for people stays on stderr).
    if (code !== 0 && wantsJson(argv))
      io.out(JSON.stringify({ error: { message: (e as Error).message, exitCode: code } }));
    return code;
  }
}

/** `--json` among the options (not after `--`, where it would be an argument). */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--json");
}

function failure(io: Io, e: unknown): number {
  if (e instanceof CommanderError)
    // Help asked for (`--help`, `reflex help run`) is success; help shown because a command
    // was missing, and every parse error, is bad usage.
    return e.exitCode === 0 ? 0 : 2;
  if (e instanceof UsageError) {
    io.err(`reflex: ${e.message}\n(add --help for usage and examples)`);
    return 2;
  }
  if (e instanceof ConfigError) {
    io.err(`reflex: ${e.message}`);
    for (const i of e.issues) io.err(`  ${i.path}: ${i.message}`);
    return 2;
  }
  if (e instanceof ApiError) {
    io.err(`reflex: ${e.message}`);
    // Bad input (400, 404, 413, 415) is a usage problem; a refusal (403 access, 409 a
    // guardrail or a run in the wrong state) means the operation failed.
    return e.status >= 400 && e.status < 500 && e.status !== 409 && e.status !== 403 ? 2 : 1;
  }
  io.err(`reflex: ${(e as Error).message}`);
  return 1;
}

async function cmdStart(
  io: Io,
  values: { port: string; config: string; data: string; quiet?: boolean },
): Promise<number> {
  const began = performance.now();
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port '${values.port}' is not a port`);
  const config = await loadConfig(values.config);
  const { startLocal } = await import("../local-mode.ts");
  const dataDir = values.data;
  const local = await startLocal({ config, port, dataDir, quiet: Boolean(values.quiet) });
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

async function cmdConfigCheck(io: Io, values: { config: string; json?: boolean }): Promise<number> {
  const file = values.config;
  try {
    const config = await loadConfig(file);
    // Valid, but not what the author meant: role members no caller can ever match.
    const warnings = Admission.People.accessWarnings(config);
    const notes = configNotes(config);
    if (values.json)
      io.out(JSON.stringify({ ok: true, file, notes, ...(warnings.length ? { warnings } : {}) }));
    else {
      io.out(
        `${file}: ok — ${config.rules.length} rule(s), ${config.schedules.length} schedule(s), ${config.windows.length} window(s), ${config.freezes.length} freeze(s)`,
      );
      for (const note of notes) io.out(`  ${note}`);
      if (warnings.length) io.err(`${file}: ${warnings.length} warning(s)`);
      for (const w of warnings) io.err(`  warning ${w.path}: ${w.message}`);
    }
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (values.json) io.out(JSON.stringify({ ok: false, file, issues: e.issues }));
    else {
      io.err(`${file}: ${e.issues.length} problem(s)`);
      for (const i of e.issues) io.err(`  ${i.path}: ${i.message}`);
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

async function cmdEventsTest(io: Io, values: { pattern: string; event: string }): Promise<number> {
  try {
    io.out(
      String(Patterns.testEventPattern(readFile(values.pattern, "pattern"), readFile(values.event, "event"))),
    );
    return 0;
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    io.err(`reflex: ${e.message}${e.path ? ` (at ${e.path})` : ""}`);
    return 2;
  }
}

async function cmdEventsPut(
  io: Io,
  file: string,
  values: ServerOptions & { json?: boolean },
): Promise<number> {
  let body: unknown;
  try {
    body = JSON.parse(readFile(file, "event"));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`'${file}' is not JSON: ${(e as Error).message}`);
  }
  const { results } = await (await clientFor(values)).putEvents(body);
  if (values.json) io.out(JSON.stringify({ results }));
  else
    for (const r of results) {
      io.out(
        `${r.eventId}  ${r.decision}${r.rule ? `  rule ${r.rule}` : ""}${r.executionId ? `  → ${r.executionId}` : ""}${r.guardrail ? `  [${r.guardrail}]` : ""}\n  ${r.reason}`,
      );
    }
  // 2 only when nothing was accepted (all bad input); 1 when some entries were taken and
  // others rejected or must be sent again (in-progress); 0 when every entry was handled.
  const refused = results.filter((r) => r.decision === "rejected" || r.decision === "in-progress");
  if (refused.length === 0) return 0;
  if (results.every((r) => r.decision === "rejected")) return 2;
  if (results.some((r) => r.decision === "in-progress"))
    io.err("some events are still being handled by an earlier delivery; send the file again in a minute");
  return 1;
}

async function cmdPairs(io: Io, values: ServerOptions & { json?: boolean }): Promise<number> {
  const { pairs } = await (await clientFor(values)).pairs();
  if (values.json) io.out(JSON.stringify({ pairs }));
  else if (pairs.length === 0) io.out("no pairs in the config");
  for (const p of values.json ? [] : pairs) {
    io.out(
      `${p.name}: primary ${p.primary}, standby ${p.standby}${p.executionId ? ` (since ${p.since}, ${p.executionId})` : " (as configured)"}`,
    );
    // A switch left unrecorded, or an Elastic IP and a record that disagree: say so under the pair.
    if (p.attention) io.out(`  needs attention since ${p.attention.since}: ${p.attention.reason}`);
    else if (p.switching)
      io.out(
        `  switching to ${p.switching.towards} since ${p.switching.since} (run ${p.switching.executionId})`,
      );
  }
  return 0;
}

async function cmdGuardrails(
  io: Io,
  command: "pause" | "resume" | "show",
  values: ServerOptions & { reason?: string; json?: boolean },
): Promise<number> {
  const api = await clientFor(values);
  if (command === "pause") await api.pause(values.reason ?? "paused from the CLI");
  if (command === "resume") await api.resume();
  const state = await api.guardrails();
  if (values.json) io.out(JSON.stringify(state));
  else {
    io.out(
      state.paused ? `automatic runs PAUSED by ${state.pausedBy}: ${state.reason}` : "automatic runs enabled",
    );
    io.out(
      `breaker: ${state.breaker.recentFailures}/${state.breaker.failures} failures within ${Math.round(state.breaker.within / 60_000)} min`,
    );
    for (const f of state.freezes)
      io.out(`freeze ${f.name}: ${f.from} → ${f.to}${f.active ? "  (ACTIVE)" : ""}`);
  }
  return 0;
}

async function cmdOutbox(
  io: Io,
  values: ServerOptions & { thread?: string; channel?: string; limit?: string; json?: boolean },
): Promise<number> {
  const { formatEntry } = await import("../outbox.ts");
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
