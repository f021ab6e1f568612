import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../test/support/dynamo.ts";
import type { Storage } from "../../../local/src/storage.ts";
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
