/**
 * The local engine's Distributed Map: the same ASL AWS runs, with each iteration a child
 * execution of its own (its own history), MaxConcurrencyPath, tolerated failures, and history
 * events counted per execution against Step Functions' 25,000 limit.
 */
import type { AslDefinition } from "@reflex/core";
import { describe, expect, it } from "vitest";
import { HISTORY_LIMIT } from "../packages/local/src/engine/history.ts";
import { LocalStepFunctions, type StatusChangeEvent } from "../packages/local/src/engine/local-sfn.ts";

function engineWith(step: (input: { n: number }) => Promise<unknown>) {
  const closed: StatusChangeEvent[] = [];
  let inFlight = 0;
  let peak = 0;
  const engine = new LocalStepFunctions({
    region: "us-east-1",
    account: "000000000000",
    waitMs: 1,
    retryMs: 1,
    stepHandler: async (payload) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        return await step((payload as { input: { n: number } }).input);
      } finally {
        inFlight--;
      }
    },
    onStatusChange: (e) => {
      closed.push(e);
    },
  });
  return { engine, closed, peak: () => peak };
}

const distributed = (
  arn: string,
  tolerated: Partial<Record<"ToleratedFailureCount" | "ToleratedFailurePercentage", number>> = {},
): AslDefinition => ({
  StartAt: "Each",
  States: {
    Each: {
      Type: "Map",
      ItemsPath: "$.items",
      MaxConcurrencyPath: "$.concurrency",
      ...tolerated,
      ItemSelector: { "n.$": "$$.Map.Item.Value" },
      ItemProcessor: {
        ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
        StartAt: "Work",
        States: {
          Work: {
            Type: "Task",
            Resource: arn,
            Parameters: { runbook: "t", step: "work", "input.$": "$" },
            Next: "Pause",
          },
          Pause: { Type: "Wait", Seconds: 1, End: true },
        },
      },
      End: true,
    },
  },
});

async function run(engine: LocalStepFunctions, def: AslDefinition, input: object) {
  const m = engine.register(`dm-${Math.random().toString(36).slice(2, 8)}`, def);
  const { executionArn } = engine.startExecution({ stateMachineArn: m.arn, input: JSON.stringify(input) });
  const parent = engine.describeExecution(executionArn);
  await parent.done;
  await engine.idle();
  return parent;
}

describe("Distributed Map in the local engine", () => {
  it("runs each item as a child execution with its own history, at most MaxConcurrencyPath at once", async () => {
    const { engine, closed, peak } = engineWith(async (i) => {
      await new Promise((r) => setTimeout(r, 2));
      return { n: i.n * 2 };
    });
    const items = Array.from({ length: 300 }, (_, n) => n);

    const parent = await run(engine, distributed(engine.stepHandlerArn), { items, concurrency: 7 });

    expect(parent.status).toBe("SUCCEEDED");
    expect(JSON.parse(parent.output!)).toHaveLength(300);
    expect(JSON.parse(parent.output!)[5]).toEqual({ n: 10 });
    const children = engine.list().filter((e) => e !== parent);
    expect(children).toHaveLength(300);
    expect(peak()).toBeLessThanOrEqual(7);
    expect(peak()).toBeGreaterThan(1);
    // In AWS the parent records the Map Run, not its iterations.
    const parentEvents = engine.historyEvents(parent.executionArn);
    expect(parentEvents).toBeLessThan(10);
    for (const c of children) expect(engine.historyEvents(c.executionArn)).toBe(9); // started, task (entered, scheduled, started, succeeded, exited), wait (2), succeeded
    // Only the parent is a Reflex run: children are not reported as runs ending.
    expect(closed.map((e) => e.detail.executionArn)).toEqual([parent.executionArn]);
  });

  it("counts an inline Map's iterations in the parent's history, which a large fleet would overflow", async () => {
    const { engine } = engineWith(async () => ({}));
    const def = distributed(engine.stepHandlerArn);
    const inline = structuredClone(def);
    inline.States.Each.ItemProcessor!.ProcessorConfig = { Mode: "INLINE" };
    const items = Array.from({ length: 3000 }, (_, n) => n);

    const parent = await run(engine, inline, { items, concurrency: 40 });

    expect(parent.status).toBe("SUCCEEDED");
    expect(engine.historyEvents(parent.executionArn)).toBeGreaterThan(HISTORY_LIMIT);
  });

  it("fails the Map with States.ExceedToleratedFailureThreshold once more children fail than tolerated", async () => {
    const { engine } = engineWith(async (i) => {
      if (i.n % 2 === 0) throw Object.assign(new Error(`item ${i.n} broke`), { name: "Boom" });
      return {};
    });
    const items = Array.from({ length: 10 }, (_, n) => n);

    const tolerant = await run(
      engine,
      distributed(engine.stepHandlerArn, { ToleratedFailurePercentage: 50 }),
      { items, concurrency: 2 },
    );
    const strict = await run(engine, distributed(engine.stepHandlerArn, { ToleratedFailureCount: 2 }), {
      items,
      concurrency: 2,
    });

    expect(tolerant.status).toBe("SUCCEEDED");
    expect(JSON.parse(tolerant.output!)[0]).toMatchObject({ Error: "Boom" });
    expect(strict.status).toBe("FAILED");
    expect(strict.error).toBe("States.ExceedToleratedFailureThreshold");
  });
});
