/**
 * The shipped example rules for containers and functions (examples/runbooks/reflex.config.ts)
 * against sample events shaped as AWS documents them — ECS Task State Change (an essential
 * container exited), ECS Deployment State Change (SERVICE_DEPLOYMENT_FAILED), a CloudWatch
 * alarm on a Lambda function's Throttles — through the gate and admission: each starts its
 * scale-service run in shadow mode (a dry-run, planned against the simulated account), and
 * what does not match them (a task a person stopped, another service) starts nothing.
 */
import { type Config, Gate, loadConfig } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { type LocalMode, startLocal } from "../packages/local/src/local-mode.ts";
import { alarmEvent } from "./support/events.ts";
import { api } from "./support/local.ts";

const ACCOUNT = "111122223333";

/** ECS Task State Change, as in the ECS developer guide's example (the fields rules match on). */
function taskStopped(service: string, stopCode: string, id: string) {
  return {
    version: "0",
    id,
    "detail-type": "ECS Task State Change",
    source: "aws.ecs",
    account: ACCOUNT,
    time: "2026-12-07T10:00:00Z",
    region: "us-east-1",
    resources: [`arn:aws:ecs:us-east-1:${ACCOUNT}:task/prod/b99d40b3-5176-4f71-9a52-9dbd6f1cebef`],
    detail: {
      clusterArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/prod`,
      containers: [
        {
          containerArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:container/prod/b99d40b3/7d9d4d33`,
          exitCode: 137,
          lastStatus: "STOPPED",
          name: service,
          taskArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:task/prod/b99d40b3-5176-4f71-9a52-9dbd6f1cebef`,
        },
      ],
      createdAt: "2026-12-07T09:58:12.001Z",
      desiredStatus: "STOPPED",
      group: `service:${service}`,
      launchType: "FARGATE",
      lastStatus: "STOPPED",
      startedBy: "ecs-svc/0000000000000000001",
      stopCode,
      stoppedAt: "2026-12-07T09:59:58.123Z",
      stoppedReason:
        stopCode === "UserInitiated" ? "Task stopped by user" : "Essential container in task exited",
      taskArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:task/prod/b99d40b3-5176-4f71-9a52-9dbd6f1cebef`,
      taskDefinitionArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/${service}:1`,
      version: 3,
    },
  };
}

/** ECS Deployment State Change, SERVICE_DEPLOYMENT_FAILED, as in the ECS developer guide's example. */
function deploymentFailed(service: string, id: string) {
  return {
    version: "0",
    id,
    "detail-type": "ECS Deployment State Change",
    source: "aws.ecs",
    account: ACCOUNT,
    time: "2026-12-07T10:05:00Z",
    region: "us-east-1",
    resources: [`arn:aws:ecs:us-east-1:${ACCOUNT}:service/prod/${service}`],
    detail: {
      eventType: "ERROR",
      eventName: "SERVICE_DEPLOYMENT_FAILED",
      deploymentId: "ecs-svc/0000000000000000002",
      updatedAt: "2026-12-07T10:04:58Z",
      reason: "ECS deployment circuit breaker: task failed to start.",
    },
  };
}

let local: LocalMode;
let config: Config;
beforeAll(async () => {
  config = await loadConfig("examples/runbooks/reflex.config.ts");
  local = await startLocal({
    config,
    port: 0,
    quiet: true,
    dataDir: null,
    waitMs: 20,
    scheduler: false,
    cloud: SimulatedCloud.seeded(),
  });
});
afterAll(async () => {
  await local?.stop();
});

/** The one decision for an event, and the run it started (ended, read from the API). */
async function handle(event: unknown) {
  const [decision, ...more] = await Gate.handleEvent(event, { config });
  expect(more).toEqual([]);
  if (decision.decision !== "started") return { decision };
  await local.idle();
  const run = (await api(local, "GET", `/api/executions/${decision.executionId}`)).body;
  return { decision, run };
}

describe("the example rules for containers and functions", () => {
  it("plans one more prod/api task when an essential container of it exited", async () => {
    const { decision, run } = await handle(taskStopped("api", "EssentialContainerExited", "ecs-task-1"));
    expect(decision).toMatchObject({
      decision: "started",
      rule: "api-task-stopped",
      runbook: "scale-service",
    });
    expect(run).toMatchObject({ status: "SUCCEEDED", dryRun: true });
    expect(run.outcome.targets[0]).toMatchObject({ id: "prod/api", reason: "would set desired count to 5" });
  });

  it("plans a higher floor for prod/api's scalable target when its deployment failed", async () => {
    const { decision, run } = await handle(deploymentFailed("api", "ecs-deploy-1"));
    expect(decision).toMatchObject({ decision: "started", rule: "api-deployment-failed" });
    expect(run).toMatchObject({ status: "SUCCEEDED", dryRun: true });
    expect(run.outcome.targets[0].details).toMatchObject({ bounds: "min 2, max 10 → min 4, max 10" });
  });

  it("plans 10 more provisioned executions for checkout:live when its throttles alarm fires", async () => {
    const { decision, run } = await handle(alarmEvent("checkout-throttles", "ALARM", new Date()));
    expect(decision).toMatchObject({ decision: "started", rule: "checkout-throttled" });
    expect(run).toMatchObject({ status: "SUCCEEDED", dryRun: true });
    expect(run.outcome.targets[0].details).toMatchObject({ "provisioned concurrency": "10 → 20" });
  });

  it("starts nothing for a task a person stopped, or another service's failed deployment", async () => {
    expect((await handle(taskStopped("api", "UserInitiated", "ecs-task-2"))).decision.decision).toBe(
      "no-match",
    );
    expect((await handle(deploymentFailed("worker", "ecs-deploy-2"))).decision.decision).toBe("no-match");
  });
});
