import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "test/**/*.test.ts", "stacks/**/*.test.ts"],
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
  },
});
