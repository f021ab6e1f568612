import { z } from "zod";
import { must } from "../errors.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration such as `90s`, `10m`, `4h`, `1d` or `1h30m` into milliseconds.
 * Returns undefined for anything else.
 *
 * @example
 * parseDuration("1h30m") // 5_400_000
 */
export function parseDuration(text: string): number | undefined {
  const parts = text.trim().match(/^(\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/);
  if (!parts) return undefined;
  let total = 0;
  for (const [, n, unit] of text.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g))
    total += Number(n) * UNITS[unit];
  return total;
}

/** A zod schema for a duration string; its output is milliseconds. */
export const duration = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, { message: "must be a duration such as 30s, 10m, 4h or 1d" })
  .transform((s) => must(parseDuration(s), "parseDuration(s)"));
