/**
 * A team's config with off-hours: the runbook lives in this repository
 * (examples/runbooks/off-hours/), the schedules in the `offHours` key. Each schedule gets a tick
 * (`off-hours-<name>`, every 5 minutes) that starts through admit() like any schedule.
 *
 *   npx reflex config check --config examples/runbooks/off-hours/reflex.config.ts
 *   npx reflex start --config examples/runbooks/off-hours/reflex.config.ts
 */
import { defineConfig } from "@reflex/core";
import { offHours } from "./index.ts";

export default defineConfig({
  environment: "example",
  runbooks: [offHours],
  offHours: {
    tagKey: "reflex:off-hours",
    optOut: "never",
    schedules: [
      {
        name: "office",
        timezone: "Europe/Berlin",
        periods: [{ days: "mon-fri", start: "07:00", stop: "19:00" }],
        holidays: ["2026-12-24", "2026-12-25", "2026-12-31"],
        hibernate: true,
      },
      {
        name: "us-office",
        timezone: "America/New_York",
        periods: [{ days: "mon-fri", start: "07:00", stop: "19:00" }],
        enforce: true,
      },
    ],
    duringFreeze: "start-only",
    maxOverride: "24h",
    // An estimate, dated: on-demand Linux prices in us-east-1 copied from the AWS Price List
    // (GetProducts, ServiceCode AmazonEC2) on this date. Types not listed are reported unpriced.
    prices: {
      asOf: "2026-12-01",
      region: "us-east-1",
      perHour: { "t3.micro": 0.0104, "t3.large": 0.0832, "m5.large": 0.096 },
    },
  },
  // Two ticks every 5 minutes are 24 runs an hour: above the default limit of 20.
  guardrails: { rateLimit: { runs: 60, per: "1h" } },
});
