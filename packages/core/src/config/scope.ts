/**
 * The config a params schema checks names against, when a runbook's params name something the
 * config defines (`failover`'s `pair`). Its own module, importing nothing, because runbook
 * definitions import it and the config loader imports the runbook registry: a value here is
 * never read before it exists.
 */
import type { Config } from "./schema.ts";

let validating: Config | undefined;
let inForce: Config | undefined;

/**
 * The config being validated while `validateConfig` runs (synchronously), else the one set
 * with `useConfig`. Undefined before any was set (a runbook's example is checked when its
 * module loads): schemas then skip the check, and the steps, which read the config in force,
 * check again.
 */
export function configForParams(): Config | undefined {
  return validating ?? inForce;
}

/** Called by `useConfig`. */
export function setConfigInForce(config: Config): void {
  inForce = config;
}

/** Runs `check` with `config` as the one params are checked against. */
export function whileValidating<T>(config: Config, check: () => T): T {
  const before = validating;
  validating = config;
  try {
    return check();
  } finally {
    validating = before;
  }
}
