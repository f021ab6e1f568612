/**
 * db-failover through the test kit, on the seeded simulated account: the Aurora cluster
 * `payments` (writer payments-1, readers payments-2 and payments-3), the Multi-AZ instance
 * `orders-db` (us-east-1a, standby us-east-1b), the single-AZ `reports-db`. One local mode
 * for the file: the runs go in order, each reading the account the ones before it left.
 */

import { Locks } from "@reflex/core";
import { setDatabaseTimings, setReplicaLag } from "@reflex/local/cloud/databases";
import {
  callsOutsidePermissions,
  mutatingCalls,
  openSimulation,
  type SimulationSession,
  unfinishedTargets,
} from "@reflex/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbFailover } from "./index.ts";

let session: SimulationSession;
beforeAll(async () => {
  session = await openSimulation(dbFailover, {
    setup: (cloud) => setDatabaseTimings(cloud, { failoverMs: 40 }),
    // High risk waits for a person by default; these runs are approved by policy.
    config: { approvals: { policies: [{ runbooks: ["db-failover"], require: false }] } },
  });
  session.cloud.failover.setAlarm("payments-canary", "OK");
});
afterAll(() => session?.close());

const writer = () =>
  session.cloud
    .dbClusters()
    .find((c) => c.DBClusterIdentifier === "payments")
    ?.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
const zone = (id: string) =>
  session.cloud.dbInstances().find((i) => i.DBInstanceIdentifier === id)?.AvailabilityZone;
const ops = (calls: Array<{ operation: string; mutating: boolean; error?: string }>) =>
  calls.filter((c) => c.mutating && !c.error).map((c) => c.operation);

