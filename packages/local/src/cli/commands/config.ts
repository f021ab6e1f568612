/**
 * What the config sets up: `config check`, the maintenance `windows`, the failover `pairs`.
 */
import {
  Admission,
  ConfigError,
  configNotes,
  DEFAULT_CONFIG_FILE,
  loadConfig,
  Organization,
} from "@reflex/core";
import type { Command } from "commander";
import { clientFor, type Io, type ServerOptions } from "../io.ts";
import { type CommandContext, finish, rangeIsUsage } from "./context.ts";

/** `config check`. */
export function configCommands(program: Command, { io, act }: CommandContext): void {
  const config = program.command("config").description("the automation config");
  finish(
    config
      .command("check")
      .description("validate the config; print each problem with its path (exit 2 when there is one)")
      .option("--config <file>", "the config file", DEFAULT_CONFIG_FILE)
      .option(
        "--organization",
        "also resolve `organization` through AWS Organizations (this CLI's credentials) and refuse an account listed in `accounts` too",
      )
      .action(act((o) => cmdConfigCheck(io, o))),
    ["reflex config check", "reflex config check --config reflex.config.ts --json"],
    { json: true },
  );
  finish(config, ["reflex config check"]);
}

/** `reflex pairs`. */
export function pairsCommand(program: Command, { io, act }: CommandContext): void {
  finish(
    program
      .command("pairs")
      .description("failover pairs and who is primary now")
      .action(act((o) => cmdPairs(io, o))),
    ["reflex pairs", "reflex pairs --json"],
    { json: true, server: true, as: false },
  );
}

/** `reflex windows`. */
export function windowsCommand(program: Command, { io, act }: CommandContext): void {
  finish(
    program
      .command("windows")
      .description("the next occurrences of each maintenance window, and the freeze that would block one")
      .option("--config <file>", "the config file", DEFAULT_CONFIG_FILE)
      .option("--from <time>", "list occurrences after this ISO time (default now)")
      .option("--count <n>", "occurrences per window, 1 to 100", "1")
      .action(act(rangeIsUsage(async (o) => (await import("../windows.ts")).cmdWindows(o, io.out)))),
    ["reflex windows", "reflex windows --count 3 --json"],
    { json: true },
  );
}

async function cmdConfigCheck(
  io: Io,
  values: { config: string; json?: boolean; organization?: boolean },
): Promise<number> {
  const file = values.config;
  try {
    const config = await loadConfig(file);
    if (values.organization && config.organization) {
      await Organization.refresh(config, { strict: true });
      const clashes = Organization.issues();
      if (clashes.length) throw new ConfigError(`config has ${clashes.length} problem(s)`, clashes);
    }
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
