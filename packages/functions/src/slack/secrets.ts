/**
 * The Slack secrets, set per stage with `npx sst secrets set <NAME> … --stage <stage>` (SSM
 * Parameter Store, `/sst/<app>/<stage>/Secret/<NAME>/value`). The stacks give each function the
 * one parameter it needs (`REFLEX_<NAME>_PARAMETER`) and IAM on that parameter only.
 *
 * Not SST's `Config.Secret` binding: when a stage's value is missing it falls back to the
 * app-wide `.fallback` value (and its grant covers that path), so a stage without its own
 * signing secret would accept requests signed with another stage's. Here a missing secret is
 * {@link SecretNotSetError}: the caller refuses the request and logs why.
 *
 * Read once per container (the acknowledgement starts the read during init in Lambda; elsewhere
 * a module import makes no network call); a failed read is retried on the next request. One signed GetParameter
 * (`@reflex/core/aws-signed`), not the SSM client: this is on the Slack acknowledgement's cold
 * path, and the client with the SDK's core is most of that handler's bundle.
 */
import { awsJson } from "@reflex/core/aws-signed";
import { requireEnv } from "@reflex/core/env";

export type SecretName = "SLACK_SIGNING_SECRET" | "SLACK_BOT_TOKEN";

/** The environment variable naming the stage's SSM parameter for a secret (set by stacks/api.ts). */
export const secretParameterEnv = (name: SecretName) => `REFLEX_${name}_PARAMETER`;

/** The stage has no value for the secret: fail closed (nothing is verified or sent with another stage's). */
export class SecretNotSetError extends Error {
  constructor(
    readonly secret: SecretName,
    readonly parameter: string,
  ) {
    super(
      `${secret} is not set for this stage (SSM parameter ${parameter} does not exist): every request that needs it is refused; set it with npx sst secrets set ${secret} <value> --stage <stage>`,
    );
    this.name = "SecretNotSetError";
  }
}

const cache = new Map<SecretName, Promise<string>>();

export function secret(name: SecretName): Promise<string> {
  let value = cache.get(name);
  if (!value) {
    value = read(name);
    value.catch(() => cache.delete(name));
    cache.set(name, value);
  }
  return value;
}

async function read(name: SecretName): Promise<string> {
  const parameter = requireEnv(secretParameterEnv(name));
  try {
    const out = await awsJson<{ Parameter?: { Value?: string } }>("ssm", "AmazonSSM.GetParameter", {
      Name: parameter,
      WithDecryption: true,
    });
    const value = out.Parameter?.Value;
    if (!value) throw new SecretNotSetError(name, parameter);
    return value;
  } catch (err) {
    if ((err as Error).name === "ParameterNotFound") throw new SecretNotSetError(name, parameter);
    throw err;
  }
}
