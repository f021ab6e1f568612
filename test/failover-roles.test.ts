/**
 * Who is primary in a pair is decided from what serves traffic (the Elastic IP's association
 * and the record's value, read back through the SDK), and a pair whose Elastic IP and record
 * disagree needs a person until they agree. In-process local mode, the simulated cloud; the
 * "person" fixes the pair with the same SDK calls an operator would make.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { AssociateAddressCommand, EC2Client } from "@aws-sdk/client-ec2";
import { ChangeResourceRecordSetsCommand, Route53Client } from "@aws-sdk/client-route-53";
import { Aws, type ConfigInput, Pairs } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_PAIR as D, SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, startTestLocal } from "./support/local.ts";

const A = D.primary.instance;
const B = D.standby.instance;

const config: ConfigInput = {
  pairs: [
    {
      name: "app",
      primary: { instance: A, recordValue: D.primary.privateIp },
      standby: { instance: B, recordValue: D.standby.privateIp },
      elasticIp: { allocationId: D.allocationId },
      record: { hostedZoneId: D.hostedZoneId, zone: D.zone, name: D.record, type: "A", ttl: 60 },
      verifyTimeout: "5s",
    },
  ],
};

let local: LocalMode;
beforeAll(async () => {
  const cloud = SimulatedCloud.seeded({ snapshotDurationMs: 150 });
  cloud.failover.seedDemoPair();
  local = await startTestLocal(config, { cloud });
});
afterAll(async () => local?.stop());

/** An operator's hand: the same SDK calls, outside any run. */
const moveAddress = (to: string) =>
  Aws.client(EC2Client, "ec2").send(
    new AssociateAddressCommand({ AllocationId: D.allocationId, InstanceId: to, AllowReassociation: true }),
  );
const setRecord = (value: string) =>
  Aws.client(Route53Client, "route53", "us-east-1").send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: D.hostedZoneId,
      ChangeBatch: {
        Changes: [
          {
            Action: "UPSERT",
            ResourceRecordSet: {
              Name: `${D.record}.`,
              Type: "A",
              TTL: 60,
              ResourceRecords: [{ Value: value }],
            },
          },
        ],
      },
    }),
  );

async function dryRun(): Promise<any> {
  const started = await api(local, "POST", "/api/runbooks/failover/executions", {
    params: { pair: "app" },
    dryRun: true,
  });
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  await local.idle();
  return (await api(local, "GET", `/api/executions/${started.body.executionId}`)).body;
}

const pairView = async () => (await api(local, "GET", "/api/pairs")).body.pairs[0];

describe("the primary of a pair", () => {
  it("is the side that serves traffic, even when no failover recorded it", async () => {
    await moveAddress(B);
    await setRecord(D.standby.privateIp);

    const run = await dryRun();

    expect(run.status).toBe("SUCCEEDED");
    expect(run.result.plan).toMatchObject({ from: { instance: B }, to: { instance: A } });
    expect(await pairView()).toMatchObject({ primary: B, standby: A });
  });

  it("is not decided while the Elastic IP and the record disagree: the pair needs attention, nothing moves", async () => {
    await moveAddress(A); // the record still names B

    const run = await dryRun();

    expect(run).toMatchObject({ status: "FAILED", error: "PairNeedsAttention" });
    expect(run.cause).toContain(`Elastic IP ${D.publicIp} is on ${A}`);
    expect((await pairView()).attention).toMatchObject({
      elasticIpOn: A,
      recordValues: [D.standby.privateIp],
    });
    expect(local.cloud.failover.recordValues(D.hostedZoneId, D.record)).toEqual([D.standby.privateIp]);
    const bin = join(import.meta.dirname, "../packages/local/bin/reflex.mjs");
    const { stdout } = await promisify(execFile)(process.execPath, [bin, "pairs", "--url", local.url]);
    expect(stdout).toMatch(/\n {2}needs attention since .*: what serves traffic does not name one side/);
  });

  it("is recorded again, and the attention cleared, once they agree", async () => {
    await setRecord(D.primary.privateIp);

    const run = await dryRun();

    expect(run.status).toBe("SUCCEEDED");
    expect(run.result.plan).toMatchObject({ from: { instance: A }, to: { instance: B } });
    const view = await pairView();
    expect(view).toMatchObject({ primary: A, standby: B });
    expect(view.attention).toBeUndefined();
    expect((await Pairs.get("app"))?.attention).toBeUndefined();
  });
});

describe("the intended switch", () => {
  it("is cleared by a verified switch back, leaving the roles as they were", async () => {
    // The first GetChange (in the switch) is refused: the run switches back.
    const fault = local.cloud.injectFault({
      service: "route53",
      operation: "GetChange",
      kind: "error",
      code: "AccessDenied",
      httpStatusCode: 403,
      times: 1,
    });
    const started = await api(local, "POST", "/api/runbooks/failover/executions", {
      params: { pair: "app" },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = started.body.executionId;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const e = (await api(local, "GET", `/api/executions/${id}`)).body;
      if (e.status === "WAITING_FOR_APPROVAL") break;
      expect(e.status, `${e.error}: ${e.cause}`).toBe("RUNNING");
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 20)); // poll the run's state
    }
    const res = await fetch(`${local.url}/api/executions/${id}/approve`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-reflex-actor": "cli:bob" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    await local.idle();
    local.cloud.removeFault(fault);

    const run = (await api(local, "GET", `/api/executions/${id}`)).body;
    expect(run).toMatchObject({ status: "FAILED", error: "AccessDenied" });
    expect(run.result.switchBack.verified.every((c: { ok: boolean }) => c.ok)).toBe(true);
    const recorded = await Pairs.get("app");
    expect(recorded?.switching).toBeUndefined();
    expect(recorded).toMatchObject({ primary: A });
  });
});
