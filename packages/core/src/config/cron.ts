/**
 * EventBridge Scheduler expressions: `cron(min hour day-of-month month day-of-week year)`,
 * `rate(5 minutes)` and `at(2026-12-01T03:00:00)`. Validated here; the local scheduler turns
 * them into croner patterns; the stacks pass them to AWS unchanged.
 */
import { Cron } from "croner";

export type ScheduleExpression =
  | { kind: "cron"; croner: string; years?: string; source: string }
  | { kind: "rate"; everyMs: number; source: string }
  | { kind: "at"; at: string; source: string };

const RATE_UNITS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** Parses a schedule expression; throws an Error saying what is wrong. */
export function parseSchedule(source: string): ScheduleExpression {
  const text = source.trim();
  const rate = text.match(/^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/);
  if (rate) {
    const n = Number(rate[1]);
    const unit = rate[2].replace(/s$/, "");
    if (n < 1) throw new Error("rate must be at least 1");
    if (n === 1 && rate[2].endsWith("s")) throw new Error(`write rate(1 ${unit}), singular, as AWS requires`);
    if (n > 1 && !rate[2].endsWith("s"))
      throw new Error(`write rate(${n} ${unit}s), plural, as AWS requires`);
    return { kind: "rate", everyMs: n * RATE_UNITS[unit], source };
  }
  const at = text.match(/^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/);
  if (at) return { kind: "at", at: at[1], source };
  const cron = text.match(/^cron\((.*)\)$/);
  if (!cron) throw new Error("must be cron(...), rate(...) or at(...)");
  const fields = cron[1].trim().split(/\s+/);
  if (fields.length !== 6)
    throw new Error(
      `cron needs 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`,
    );
  const [min, hour, dom, month, dow, year] = fields;
  if ((dom === "?") === (dow === "?"))
    throw new Error("exactly one of day-of-month and day-of-week must be '?'");
  // AWS numbers days of the week 1-7 from Sunday; croner 0-6 from Sunday.
  const cronerDow =
    dow === "?"
      ? "*"
      : dow.replace(/\d+/g, (d) => (Number(d) >= 1 && Number(d) <= 7 ? String(Number(d) - 1) : d));
  // AWS allows `start/step` (e.g. 0/15); croner wants `start-max/step`.
  const stepped = (field: string, max: number) =>
    field.replace(/(^|,)(\d+)\/(\d+)/g, (_m, sep, start, step) => `${sep}${start}-${max}/${step}`);
  const croner = `0 ${stepped(min, 59)} ${stepped(hour, 23)} ${dom === "?" ? "*" : stepped(dom, 31)} ${stepped(month, 12)} ${stepped(cronerDow, 6)}`;
  try {
    // Validate now, so a bad field is reported at config check, not at fire time.
    new Cron(croner, { paused: true });
  } catch (err) {
    throw new Error(`cron is not valid: ${(err as Error).message}`);
  }
  if (year !== "*" && !/^\d{4}([-,]\d{4})*$/.test(year))
    throw new Error(`year field '${year}' is not supported`);
  return { kind: "cron", croner, years: year === "*" ? undefined : year, source };
}

/** True when the zone is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
