/**
 * off-hours' pre-start check for `keep` and `release`, asked by admission before anything is
 * written: every target carries the off-hours tag and names a known schedule, and a keep's end
 * is in the future and no further than `maxOverride` (in the target's schedule zone). Bad input
 * is a 400 naming the param (`targets`, `until`, `for`) from the CLI, the API and Slack alike;
 * the override step checks the same again (the world may change in between). Read-only: the
 * describes the plan makes. Ticks, stops, starts and previews are not checked here.
 */
import type { Precheck, PrecheckRefusal } from "@reflex/sdk";
import type { OffHoursParams } from "./index.ts";
import type { OffHours } from "./schedule.ts";
import { discover, overrideProblems } from "./steps.ts";

const NOT_ALLOWED = new Set(["UnauthorizedOperation", "AccessDenied", "AccessDeniedException"]);

export const precheck: Precheck = async (params, ctx) => {
  const p = params as OffHoursParams;
  if (p.action !== "keep" && p.action !== "release") return undefined;
  const cfg = ctx.config.offHours as OffHours | undefined;
  if (!cfg)
    return {
      status: 400,
      code: "NotConfigured",
      message: "off-hours has no offHours key in the config: there is nothing to override",
    };
  let found: Awaited<ReturnType<typeof discover>>["targets"];
  try {
    found = (await discover(cfg, ctx)).targets;
  } catch (err) {
    // An admitter whose role may not describe EC2 cannot check here: the override step, which
    // may, checks the same and fails the run naming the field.
    if (NOT_ALLOWED.has((err as Error).name)) return undefined;
    throw err;
  }
  const problems = overrideProblems(p, cfg, found, ctx.now());
  if (problems.length === 0) return undefined;
  return {
    status: 400,
    code: "InvalidOverride",
    message: problems.map((x) => `${x.path}: ${x.message}`).join("; "),
    path: (problems[0] as { path: string }).path,
  } satisfies PrecheckRefusal;
};
