/**
 * Who a caller is: an identity the caller cannot choose, and the person it belongs to.
 *
 * Deployed, the API's IAM authorizer gives the caller's ARN (`userArn`). For a role session that
 * is `arn:aws:sts::<account>:assumed-role/<role>/<session>`, and whoever calls `AssumeRole`
 * picks `<session>`: it names nobody. So the identity is
 *   - an IAM user's ARN as it is;
 *   - `sso:<user name>` for an IAM Identity Center session (`AWSReservedSSO_<permission set>_<id>`
 *     roles): Identity Center names the session after the signed-in user, who cannot change it;
 *   - the session ARN itself for a role listed in `access.namedSessions`, whose trust policy forces
 *     the session name (`sts:RoleSessionName` and `sts:SourceIdentity` equal to `${aws:username}`);
 *   - otherwise the role's ARN without the session: every session of that role is one person;
 *   - every federated user (GetFederationToken) of an account as one, `…:federated-user`.
 * The HTTP API's IAM authorizer does not pass `aws:SourceIdentity` on (its context carries
 * accessKey, accountId, callerId, cognitoIdentity, principalOrgId, userArn and userId), which is
 * why a forced session name, not the source identity itself, is what reaches Reflex.
 *
 * `people:` in the config links one person's identities (IAM, Slack, OIDC): self-approval,
 * `minApprovers` and the audit count and name people.
 */
import type { Config } from "../config/schema.ts";
import type { Issue } from "../errors.ts";

/** One person, as approvals count and the audit names them. */
export interface Person {
  /** Compared to tell people apart: `person:<name>` for a configured person, else the identity. */
  key: string;
  /** How the audit and "who approved" name them. */
  name: string;
  /** True when `people:` lists them. */
  linked: boolean;
}

const ASSUMED_ROLE = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/([\w+=,.@-]+)$/;
const FEDERATED_USER = /^arn:(aws[a-z-]*):sts::(\d{12}):federated-user\/.+$/;
/** IAM Identity Center's roles in member accounts: `AWSReservedSSO_<permission set>_<16 hex>`. */
const SSO_ROLE = /^AWSReservedSSO_/;
const ROLE_ARN = /^(arn:aws[a-z-]*:iam::[^:]*:role\/)(.*\/)?([^/]*)$/;

/**
 * A role ARN (or pattern) as a session can be compared with it: without its path, which the
 * assumed-role ARN a session arrives with does not carry.
 */
export function withoutPath(roleArn: string): string {
  const m = ROLE_ARN.exec(roleArn);
  return m ? `${m[1]}${m[3]}` : roleArn;
}

/** The role ARN (no path) a session ARN belongs to, or undefined for anything else. */
export function roleOfSession(arn: string | undefined): string | undefined {
  const m = arn ? ASSUMED_ROLE.exec(arn) : null;
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : undefined;
}

function namedSession(config: Config, roleArn: string): boolean {
  return config.access.namedSessions.some((r) => withoutPath(r) === roleArn);
}

/**
 * The identity behind an IAM caller's ARN, as above.
 *
 * @example
 * identityOf("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_SRE_0123456789abcdef/alice", config) // "sso:alice"
 * identityOf("arn:aws:sts::123456789012:assumed-role/OnCall/anything", config) // "arn:aws:iam::123456789012:role/OnCall"
 */
export function identityOf(arn: string, config: Config): string {
  // GetFederationToken: the IAM user who calls it names the federated user freely, and the ARN
  // does not say who that was, so every federated user of an account is one identity.
  const federated = FEDERATED_USER.exec(arn);
  if (federated) return `arn:${federated[1]}:sts::${federated[2]}:federated-user`;
  const m = ASSUMED_ROLE.exec(arn);
  if (!m) return arn;
  const [, , , role, session] = m;
  if (SSO_ROLE.test(role)) return `sso:${session}`;
  const roleArn = roleOfSession(arn) as string;
  return namedSession(config, roleArn) ? arn : roleArn;
}

/** An identity as `people:` writes it, in the form {@link identityOf} gives. */
function normalized(config: Config, identity: string): string {
  if (ASSUMED_ROLE.test(identity)) return identityOf(identity, config);
  return ROLE_ARN.test(identity) ? withoutPath(identity) : identity;
}

type PersonEntry = Config["people"][number];

/** Every identity one configured person has. */
export function identitiesOfEntry(config: Config, p: PersonEntry): string[] {
  return [
    ...p.iam.map((i) => normalized(config, i)),
    ...(p.slack ? [`slack:${p.slack}`] : []),
    ...p.oidc.map((s) => `oidc:${s}`),
  ];
}

function entryOf(config: Config, identity: string): PersonEntry | undefined {
  return config.people.find(
    (p) => identity === `person:${p.name}` || identitiesOfEntry(config, p).includes(identity),
  );
}

/**
 * The person an identity belongs to: the configured person who lists it, else the identity
 * itself (one identity, one person).
 *
 * @example
 * People.personOf(config, "slack:U123").name // "alice", when people lists { name: "alice", slack: "U123" }
 */
export function personOf(config: Config, identity: string): Person {
  const p = entryOf(config, identity);
  return p
    ? { key: `person:${p.name}`, name: p.name, linked: true }
    : { key: identity, name: identity, linked: false };
}

