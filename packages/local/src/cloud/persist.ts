/**
 * Saving and loading the model as one JSON document, so local mode keeps its cloud across
 * restarts. Writes are atomic (temporary file + rename): a crash never leaves half a file.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ReflexError } from "@reflex/core/errors";
import { type CloudState, STATE_FORMAT, STATE_VERSION } from "./model.ts";

/** The saved state at `path`, or undefined when there is none. A file that is not a saved cloud is an error, not a reset. */
export function loadState(path: string): CloudState | undefined {
  if (!existsSync(path)) return undefined;
  let parsed: Partial<CloudState>;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ReflexError("invalid_cloud_state", `${path} is not valid JSON: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (parsed?.format !== STATE_FORMAT || parsed.version !== STATE_VERSION) {
    throw new ReflexError(
      "invalid_cloud_state",
      `${path} is not a simulated cloud saved by this version (expected format '${STATE_FORMAT}' version ${STATE_VERSION}); move it away to start from a fresh seed`,
    );
  }
  if (
    typeof parsed.accountId !== "string" ||
    typeof parsed.rng !== "number" ||
    typeof parsed.regions !== "object"
  ) {
    throw new ReflexError("invalid_cloud_state", `${path} is missing accountId, rng or regions`);
  }
  return parsed as CloudState;
}

export function saveState(path: string, state: CloudState): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, "utf8");
  renameSync(tmp, path);
}
