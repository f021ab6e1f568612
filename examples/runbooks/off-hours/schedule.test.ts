/** Off-hours schedules in their time zones: DST, holidays, overnight periods, and the config's bad input. */
import { describe, expect, it } from "vitest";
import {
  desiredAt,
  nextTransitions,
  offHoursSchema,
  runningHoursPerWeek,
  type Schedule,
  scheduleSchema,
  zonedInstant,
} from "./schedule.ts";

const office = (timezone: string, extra: Record<string, unknown> = {}): Schedule =>
  scheduleSchema.parse({
    name: "office",
    timezone,
    periods: [{ days: "mon-fri", start: "07:00", stop: "19:00" }],
    ...extra,
  });

/** The first stop after `from`. */
const nextStop = (s: Schedule, from: string) =>
  nextTransitions(s, new Date(from), 8)
    .find((t) => t.to === "stopped")
    ?.at.toISOString();

describe("off-hours schedules", () => {
  it("Europe/Berlin 07-19 stops at 18:00Z the week before the spring change and 17:00Z the week after", () => {
    const berlin = office("Europe/Berlin");
    // The change is Sunday 2026-03-29 (CET+1 → CEST+2).
    expect(nextStop(berlin, "2026-03-23T12:00:00Z")).toBe("2026-03-23T18:00:00.000Z");
    expect(nextStop(berlin, "2026-03-30T12:00:00Z")).toBe("2026-03-30T17:00:00.000Z");
    // And it starts at 06:00Z / 05:00Z.
    expect(nextTransitions(berlin, new Date("2026-03-23T00:00:00Z"), 1)[0].at.toISOString()).toBe(
      "2026-03-23T06:00:00.000Z",
    );
    expect(nextTransitions(berlin, new Date("2026-03-30T00:00:00Z"), 1)[0].at.toISOString()).toBe(
      "2026-03-30T05:00:00.000Z",
    );
  });

  it("America/New_York 07-19 stops at 00:00Z the week before its spring change and 23:00Z the week after", () => {
    const ny = office("America/New_York");
    // The change is Sunday 2026-03-08 (EST-5 → EDT-4).
    expect(nextStop(ny, "2026-03-02T15:00:00Z")).toBe("2026-03-03T00:00:00.000Z");
    expect(nextStop(ny, "2026-03-09T15:00:00Z")).toBe("2026-03-09T23:00:00.000Z");
  });

  it("judges an instant by the zone's wall clock on both sides of the autumn change", () => {
    const berlin = office("Europe/Berlin");
    // Friday 2026-10-23 (CEST): 17:30Z is 19:30 local → stopped; Friday 2026-10-30 (CET): 17:30Z is 18:30 → running.
    expect(desiredAt(berlin, new Date("2026-10-23T17:30:00Z"))).toBe("stopped");
    expect(desiredAt(berlin, new Date("2026-10-30T17:30:00Z"))).toBe("running");
  });

  it("keeps targets stopped on holidays and at weekends", () => {
    const s = office("Europe/Berlin", { holidays: ["2026-12-25"] });
    expect(desiredAt(s, new Date("2026-12-24T10:00:00Z"))).toBe("running");
    expect(desiredAt(s, new Date("2026-12-25T10:00:00Z"))).toBe("stopped");
    expect(desiredAt(s, new Date("2026-12-26T10:00:00Z"))).toBe("stopped"); // a Saturday
  });

  it("runs an overnight period into the next day, by the day it starts on", () => {
    const night = scheduleSchema.parse({
      name: "night",
      timezone: "UTC",
      periods: [{ days: "fri", start: "22:00", stop: "06:00" }],
    });
    expect(desiredAt(night, new Date("2026-12-04T23:00:00Z"))).toBe("running"); // Friday night
    expect(desiredAt(night, new Date("2026-12-05T05:59:00Z"))).toBe("running"); // Saturday morning
    expect(desiredAt(night, new Date("2026-12-05T06:00:00Z"))).toBe("stopped");
    expect(desiredAt(night, new Date("2026-12-05T23:00:00Z"))).toBe("stopped"); // Saturday night
  });

  it("counts the hours per week: 5 × 12 = 60 for office hours, the DST week included", () => {
    expect(runningHoursPerWeek(office("Europe/Berlin"), new Date("2026-03-23T00:00:00Z"))).toBe(60);
    expect(runningHoursPerWeek(office("Europe/Berlin"), new Date("2026-03-26T00:00:00Z"))).toBe(60);
  });

  it("maps a wall time the spring change skips to the hour after it", () => {
    expect(new Date(zonedInstant("2026-03-29", 150, "Europe/Berlin")).toISOString()).toBe(
      "2026-03-29T01:30:00.000Z",
    );
  });

  it("refuses an unknown zone, start == stop, malformed days and impossible holidays, each with its path", () => {
    const out = offHoursSchema.safeParse({
      schedules: [
        {
          name: "office",
          timezone: "Europe/Berlinn",
          periods: [
            { days: "mon-fry", start: "07:00", stop: "19:00" },
            { days: "sat", start: "09:00", stop: "09:00" },
          ],
          holidays: ["2026-02-30"],
        },
      ],
    });
    expect(out.success).toBe(false);
    const issues = out.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`) ?? [];
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^schedules\.0\.timezone: must be an IANA time zone/),
        expect.stringMatching(/^schedules\.0\.periods\.0\.days: 'mon-fry' is not a list of days/),
        expect.stringMatching(/^schedules\.0\.periods\.1\.stop: start and stop are the same time/),
        expect.stringMatching(/^schedules\.0\.holidays\.0: must be a date YYYY-MM-DD that exists/),
      ]),
    );
  });

  it("refuses a maxLongOverride past the hard limit of 31d, and a maxOverride longer than it, with their paths", () => {
    const schedules = [{ name: "office", periods: [{ days: "mon-fri", start: "07:00", stop: "19:00" }] }];
    const issuesOf = (extra: object) =>
      offHoursSchema
        .safeParse({ schedules, ...extra })
        .error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(issuesOf({ maxLongOverride: "32d" })).toEqual([
      "maxLongOverride: must be at most 31d: no override may outlive a month",
    ]);
    expect(issuesOf({ maxOverride: "8d" })).toEqual([
      "maxOverride: must not be longer than maxLongOverride (7d)",
    ]);
    expect(issuesOf({ maxOverride: "48h", maxLongOverride: "31d" })).toBeUndefined();
  });
});
