/**
 * ECS, Application Auto Scaling and Lambda in the simulated account, through the real SDK v3
 * clients: rollouts on the clock, bounds that move capacity, provisioned concurrency becoming
 * READY, and errors as the SDK's own exception classes.
 */
import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
  DescribeScalingActivitiesCommand,
  RegisterScalableTargetCommand,
  ValidationException,
} from "@aws-sdk/client-application-auto-scaling";
import {
  ClusterNotFoundException,
  DescribeServicesCommand,
  ECSClient,
  UpdateServiceCommand,
} from "@aws-sdk/client-ecs";
import {
  GetProvisionedConcurrencyConfigCommand,
  InvalidParameterValueException,
  LambdaClient,
  ProvisionedConcurrencyConfigNotFoundException,
  PutProvisionedConcurrencyConfigCommand,
  ResourceNotFoundException,
} from "@aws-sdk/client-lambda";
import { ConfiguredRetryStrategy } from "@smithy/core/retry";
import { beforeEach, describe, expect, it } from "vitest";
import { failNextProvisioning, failNextRollouts } from "./containers-helpers.ts";
import { accountView } from "./http.ts";
import { SimulatedCloud } from "./index.ts";

const credentials = { accessKeyId: "local", secretAccessKey: "local" };
const region = "us-east-1";
let now = Date.parse("2026-03-01T12:00:00.000Z");
let cloud: SimulatedCloud;
const fastRetries = () => new ConfiguredRetryStrategy(3, 5);

function attached<C extends { middlewareStack: unknown }>(client: C, service: string): C {
  cloud.attach(client as never, service, region);
  return client;
}
const ecs = () => attached(new ECSClient({ region, credentials, retryStrategy: fastRetries() }), "ecs");
const aas = () =>
  attached(
    new ApplicationAutoScalingClient({ region, credentials, retryStrategy: fastRetries() }),
    "application-autoscaling",
  );
const lambda = () =>
  attached(new LambdaClient({ region, credentials, retryStrategy: fastRetries() }), "lambda");

const api = async () =>
  (await ecs().send(new DescribeServicesCommand({ cluster: "prod", services: ["api"] }))).services?.[0];

beforeEach(() => {
  now = Date.parse("2026-03-01T12:00:00.000Z");
  cloud = SimulatedCloud.seeded({ clock: () => now });
});

describe("simulated ECS", () => {
  it("rolls a desired-count change out: IN_PROGRESS with running moving toward desired, then COMPLETED", async () => {
    expect(await api()).toMatchObject({ desiredCount: 4, runningCount: 4 });
    await ecs().send(new UpdateServiceCommand({ cluster: "prod", service: "api", desiredCount: 8 }));
    now += 1500; // half of the default 3 s rollout
    const half = await api();
    expect(half?.deployments?.[0]).toMatchObject({
      rolloutState: "IN_PROGRESS",
      desiredCount: 8,
      runningCount: 6,
    });
    now += 1500;
    const done = await api();
    expect(done).toMatchObject({ desiredCount: 8, runningCount: 8, pendingCount: 0 });
    expect(done?.deployments?.[0].rolloutState).toBe("COMPLETED");
  });

  it("fails an armed rollout: FAILED with the circuit breaker's reason, running back where it was, desired left as asked", async () => {
    failNextRollouts(cloud, { cluster: "prod", service: "api" });
    await ecs().send(new UpdateServiceCommand({ cluster: "prod", service: "api", desiredCount: 6 }));
    now += 3000;
    const s = await api();
    expect(s).toMatchObject({ desiredCount: 6, runningCount: 4 });
    expect(s?.deployments?.[0]).toMatchObject({
      rolloutState: "FAILED",
      rolloutStateReason: expect.stringMatching(/circuit breaker/),
    });
  });

  it("answers a service asked for in another cluster as MISSING, and an unknown cluster with the SDK's ClusterNotFoundException", async () => {
    const out = await ecs().send(new DescribeServicesCommand({ cluster: "prod", services: ["checkout"] }));
    expect(out.services).toEqual([]);
    expect(out.failures).toEqual([
      { arn: expect.stringMatching(/:service\/prod\/checkout$/), reason: "MISSING" },
    ]);
    const err = await ecs()
      .send(new DescribeServicesCommand({ cluster: "nope", services: ["api"] }))
      .catch((e) => e);
    expect(err).toBeInstanceOf(ClusterNotFoundException);
  });
});

