import { describe, expect, it } from "vitest";
import { describeEvent } from "./activity.ts";
import { LocalBus } from "./bus.ts";
import { LocalStepFunctions } from "./engine/local-sfn.ts";
import { handleSfn } from "./engine/sfn-api.ts";

/** The local AWS JSON readers take fields of the wrong type as the services do: refused, nothing done. */
describe("local PutEvents with fields of the wrong type", () => {
  it("refuses each such entry as InvalidArgument or MalformedDetail, and forwards none of them", async () => {
    const forwarded: unknown[] = [];
    const bus = new LocalBus("reflex-local", async (e) => {
      forwarded.push(e);
    });
    const good = { Source: "test", DetailType: "Thing", Detail: "{}" };
    const out = await bus.putEvents({
      Entries: [
        { ...good, Source: 7 },
        { ...good, DetailType: undefined },
        { ...good, EventBusName: { name: "default" } },
        { ...good, Resources: "arn:aws:ec2:us-east-1:000000000000:instance/i-1" },
        { ...good, Detail: { already: "an object" } },
        { ...good, Detail: 5 },
        "not an entry",
        good,
      ],
    });
    const body = out.body as { FailedEntryCount: number; Entries: Array<Record<string, string>> };
    expect(out.status).toBe(200);
    expect(body.Entries.map((e) => e.ErrorCode ?? "ok")).toEqual([
      "InvalidArgument",
      "InvalidArgument",
      "InvalidArgument",
      "InvalidArgument",
      "MalformedDetail",
      "MalformedDetail",
      "InvalidArgument",
      "ok",
    ]);
    expect(body.FailedEntryCount).toBe(7);
    expect(forwarded).toEqual([
      expect.objectContaining({ source: "test", "detail-type": "Thing", detail: {}, resources: [] }),
    ]);
  });
});

describe("local Step Functions API with fields of the wrong type", () => {
  const engine = new LocalStepFunctions({
    region: "us-east-1",
    account: "000000000000",
    waitMs: 5,
    retryMs: 1,
    stepHandler: async () => ({}),
  });
  const arn = engine.register("t", { StartAt: "Done", States: { Done: { Type: "Succeed" } } }).arn;

  it.each([
    ["StartExecution", { stateMachineArn: arn, input: { not: "text" } }, "input must be a string"],
    ["StartExecution", { stateMachineArn: arn, name: 12 }, "name must be a string"],
    ["StartExecution", {}, "stateMachineArn is required"],
    ["DescribeExecution", { executionArn: 5 }, "executionArn must be a string"],
    ["StopExecution", { executionArn: `${arn}:x`, cause: true }, "cause must be a string"],
    ["ListExecutions", { statusFilter: 1 }, "statusFilter must be a string"],
  ])("%s %j is a ValidationException", (op, body, message) => {
    const out = handleSfn(engine, `AWSStepFunctions.${op}`, body);
    expect(out).toEqual({ status: 400, body: { __type: "ValidationException", message } });
    expect(engine.list(arn)).toEqual([]);
  });

  it("starts and describes with string fields as before", () => {
    const started = handleSfn(engine, "AWSStepFunctions.StartExecution", {
      stateMachineArn: arn,
      name: "ok",
      input: "{}",
    });
    expect(started.status).toBe(200);
    const { executionArn } = started.body as { executionArn: string };
    const described = handleSfn(engine, "AWSStepFunctions.DescribeExecution", { executionArn });
    expect(described).toMatchObject({ status: 200, body: { name: "ok", input: "{}" } });
  });
});

describe("describeEvent on events of any shape", () => {
  it("names what it can and never throws", () => {
    expect(
      describeEvent({ source: "aws.cloudwatch", detail: { alarmName: "a", state: { value: "ALARM" } } }),
    ).toBe("aws.cloudwatch alarm a ALARM");
    expect(describeEvent({ source: "aws.cloudwatch", detail: { alarmName: "a", state: "odd" } })).toBe(
      "aws.cloudwatch alarm a",
    );
    expect(describeEvent({ source: "aws.ec2", detail: ["instance-id"] })).toBe("aws.ec2");
    expect(describeEvent(null)).toBe("(no source)");
    expect(describeEvent({ source: 3, "detail-type": "X" })).toBe("(no source) X");
  });
});
