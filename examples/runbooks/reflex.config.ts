/**
 * A team's config with runbooks of its own: restart-service, restore, scale-service, db-backup
 * and db-failover live in this repository (examples/runbooks/), not in Reflex. One import and one
 * line list each.
 *
 *   npx reflex start --config examples/runbooks/reflex.config.ts
 *   npm run synth -- --out .tmp/synth --config examples/runbooks/reflex.config.ts
 *
 * The rules are shipped in shadow mode (`dryRun: true`): each plans what it would do, so a team
 * can watch them against its own events before it turns them on.
 */
import { defineConfig } from "@reflex/core";
import { dbBackup } from "./db-backup/index.ts";
import { dbFailover } from "./db-failover/index.ts";
import { restartService } from "./restart-service/index.ts";
import { restore } from "./restore/index.ts";
import { scaleService } from "./scale-service/index.ts";

export default defineConfig({
  environment: "example",
  runbooks: [restartService, restore, scaleService, dbBackup, dbFailover],
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
    // RDS says a DB instance ran out of storage (RDS-EVENT-0007, category "low storage"): take a
    // snapshot of it before anyone frees space. Shadow mode: the plan only, until trusted.
    {
      name: "rds-storage-full-snapshot",
      on: {
        source: ["aws.rds"],
        "detail-type": ["RDS DB Instance Event"],
        detail: { EventID: ["RDS-EVENT-0007"] },
      },
      run: "db-backup",
      with: { selector: { names: ["$.detail.SourceIdentifier"] }, kinds: ["rds-instance"], retainDays: 30 },
      target: "$.detail.SourceIdentifier",
      dryRun: true,
    },
    // A Multi-AZ failover completed (RDS-EVENT-0049, category "failover"): snapshot the
    // instance in its new zone. Shadow mode.
    {
      name: "rds-after-failover-snapshot",
      on: {
        source: ["aws.rds"],
        "detail-type": ["RDS DB Instance Event"],
        detail: { EventCategories: ["failover"], EventID: ["RDS-EVENT-0049"] },
      },
      run: "db-backup",
      with: { selector: { names: ["$.detail.SourceIdentifier"] }, kinds: ["rds-instance"] },
      target: "$.detail.SourceIdentifier",
      dryRun: true,
    },
    // Fail the payments cluster over when its writer's canary alarm fires; always with a
    // person's approval. Commented out: a failover is a decision to rehearse first.
    // {
    //   name: "payments-writer-down",
    //   on: {
    //     source: ["aws.cloudwatch"],
    //     "detail-type": ["CloudWatch Alarm State Change"],
    //     detail: { alarmName: ["payments-writer-canary"], state: { value: ["ALARM"] } },
    //   },
    //   run: "db-failover",
    //   with: { cluster: "payments", promote: "payments-2", healthAlarm: "payments-writer-canary" },
    //   approval: "required",
    // },
  ],
  schedules: [
    {
      name: "nightly-db-backup",
      cron: "cron(0 2 * * ? *)",
      timezone: "UTC",
      run: "db-backup",
      with: { selector: { tag: { Backup: "daily" } }, retainDays: 14 },
    },
  ],
});
