/**
 * Config `organization` (issue 26): member accounts by OU, resolved through AWS Organizations on
 * the wire (here the simulated organization of `reflex start --accounts 3`; moto in
 * organization-moto.test.ts), only ACTIVE accounts, cached, narrowed by `exclude` at once, merged
 * with explicit `accounts`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OrganizationsClient } from "@aws-sdk/client-organizations";
import {
  Admission,
  type Config,
  Gate,
  Locations,
  Organization,
  useConfig,
  validateConfig,
} from "@reflex/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as Executions from "../packages/core/src/state/executions.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import {
  CHILD_OU,
  SimulatedOrganizations,
  SUSPENDED_ACCOUNT,
  WORKLOAD_OU,
} from "../packages/local/src/cloud/organizations.ts";
import { type LocalMode, startLocal } from "../packages/local/src/local-mode.ts";
import { reflex } from "./support/cli.ts";

const REGION = "us-east-1";
const MEMBERS = [1, 2, 3].map((i) => ({ id: String(i).repeat(12), name: `member-${i}` }));

/** An SDK Organizations client answered on the wire by a simulated organization of three members. */
function simulated() {
  const org = new SimulatedOrganizations(MEMBERS);
  const client = new OrganizationsClient({
    region: REGION,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "x" },
  });
  org.attach(client);
  return { org, client };
}

const configWith = (organization: Record<string, unknown>, accounts: unknown[] = []) =>
  validateConfig({ organization: { regions: [REGION], ...organization }, accounts } as never) as Config;

describe("resolving an organization", () => {
  beforeEach(() => Organization.forget());

  it("lists an OU's ACTIVE accounts, following NextToken, and its child OUs' only with includeChildren", async () => {
    const { client } = simulated();
    const flat = await Organization.listAccounts({ ous: [WORKLOAD_OU], includeChildren: false }, client);
    // member-1 and member-2 are in the OU with a SUSPENDED account (3 accounts: two pages of 2).
    expect(flat.map((a) => a.id)).toEqual([MEMBERS[0]?.id, MEMBERS[1]?.id]);
    expect(flat.map((a) => a.id)).not.toContain(SUSPENDED_ACCOUNT);
    const deep = await Organization.listAccounts({ ous: [WORKLOAD_OU], includeChildren: true }, client);
    expect(deep).toEqual([
      { id: MEMBERS[0]?.id, name: "member-1", ou: WORKLOAD_OU },
      { id: MEMBERS[1]?.id, name: "member-2", ou: WORKLOAD_OU },
      { id: MEMBERS[2]?.id, name: "member-3", ou: CHILD_OU },
    ]);
    // An OU that does not exist is the SDK's own exception, parsed from the wire.
    await expect(
      Organization.listAccounts({ ous: ["ou-sim1-nosuchou"], includeChildren: false }, client),
    ).rejects.toMatchObject({ name: "ParentNotFoundException" });
  });

  it("caches for cacheMinutes, and an exclusion added narrows at once, stale cache or not", async () => {
    const { org, client } = simulated();
    const t0 = Date.parse("2026-12-07T03:00:00Z");
    const first = configWith({ ous: [WORKLOAD_OU], includeChildren: true, cacheMinutes: 15 });
    expect((await Organization.refresh(first, { api: client, now: t0 })).map((a) => a.name)).toEqual([
      "member-1",
      "member-2",
      "member-3",
    ]);
    const asked = org.calls.length;
    // The config now excludes member-2; the cache is fresh (5 minutes), and not asked again.
    const excluded = configWith({ ous: [WORKLOAD_OU], includeChildren: true, exclude: [MEMBERS[1]?.id] });
    const now = await Organization.refresh(excluded, { api: client, now: t0 + 5 * 60_000 });
    expect(org.calls.length).toBe(asked);
    expect(now.map((a) => a.id)).toEqual([MEMBERS[0]?.id, MEMBERS[2]?.id]);
    // Past cacheMinutes, Organizations is asked again.
    await Organization.refresh(excluded, { api: client, now: t0 + 16 * 60_000 });
    expect(org.calls.length).toBeGreaterThan(asked);
  });

  it("merges with explicit accounts: the explicit entry wins, the clash is reported with its path", async () => {
    const { client } = simulated();
    const config = configWith({ ous: [WORKLOAD_OU], role: "OrgRole", tags: { env: "prod" } }, [
      { id: MEMBERS[1]?.id, name: "payments", regions: ["eu-west-1"] },
    ]);
    const merged = await Organization.refresh(config, { api: client });
    expect(merged.map((a) => [a.id, a.name, a.regions, a.role ?? "(default)"])).toEqual([
      [MEMBERS[1]?.id, "payments", ["eu-west-1"], "(default)"],
      [MEMBERS[0]?.id, "member-1", [REGION], "OrgRole"],
    ]);
    expect(merged[1]?.tags).toEqual({ env: "prod", ou: WORKLOAD_OU });
    expect(Organization.sourceOf(MEMBERS[0]?.id ?? "")).toBe(`organization ${WORKLOAD_OU}`);
    expect(Organization.sourceOf(MEMBERS[1]?.id ?? "")).toBe("accounts");
    expect(Organization.issues()).toEqual([
      { path: "accounts[0].id", message: expect.stringMatching(/also in OU ou-sim1-workload/) },
    ]);
  });

  it("refuses bad OU ids and Regions in config check, with their paths", () => {
    expect(() => configWith({ ous: ["ou-x"], regions: ["moon-1"], exclude: ["12"] })).toThrow(
      expect.objectContaining({
        issues: expect.arrayContaining([
          expect.objectContaining({ path: "organization.ous[0]" }),
          expect.objectContaining({ path: "organization.regions[0]" }),
          expect.objectContaining({ path: "organization.exclude[0]" }),
        ]),
      }),
    );
  });
});

