/**
 * The Reflex config the stack tests deploy: every kind of trigger, one of each disabled, a
 * non-default automation tag would change the IAM conditions so the default is kept.
 */
import { defineConfig } from "@reflex/core";

export default defineConfig({
  environment: "test",
  rules: [
    {
      name: "instance-stopped",
      on: {
        source: ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
        detail: { state: ["stopped"] },
      },
      run: "backup-snapshot",
      with: { selector: { tag: { Backup: "on-stop" } } },
      cooldown: "30m",
    },
    {
      name: "web-cpu-high",
      on: {
        source: ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        detail: { alarmName: [{ prefix: "web-cpu-" }], state: { value: ["ALARM"] } },
      },
      run: "backup-snapshot",
      with: { selector: { tag: { Role: "web" } } },
      enabled: false,
    },
  ],
  schedules: [
    {
      name: "nightly-backup",
      cron: "cron(0 2 * * ? *)",
      timezone: "Europe/Berlin",
      run: "backup-snapshot",
      with: { selector: { tag: { Backup: "daily" } }, retainDays: 14 },
    },
  ],
  // Failover's Route 53 grant is built from the pairs: one with a record, one with an Elastic IP only.
  pairs: [
    {
      name: "db",
      primary: { instance: "i-0a0a0a0a0a0a0a0a1", recordValue: "10.0.0.11" },
      standby: { instance: "i-0b0b0b0b0b0b0b0b2", recordValue: "10.0.0.12" },
      record: { hostedZoneId: "Z0FIXTUREZONE01", zone: "example.internal", name: "DB.example.internal." },
    },
    {
      name: "edge",
      primary: { instance: "i-0c0c0c0c0c0c0c0c3" },
      standby: { instance: "i-0d0d0d0d0d0d0d0d4" },
      elasticIp: { allocationId: "eipalloc-0e0e0e0e0e0e0e0e5" },
    },
  ],
  alerts: { email: ["oncall@example.com"], https: ["https://alerts.example.com/sns"] },
  // The console as a static site behind the IdP (stacks/console-site.ts).
  console: {
    oidc: {
      issuer: "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_Fixture01",
      clientId: "fixtureconsoleclient",
      connectSources: ["https://reflex-fixture.auth.eu-central-1.amazoncognito.com"],
    },
  },
  windows: [
    {
      name: "sunday-backup",
      cron: "cron(0 3 ? * SUN *)",
      timezone: "UTC",
      duration: "4h",
      cutoff: "1h",
      run: "backup-snapshot",
      with: { selector: { tag: { PatchGroup: "web" } } },
    },
  ],
});
