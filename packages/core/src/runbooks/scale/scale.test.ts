import {
  AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateSnapshotCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  type Instance,
  type InstanceStateName,
  ModifyInstanceAttributeCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../../test/support/dynamo.ts";
import type { Storage } from "../../../../local/src/storage.ts";
import * as Alarms from "../../state/alarms.ts";
import * as Executions from "../../state/executions.ts";
import { blastRadius, scale } from "./index.ts";
import { type HorizontalParams, scaleParams, type VerticalParams } from "./params.ts";
import { restoreCapacity, restoreInstanceType } from "./rollback.ts";
import {
  type CapacityPlan,
  checkCapacity,
  modifyType,
  planCapacity,
  planResize,
  type ResizePlan,
  type ScaleContext,
  setCapacity,
  snapshotVolumes,
  startInstance,
  stopInstance,
  verifyResize,
} from "./steps.ts";

const asg = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);
let storage: Storage;
const NOW = new Date("2026-11-28T12:00:00Z");
const minutesAgo = (n: number) => new Date(NOW.getTime() - n * 60_000).toISOString();
const ctx = (executionId: string, maxTargets = 20, now = NOW): ScaleContext => ({
  executionId,
  runbook: "scale",
  dryRun: false,
  state: "test",
  now: () => now,
  automationTag: { key: "reflex:managed", value: "true" },
  lockTargets: async (targets: string[]) => ({ held: targets, locked: [] }),
  maxTargets,
  record: (fields) => Executions.setResult(executionId, fields),
  config: {},
});
const execution = (id: string) => ({ id, runbook: "scale", dryRun: false, startedAt: NOW.toISOString() });
const horizontal = (p: Record<string, unknown>) => scaleParams.parse(p) as HorizontalParams;
const vertical = (p: Record<string, unknown>) =>
  scaleParams.parse({ mode: "vertical", instanceId: DB, instanceType: "r5.2xlarge", ...p }) as VerticalParams;

let runs = 0;
/** A fresh execution record, for the steps that report on it. */
async function newRun(): Promise<string> {
  const id = `scale-unit-${++runs}`;
  await Executions.create({
    id,
    runbook: "scale",
    dryRun: false,
    params: {},
    trigger: { kind: "manual", actor: "test" },
  });
  return id;
}

function group(
  opts: {
    desired?: number;
    min?: number;
    max?: number;
    tagged?: boolean;
    members?: Array<[string, string]>;
  } = {},
): AutoScalingGroup {
  const desired = opts.desired ?? 6;
  return {
    AutoScalingGroupName: "web",
    MinSize: opts.min ?? 2,
    MaxSize: opts.max ?? 12,
    DesiredCapacity: desired,
    DefaultCooldown: 300,
    AvailabilityZones: ["us-east-1a"],
    HealthCheckType: "EC2",
    CreatedTime: NOW,
    Instances: (
      opts.members ?? Array.from({ length: desired }, () => ["InService", "Healthy"] as [string, string])
    ).map(([LifecycleState, HealthStatus], i) => ({
      InstanceId: `i-00000000000000${String(i).padStart(3, "0")}`,
      AvailabilityZone: "us-east-1a",
      LifecycleState: LifecycleState as never,
      HealthStatus,
      ProtectedFromScaleIn: false,
    })),
    Tags:
      opts.tagged === false
        ? []
        : [{ Key: "reflex:managed", Value: "true", ResourceId: "web", ResourceType: "auto-scaling-group" }],
  };
}
const describesGroup = (g: AutoScalingGroup) =>
  asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [g] });

const plan = (p: Partial<CapacityPlan> = {}): CapacityPlan => ({
  mode: "horizontal",
  region: "us-east-1",
  autoScalingGroup: "web",
  change: "+2",
  previous: { desired: 6, min: 2, max: 12, inService: 6, live: 6 },
  requested: 8,
  target: 8,
  delta: 2,
  limits: [],
  maxStep: 10,
  cap: 20,
  ...p,
});

