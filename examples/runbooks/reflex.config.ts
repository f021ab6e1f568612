/**
 * A team's config with runbooks of its own: restart-service, restore and scale-service live in
 * this repository (examples/runbooks/), not in Reflex. One import and one line list each.
 *
 *   npx reflex start --config examples/runbooks/reflex.config.ts
 *   npm run synth -- --out .tmp/synth --config examples/runbooks/reflex.config.ts
 *
 * The rules are shipped in shadow mode (`dryRun: true`): each plans what it would do, so a team
 * can watch them against its own events before it turns them on.
 */
import { defineConfig } from "@reflex/core";
import { restartService } from "./restart-service/index.ts";
import { restore } from "./restore/index.ts";
import { scaleService } from "./scale-service/index.ts";

export default defineConfig({
  environment: "example",
  runbooks: [restartService, restore, scaleService],
  rules: [
    // An essential container of prod/api exited (ECS Task State Change): one more task while
    // someone looks, within the service's own bounds.
    {
      name: "api-task-stopped",
      on: {
        source: ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        detail: {
          clusterArn: [{ suffix: ":cluster/prod" }],
          group: ["service:api"],
          lastStatus: ["STOPPED"],
          stopCode: ["EssentialContainerExited", "TaskFailedToStart"],
        },
      },
      run: "scale-service",
      with: { target: { kind: "ecs-service", cluster: "prod", service: "api" }, change: "+1" },
      cooldown: "10m",
      dryRun: true,
    },
    // A deployment of prod/api failed (ECS Deployment State Change, the circuit breaker rolled it
    // back): hold the service at least at its current size by raising its scalable target's floor.
    {
      name: "api-deployment-failed",
      on: {
        source: ["aws.ecs"],
        "detail-type": ["ECS Deployment State Change"],
        resources: [{ suffix: ":service/prod/api" }],
        detail: { eventName: ["SERVICE_DEPLOYMENT_FAILED"] },
      },
      run: "scale-service",
      with: {
        target: {
          kind: "scalable-target",
          namespace: "ecs",
          resourceId: "service/prod/api",
          dimension: "ecs:service:DesiredCount",
        },
        min: 4,
      },
      cooldown: "30m",
      dryRun: true,
    },
    // checkout is throttled (a CloudWatch alarm on its Throttles metric): 10 more provisioned
    // executions on its live alias, within the alias's scalable target.
    {
      name: "checkout-throttled",
      on: {
        source: ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        detail: { alarmName: ["checkout-throttles"], state: { value: ["ALARM"] } },
      },
      run: "scale-service",
      with: { target: { kind: "lambda-alias", function: "checkout", alias: "live" }, change: "+10" },
      cooldown: "15m",
      dryRun: true,
    },
  ],
});
