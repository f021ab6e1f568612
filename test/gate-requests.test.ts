/**
 * The requests one start through the gate sends (issue 22): counted, not timed, so a change that
 * adds one to the gate's path is caught here. The start is the alarm storm's (bench/alarm-storm's
 * rule and `bench-noop`, one lock, a rate limit), through local mode's stores and clients.
 *
 * What a start sends, and why (docs/guardrails.md lists the same):
 *   PutItem DEDUP     the claim: one delivery of this alarm transition decides
 *   GetItem GUARD     pause and breaker (read once a second per process; this is the first)
 *   UpdateItem RATE   the rate slot (automatic starts)
 *   PutItem LOCK      the target's lock, naming the run (taken before anything else is written)
 *   PutItem ACTIVE    the running marker, before the record says RUNNING (active() reads it)
 *   PutItem EXEC      the run's record, RUNNING and listed, naming its locks: one write, no
 *                     STARTING record and promotion (the locks before it prove ownership; the
 *                     reconciler frees locks without a record once older than its cutoff)
 *   PutItem AUDIT     `execution.started` (the local audit writer; in AWS one SQS message)
 *   sfn StartExecution, eventbridge PutEvents (`Execution Started`)
 *   PutItem ALARM     the alarm's state, beside the routing
 *   UpdateItem DEDUP  the claim's completion, with the decision
 * The Slack notifier's reading and writing of the run's thread is not the gate's: in AWS it is
 * another Lambda, fed by the bus; locally it runs after PutEvents is answered.
 */
import { randomUUID } from "node:crypto";
import { Executions, Gate, Lifecycle, Runbooks } from "@reflex/core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startStormLocal, type stormConfig } from "../bench/alarm-storm.ts";
import { DdbCalls } from "../bench/support/ddb-calls.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { alarmEvent } from "./support/events.ts";

const calls = new DdbCalls();
let local: LocalMode;
let config: ReturnType<typeof stormConfig>;

beforeAll(async () => {
  // DynamoDB counted by operation and item kind; the other services' calls by name, each by
  // the scope it was sent in.
  ({ local, config } = await startStormLocal(calls.decorateAll));
});
afterAll(async () => {
  await local?.stop();
  // The bench's runbook: left registered, the next file in the process would list it.
  Runbooks.unregister("bench-noop");
});

it("one alarm that starts a run sends its 7 writes, its audit entry, the pause read, StartExecution and one lifecycle event from the gate; nothing else", async () => {
  const event = alarmEvent(`count-${randomUUID()}`, "ALARM", new Date(), { id: randomUUID() });
  calls.requests.clear();
  calls.services.clear();
  // Decided a few seconds ahead, so the pause/breaker state is read (its copy is at most a second
  // old, and local mode's start may have read it): the count is the same however long that took.
  const now = new Date(Date.now() + 5_000);
  const decisions = await calls.within("gate", () => Gate.handleEvent(event, { config, now }));
  expect(decisions.map((d) => d.decision)).toEqual(["started"]);
  const id = decisions[0]?.executionId as string;
  // The run is the engine's now (not the gate's): wait for it to end before counting what is left.
  await local.idle();
  expect((await Executions.find(id))?.status).toBe("SUCCEEDED");

  const gate = { ...calls.requests.get("gate"), ...calls.services.get("gate") };
  expect(gate).toEqual({
    "PutItem DEDUP": 1,
    "GetItem GUARD": 1,
    "UpdateItem RATE": 1,
    "PutItem EXEC": 1,
    "PutItem LOCK": 1,
    "PutItem ACTIVE": 1,
    "PutItem AUDIT": 1,
    "sfn StartExecution": 1,
    "eventbridge PutEvents": 1,
    "PutItem ALARM": 1,
    "UpdateItem DEDUP": 1,
  });
  expect(Object.values(gate).reduce((a, b) => a + b, 0)).toBe(11);

  // The notifier's requests are not the gate's.
  await local.notified();
  expect(calls.requests.get("gate")?.["GetItem CHATOPS"]).toBeUndefined();
  expect(calls.requests.get("other")?.["PutItem CHATOPS"]).toBeGreaterThan(0);
});

it("notified() waits until the local Slack notifier has handled what the bus was given (it works after PutEvents is answered)", async () => {
  const executionId = `bench-noop-notified-${randomUUID().slice(0, 8)}`;
  await local.bus.putEvents({
    Entries: [
      {
        EventBusName: Lifecycle.busName(),
        Source: "reflex",
        DetailType: "Reflex Execution Started",
        Detail: JSON.stringify({
          executionId,
          runbook: "bench-noop",
          dryRun: false,
          trigger: { kind: "manual", actor: "cli:t" },
          params: {},
        }),
      },
    ],
  });
  await local.notified();
  expect(local.outbox.list().filter((m) => m.text?.includes(executionId))).toHaveLength(1);
});
