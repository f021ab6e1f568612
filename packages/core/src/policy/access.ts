/**
 * Who may do what: the config's roles map actors to the runbooks they may run, dry-run,
 * approve, abort and override guardrails for, per environment.
 *
 * Actors are identities the caller cannot choose (see `people.ts`): an IAM user or role ARN, or
 * `sso:<user>` (deployed API, CLI with SigV4), `cli:<user>` (the local CLI, or `--as`),
 * `slack:<user id>` (ChatOps), `rule:<name>` / `schedule:<name>` / `window:<name>` (automation
 * the config itself set up). A role member matches an actor when it equals one of the actor's
 * identities (those `people:` links to it, and for a role session the role's ARN), equals one
 * without its `kind:` prefix (`U123` matches `slack:U123`), or matches one as a pattern with
 * `*`; a role ARN member is compared without its path (a session's ARN has none); `group:<id>`
 * matches an actor who is in that (Slack user) group.
 *
 * When the config has no `access` section: local mode lets the local user do everything; a
 * deployed Reflex lets nobody start anything by hand (fail closed) until the config lists who.
 */
import { ACTIONS, type Action, type Config } from "../config/schema.ts";
import * as People from "./people.ts";

export interface Actor {
  /** The identity (see `People.identityOf`): never a name the caller picked. */
  id: string;
  /** What the caller arrived as, when that differs from `id` (a role session's full ARN). */
  raw?: string;
  /** Groups the actor is in (Slack user groups), for `group:` members. */
  groups?: string[];
}

/** True in local mode (set by `reflex start`), where an unconfigured access section means "the local user may do all". */
export function isLocalMode(): boolean {
  return process.env.REFLEX_LOCAL_MODE === "1";
}

function pattern(p: string): RegExp {
  return new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
}

/** The forms of an actor a role member may name: its identities, its session's role, and each without its `kind:` prefix. */
function candidatesOf(actor: Actor, config?: Config): string[] {
  const ids = config ? People.identitiesOf(config, actor.id) : [actor.id];
  const role = People.roleOfSession(actor.raw ?? actor.id);
  const all = role ? [...ids, role] : ids;
  // `alice` names the local user `cli:alice`, `U123` the Slack user `slack:U123`; other kinds
  // (an Identity Center user, an OIDC subject, a person) are matched only in full.
  const bare = all.filter((id) => /^(cli|local|slack):/.test(id)).map((id) => id.slice(id.indexOf(":") + 1));
  return [...new Set([...all, ...bare])];
}

/** Does a role member name this actor? With the config, people's linked identities count too. */
export function memberMatches(member: string, actor: Actor, config?: Config): boolean {
  if (member.startsWith("group:")) return (actor.groups ?? []).includes(member.slice("group:".length));
  const candidates = candidatesOf(actor, config);
  const m = member.startsWith("arn:") ? People.withoutPath(member) : member;
  if (m.includes("*")) {
    const re = pattern(m);
    return candidates.some((c) => re.test(c));
  }
  return candidates.includes(m);
}

/** The roles an actor holds. */
export function rolesOf(config: Config, actor: Actor): string[] {
  return Object.entries(config.access.roles)
    .filter(([, members]) => members.some((m) => memberMatches(m, actor, config)))
    .map(([role]) => role);
}

/** Whether the config says anything about access at all. */
export function accessConfigured(config: Config): boolean {
  return Object.keys(config.access.roles).length > 0 || config.access.allow.length > 0;
}

/** May `actor` do `action` with `runbook` in this config's environment? */
export function may(config: Config, actor: Actor, action: Action, runbook: string): boolean {
  // A member account's `overrides.access` (set by policy/overrides.ts on the config a run there
  // is judged by) is a second rule list the person must satisfy too: it can only narrow.
  const narrowed = config.locationAccess;
  // Without roles in the hub's config, an account's rules name none anyone holds.
  if (!accessConfigured(config)) return isLocalMode() && !narrowed;
  const roles = new Set(rolesOf(config, actor));
  const allows = (allow: Config["access"]["allow"]) =>
    allow.some(
      (a) =>
        roles.has(a.role) &&
        a.actions.includes(action) &&
        (a.runbooks.includes("*") || a.runbooks.includes(runbook)) &&
        (!a.environments || a.environments.includes(config.environment)),
    );
  return allows(config.access.allow) && (!narrowed || allows(narrowed.allow));
}

/** Roles allowed `action` on `runbook` here (for "who can approve this?"). */
export function rolesAllowed(config: Config, action: Action, runbook: string): string[] {
  const roles = (allow: Config["access"]["allow"]) =>
    allow
      .filter(
        (a) =>
          a.actions.includes(action) &&
          (a.runbooks.includes("*") || a.runbooks.includes(runbook)) &&
          (!a.environments || a.environments.includes(config.environment)),
      )
      .map((a) => a.role);
  const narrowed = config.locationAccess && new Set(roles(config.locationAccess.allow));
  return [...new Set(roles(config.access.allow))].filter((r) => !narrowed || narrowed.has(r));
}

/** What an actor may do, per runbook (for `reflex whoami`). */
export function describeActor(
  config: Config,
  actor: Actor,
  runbooks: string[],
): {
  actor: string;
  /** The ARN the caller arrived with, when the identity is not that (a role session). */
  arrivedAs?: string;
  /** The configured person this identity belongs to (`people:`). */
  person?: string;
  /** Every identity of that person (a run's requester is compared with these, as the server does). */
  identities: string[];
  roles: string[];
  environment: string;
  may: Record<string, Action[]>;
  note?: string;
} {
  const actions: readonly Action[] = ACTIONS;
  const person = People.personOf(config, actor.id);
  return {
    actor: actor.id,
    ...(actor.raw && actor.raw !== actor.id ? { arrivedAs: actor.raw } : {}),
    ...(person.linked ? { person: person.name } : {}),
    identities: People.identitiesOf(config, actor.id),
    roles: rolesOf(config, actor),
    environment: config.environment,
    may: Object.fromEntries(runbooks.map((r) => [r, actions.filter((a) => may(config, actor, a, r))])),
    note: accessConfigured(config)
      ? undefined
      : isLocalMode()
        ? "the config has no access section: in local mode the local user may do everything"
        : "the config has no access section: deployed, nobody may start runs by hand until it lists who",
  };
}