beforeAll(async () => {
  storage = await startTestDynamo();
});
afterAll(async () => storage.close());
beforeEach(() => {
  asg.reset();
  ec2.reset();
});

describe("params", () => {
  it("defaults to horizontal mode, maxStep 10, requireOkFor 10m", () => {
    expect(scaleParams.parse({ autoScalingGroup: "web", change: "+2" })).toEqual({
      mode: "horizontal",
      autoScalingGroup: "web",
      change: "+2",
      maxStep: 10,
      requireOkFor: "10m",
      timeout: "10m",
    });
  });

  it("rejects a change that is not +N, -N, =N or ±N%, saying what it must be", () => {
    for (const change of ["2", "+2.5", "=50%", "*2", "+", "+0"]) {
      const out = scaleParams.safeParse({ autoScalingGroup: "web", change });
      expect(out.success, change).toBe(false);
      expect(out.error?.issues[0]).toMatchObject({
        path: ["change"],
        message: expect.stringContaining('e.g. "+2", "-1", "=6", "+50%"'),
      });
    }
  });

  it("rejects a param of the other mode and an unknown mode", () => {
    expect(
      scaleParams.safeParse({ autoScalingGroup: "web", change: "+1", instanceType: "t3.large" }).success,
    ).toBe(false);
    expect(
      scaleParams.safeParse({ mode: "diagonal", autoScalingGroup: "web", change: "+1" }).error?.issues[0]
        .message,
    ).toBe("mode must be 'horizontal' (the default) or 'vertical'");
  });

  it("locks the group or the instance it acts on", () => {
    expect(scale.locks?.(horizontal({ autoScalingGroup: "web", change: "+1" }))).toEqual(["asg:web"]);
    expect(scale.locks?.(vertical({}))).toEqual([`instance:${DB}`]);
  });
});

describe("blastRadius", () => {
  it("is |N| for ±N, at most maxStep; 1 for a resize; unknown for =N and percentages", () => {
    expect(blastRadius(horizontal({ autoScalingGroup: "web", change: "+2" }))).toBe(2);
    expect(blastRadius(horizontal({ autoScalingGroup: "web", change: "-3" }))).toBe(3);
    expect(blastRadius(horizontal({ autoScalingGroup: "web", change: "+40", maxStep: 5 }))).toBe(5);
    expect(blastRadius(horizontal({ autoScalingGroup: "web", change: "=9" }))).toBeUndefined();
    expect(blastRadius(horizontal({ autoScalingGroup: "web", change: "+50%" }))).toBeUndefined();
    expect(blastRadius(vertical({}))).toBe(1);
    expect(scale.blastRadius).toBe(blastRadius);
  });
});

