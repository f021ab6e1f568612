/**
 * `Aws.clientsFor` against simulated STS and member accounts: sessions named for the step's
 * execution, renewed before they expire (a run longer than an hour keeps working), an
 * unassumable role failing with the reason, and every call answered by the account whose
 * session signed it.
 */
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import * as Aws from "@reflex/core/aws";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SimulatedCloud } from "./index.ts";
import { SimulatedOrganization } from "./organization.ts";

let now = Date.parse("2026-12-07T00:00:00Z");
const clock = () => now;
let org: SimulatedOrganization;

const member = (id: string, extra: Partial<Aws.MemberAccount> = {}): Aws.MemberAccount => ({
  id,
  roleArn: `arn:aws:iam::${id}:role/ReflexExecutionRole`,
  ...extra,
});

beforeEach(() => {
  now = Date.parse("2026-12-07T00:00:00Z");
  org = SimulatedOrganization.create({
    hub: new SimulatedCloud({ clock }),
    accounts: 2,
    regions: ["us-east-1", "eu-west-1"],
    instancesPerRegion: 1,
    clock,
  });
  Aws.configure({
    decorate: (service, client, region, account) => org.attach(client, service, region, account),
    sessions: { now: clock },
  });
});
afterEach(() => Aws.configure({}));

const describeInstances = () =>
  Aws.client(EC2Client, "ec2", "eu-west-1").send(new DescribeInstancesCommand({}));

describe("clientsFor", () => {
  it("assumes the member role once per step, named reflex-<executionId>, and the member's cloud answers", async () => {
    await Aws.withStep(
      "backup-snapshot-20261207T000000Z-abc123",
      { account: member("111111111111"), region: "eu-west-1" },
      async () => {
        await describeInstances();
        await describeInstances();
      },
    );
    expect(org.sts.assumed).toEqual([
      expect.objectContaining({
        roleArn: "arn:aws:iam::111111111111:role/ReflexExecutionRole",
        sessionName: "reflex-backup-snapshot-20261207T000000Z-abc123",
        durationSeconds: 3600,
      }),
    ]);
    const calls = org.calls();
    expect(calls.map((c) => [c.account, c.region, c.session])).toEqual([
      ["111111111111", "eu-west-1", "reflex-backup-snapshot-20261207T000000Z-abc123"],
      ["111111111111", "eu-west-1", "reflex-backup-snapshot-20261207T000000Z-abc123"],
    ]);
    expect(org.member("222222222222").calls).toEqual([]);
    expect(org.hub.calls).toEqual([]);
  });

  it("renews the session before it expires: a step running past an hour never calls with dead keys", async () => {
    await Aws.withStep("long-run", { account: member("222222222222"), region: "eu-west-1" }, async () => {
      await describeInstances();
      now += 56 * 60_000; // 4 minutes left: inside the 5-minute margin
      await describeInstances();
      now += 2 * 3_600_000;
      await describeInstances();
    });
    expect(org.sts.assumed.map((a) => a.error ?? "ok")).toEqual(["ok", "ok", "ok"]);
    expect(org.calls().map((c) => c.error ?? "ok")).toEqual(["ok", "ok", "ok"]);
  });

  it("without renewal the simulated cloud refuses an expired session (what the renewal guards against)", async () => {
    Aws.configure({
      decorate: (service, client, region, account) => org.attach(client, service, region, account),
      sessions: { now: clock, refreshBeforeMs: -10 * 3_600_000 },
    });
    await expect(
      Aws.withStep("stale", { account: member("111111111111"), region: "eu-west-1" }, async () => {
        await describeInstances();
        now += 3_600_001;
        await describeInstances();
      }),
    ).rejects.toThrow(/expired/);
  });

  it("fails a role that does not exist, or a wrong external id, with AccessDenied and the role named", async () => {
    org.sts.deleteRole("arn:aws:iam::222222222222:role/ReflexExecutionRole");
    const run = (account: Aws.MemberAccount) =>
      Aws.withStep("denied", { account, region: "us-east-1" }, () => describeInstances());
    await expect(run(member("222222222222"))).rejects.toThrow(
      /cannot assume arn:aws:iam::222222222222:role\/ReflexExecutionRole in account 222222222222 .*AccessDenied/,
    );
    org.sts.putRole({
      arn: "arn:aws:iam::111111111111:role/ReflexExecutionRole",
      trust: [org.sts.hubPrincipal],
      externalId: "hub-secret",
    });
    await expect(run(member("111111111111", { externalId: "wrong" }))).rejects.toThrow(/AccessDenied/);
    await expect(run(member("111111111111", { externalId: "hub-secret" }))).resolves.toBeDefined();
  });

  it("uses the location's Region when the caller names none", async () => {
    await Aws.withStep("no-region", { account: member("111111111111"), region: "eu-west-1" }, () =>
      Aws.client(EC2Client, "ec2").send(new DescribeInstancesCommand({})),
    );
    expect(org.calls().map((c) => [c.account, c.region])).toEqual([["111111111111", "eu-west-1"]]);
  });

  it("keeps the hub's own services and calls outside a location in the hub", async () => {
    await Aws.withStep("hub-only", undefined, () => describeInstances());
    expect(org.hub.calls.map((c) => c.account)).toEqual([org.hub.accountId]);
    expect(org.sts.assumed).toEqual([]);
  });
});
