/**
 * A simulated organization for local mode's `--accounts N --regions M`: the hub's own cloud, one
 * simulated cloud per member account (each with its Regions), and simulated STS between them.
 *
 * A member client's calls are answered by the cloud of the account whose session signed them
 * (as in AWS: the credentials decide the account, not the caller's intent), so a call made
 * with the wrong account's keys lands in the wrong account's log, where a test sees it. A key
 * STS never issued is `InvalidClientTokenId`; an expired session is `ExpiredToken`.
 *
 * @example
 * const org = SimulatedOrganization.create({ hub: cloud, accounts: 3, regions: ["us-east-1", "eu-west-1"] });
 * Aws.configure({ decorate: (service, client, region, account) => org.attach(client, service, region, account) });
 */
import { type Account, DEFAULT_MEMBER_ROLE } from "@reflex/core/accounts";
import type { SdkClient } from "@reflex/core/aws";
import { CloudApiError } from "./api-error.ts";
import { type CallRecord, SIMULATED_SERVICES, SimulatedCloud, type SimulatedCloudOptions } from "./index.ts";
import { attachAnswerer } from "./middleware.ts";
import { SimulatedOrganizations } from "./organizations.ts";
import { SimulatedSts } from "./sts.ts";

export interface OrganizationOptions {
  hub: SimulatedCloud;
  /** How many member accounts (ids 111111111111, 222222222222, ...), 0 to 9. */
  accounts: number;
  /** Each member's Regions. Default us-east-1 and us-west-2. */
  regions?: string[];
  /** Instances per member and Region, tagged `Backup: daily` (default 2). */
  instancesPerRegion?: number;
  clock?: () => number;
  /** Options for the member clouds (snapshot duration, ...). */
  cloud?: Omit<SimulatedCloudOptions, "accountId" | "regions" | "clock" | "sequence" | "persistPath">;
}

/** The step worker principal the members' roles trust (the hub's; the member template names it). */
export function hubPrincipal(hubAccount: string): string {
  return `arn:aws:iam::${hubAccount}:role/reflex-step-worker`;
}

export class SimulatedOrganization {
  readonly members = new Map<string, SimulatedCloud>();
  readonly sts: SimulatedSts;
  /** The config `accounts` these members are (local mode uses it when the config names none). */
  readonly accounts: Account[] = [];
  /** AWS Organizations over the members (OUs; config `organization` resolves through it). */
  organizations = new SimulatedOrganizations([]);
  #seq = 0;

  private constructor(
    readonly hub: SimulatedCloud,
    clock: () => number,
  ) {
    this.sts = new SimulatedSts(hubPrincipal(hub.accountId), hub.accountId, clock);
  }

  static create(opts: OrganizationOptions): SimulatedOrganization {
    const clock = opts.clock ?? Date.now;
    const org = new SimulatedOrganization(opts.hub, clock);
    const regions = opts.regions ?? ["us-east-1", "us-west-2"];
    const count = Math.max(0, Math.min(9, opts.accounts));
    for (let i = 1; i <= count; i++) {
      const id = String(i).repeat(12);
      const name = `member-${i}`;
      const cloud = new SimulatedCloud({
        ...opts.cloud,
        accountId: id,
        regions,
        clock,
        sequence: () => ++org.#seq,
      });
      for (const region of regions)
        for (let n = 1; n <= (opts.instancesPerRegion ?? 2); n++)
          cloud.addInstance({ region, name: `${name}-app-${n}`, tags: { Backup: "daily", App: "app" } });
      org.members.set(id, cloud);
      const roleArn = `arn:aws:iam::${id}:role/${DEFAULT_MEMBER_ROLE}`;
      org.sts.putRole({ arn: roleArn, trust: [org.sts.hubPrincipal] });
      org.accounts.push({ id, name, regions, tags: { env: "prod", member: String(i) }, vars: {} });
    }
    org.organizations = new SimulatedOrganizations(org.accounts);
    return org;
  }

  member(id: string): SimulatedCloud {
    const cloud = this.members.get(id);
    if (!cloud) throw new Error(`no simulated member account ${id}`);
    return cloud;
  }

  /**
   * Attaches STS and the clouds: a client built for a member account is answered by the account
   * its credentials belong to; any other client by the hub.
   */
  attach(client: SdkClient, service: string, region: string, account?: string): void {
    if (service === "organizations") {
      this.organizations.attach(client);
      return;
    }
    if (service === "sts") {
      attachAnswerer(client, service, region, async (call) =>
        this.sts.invoke(call.operation, (call.input ?? {}) as Record<string, unknown>),
      );
      return;
    }
    if (account === undefined || account === this.hub.accountId) {
      this.hub.attach(client, service, region);
      return;
    }
    if (!(SIMULATED_SERVICES as readonly string[]).includes(service)) return;
    attachAnswerer(
      client,
      service,
      region,
      async (call) => {
        const session = this.sts.session(call.accessKeyId);
        if (!session)
          throw new CloudApiError(
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            403,
          );
        const cloud = this.members.get(session.account);
        if (!cloud) throw new CloudApiError("AuthFailure", `no account ${session.account}`, 401);
        return cloud.invoke(call.service, call.region, call.operation, call.input, {
          session: session.sessionName,
        });
      },
      { identify: true },
    );
  }

  /** Every member's calls, in the order they arrived. */
  calls(): CallRecord[] {
    return [...this.members.values()].flatMap((c) => c.calls).sort((a, b) => a.seq - b.seq);
  }
}