describe("planCapacity", () => {
  const planFor = async (
    change: string,
    g: AutoScalingGroup,
    extra: Record<string, unknown> = {},
    maxTargets = 20,
  ) => {
    const id = await newRun();
    describesGroup(g);
    const out = await planCapacity(
      { execution: execution(id), params: horizontal({ autoScalingGroup: "web", change, ...extra }) },
      ctx(id, maxTargets),
    );
    return { id, out };
  };

  it("plans +2 on a group of 6 and records the previous capacity on the run", async () => {
    const { id, out } = await planFor("+2", group());

    expect(asg.commandCalls(DescribeAutoScalingGroupsCommand)[0].args[0].input).toEqual({
      AutoScalingGroupNames: ["web"],
    });
    expect(out).toMatchObject({ previous: { desired: 6 }, requested: 8, target: 8, delta: 2, limits: [] });
    expect(out.skipped).toBeUndefined();
    const result = (await Executions.get(id)).result;
    expect(result).toMatchObject({
      previousCapacity: 6,
      plan: { target: 8 },
      summary: "planned: web: desired capacity 6 → 8",
    });
    expect(asg.commandCalls(SetDesiredCapacityCommand)).toHaveLength(0);
  });

  it("clamps to the group's max size", async () => {
    const { out } = await planFor("+5", group({ desired: 10, max: 12 }));
    expect(out).toMatchObject({ requested: 15, target: 12, limits: ["clamped to the group's max size 12"] });
  });

  it("clamps to the group's min size", async () => {
    const { out } = await planFor("-5", group({ desired: 4, min: 2 }));
    expect(out).toMatchObject({ requested: -1, target: 2, limits: ["clamped to the group's min size 2"] });
  });

  it("clamps to maxStep, and to the cap when the cap is lower", async () => {
    expect((await planFor("+8", group(), { maxStep: 3 })).out).toMatchObject({
      target: 9,
      limits: ["clamped to maxStep: at most 3 instance(s) per run"],
    });
    expect((await planFor("+8", group(), {}, 2)).out).toMatchObject({
      target: 8,
      cap: 2,
      limits: ["clamped to the blast-radius cap: at most 2 instance(s) per run"],
    });
  });

  it("reads +50% of 6 as +3, -10% of 6 as -1 (never less than one), and =4 as 4", async () => {
    expect((await planFor("+50%", group())).out).toMatchObject({ target: 9, delta: 3 });
    expect((await planFor("-10%", group())).out).toMatchObject({ target: 5, delta: -1 });
    expect((await planFor("=4", group())).out).toMatchObject({ target: 4, delta: -2 });
  });

  it("refuses a group that does not carry the automation tag", async () => {
    await expect(planFor("+2", group({ tagged: false }))).rejects.toMatchObject({
      code: "NotManaged",
      message: expect.stringContaining("does not carry the automation tag reflex:managed=true"),
    });
  });

  it("fails with GroupNotFound when the group does not exist", async () => {
    const id = await newRun();
    asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    await expect(
      planCapacity(
        { execution: execution(id), params: horizontal({ autoScalingGroup: "nope", change: "+1" }) },
        ctx(id),
      ),
    ).rejects.toMatchObject({ code: "GroupNotFound" });
  });

  it("skips, saying why, when the limits leave nothing to change", async () => {
    const { id, out } = await planFor("+2", group({ desired: 12, max: 12 }));
    expect(out.skipped).toBe(
      "nothing to change: +2 on desired capacity 12 is held there (clamped to the group's max size 12)",
    );
    expect((await Executions.get(id)).result?.skipped).toBe(out.skipped);
  });

  describe("the scale-in rule", () => {
    it("skips a scale-in while the alarm has been OK for less than requireOkFor", async () => {
      await Alarms.record({ alarmName: "unit-ok-3m", state: "OK", since: minutesAgo(3) });
      const { out } = await planFor("-2", group(), { alarmName: "unit-ok-3m", requireOkFor: "10m" });
      expect(out.target).toBe(4);
      expect(out.skipped).toBe(
        `scale-in skipped: scale-in needs alarm 'unit-ok-3m' OK for 10m; it has been OK for only 3m (since ${minutesAgo(3)})`,
      );
    });

    it("skips a scale-in while the alarm is in ALARM, or was never seen", async () => {
      await Alarms.record({ alarmName: "unit-alarm", state: "ALARM", since: minutesAgo(60) });
      expect((await planFor("-1", group(), { alarmName: "unit-alarm" })).out.skipped).toContain(
        "it is ALARM",
      );
      expect((await planFor("-1", group(), { alarmName: "unit-never-seen" })).out.skipped).toContain(
        "Reflex has never seen that alarm change state",
      );
    });

    it("lets a scale-in go once the alarm has been OK for requireOkFor", async () => {
      await Alarms.record({ alarmName: "unit-ok-15m", state: "OK", since: minutesAgo(15) });
      const { out } = await planFor("-2", group(), { alarmName: "unit-ok-15m", requireOkFor: "10m" });
      expect(out).toMatchObject({
        target: 4,
        scaleIn: "alarm 'unit-ok-15m' has been OK for 15m (at least 10m)",
      });
      expect(out.skipped).toBeUndefined();
    });

    it("does not gate a scale-out on the alarm", async () => {
      const { out } = await planFor("+1", group(), { alarmName: "unit-never-seen" });
      expect(out.skipped).toBeUndefined();
    });
  });
});