describe("reflex start --accounts 3 with organization in config", () => {
  let local: LocalMode;
  beforeAll(async () => {
    local = await startLocal({
      config: validateConfig({
        organization: {
          ous: ["r-sim1"],
          includeChildren: true,
          regions: [REGION],
          exclude: [MEMBERS[2]?.id],
        },
      } as never),
      port: 0,
      quiet: true,
      dataDir: null,
      waitMs: 20,
      scheduler: false,
      cloud: SimulatedCloud.seeded({ snapshotDurationMs: 100 }),
      accounts: { count: 3, regions: [REGION] },
    });
  });
  afterAll(() => local?.stop());

  it("lists the organization's accounts with where each came from, and runs in one", async () => {
    const res = await fetch(`${local.url}/api/accounts`);
    const { accounts } = (await res.json()) as { accounts: Array<{ id: string; source: string }> };
    expect(accounts.map((a) => [a.id, a.source])).toEqual([
      [MEMBERS[0]?.id, `organization ${WORKLOAD_OU}`],
      [MEMBERS[1]?.id, `organization ${WORKLOAD_OU}`],
    ]);
    const admitted = await Admission.admit({
      runbook: "backup-snapshot",
      params: { selector: { tag: { Backup: "daily" } } },
      dryRun: true,
      trigger: { kind: "manual" },
      actor: { id: "cli:alice" },
      location: { account: "member-2", region: REGION },
    });
    expect(admitted).toMatchObject({ admitted: true });
    // The excluded account is no location.
    const refused = await Admission.admit({
      runbook: "backup-snapshot",
      params: { selector: { tag: { Backup: "daily" } } },
      dryRun: true,
      trigger: { kind: "manual" },
      actor: { id: "cli:alice" },
      location: { account: MEMBERS[2]?.id ?? "", region: REGION },
    });
    expect(refused).toMatchObject({ admitted: false, check: "params" });
  });

  it("routes an event from an OU's account to that account on a cold start (a config whose organization is not resolved yet)", async () => {
    // A trigger Lambda starts with the config as loaded: only explicit accounts until the
    // organization is resolved. Its first event from an OU's account must still run there,
    // never in the hub as if it were the hub's own.
    const cold = validateConfig({
      organization: { ous: ["r-sim1"], includeChildren: true, regions: [REGION] },
      rules: [
        {
          name: "member-backup",
          on: { source: ["app.test"], "detail-type": ["Back Up"] },
          run: "backup-snapshot",
          with: { selector: { tag: { Backup: "daily" } } },
        },
      ],
    } as never) as Config;
    const [decision] = await Gate.handleEvent(
      {
        version: "0",
        id: "cold-start-1",
        "detail-type": "Back Up",
        source: "app.test",
        account: MEMBERS[0]?.id,
        time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
        region: REGION,
        resources: [],
        detail: {},
      },
      { config: cold },
    );
    expect(decision?.decision, decision?.reason).toBe("started");
    const record = await Executions.find(decision?.executionId as string);
    expect(record?.location).toEqual({ account: MEMBERS[0]?.id, region: REGION });
  });

  it("fans out over an OU's accounts from the API on a cold start (the organization not resolved yet)", async () => {
    const cold = validateConfig({
      organization: { ous: ["r-sim1"], includeChildren: true, regions: [REGION] },
    } as never) as Config;
    useConfig(cold);
    try {
      const res = await fetch(`${local.url}/api/runbooks/backup-snapshot/executions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          params: { selector: { tag: { Backup: "daily" } } },
          dryRun: true,
          locations: { accounts: ["*"] },
        }),
      });
      const body = (await res.json()) as { parentId: string; children?: Array<{ account: string }> };
      expect(res.status, JSON.stringify(body)).toBe(202);
      expect(body.children?.map((c) => c.account)).toEqual(MEMBERS.map((m) => m.id));
      // Its end, before local mode stops under it (each location a dry-run).
      let done = await Locations.outcome(body.parentId);
      for (let i = 0; !done && i < 600; i++) {
        await new Promise((r) => setTimeout(r, 50));
        done = await Locations.outcome(body.parentId);
      }
      expect(done?.locations.map((l) => l.status)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    } finally {
      useConfig(local.config);
    }
  });

  it("reflex accounts list says where each came from; config check --organization refuses an account listed twice", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reflex-org-"));
    const file = join(dir, "reflex.config.ts");
    writeFileSync(
      file,
      `export default ${JSON.stringify({
        organization: { ous: [WORKLOAD_OU], regions: [REGION] },
        accounts: [{ id: MEMBERS[0]?.id, name: "payments", regions: [REGION] }],
      })};\n`,
    );
    try {
      const list = await reflex(["accounts", "list", "--config", file]);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/111111111111 {2}payments .* from accounts/);
      expect(list.stdout).toMatch(/222222222222 {2}member-2 .* from organization ou-sim1-workload/);
      expect(list.stdout).not.toContain(SUSPENDED_ACCOUNT);
      const check = await reflex(["config", "check", "--config", file, "--organization", "--json"]);
      expect(check.code).toBe(2);
      expect(JSON.parse(check.stdout).issues).toEqual([
        { path: "accounts[0].id", message: expect.stringMatching(/also in OU ou-sim1-workload/) },
      ]);
      // Without --organization, config check reaches no AWS API and passes.
      expect((await reflex(["config", "check", "--config", file])).code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
