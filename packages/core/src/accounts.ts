/**
 * Many accounts and Regions from one hub: the member accounts Reflex may act in (config
 * `accounts`, after c7n-org's `accounts.yml`), the role it assumes in each, and the selector
 * that picks a run's locations (`tag:env=prod`, an account id or name, `*`).
 *
 * A location is one account and one Region. A run that names locations gets one child run per
 * location (see `locations.ts`), each with credentials for its account from `Aws.clientsFor`.
 *
 * @example
 * const locations = resolveLocations(config.accounts, { accounts: ["tag:env=prod"] });
 * // [{ account: "111111111111", accountName: "prod-a", region: "us-east-1" }, ...]
 */
import { z } from "zod";
import { type Issue, ValidationError } from "./errors.ts";

/**
 * The Regions AWS has (commercial, China, GovCloud), as the EC2 `DescribeRegions` of each
 * partition lists them: a Region not in it is a typo in config, found at load, not at 2 a.m.
 */
export const KNOWN_REGIONS = [
  "af-south-1",
  "ap-east-1",
  "ap-east-2",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-northeast-3",
  "ap-south-1",
  "ap-south-2",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-southeast-3",
  "ap-southeast-4",
  "ap-southeast-5",
  "ap-southeast-6",
  "ap-southeast-7",
  "ca-central-1",
  "ca-west-1",
  "eu-central-1",
  "eu-central-2",
  "eu-north-1",
  "eu-south-1",
  "eu-south-2",
  "eu-west-1",
  "eu-west-2",
  "eu-west-3",
  "il-central-1",
  "me-central-1",
  "me-south-1",
  "mx-central-1",
  "sa-east-1",
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
  "cn-north-1",
  "cn-northwest-1",
  "us-gov-east-1",
  "us-gov-west-1",
] as const;

/** The role Reflex assumes in a member account when the config names none (the member template creates it). */
export const DEFAULT_MEMBER_ROLE = "ReflexExecutionRole";

export { MAX_SESSION_SECONDS } from "./aws.ts";

