#!/usr/bin/env node
// The CLI is TypeScript; tsx compiles it on the fly so `npx reflex` needs no build step.
import { register } from "tsx/esm/api";

// Reflex runs where its Lambdas run (nodejs24.x) and needs Node 22 or later: say so, rather
// than fail later on a missing built-in (Promise.withResolvers).
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  process.stderr.write(
    `reflex: needs Node.js 22 or later; this is ${process.version}. Use \`npx reflex\` in the repo (it runs the pinned Node 24) or upgrade Node.\n`,
  );
  process.exit(2);
}

// `reflex logs … | head`: the reader went away; that is not an error.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});
register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
