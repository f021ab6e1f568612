/**
 * What every handler shares: the logger, and the config in force. In AWS the config comes
 * from the SSM parameter the stacks write (`REFLEX_CONFIG_PARAMETER`, read once per container
 * at cold start: an environment variable would cap the config at Lambda's 4 KB); a
 * `REFLEX_CONFIG` JSON variable, when set, wins (tests). In local mode the server sets the
 * config directly with `useConfig` before any handler runs.
 */

import { Logger } from "@aws-lambda-powertools/logger";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { Aws, Runbooks, useConfig, validateConfig } from "@reflex/core";
// The team's own runbooks: the deployed config module, bundled (see stacks/support/config-runbooks.ts).
import configModule from "#config-runbooks";

// In Lambda, INFO; in local mode and tests, only warnings (the CLI and API say what happened).
export const logger = new Logger({
  serviceName: "reflex",
  logLevel: (process.env.POWERTOOLS_LOG_LEVEL ??
    (process.env.AWS_LAMBDA_FUNCTION_NAME ? "INFO" : "WARN")) as "INFO",
});

/** The config JSON from SSM Parameter Store, fetched once when this module loads (top-level await). */
const fromParameter =
  !process.env.REFLEX_CONFIG && process.env.REFLEX_CONFIG_PARAMETER
    ? await readParameter(process.env.REFLEX_CONFIG_PARAMETER)
    : undefined;

async function readParameter(name: string): Promise<string> {
  const out = await Aws.client(SSMClient, "ssm").send(new GetParameterCommand({ Name: name }));
  const value = out.Parameter?.Value;
  if (!value) throw new Error(`SSM parameter ${name} (REFLEX_CONFIG_PARAMETER) holds no config`);
  return value;
}

let loaded = false;

/** Loads the deployed config once per container: `REFLEX_CONFIG`, else the SSM parameter's value. */
export function loadConfigFromEnv(): void {
  if (loaded) return;
  loaded = true;
  // Registered before the config is read: its rules, schedules and access name them.
  for (const r of (configModule as { runbooks?: unknown[] }).runbooks ?? [])
    if (r && typeof r === "object")
      Runbooks.registerFromConfig(r as Parameters<typeof Runbooks.registerFromConfig>[0]);
  const raw = process.env.REFLEX_CONFIG || fromParameter;
  if (raw) useConfig(validateConfig(JSON.parse(raw)));
}
