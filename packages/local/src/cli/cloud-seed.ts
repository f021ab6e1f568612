/**
 * `reflex cloud seed --instances N`: adds N running, SSM-managed instances tagged
 * `PatchGroup=<group>` (one target group per 100) to the simulated cloud saved under the data
 * folder, for rehearsals and benchmarks of the patch runbook. Run it before `reflex start`
 * (local mode owns the file while it runs).
 */
import { join, resolve } from "node:path";
import { SimulatedCloud } from "../cloud/index.ts";
import { seedPatchFleet } from "../cloud/patching-helpers.ts";
import { PORT_FILE, readPortFile } from "./transport.ts";

export interface SeedOptions {
  instances?: string;
  patchGroup?: string;
  data?: string;
  json?: boolean;
}

/** Throws RangeError for bad usage (the CLI exits 2). */
export async function cmdCloudSeed(values: SeedOptions, out: (s: string) => void): Promise<number> {
  const count = Number(values.instances);
  if (!Number.isInteger(count) || count < 1 || count > 10_000)
    throw new RangeError("--instances must be a whole number from 1 to 10000");
  const group = values.patchGroup ?? "fleet";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(group))
    throw new RangeError("--patch-group must be 1-64 of A-Z a-z 0-9 _ -");
  const dataDir = resolve(values.data ?? process.env.REFLEX_DATA_DIR ?? ".reflex");
  // A running server owns cloud.json and writes it back as it goes: what is seeded now would
  // be said to be added, then lost.
  const running = readPortFile(join(dataDir, PORT_FILE));
  if (running)
    throw new Error(
      `${dataDir} is in use by reflex start (pid ${running.pid}, ${running.url}); stop it, seed, then start it again`,
    );
  const persistPath = join(dataDir, "cloud.json");
  const cloud = SimulatedCloud.seeded({ persistPath });
  const ids = seedPatchFleet(cloud, { count, patchGroup: group });
  if (values.json) out(JSON.stringify({ added: ids.length, patchGroup: group, file: persistPath }));
  else
    out(
      `added ${ids.length} SSM-managed instance(s) tagged PatchGroup=${group} behind ${Math.ceil(ids.length / 100)} target group(s) to ${persistPath}\n` +
        `try: reflex run patch --param 'selector={"tag":{"PatchGroup":"${group}"}}' --param maxConcurrency=10% --dry-run`,
    );
  return 0;
}
