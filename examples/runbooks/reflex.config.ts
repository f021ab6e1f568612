/**
 * A team's config with runbooks of its own: restart-service, restore, db-backup and db-failover
 * live in this repository (examples/runbooks/), not in Reflex. One import and one line list each.
 *
 *   npx reflex start --config examples/runbooks/reflex.config.ts
 *   npm run synth -- --out .tmp/synth --config examples/runbooks/reflex.config.ts
 */
import { defineConfig } from "@reflex/core";
import { dbBackup } from "./db-backup/index.ts";
import { dbFailover } from "./db-failover/index.ts";
import { restartService } from "./restart-service/index.ts";
import { restore } from "./restore/index.ts";

export default defineConfig({
  environment: "example",
  runbooks: [restartService, restore, dbBackup, dbFailover],
  rules: [
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
