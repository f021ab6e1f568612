/**
 * Config `organization`: the member accounts of some OUs, resolved through AWS Organizations and
 * merged with the explicit `accounts`, so a selector, admission and `reflex accounts list` see
 * one list.
 *
 * - Only ACTIVE accounts: an account's `State` (`ACTIVE`, `SUSPENDED`, `PENDING_ACTIVATION`,
 *   `PENDING_CLOSURE`, `CLOSED`); the older `Status` (retired by AWS on 2026-09-09) only where an
 *   answer has no `State`.
 * - `includeChildren`: the OUs under each OU too (`ListOrganizationalUnitsForParent`), all the
 *   way down.
 * - Cached in this process's memory for `cacheMinutes` (default 15): a Lambda container or the
 *   local server asks Organizations at most that often. What is cached is the OUs' accounts
 *   before `exclude`; `exclude` and the explicit list are applied on every read, from the config
 *   in force, so adding an exclusion narrows at once — a stale cache never widens the set.
 * - An account both listed in `accounts` and found in an OU is refused by `reflex config check
 *   --organization`; at run time the explicit entry wins (its role, external id, overrides) and
 *   the clash is reported by `GET /api/accounts` (`issues`).
 *
 * @example
 * await Organization.refresh(config); // config.accounts now holds the OUs' accounts too
 * Organization.sourceOf("111111111111"); // "organization ou-ab12-cdef3456"
 */
import type { OrganizationsClient } from "@aws-sdk/client-organizations";
import type { Account, Organization } from "./accounts.ts";
import * as Aws from "./aws.ts";
import type { Config } from "./config/schema.ts";
import type { Issue } from "./errors.ts";

/** An account an OU holds, as Organizations lists it (before `exclude`). */
export interface OrgAccount {
  id: string;
  name: string;
  /** The OU (or root) it was found in. */
  ou: string;
}

/** The slice of an Organizations client this module calls (the SDK's, or a test's). */
export type OrganizationsApi = Pick<OrganizationsClient, "send">;

/** Lists the ACTIVE accounts of the OUs (and their children, when asked), in OU order, each once. */
export async function listAccounts(
  org: Pick<Organization, "ous" | "includeChildren">,
  given?: OrganizationsApi,
): Promise<OrgAccount[]> {
  // Loaded when a config names an organization: no other bundle carries the client.
  const { ListAccountsForParentCommand, ListOrganizationalUnitsForParentCommand, OrganizationsClient } =
    await import("@aws-sdk/client-organizations");
  // Organizations is global; its endpoint is in us-east-1 (aws partition).
  const api = given ?? Aws.client(OrganizationsClient, "organizations", "us-east-1");
  const out = new Map<string, OrgAccount>();
  const visit = async (parent: string): Promise<void> => {
    let token: string | undefined;
    do {
      const page = await api.send(new ListAccountsForParentCommand({ ParentId: parent, NextToken: token }));
      for (const a of page.Accounts ?? []) {
        const state = a.State ?? a.Status;
        if (!a.Id || state !== "ACTIVE" || out.has(a.Id)) continue;
        out.set(a.Id, { id: a.Id, name: a.Name ?? a.Id, ou: parent });
      }
      token = page.NextToken;
    } while (token);
    if (!org.includeChildren) return;
    let ouToken: string | undefined;
    do {
      const page = await api.send(
        new ListOrganizationalUnitsForParentCommand({ ParentId: parent, NextToken: ouToken }),
      );
      for (const ou of page.OrganizationalUnits ?? []) if (ou.Id) await visit(ou.Id);
      ouToken = page.NextToken;
    } while (ouToken);
  };
  for (const ou of org.ous) await visit(ou);
  return [...out.values()];
}

/** A config account name from an Organizations account name (free text): letters, digits, `._-`. */
function nameOf(a: OrgAccount, taken: Set<string>): string {
  const base = a.name
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 50);
  const name = base && !taken.has(base) ? base : `${base || "account"}-${a.id}`;
  taken.add(name);
  return name;
}

interface Cached {
  key: string;
  at: number;
  accounts: OrgAccount[];
}

let cached: Cached | undefined;
/** The config each merged list was built from: its explicit accounts, before any merge. */
const explicitOf = new WeakMap<Config, Account[]>();
/** Where each account of the last merge came from, by id. */
const sources = new Map<string, string>();
let lastIssues: Issue[] = [];

/** Forgets the cached resolution (tests; a config reload keeps it, keyed by the OUs asked). */
export function forget(): void {
  cached = undefined;
  sources.clear();
  lastIssues = [];
}

/** Where an account came from: `accounts` (config), or `organization <ou>`. */
export function sourceOf(id: string): string {
  return sources.get(id) ?? "accounts";
}

/** What the last merge found wrong (an account both in `accounts` and in an OU). */
export function issues(): Issue[] {
  return lastIssues;
}

/** Accounts both in `accounts` and in an OU: each with the path of its explicit entry. */
export function duplicateIssues(explicit: Account[], found: OrgAccount[], org: Organization): Issue[] {
  const byId = new Map(found.map((a) => [a.id, a]));
  return explicit.flatMap((a, i) => {
    const dup = byId.get(a.id);
    if (!dup || org.exclude.includes(a.id)) return [];
    return [
      {
        path: `accounts[${i}].id`,
        message: `account ${a.id} is also in OU ${dup.ou} (organization.ous[${org.ous.indexOf(dup.ou) >= 0 ? org.ous.indexOf(dup.ou) : "child"}]): list it once, or exclude it there`,
      },
    ];
  });
}

/**
 * Sets `config.accounts` to its explicit accounts plus the OUs' ACTIVE accounts not excluded
 * (from the cache when fresh). Without `organization`, does nothing. When Organizations cannot
 * be reached, the last resolution stays (narrowed by today's `exclude`), or only the explicit
 * accounts when there is none; the error is thrown to a caller that asked (`strict`).
 */
export async function refresh(
  config: Config,
  opts: { api?: OrganizationsApi; now?: number; strict?: boolean } = {},
): Promise<Account[]> {
  const org = config.organization;
  if (!org) return config.accounts;
  if (!explicitOf.has(config)) explicitOf.set(config, config.accounts);
  const explicit = explicitOf.get(config) ?? [];
  const now = opts.now ?? Date.now();
  const key = JSON.stringify([org.ous, org.includeChildren]);
  if (!cached || cached.key !== key || now - cached.at >= org.cacheMinutes * 60_000) {
    try {
      cached = { key, at: now, accounts: await listAccounts(org, opts.api) };
    } catch (err) {
      if (opts.strict || !cached || cached.key !== key) {
        if (opts.strict) throw err;
        console.warn(`reflex: organization: cannot list the OUs' accounts: ${(err as Error).message}`);
      }
    }
  }
  const found = cached?.key === key ? cached.accounts : [];
  const explicitIds = new Set(explicit.map((a) => a.id));
  const taken = new Set(explicit.map((a) => a.name));
  sources.clear();
  const merged: Account[] = [...explicit];
  for (const a of found) {
    if (explicitIds.has(a.id) || org.exclude.includes(a.id)) continue;
    sources.set(a.id, `organization ${a.ou}`);
    merged.push({
      id: a.id,
      name: nameOf(a, taken),
      regions: org.regions,
      ...(org.role ? { role: org.role } : {}),
      ...(org.externalId ? { externalId: org.externalId } : {}),
      tags: { ...org.tags, ou: a.ou },
      vars: {},
    });
  }
  lastIssues = duplicateIssues(explicit, found, org);
  config.accounts = merged;
  return merged;
}
