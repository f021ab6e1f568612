#!/usr/bin/env node
// The CLI is TypeScript; tsx compiles it on the fly so `npx reflex` needs no build step.
import { register } from "tsx/esm/api";

// `reflex logs … | head`: the reader went away; that is not an error.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});
register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
