/**
 * `pause`, `resume` and `guardrails`: the switch for automatic runs, and what holds runs back.
 */
import type { Command } from "commander";
import { clientFor, type Io, type ServerOptions } from "../io.ts";
import { type CommandContext, finish } from "./context.ts";

/** `pause`, `resume`, `guardrails`. */
export function guardrailsCommands(program: Command, { io, act }: CommandContext): void {
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
