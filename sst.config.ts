/**
 * The SST app: `npx sst deploy --stage <stage>` (see docs/deploy.md). The Reflex config
 * (`REFLEX_CONFIG_FILE`, else reflex.config.ts) is loaded and validated before any stack is
 * built; a config with problems stops the deploy with every problem listed.
 */
import type { SSTConfig } from "sst";
import { Api } from "./stacks/api.ts";
import { Audit } from "./stacks/audit.ts";
import { Bus } from "./stacks/bus.ts";
import { ConsoleSite } from "./stacks/console-site.ts";
import { loadReflexConfig, reflexConfig } from "./stacks/context.ts";
import { suppressSstInternals } from "./stacks/internals.ts";
import { Observability } from "./stacks/observability.ts";
import { Runbooks } from "./stacks/runbooks.ts";
import { Storage } from "./stacks/storage.ts";
import { configRunbooks } from "./stacks/support/config-runbooks.ts";
import { lambdaEnvCredentials } from "./stacks/support/lambda-credentials.ts";
import { zodEnglishOnly } from "./stacks/support/zod-english.ts";
import { Triggers } from "./stacks/triggers.ts";

export default {
  config(input) {
    return {
      name: "reflex",
      region: input.region ?? process.env.AWS_REGION ?? "us-east-1",
    };
  },
  async stacks(app) {
    await loadReflexConfig();
    app.setDefaultFunctionProps({
      runtime: "nodejs24.x",
      architecture: "arm_64",
      tracing: "active",
      nodejs: {
        format: "esm",
        minify: true,
        // The map ships beside the bundle. Set NODE_OPTIONS=--enable-source-maps on a function for
        // TypeScript stack traces; it is off by default because parsing the map costs ~30 ms of cold start.
        sourcemap: true,
        // Bundle everything, the AWS SDK included: versions stay pinned by the lockfile and
        // tree-shaken clients load faster than the runtime's full SDK.
        // The execution role's credentials from the environment, not the SDK's whole provider chain;
        // the config's own runbooks bundled from the config module (#config-runbooks).
        esbuild: {
          external: [],
          plugins: [zodEnglishOnly, lambdaEnvCredentials, configRunbooks(() => reflexConfig().file)],
        },
        // A runbook's manifest loads its steps with a dynamic import: split, they are chunks
        // that only the step worker ever loads, so the gate and the API never parse them.
        splitting: true,
      },
      environment: {
        POWERTOOLS_SERVICE_NAME: "reflex",
        POWERTOOLS_LOG_LEVEL: "INFO",
      },
    });
    app
      .stack(Storage)
      .stack(Audit)
      .stack(Bus)
      .stack(Runbooks)
      .stack(Triggers)
      .stack(Api)
      .stack(ConsoleSite)
      .stack(Observability);
    suppressSstInternals(app);
  },
} satisfies SSTConfig;