describe("db-failover", () => {
  it("plans an Aurora failover in a dry-run (writer, replica, lag) and makes no mutating call", async () => {
    const s = await session.run({ cluster: "payments", promote: "payments-2" }, { dryRun: true });

    expect(s.run.status).toBe("SUCCEEDED");
    expect(mutatingCalls(s)).toEqual([]);
    expect(s.outcome.summary).toBe(
      "would fail over Aurora cluster payments: writer payments-1 → payments-2 (replica lag 20 ms)",
    );
    expect(writer()).toBe("payments-1");
  });

  it("refuses in the plan a replica lagging past the threshold, a cluster that does not exist, and a single-AZ instance", async () => {
    setReplicaLag(session.cloud, "payments-2", 5000);
    const lagging = await session.run({ cluster: "payments", promote: "payments-2" });
    setReplicaLag(session.cloud, "payments-2", 20);
    const missing = await session.run({ cluster: "ledger" });
    const single = await session.run({ instance: "reports-db" });

    for (const s of [lagging, missing, single]) {
      expect(s.run.status).toBe("FAILED");
      expect(mutatingCalls(s)).toEqual([]);
      expect(s.outcome.targets[0]?.status).toBe("failed");
    }
    expect(lagging.run.error).toBe("NotReady");
    expect(lagging.outcome.targets[0]?.reason).toBe(
      "payments-2's AuroraReplicaLag is 5000 ms, not under 1000 ms",
    );
    expect(missing.run.error).toBe("DatabaseNotFound");
    expect(missing.outcome.targets[0]).toMatchObject({
      id: "ledger",
      reason: "Aurora cluster ledger does not exist in us-east-1",
    });
    expect(single.run.error).toBe("NotMultiAZ");
    expect(single.outcome.targets[0]).toMatchObject({
      id: "reports-db",
      reason: "is not Multi-AZ: it has no standby to fail over to",
    });
  });

  it("is not started while another run holds the database's lock (db:payments)", async () => {
    expect(await Locks.acquire("db:payments", "another-run", 60_000)).toBe(true);
    const start = session.run({ cluster: "payments", promote: "payments-2" });
    await expect(start).rejects.toThrow(/db-failover was not started: .*lock/i);
    await Locks.release("db:payments", "another-run");
    expect(writer()).toBe("payments-1");
  });

  it("fails an Aurora cluster over to the named replica and verifies the writer changed", async () => {
    const s = await session.run({
      cluster: "payments",
      promote: "payments-2",
      healthAlarm: "payments-canary",
    });

    expect(s.run.status).toBe("SUCCEEDED");
    expect(ops(s.calls)).toEqual(["FailoverDBCluster"]);
    expect(callsOutsidePermissions(s)).toEqual([]);
    expect(unfinishedTargets(s)).toEqual([]);
    expect(writer()).toBe("payments-2");
    expect(s.outcome.targets[0]).toMatchObject({
      id: "payments",
      kind: "aurora-cluster",
      status: "succeeded",
    });
    expect(s.outcome.summary).toMatch(
      /^payments failed over: writer payments-1 → payments-2, verified in \d+\.\d s$/,
    );
  });

  it("switches the writer back where it was when the verify fails (the health alarm stays in ALARM)", async () => {
    session.cloud.failover.setAlarm("payments-canary", "ALARM");
    const s = await session.run({
      cluster: "payments",
      promote: "payments-3",
      healthAlarm: "payments-canary",
      verifyTimeoutSeconds: 1,
    });
    session.cloud.failover.setAlarm("payments-canary", "OK");

    expect(s.run.status).toBe("FAILED");
    expect(s.run.error).toBe("VerifyFailed");
    expect(s.calls.filter((c) => c.operation === "FailoverDBCluster").map((c) => c.input)).toEqual([
      { DBClusterIdentifier: "payments", TargetDBInstanceIdentifier: "payments-3" },
      { DBClusterIdentifier: "payments", TargetDBInstanceIdentifier: "payments-2" },
    ]);
    expect(writer()).toBe("payments-2");
    expect(unfinishedTargets(s)).toEqual([]);
    expect(s.outcome.targets[0]).toMatchObject({
      status: "rolled-back",
      reason: "switched back to payments-2 after VerifyFailed",
    });
  });

  it("fails a Multi-AZ instance over to its standby's zone (reboot with failover), then back on the next run", async () => {
    const there = await session.run({ instance: "orders-db" });

    expect(there.run.status).toBe("SUCCEEDED");
    expect(there.calls.filter((c) => c.mutating).map((c) => c.input)).toEqual([
      { DBInstanceIdentifier: "orders-db", ForceFailover: true },
    ]);
    expect(zone("orders-db")).toBe("us-east-1b");
    expect(callsOutsidePermissions(there)).toEqual([]);

    const back = await session.run({ instance: "orders-db" });
    expect(back.run.status).toBe("SUCCEEDED");
    expect(zone("orders-db")).toBe("us-east-1a");
  });

  it("ends rolled back, in its own zone, when RDS refuses the reboot (the SDK's own InvalidDBInstanceStateFault)", async () => {
    const fault = session.cloud.injectFault({
      service: "rds",
      operation: "RebootDBInstance",
      kind: "error",
      code: "InvalidDBInstanceState",
      times: 1,
    });
    const s = await session.run({ instance: "orders-db" });
    session.cloud.removeFault(fault);

    expect(s.run.status).toBe("FAILED");
    expect(s.run.error).toBe("InvalidDBInstanceStateFault");
    expect(zone("orders-db")).toBe("us-east-1a");
    expect(s.outcome.targets[0]).toMatchObject({ status: "rolled-back" });
  });

  it("reboots a Multi-AZ instance back into its own zone when the verify fails", async () => {
    session.cloud.failover.setAlarm("orders-canary", "ALARM");
    const s = await session.run({
      instance: "orders-db",
      healthAlarm: "orders-canary",
      verifyTimeoutSeconds: 1,
    });
    session.cloud.failover.setAlarm("orders-canary", "OK");

    expect(s.run.status).toBe("FAILED");
    expect(s.run.error).toBe("VerifyFailed");
    expect(ops(s.calls)).toEqual(["RebootDBInstance", "RebootDBInstance"]);
    expect(zone("orders-db")).toBe("us-east-1a");
    expect(s.outcome.targets[0]).toMatchObject({
      status: "rolled-back",
      reason: "switched back to us-east-1a after VerifyFailed",
    });
  });
});
