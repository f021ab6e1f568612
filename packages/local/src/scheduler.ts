/**
 * The local scheduler: fires the config's schedules and maintenance windows at their times, in
 * their time zones, with the payload EventBridge Scheduler would deliver to the schedule handler.
 */
import { type Config, parseSchedule } from "@reflex/core";
import { Cron } from "croner";

export interface SchedulePayload {
  kind: "schedule" | "window";
  name: string;
  run: string;
  with: Record<string, unknown>;
  scheduledTime: string;
  window?: { durationMs: number; cutoffMs: number };
}

export interface ScheduledJob {
  name: string;
  kind: "schedule" | "window";
  expression: string;
  timezone: string;
  /** The next fire time after `from` (default now), in UTC. */
  nextRun(from?: Date): Date | null;
  /** Fires now, as if the time had come (for `reflex demo` and tests). */
  fire(at?: Date): Promise<void>;
  stop(): void;
}

export function startScheduler(
  config: Config,
  deliver: (payload: SchedulePayload) => Promise<void>,
  onError: (name: string, err: unknown) => void = (name, err) =>
    console.error(`reflex: schedule ${name} failed:`, err),
): ScheduledJob[] {
  const entries = [
    ...config.schedules
      .filter((s) => s.enabled)
      .map((s) => ({ kind: "schedule" as const, ...s, window: undefined })),
    ...config.windows
      .filter((w) => w.enabled)
      .map((w) => ({
        kind: "window" as const,
        ...w,
        window: { durationMs: w.duration, cutoffMs: w.cutoff },
      })),
  ];
  return entries.map((entry) => {
    const expr = parseSchedule(entry.cron);
    const fire = async (at: Date = new Date()) => {
      const payload: SchedulePayload = {
        kind: entry.kind,
        name: entry.name,
        run: entry.run,
        with: entry.with,
        scheduledTime: new Date(Math.floor(at.getTime() / 60_000) * 60_000).toISOString(),
        window: entry.window,
      };
      try {
        await deliver(payload);
      } catch (err) {
        onError(entry.name, err);
      }
    };
    let cron: Cron | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (expr.kind === "cron") {
      cron = new Cron(
        expr.croner,
        { timezone: entry.timezone, name: `reflex-${entry.kind}-${entry.name}` },
        () => {
          const now = new Date();
          if (expr.years && !yearMatches(expr.years, now.getUTCFullYear())) return;
          void fire(now);
        },
      );
    } else if (expr.kind === "rate") {
      timer = setInterval(() => void fire(), expr.everyMs);
      timer.unref();
    } else {
      cron = new Cron(expr.at, { timezone: entry.timezone, maxRuns: 1 }, () => void fire());
    }
    return {
      name: entry.name,
      kind: entry.kind,
      expression: entry.cron,
      timezone: entry.timezone,
      nextRun: (from?: Date) =>
        cron?.nextRun(from) ??
        (expr.kind === "rate" ? new Date((from?.getTime() ?? Date.now()) + expr.everyMs) : null),
      fire,
      stop: () => {
        cron?.stop();
        if (timer) clearInterval(timer);
      },
    };
  });
}

function yearMatches(spec: string, year: number): boolean {
  return spec.split(",").some((part) => {
    const [from, to] = part.split("-").map(Number);
    return to === undefined ? year === from : year >= from && year <= to;
  });
}
