/**
 * `drills` and `drill run`: recovery drills (restore's `drills:` in the config) — each drill's
 * last result against its RTO/RPO targets, the trend, one drill's history — and a drill started
 * now (a run of restore with `drill: <name>`, through admission like any start).
 */
import type { Command } from "commander";
import type { DrillCompliance, DrillRow } from "../client.ts";
import { follow } from "../follow.ts";
import { formatExecution } from "../format.ts";
import { clientFor, coloursFor, type Io, type ServerOptions, UsageError } from "../io.ts";
import { type CommandContext, finish } from "./context.ts";

/** `drills [name]`, `drill run <name>`. */
export function drillsCommands(program: Command, { io, act }: CommandContext): void {
  finish(
    program
      .command("drills")
      .description("recovery drills: last result (RTO/RPO against targets, checksum, cleanup) and trend")
      .argument("[name]", "one drill: its every run, newest first")
      .option("--summary", "compliance over a period: drills run, met, missed, failed, per drill and overall")
      .option(
        "--from <date>",
        "with --summary: from this date or instant (default: the first of this month, UTC)",
      )
      .option("--to <date>", "with --summary: up to (not including) this date or instant (default: now)")
      .action(act((name: string | undefined, o) => cmdDrills(io, name, o))),
    [
      "reflex drills",
      "reflex drills db-1",
      "reflex drills --json",
      "reflex drills --summary --from 2026-12-01 --to 2027-01-01",
    ],
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
  o: ServerOptions & { json?: boolean; summary?: boolean; from?: string; to?: string },
): Promise<number> {
  const api = await clientFor(o);
  if (o.summary) return cmdSummary(io, api, name, o);
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
      // Where the time went: plan, volumes, attach (or launch, swap, running, status checks), verify.
      const phases = Object.entries(d.last?.phasesMinutes ?? {});
      if (phases.length) io.out(`  RTO by phase: ${phases.map(([k, m]) => `${k} ${m} min`).join(", ")}`);
    }
  return 0;
}

const pct = (c: DrillCompliance) => (c.metPercent === null ? "—" : `${c.metPercent}%`);

async function cmdSummary(
  io: Io,
  api: Awaited<ReturnType<typeof clientFor>>,
  name: string | undefined,
  o: { json?: boolean; from?: string; to?: string },
): Promise<number> {
  const now = new Date();
  const from = o.from ?? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString();
  const { summary } = await api.drills({ from, to: o.to });
  if (!summary)
    throw new Error("the server answered GET /api/drills?from= without a summary (an older server)");
  const entries = name ? summary.entries.filter((e) => e.name === name) : summary.entries;
  if (name && entries.length === 0) throw new UsageError(`drill '${name}' does not exist`);
  if (o.json) {
    io.out(JSON.stringify(name ? { ...summary, entries } : summary));
    return 0;
  }
  const all = summary.overall;
  io.out(`drills from ${summary.from} to ${summary.to}`);
  for (const e of entries)
    io.out(
      `${e.name}: ${e.runs} run(s), ${e.met} met, ${e.missed} missed, ${e.failed} failed, ${e.lost} lost; met ${pct(e)}`,
    );
  if (!name) {
    io.out(
      `overall: ${all.runs} run(s) of ${all.entries} drill(s), ${all.met} met, ${all.missed} missed, ${all.failed} failed, ${all.lost} lost; met ${pct(all)}`,
    );
    if (all.neverRun.length) io.out(`not drilled in the period: ${all.neverRun.join(", ")}`);
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