describe("setCapacity", () => {
  it("sets the planned desired capacity, ignoring cooldowns", async () => {
    const id = await newRun();
    describesGroup(group({ desired: 6 }));
    asg.on(SetDesiredCapacityCommand).resolves({});

    const out = await setCapacity(
      {
        execution: execution(id),
        params: horizontal({ autoScalingGroup: "web", change: "+2" }),
        plan: plan(),
      },
      ctx(id),
    );

    expect(asg.commandCalls(SetDesiredCapacityCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: "web", DesiredCapacity: 8, HonorCooldown: false },
    ]);
    expect(out).toEqual({ changed: true, from: 6, to: 8, at: NOW.toISOString() });
  });

  it("makes no call when the desired capacity already is the target (a retried step)", async () => {
    const id = await newRun();
    describesGroup(group({ desired: 8 }));

    const out = await setCapacity(
      {
        execution: execution(id),
        params: horizontal({ autoScalingGroup: "web", change: "+2" }),
        plan: plan(),
      },
      ctx(id),
    );

    expect(asg.commandCalls(SetDesiredCapacityCommand)).toHaveLength(0);
    expect(out.changed).toBe(false);
  });

  it("refuses to override a capacity someone else set after the plan", async () => {
    const id = await newRun();
    describesGroup(group({ desired: 7 }));
    await expect(
      setCapacity(
        {
          execution: execution(id),
          params: horizontal({ autoScalingGroup: "web", change: "+2" }),
          plan: plan(),
        },
        ctx(id),
      ),
    ).rejects.toMatchObject({ code: "CapacityChanged" });
    expect(asg.commandCalls(SetDesiredCapacityCommand)).toHaveLength(0);
  });
});

describe("checkCapacity", () => {
  const params = horizontal({ autoScalingGroup: "web", change: "+2", timeout: "5m" });
  const applied = { changed: true, from: 6, to: 8, at: minutesAgo(1) };

  it("keeps waiting while new instances are Pending", async () => {
    const id = await newRun();
    describesGroup(
      group({
        desired: 8,
        members: [...Array(6).fill(["InService", "Healthy"]), ["Pending", "Healthy"], ["Pending", "Healthy"]],
      }),
    );
    const out = await checkCapacity({ execution: execution(id), params, plan: plan(), applied }, ctx(id));
    expect(out).toMatchObject({ done: false, inService: 6, live: 8, target: 8 });
  });

  it("is done when the target is InService and healthy", async () => {
    const id = await newRun();
    describesGroup(group({ desired: 8 }));
    const out = await checkCapacity({ execution: execution(id), params, plan: plan(), applied }, ctx(id));
    expect(out).toMatchObject({ done: true, inService: 8 });
    expect((await Executions.get(id)).result?.summary).toBe("web: desired capacity 6 → 8, 8 InService");
  });

  it("waits for terminating members to leave after a scale-in", async () => {
    const id = await newRun();
    describesGroup(
      group({
        desired: 4,
        members: [...Array(4).fill(["InService", "Healthy"]), ["Terminating", "Healthy"]],
      }),
    );
    const out = await checkCapacity(
      { execution: execution(id), params, plan: plan({ target: 4, delta: -2 }), applied },
      ctx(id),
    );
    expect(out).toMatchObject({ done: true, live: 4 });
  });

  it("fails with CapacityTimeout once the timeout has passed", async () => {
    const id = await newRun();
    describesGroup(
      group({ desired: 8, members: [...Array(7).fill(["InService", "Healthy"]), ["Pending", "Healthy"]] }),
    );
    await expect(
      checkCapacity(
        { execution: execution(id), params, plan: plan(), applied: { ...applied, at: minutesAgo(6) } },
        ctx(id),
      ),
    ).rejects.toMatchObject({
      code: "CapacityTimeout",
      message: "'web' has 7 of 8 instance(s) InService after 6m (timeout 5m)",
    });
  });
});

