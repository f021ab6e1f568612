import { existsSync } from "node:fs";
import { relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { z } from "zod";
import { accountIssues, locationsIssues } from "../accounts.ts";
import { ConfigError, type Issue } from "../errors.ts";
import { validatePattern } from "../patterns/index.ts";
import { overrideIssues } from "../policy/overrides.ts";
import { peopleIssues } from "../policy/people.ts";
import * as Runbooks from "../runbooks/index.ts";
import {
  type Config,
  type ConfigInput,
  configSchema,
  freezeSchema,
  memberAccountSchema,
  type Pair,
  pairSchema,
  ruleSchema,
  scheduleSchema,
  windowSchema,
} from "./schema.ts";
import { setConfigInForce, whileValidating } from "./scope.ts";
import { timingIssues } from "./timing.ts";

/**
 * Declares the automation config with types. Validation happens when it is loaded, so that
 * `reflex config check` can list every problem instead of stopping at the first.
 *
 * @example
 * export default defineConfig({ schedules: [{ name: "nightly", cron: "cron(0 2 * * ? *)", run: "backup-snapshot",
 *   with: { selector: { tag: { Backup: "daily" } } } }] });
 */
export function defineConfig(config: ConfigInput): ConfigInput {
  return config;
}

/** Formats a zod path as `rules[0].with.selector`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || "(root)";
}

/** zod issues as Reflex issues, each with its path. */
export function toIssues(error: z.ZodError, prefix: ReadonlyArray<PropertyKey> = []): Issue[] {
  return error.issues.map((i) => ({ path: formatPath([...prefix, ...i.path]), message: i.message }));
}

/** True for a param value taken from the triggering event, e.g. `$.detail.alarmName`. */
export function isEventPath(value: unknown): value is string {
  return typeof value === "string" && /^\$(\.|\[)/.test(value);
}

/**
 * Checks a runbook's params the way a run would. Values taken from the event (`$.…`) cannot be
 * known yet, so those keys are left out of the check.
 */
function checkParams(
  runbookName: string,
  params: Record<string, unknown>,
  at: PropertyKey[],
  allowEventPaths: boolean,
): Issue[] {
  if (!Runbooks.has(runbookName)) {
    return [
      {
        path: formatPath([...at.slice(0, -1), "run"]),
        message: `unknown runbook '${runbookName}'; known: ${Runbooks.list()
          .map((r) => r.name)
          .join(", ")}`,
      },
    ];
  }
  const schema = Runbooks.get(runbookName).params;
  const templated = allowEventPaths ? Object.keys(params).filter((k) => isEventPath(params[k])) : [];
  const concrete = Object.fromEntries(Object.entries(params).filter(([k]) => !templated.includes(k)));
  const result = schema.safeParse(concrete);
  if (result.success) return [];
  // Deeper event paths (`selector.names[0]`) stay in place: only the issue on that very value is dropped.
  const nested = allowEventPaths ? eventPathsIn(concrete, at) : [];
  return toIssues(result.error, at).filter(
    (i) => !templated.some((k) => i.path === formatPath([...at, k])) && !nested.includes(i.path),
  );
}

/** Where in `value` a param is taken from the event, as issue paths (`rules[0].with.selector.names[0]`). */
function eventPathsIn(value: unknown, at: PropertyKey[]): string[] {
  if (isEventPath(value)) return [formatPath(at)];
  if (Array.isArray(value)) return value.flatMap((v, i) => eventPathsIn(v, [...at, i]));
  if (value && typeof value === "object")
    return Object.entries(value).flatMap(([k, v]) => eventPathsIn(v, [...at, k]));
  return [];
}

/**
 * Validates a config, structure and meaning. Throws ConfigError listing every problem.
 *
 * @example
 * const config = validateConfig(raw); // Config, durations in ms
 */
export function validateConfig(raw: unknown): Config {
  // The config's own runbooks first: rules, schedules and access name them.
  const runbookIssues = registerConfigRunbooks(
    raw && typeof raw === "object" ? (raw as { runbooks?: unknown }).runbooks : undefined,
  );
  // Keys the registered runbooks add to the config (their manifest's `config`), checked by
  // their own schemas and kept apart (`runbookConfig`); the rest is Reflex's strict schema's.
  const { rest, added, addedIssues } = splitRunbookConfig(raw);
  const parsed = configSchema.safeParse(rest);
  // When the structure is wrong somewhere, still check the meaning of every part that parses,
  // so one run of `reflex config check` lists every problem.
  const issues: Issue[] = [
    ...runbookIssues,
    ...addedIssues,
    ...(parsed.success ? [] : toIssues(parsed.error)),
  ];
  const config = { ...(parsed.success ? parsed.data : salvage(rest)), runbookConfig: added };
  config.schedules = [...config.schedules, ...runbookSchedules(added, issues)];
  // Params that name something the config defines (a pair) are checked against the config
  // being validated, not the one in force.
  return whileValidating(config, () => checkMeaning(config, issues));
}

/** The config keys registered runbooks add (not Reflex's own), validated; the rest of the raw config. */
function splitRunbookConfig(raw: unknown): {
  rest: unknown;
  added: Record<string, unknown>;
  addedIssues: Issue[];
} {
  if (!raw || typeof raw !== "object") return { rest: raw, added: {}, addedIssues: [] };
  const rest = { ...(raw as Record<string, unknown>) };
  const added: Record<string, unknown> = {};
  const addedIssues: Issue[] = [];
  for (const runbook of Runbooks.list()) {
    for (const [key, schema] of Object.entries(runbook.config ?? {})) {
      if (key in configSchema.shape || !(key in rest)) continue;
      const out = schema.safeParse(rest[key]);
      if (out.success) {
        added[key] = out.data;
        if (runbook.history?.configKey === key) addedIssues.push(...reservedEntries(runbook, key, out.data));
      } else
        addedIssues.push(
          ...toIssues(out.error, [key]).map((i) => ({
            ...i,
            message: `${i.message} (runbook '${runbook.name}')`,
          })),
        );
      delete rest[key];
    }
  }
  return { rest, added, addedIssues };
}

/**
 * A history's entries (restore's `drills`) named as its monthly summaries' key segment: their
 * reports would share `reports/<route>/summary/` with the summaries, so the name is refused
 * (`drills[i].name`) — existing reports and summaries keep their keys.
 */
function reservedEntries(runbook: Runbooks.Runbook, key: string, entries: unknown): Issue[] {
  if (!Array.isArray(entries)) return [];
  return entries.flatMap((e, i) =>
    (e as { name?: unknown })?.name === Runbooks.HISTORY_SUMMARY
      ? [
          {
            path: formatPath([key, i, "name"]),
            message: `'${Runbooks.HISTORY_SUMMARY}' is reserved: reports/${runbook.history?.route}/${Runbooks.HISTORY_SUMMARY}/ holds the monthly summaries; name it otherwise (runbook '${runbook.name}')`,
          },
        ]
      : [],
  );
}

/** The schedules runbooks add from their config keys (their manifests' `schedules`), as config schedules. */
function runbookSchedules(added: Record<string, unknown>, issues: Issue[]): Config["schedules"] {
  const out: Config["schedules"] = [];
  for (const runbook of Runbooks.list()) {
    const keys = Object.keys(runbook.config ?? {});
    if (!runbook.schedules || !keys.some((k) => k in added)) continue;
    for (const { at, ...s } of runbook.schedules(added)) {
      const parsed = scheduleSchema.safeParse({ ...s, run: runbook.name });
      if (parsed.success) out.push(parsed.data);
      else
        issues.push(
          // At the entry the schedule comes from (`drills[2].cron`) when the runbook says which.
          ...toIssues(parsed.error, at ?? [keys[0]]).map((i) => ({
            ...i,
            message: `${i.message} (schedule '${s.name}' of runbook '${runbook.name}')`,
          })),
        );
    }
  }
  return out;
}

/**
 * Checks and registers the config's own runbooks (`runbooks: [...]`): each manifest is checked
 * as the built-ins are (`checkSpec`), and one whose name is a built-in's, or another's in the
 * list, is refused. Every problem is returned with its path (`runbooks[0].permissions[1]`) and
 * the runbook's name; the valid ones are registered. A name alone (the deployed config, JSON)
 * must name a runbook the bundle registered already.
 */
function registerConfigRunbooks(list: unknown): Issue[] {
  if (list === undefined) return [];
  if (!Array.isArray(list))
    return [{ path: "runbooks", message: "must be a list of runbooks (defineRunbook)" }];
  const issues: Issue[] = [];
  const names = new Map<string, number>();
  list.forEach((entry, i) => {
    const at = `runbooks[${i}]`;
    if (typeof entry === "string") {
      if (!Runbooks.has(entry))
        issues.push({ path: at, message: `runbook '${entry}' is not part of this build of Reflex` });
      return;
    }
    if (!entry || typeof entry !== "object") {
      issues.push({ path: at, message: "must be a runbook made with defineRunbook" });
      return;
    }
    const spec = entry as Runbooks.RunbookSpec<z.ZodType>;
    const label = typeof spec.name === "string" ? `runbook '${spec.name}'` : "runbook";
    const { problems } = Runbooks.checkSpec(spec);
    if (typeof spec.name === "string") {
      if (Runbooks.isBuiltIn(spec.name))
        problems.push({
          path: "name",
          message: `'${spec.name}' is a built-in runbook's name: give yours another`,
        });
      else if (names.has(spec.name))
        problems.push({
          path: "name",
          message: `'${spec.name}' is also the name of runbooks[${names.get(spec.name)}]`,
        });
      else if (Runbooks.has(spec.name) && !Runbooks.isConfigRunbook(spec.name, entry))
        problems.push({ path: "name", message: `'${spec.name}' is already registered` });
      names.set(spec.name, i);
    }
    for (const p of problems) issues.push({ path: `${at}.${p.path}`, message: `${label}: ${p.message}` });
    if (problems.length === 0) Runbooks.registerFromConfig(entry as Runbooks.RunbookSpec<z.ZodType>);
  });
  return issues;
}

/** The problems with a pair that its schema cannot see: standby vs primary, record vs zone. */
function pairIssues(p: Pair, i: number): Issue[] {
  const out: Issue[] = [];
  const at = `pairs[${i}]`;
  if (p.primary.instance === p.standby.instance)
    out.push({
      path: `${at}.standby.instance`,
      message: `the standby must be another instance than the primary (${p.primary.instance})`,
    });
  if (!p.elasticIp && !p.record)
    out.push({ path: at, message: "a pair needs an elasticIp, a record, or both: failover moves them" });
  if (p.record) {
    const fqdn = (s: string) => s.toLowerCase().replace(/\.$/, "");
    const zone = fqdn(p.record.zone);
    const name = fqdn(p.record.name);
    if (name !== zone && !name.endsWith(`.${zone}`))
      out.push({
        path: `${at}.record.name`,
        message: `record ${p.record.name} is not in zone ${p.record.zone}`,
      });
    for (const side of ["primary", "standby"] as const) {
      const value = p[side].recordValue;
      if (value === undefined)
        out.push({
          path: `${at}.${side}.recordValue`,
          message: `the value of ${p.record.name} when ${side === "primary" ? "the primary" : "the standby"} is primary is required with a record`,
        });
      else if (p.record.type === "A" && !/^(\d{1,3}\.){3}\d{1,3}$/.test(value))
        out.push({
          path: `${at}.${side}.recordValue`,
          message: `'${value}' is not an IPv4 address (record type A)`,
        });
    }
    if (p.primary.recordValue !== undefined && p.primary.recordValue === p.standby.recordValue)
      out.push({ path: `${at}.standby.recordValue`, message: "the two sides have the same record value" });
  }
  return out;
}

function checkMeaning(config: Config, issues: Issue[]): Config {
  const seen = new Map<string, string>();
  const unique = (kind: string, name: string, path: string) => {
    const key = `${kind}:${name}`;
    if (seen.has(key))
      issues.push({ path, message: `${kind} name '${name}' is also used at ${seen.get(key)}` });
    else seen.set(key, path);
  };
  config.rules.forEach((rule, i) => {
    if (!rule) return;
    unique("rule", rule.name, `rules[${i}].name`);
    try {
      validatePattern(rule.on);
    } catch (err) {
      const inner = (err as { path?: string }).path;
      issues.push({ path: `rules[${i}].on${inner ? `.${inner}` : ""}`, message: (err as Error).message });
    }
    issues.push(...checkParams(rule.run, rule.with, ["rules", i, "with"], true));
  });
  config.schedules.forEach((s, i) => {
    if (!s) return;
    unique("schedule", s.name, `schedules[${i}].name`);
    issues.push(...checkParams(s.run, s.with, ["schedules", i, "with"], false));
  });
  config.windows.forEach((w, i) => {
    if (!w) return;
    unique("window", w.name, `windows[${i}].name`);
    if (w.cutoff >= w.duration)
      issues.push({ path: `windows[${i}].cutoff`, message: "cutoff must be shorter than duration" });
    issues.push(...checkParams(w.run, w.with, ["windows", i, "with"], false));
  });
  config.freezes.forEach((f, i) => {
    if (!f) return;
    unique("freeze", f.name, `freezes[${i}].name`);
    f.runbooks?.forEach((r, j) => {
      if (!Runbooks.has(r))
        issues.push({ path: `freezes[${i}].runbooks[${j}]`, message: `unknown runbook '${r}'` });
    });
  });
  config.pairs.forEach((p, i) => {
    if (!p) return;
    unique("pair", p.name, `pairs[${i}].name`);
    issues.push(...pairIssues(p, i));
  });
  config.access.allow.forEach((a, i) => {
    if (!config.access.roles[a.role])
      issues.push({
        path: `access.allow[${i}].role`,
        message: `role '${a.role}' is not defined in access.roles`,
      });
    a.runbooks.forEach((r, j) => {
      if (r !== "*" && !Runbooks.has(r))
        issues.push({ path: `access.allow[${i}].runbooks[${j}]`, message: `unknown runbook '${r}'` });
    });
  });
  for (const [role, members] of Object.entries(config.access.roles)) {
    members.forEach((m, j) => {
      if (
        !/^(arn:aws[a-z-]*:(iam|sts)::[0-9*]{0,12}:[A-Za-z0-9+=,.@_/*:-]+|(cli|local|slack|group|api|sso|person|oidc):[A-Za-z0-9._@*-]+|[UW][A-Z0-9]{2,}|[A-Za-z0-9._@*-]+)$/.test(
          m,
        )
      )
        issues.push({
          path: `access.roles.${role}[${j}]`,
          message: `'${m}' is not an actor: give an IAM principal ARN (patterns with *), a user name, a Slack user id (U…) or a group (group:S…)`,
        });
    });
  }
  issues.push(...peopleIssues(config));
  // The loopback IdP's users are its directory: one sub, one user.
  const localSubs = new Set<string>();
  config.console.localUsers?.forEach((u, i) => {
    if (localSubs.has(u.sub))
      issues.push({ path: `console.localUsers[${i}].sub`, message: `'${u.sub}' is listed twice` });
    localSubs.add(u.sub);
  });
  issues.push(...accountIssues(config.accounts), ...overrideIssues(config));
  // `locations:` selectors and limits, against the accounts as configured.
  for (const [list, entries] of [
    ["rules", config.rules],
    ["schedules", config.schedules],
    ["windows", config.windows],
  ] as const)
    entries.forEach((e, i) => {
      // An entry or account that did not parse is reported already.
      if (e?.locations)
        issues.push(
          ...locationsIssues(config.accounts.filter(Boolean), e.locations, `${list}[${i}].locations`),
        );
    });
  config.approvals.approvers?.forEach((r, i) => {
    if (!config.access.roles[r])
      issues.push({
        path: `approvals.approvers[${i}]`,
        message: `role '${r}' is not defined in access.roles`,
      });
  });
  config.approvals.policies.forEach((p, i) => {
    p.runbooks?.forEach((r, j) => {
      if (r !== "*" && !Runbooks.has(r))
        issues.push({ path: `approvals.policies[${i}].runbooks[${j}]`, message: `unknown runbook '${r}'` });
    });
  });
  // Only for a config whose parts all parse: the budget reads every pair.
  if (issues.length === 0) issues.push(...timingIssues(config));
  if (issues.length > 0) throw new ConfigError(`config has ${issues.length} problem(s)`, issues);
  return config;
}

/** The parts of an invalid config that parse on their own (each list element separately). */
function salvage(raw: unknown): Config {
  const input = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const access = configSchema.shape.access.safeParse(input.access);
  const approvals = configSchema.shape.approvals.safeParse(input.approvals);
  const people = configSchema.shape.people.safeParse(input.people);
  const base = configSchema.parse({});
  // Keep list positions: a salvaged element must report under its own index.
  const positional = <T>(key: string, schema: z.ZodType<T>): T[] =>
    Array.isArray(input[key]) ? (input[key] as unknown[]).map((v) => schema.safeParse(v).data as T) : [];
  return {
    ...base,
    rules: positional("rules", ruleSchema),
    schedules: positional("schedules", scheduleSchema),
    windows: positional("windows", windowSchema),
    freezes: positional("freezes", freezeSchema),
    pairs: positional("pairs", pairSchema),
    accounts: positional("accounts", memberAccountSchema),
    access: access.success ? access.data : base.access,
    approvals: approvals.success ? approvals.data : base.approvals,
    people: people.success ? people.data : base.people,
  };
}

/** The config file's default location. */
export const DEFAULT_CONFIG_FILE = "reflex.config.ts";

/**
 * Loads and validates a config module (its default export). A missing file or a module that
 * fails to load is a ConfigError too, with the file as its path.
 */
export async function loadConfig(file: string = DEFAULT_CONFIG_FILE): Promise<Config> {
  const full = resolve(file);
  if (!existsSync(full))
    throw new ConfigError(`config file ${file} does not exist`, [{ path: file, message: "file not found" }]);
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(full).href);
  } catch (err) {
    // A runbook the config imports that throws when it loads: name its file, not only the config.
    const thrower = throwingFile(err, full);
    const where = thrower ? `${thrower} threw while loading: ` : "";
    throw new ConfigError(
      `config file ${file} could not be loaded: ${where}${(err as Error).message}`,
      [{ path: thrower ?? file, message: (err as Error).message }],
      { cause: err },
    );
  }
  if (mod.default === undefined) {
    throw new ConfigError(`config file ${file} has no default export`, [
      { path: file, message: "add `export default defineConfig({...})`" },
    ]);
  }
  return validateConfig(mod.default);
}

/**
 * The user's file an import error came from (the first stack frame outside node_modules and
 * Reflex's own packages), relative to the working directory; undefined when it is the config itself.
 */
function throwingFile(err: unknown, config: string): string | undefined {
  const stack = String((err as Error)?.stack ?? "");
  for (const m of stack.matchAll(/(?:file:\/\/)?(\/[^\s():]+\.[cm]?[jt]s):\d+/g)) {
    const path = m[1];
    if (/node_modules|\/packages\/(core|functions|local|sdk)\/|^node:/.test(path)) continue;
    if (path === config) return undefined;
    return relative(process.cwd(), path) || path;
  }
  // A syntax error names its file in the message, not the stack.
  const named = /(\/[^\s():]+\.[cm]?[jt]s)/.exec(String((err as Error)?.message ?? ""))?.[1];
  return named && named !== config && !/node_modules/.test(named)
    ? relative(process.cwd(), named)
    : undefined;
}

let current: Config | undefined;

/** The config in force (set by local mode or the Lambda bootstrap); defaults when none was set. */
export function currentConfig(): Config {
  current ??= validateConfig({});
  return current;
}

/** Sets the config in force. */
export function useConfig(config: Config): void {
  current = config;
  setConfigInForce(config);
}
