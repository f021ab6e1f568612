/**
 * The Slack secrets, bound with SST's `Config.Secret` (SSM Parameter Store), read here without
 * SST's `sst/node/config` client (a third of the acknowledgement's bundle, and a read of every
 * bound value at import): one SSM GetParameters through core's client factory, on the first
 * request that needs the secret, not at init, so a cold start does not wait on SSM before the
 * handler is ready and a module import (benchmarks, tests) makes no network call. A failed read
 * is retried on the next request.
 *
 * The binding's contract, as `sst/node/config` reads it: `SST_Secret_value_<NAME>` holds the value
 * itself, or `__FETCH_FROM_SSM__` when the value is the parameter
 * `${SST_SSM_PREFIX}Secret/<NAME>/value`, else the app-wide fallback
 * `/sst/${SST_APP}/.fallback/Secret/<NAME>/value` (SecureStrings, decrypted).
 */
import { GetParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import { client } from "@reflex/core/aws";

type Name = "SLACK_SIGNING_SECRET" | "SLACK_BOT_TOKEN";
const cache = new Map<Name, Promise<string>>();
const FROM_SSM = "__FETCH_FROM_SSM__";

export function secret(name: Name): Promise<string> {
  let value = cache.get(name);
  if (!value) {
    value = read(name);
    value.catch(() => cache.delete(name));
    cache.set(name, value);
  }
  return value;
}

async function read(name: Name): Promise<string> {
  const bound = process.env[`SST_Secret_value_${name}`];
  if (bound === undefined) throw new Error(`the secret ${name} is not bound to this function`);
  if (bound !== FROM_SSM) return bound;
  const path = `${process.env.SST_SSM_PREFIX ?? ""}Secret/${name}/value`;
  const fallback = `/sst/${process.env.SST_APP}/.fallback/Secret/${name}/value`;
  const found = await parameter(path);
  if (found !== undefined) return found;
  const inFallback = await parameter(fallback);
  if (inFallback !== undefined) return inFallback;
  throw new Error(`the secret ${name} is not set in the "${process.env.SST_STAGE}" stage (${path})`);
}

async function parameter(name: string): Promise<string | undefined> {
  const out = await client(SSMClient, "ssm").send(
    new GetParametersCommand({ Names: [name], WithDecryption: true }),
  );
  return out.Parameters?.find((p) => p.Name === name)?.Value;
}
