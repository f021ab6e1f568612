import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../test/support/dynamo.ts";
import type { Storage } from "../../../local/src/storage.ts";
import * as Aws from "../aws.ts";
import { automationStateForGate, pause, resume } from "./guardrails.ts";

let storage: Storage | undefined;
/** GetItem requests sent since the store was started. */
let reads = 0;

beforeEach(async () => {
  await storage?.close();
  storage = await startTestDynamo();
  reads = 0;
  Aws.configure({
    endpoints: { dynamodb: storage.dynamoEndpoint },
    decorate: (service, client) => {
      if (service !== "dynamodb") return;
      client.middlewareStack.add(
        (next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (a: unknown) => {
          if (context.commandName?.startsWith("Get")) reads++;
          return next(a);
        },
        { step: "initialize", name: "countReads" },
      );
    },
  });
  // Each test starts from a known state, and with the gate's copy dropped.
  await resume("test");
});
afterAll(async () => storage?.close());

describe("the gate's copy of the automation state", () => {
  it("is read once for a burst of admissions that find no copy, not once per admission", async () => {
    const states = await Promise.all(Array.from({ length: 50 }, () => automationStateForGate()));

    expect(states.every((s) => s.paused === false)).toBe(true);
    expect(reads).toBe(1);
  });

  it("says paused once a pause in this process has returned, even if a read was on its way when it was made", async () => {
    // A read sent before the pause, answered (not paused) after the pause dropped the copy.
    const before = automationStateForGate();
    await pause("alice", "investigating");
    await before;

    expect((await automationStateForGate()).paused).toBe(true);
  });

  it("says running again once a resume in this process has returned", async () => {
    await pause("alice", "investigating");
    expect((await automationStateForGate()).paused).toBe(true);

    const before = automationStateForGate();
    await resume("alice");
    await before;

    expect((await automationStateForGate()).paused).toBe(false);
  });

  it("is read again after a second (another process's pause is seen within it)", async () => {
    const t0 = Date.now();
    await automationStateForGate(t0);
    await automationStateForGate(t0 + 999);
    expect(reads).toBe(1);

    await automationStateForGate(t0 + 1000);
    expect(reads).toBe(2);
  });
});
