/**
 * Off-hours schedules: the `offHours` config key (its schema, checked by `reflex config check`
 * with the path of each problem) and the time arithmetic — whether a schedule wants its targets
 * running at an instant, and its next transitions — in the schedule's IANA time zone, so that
 * "07:00–19:00 Europe/Berlin" stops at 18:00Z in winter and 17:00Z in summer. No cloud calls:
 * the steps and the CLI's `preview` share it.
 */
import { z } from "zod";

const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** True for a time zone the runtime knows by its IANA name (`Europe/Berlin`, `UTC`). */
export function isTimeZone(zone: string): boolean {
  if (!/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** `mon-fri`, `sat,sun`, `fri-mon` (wraps), `daily`: the days of the week (0 = Sunday), or an error message. */
export function parseDays(spec: string): Set<number> | string {
  const s = spec.trim().toLowerCase();
  if (s === "daily" || s === "all") return new Set([0, 1, 2, 3, 4, 5, 6]);
  const out = new Set<number>();
  for (const part of s.split(",")) {
    const [from, to, extra] = part.trim().split("-");
    const a = DAY_NAMES.indexOf(from as (typeof DAY_NAMES)[number]);
    const b = to === undefined ? a : DAY_NAMES.indexOf(to as (typeof DAY_NAMES)[number]);
    if (a < 0 || b < 0 || extra !== undefined)
      return `'${spec}' is not a list of days: use mon..sun, ranges (mon-fri) and commas (sat,sun), or daily`;
    for (let d = a; ; d = (d + 1) % 7) {
      out.add(d);
      if (d === b) break;
    }
  }
  return out;
}

/** `HH:MM` (24 h) as minutes after midnight; `24:00` is the end of the day. */
export function parseClock(text: string): number | undefined {
  const m = /^([01]\d|2[0-4]):([0-5]\d)$/.exec(text);
  if (!m) return undefined;
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  return minutes <= 24 * 60 ? minutes : undefined;
}

/** A calendar date `YYYY-MM-DD` that exists. */
function isDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/** `3h`, `90m`, `1d`: milliseconds, or undefined. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,5})(m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * { m: MINUTE, h: 60 * MINUTE, d: DAY }[m[2] as "m" | "h" | "d"];
}

const clock = (what: string) =>
  z.string().refine((t) => parseClock(t) !== undefined, {
    message: `${what} must be HH:MM in 24-hour time, such as 07:00`,
  });

export const periodSchema = z
  .object({
    /** The days a running period *starts* on: `mon-fri`, `sat,sun`, `daily`. */
    days: z.string().superRefine((d, ctx) => {
      const parsed = parseDays(d);
      if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
    }),
    /** When targets start (local time in the schedule's zone). */
    start: clock("start"),
    /** When they stop; earlier than `start` runs overnight, into the next day. */
    stop: clock("stop"),
  })
  .strict()
  .refine((p) => parseClock(p.start) !== parseClock(p.stop), {
    message: "start and stop are the same time: the period would be empty (or never stop)",
    path: ["stop"],
  });

export const scheduleSchema = z
  .object({
    /** The value of the off-hours tag that selects this schedule. */
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "must be kebab-case (a-z, 0-9, -), at most 40 characters"),
    /** An IANA time zone (`Europe/Berlin`); periods are in its local time, DST included. */
    timezone: z.string().default("UTC").refine(isTimeZone, {
      message: "must be an IANA time zone such as Europe/Berlin or America/New_York",
    }),
    /** When targets run; outside every period they are stopped. */
    periods: z.array(periodSchema).min(1, "a schedule needs at least one period"),
    /** Dates (local, `YYYY-MM-DD`) when no period starts: targets stay stopped all day. */
    holidays: z
      .array(z.string().refine(isDate, { message: "must be a date YYYY-MM-DD that exists" }))
      .default([]),
    /** Hibernate instances that support it (others get a plain stop, reported). */
    hibernate: z.boolean().default(false),
    /** Stop a target started by hand during off hours at the next tick (default: respect it until the next stop). */
    enforce: z.boolean().default(false),
  })
  .strict();

