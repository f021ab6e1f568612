/**
 * esbuild plugin: in a Lambda function the SDK's credentials are always the execution role's,
 * which Lambda puts in the environment. The SDK's default chain (`@aws-sdk/credential-provider-node`)
 * also carries the SSO, STS, web-identity, INI, process and instance-metadata providers, with
 * their own SSO, SSO-OIDC and STS clients: about a third of a small bundle (the Slack
 * acknowledgement's), loaded for nothing. Bundles get an environment-only provider instead.
 * Local mode and the CLI are not bundled and keep the whole chain (profiles, SSO).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const STUB = join(dirname(fileURLToPath(import.meta.url)), "lambda-env-credentials.js");

export const lambdaEnvCredentials = {
  name: "lambda-env-credentials",
  setup(build: { onResolve: (opts: { filter: RegExp }, cb: () => { path: string }) => void }) {
    build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({ path: STUB }));
  },
};
