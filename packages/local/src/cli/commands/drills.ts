/**
 * `drills` and `drill run`: recovery drills (restore's `drills:` in the config) — each drill's
 * last result against its RTO/RPO targets, the trend, one drill's history — and a drill started
 * now (a run of restore with `drill: <name>`, through admission like any start).
 */
import type { Command } from "commander";
import type { DrillRow } from "../client.ts";
import { follow } from "../follow.ts";
import { formatExecution } from "../format.ts";
import { clientFor, coloursFor, type Io, type ServerOptions } from "../io.ts";
import { type CommandContext, finish } from "./context.ts";

/** `drills [name]`, `drill run <name>`. */
export function drillsCommands(program: Command, { io, act }: CommandContext): void {
  finish(
    program
      .command("drills")
      .description("recovery drills: last result (RTO/RPO against targets, checksum, cleanup) and trend")
      .argument("[name]", "one drill: its every run, newest first")
      .action(act((name: string | undefined, o) => cmdDrills(io, name, o))),
    ["reflex drills", "reflex drills db-1", "reflex drills --json"],
    { json: true, server: true, as: false },
  );
  const drill = finish(program.command("drill").description("run a recovery drill now"), [
    "reflex drill run db-1",
  ]);
  finish(
    drill
      .command("run")
      .description("start the config's drill of that name now (restore with drill: <name>) and wait for it")
      .argument("<name>", "a drill of the config's drills:")
      .action(act((name: string, o) => cmdDrillRun(io, name, o))),
    ["reflex drill run db-1"],
    { json: true, server: true, as: true },
  );
}

const mins = (m: number | undefined) => (m === undefined ? "—" : `${m} min`);

function line(r: DrillRow): string {
  const against = r.targets
    ? ` (RTO ${r.rto} ≤ ${r.targets.rtoMinutes} min, RPO ${r.rpo} ≤ ${r.targets.rpoMinutes} min)`
    : "";
  return `${r.startedAt}  ${r.verdict.toUpperCase()}  RTO ${mins(r.rtoMinutes)}  RPO ${mins(r.rpoMinutes)}${against}  checksum ${r.checksum ?? "—"}  cleanup: ${r.cleanup ?? "—"}  ${r.executionId}`;
}

async function cmdDrills(
  io: Io,
  name: string | undefined,
  o: ServerOptions & { json?: boolean },
): Promise<number> {
  const api = await clientFor(o);
  if (name) {
    const history = await api.drillHistory(name);
    if (o.json) io.out(JSON.stringify(history));
    else if (history.runs.length === 0) io.out(`drill ${name}: never run`);
    else for (const r of history.runs) io.out(line(r));
    return 0;
  }
  const { drills } = await api.drills();
  if (o.json) io.out(JSON.stringify({ drills }));
  else if (drills.length === 0) io.out("no drills in the config (restore's drills:)");
  else
    for (const d of drills) {
      io.out(
        `${d.name}: ${d.runs} run(s), ${d.met} met, ${d.missed} missed, ${d.failed} failed${d.trend.length ? `; trend ${d.trend.join(" ")}` : ""}`,
      );
      if (d.last) io.out(`  last: ${line(d.last)}`);
    }
  return 0;
}

async function cmdDrillRun(io: Io, name: string, o: ServerOptions & { json?: boolean }): Promise<number> {
  const api = await clientFor(o);
  const started = await api.startExecution("restore", { drill: name }, false);
  const done = await follow(api, started.executionId, () => undefined);
  if (!done) return 130;
  io.out(o.json ? JSON.stringify(done) : formatExecution(done, coloursFor(io, o)));
  return done.status === "SUCCEEDED" ? 0 : 1;
}
