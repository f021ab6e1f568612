/**
 * A long-running `reflex start` stays flat: finished executions leave the local engine's
 * memory once their end is recorded (the store has them), and the simulated cloud's call
 * log is a bounded ring. bench/soak measures the RSS; these pin the mechanisms.
 */
import { DescribeExecutionCommand, SFNClient } from "@aws-sdk/client-sfn";
import { type AslDefinition, Runs, validateConfig } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { LocalStepFunctions } from "../packages/local/src/engine/local-sfn.ts";
import { type LocalMode, startLocal } from "../packages/local/src/local-mode.ts";
import { api, runAndWait } from "./support/local.ts";

function engine(opts: { keepFinished: number; failToClose?: (name: string) => boolean }) {
  const e = new LocalStepFunctions({
    region: "us-east-1",
    account: "000000000000",
    keepFinished: opts.keepFinished,
    keepWholeMs: 0,
    stepHandler: async () => ({ ok: true }),
    onStatusChange: (event) => {
      if (opts.failToClose?.(event.detail.name)) throw new Error("the store is down");
    },
  });
  const def: AslDefinition = {
    StartAt: "Do",
    States: {
      Do: {
        Type: "Task",
        Resource: e.stepHandlerArn,
        Parameters: { runbook: "t", step: "do", "input.$": "$" },
        End: true,
      },
    },
  };
  e.register("m", def);
  return e;
}

describe("the local engine's memory", () => {
  it("keeps only a bounded number of finished executions, as summaries", async () => {
    const e = engine({ keepFinished: 5 });
    const arns: string[] = [];
    for (let i = 0; i < 30; i++) {
      arns.push(e.startExecution({ stateMachineArn: e.stateMachineArn("m"), name: `run-${i}` }).executionArn);
    }
    await e.idle();

    expect(e.retained()).toEqual({ whole: 0, summaries: 5 });
    expect(() => e.describeExecution(arns[0])).toThrow(/Execution Does Not Exist/);
    const last = e.describeExecution(arns[29]);
    expect({ status: last.status, history: last.history }).toEqual({ status: "SUCCEEDED", history: [] });
    // Like AWS: a name that ended is not reused, while the engine still remembers it.
    expect(() => e.startExecution({ stateMachineArn: e.stateMachineArn("m"), name: "run-29" })).toThrow(
      /Execution Already Exists/,
    );
  });

  it("keeps an execution whole when its end could not be recorded, so the reconciler never sees it as lost", async () => {
    const e = engine({ keepFinished: 1, failToClose: (name) => name === "unlucky" });
    const arn = e.startExecution({ stateMachineArn: e.stateMachineArn("m"), name: "unlucky" }).executionArn;
    for (let i = 0; i < 5; i++)
      e.startExecution({ stateMachineArn: e.stateMachineArn("m"), name: `ok-${i}` });
    await e.idle();

    expect(e.retained()).toEqual({ whole: 1, summaries: 1 });
    expect(e.describeExecution(arn).status).toBe("SUCCEEDED");
  });
});

describe("the simulated cloud's call log", () => {
  it("is a ring: it keeps the newest callLogSize calls and numbers every call", async () => {
    const cloud = SimulatedCloud.seeded({ callLogSize: 50 });
    for (let i = 0; i < 200; i++)
      await cloud.invoke("ec2", "us-east-1", "DescribeInstances", { MaxResults: 5 });

    expect(cloud.calls).toHaveLength(50);
    expect(cloud.calls[0].seq).toBe(151);
    expect(cloud.lastCallSeq).toBe(200);
    expect(cloud.callsSince(190).map((c) => c.seq)).toEqual([
      191, 192, 193, 194, 195, 196, 197, 198, 199, 200,
    ]);
  });
});

describe("local mode over many runs", () => {
  let local: LocalMode;
  beforeAll(async () => {
    local = await startLocal({
      config: validateConfig({}),
      port: 0,
      quiet: true,
      dataDir: null,
      waitMs: 20,
      scheduler: false,
      cloud: SimulatedCloud.seeded({ snapshotDurationMs: 150 }),
      retention: { keepWholeMs: 0, keepFinished: 3 },
    });
  });
  afterAll(async () => local?.stop());

  it("drops finished runs from the engine, still answers for the latest, and the reconciler finds none lost", async () => {
    let run: { id: string } = { id: "" };
    for (let i = 0; i < 6; i++)
      run = await runAndWait(local, "scale", { autoScalingGroup: "web", change: "+1" }, true);

    expect(local.engine.retained()).toEqual({ whole: 0, summaries: 3 });
    expect(await Runs.reconcile({ olderThanMs: 0 })).toEqual([]);
    const sfn = new SFNClient({
      endpoint: local.url,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    const arn = `arn:aws:states:us-east-1:000000000000:execution:reflex-local-scale:${run.id}`;
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(described.status).toBe("SUCCEEDED");
    expect((await api(local, "GET", `/api/executions/${run.id}`)).body.status).toBe("SUCCEEDED");
    sfn.destroy();
  });
});