/** The hard limit on `maxLongOverride`: 31 days. */
export const MAX_LONG_OVERRIDE_MS = 31 * 86_400_000;

export const offHoursSchema = z
  .object({
    /** The tag whose value names a target's schedule. */
    tagKey: z.string().min(1).max(128).default("reflex:off-hours"),
    /** A tag value that opts a target out for good. */
    optOut: z.string().min(1).default("never"),
    /** How often each schedule's tick runs (an EventBridge Scheduler expression). */
    tick: z.string().default("rate(5 minutes)"),
    schedules: z.array(scheduleSchema).min(1, "list at least one schedule"),
    /** During a change freeze: `start-only` (default) starts what the schedule wants up and suppresses stops (audited); `nothing` acts on nothing. */
    duringFreeze: z.enum(["start-only", "nothing"]).default("start-only"),
    /** The longest override (`keep … --for`) anyone allowed to run off-hours may set. */
    maxOverride: z
      .string()
      .default("24h")
      .refine((d) => parseDuration(d) !== undefined, { message: "must be a duration such as 24h or 90m" }),
    /**
     * The longest override a person whose role has the `override-limits` action on off-hours may
     * set; nobody may set a longer one. At most 31 days: an override outliving a month would
     * hide a target from every monthly report.
     */
    maxLongOverride: z
      .string()
      .default("7d")
      .refine((d) => parseDuration(d) !== undefined, { message: "must be a duration such as 7d or 72h" })
      .refine((d) => (parseDuration(d) ?? 0) <= MAX_LONG_OVERRIDE_MS, {
        message: "must be at most 31d: no override may outlive a month",
      }),
    /**
     * On-demand prices the savings are estimated with: USD per instance-hour by instance type,
     * dated. The user owns the table (AWS Price List `GetProducts` is the source to copy from);
     * a type it lacks is reported "unpriced", never $0.
     */
    prices: z
      .object({
        asOf: z.string().refine(isDate, { message: "must be a date YYYY-MM-DD that exists" }),
        region: z.string().default("us-east-1"),
        perHour: z.record(z.string(), z.number().positive("must be a positive number of dollars")),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((parseDuration(c.maxOverride) ?? 0) > (parseDuration(c.maxLongOverride) ?? Number.POSITIVE_INFINITY))
      ctx.addIssue({
        code: "custom",
        path: ["maxOverride"],
        message: `must not be longer than maxLongOverride (${c.maxLongOverride})`,
      });
    const seen = new Set<string>();
    c.schedules.forEach((s, i) => {
      if (seen.has(s.name))
        ctx.addIssue({
          code: "custom",
          path: ["schedules", i, "name"],
          message: `'${s.name}' is listed twice`,
        });
      if (s.name === c.optOut)
        ctx.addIssue({
          code: "custom",
          path: ["schedules", i, "name"],
          message: `'${s.name}' is the opt-out value (optOut)`,
        });
      seen.add(s.name);
    });
  });

export type OffHours = z.output<typeof offHoursSchema>;
export type Schedule = z.output<typeof scheduleSchema>;
export type DesiredState = "running" | "stopped";

// ---------------------------------------------------------------------------------------
// Time in a zone

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall-clock reading in `zone` at `t`, as if it were UTC (ms). */
function wallClock(t: number, zone: string): number {
  const parts = Object.fromEntries(
    formatter(zone)
      .formatToParts(new Date(t))
      .map((p) => [p.type, p.value]),
  );
  return Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
}

/** The local date (`YYYY-MM-DD`) in `zone` at `t`. */
export function localDate(t: number, zone: string): string {
  return new Date(wallClock(t, zone)).toISOString().slice(0, 10);
}

/**
 * The instant `date` at `minutes` after local midnight in `zone`. A wall time the spring change
 * skips (02:30 in Berlin on the last Sunday of March) maps to the instant an hour later, as
 * clocks read it; one the autumn change repeats maps to its first occurrence.
 */
export function zonedInstant(date: string, minutes: number, zone: string): number {
  const wall = Date.parse(`${date}T00:00:00Z`) + minutes * MINUTE;
  // The zone's offset at a guess, then at the corrected guess (settles across a change).
  let t = wall - (wallClock(wall, zone) - wall);
  t = wall - (wallClock(t, zone) - t);
  const earlier = t - 60 * MINUTE;
  return wallClock(earlier, zone) === wall ? earlier : t;
}

function addDays(date: string, n: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);
}

/** The running intervals [start, stop) of a schedule's periods that start on `date` (local). */
function intervalsStarting(s: Schedule, date: string): Array<[number, number]> {
  if (s.holidays.includes(date)) return [];
  const dow = new Date(`${date}T00:00:00Z`).getUTCDay();
  const out: Array<[number, number]> = [];
  for (const p of s.periods) {
    const days = parseDays(p.days) as Set<number>;
    if (!days.has(dow)) continue;
    const start = parseClock(p.start) as number;
    const stop = parseClock(p.stop) as number;
    const from = zonedInstant(date, start, s.timezone);
    const to =
      stop > start ? zonedInstant(date, stop, s.timezone) : zonedInstant(addDays(date, 1), stop, s.timezone);
    out.push([from, to]);
  }
  return out;
}

/**
 * What the schedule wants at `at`: running inside one of its periods (a period belongs to the
 * day it starts on; overnight ones run into the next day), stopped otherwise and on holidays.
 *
 * @example
 * desiredAt(office, new Date("2026-03-30T16:59:00Z")) // "running" (18:59 in Berlin, CEST)
 */
export function desiredAt(s: Schedule, at: Date): DesiredState {
  const t = at.getTime();
  const today = localDate(t, s.timezone);
  for (const date of [addDays(today, -1), today])
    for (const [from, to] of intervalsStarting(s, date)) if (from <= t && t < to) return "running";
  return "stopped";
}

export interface Transition {
  at: Date;
  to: DesiredState;
}

/** Every change of the desired state in (from, to], in order. */
export function transitionsBetween(s: Schedule, from: Date, to: Date): Transition[] {
  const first = localDate(from.getTime(), s.timezone);
  const last = localDate(to.getTime(), s.timezone);
  const candidates = new Set<number>();
  for (let d = addDays(first, -1); d <= addDays(last, 1); d = addDays(d, 1))
    for (const [a, b] of intervalsStarting(s, d)) candidates.add(a).add(b);
  const out: Transition[] = [];
  for (const c of [...candidates].sort((x, y) => x - y)) {
    if (c <= from.getTime() || c > to.getTime()) continue;
    const after = desiredAt(s, new Date(c));
    if (after !== desiredAt(s, new Date(c - 1))) out.push({ at: new Date(c), to: after });
  }
  return out;
}

/** The last change of the desired state at or before `at` (within the past `lookbackDays`), if any. */
export function lastTransition(s: Schedule, at: Date, lookbackDays = 14): Transition | undefined {
  return transitionsBetween(s, new Date(at.getTime() - lookbackDays * DAY), at).at(-1);
}

/** The next `count` changes after `from` (looking up to `horizonDays` ahead). */
export function nextTransitions(s: Schedule, from: Date, count = 4, horizonDays = 31): Transition[] {
  return transitionsBetween(s, from, new Date(from.getTime() + horizonDays * DAY)).slice(0, count);
}

/** Hours the schedule wants its targets running in the week that starts at `from`. */
export function runningHoursPerWeek(s: Schedule, from: Date): number {
  const end = from.getTime() + 7 * DAY;
  let running = desiredAt(s, from) === "running";
  let since = from.getTime();
  let total = 0;
  for (const t of transitionsBetween(s, from, new Date(end))) {
    if (running) total += t.at.getTime() - since;
    running = t.to === "running";
    since = t.at.getTime();
  }
  if (running) total += end - since;
  return total / (60 * MINUTE);
}
