/**
 * A clock for files whose assertions need one UTC month (a month's summary, "this month" as a
 * default): run near a month's end, two runs of one file could fall on either side of midnight.
 */
import { vi } from "vitest";

/**
 * How far back a file's clock may be set: less than the 5 minutes past which the AWS SDK corrects
 * its clock from a local server's Date header (Node's own, which a faked Date does not reach);
 * s3rver refuses requests 15 minutes off.
 */
export const MONTH_MARGIN_MS = 4 * 60_000;

/** Where a file's clock starts: `now`, or `margin` before the month's end when that is nearer. */
export function clearOfMonthEnd(now: number, margin = MONTH_MARGIN_MS): number {
  const d = new Date(now);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return end - now < margin ? end - margin : now;
}

/**
 * Fakes Date (only Date, advancing with real time) from {@link clearOfMonthEnd}: whatever the
 * file does in its next 4 minutes falls in one month. Call it before anything reads the time
 * (a simulated cloud's backups are dated from it); undo with `vi.useRealTimers()`.
 */
export function holdOneMonth(): void {
  const start = clearOfMonthEnd(Date.now());
  vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
  vi.setSystemTime(start);
}

/**
 * `now`, or `margin` before the end of the fixed window it falls in when that is nearer: windows
 * `windowMs` long counted from the epoch, as the rate limit counts them (`floor(now / per)`), so
 * that what a test decides in its next `margin` falls in one window, however loaded the machine.
 */
export function clearOfWindowEnd(now: number, windowMs: number, margin = 60_000): number {
  const end = (Math.floor(now / windowMs) + 1) * windowMs;
  return end - now < margin ? end - margin : now;
}
