/**
 * `reflex offhours`: the off-hours runbook's overrides and savings from the command line.
 * `keep` and `release` set and cancel overrides (`POST` / `DELETE /api/offhours/overrides`):
 * runs of off-hours (action keep / release) through admit() — access checked, audited with who
 * asked — and wait for the run's answer; `overrides` lists them (`GET /api/offhours/overrides`),
 * expired overrides left out; `report` asks the server for the savings (`GET /api/offhours/savings`). See
 * docs/runbooks/off-hours.md.
 */
import { follow } from "./follow.ts";
import { formatExecution } from "./format.ts";
import { clientFor, coloursFor, type Io, type ServerOptions, UsageError } from "./io.ts";

const RUNBOOK = "off-hours";

export interface KeepOptions extends ServerOptions {
  until?: string;
  for?: string;
  reason?: string;
  start?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** Sets or cancels overrides through the API (an off-hours run) and waits for its answer; exit 0 when it succeeded. */
async function overrideAndWait(
  io: Io,
  method: "POST" | "DELETE",
  body: Parameters<Awaited<ReturnType<typeof clientFor>>["offHoursOverride"]>[1],
  o: KeepOptions,
): Promise<number> {
  const api = await clientFor(o);
  const started = await api.offHoursOverride(method, { ...body, dryRun: Boolean(o.dryRun) });
  const done = await follow(api, started.executionId, () => undefined);
  if (!done) return 130;
  io.out(o.json ? JSON.stringify(done) : formatExecution(done, coloursFor(io, o)));
  return done.status === "SUCCEEDED" ? 0 : 1;
}

export async function keep(io: Io, targets: string[], o: KeepOptions): Promise<number> {
  if ((o.until === undefined) === (o.for === undefined)) throw new UsageError("give one of --until or --for");
  if (!o.reason?.trim()) throw new UsageError("--reason is required: it is audited with the override");
  return overrideAndWait(
    io,
    "POST",
    {
      targets,
      ...(o.until ? { until: o.until } : {}),
      ...(o.for ? { for: o.for } : {}),
      reason: o.reason,
      start: Boolean(o.start),
    },
    o,
  );
}

interface PreviewView {
  schedule: string;
  timezone: string;
  hoursPerWeek: number;
  transitions: Array<{
    utc: string;
    local: string;
    to: string;
    stops: string[];
    starts: string[];
    kept: string[];
  }>;
}

/** A dry-run of off-hours with `action: preview`: admitted (dry-run access), no mutating call. */
export async function preview(
  io: Io,
  schedule: string,
  o: ServerOptions & { transitions?: string; at?: string; json?: boolean },
): Promise<number> {
  const n = o.transitions === undefined ? undefined : Number(o.transitions);
  if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= 28))
    throw new UsageError("--transitions takes a whole number from 1 to 28");
  const api = await clientFor(o);
  const started = await api.startExecution(
    RUNBOOK,
    { action: "preview", schedule, ...(n ? { transitions: n } : {}), ...(o.at ? { at: o.at } : {}) },
    true,
  );
  const done = await follow(api, started.executionId, () => undefined);
  if (!done) return 130;
  const view = (done.result as { preview?: PreviewView } | undefined)?.preview;
  if (done.status !== "SUCCEEDED" || !view) {
    io.out(o.json ? JSON.stringify(done) : formatExecution(done, coloursFor(io, o)));
    return 1;
  }
  if (o.json) io.out(JSON.stringify(view));
  else {
    io.out(`${view.schedule} (${view.timezone}): running ${view.hoursPerWeek} h a week`);
    for (const t of view.transitions) {
      const acts = t.to === "stopped" ? `stops ${t.stops.length}` : `starts ${t.starts.length}`;
      io.out(
        `  ${t.local}  (${t.utc})  → ${t.to}: ${acts}${t.kept.length ? `, ${t.kept.length} kept by an override` : ""}${
          (t.to === "stopped" ? t.stops : t.starts).length
            ? `  ${(t.to === "stopped" ? t.stops : t.starts).join(" ")}`
            : ""
        }`,
      );
    }
  }
  return 0;
}

export async function release(io: Io, targets: string[], o: KeepOptions): Promise<number> {
  return overrideAndWait(io, "DELETE", { targets, ...(o.reason?.trim() ? { reason: o.reason } : {}) }, o);
}

export async function overrides(io: Io, o: ServerOptions & { json?: boolean }): Promise<number> {
  const { overrides: rows } = await (await clientFor(o)).offHoursOverrides();
  if (o.json) io.out(JSON.stringify({ overrides: rows }));
  else if (rows.length === 0) io.out("no overrides in force");
  else for (const r of rows) io.out(`${r.target}  until ${r.until}  by ${r.setBy}  ${r.reason}`);
  return 0;
}

/** The savings the server totals (`GET /api/offhours/savings`), as text, CSV or its JSON. */
export async function report(
  io: Io,
  o: ServerOptions & { from?: string; to?: string; by?: string; json?: boolean; csv?: boolean },
): Promise<number> {
  for (const [flag, v] of [
    ["--from", o.from],
    ["--to", o.to],
  ] as const)
    if (v !== undefined && Number.isNaN(Date.parse(v))) throw new UsageError(`${flag} must be an ISO date`);
  const got = await (await clientFor(o)).offHoursSavings({ from: o.from, to: o.to, by: o.by });
  if (o.json) io.out(JSON.stringify(got));
  else if (o.csv) {
    io.out("group,instance_hours,usd_estimate,unpriced_stops");
    for (const r of got.totals) io.out(`${r.group},${r.instanceHours},${r.dollars},${r.unpriced}`);
  } else {
    io.out(
      `${got.stops} stop(s) ended; estimated savings (on-demand prices from your table; EBS still billed):`,
    );
    for (const r of got.totals)
      io.out(
        `  ${r.group}: ${r.instanceHours} instance-hours, $${r.dollars.toFixed(2)}${r.unpriced ? ` (+${r.unpriced} unpriced)` : ""}`,
      );
  }
  return 0;
}
