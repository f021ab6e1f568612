/**
 * What every command module shares: the context a command's action runs in (where output goes,
 * how its exit code is kept) and `finish`, which adds the shared options and the examples.
 */
import type { Command } from "commander";
import { type Io, UsageError } from "../io.ts";

// biome-ignore lint/suspicious/noExplicitAny: commander calls an action with its own positional arguments and options, typed by each command, so the shared type cannot name them.
export type Action = (...args: any[]) => Promise<number | undefined>;

/** Where a command writes, and `act`, which keeps the exit code its action returns. */
export interface CommandContext {
  io: Io;
  act: (fn: Action) => (...args: unknown[]) => Promise<void>;
}

const URL_HELP =
  "the Reflex server: local mode or a deployed API (https, SigV4-signed); default REFLEX_URL, then the port `reflex start` wrote to .reflex/, then http://127.0.0.1:8787";

/**
 * Finishes a command: the shared options after its own (`--json` where it prints data,
 * `--url` where it talks to the server, `--as` where the server records who acted), and the
 * examples its help ends with.
 */
export function finish(
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

export const collect = (value: string, previous: string[]) => [...previous, value];

/** An action whose bad input its implementation throws as a RangeError: told as bad usage (exit 2). */
export const rangeIsUsage =
  (fn: Action): Action =>
  async (...args) => {
    try {
      return await fn(...args);
    } catch (e) {
      throw e instanceof RangeError ? new UsageError(e.message) : e;
    }
  };
