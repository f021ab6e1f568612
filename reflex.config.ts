/**
 * Reflex's automation config for local mode and the demo. `npx reflex config check` validates
 * it; `npm start` refuses to start while it has problems.
 */
import { defineConfig } from "@reflex/core";

const alarm = (name: string) => ({
  source: ["aws.cloudwatch"],
  "detail-type": ["CloudWatch Alarm State Change"],
  detail: { alarmName: [name], state: { value: ["ALARM"] } },
});

export default defineConfig({
  environment: "local",
  rules: [
    {
      name: "web-cpu-high",
      description: "Web tier hot: add two instances.",
      on: alarm("web-cpu-high"),
      run: "scale",
      with: { autoScalingGroup: "web", change: "+2" },
      cooldown: "10m",
    },
    {
      name: "web-cpu-low",
      description: "Web tier idle: remove one instance, but only once CPU-high has been OK for 10 minutes.",
      on: alarm("web-cpu-low"),
      run: "scale",
      with: { autoScalingGroup: "web", change: "-1", alarmName: "web-cpu-high", requireOkFor: "10m" },
      cooldown: "15m",
    },
  ],
  schedules: [
    {
      name: "nightly-backup",
      cron: "cron(0 2 * * ? *)",
      timezone: "Europe/Berlin",
      run: "backup-snapshot",
      with: { selector: { tag: { Backup: "daily" } }, retainDays: 14, keepLast: 2 },
    },
  ],
  freezes: [
    {
      name: "year-end",
      from: "2026-12-24T00:00:00Z",
      to: "2027-01-02T00:00:00Z",
      reason: "year-end change freeze",
    },
  ],
  guardrails: { maxTargetsPerRun: 50, breaker: { failures: 3, within: "30m" } },
  access: {
    roles: { oncall: ["U123", "U456"], sre: ["U789"] },
    allow: [
      { role: "oncall", runbooks: ["scale", "backup-snapshot"] },
      { role: "sre", runbooks: ["*"] },
    ],
  },
});
