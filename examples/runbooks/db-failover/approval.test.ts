/**
 * db-failover with a person's approval (high risk: approval required by default, no policy
 * turning it off): the run waits having changed nothing; the person who asked cannot approve
 * their own run; a second person approves and the failover runs and verifies; a rejection ends
 * the next run with no mutating call. Runs are started and answered through the API, as a
 * person would; the test waits for the run's state, never for time.
 */
import { setDatabaseTimings } from "@reflex/local/cloud/databases";
import { openSimulation, type SimulationSession } from "@reflex/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbFailover } from "./index.ts";

let session: SimulationSession;
beforeAll(async () => {
  session = await openSimulation(dbFailover, {
    setup: (cloud) => setDatabaseTimings(cloud, { failoverMs: 40 }),
    config: {
      access: {
        roles: { dba: ["cli:alice", "cli:bob"], viewer: ["cli:dave"] },
        allow: [{ role: "dba", runbooks: ["db-failover"], actions: ["run", "dry-run", "approve"] }],
      },
    },
  });
  session.cloud.failover.setAlarm("payments-canary", "OK");
});
afterAll(() => session?.close());

async function call(as: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${session.url}${path}`, {
    method,
    headers: { "content-type": "application/json", "x-reflex-actor": as },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** Polls the run until `ok` holds (its state, not a clock, ends the wait). */
async function until(id: string, ok: (run: Record<string, any>) => boolean) {
  for (let n = 0; n < 2400; n++) {
    const { body } = await call("cli:dave", "GET", `/api/executions/${id}`);
    if (ok(body)) return body;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`run ${id} never reached the state asked for`);
}
const isWaiting = (r: Record<string, any>) => r.status === "WAITING_FOR_APPROVAL";
const hasEnded = (r: Record<string, any>) => !["RUNNING", "WAITING_FOR_APPROVAL"].includes(r.status);
const mutating = (id: string) =>
  session.cloud.calls.filter((c) => c.executionId === id && c.mutating).map((c) => c.operation);
const writer = () =>
  session.cloud
    .dbClusters()
    .find((c) => c.DBClusterIdentifier === "payments")
    ?.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;

async function start(as: string, params: Record<string, unknown>) {
  const res = await call(as, "POST", "/api/runbooks/db-failover/executions", { params });
  expect(res.status).toBe(202);
  expect(res.body.approval).toMatchObject({ required: true });
  return res.body.executionId as string;
}

describe("db-failover waits for a person's approval", () => {
  it("changes nothing while waiting; the requester cannot approve it; a second person's approval runs and verifies the failover", async () => {
    const id = await start("cli:alice", {
      cluster: "payments",
      promote: "payments-2",
      healthAlarm: "payments-canary",
    });
    await until(id, isWaiting);
    expect(mutating(id)).toEqual([]);

    const self = await call("cli:alice", "POST", `/api/executions/${id}/approve`, {});
    expect(self.status).toBe(403);
    expect(self.body.error.message).toMatch(/may not approve/);
    expect((await call("cli:dave", "GET", `/api/executions/${id}`)).body.status).toBe("WAITING_FOR_APPROVAL");
    expect(mutating(id)).toEqual([]);

    const approved = await call("cli:bob", "POST", `/api/executions/${id}/approve`, { comment: "go" });
    expect(approved.status).toBe(200);
    const run = await until(id, hasEnded);

    expect(run.status).toBe("SUCCEEDED");
    expect(mutating(id)).toEqual(["FailoverDBCluster"]);
    expect(writer()).toBe("payments-2");
    expect(run.outcome.summary).toMatch(/payments-2/);
    expect(run.outcome.targets[0]).toMatchObject({ id: "payments", status: "succeeded" });
  });

  it("ends on a rejection with no mutating call, the writer where it was", async () => {
    const id = await start("cli:bob", { cluster: "payments", promote: "payments-1" });
    await until(id, isWaiting);

    const rejected = await call("cli:alice", "POST", `/api/executions/${id}/reject`, { reason: "not now" });
    expect(rejected.status).toBe(200);
    const run = await until(id, hasEnded);

    expect(run.status).toBe("ABORTED");
    expect(mutating(id)).toEqual([]);
    expect(writer()).toBe("payments-2");
  });
});
