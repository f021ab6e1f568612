/**
 * `events put` (to the bus) and `events test` (a pattern against an event, offline).
 */
import { readFileSync } from "node:fs";
import { Patterns, ValidationError } from "@reflex/core";
import type { Command } from "commander";
import { clientFor, type Io, type ServerOptions, UsageError } from "../io.ts";
import { type CommandContext, finish } from "./context.ts";

/** `events put`, `events test`. */
export function eventsCommands(program: Command, { io, act }: CommandContext): void {
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
