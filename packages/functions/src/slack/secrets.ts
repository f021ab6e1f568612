/**
 * The Slack secrets, bound with SST's `Config.Secret` (SSM Parameter Store). `sst/node/config`
 * fetches bound secrets from SSM when it is first imported (a top-level await), so it is imported
 * on the first request, not at init: a cold start does not wait on SSM before the handler is
 * ready, and a module import (benchmarks, tests) makes no network call. A failed read is retried
 * on the next request.
 */
declare module "sst/node/config" {
  export interface SecretResources {
    SLACK_SIGNING_SECRET: { value: string };
    SLACK_BOT_TOKEN: { value: string };
  }
}

type Name = "SLACK_SIGNING_SECRET" | "SLACK_BOT_TOKEN";
const cache = new Map<Name, Promise<string>>();

export function secret(name: Name): Promise<string> {
  let value = cache.get(name);
  if (!value) {
    value = import("sst/node/config").then(({ Config }) => Config[name]);
    value.catch(() => cache.delete(name));
    cache.set(name, value);
  }
  return value;
}
