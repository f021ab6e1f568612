/**
 * patch's target steps against the SDK's own answers (aws-sdk-client-mock) and the embedded
 * DynamoDB: the errors are the exception classes the SDK builds from AWS's responses, and what
 * a step records before it changes an instance is read back from the table.
 */
import { CreateSnapshotCommand, DescribeSnapshotsCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  DeregisterTargetsCommand,
  ElasticLoadBalancingV2Client,
  InvalidTargetException,
  RegisterTargetsCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../../test/support/dynamo.ts";
import type { Storage } from "../../../../local/src/storage.ts";
import { isAwsError } from "../../aws-errors.ts";
import * as Changes from "../../state/patch-changes.ts";
import * as Results from "../../state/patch-results.ts";
import type { StepContext } from "../define.ts";
import { inspectLostPatch } from "./lost.ts";
import { patchParams } from "./params.ts";
import { finishTarget } from "./rollback.ts";
import { prepareTarget, type TargetInput } from "./steps.ts";

const elb = mockClient(ElasticLoadBalancingV2Client);
const ec2 = mockClient(EC2Client);
let storage: Storage;
const NOW = new Date("2026-11-28T12:00:00Z");
const ID = "i-0123456789abcdef0";
const TG = (name: string) =>
  `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${name}/0000000000000001`;

let runs = 0;
const ctx = (): StepContext => ({
  executionId: `patch-unit-${++runs}`,
  runbook: "patch",
  dryRun: false,
  state: "test",
  now: () => NOW,
  automationTag: { key: "reflex:managed", value: "true" },
  lockTargets: async (targets) => ({ held: targets, locked: [] }),
  record: async () => {},
  config: {},
});

const input = (c: StepContext, extra: Partial<TargetInput> = {}): TargetInput => ({
  execution: { id: c.executionId, runbook: "patch", dryRun: false, startedAt: NOW.toISOString() },
  params: patchParams.parse({ selector: { instanceIds: [ID] } }),
  region: "us-east-1",
  limits: { maxErrors: 0, total: 1 },
  instanceId: ID,
  target: {
    instanceId: ID,
    start: true,
    name: "web-1",
    rootVolumeId: "vol-0123456789abcdef0",
    targetGroups: [TG("a"), TG("b")],
    startedAt: NOW.toISOString(),
  },
  ...extra,
});

/** The exception the SDK's query-protocol deserializer builds from AWS's `InvalidTarget` answer. */
const invalidTarget = () =>
  Object.assign(
    new InvalidTargetException({
      message: `The following targets are not registered in target group: '${ID}'`,
      $metadata: { httpStatusCode: 400 },
    }),
    { Code: "InvalidTarget", Type: "Sender" },
  );

beforeAll(async () => {
  storage = await startTestDynamo();
});
afterAll(async () => storage?.close());
beforeEach(() => {
  elb.reset();
  ec2.reset();
  ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
  ec2.on(CreateSnapshotCommand).resolves({ SnapshotId: "snap-0123456789abcdef0" });
});

describe("AWS error codes", () => {
  it("match the SDK's modelled exception by its wire code and by its class name, nothing else", () => {
    expect(isAwsError(invalidTarget(), "InvalidTarget")).toBe(true);
    expect(isAwsError(new InvalidTargetException({ message: "x", $metadata: {} }), "InvalidTarget")).toBe(
      true,
    );
    expect(isAwsError(Object.assign(new Error("x"), { name: "InvalidTarget" }), "InvalidTarget")).toBe(true);
    expect(isAwsError(invalidTarget(), "TargetGroupNotFound")).toBe(false);
    expect(isAwsError(new Error("InvalidTarget"), "InvalidTarget")).toBe(false);
    expect(isAwsError(undefined, "InvalidTarget")).toBe(false);
  });
});

describe("prepareTarget", () => {
  it("treats the SDK's InvalidTargetException from DeregisterTargets as already out, not a failure", async () => {
    const c = ctx();
    elb.on(DeregisterTargetsCommand, { TargetGroupArn: TG("a") }).rejects(invalidTarget());
    elb.on(DeregisterTargetsCommand, { TargetGroupArn: TG("b") }).resolves({});

    const prep = await prepareTarget(input(c), c);

    expect(prep).toMatchObject({ snapshotId: "snap-0123456789abcdef0", deregistered: [TG("a"), TG("b")] });
    expect(elb.commandCalls(DeregisterTargetsCommand)).toHaveLength(2);
  });

  it("records every target group it takes the instance out of before the first DeregisterTargets", async () => {
    const c = ctx();
    let recordedAtFirstCall: string[] | undefined;
    elb.on(DeregisterTargetsCommand).callsFake(async () => {
      recordedAtFirstCall ??= (await Changes.get(c.executionId, ID))?.targetGroups;
      return {};
    });

    await prepareTarget(input(c), c);

    expect(recordedAtFirstCall).toEqual([TG("a"), TG("b")]);
    expect(await Changes.unrestored(ID)).toContainEqual(
      expect.objectContaining({ executionId: c.executionId, targetGroups: [TG("a"), TG("b")] }),
    );
  });
});

describe("finishTarget", () => {
  it("puts an instance back in a group it was taken out of when the step that took it out failed part-way", async () => {
    const c = ctx();
    // Out of a, then b's DeregisterTargets fails for good: prepareTarget fails, so there is no `prep`.
    elb.on(DeregisterTargetsCommand, { TargetGroupArn: TG("a") }).resolves({});
    elb
      .on(DeregisterTargetsCommand, { TargetGroupArn: TG("b") })
      .rejects(Object.assign(new Error("denied"), { name: "AccessDenied", $fault: "client" }));
    await expect(prepareTarget(input(c), c)).rejects.toThrow("denied");
    elb.on(RegisterTargetsCommand).resolves({});

    const out = await finishTarget(
      input(c, {
        error: { Error: "AccessDenied", Cause: "denied" },
        rollback: { skipped: "the patch command was never sent" },
      }),
      c,
    );

    const registered = elb
      .commandCalls(RegisterTargetsCommand)
      .map((call) => call.args[0].input.TargetGroupArn);
    expect(registered).toContain(TG("a"));
    expect(out.status).toBe("failed");
    const [result] = await Results.list(c.executionId);
    expect(result.targetGroups).toEqual([TG("a"), TG("b")]);
    expect(result.reason).not.toContain("nothing on the instance changed");
    expect((await Changes.get(c.executionId, ID))?.restoredAt).toBe(NOW.toISOString());
    expect((await Changes.unrestored(ID)).map((x) => x.executionId)).not.toContain(c.executionId);
  });

  it("keeps an instance it could not put back listed as out, and says so in the target's result", async () => {
    const c = ctx();
    elb.on(DeregisterTargetsCommand).resolves({});
    const prep = await prepareTarget(input(c), c);
    elb.on(RegisterTargetsCommand, { TargetGroupArn: TG("b") }).rejects(new Error("b is gone"));
    elb.on(RegisterTargetsCommand, { TargetGroupArn: TG("a") }).resolves({});

    const out = await finishTarget(
      input(c, { prep, error: { Error: "SnapshotFailed" }, rollback: { skipped: "x" } }),
      c,
    );

    expect(out.status).toBe("failed");
    const [result] = await Results.list(c.executionId);
    expect(result.reason).toContain("still out of 1 target group(s)");
    expect((await Changes.unrestored(ID)).map((x) => x.executionId)).toContain(c.executionId);
  });
});

describe("a lost patch run's report", () => {
  it("names each instance with what is still undone, and leaves out the ones put back and finished", async () => {
    const c = ctx();
    const at = (s: number) => new Date(NOW.getTime() + s * 1000);
    const [out, rebooted, replacing, done] = [
      "i-00000000000000001",
      "i-00000000000000002",
      "i-00000000000000003",
      "i-00000000000000004",
    ];
    for (const id of [out, rebooted, replacing, done])
      await Changes.recordOut(c.executionId, "us-east-1", id, [TG("web")], at(0));
    await Changes.recordChange(c.executionId, out, "command", { at: at(1).toISOString() }, at(1));
    await Changes.recordChange(c.executionId, rebooted, "reboot", { at: at(2).toISOString() }, at(2));
    await Changes.recordChange(
      c.executionId,
      replacing,
      "rootVolume",
      { at: at(3).toISOString(), snapshotId: "snap-1" },
      at(3),
    );
    await Changes.markRestored(c.executionId, done, at(4));
    await Results.put(c.executionId, { instanceId: done, status: "patched", endedAt: at(4).toISOString() });

    const report = await inspectLostPatch({ id: c.executionId });

    expect(report.instances.map((i) => i.instanceId).sort()).toEqual([out, rebooted, replacing]);
    const undone = Object.fromEntries(report.instances.map((i) => [i.instanceId, i.undone.join("; ")]));
    for (const id of [out, rebooted, replacing]) expect(undone[id]).toContain("out of target group(s) web");
    expect(undone[out]).toContain("patch command sent");
    expect(undone[rebooted]).toContain("rebooted at");
    expect(undone[replacing]).toContain("root-volume replacement from snap-1");
  });
});
