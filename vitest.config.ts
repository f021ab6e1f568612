import { configDefaults, defineConfig } from "vitest/config";
import LongFirstSequencer from "./test/support/sequencer.ts";

/**
 * Test files that share a worker process (`isolate: false`): the next file runs in the same
 * process, with the modules the last one loaded, instead of a new process importing the AWS SDK,
 * the core package and the simulated cloud again (about half a second of CPU per file). Only
 * files that keep no state of their own in shared modules belong here.
 */
const SHARED = ["packages/*/src/**/*.test.ts", "examples/**/*.test.ts"];
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
  // Their tests are made from (or check against) Runbooks.list(): in a shared process that list
  // holds what other files registered, so what they test would depend on the order of files.
  "packages/local/src/cli/format.test.ts",
  "packages/core/src/runbooks/runbooks.test.ts",
];
/**
 * Files of test/ that share a worker process too: each passed with `isolate: false` after the
 * others in several orders (long-first, and `REFLEX_TEST_SEED=11` and `22`, files shuffled by
 * test/support/sequencer.ts). A test/ file not listed runs in its own process (new files
 * too, until they are shown to clean up after themselves: the local mode stopped, `process.env`,
 * spies and `Aws.configure` restored). Those left out are listed, with why, in docs/testing.md.
 */
const SHARED_TEST = [
  "test/accounts-overrides.test.ts",
  "test/admission.test.ts",
  "test/api-filters.test.ts",
  "test/api-logs.test.ts",
  "test/api-run-page.test.ts",
  "test/approval-crash.test.ts",
  "test/approval-deadline.test.ts",
  "test/approval-every-runbook.test.ts",
  "test/approvals.test.ts",
  "test/audit-trail.test.ts",
  "test/audit-writer.test.ts",
  "test/backup.e2e.test.ts",
  "test/chaos-services.test.ts",
  "test/chatops-hostile.e2e.test.ts",
  "test/chatops-offhours.e2e.test.ts",
  "test/chatops-run-it.e2e.test.ts",
  "test/chatops.e2e.test.ts",
  "test/chatops.test.ts",
  "test/cli-offhours.test.ts",
  "test/cli-usage.test.ts",
  "test/cloud-api.test.ts",
  "test/config-runbooks.test.ts",
  "test/console-first-paint-attack.test.ts",
  "test/console-first-paint.browser.test.ts",
  "test/console.a11y.browser.test.ts",
  "test/console.approvals.browser.test.ts",
  "test/console.offhours.browser.test.ts",
  "test/console.xss.browser.test.ts",
  "test/drill-reports.e2e.test.ts",
  "test/events-source-case.test.ts",
  "test/execution-status.test.ts",
  "test/failover-cloud.test.ts",
  "test/failover-config.test.ts",
  "test/failover-roles.test.ts",
  "test/failover.e2e.test.ts",
  "test/fan-out-finish.test.ts",
  "test/fan-out-launch.test.ts",
  "test/gate-containers.test.ts",
  "test/gate-rds-events.test.ts",
  "test/gate-requests.test.ts",
  "test/gate.property.test.ts",
  "test/identity.test.ts",
  "test/input.test.ts",
  "test/layers.test.ts",
  "test/local-endpoints.test.ts",
  "test/local-server.test.ts",
  "test/local-start.test.ts",
  "test/local-stop.test.ts",
  "test/locations-restart.e2e.test.ts",
  "test/memory.test.ts",
  "test/moto-beyond-ec2.test.ts",
  "test/new-routes-hostile.test.ts",
  "test/notifier-provenance.test.ts",
  "test/offhours-overrides.test.ts",
  "test/organization-moto.test.ts",
  "test/organization.test.ts",
  "test/patch-changes.test.ts",
  "test/patch-cloud.test.ts",
  "test/patch-engine.test.ts",
  "test/patch.e2e.test.ts",
  "test/people-patterns.test.ts",
  "test/provenance.test.ts",
  "test/public-surface.test.ts",
  "test/reconcile.test.ts",
  "test/restore-admission.e2e.test.ts",
  "test/restore-config.test.ts",
  "test/restore-drill.e2e.test.ts",
  "test/restore-sweep.e2e.test.ts",
  "test/route-access.test.ts",
  "test/runbook-author.test.ts",
  "test/scale.e2e.test.ts",
  "test/schedule-replay.test.ts",
  "test/step-provenance.test.ts",
  "test/windows.test.ts",
];
/** Everything else: each file in a new process. */
const ISOLATED = ["test/**/*.test.ts", "stacks/**/*.test.ts", ...OWN_PROCESS];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // An `expect.poll` without a timeout of its own waits for state up to 20 s, as waitFor in
    // test/support/wait.ts does, not vitest's 1 s: a page redrawn after a server round trip can
    // take longer than 1 s on a loaded CI machine. A poll that holds returns at once, so this costs
    // a passing test nothing. (`vi.waitFor` has no such setting: give it a timeout where it is used.)
    expect: { poll: { timeout: 20_000 } },
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
    // so two files at once take half the time (measured: 660 s → 342 s, 807 tests green). A third
    // gained nothing on a quiet machine (the same tree back to back: 3 workers 326 s wall / 507 s
    // CPU, 2 workers 328 s / 512 s), so two: a file's own waits are shorter under less contention.
    maxWorkers: 2,
    // The known-long files first, so none starts last (test/support/sequencer.ts).
    sequence: { sequencer: LongFirstSequencer },
    projects: [
      {
        extends: true,
        test: {
          name: "isolated",
          include: ISOLATED,
          exclude: [...configDefaults.exclude, ...SHARED_TEST],
          // A directory per run where the first stack test to need it synthesizes the app for all of them.
          globalSetup: ["stacks/support/global-setup.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "shared",
          include: [...SHARED, ...SHARED_TEST],
          exclude: [...configDefaults.exclude, ...OWN_PROCESS],
          isolate: false,
        },
      },
    ],
  },
});
