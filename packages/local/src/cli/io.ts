/**
 * What every command shares: where it writes (so tests run the CLI in-process), whether it may
 * colour, how it reaches the server, and the error that means bad usage (exit 2).
 */
import { ApiClient } from "./client.ts";
import { type Colours, colours, colourWanted } from "./colour.ts";
import { openTransportOnceStarted, TransportError } from "./transport.ts";

export interface Io {
  out(s: string): void;
  err(s: string): void;
  /** Colour stdout (a TTY without NO_COLOR, or FORCE_COLOR). Never used for `--json` output. */
  colour: boolean;
  /** Whether stdout is a terminal a view may redraw in place. */
  tty: boolean;
}

/** The real process: stdout and stderr, colour as the terminal and the environment allow. */
export function processIo(): Io {
  return {
    // Looked up at each call, so a test that swaps process.stdout.write sees the output.
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
    colour: colourWanted(process.stdout),
    tty: Boolean(process.stdout.isTTY),
  };
}

/** Colours for human output; none at all with `--json`. */
export function coloursFor(io: Io, opts: { json?: boolean } = {}): Colours {
  return colours(io.colour && !opts.json);
}

/** Bad usage or bad input: the CLI prints the message and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The options every command that talks to the server takes. */
export interface ServerOptions {
  url?: string;
  as?: string;
  /** Output for machines: answers are passed on as they are (not made terminal-safe). */
  json?: boolean;
}

/**
 * A client for the server the options (or REFLEX_URL, or the local port file) name. Unless the
 * command prints `--json`, every string it gets back is made safe to print on a terminal.
 */
export async function clientFor(opts: ServerOptions): Promise<ApiClient> {
  const transport = await openTransportOnceStarted({ url: opts.url }, (starting) =>
    process.stderr.write(`reflex: waiting for reflex start (pid ${starting.pid}) to be ready…\n`),
  ).catch((e) => {
    throw e instanceof TransportError ? new UsageError(e.message) : e;
  });
  // An empty --as would otherwise act as the server's default actor, not as you.
  if (opts.as !== undefined && opts.as.trim() === "")
    throw new UsageError("--as is empty; give an actor, e.g. cli:alice");
  if (opts.as && transport.remote)
    throw new UsageError(
      "--as works only against local mode; a deployed API knows you by your AWS credentials",
    );
  return new ApiClient(transport, opts.as ?? undefined, { forTerminal: !opts.json });
}
