/**
 * A team's config with a runbook of its own: restart-service lives in this repository
 * (examples/runbooks/restart-service/), not in Reflex. One import and one line list it.
 *
 *   npx reflex start --config examples/runbooks/reflex.config.ts
 *   npm run synth -- --out .tmp/synth --config examples/runbooks/reflex.config.ts
 */
import { defineConfig } from "@reflex/core";
import { restartService } from "./restart-service/index.ts";
import { restore } from "./restore/index.ts";

export default defineConfig({
  environment: "example",
  runbooks: [restartService, restore],
});
