/**
 * A member account's `overrides` (config `accounts[].overrides`): what is stricter there than in
 * the hub's config. Admission judges a run whose location is that account by
 * {@link configForAccount} — the hub's config with the account's cap, pause, rate and freezes
 * folded in, and its access rules added to the hub's (a person needs both) — so every check
 * (access, pause, freeze, blast radius, rate limit, approval policy) sees them without knowing
 * about accounts.
 *
 * An override may only tighten: a cap or a rate above the hub's, or `paused: false` under a
 * paused hub, is refused by `reflex config check` with its path ({@link overrideIssues}); and
 * where it is applied the stricter of the two wins anyway, so a config that skipped the check
 * still cannot loosen the hub's guardrails for one account.
 *
 * @example
 * const judged = configForAccount(config, "222222222222");
 * judged.guardrails.maxTargetsPerRun; // the lower of the hub's and the account's
 */

import type { AccountOverrides, Config } from "../config/schema.ts";
import type { Issue } from "../errors.ts";

/** The config a run in `accountId` is judged by: the hub's, made stricter by the account's overrides. */
export function configForAccount(config: Config, accountId: string): Config {
  const account = config.accounts.find((a) => a.id === accountId);
  const o = account?.overrides as AccountOverrides | undefined;
  if (!o) return config;
  const g = o.guardrails ?? {};
  const hub = config.guardrails;
  return {
    ...config,
    guardrails: {
      ...hub,
      paused: hub.paused || g.paused === true,
      maxTargetsPerRun: Math.min(hub.maxTargetsPerRun, g.maxTargetsPerRun ?? hub.maxTargetsPerRun),
      rateLimit: {
        ...hub.rateLimit,
        runs: Math.min(hub.rateLimit.runs, g.rateLimit?.runs ?? hub.rateLimit.runs),
      },
    },
    freezes: [...config.freezes, ...(o.freezes ?? [])],
    ...(o.access ? { locationAccess: { account: accountId, allow: o.access.allow } } : {}),
  };
}

/** Overrides that would loosen the hub's config, or name a role it does not define: each with its path. */
export function overrideIssues(config: Config): Issue[] {
  const issues: Issue[] = [];
  const hub = config.guardrails;
  config.accounts.forEach((a, i) => {
    const o = a?.overrides as AccountOverrides | undefined;
    if (!o) return;
    const at = `accounts[${i}].overrides`;
    const g = o.guardrails ?? {};
    const loosen = (path: string, what: string) =>
      issues.push({
        path: `${at}.guardrails.${path}`,
        message: `${what}: an account's override may only tighten the hub's`,
      });
    if (g.maxTargetsPerRun !== undefined && g.maxTargetsPerRun > hub.maxTargetsPerRun)
      loosen(
        "maxTargetsPerRun",
        `${g.maxTargetsPerRun} is above the hub's guardrails.maxTargetsPerRun (${hub.maxTargetsPerRun})`,
      );
    if (g.rateLimit && g.rateLimit.runs > hub.rateLimit.runs)
      loosen(
        "rateLimit.runs",
        `${g.rateLimit.runs} is above the hub's guardrails.rateLimit.runs (${hub.rateLimit.runs})`,
      );
    if (g.paused === false && hub.paused)
      loosen("paused", "false under a paused hub (guardrails.paused is true)");
    o.access?.allow.forEach((rule, j) => {
      if (!config.access.roles[rule.role])
        issues.push({
          path: `${at}.access.allow[${j}].role`,
          message: `role '${rule.role}' is not defined in access.roles`,
        });
    });
  });
  return issues;
}
