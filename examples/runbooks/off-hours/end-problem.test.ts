/** A keep's end, judged before anything is written: the refusal names the field the caller gave. */
import { describe, expect, it } from "vitest";
import type { OffHoursParams } from "./index.ts";
import type { OffHours } from "./schedule.ts";
import { endProblem } from "./steps.ts";

const cfg = { maxOverride: "12h", maxLongOverride: "7d" } as OffHours;
const now = new Date("2026-12-07T10:00:00Z");
const keep = (extra: Partial<OffHoursParams>) =>
  ({ action: "keep", targets: ["i-0123456789abcdef0"], reason: "demo", ...extra }) as OffHoursParams;

describe("a keep's end", () => {
  it("for: 0m is refused at for (the field given), not at until", () => {
    expect(endProblem(keep({ for: "0m" }), cfg, now, now, false)).toMatchObject({ path: "for" });
  });

  it("an until in the past is refused at until", () => {
    const until = new Date(now.getTime() - 60_000);
    expect(endProblem(keep({ until: until.toISOString() }), cfg, until, now, false)).toMatchObject({
      path: "until",
    });
  });

  it("for longer than maxLongOverride is refused for everyone, at for; longer than maxOverride only without override-limits", () => {
    const in8d = new Date(now.getTime() + 8 * 86_400_000);
    expect(endProblem(keep({ for: "8d" }), cfg, in8d, now, true)).toMatchObject({ path: "for" });
    const in2d = new Date(now.getTime() + 2 * 86_400_000);
    expect(endProblem(keep({ for: "2d" }), cfg, in2d, now, false)).toMatchObject({
      path: "for",
      forbidden: true,
    });
    expect(endProblem(keep({ for: "2d" }), cfg, in2d, now, true)).toBeUndefined();
  });
});
