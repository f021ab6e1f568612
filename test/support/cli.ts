/**
 * The CLI run in-process, as the CLI tests drive it: `reflex(argv)` captures what it prints
 * and its exit code; `commandTree` and `pathOf` walk the command tree.
 */
import type { Command } from "commander";
import type { Io } from "../../packages/local/src/cli/io.ts";
import { buildProgram, main, walk } from "../../packages/local/src/cli/main.ts";

/** The start of an ANSI colour sequence. */
export const ANSI = "\u001b[";

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process and captures what it prints. */
export async function reflex(argv: string[], opts: { colour?: boolean } = {}): Promise<Ran> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (s) => out.push(`${s}\n`),
    err: (s) => err.push(`${s}\n`),
    colour: opts.colour ?? false,
    tty: false,
  };
  const code = await main(argv, io);
  return { code, stdout: out.join(""), stderr: err.join("") };
}

/** The words that name a command under `reflex`, e.g. ["chaos", "add"]. */
export function pathOf(cmd: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names;
}

/** Every command of the tree, the root first. */
export const commandTree = (): Command[] =>
  walk(buildProgram({ out: () => {}, err: () => {}, colour: false, tty: false }));
