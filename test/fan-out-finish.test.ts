/**
 * A fan-out's end comes from what is stored, never from who asks (issue 26's leftovers):
 * - a `finish` sent straight to the fan-out function (anyone IAM lets invoke it) may not end a
 *   fan-out whose locations have not all ended: it is refused, nothing written or audited;
 * - a fan-out whose state machine ended without its Finish (a Finish that failed past its
 *   retries) does not stay RUNNING: the reconciler (resume) reads the parent's end from Step
 *   Functions and settles it from the stored outcomes and the children's records.
 * Step Functions is answered in-process (DescribeExecution, StartExecution), DynamoDB embedded.
 */

import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { Audit, Aws, Locations, tableName, useConfig, validateConfig } from "@reflex/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { db } from "../packages/core/src/state/db.ts";
import * as Executions from "../packages/core/src/state/executions.ts";
import * as FanOuts from "../packages/core/src/state/fan-outs.ts";
import { handler as fanOutHandler } from "../packages/functions/src/fan-out.ts";
import { S3RVER_CREDENTIALS, type Storage } from "../packages/local/src/storage.ts";
import { startTestDynamo } from "./support/dynamo.ts";

/** What Step Functions says of each parent execution, by name: absent = never started. */
const parents = new Map<string, { status: string; input: string }>();
/** A role without states:DescribeExecution (the gate's, the schedule's). */
let denyDescribe = false;

let storage: Storage;
beforeAll(async () => {
  storage = await startTestDynamo();
  Aws.configure({
    endpoints: { dynamodb: storage.dynamoEndpoint, s3: storage.s3Endpoint },
    credentials: { s3: S3RVER_CREDENTIALS },
    decorate: (service, client) => {
      // Lifecycle events go nowhere (no call leaves 127.0.0.1).
      if (service === "eventbridge")
        (client as { middlewareStack: { add: (m: unknown, o: unknown) => void } }).middlewareStack.add(
          () => async () => ({ output: { FailedEntryCount: 0, Entries: [] }, response: {} }),
          { step: "initialize", name: "noBus" },
        );
      if (service !== "sfn") return;
      (client as { middlewareStack: { add: (m: unknown, o: unknown) => void } }).middlewareStack.add(
        () => async (args: { input: Record<string, string> }) => {
          const input = args.input;
          const fail = (name: string, message: string) => {
            throw Object.assign(new Error(message), { name, $fault: "client" });
          };
          if (input.executionArn !== undefined) {
            const name = input.executionArn.split(":").pop() ?? "";
            const p = parents.get(name);
            if (!p) fail("ExecutionDoesNotExist", `no execution ${name}`);
            if (denyDescribe)
              fail("AccessDeniedException", "not authorized to perform: states:DescribeExecution");
            return { output: { executionArn: input.executionArn, name, status: p?.status }, response: {} };
          }
          const name = input.name ?? "";
          const p = parents.get(name);
          if (p && !(p.status === "RUNNING" && p.input === input.input))
            fail("ExecutionAlreadyExists", `Execution Already Exists: '${name}'`);
          parents.set(name, { status: "RUNNING", input: input.input ?? "" });
          return { output: { executionArn: `arn:aws:states:::execution:fan_out:${name}` }, response: {} };
        },
        { step: "initialize", name: "fakeSfn" },
      );
    },
  });
});
afterAll(async () => {
  Aws.configure({});
  await storage?.close();
});
beforeEach(() => parents.clear());

const config = validateConfig({
  accounts: [{ id: "111111111111", name: "member-1", regions: ["us-east-1", "eu-west-1"] }],
});

/** A fan-out of two locations whose state machine is running (as launch leaves it). */
async function running(): Promise<Locations.LocationPlan> {
  const planned = Locations.plan(
    { runbook: "backup-snapshot", params: { selector: { tag: { Backup: "daily" } } }, config },
    { accounts: ["*"] },
    { locationConcurrency: 1, locationMaxErrors: 1 },
  );
  await Locations.launch(
    {
      runbook: "backup-snapshot",
      params: { selector: { tag: { Backup: "daily" } } },
      trigger: { kind: "manual" },
      actor: { id: "cli:alice" },
    },
    planned,
  );
  expect(parents.get(planned.parentId)?.status).toBe("RUNNING");
  return planned;
}

