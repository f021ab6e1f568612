/**
 * scale-service through the test kit: one local mode and one seeded simulated account for the
 * file (each test acts on its own service, table or alias), runs started through `admit()`.
 * Per target kind: a dry-run with no mutating call, a run verified at its end, and a failure
 * mid-run that ends rolled back; then the bad input the plan refuses, with no mutating call.
 */
import {
  addEcsService,
  addLambdaFunction,
  addScalableTarget,
  failNextProvisioning,
  failNextRollouts,
  setContainerSettings,
} from "@reflex/local/cloud/containers-helpers";
import {
  callsOutsidePermissions,
  mutatingCalls,
  openSimulation,
  type SimulationSession,
  unfinishedTargets,
} from "@reflex/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { params, scaleService } from "./index.ts";

const MANAGED = { "reflex:managed": "true" };
let s: SimulationSession;

beforeAll(async () => {
  s = await openSimulation(scaleService, {
    setup: (cloud) => {
      // Rollouts and provisioning end in tens of milliseconds here (seconds by default).
      setContainerSettings(cloud, { ecsRolloutMs: 40, lambdaReadyMs: 40 });
      addEcsService(cloud, { cluster: "prod", name: "batch", desiredCount: 2, tags: MANAGED });
      addScalableTarget(cloud, {
        namespace: "ecs",
        resourceId: "service/prod/batch",
        dimension: "ecs:service:DesiredCount",
        min: 1,
        max: 5,
        tags: MANAGED,
      });
      addEcsService(cloud, { cluster: "prod", name: "clamp", desiredCount: 3, tags: MANAGED });
      addScalableTarget(cloud, {
        namespace: "ecs",
        resourceId: "service/prod/clamp",
        dimension: "ecs:service:DesiredCount",
        min: 1,
        max: 8,
        tags: MANAGED,
      });
      addEcsService(cloud, { cluster: "prod", name: "surge", desiredCount: 2, tags: MANAGED });
      addScalableTarget(cloud, {
        namespace: "ecs",
        resourceId: "service/prod/surge",
        dimension: "ecs:service:DesiredCount",
        min: 1,
        max: 4,
        tags: MANAGED,
      });
      // A scalable target tagged for Reflex over a service that is not.
      addEcsService(cloud, { cluster: "prod", name: "legacy", desiredCount: 2 });
      addScalableTarget(cloud, {
        namespace: "ecs",
        resourceId: "service/prod/legacy",
        dimension: "ecs:service:DesiredCount",
        min: 1,
        max: 4,
        tags: MANAGED,
      });
      addLambdaFunction(cloud, {
        name: "search",
        versions: 2,
        aliases: { live: "2" },
        provisioned: { live: 5 },
        tags: MANAGED,
      });
    },
  });
});
afterAll(async () => {
  await s?.close();
});

const service = (cluster: string, name: string) =>
  s.cloud.containers().services.find((x) => x.cluster === cluster && x.name === name);
const alias = (fn: string, name: string) =>
  s.cloud.containers().aliases.find((x) => x.function === fn && x.alias === name);
const target = (resourceId: string) =>
  s.cloud.containers().scalableTargets.find((x) => x.resourceId === resourceId);

const ecs = (name: string, change: string, more: Record<string, unknown> = {}) => ({
  target: { kind: "ecs-service", cluster: "prod", service: name },
  change,
  ...more,
});