describe("restoreCapacity (rollback)", () => {
  const params = horizontal({ autoScalingGroup: "web", change: "+2" });

  it("restores the previous desired capacity when this run's change is in place", async () => {
    const id = await newRun();
    describesGroup(group({ desired: 8 }));
    asg.on(SetDesiredCapacityCommand).resolves({});

    const out = await restoreCapacity(
      { execution: execution(id), params, plan: plan(), failure: { Error: "CapacityTimeout" } },
      ctx(id),
    );

    expect(asg.commandCalls(SetDesiredCapacityCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: "web", DesiredCapacity: 6, HonorCooldown: false },
    ]);
    expect(out).toMatchObject({ restored: true, found: 8, desired: 6 });
    expect((await Executions.get(id)).result?.rollback).toMatchObject({
      restored: true,
      failure: { Error: "CapacityTimeout" },
    });
  });

  it("makes no call when the change never landed", async () => {
    const id = await newRun();
    describesGroup(group({ desired: 6 }));
    const out = await restoreCapacity({ execution: execution(id), params, plan: plan() }, ctx(id));
    expect(asg.commandCalls(SetDesiredCapacityCommand)).toHaveLength(0);
    expect(out.restored).toBe(false);
  });

  it("leaves a capacity someone else set alone", async () => {
    const id = await newRun();
    describesGroup(group({ desired: 10 }));
    const out = await restoreCapacity({ execution: execution(id), params, plan: plan() }, ctx(id));
    expect(asg.commandCalls(SetDesiredCapacityCommand)).toHaveLength(0);
    expect(out.reason).toContain("someone else changed it");
  });
});

// ---- vertical ----------------------------------------------------------------------------

const DB = "i-0db0000000000001a";

function dbInstance(
  over: { type?: string; state?: InstanceStateName; tags?: Record<string, string> } = {},
): Instance {
  const tags = over.tags ?? { Name: "db-1", "reflex:managed": "true" };
  return {
    InstanceId: DB,
    InstanceType: (over.type ?? "r5.xlarge") as Instance["InstanceType"],
    State: { Name: over.state ?? "running" },
    Architecture: "x86_64",
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    BlockDeviceMappings: [
      { DeviceName: "/dev/xvda", Ebs: { VolumeId: "vol-root" } },
      { DeviceName: "/dev/xvdb", Ebs: { VolumeId: "vol-data" } },
    ],
  };
}

/** An instance whose state the EC2 mock keeps, so steps can be run in sequence against it. */
function fakeInstance(start: { type: string; state: InstanceStateName }) {
  const live = { ...start };
  const change = (name: InstanceStateName) => [{ InstanceId: DB, CurrentState: { Name: name } }];
  ec2.on(DescribeInstancesCommand).callsFake(() => ({ Reservations: [{ Instances: [dbInstance(live)] }] }));
  ec2.on(StopInstancesCommand).callsFake(() => {
    live.state = "stopped"; // seen as stopped by the next describe
    return { StoppingInstances: change("stopping") };
  });
  ec2.on(StartInstancesCommand).callsFake(() => {
    live.state = "running";
    return { StartingInstances: change("pending") };
  });
  ec2.on(ModifyInstanceAttributeCommand).callsFake((input) => {
    if (live.state !== "stopped")
      throw Object.assign(new Error("not stopped"), { name: "IncorrectInstanceState" });
    live.type = input.InstanceType.Value;
    return {};
  });
  return live;
}

