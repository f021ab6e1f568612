/**
 * What every handler shares: the logger, and the config in force. In AWS the config comes
 * from `REFLEX_CONFIG` (the validated config as JSON, set by the stacks); in local mode the
 * server sets it directly with `useConfig` before any handler runs.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { useConfig, validateConfig } from "@reflex/core";

// In Lambda, INFO; in local mode and tests, only warnings (the CLI and API say what happened).
export const logger = new Logger({
  serviceName: "reflex",
  logLevel: (process.env.POWERTOOLS_LOG_LEVEL ??
    (process.env.AWS_LAMBDA_FUNCTION_NAME ? "INFO" : "WARN")) as "INFO",
});

let loaded = false;

/** Loads `REFLEX_CONFIG` once per container, when it is set. */
export function loadConfigFromEnv(): void {
  if (loaded) return;
  loaded = true;
  const raw = process.env.REFLEX_CONFIG;
  if (raw) useConfig(validateConfig(JSON.parse(raw)));
}
