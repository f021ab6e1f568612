/**
 * Crash safety with real processes: a child `reflex start` is killed with SIGKILL at every
 * write boundary of the start path (named crash points, `REFLEX_CRASH_AT`) and at timed
 * offsets after a request, then restarted on the same data dir. After the restart, no lock may
 * be held by a run that does not exist or has ended, every listed execution must be readable,
 * and the target must be free for the next run. (The restart is local mode started on that dir
 * in the test's own process, as `reflex start` starts it: see restartHere.)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import { Executions, tableName } from "@reflex/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  call,
  dataDir,
  kill,
  type Restarted,
  restartHere,
  startChild as startOn,
  stopChildren,
  waitUntilEnded,
} from "./support/child.ts";

const ROOT = join(import.meta.dirname, "..");
const ALARM = JSON.parse(readFileSync(join(ROOT, "examples/alarm-cpu-high.json"), "utf8"));
const CONFIG = "test/fixtures/crash.config.ts";
const startChild = (dir: string, crashAt?: string) => startOn(dir, CONFIG, crashAt);
// The doomed process is a real child, killed; its successor reads the dir it left, started in this process.
const restart = (dir: string) => restartHere(dir, CONFIG);

afterEach(stopChildren);

/** The running-run markers in the store (`Executions.active` reads them), as `<startedAt>#<id>`. */
async function markers(restarted: Restarted): Promise<string[]> {
  const ddb = new DynamoDBClient({
    endpoint: restarted.local.storage.dynamoEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  try {
    const out = await ddb.send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": { S: Executions.ACTIVE_PK } },
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map((i) => i.sk?.S as string);
  } finally {
    ddb.destroy();
  }
}

/** What must hold after any crash and restart. */
async function assertConsistent(restarted: Restarted): Promise<void> {
  const url = restarted.url;
  // Every running marker left is a running run's own (a dead start's marker without its record
  // was tidied by the restart's reconciler), and every listed running run has one.
  const running = (await call(url, "GET", "/api/executions?limit=500&status=RUNNING")).body
    .executions as Array<{ id: string; startedAt: string }>;
  expect((await markers(restarted)).sort()).toEqual(running.map((e) => `${e.startedAt}#${e.id}`).sort());
  const listed = (await call(url, "GET", "/api/executions?limit=500")).body.executions as Array<{
    id: string;
  }>;
  for (const e of listed) {
    const shown = await call(url, "GET", `/api/executions/${e.id}`);
    expect(shown.status, `listed execution ${e.id} must be readable`).toBe(200);
    expect(shown.body.status, `listed execution ${e.id} is half-written`).not.toBe("STARTING");
  }
  const locks = (await call(url, "GET", "/api/locks")).body.locks as Array<{ target: string; owner: string }>;
  for (const lock of locks) {
    const holder = await call(url, "GET", `/api/executions/${lock.owner}`);
    expect(holder.status, `lock ${lock.target} is held by ${lock.owner}, which does not exist`).toBe(200);
    expect(holder.body.status, `lock ${lock.target} is held by ended run ${lock.owner}`).toBe("RUNNING");
  }
  // The target is free: the next scale of the group starts and finishes.
  const next = await call(url, "POST", "/api/runbooks/scale/executions", {
    params: { autoScalingGroup: "web", change: "+1" },
  });
  expect(next.status, JSON.stringify(next.body)).toBe(202);
  expect((await waitUntilEnded(url, next.body.executionId)).status).toBe("SUCCEEDED");
}

const START_POINTS = [
  "start:after-locks",
  "start:after-marker",
  "start:after-record",
  "start:after-start-execution",
];

describe("a crash in the start path", () => {
  for (const point of START_POINTS) {
    it(`leaves no orphaned lock and no half-written run when killed at ${point}`, async () => {
      const dir = dataDir();
      const doomed = await startChild(dir, point);
      await call(doomed.url, "POST", "/api/runbooks/scale/executions", {
        params: { autoScalingGroup: "web", change: "+1" },
      }).catch(() => undefined); // the connection dies with the process
      expect((await doomed.exited).signal).toBe("SIGKILL");

      const restarted = await restart(dir);
      await assertConsistent(restarted);
      if (point === "start:after-start-execution") {
        // The run had begun: it is closed as lost and flagged for a person, not silently aborted.
        const listed = (await call(restarted.url, "GET", "/api/executions")).body.executions;
        const lost = listed.find((e: any) => e.error === "ExecutionLost");
        expect(lost).toMatchObject({
          status: "ABORTED",
          attention: { reason: expect.stringContaining("lost") },
        });
        const lifecycle = (await call(restarted.url, "GET", "/api/lifecycle")).body.events;
        expect(lifecycle.map((e: any) => e["detail-type"])).toContain("Reflex Execution Lost");
      }
    });
  }

  it("leaves a consistent store when killed at timed offsets during a start", async () => {
    const dir = dataDir();
    for (const offset of [0, 15, 40]) {
      const doomed = await startChild(dir);
      const request = call(doomed.url, "POST", "/api/runbooks/scale/executions", {
        params: { autoScalingGroup: "web", change: "+1" },
      }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, offset));
      await Promise.all([request, kill(doomed)]);
    }
    const restarted = await restart(dir);
    await assertConsistent(restarted);
  }, 240_000); // four start-ups of a child in a row
});

describe("a crash while the gate handles an event", () => {
  it("answers the resend with 503 and Retry-After, never duplicate, while the dead claim's lease runs", async () => {
    const dir = dataDir();
    const event = {
      ...ALARM,
      detail: { ...ALARM.detail, state: { ...ALARM.detail.state, timestamp: new Date().toISOString() } },
    };
    const doomed = await startChild(dir, "gate:after-claim");
    await call(doomed.url, "POST", "/events", event).catch(() => undefined);
    expect((await doomed.exited).signal).toBe("SIGKILL");

    const restarted = await restart(dir);
    const resent = await call(restarted.url, "POST", "/events", event);

    expect(resent.status).toBe(503);
    expect(Number(resent.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(resent.body.results).toMatchObject([{ decision: "in-progress" }]);
    expect((await call(restarted.url, "GET", "/api/executions")).body.executions).toHaveLength(0);
  });
});