const MUTATING = [
  "StopInstancesCommand",
  "ModifyInstanceAttributeCommand",
  "StartInstancesCommand",
  "CreateSnapshotCommand",
];
const mutatingCalls = () =>
  ec2
    .calls()
    .map((c) => {
      const command = c.args[0] as {
        constructor: { name: string };
        input: { InstanceType?: { Value?: string } };
      };
      const name = command.constructor.name;
      return name === "ModifyInstanceAttributeCommand"
        ? `${name} ${command.input.InstanceType?.Value}`
        : name;
    })
    .filter((n) => MUTATING.some((m) => n.startsWith(m)));

const resizePlan = (p: Partial<ResizePlan> = {}): ResizePlan => ({
  mode: "vertical",
  region: "us-east-1",
  instanceId: DB,
  name: "db-1",
  from: "r5.xlarge",
  to: "r5.2xlarge",
  state: "running",
  volumes: [
    { volumeId: "vol-root", device: "/dev/xvda" },
    { volumeId: "vol-data", device: "/dev/xvdb" },
  ],
  snapshotFirst: true,
  actions: [],
  ...p,
});

describe("planResize", () => {
  const types = () =>
    ec2.on(DescribeInstanceTypesCommand).resolves({
      InstanceTypes: [
        { InstanceType: "r5.2xlarge", VCpuInfo: { DefaultVCpus: 8 }, MemoryInfo: { SizeInMiB: 65536 } },
        { InstanceType: "r5.xlarge", VCpuInfo: { DefaultVCpus: 4 }, MemoryInfo: { SizeInMiB: 32768 } },
      ],
    });

  it("records the old type and state, and checks the target type exists", async () => {
    const id = await newRun();
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [dbInstance()] }] });
    types();

    const out = await planResize({ execution: execution(id), params: vertical({}) }, ctx(id));

    expect(ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input).toEqual({ InstanceIds: [DB] });
    expect(ec2.commandCalls(DescribeInstanceTypesCommand)[0].args[0].input).toEqual({
      InstanceTypes: ["r5.2xlarge", "r5.xlarge"],
    });
    expect(out).toMatchObject({
      from: "r5.xlarge",
      to: "r5.2xlarge",
      state: "running",
      toSpec: { vcpus: 8, memoryMiB: 65536 },
    });
    expect(out.actions).toEqual([
      "snapshot 2 EBS volume(s)",
      "stop the instance",
      "change its type r5.xlarge → r5.2xlarge",
      "start it and check it runs as the new type",
    ]);
    expect((await Executions.get(id)).result).toMatchObject({
      previous: { instanceType: "r5.xlarge", state: "running" },
    });
    expect(mutatingCalls()).toEqual([]);
  });

  it("refuses the type the instance already has", async () => {
    const id = await newRun();
    ec2
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [dbInstance({ type: "r5.2xlarge" })] }] });
    await expect(
      planResize({ execution: execution(id), params: vertical({}) }, ctx(id)),
    ).rejects.toMatchObject({
      code: "SameInstanceType",
    });
  });

  it("refuses an instance without the automation tag, and one in an Auto Scaling group", async () => {
    const id = await newRun();
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [dbInstance({ tags: { Name: "batch-1" } })] }] })
      .resolvesOnce({
        Reservations: [
          {
            Instances: [
              dbInstance({ tags: { "reflex:managed": "true", "aws:autoscaling:groupName": "web" } }),
            ],
          },
        ],
      });
    await expect(
      planResize({ execution: execution(id), params: vertical({}) }, ctx(id)),
    ).rejects.toMatchObject({ code: "NotManaged" });
    await expect(
      planResize({ execution: execution(id), params: vertical({}) }, ctx(id)),
    ).rejects.toMatchObject({
      code: "InAutoScalingGroup",
    });
  });

  it("refuses a type EC2 does not know", async () => {
    const id = await newRun();
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [dbInstance()] }] });
    const unknown = new Error("The following supplied instance types do not exist: [r5.9xlarge]");
    unknown.name = "InvalidInstanceType";
    ec2.on(DescribeInstanceTypesCommand).rejects(unknown);
    await expect(
      planResize({ execution: execution(id), params: vertical({ instanceType: "r5.9xlarge" }) }, ctx(id)),
    ).rejects.toMatchObject({ code: "UnknownInstanceType", message: expect.stringContaining("r5.9xlarge") });
  });
});