/** The first child's run, as admission leaves it, then (optionally) ended. */
async function childRun(planned: Locations.LocationPlan, index: number, status?: "SUCCEEDED" | "FAILED") {
  const child = planned.children[index] as Locations.LocationPlan["children"][number];
  await Executions.create({
    id: child.executionId,
    runbook: "backup-snapshot",
    dryRun: false,
    params: {},
    trigger: { kind: "manual", actor: "cli:alice" },
    location: { account: child.account, region: child.region },
  });
  if (status)
    await Executions.complete(child.executionId, {
      status,
      ...(status === "FAILED" ? { error: "Boom", cause: "it broke" } : {}),
    });
}

const finishedAudits = async (parentId: string) =>
  (await Audit.forExecution(parentId)).filter((e) => e.kind === "locations.finished");

describe("a forged finish of a fan-out", () => {
  it("is refused while a location has not ended: nothing written, nothing audited, the fan-out still RUNNING", async () => {
    const planned = await running();
    await childRun(planned, 0); // location 0 running, location 1 not started yet (concurrency 1)
    const before = await FanOuts.find(planned.parentId);

    // A direct invoke with a payload claiming the fan-out is over, outcomes and all.
    const forged = {
      action: "finish",
      parentId: planned.parentId,
      locations: [{ status: "SUCCEEDED" }, { status: "SUCCEEDED" }],
      outcomes: { "0": { status: "SUCCEEDED" }, "1": { status: "SUCCEEDED" } },
    } as unknown as Locations.FanOutStep;
    await expect(fanOutHandler(forged, {} as never)).rejects.toMatchObject({ name: "ConflictError" });
    await expect(Locations.step(forged)).rejects.toMatchObject({ name: "ConflictError" });

    expect(await FanOuts.find(planned.parentId)).toEqual(before);
    expect(await finishedAudits(planned.parentId)).toEqual([]);
    // The state machine goes on: its own look at the running location still answers.
    expect(
      await Locations.step({ action: "check", parentId: planned.parentId, index: 0, waitSeconds: 5 }),
    ).toMatchObject({ parentId: planned.parentId, index: 0, ended: false });
  });

  it("is refused for a location never started while the parent still runs (it may yet start it)", async () => {
    const planned = await running();
    await childRun(planned, 0, "SUCCEEDED");
    await Locations.step({ action: "check", parentId: planned.parentId, index: 0, waitSeconds: 5 });
    const before = await FanOuts.find(planned.parentId);
    await expect(Locations.step({ action: "finish", parentId: planned.parentId })).rejects.toMatchObject({
      name: "ConflictError",
    });
    expect(await FanOuts.find(planned.parentId)).toEqual(before);
    expect(await finishedAudits(planned.parentId)).toEqual([]);
  });

  it("finishes from the stored outcomes once every location has ended, whatever the payload says", async () => {
    const planned = await running();
    await childRun(planned, 0, "SUCCEEDED");
    await childRun(planned, 1, "FAILED");
    // Location 0's outcome recorded by its iteration; location 1's iteration broke before recording.
    await Locations.step({ action: "check", parentId: planned.parentId, index: 0, waitSeconds: 5 });
    const out = (await Locations.step({
      action: "finish",
      parentId: planned.parentId,
      locations: [{ status: "FAILED" }, { status: "SUCCEEDED" }],
    } as unknown as Locations.FanOutStep)) as { locations: Locations.LocationOutcome[] };
    expect(out.locations.map((l) => l.status)).toEqual(["SUCCEEDED", "FAILED"]);
    const f = await FanOuts.find(planned.parentId);
    expect(f?.status).toBe("FINISHED");
    // What finish read from location 1's record is now stored too, counted as an error.
    expect(f?.outcomes["1"]?.status).toBe("FAILED");
    expect(f?.errors).toBe(1);
    expect(await finishedAudits(planned.parentId)).toHaveLength(1);
  });
});