describe("simulated Application Auto Scaling", () => {
  it("moves an ECS service's desired count inside new bounds, with an activity saying why", async () => {
    await aas().send(
      new RegisterScalableTargetCommand({
        ServiceNamespace: "ecs",
        ResourceId: "service/prod/api",
        ScalableDimension: "ecs:service:DesiredCount",
        MinCapacity: 5,
      }),
    );
    expect((await api())?.desiredCount).toBe(5);
    const { ScalingActivities } = await aas().send(
      new DescribeScalingActivitiesCommand({ ServiceNamespace: "ecs", ResourceId: "service/prod/api" }),
    );
    expect(ScalingActivities?.[0].Cause).toMatch(/minimum capacity was set to 5 \(from 4\)/);
  });

  it("refuses a minimum above the maximum with the SDK's ValidationException, changing nothing", async () => {
    const err = await aas()
      .send(
        new RegisterScalableTargetCommand({
          ServiceNamespace: "dynamodb",
          ResourceId: "table/orders",
          ScalableDimension: "dynamodb:table:ReadCapacityUnits",
          MinCapacity: 200,
        }),
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(ValidationException);
    const { ScalableTargets } = await aas().send(
      new DescribeScalableTargetsCommand({ ServiceNamespace: "dynamodb", ResourceIds: ["table/orders"] }),
    );
    expect(ScalableTargets?.[0]).toMatchObject({ MinCapacity: 5, MaxCapacity: 100 });
  });
});

describe("simulated Lambda provisioned concurrency", () => {
  it("is IN_PROGRESS, then READY with the requested concurrency allocated", async () => {
    await lambda().send(
      new PutProvisionedConcurrencyConfigCommand({
        FunctionName: "checkout",
        Qualifier: "live",
        ProvisionedConcurrentExecutions: 25,
      }),
    );
    const get = () =>
      lambda().send(
        new GetProvisionedConcurrencyConfigCommand({ FunctionName: "checkout", Qualifier: "live" }),
      );
    expect(await get()).toMatchObject({ Status: "IN_PROGRESS", AllocatedProvisionedConcurrentExecutions: 0 });
    now += 2000;
    expect(await get()).toMatchObject({ Status: "READY", AllocatedProvisionedConcurrentExecutions: 25 });
  });

  it("ends an armed config FAILED with a reason", async () => {
    failNextProvisioning(cloud, "checkout");
    await lambda().send(
      new PutProvisionedConcurrencyConfigCommand({
        FunctionName: "checkout",
        Qualifier: "live",
        ProvisionedConcurrentExecutions: 12,
      }),
    );
    now += 2000;
    const out = await lambda().send(
      new GetProvisionedConcurrencyConfigCommand({ FunctionName: "checkout", Qualifier: "live" }),
    );
    expect(out).toMatchObject({ Status: "FAILED", StatusReason: expect.stringMatching(/INIT_FAILURE/) });
  });

  it("answers errors as the SDK's own classes (REST-JSON): no alias, no config, $LATEST, too much", async () => {
    const put = (Qualifier: string, n: number, FunctionName = "checkout") =>
      lambda()
        .send(
          new PutProvisionedConcurrencyConfigCommand({
            FunctionName,
            Qualifier,
            ProvisionedConcurrentExecutions: n,
          }),
        )
        .catch((e) => e);
    expect(await put("blue", 5)).toBeInstanceOf(ResourceNotFoundException);
    expect(await put("$LATEST", 5)).toBeInstanceOf(InvalidParameterValueException);
    expect(await put("live", 950)).toBeInstanceOf(InvalidParameterValueException);
    const none = await lambda()
      .send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: "thumbnailer", Qualifier: "prod" }))
      .catch((e) => e);
    expect(none).toBeInstanceOf(ProvisionedConcurrencyConfigNotFoundException);
    expect(none.$metadata.httpStatusCode).toBe(404);
  });

  it("retries an injected throttle (429 TooManyRequestsException) with the client's own retry strategy", async () => {
    cloud.injectFault({
      service: "lambda",
      operation: "GetProvisionedConcurrencyConfig",
      kind: "throttle",
      times: 1,
    });
    const out = await lambda().send(
      new GetProvisionedConcurrencyConfigCommand({ FunctionName: "checkout", Qualifier: "live" }),
    );
    expect(out.Status).toBe("READY");
    expect(
      cloud.calls.filter((c) => c.operation === "GetProvisionedConcurrencyConfig").map((c) => c.error),
    ).toEqual(["TooManyRequestsException", undefined]);
  });
});

describe("reflex cloud's view", () => {
  it("lists the seeded ECS services, scalable targets and Lambda aliases", () => {
    const view = accountView(cloud);
    expect(
      view.ecsServices.map((s) => `${s.cluster}/${s.name} ${s.desired}/${s.running} ${s.rolloutState}`),
    ).toEqual(["prod/api 4/4 COMPLETED", "prod/worker 2/2 COMPLETED", "staging/checkout 1/1 COMPLETED"]);
    expect(view.scalableTargets.map((t) => `${t.resourceId} ${t.min}..${t.max} ${t.capacity}`)).toEqual([
      "service/prod/api 2..10 4",
      "table/orders 5..100 10",
      "cluster:reports-aurora 1..5 2",
      "function:checkout:live 0..50 10",
    ]);
    expect(view.lambdaAliases.map((a) => `${a.function}:${a.alias} ${a.provisioned} ${a.status}`)).toEqual([
      "checkout:live 10 READY",
      "thumbnailer:prod 0 null",
    ]);
  });
});
