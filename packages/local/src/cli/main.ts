/**
 * The `reflex` CLI, on commander: every command has `--help` with examples, unknown commands
 * and flags are answered with "did you mean". Exit codes: 0 ok, 1 the operation failed (e.g.
 * the runbook failed), 2 bad usage or bad input, 130 detached with Ctrl-C. `--json` prints
 * machine-readable output only, never coloured.
 */

import { ConfigError } from "@reflex/core";
import { Command, CommanderError } from "commander";
import { ApiError } from "./client.ts";
import { accountsCommands } from "./commands/accounts.ts";
import { auditCommands } from "./commands/audit.ts";
import { authoringCommands } from "./commands/authoring.ts";
import { cloudCommands } from "./commands/cloud.ts";
import { configCommands, pairsCommand, windowsCommand } from "./commands/config.ts";
import { type Action, type CommandContext, finish } from "./commands/context.ts";
import { drillsCommands } from "./commands/drills.ts";
import { eventsCommands } from "./commands/events.ts";
import { guardrailsCommands } from "./commands/guardrails.ts";
import { demoCommand, outboxCommand, startCommand } from "./commands/local.ts";
import { peopleCommands } from "./commands/people.ts";
import { pricesCommands } from "./commands/prices.ts";
import { runCommands } from "./commands/runs.ts";
import { type Io, processIo, UsageError } from "./io.ts";
import { registerOffHours } from "./offhours-command.ts";

/**
 * The whole command tree. Actions store their exit code in `state`; nothing here exits the
 * process, so tests run the CLI in-process and walk this tree.
 */
export function buildProgram(io: Io, state: { code: number } = { code: 0 }): Command {
  const cx: CommandContext = {
    io,
    act:
      (fn: Action) =>
      async (...args: unknown[]) => {
        state.code = (await fn(...args)) ?? 0;
      },
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
  // One module a command group (commands/); the order here is the order `--help` lists them.
  startCommand(program, cx);
  runCommands(program, cx);
  authoringCommands(program, cx);
  configCommands(program, cx);
  accountsCommands(program, cx);
  eventsCommands(program, cx);
  cloudCommands(program, cx);
  demoCommand(program, cx);
  pairsCommand(program, cx);
  windowsCommand(program, cx);
  guardrailsCommands(program, cx);
  drillsCommands(program, cx);
  peopleCommands(program, cx);
  auditCommands(program, cx);
  registerOffHours(program, io, cx.act, finish);
  pricesCommands(program, cx);
  outboxCommand(program, cx);

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