describe("a fan-out whose state machine ended without its Finish", () => {
  it("is settled by the reconciler's resume: FINISHED, the unstarted location SKIPPED with the reason, audited once", async () => {
    const planned = await running();
    await childRun(planned, 0, "SUCCEEDED");
    await Locations.step({ action: "check", parentId: planned.parentId, index: 0, waitSeconds: 5 });
    // Finish failed past its retries: the parent ended FAILED, its item still RUNNING.
    parents.set(planned.parentId, { status: "FAILED", input: parents.get(planned.parentId)?.input ?? "" });

    await Locations.resume(planned.parentId);
    const f = await FanOuts.find(planned.parentId);
    expect(f?.status).toBe("FINISHED");
    expect(f?.outcomes["1"]).toMatchObject({ status: "SKIPPED" });
    expect(f?.outcomes["1"]?.reason).toContain("FAILED");
    expect((await Locations.running()).map((r) => r.parentId)).not.toContain(planned.parentId);
    expect(await finishedAudits(planned.parentId)).toHaveLength(1);
    // A second pass finds nothing to do.
    expect(await Locations.resume(planned.parentId)).toBe(false);
    expect(await finishedAudits(planned.parentId)).toHaveLength(1);
  });

  it("is left RUNNING for the reconciler by a resume whose role may not DescribeExecution (a gate's or schedule's redelivery)", async () => {
    const planned = await running();
    parents.set(planned.parentId, { status: "FAILED", input: parents.get(planned.parentId)?.input ?? "" });
    denyDescribe = true;
    try {
      expect(await Locations.resume(planned.parentId)).toBe(true);
    } finally {
      denyDescribe = false;
    }
    expect((await FanOuts.find(planned.parentId))?.status).toBe("RUNNING");
  });

  it("waits for a child still running before it settles: RUNNING until the child's run has ended", async () => {
    const planned = await running();
    await childRun(planned, 0);
    parents.set(planned.parentId, { status: "FAILED", input: parents.get(planned.parentId)?.input ?? "" });

    await Locations.resume(planned.parentId);
    expect((await FanOuts.find(planned.parentId))?.status).toBe("RUNNING");

    await Executions.complete(`${planned.parentId}-1`, { status: "SUCCEEDED" });
    await Locations.resume(planned.parentId);
    const f = await FanOuts.find(planned.parentId);
    expect(f?.status).toBe("FINISHED");
    expect(f?.outcomes).toMatchObject({ "0": { status: "SUCCEEDED" }, "1": { status: "SKIPPED" } });
  });

  it("ends its state machine in a failed state when Finish fails past its retries (never a silent success)", () => {
    const asl = Locations.fanOutStateMachine();
    const finish = asl.States.Finish as { Retry?: unknown[]; Catch?: Array<{ Next: string }> };
    expect(finish.Retry?.length).toBeGreaterThan(0);
    const next = finish.Catch?.[0]?.Next ?? "";
    expect(asl.States[next]).toMatchObject({ Type: "Fail", Error: "FanOutFinishFailed" });
  });
});

