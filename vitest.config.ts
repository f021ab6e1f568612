import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "test/**/*.test.ts",
      "stacks/**/*.test.ts",
      "examples/**/*.test.ts",
    ],
    // A directory per run where the first stack test to need it synthesizes the app for all of them.
    globalSetup: ["stacks/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Dummy credentials so no SDK client ever probes an instance metadata endpoint.
    env: {
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_REGION: "us-east-1",
      AWS_EC2_METADATA_DISABLED: "true",
      POWERTOOLS_DEV: "false",
      POWERTOOLS_LOG_LEVEL: "SILENT",
    },
    pool: "forks",
    // Vitest's default is one worker fewer than the cores: on the 2-core CI machine, one file
    // at a time (11 minutes). Most time is spent waiting on child servers and simulated AWS,
    // so two files at once take half the time (measured: 660 s → 342 s, 807 tests green).
    maxWorkers: 2,
  },
});
