import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import type { AslDefinition } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../server.ts";
import { LocalStepFunctions, type StatusChangeEvent } from "./local-sfn.ts";

const events: StatusChangeEvent[] = [];
const calls: unknown[] = [];
let inFlight = 0;
// The `hold` step waits until a test lets it go: an execution that is certainly still running.
let release: () => void = () => undefined;
const held = new Promise<void>((r) => {
  release = r;
});
let maxInFlight = 0;
const engine = new LocalStepFunctions({
  region: "us-east-1",
  account: "000000000000",
  waitMs: 5,
  retryMs: 1,
  stepHandler: async (payload) => {
    calls.push(payload);
    const p = payload as { step: string; input: { item?: number; fail?: boolean } };
    if (p.step === "boom") throw Object.assign(new Error("it broke"), { name: "Boom" });
    if (p.step === "hold") {
      await held;
      return {};
    }
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 10));
    inFlight--;
    return { doubled: (p.input.item ?? 0) * 2 };
  },
  onStatusChange: (e) => {
    events.push(e);
  },
});
const task = (step: string, rest: object = {}) => ({
  Type: "Task" as const,
  Resource: engine.stepHandlerArn,
  Parameters: { runbook: "t", step, "input.$": "$" },
  ...rest,
});
const mapDef: AslDefinition = {
  StartAt: "Each",
  States: {
    Each: {
      Type: "Map",
      ItemsPath: "$.items",
      MaxConcurrency: 2,
      ItemSelector: { "item.$": "$$.Map.Item.Value" },
      ItemProcessor: { StartAt: "Double", States: { Double: task("double", { End: true }) } },
      ResultPath: "$.out",
      Next: "Pause",
    },
    Pause: { Type: "Wait", Seconds: 3600, Next: "Done" },
    Done: { Type: "Succeed" },
  },
};
const failDef: AslDefinition = { StartAt: "Boom", States: { Boom: task("boom", { End: true }) } };

let url: string;
let close: () => void;
let sfn: SFNClient;
beforeAll(async () => {
  engine.register("map", mapDef);
  engine.register("fail", failDef);
  engine.register("held", { StartAt: "Hold", States: { Hold: task("hold", { End: true }) } });
  const started = await startServer({ engine, api: async () => ({ statusCode: 404, body: "{}" }) }, 0);
  url = started.url;
  close = () => started.server.close();
  sfn = new SFNClient({
    endpoint: url,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
});
afterAll(() => close());

async function waitFor(arn: string) {
  for (;;) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    if (d.status !== "RUNNING") return d;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("the local Step Functions engine, through the real SFN client", () => {
  it("runs a Map with its MaxConcurrency and the Wait override, then reports SUCCEEDED", async () => {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: engine.stateMachineArn("map"),
        name: "m1",
        input: JSON.stringify({ items: [1, 2, 3, 4, 5] }),
      }),
    );
    const done = await waitFor(executionArn!);
    expect(done.status).toBe("SUCCEEDED");
    expect(JSON.parse(done.output!).out).toEqual([2, 4, 6, 8, 10].map((doubled) => ({ doubled })));
    expect(maxInFlight).toBe(2);
    expect(calls[0]).toMatchObject({ runbook: "t", step: "double", input: { item: expect.any(Number) } });
  });

  it("treats a repeated start with the same name and input as the same execution", async () => {
    const input = JSON.stringify({ items: [] });
    const start = (body: string) =>
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: engine.stateMachineArn("held"),
          name: "same",
          input: body,
        }),
      );
    const a = await start(input);
    const b = await start(input);
    expect(b.executionArn).toBe(a.executionArn);
    await expect(start('{"items":[9]}')).rejects.toMatchObject({ name: "ExecutionAlreadyExists" });
    release();
    await waitFor(a.executionArn!);
    // Closed: even the same input is ExecutionAlreadyExists now, as in AWS.
    await expect(start(input)).rejects.toMatchObject({ name: "ExecutionAlreadyExists" });
  });

  it("fails with the step's error name and publishes the status change", async () => {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: engine.stateMachineArn("fail"), name: "f1" }),
    );
    const done = await waitFor(executionArn!);
    expect(done).toMatchObject({ status: "FAILED", error: "Boom" });
    await engine.idle();
    expect(events.find((e) => e.detail.name === "f1")?.detail).toMatchObject({
      status: "FAILED",
      error: "Boom",
    });
  });

  it("answers an unknown state machine as AWS does", async () => {
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: engine.stateMachineArn("nope"), name: "x" })),
    ).rejects.toMatchObject({ name: "StateMachineDoesNotExist" });
  });
});

describe("the check of a definition (asl-validator, as CreateStateMachine checks it)", () => {
  const nowhere: AslDefinition = { StartAt: "Go", States: { Go: task("double", { Next: "Nowhere" }) } };
  const badChild: AslDefinition = {
    StartAt: "Each",
    States: {
      Each: {
        Type: "Map",
        ItemsPath: "$.items",
        ItemProcessor: {
          ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
          StartAt: "Go",
          States: { Go: task("double", { Next: "Nowhere" }) },
        },
        End: true,
      },
    },
  };

  it("refuses to start a machine whose transition points nowhere, and runs none of it", async () => {
    const before = calls.length;
    const arn = engine.register("nowhere", nowhere).arn;
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: "n1", input: "{}" })),
    ).rejects.toMatchObject({ name: "InvalidDefinition" });
    expect(() => engine.validate(arn)).toThrow(/Nowhere/);
    expect(calls.length).toBe(before);
  });

  it("checks a Distributed Map's child machine with its parent, so a caller can refuse both at once", () => {
    const arn = engine.register("bad-child", badChild).arn;
    expect(() => engine.validate(arn)).toThrow(/state machine bad-child-Each: .*Nowhere/s);
    expect(() => engine.validate(engine.stateMachineArn("map"))).not.toThrow();
  });
});