describe("a fan-out settled by two at once", () => {
  // Each reads the item while it is RUNNING, before the other has marked it FINISHED.
  it("two reconcilers' resumes at once audit locations.finished once", async () => {
    const planned = await running();
    await childRun(planned, 0, "SUCCEEDED");
    await childRun(planned, 1, "FAILED");
    parents.set(planned.parentId, { status: "FAILED", input: parents.get(planned.parentId)?.input ?? "" });
    await Promise.all([Locations.resume(planned.parentId), Locations.resume(planned.parentId)]);
    const f = await FanOuts.find(planned.parentId);
    expect(f?.status).toBe("FINISHED");
    expect(f?.errors).toBe(1);
    expect(await finishedAudits(planned.parentId)).toHaveLength(1);
  });

  it("a resume racing the state machine's own Finish: audited once, the Finish answered or told to retry", async () => {
    const planned = await running();
    await childRun(planned, 0, "SUCCEEDED");
    await childRun(planned, 1, "SUCCEEDED");
    parents.set(planned.parentId, { status: "FAILED", input: parents.get(planned.parentId)?.input ?? "" });
    const [finish] = await Promise.allSettled([
      Locations.step({ action: "finish", parentId: planned.parentId }),
      Locations.resume(planned.parentId),
    ]);
    if (finish.status === "rejected") expect(finish.reason).toMatchObject({ name: "ConflictError" });
    expect((await FanOuts.find(planned.parentId))?.status).toBe("FINISHED");
    expect(await finishedAudits(planned.parentId)).toHaveLength(1);
    // Its retry, once the other has finished: the outcomes, nothing audited again.
    const again = (await Locations.step({ action: "finish", parentId: planned.parentId })) as {
      locations: Locations.LocationOutcome[];
    };
    expect(again.locations.map((l) => l.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expect(await finishedAudits(planned.parentId)).toHaveLength(1);
  });

  it("a claim whose holder died midway is taken over once it has run out; a FINISHED fan-out is never claimed", async () => {
    const planned = await running();
    const t = Date.now();
    expect(await FanOuts.claimFinish(planned.parentId, t)).toBe(true);
    expect(await FanOuts.claimFinish(planned.parentId, t + FanOuts.FINISH_CLAIM_MS - 1)).toBe(false);
    expect(await FanOuts.claimFinish(planned.parentId, t + FanOuts.FINISH_CLAIM_MS + 1)).toBe(true);
    await FanOuts.finish(planned.parentId);
    expect(await FanOuts.claimFinish(planned.parentId, t + 10 * FanOuts.FINISH_CLAIM_MS)).toBe(false);
    expect(await FanOuts.find(planned.parentId)).not.toHaveProperty("finishingUntil");
  });
});

describe("a fan-out's selector, attacked", () => {
  const plan = (selector: Record<string, unknown>) =>
    Locations.plan(
      { runbook: "backup-snapshot", params: { selector: { tag: { Backup: "daily" } } }, config },
      selector as never,
      {},
    );

  it("refuses a Region no chosen account has (a typo, an unknown Region) naming it, instead of dropping it", () => {
    expect(() => plan({ accounts: ["*"], regions: ["us-east-1", "mars-east-9"] })).toThrow(
      expect.objectContaining({
        name: "ValidationError",
        issues: [expect.objectContaining({ path: "locations.regions[1]" })],
      }),
    );
  });

  it("names each location once, however often the selector names it (an account by id, by name and by *)", () => {
    const children = plan({
      accounts: ["member-1", "111111111111", "*"],
      regions: ["us-east-1", "us-east-1"],
    }).children;
    expect(children.map((c) => `${c.account}/${c.region}`)).toEqual(["111111111111/us-east-1"]);
  });
});

describe("the fan-out function invoked with a malformed event", () => {
  it("refuses it as bad input (ValidationError naming the field), and writes nothing", async () => {
    const planned = await running();
    const before = await FanOuts.find(planned.parentId);
    const events = [
      {},
      { action: "start" },
      { action: "bogus", parentId: planned.parentId, index: 0 },
      { action: "start", parentId: planned.parentId, index: -1 },
      { action: "start", parentId: planned.parentId, index: "0; drop" },
      { action: "start", parentId: planned.parentId, index: 1.5 },
      { action: "check", parentId: planned.parentId, index: 0, waitSeconds: "soon" },
      { action: "start", parentId: { $ne: "" }, index: 0 },
    ];
    for (const event of events)
      await expect(fanOutHandler(event as never, {} as never), JSON.stringify(event)).rejects.toMatchObject({
        name: "ValidationError",
      });
    expect(await FanOuts.find(planned.parentId)).toEqual(before);
    expect(await Executions.find(`${planned.parentId}-1`)).toBeUndefined();
  });
});

describe("a fan-out of 1,000 locations", () => {
  it("fits every outcome in its item when every location failed with a long reason (names and ids at their longest)", async () => {
    const parentId = `${"r".repeat(60)}-20261207T060000Z-abcdef`.slice(0, 74);
    const children = Array.from({ length: 1000 }, (_, i) => ({
      account: String(100000000000 + i),
      accountName: `${"a".repeat(60)}${String(i).padStart(4, "0")}`,
      region: "ap-southeast-4",
      executionId: `${parentId}-${i + 1}`,
    }));
    const outcomes = Object.fromEntries(
      children.map((c, i) => [
        String(i),
        Locations.storedOutcome({ children }, i, {
          status: "FAILED",
          executionId: c.executionId,
          reason: `Boom: ${"x".repeat(2000)}`.slice(0, 500),
        }),
      ]),
    );
    // The item as it stands once every outcome is recorded, in one write: DynamoDB refuses over 400 KB.
    await db().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          pk: `FANOUT#${parentId}`,
          sk: "FANOUT",
          type: "fan-out",
          parentId,
          runbook: "backup-snapshot",
          status: "RUNNING",
          request: { runbook: "backup-snapshot", trigger: { kind: "manual" }, actor: { id: "cli:alice" } },
          concurrency: 50,
          maxErrors: 1000,
          children,
          errors: 1000,
          outcomes,
          createdAt: new Date().toISOString(),
          gsi1pk: "FANOUTS#RUNNING",
          gsi1sk: `${new Date().toISOString()}#${parentId}`,
        },
      }),
    );
    // Settled from the stored item: each location's run is the child's own, read back.
    parents.set(parentId, { status: "FAILED", input: "{}" });
    expect(await Locations.resume(parentId)).toBe(false);
    const out = await Locations.outcome(parentId);
    expect(out?.locations).toHaveLength(1000);
    expect(out?.locations[999]).toMatchObject({ status: "FAILED", executionId: `${parentId}-1000` });
    // The audit entry names the first failures and counts the rest.
    const [entry] = await finishedAudits(parentId);
    expect(entry?.reason).toContain("and 980 more");
    expect(entry?.reason.length).toBeLessThan(10_000);
  });
});