describe("scale-service: an ECS service", () => {
  it("plans in a dry-run, with the clamps it applied, and makes no mutating call", async () => {
    const stepped = await s.run(ecs("clamp", "+9", { maxStep: 4 }), { dryRun: true });
    expect(stepped.run.status).toBe("SUCCEEDED");
    expect(mutatingCalls(stepped)).toEqual([]);
    expect(stepped.outcome.targets).toEqual([
      expect.objectContaining({
        id: "prod/clamp",
        kind: "ecs-service",
        status: "not-started",
        reason: "would set desired count to 7",
        details: expect.objectContaining({
          "desired count": "3 → 7",
          "limit 1": "clamped to 7: at most 4 added or removed per run (maxStep)",
        }),
      }),
    ]);
    const bounded = await s.run(ecs("clamp", "+9"), { dryRun: true });
    expect(mutatingCalls(bounded)).toEqual([]);
    expect(bounded.outcome.targets[0].details).toMatchObject({
      "desired count": "3 → 8",
      "limit 1": "clamped to 8: max 8 (its scalable target)",
    });
  });

  it("sets the desired count and ends once the rollout is COMPLETED with running = desired", async () => {
    const run = await s.run(ecs("api", "+2"));
    expect(run.run.status).toBe("SUCCEEDED");
    expect(unfinishedTargets(run)).toEqual([]);
    expect(callsOutsidePermissions(run)).toEqual([]);
    expect(run.outcome.targets[0]).toMatchObject({
      id: "prod/api",
      status: "succeeded",
      reason: "rollout COMPLETED, running 6 of 6",
    });
    expect(
      mutatingCalls(run).map((c) => [c.operation, (c.input as { desiredCount: number }).desiredCount]),
    ).toEqual([["UpdateService", 6]]);
    expect(service("prod", "api")).toMatchObject({ desired: 6, running: 6, rolloutState: "COMPLETED" });
  });

  it("puts the old count back when the rollout FAILS, waits until it is running again, and fails the run", async () => {
    failNextRollouts(s.cloud, { cluster: "prod", service: "worker" });
    const run = await s.run(ecs("worker", "+3"));
    expect(run.run.status).toBe("FAILED");
    expect(run.run.error).toBe("RolloutFailed");
    expect(unfinishedTargets(run)).toEqual([]);
    expect(run.outcome.targets[0]).toMatchObject({
      status: "rolled-back",
      reason: expect.stringMatching(/^RolloutFailed: .*circuit breaker.*; put back to 2$/),
    });
    expect(mutatingCalls(run).map((c) => (c.input as { desiredCount: number }).desiredCount)).toEqual([5, 2]);
    expect(service("prod", "worker")).toMatchObject({ desired: 2, running: 2, rolloutState: "COMPLETED" });
  });

  it("fails the run when the set is refused, and finds nothing to undo", async () => {
    s.cloud.injectFault({
      service: "ecs",
      operation: "UpdateService",
      kind: "error",
      code: "AccessDeniedException",
      times: 1,
    });
    const run = await s.run(ecs("clamp", "+1"));
    expect(run.run.status).toBe("FAILED");
    expect(run.run.error).toMatch(/AccessDenied/);
    expect(unfinishedTargets(run)).toEqual([]);
    expect(run.outcome.targets[0].reason).toMatch(/still 3: nothing to undo$/);
    expect(service("prod", "clamp")).toMatchObject({ desired: 3, running: 3 });
  });
});

describe("scale-service: an Application Auto Scaling scalable target", () => {
  const orders = {
    kind: "scalable-target",
    namespace: "dynamodb",
    resourceId: "table/orders",
    dimension: "dynamodb:table:ReadCapacityUnits",
  };

  it("plans new bounds in a dry-run and makes no mutating call", async () => {
    const run = await s.run({ target: orders, min: 20, max: 200 }, { dryRun: true });
    expect(run.run.status).toBe("SUCCEEDED");
    expect(mutatingCalls(run)).toEqual([]);
    expect(run.outcome.targets[0].details).toMatchObject({ bounds: "min 5, max 100 → min 20, max 200" });
  });

  it("sets the bounds; the table's capacity moves inside them", async () => {
    const run = await s.run({ target: orders, min: 20, max: 200 });
    expect(run.run.status).toBe("SUCCEEDED");
    expect(callsOutsidePermissions(run)).toEqual([]);
    expect(mutatingCalls(run).map((c) => c.operation)).toEqual(["RegisterScalableTarget"]);
    expect(target("table/orders")).toMatchObject({ min: 20, max: 200, capacity: 20 });
  });

  it("puts the old bounds and the service's old count back when the service's rollout FAILS", async () => {
    failNextRollouts(s.cloud, { cluster: "prod", service: "batch" });
    const batch = {
      kind: "scalable-target",
      namespace: "ecs",
      resourceId: "service/prod/batch",
      dimension: "ecs:service:DesiredCount",
    };
    const run = await s.run({ target: batch, min: 4 });
    expect(run.run.status).toBe("FAILED");
    expect(run.run.error).toBe("RolloutFailed");
    expect(unfinishedTargets(run)).toEqual([]);
    expect(run.outcome.targets[0].reason).toMatch(/put back to min 1, max 5; desired count 4 → 2$/);
    expect(target("service/prod/batch")).toMatchObject({ min: 1, max: 5, capacity: 2 });
    expect(service("prod", "batch")).toMatchObject({ desired: 2, running: 2, rolloutState: "COMPLETED" });
  });
});