describe("the resize sequence", () => {
  it("stops, changes the type, starts, in that order, and verifies", async () => {
    const id = await newRun();
    const live = fakeInstance({ type: "r5.xlarge", state: "running" });
    const base = {
      execution: execution(id),
      params: vertical({ snapshotFirst: false }),
      plan: resizePlan({ snapshotFirst: false }),
    };

    // As the state machine runs them: each wait loop until done.
    let stop = await stopInstance(base, ctx(id));
    expect(stop).toMatchObject({ done: false, state: "stopping", action: "StopInstances" });
    stop = await stopInstance({ ...base, stop }, ctx(id));
    expect(stop).toMatchObject({ done: true, state: "stopped" });
    await modifyType(base, ctx(id));
    let start = await startInstance(base, ctx(id));
    expect(start).toMatchObject({ done: false, state: "pending" });
    start = await startInstance({ ...base, start }, ctx(id));
    expect(start.done).toBe(true);
    const verified = await verifyResize(base, ctx(id));

    expect(mutatingCalls()).toEqual([
      "StopInstancesCommand",
      "ModifyInstanceAttributeCommand r5.2xlarge",
      "StartInstancesCommand",
    ]);
    expect(ec2.commandCalls(ModifyInstanceAttributeCommand)[0].args[0].input).toEqual({
      InstanceId: DB,
      InstanceType: { Value: "r5.2xlarge" },
    });
    expect(verified).toEqual({ instanceType: "r5.2xlarge", state: "running" });
    expect(live).toEqual({ type: "r5.2xlarge", state: "running" });
    expect((await Executions.get(id)).result?.summary).toBe(
      `db-1 (${DB}) resized r5.xlarge → r5.2xlarge; running`,
    );
  });

  it("repeats safely: no second stop, modify or start when each is already done", async () => {
    const id = await newRun();
    fakeInstance({ type: "r5.2xlarge", state: "running" });
    const base = { execution: execution(id), params: vertical({}), plan: resizePlan() };

    expect(await modifyType(base, ctx(id))).toMatchObject({ changed: false });
    expect(await startInstance(base, ctx(id))).toMatchObject({ done: true });
    expect(mutatingCalls()).toEqual([]);
  });

  it("leaves an instance that was stopped before the run stopped", async () => {
    const id = await newRun();
    fakeInstance({ type: "r5.xlarge", state: "stopped" });
    const base = { execution: execution(id), params: vertical({}), plan: resizePlan({ state: "stopped" }) };

    expect(await stopInstance(base, ctx(id))).toMatchObject({ done: true });
    await modifyType(base, ctx(id));
    expect(await startInstance(base, ctx(id))).toMatchObject({ done: true, state: "stopped" });
    expect(await verifyResize(base, ctx(id))).toEqual({ instanceType: "r5.2xlarge", state: "stopped" });
    expect(mutatingCalls()).toEqual(["ModifyInstanceAttributeCommand r5.2xlarge"]);
  });

  it("refuses to change the type of a running instance", async () => {
    const id = await newRun();
    fakeInstance({ type: "r5.xlarge", state: "running" });
    await expect(
      modifyType({ execution: execution(id), params: vertical({}), plan: resizePlan() }, ctx(id)),
    ).rejects.toMatchObject({ code: "IncorrectInstanceState" });
    expect(mutatingCalls()).toEqual([]);
  });

  it("fails with StopTimeout when the instance does not stop in time", async () => {
    const id = await newRun();
    ec2
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [dbInstance({ state: "stopping" })] }] });
    const base = { execution: execution(id), params: vertical({ timeout: "5m" }), plan: resizePlan() };
    await expect(
      stopInstance({ ...base, stop: { done: false, state: "stopping", since: minutesAgo(6) } }, ctx(id)),
    ).rejects.toMatchObject({ code: "StopTimeout" });
  });
});

