/**
 * Local mode as the benches start it: in memory, on a free port, quiet, no scheduler, and a
 * Wait state of 5 ms (each bench passes its config and cloud, and may override the rest).
 */
import { type LocalMode, type LocalOptions, startLocal } from "../../packages/local/src/local-mode.ts";

export function startBenchLocal(
  opts: Pick<LocalOptions, "config" | "cloud"> & Partial<LocalOptions>,
): Promise<LocalMode> {
  return startLocal({ port: 0, quiet: true, dataDir: null, waitMs: 5, scheduler: false, ...opts });
}
