/**
 * `node --import tsx stacks/support/shared-synth-child.ts <dir>`: the shared synthesis of the
 * fixture app (see ./shared-synth.ts), in a process of its own so the test file that starts it
 * keeps a clean SST and runbook registry. Writes `<dir>/bundles.json`, then `<dir>/ready.json`
 * (`{ outdir }`, the cloud assembly), or `<dir>/failed.txt`; each by rename, so a reader never
 * sees half a file.
 */
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { synthApp } from "./synth.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: shared-synth-child.ts <dir>");

function publish(name: string, text: string): void {
  writeFileSync(join(dir, `${name}.partial`), text);
  renameSync(join(dir, `${name}.partial`), join(dir, name));
}

try {
  const synth = await synthApp({ nag: true, workDir: join(dir, "work") });
  const assembly = synth.app.synth();
  publish("bundles.json", JSON.stringify(await synth.bundles()));
  publish("ready.json", JSON.stringify({ outdir: assembly.directory }));
} catch (error) {
  publish("failed.txt", error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
}