describe("a forged start of a fan-out's location", () => {
  // The children are admitted for real (admit()): alice may run backup-snapshot.
  beforeEach(() =>
    useConfig(
      validateConfig({
        accounts: [{ id: "111111111111", name: "member-1", regions: ["us-east-1", "eu-west-1"] }],
        access: {
          roles: { oncall: ["cli:alice"] },
          allow: [{ role: "oncall", runbooks: ["*"], actions: ["run", "dry-run"] }],
        },
      }),
    ),
  );
  /** Children of the fan-out whose run exists and has not ended. */
  const runningChildren = async (planned: Locations.LocationPlan) => {
    const runs = await Promise.all(planned.children.map((c) => Executions.find(c.executionId)));
    return runs.filter((e) => e && !(Executions.TERMINAL as readonly string[]).includes(e.status)).length;
  };

  it("is refused while the locations the concurrency allows are running: nothing written, no second child", async () => {
    const planned = await running(); // concurrency 1
    // The state machine's own first iteration starts location 0.
    await Locations.step({ action: "start", parentId: planned.parentId, index: 0 });
    expect(await runningChildren(planned)).toBe(1);
    const before = await FanOuts.find(planned.parentId);

    // A direct invoke names location 1 before its turn.
    await expect(
      fanOutHandler({ action: "start", parentId: planned.parentId, index: 1 }, {} as never),
    ).rejects.toMatchObject({ name: "ConflictError" });

    expect(await FanOuts.find(planned.parentId)).toEqual(before);
    expect(await Executions.find(`${planned.parentId}-2`)).toBeUndefined();
    expect(await runningChildren(planned)).toBe(1);
  });

  it("lets the next location start once the running one has ended (its outcome recorded)", async () => {
    const planned = await running();
    await Locations.step({ action: "start", parentId: planned.parentId, index: 0 });
    await Executions.complete(`${planned.parentId}-1`, { status: "SUCCEEDED" });
    await Locations.step({ action: "check", parentId: planned.parentId, index: 0, waitSeconds: 5 });
    await Locations.step({ action: "start", parentId: planned.parentId, index: 1 });
    expect(await Executions.find(`${planned.parentId}-2`)).toBeDefined();
    expect(await runningChildren(planned)).toBe(1);
  });

  it("a burst of starts for every location at once, twice over: never more children running than the concurrency", async () => {
    const wide = validateConfig({
      accounts: [
        { id: "111111111111", name: "member-1", regions: ["us-east-1", "eu-west-1", "us-west-2"] },
        { id: "222222222222", name: "member-2", regions: ["us-east-1", "eu-west-1", "us-west-2"] },
      ],
      access: {
        roles: { oncall: ["cli:alice"] },
        allow: [{ role: "oncall", runbooks: ["*"], actions: ["run", "dry-run"] }],
      },
    });
    useConfig(wide);
    const request = {
      runbook: "backup-snapshot",
      params: { selector: { tag: { Backup: "daily" } } },
      trigger: { kind: "manual" as const },
      actor: { id: "cli:alice" },
    };
    const planned = Locations.plan(
      { ...request, config: wide },
      { accounts: ["*"] },
      { locationConcurrency: 2, locationMaxErrors: 6 },
    );
    await Locations.launch(request, planned);
    expect(planned.children).toHaveLength(6);

    const burst = () =>
      Promise.allSettled(
        planned.children.map((_c, index) =>
          Locations.step({ action: "start", parentId: planned.parentId, index }),
        ),
      );
    const first = await burst();
    const second = await burst();

    expect(first.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    // The two that hold the slots may be asked again (a retry): still the same two, no third.
    expect(second.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    expect(await runningChildren(planned)).toBe(2);
    expect([...((await FanOuts.find(planned.parentId))?.started ?? [])]).toHaveLength(2);
  });

  it("two starts at once for the last slot: one location starts, the other is refused", async () => {
    const planned = await running(); // concurrency 1, nothing running yet
    const results = await Promise.allSettled(
      [0, 1].map((index) => Locations.step({ action: "start", parentId: planned.parentId, index })),
    );
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(results.find((r) => r.status === "rejected")).toMatchObject({
      reason: { name: "ConflictError" },
    });
    expect(await runningChildren(planned)).toBe(1);
  });
});