/** The partition a Region belongs to (`aws`, `aws-cn`, `aws-us-gov`). */
export function partitionOf(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

const knownRegion = z.string().refine((r) => (KNOWN_REGIONS as readonly string[]).includes(r), {
  error: (i) => `unknown Region '${String(i.input).slice(0, 40)}' (e.g. us-east-1)`,
});

const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/([\w+=,.@/-]{1,512})$/;

export const accountSchema = z
  .object({
    id: z.string().regex(/^\d{12}$/, "account id must be 12 digits"),
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be letters, digits, '.', '_' or '-', at most 64"),
    regions: z.array(knownRegion).min(1, "give at least one Region"),
    /** The role to assume: a name (in this account) or an ARN. Default `ReflexExecutionRole`. */
    role: z
      .string()
      .regex(/^([\w+=,.@-]{1,64}|arn:.*)$/, "must be a role name or a role ARN")
      .optional(),
    /** STS `ExternalId` the member role's trust policy requires (2–1,224 characters). */
    externalId: z
      .string()
      .regex(/^[\w+=,.@:/-]{2,1224}$/, "must be 2-1,224 characters of [A-Za-z0-9+=,.@:/-_]")
      .optional(),
    tags: z.record(z.string().min(1).max(128), z.string().max(256)).default({}),
    /** Values a runbook's params may name (`$vars.<key>`), per account. */
    vars: z.record(z.string(), z.unknown()).default({}),
    /**
     * What is stricter in this account than in the hub's config (`guardrails`, `freezes`,
     * `access`): the shape is `accountOverridesSchema` in config/schema.ts (it needs the freeze
     * schema), applied by admission to a run in this account (policy/overrides.ts).
     */
    overrides: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export type Account = z.output<typeof accountSchema>;

/** An organizational unit id (`ou-…`) or the organization's root (`r-…`), as Organizations writes them. */
const PARENT_ID = /^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$/;

/**
 * Config `organization`: the member accounts of some OUs, resolved through AWS Organizations
 * (`ListAccountsForParent`, and `ListOrganizationalUnitsForParent` for child OUs), only ACTIVE
 * ones, less `exclude`; merged with the explicit `accounts` (see organization.ts).
 */
export const organizationSchema = z
  .object({
    /** OU ids (`ou-ab12-cdef3456`) or the root (`r-ab12`). */
    ous: z
      .array(z.string().regex(PARENT_ID, "must be an OU id (ou-xxxx-xxxxxxxx) or the root (r-xxxx)"))
      .min(1, "give at least one OU"),
    /** Account ids never acted in, whatever OU they are in. */
    exclude: z.array(z.string().regex(/^\d{12}$/, "account id must be 12 digits")).default([]),
    /** Also the accounts of the OUs under each OU, all the way down. Default false. */
    includeChildren: z.boolean().default(false),
    /** The Regions runs act in, in every account of the OUs. */
    regions: z.array(knownRegion).min(1, "give at least one Region"),
    /** The role to assume in each (a name). Default `ReflexExecutionRole`. */
    role: z
      .string()
      .regex(/^[\w+=,.@-]{1,64}$/, "must be a role name (the same in every account)")
      .optional(),
    externalId: z
      .string()
      .regex(/^[\w+=,.@:/-]{2,1224}$/, "must be 2-1,224 characters of [A-Za-z0-9+=,.@:/-_]")
      .optional(),
    /** Tags every resolved account gets (besides `ou:<the OU it was found in>`), for selectors. */
    tags: z.record(z.string().min(1).max(128), z.string().max(256)).default({}),
    /**
     * The hub runs in a delegated administrator for CloudFormation StackSets (not the management
     * account): the member StackSet is created with `CallAs: DELEGATED_ADMIN`. Default false.
     */
    delegatedAdmin: z.boolean().default(false),
    /** How long a resolution is reused before Organizations is asked again. Default 15. */
    cacheMinutes: z.number().int().min(1).max(1440).default(15),
  })
  .strict();

export type Organization = z.output<typeof organizationSchema>;

/** One place a run acts: an account and a Region. */
export interface Location {
  account: string;
  accountName?: string;
  region: string;
}

/** The ARN of the role Reflex assumes in an account. */
export function roleArnOf(account: Pick<Account, "id" | "role" | "regions">): string {
  const role = account.role ?? DEFAULT_MEMBER_ROLE;
  if (role.startsWith("arn:")) return role;
  return `arn:${partitionOf(account.regions[0] ?? "us-east-1")}:iam::${account.id}:role/${role}`;
}

/**
 * What a valid-shaped `accounts` list still gets wrong: the same id or name twice, a role ARN
 * that is not an ARN, names another account, or sits in another partition than the account's
 * Regions, and Regions of two partitions in one account (one role cannot span them).
 */
export function accountIssues(accounts: Array<Account | undefined>): Issue[] {
  const issues: Issue[] = [];
  const ids = new Map<string, number>();
  const names = new Map<string, number>();
  accounts.forEach((a, i) => {
    if (!a) return; // it did not parse: its problems are reported already
    const at = `accounts[${i}]`;
    const sameId = ids.get(a.id);
    if (sameId !== undefined)
      issues.push({ path: `${at}.id`, message: `duplicate account ${a.id} (also accounts[${sameId}])` });
    else ids.set(a.id, i);
    const sameName = names.get(a.name);
    if (sameName !== undefined)
      issues.push({
        path: `${at}.name`,
        message: `duplicate account name '${a.name}' (also accounts[${sameName}])`,
      });
    else names.set(a.name, i);
    const partitions = [...new Set(a.regions.map(partitionOf))];
    if (partitions.length > 1)
      issues.push({
        path: `${at}.regions`,
        message: `Regions of more than one partition (${partitions.join(", ")}); one role cannot span them`,
      });
    if (a.role?.startsWith("arn:")) {
      const m = ROLE_ARN.exec(a.role);
      if (!m)
        issues.push({ path: `${at}.role`, message: "not a role ARN (arn:aws:iam::<account>:role/<name>)" });
      else {
        const [, partition, roleAccount] = m;
        const want = partitions[0] ?? "aws";
        if (partition !== want)
          issues.push({
            path: `${at}.role`,
            message: `role ARN is in partition '${partition}', but the account's Regions are in '${want}'`,
          });
        if (roleAccount !== a.id)
          issues.push({
            path: `${at}.role`,
            message: `role ARN names account ${roleAccount}, not ${a.id}`,
          });
      }
    }
  });
  return issues;
}

/** Which locations a run acts in: accounts by id, name, `tag:key=value` or `*`; Regions default each account's. */
export interface LocationSelector {
  accounts?: string[];
  regions?: string[];
  excludeAccounts?: string[];
}

function matches(account: Account, term: string): boolean {
  if (term === "*") return true;
  if (term.startsWith("tag:")) {
    const [key, ...rest] = term.slice(4).split("=");
    const value = rest.join("=");
    return (
      key !== undefined &&
      account.tags[key] !== undefined &&
      (rest.length === 0 || account.tags[key] === value)
    );
  }
  return account.id === term || account.name === term;
}

/**
 * The locations a selector names, in config order, each account's Regions (or the selector's,
 * where the account has them). A term that matches no account is bad input, not an empty run.
 */
export function resolveLocations(accounts: Account[], selector: LocationSelector): Location[] {
  const terms = selector.accounts ?? ["*"];
  const issues: Issue[] = [];
  terms.forEach((t, i) => {
    if (!accounts.some((a) => matches(a, t)))
      issues.push({ path: `accounts[${i}]`, message: `'${t}' matches no account in config` });
  });
  if (issues.length)
    throw new ValidationError("unknown_location", issues.map((i) => i.message).join("; "), issues);
  const chosen = accounts.filter(
    (a) => terms.some((t) => matches(a, t)) && !(selector.excludeAccounts ?? []).some((t) => matches(a, t)),
  );
  const out: Location[] = [];
  for (const a of chosen)
    for (const region of a.regions)
      if (!selector.regions || selector.regions.includes(region))
        out.push({ account: a.id, accountName: a.name, region });
  return out;
}

/** A count, or a percentage of the locations (`"50%"`). */
export type Limit = number | string;

/** The most locations one fan-out takes: its item (plan and outcomes) must fit DynamoDB's 400 KB. */
export const MAX_LOCATIONS = 1000;

/**
 * A limit as a count of `total` locations: `"50%"` of 6 is 3. Below `min` (a concurrency of 0 or
 * `"0%"`) is refused naming the field, never read as `min`: the caller asked for something else.
 */
export function limitOf(limit: Limit, total: number, what: string, min: number): number {
  const text = String(limit);
  const m = /^(\d{1,3})%$/.exec(text);
  if (m) {
    const pct = Number(m[1]);
    if (pct > 100)
      throw new ValidationError("invalid_limit", `${what} must be at most 100%`, [
        { path: what, message: "must be at most 100%" },
      ]);
    return atLeast(Math.ceil((total * pct) / 100), min, what);
  }
  if (!/^\d{1,6}$/.test(text))
    throw new ValidationError("invalid_limit", `${what} must be a number or a percentage such as "10%"`, [
      { path: what, message: 'must be a number or a percentage such as "10%"' },
    ]);
  return atLeast(Number(text), min, what);
}

function atLeast(n: number, min: number, what: string): number {
  if (n < min)
    throw new ValidationError("invalid_limit", `${what} must be at least ${min}`, [
      { path: what, message: `must be at least ${min}` },
    ]);
  return n;
}

/**
 * `locations:` on a rule, a schedule or a window: the selector and the fan-out's limits. A
 * schedule or window runs in every location it names; a rule, on an event from a member
 * account, in the event's own location when the selector names it (see docs/accounts.md).
 */
export const locationsSchema = z
  .object({
    accounts: z.array(z.string().min(1).max(128)).min(1).max(50),
    regions: z.array(z.string().min(1).max(32)).min(1).max(50).optional(),
    excludeAccounts: z.array(z.string().min(1).max(128)).max(50).optional(),
    locationConcurrency: z.union([z.number().int().min(1), z.string().max(8)]).optional(),
    locationMaxErrors: z.union([z.number().int().min(0), z.string().max(8)]).optional(),
  })
  .strict();
export type LocationsConfig = z.output<typeof locationsSchema>;

/**
 * What a `locations:` entry at `at` gets wrong against the accounts: a term matching no account,
 * no location left, too many, a limit that is not a number or a percentage up to 100%.
 */
export function locationsIssues(accounts: Account[], l: LocationsConfig, at: string): Issue[] {
  const issues: Issue[] = [];
  const collect = (err: unknown, base: string) => {
    if (!(err instanceof ValidationError)) throw err;
    for (const i of err.issues.length ? err.issues : [{ path: "", message: err.message }])
      issues.push({ path: i.path ? `${base}.${i.path}` : base, message: i.message });
  };
  let found: Location[] = [];
  try {
    found = resolveLocations(accounts, l);
    if (found.length === 0) issues.push({ path: at, message: "names no account and Region" });
    if (found.length > MAX_LOCATIONS)
      issues.push({
        path: at,
        message: `names ${found.length} locations; one fan-out takes at most ${MAX_LOCATIONS}`,
      });
  } catch (err) {
    collect(err, at);
  }
  for (const [key, min] of [
    ["locationConcurrency", 1],
    ["locationMaxErrors", 0],
  ] as const) {
    const v = l[key];
    if (v === undefined) continue;
    try {
      limitOf(v, Math.max(1, found.length), key, min);
    } catch (err) {
      collect(err, at);
    }
  }
  return issues;
}

/** The lock key of a resource in a location: `account/region/resource`, so one id in two accounts is two locks. */
export function locationKey(location: Pick<Location, "account" | "region">, resource: string): string {
  return `${location.account}/${location.region}/${resource}`;
}

/** What `reflex accounts check` found in one location. */
export interface LocationCheck extends Location {
  ok: boolean;
  /** Why not: the role could not be assumed, or the read call failed. */
  error?: string;
}

/**
 * Assumes each account's role and makes one read call per Region (`read`, given the location's
 * clients), in parallel: says which locations work and, for each that does not, why.
 */
export async function checkAccounts(
  accounts: Account[],
  read: (clients: import("./aws.ts").AccountClients) => Promise<unknown>,
): Promise<LocationCheck[]> {
  const { clientsFor } = await import("./aws.ts");
  await import("./aws-sts.ts");
  const checks = accounts.flatMap((a) =>
    a.regions.map(async (region): Promise<LocationCheck> => {
      const location = { account: a.id, accountName: a.name, region };
      try {
        const clients = clientsFor(
          { id: a.id, roleArn: roleArnOf(a), ...(a.externalId ? { externalId: a.externalId } : {}) },
          region,
        );
        await read(clients);
        return { ...location, ok: true };
      } catch (err) {
        const e = err as Error;
        return { ...location, ok: false, error: `${e.name}: ${e.message}`.slice(0, 1000) };
      }
    }),
  );
  return Promise.all(checks);
}