describe("scale-service: a Lambda alias's provisioned concurrency", () => {
  const checkout = (change: string) => ({
    target: { kind: "lambda-alias", function: "checkout", alias: "live" },
    change,
  });

  it("plans in a dry-run within the alias's scalable target and makes no mutating call", async () => {
    const run = await s.run(checkout("=40"), { dryRun: true });
    expect(mutatingCalls(run)).toEqual([]);
    expect(run.outcome.targets[0].details).toMatchObject({
      "provisioned concurrency": "10 → 20",
      bounds: "0..50 (its scalable target)",
      "limit 1": "clamped to 20: at most 10 added or removed per run (maxStep)",
    });
  });

  it("puts the new concurrency and ends once the config is READY", async () => {
    const run = await s.run(checkout("+5"));
    expect(run.run.status).toBe("SUCCEEDED");
    expect(callsOutsidePermissions(run)).toEqual([]);
    expect(run.outcome.targets[0]).toMatchObject({
      status: "succeeded",
      reason: "READY, 15 of 15 allocated",
    });
    expect(alias("checkout", "live")).toMatchObject({ provisioned: 15, status: "READY" });
  });

  it("puts the old concurrency back when provisioning FAILS, and fails the run", async () => {
    failNextProvisioning(s.cloud, "search");
    const run = await s.run({
      target: { kind: "lambda-alias", function: "search", alias: "live" },
      change: "=30",
    });
    expect(run.run.status).toBe("FAILED");
    expect(run.run.error).toBe("ProvisioningFailed");
    expect(unfinishedTargets(run)).toEqual([]);
    expect(
      mutatingCalls(run).map(
        (c) => (c.input as { ProvisionedConcurrentExecutions: number }).ProvisionedConcurrentExecutions,
      ),
    ).toEqual([15, 5]);
    expect(alias("search", "live")).toMatchObject({ provisioned: 5, status: "READY" });
  });
});

describe("scale-service refuses bad input in the plan, naming the target and why, with no mutating call", () => {
  const refused = async (params: Record<string, unknown>) => {
    const run = await s.run(params);
    expect(run.run.status).toBe("FAILED");
    expect(mutatingCalls(run)).toEqual([]);
    expect(run.outcome.targets).toHaveLength(1);
    expect(run.outcome.targets[0].status).toBe("failed");
    return { error: run.run.error, reason: run.outcome.targets[0].reason, id: run.outcome.targets[0].id };
  };

  it("a service, a function or a scalable target that does not exist", async () => {
    expect(await refused(ecs("nope", "+1"))).toEqual({
      error: "TargetNotFound",
      id: "prod/nope",
      reason: "there is no service nope in cluster prod",
    });
    expect(
      await refused({ target: { kind: "ecs-service", cluster: "qa", service: "api" }, change: "+1" }),
    ).toMatchObject({ error: "TargetNotFound", reason: "cluster qa does not exist" });
    expect(
      await refused({ target: { kind: "lambda-alias", function: "checkout", alias: "blue" }, change: "+1" }),
    ).toMatchObject({ error: "TargetNotFound", reason: "function checkout has no alias blue" });
  });

  it("a service named in a cluster it is not in", async () => {
    expect(await refused(ecs("checkout", "+1"))).toEqual({
      error: "TargetNotFound",
      id: "prod/checkout",
      reason:
        "there is no service checkout in cluster prod; it is in cluster staging (name the cluster it runs in)",
    });
  });

  it("a DynamoDB table in on-demand mode, recognised by DescribeTable's BillingModeSummary (PAY_PER_REQUEST)", async () => {
    const sessions = {
      kind: "scalable-target",
      namespace: "dynamodb",
      resourceId: "table/sessions",
      dimension: "dynamodb:table:ReadCapacityUnits",
    };
    const before = s.cloud.lastCallSeq;
    expect(await refused({ target: sessions, min: 5, max: 50 })).toEqual({
      error: "OnDemandTable",
      id: "dynamodb:table/sessions (dynamodb:table:ReadCapacityUnits)",
      reason:
        "table sessions is in on-demand mode (BillingMode PAY_PER_REQUEST): it has no provisioned capacity to scale; switch it to PROVISIONED and register a scalable target first",
    });
    expect(
      s.cloud.calls.filter((c) => c.seq > before && c.operation === "DescribeTable").map((c) => c.input),
    ).toEqual([{ TableName: "sessions" }]);
    // A table that does not exist is named as such, not as a missing scalable target.
    expect(
      await refused({ target: { ...sessions, resourceId: "table/no-such-table" }, min: 5, max: 50 }),
    ).toMatchObject({ error: "TargetNotFound", reason: "table no-such-table does not exist" });
  });

  it("a desired count outside the service's min/max, and a minimum above the maximum", async () => {
    expect(await refused(ecs("clamp", "=11"))).toMatchObject({
      error: "OutOfBounds",
      reason: "desired 11 is outside its bounds (min 1, max 8; its scalable target)",
    });
    const clampTarget = {
      kind: "scalable-target",
      namespace: "ecs",
      resourceId: "service/prod/clamp",
      dimension: "ecs:service:DesiredCount",
    };
    expect(await refused({ target: clampTarget, min: 9 })).toMatchObject({
      error: "OutOfBounds",
      reason: "min 9 would be above max 8",
    });
  });

  it("a target without the automation tag", async () => {
    expect(
      await refused({
        target: { kind: "ecs-service", cluster: "staging", service: "checkout" },
        change: "+1",
      }),
    ).toMatchObject({ error: "NotManaged" });
  });

  it("params that mix the kinds are refused before anything starts (admission's 400)", async () => {
    await expect(
      s.run({ target: { kind: "lambda-alias", function: "checkout", alias: "live" }, min: 1 }),
    ).rejects.toThrow(/was not started: .*change/);
  });
});

