/**
 * `reflex windows`: the next occurrence of each maintenance window, in its time zone and in
 * UTC, with its cutoff and end, and the freeze that would suppress it. The times come from the
 * scheduler's own jobs (croner, with the window's IANA zone), so what is listed is what fires,
 * across DST changes included.
 */
import { type Config, DEFAULT_CONFIG_FILE, loadConfig, must } from "@reflex/core";
import { startScheduler } from "../scheduler.ts";

export interface WindowOccurrence {
  name: string;
  runbook: string;
  timezone: string;
  /** Local wall-clock time in the window's zone, with its UTC offset. */
  local: string;
  startsAt: string;
  cutoffAt: string;
  endsAt: string;
  /** The freeze in force at the start, which suppresses the run. */
  blockedBy?: { freeze: string; from: string; to: string; reason?: string };
}

function localTime(at: Date, zone: string): string {
  const parts = new Intl.DateTimeFormat("sv-SE", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "shortOffset",
  }).format(at);
  return parts.replace("GMT", "UTC");
}

/** The next `count` occurrences of every enabled window after `from`. */
export function nextWindows(config: Config, from = new Date(), count = 1): WindowOccurrence[] {
  const jobs = startScheduler({ ...config, schedules: [] }, async () => undefined);
  try {
    const out: WindowOccurrence[] = [];
    for (const job of jobs) {
      const w = must(
        config.windows.find((x) => x.name === job.name),
        "config.windows.find((x) => x.name === job.name)",
      );
      let after = from;
      for (let n = 0; n < count; n++) {
        const at = job.nextRun(after);
        if (!at) break;
        const freeze = config.freezes.find(
          (f) =>
            Date.parse(f.from) <= at.getTime() &&
            at.getTime() < Date.parse(f.to) &&
            (!f.runbooks || f.runbooks.includes(w.run)),
        );
        out.push({
          name: w.name,
          runbook: w.run,
          timezone: w.timezone,
          local: localTime(at, w.timezone),
          startsAt: at.toISOString(),
          cutoffAt: new Date(at.getTime() + w.duration - w.cutoff).toISOString(),
          endsAt: new Date(at.getTime() + w.duration).toISOString(),
          ...(freeze
            ? { blockedBy: { freeze: freeze.name, from: freeze.from, to: freeze.to, reason: freeze.reason } }
            : {}),
        });
        after = new Date(at.getTime() + 1000);
      }
    }
    return out;
  } finally {
    for (const j of jobs) j.stop();
  }
}

/** Throws RangeError for bad usage (the CLI exits 2). */
export async function cmdWindows(
  values: { config?: string; json?: boolean; from?: string; count?: string },
  out: (s: string) => void,
): Promise<number> {
  const from = values.from ? new Date(values.from) : new Date();
  const count = values.count ? Number(values.count) : 1;
  if (Number.isNaN(from.getTime()) || !Number.isInteger(count) || count < 1 || count > 100)
    throw new RangeError("--from must be an ISO time and --count a whole number from 1 to 100");
  const config = await loadConfig(values.config ?? DEFAULT_CONFIG_FILE);
  const list = nextWindows(config, from, count);
  if (values.json) {
    out(JSON.stringify({ windows: list }));
    return 0;
  }
  if (list.length === 0) out("no maintenance windows configured");
  for (const w of list) {
    out(
      `${w.name} (${w.runbook}): ${w.local} ${w.timezone} = ${w.startsAt} UTC; cutoff ${w.cutoffAt}, ends ${w.endsAt}` +
        (w.blockedBy
          ? ` — BLOCKED by freeze '${w.blockedBy.freeze}' (${w.blockedBy.from} to ${w.blockedBy.to})`
          : ""),
    );
  }
  return 0;
}
