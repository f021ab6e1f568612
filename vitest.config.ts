import { configDefaults, defineConfig } from "vitest/config";
import LongFirstSequencer from "./test/support/sequencer.ts";

/**
 * Test files that share a worker process (`isolate: false`): the next file runs in the same
 * process, with the modules the last one loaded, instead of a new process importing the AWS SDK,
 * the core package and the simulated cloud again (about half a second of CPU per file). Only
 * files that keep no state of their own in shared modules belong here.
 */
const SHARED = ["packages/*/src/**/*.test.ts"];
/** In SHARED's folders, but they set or read process-wide state (the AWS client factory's): a process each. */
const OWN_PROCESS = [
  "packages/local/src/cloud/organization.test.ts",
  "packages/local/src/cloud/replace-root.test.ts",
  "packages/functions/src/slack.test.ts",
  "packages/core/src/runbooks/scale/scale.test.ts",
  "packages/core/src/runbooks/backup-snapshot/backup-snapshot.test.ts",
  "packages/core/src/runbooks/patch/patch.test.ts",
  "packages/core/src/approval-retry.test.ts",
  "packages/core/src/state/audit.test.ts",
  "packages/core/src/state/alarms.test.ts",
  "packages/functions/src/api.test.ts",
  "packages/core/src/state/audit-seal.test.ts",
  "packages/functions/src/events-api.test.ts",
  "packages/functions/src/slack-handoff.test.ts",
  "packages/local/src/aws-json.test.ts",
];
/** Everything else: each file in a new process. */
const ISOLATED = ["test/**/*.test.ts", "stacks/**/*.test.ts", "examples/**/*.test.ts", ...OWN_PROCESS];

export default defineConfig({
  test: {
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
    // The known-long files first, so none starts last (test/support/sequencer.ts).
    sequence: { sequencer: LongFirstSequencer },
    projects: [
      {
        extends: true,
        test: {
          name: "isolated",
          include: ISOLATED,
          // A directory per run where the first stack test to need it synthesizes the app for all of them.
          globalSetup: ["stacks/support/global-setup.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "shared",
          include: SHARED,
          exclude: [...configDefaults.exclude, ...OWN_PROCESS],
          isolate: false,
        },
      },
    ],
  },
});
