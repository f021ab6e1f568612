import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../test/support/dynamo.ts";
import type { Storage } from "../../../local/src/storage.ts";
import { client } from "../aws.ts";
import * as Alarms from "./alarms.ts";

let storage: Storage;
const cloudwatch = mockClient(CloudWatchClient);
beforeAll(async () => {
  storage = await startTestDynamo();
});
afterAll(async () => storage.close());
afterEach(() => {
  cloudwatch.reset();
  delete process.env.REFLEX_ALARM_STATE_SOURCE;
});

const now = new Date("2026-03-01T12:00:00Z");
const described = (name: string, state: "OK" | "ALARM" | "INSUFFICIENT_DATA", updated: string) => ({
  MetricAlarms: [
    { AlarmName: name, StateValue: state, StateUpdatedTimestamp: new Date(updated), StateReason: "r" },
  ],
});

describe("Alarms.current", () => {
  it("reads an alarm Reflex never saw change from CloudWatch, when deployed to read it", async () => {
    process.env.REFLEX_ALARM_STATE_SOURCE = "cloudwatch";
    cloudwatch.on(DescribeAlarmsCommand).resolves(described("cpu-never-seen", "OK", "2026-03-01T10:00:00Z"));

    const state = await Alarms.current("cpu-never-seen", now);

    expect(state).toMatchObject({
      alarmName: "cpu-never-seen",
      state: "OK",
      since: "2026-03-01T10:00:00.000Z",
    });
    expect(cloudwatch.commandCalls(DescribeAlarmsCommand)[0].args[0].input).toEqual({
      AlarmNames: ["cpu-never-seen"],
      AlarmTypes: ["MetricAlarm", "CompositeAlarm"],
    });
    expect(await Alarms.get("cpu-never-seen")).toMatchObject({ state: "OK" }); // and remembers it
  });

  it("asks CloudWatch when the stored state is older than maxAge, and takes the newer answer", async () => {
    process.env.REFLEX_ALARM_STATE_SOURCE = "cloudwatch";
    await Alarms.record({ alarmName: "cpu-stale", state: "ALARM", since: "2026-02-01T00:00:00Z" });
    cloudwatch.on(DescribeAlarmsCommand).resolves(described("cpu-stale", "OK", "2026-03-01T11:00:00Z"));

    const state = await Alarms.current("cpu-stale", now);

    expect(state?.state).toBe("OK");
  });

  it("trusts a recent stored state without asking CloudWatch", async () => {
    process.env.REFLEX_ALARM_STATE_SOURCE = "cloudwatch";
    await Alarms.record({ alarmName: "cpu-fresh", state: "OK", since: "2026-03-01T11:50:00Z" });

    const state = await Alarms.current("cpu-fresh", now);

    expect(state?.state).toBe("OK");
    expect(cloudwatch.commandCalls(DescribeAlarmsCommand)).toHaveLength(0);
  });

  it("uses only the stored state in local mode (no CloudWatch there)", async () => {
    const state = await Alarms.current("cpu-local-never-seen", now);
    expect(state).toBeUndefined();
    expect(cloudwatch.commandCalls(DescribeAlarmsCommand)).toHaveLength(0);
  });
});

describe("Alarms.record in a storm", () => {
  /** The PutItem requests the table client sends while `fn` runs. */
  async function putsDuring(fn: () => Promise<unknown>): Promise<number> {
    let puts = 0;
    const stack = client(DynamoDBClient, "dynamodb").middlewareStack;
    stack.add(
      ((next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: unknown) => {
          if (context.commandName === "PutItemCommand") puts++;
          return next(args);
        }) as never,
      { step: "initialize", name: "alarmTestPuts" },
    );
    try {
      await fn();
    } finally {
      stack.remove("alarmTestPuts");
    }
    return puts;
  }

  it("sends nothing for a state older than one this process stored or saw refused (the store would refuse it too); a newer one is written", async () => {
    const newer = { alarmName: "cpu-storm", state: "OK", since: "2026-03-01T12:01:00Z" };
    expect(await Alarms.record(newer)).toBe(true);

    const older = { alarmName: "cpu-storm", state: "ALARM", since: "2026-03-01T12:00:00.000+0000" };
    expect(await putsDuring(() => Alarms.record(older))).toBe(0);
    expect(await Alarms.record(older)).toBe(false);
    // The same instant again (a redelivery) is not newer either.
    expect(await putsDuring(() => Alarms.record(newer))).toBe(0);
    expect(await Alarms.get("cpu-storm")).toMatchObject({ state: "OK", since: newer.since });

    const newest = { alarmName: "cpu-storm", state: "ALARM", since: "2026-03-01T12:02:00Z" };
    expect(await putsDuring(() => Alarms.record(newest))).toBe(1);
    expect(await Alarms.get("cpu-storm")).toMatchObject({ state: "ALARM", since: newest.since });
  });

  it("learns from a refused write too: another writer's newer state keeps this process's older ones from the store", async () => {
    // Another process stored 12:05; this one does not know it, so its first try is a request.
    await Alarms.record({ alarmName: "cpu-elsewhere", state: "ALARM", since: "2026-03-01T12:05:00Z" });
    Alarms.forgetLocal();
    const late = { alarmName: "cpu-elsewhere", state: "OK", since: "2026-03-01T12:03:00Z" };
    expect(await putsDuring(() => Alarms.record(late))).toBe(1);
    // Refused: the store holds 12:03 or newer, so 12:02 is not sent; 12:04 may be newer, so it is.
    expect(await putsDuring(() => Alarms.record({ ...late, since: "2026-03-01T12:02:00Z" }))).toBe(0);
    expect(await putsDuring(() => Alarms.record({ ...late, since: "2026-03-01T12:04:00Z" }))).toBe(1);
    expect(await Alarms.get("cpu-elsewhere")).toMatchObject({ state: "ALARM" });
  });

  it("knows nothing about another store: an older state there is written", async () => {
    await Alarms.record({ alarmName: "cpu-moved", state: "OK", since: "2026-03-01T12:10:00Z" });
    const other = await startTestDynamo();
    try {
      const older = { alarmName: "cpu-moved", state: "ALARM", since: "2026-03-01T12:00:00Z" };
      expect(await putsDuring(() => Alarms.record(older))).toBe(1);
      expect(await Alarms.get("cpu-moved")).toMatchObject({ state: "ALARM" });
    } finally {
      await other.close();
      // Back to this file's store.
      (await import("../aws.ts")).configure({ endpoints: { dynamodb: storage.dynamoEndpoint } });
    }
  });
});