/** Are two identities the same person? */
export function samePerson(config: Config, a: string, b: string): boolean {
  return personOf(config, a).key === personOf(config, b).key;
}

/** Every identity of the person `identity` belongs to (itself when nobody links it), and `person:<name>`. */
export function identitiesOf(config: Config, identity: string): string[] {
  const p = entryOf(config, identity);
  return p ? [...new Set([identity, ...identitiesOfEntry(config, p), `person:${p.name}`])] : [identity];
}

/** Why an `access.roles` member can never match a caller, or undefined when it can. */
function neverMatches(config: Config, member: string): string | undefined {
  if (!member.startsWith("arn:")) return undefined;
  // Patterns too (`…:assumed-role/OnCall/*`): a session ARN is never what Reflex compares.
  const session = /^arn:(aws[a-z-]*):sts::([^:]*):assumed-role\/([^/]+)\/(.+)$/.exec(member);
  if (session) {
    const role = `arn:${session[1]}:iam::${session[2]}:role/${session[3]}`;
    if (SSO_ROLE.test(session[3]))
      return `an Identity Center session is the user sso:${session[4]}, not its session ARN: write 'sso:${session[4]}' (or the role ${role} for everyone with that permission set)`;
    const named = config.access.namedSessions.map(withoutPath);
    if (!named.includes(role))
      return `a session name is chosen by whoever assumes the role, so Reflex knows this caller as the role ${role}: write that (every session of it), or list the role in access.namedSessions if its trust policy forces the session name`;
    return undefined;
  }
  if (/^arn:[^:]*:iam::[^:]*:assumed-role\//.test(member))
    return "assumed-role ARNs are in the sts service (arn:aws:sts::…:assumed-role/…); a role itself is arn:aws:iam::…:role/…";
  if (/^arn:[^:]*:sts::[^:]*:role\//.test(member))
    return "roles are in the iam service: arn:aws:iam::<account>:role/<name>";
  if (/^arn:[^:]*:sts::[^:]*:federated-user\/./.test(member))
    return "a federated user's name is chosen by whoever calls GetFederationToken: Reflex knows every federated user of an account as arn:aws:sts::<account>:federated-user";
  if (/^arn:[^:]*:iam::[^:]*:group\//.test(member))
    return "IAM groups never call: a caller is a user or a role session; list the users or the role";
  const account = /^arn:[^:]*:(?:iam|sts)::([^:]*):/.exec(member)?.[1];
  if (account !== undefined && account !== "*" && !/^[0-9*]{1,12}$/.test(account))
    return `'${account}' is not an account id (12 digits)`;
  if (account !== undefined && !account.includes("*") && account.length !== 12)
    return `'${account}' is not an account id (12 digits)`;
  return undefined;
}

/**
 * What `reflex config check` warns about: role members no caller can ever match, and role
 * paths, which a session's ARN does not show (such a member matches by role name alone).
 */
export function accessWarnings(config: Config): Issue[] {
  const out: Issue[] = [];
  for (const [role, members] of Object.entries(config.access.roles)) {
    members.forEach((m, j) => {
      const path = `access.roles.${role}[${j}]`;
      const why = neverMatches(config, m);
      if (why) out.push({ path, message: `'${m}' can never match a caller: ${why}` });
      else if (/^arn:[^:]*:(iam|sts)::[^:]*\*[^:]*:/.test(m))
        out.push({
          path,
          message: `'${m}' matches principals of any account its pattern allows: write the account id`,
        });
      else {
        const r = ROLE_ARN.exec(m);
        if (r?.[2] && !/^aws-reserved\/sso\.amazonaws\.com\//.test(r[2]))
          out.push({
            path,
            message: `the path '/${r[2]}' is not in the ARN a session arrives with: '${m}' matches every role named '${r[3]}' in that account`,
          });
      }
    });
  }
  config.people.forEach((p, i) => {
    p.iam.forEach((m, j) => {
      const why = neverMatches(config, m);
      if (why)
        out.push({ path: `people[${i}].iam[${j}]`, message: `'${m}' can never be this person: ${why}` });
    });
  });

  return out;
}

/** The problems with `people:` that make the config invalid: one identity under two people. */
export function peopleIssues(config: Config): Issue[] {
  const out: Issue[] = [];
  const owner = new Map<string, string>();
  const names = new Set<string>();
  config.people.forEach((p, i) => {
    if (!p) return;
    if (names.has(p.name))
      out.push({ path: `people[${i}].name`, message: `person '${p.name}' is listed twice` });
    names.add(p.name);
    // Linking compares whole identities: a pattern would link nobody, and the person would
    // count twice (self-approval, minApprovers) through the identities it was meant to cover.
    p.iam.forEach((m, j) => {
      if (m.includes("*"))
        out.push({
          path: `people[${i}].iam[${j}]`,
          message: `'${m}' is a pattern: people link exact identities (patterns belong in access.roles); list each ARN`,
        });
    });
    for (const id of new Set(identitiesOfEntry(config, p))) {
      const other = owner.get(id);
      if (other && other !== p.name)
        out.push({
          path: `people[${i}]`,
          message: `${id} is also listed for ${other}: an identity belongs to one person`,
        });
      else owner.set(id, p.name);
    }
  });
  return out;
}
