/**
 * Reflex's automation config for local mode and the demo. `npx reflex config check` validates
 * it; `npm start` refuses to start while it has problems.
 */
import { defineConfig } from "@reflex/core";

export default defineConfig({
  environment: "local",
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
      { role: "oncall", runbooks: ["backup-snapshot"] },
      { role: "sre", runbooks: ["*"] },
    ],
  },
});