describe("snapshotVolumes", () => {
  it("snapshots each volume, tagged with the automation tag and the execution, once", async () => {
    const id = await newRun();
    ec2
      .on(DescribeSnapshotsCommand)
      .resolves({ Snapshots: [{ SnapshotId: "snap-earlier", VolumeId: "vol-root" }] });
    ec2.on(CreateSnapshotCommand).resolves({ SnapshotId: "snap-new" });

    const out = await snapshotVolumes(
      { execution: execution(id), params: vertical({}), plan: resizePlan() },
      ctx(id),
    );

    expect(ec2.commandCalls(DescribeSnapshotsCommand)[0].args[0].input.Filters).toEqual([
      { Name: "tag:reflex:execution-id", Values: [id] },
      { Name: "tag:reflex:source-instance", Values: [DB] },
    ]);
    const created = ec2.commandCalls(CreateSnapshotCommand).map((c) => c.args[0].input);
    expect(created.map((c) => c.VolumeId)).toEqual(["vol-data"]); // vol-root was snapshotted by an earlier try
    expect(created[0].TagSpecifications).toEqual([
      {
        ResourceType: "snapshot",
        Tags: [
          { Key: "Name", Value: "reflex-resize-db-1-vol-data" },
          { Key: "reflex:managed", Value: "true" },
          { Key: "reflex:runbook", Value: "scale" },
          { Key: "reflex:execution-id", Value: id },
          { Key: "reflex:source-instance", Value: DB },
          { Key: "reflex:source-volume", Value: "vol-data" },
        ],
      },
    ]);
    expect(out.snapshots).toEqual([
      { snapshotId: "snap-earlier", volumeId: "vol-root" },
      { snapshotId: "snap-new", volumeId: "vol-data" },
    ]);
  });
});

describe("restoreInstanceType (rollback)", () => {
  /** Runs rollback rounds as the state machine's loop would, until done. */
  async function rollBack(id: string, plan = resizePlan()) {
    const base = { execution: execution(id), params: vertical({}), plan, failure: { Error: "Unsupported" } };
    let round = await restoreInstanceType(base, ctx(id));
    for (let i = 0; !round.done && i < 5; i++)
      round = await restoreInstanceType({ ...base, rollback: round }, ctx(id));
    return round;
  }

  it("stops an instance running as the new type, sets the old type, and starts it", async () => {
    const id = await newRun();
    const live = fakeInstance({ type: "r5.2xlarge", state: "running" });

    const out = await rollBack(id);

    expect(mutatingCalls()).toEqual([
      "StopInstancesCommand",
      "ModifyInstanceAttributeCommand r5.xlarge",
      "StartInstancesCommand",
    ]);
    expect(live).toEqual({ type: "r5.xlarge", state: "running" });
    expect(out).toMatchObject({
      done: true,
      actions: ["StopInstances", "ModifyInstanceAttribute r5.2xlarge → r5.xlarge", "StartInstances"],
    });
    expect((await Executions.get(id)).result?.rollback).toMatchObject({
      restored: true,
      instanceType: "r5.xlarge",
      failure: { Error: "Unsupported" },
    });
  });

  it("only starts an instance left stopped with its old type (the modify failed)", async () => {
    const id = await newRun();
    const live = fakeInstance({ type: "r5.xlarge", state: "stopped" });
    await rollBack(id);
    expect(mutatingCalls()).toEqual(["StartInstancesCommand"]);
    expect(live).toEqual({ type: "r5.xlarge", state: "running" });
  });

  it("does nothing when the instance is already as it was", async () => {
    const id = await newRun();
    fakeInstance({ type: "r5.xlarge", state: "running" });
    expect(await rollBack(id)).toMatchObject({ done: true, actions: [] });
    expect(mutatingCalls()).toEqual([]);
  });
});
