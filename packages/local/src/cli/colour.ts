/**
 * Colour for people, never for machines: on when stdout is a terminal, off with `NO_COLOR`
 * (https://no-color.org), on in a pipe with `FORCE_COLOR` (`FORCE_COLOR=0` turns it off), and
 * never in `--json` output. `NO_COLOR` wins over `FORCE_COLOR`: it is a person's own choice,
 * where `FORCE_COLOR` is often set for a whole CI job. Colour only ever repeats what a word or
 * a mark already says.
 */

export interface Colours {
  enabled: boolean;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

/** Whether to colour a stream, from its TTY-ness and the environment. */
export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== "") return force !== "0" && force !== "false";
  return Boolean(stream.isTTY) && env.TERM !== "dumb";
}

const sgr = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;

export function colours(enabled: boolean): Colours {
  const plain = (s: string) => s;
  return {
    enabled,
    green: enabled ? sgr(32, 39) : plain,
    red: enabled ? sgr(31, 39) : plain,
    yellow: enabled ? sgr(33, 39) : plain,
    cyan: enabled ? sgr(36, 39) : plain,
    dim: enabled ? sgr(2, 22) : plain,
    bold: enabled ? sgr(1, 22) : plain,
  };
}

/** An execution or step status word, coloured by how it ended. */
export function status(c: Colours, word: string): string {
  switch (word) {
    case "SUCCEEDED":
    case "APPROVED":
      return c.green(word);
    case "FAILED":
    case "TIMED_OUT":
    case "REJECTED":
      return c.red(word);
    case "ABORTED":
    case "WAITING_FOR_APPROVAL":
    case "STARTING":
      return c.yellow(word);
    case "RUNNING":
      return c.cyan(word);
    default:
      return word;
  }
}

/** The mark before a step or target line: the symbol carries the meaning, colour repeats it. */
export function mark(c: Colours, outcome: string): string {
  const s = outcome.toLowerCase();
  if (["succeeded", "ok", "patched", "completed", "restored"].includes(s)) return c.green("✓");
  if (["failed", "timed_out", "error"].includes(s)) return c.red("✗");
  if (["running", "pending", "started"].includes(s)) return c.cyan("…");
  if (["skipped", "aborted", "rolled-back", "not-started"].includes(s)) return c.yellow("–");
  return "·";
}
