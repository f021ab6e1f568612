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

const alarmAny = (names: string[]) => ({
  source: ["aws.cloudwatch"],
  "detail-type": ["CloudWatch Alarm State Change"],
  detail: { alarmName: names, state: { value: ["ALARM"] } },
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
    {
      name: "app-primary-down",
      description:
        "The app pair's primary is stopping or gone: fail over to the standby, once a person approves.",
      on: {
        source: ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
        detail: {
          state: ["stopping", "stopped", "terminated"],
          "instance-id": ["i-0a0a0a0a0a0a0a0a1", "i-0b0b0b0b0b0b0b0b2"],
        },
      },
      run: "failover",
      // Either instance may be primary now; the run skips when the event is about the standby.
      with: { pair: "app", ifPrimary: "$.detail.instance-id" },
      // Cooldown per instance: a skipped run about the standby must not hold back the primary's.
      target: "$.detail.instance-id",
      approval: "required",
      cooldown: "15m",
    },
    {
      name: "app-primary-unhealthy",
      description: "The app pair's primary fails its health alarm: fail over, once a person approves.",
      on: alarmAny(["app-a-health", "app-b-health"]),
      run: "failover",
      with: { pair: "app", ifPrimary: "$.detail.alarmName" },
      target: "$.detail.alarmName",
      approval: "required",
      cooldown: "15m",
    },
  ],
  pairs: [
    {
      name: "app",
      description: "The app server: app-a and app-b behind Elastic IP 203.0.113.10 and app.example.internal.",
      primary: {
        instance: "i-0a0a0a0a0a0a0a0a1",
        recordValue: "10.0.200.11",
        health: { alarm: "app-a-health" },
      },
      standby: {
        instance: "i-0b0b0b0b0b0b0b0b2",
        recordValue: "10.0.200.12",
        health: { alarm: "app-b-health" },
      },
      elasticIp: { allocationId: "eipalloc-0e1e1e1e1e1e1e1e1" },
      record: {
        hostedZoneId: "Z0REFLEXDEMO01",
        zone: "example.internal",
        name: "app.example.internal",
        ttl: 60,
      },
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
    // `you` is whoever runs the CLI on this laptop (`cli:<user>`, or `--as cli:<name>`): may do
    // everything (approving still needs another person: self-approval is off), but only while
    // the environment is `local`; a deployed stage names its IAM principals instead.
    roles: { oncall: ["U123", "U456"], sre: ["U789"], you: ["cli:*"] },
    allow: [
      {
        role: "you",
        runbooks: ["*"],
        actions: ["run", "dry-run", "approve", "abort", "override-freeze", "override-pause"],
        environments: ["local"],
      },
      { role: "oncall", runbooks: ["scale", "backup-snapshot"] },
      { role: "sre", runbooks: ["*"] },
      // A failover waits for a person (high risk): on-call approves it.
      { role: "oncall", runbooks: ["failover"], actions: ["approve"] },
    ],
  },
});
