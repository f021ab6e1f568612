/**
 * off-hours' pre-start check for `keep` and `release`, asked by admission before anything is
 * written: every target carries the off-hours tag and names a known schedule, and a keep's end
 * is in the future and no further than `maxOverride` (in the target's schedule zone), or
 * `maxLongOverride` for a person whose role has the `override-limits` action. Bad input is a 400
 * naming the param (`targets`, `until`, `for`) from the CLI, the API and Slack alike, and a
 * longer override than the person may set a 403 (audited as an access refusal);
 * the override step checks the same again (the world may change in between). Read-only: the
 * describes the plan makes. Ticks, stops, starts and previews are not checked here.
 */
import type { Precheck, PrecheckRefusal } from "@reflex/sdk";
import type { OffHoursParams } from "./index.ts";
import { type OffHours, parseDuration } from "./schedule.ts";
import { discover, endProblem, type OverrideProblem, overrideProblems } from "./steps.ts";

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
  const mayLong = ctx.may("override-limits");
  let found: Awaited<ReturnType<typeof discover>>["targets"];
  try {
    found = (await discover(cfg, ctx)).targets;
  } catch (err) {
    // An admitter whose role may not describe EC2 cannot check the targets here: the override
    // step, which may, checks the same and fails the run naming the field. An end given without
    // a zone (`for`, an ISO instant) is judged now all the same, the person's limit included.
    if (!NOT_ALLOWED.has((err as Error).name)) throw err;
    const now = ctx.now();
    const until =
      p.action !== "keep"
        ? undefined
        : p.for
          ? new Date(now.getTime() + (parseDuration(p.for) as number))
          : p.until && !/^\d{2}:\d{2}$/.test(p.until)
            ? new Date(p.until)
            : undefined;
    const problem = until && endProblem(p, cfg, until, now, mayLong);
    return problem ? refusal([problem], ctx.actor) : undefined;
  }
  const problems = overrideProblems(p, cfg, found, ctx.now(), mayLong);
  return problems.length === 0 ? undefined : refusal(problems, ctx.actor);
};

/** Bad input first (a 400); only when the input is otherwise good, a limit the person lacks (a 403). */
function refusal(problems: OverrideProblem[], actor: string): PrecheckRefusal {
  const bad = problems.filter((x) => !x.forbidden);
  if (bad.length === 0)
    return {
      status: 403,
      code: "OverrideNotAllowed",
      message: `${actor} may not set this override: ${problems.map((x) => `${x.path}: ${x.message}`).join("; ")}`,
      path: (problems[0] as OverrideProblem).path,
    };
  return {
    status: 400,
    code: "InvalidOverride",
    message: bad.map((x) => `${x.path}: ${x.message}`).join("; "),
    path: (bad[0] as OverrideProblem).path,
  };
}