describe("scale-service: locks", () => {
  const locksOf = (p: Record<string, unknown>) => scaleService.locks?.(params.parse(p));

  it("one service named with its Region and without it (Reflex's Region) takes one lock", () => {
    // Admission locks what `locks` returns: two keys for one service would let two runs scale it at once.
    const region = process.env.AWS_REGION ?? "us-east-1";
    expect(locksOf(ecs("api", "+1", { region }))).toEqual(locksOf(ecs("api", "+1")));
    expect(
      locksOf({
        target: {
          kind: "scalable-target",
          namespace: "ecs",
          resourceId: "service/prod/api",
          dimension: "ecs:service:DesiredCount",
        },
        min: 2,
        region,
      }),
    ).toEqual(locksOf(ecs("api", "+1")));
  });
});

describe("scale-service: the cap on a scalable target's bounds", () => {
  const surge = {
    kind: "scalable-target",
    namespace: "ecs",
    resourceId: "service/prod/surge",
    dimension: "ecs:service:DesiredCount",
  };

  it("a new min above the service's count moves it by at most maxStep: the min is clamped, as a change would be", async () => {
    // min 40 on a service of 2 would add 38 tasks (Application Auto Scaling raises it to its min).
    const run = await s.run({ target: surge, min: 40, max: 60 });
    expect(run.run.status).toBe("SUCCEEDED");
    expect(run.outcome.targets[0].details).toMatchObject({
      "limit 1": "min clamped to 12: the service runs 2; at most 10 added or removed per run (maxStep)",
    });
    expect(target("service/prod/surge")).toMatchObject({ min: 12, max: 60 });
    expect(service("prod", "surge")).toMatchObject({ desired: 12, running: 12 });
  });

  it("a new max below the service's count is clamped the same way (dry-run)", async () => {
    const run = await s.run({ target: surge, min: 0, max: 1, maxStep: 3 }, { dryRun: true });
    expect(mutatingCalls(run)).toEqual([]);
    expect(run.outcome.targets[0].details).toMatchObject({
      bounds: "min 12, max 60 → min 0, max 9",
      "limit 1": "max clamped to 9: the service runs 12; at most 3 added or removed per run (maxStep)",
    });
  });
});

describe("scale-service: the service behind a scalable target", () => {
  it("refuses new bounds when the service they move does not carry the automation tag; nothing changes", async () => {
    const legacy = {
      kind: "scalable-target",
      namespace: "ecs",
      resourceId: "service/prod/legacy",
      dimension: "ecs:service:DesiredCount",
    };
    const run = await s.run({ target: legacy, min: 3 });
    expect(run.run.status).toBe("FAILED");
    expect(run.run.error).toBe("NotManaged");
    expect(run.outcome.targets[0].reason).toMatch(/service prod\/legacy .*does not carry the automation tag/);
    expect(mutatingCalls(run)).toEqual([]);
    expect(service("prod", "legacy")).toMatchObject({ desired: 2 });
  });
});
