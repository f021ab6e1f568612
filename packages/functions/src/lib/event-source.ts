/**
 * What `POST /events` may accept from whom. Deployed, the route is behind IAM auth: the actor is
 * the IAM caller's ARN, the account is the real one (never the caller's word), and a source is
 * accepted only if the config allows it on this route (default: not `aws.*`, which only
 * EventBridge itself may deliver). Local mode (not in Lambda) is the local bus: every source.
 */
import { Admission, type Config, ValidationError } from "@reflex/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";

const IAM_ARN = /^arn:[a-z0-9-]+:(iam|sts)::\d{12}:\S+$/;

/**
 * The IAM authorizer's `userArn` as an actor: the identity the caller cannot choose
 * (`People.identityOf`: a role session is its role), with the ARN as it arrived as `raw`. Only an
 * IAM ARN is taken: anything else (not a string, `person:…`, `slack:…`) is a 400, never read as
 * the person or Slack user it names.
 */
export function iamCaller(userArn: unknown, config: Config): { id: string; raw?: string } {
  if (typeof userArn !== "string" || !IAM_ARN.test(userArn))
    throw new ValidationError(
      "invalid_caller",
      `the caller's IAM ARN ${JSON.stringify(userArn)?.slice(0, 100) ?? "(none)"} is not an IAM user or role ARN`,
      [{ path: "requestContext.authorizer.iam.userArn", message: "not an IAM ARN" }],
    );
  const id = Admission.People.identityOf(userArn, config);
  return id === userArn ? { id } : { id, raw: userArn };
}

/** The claims of a console request's token, as API Gateway's JWT authorizer passes them (and local mode's, sso-authorizer.ts). */
export type JwtClaims = Record<string, unknown>;

/**
 * A signed-in console user as an actor: `oidc:<sub>`, the token's subject, which `people`
 * (`oidc:` entries) links to a person. The authorizer has checked the token; a claim set
 * without a usable `sub` is refused (400), never read as someone.
 */
export function oidcCaller(claims: JwtClaims | undefined): { id: string; raw?: string } {
  const sub = claims?.sub;
  if (typeof sub !== "string" || sub.length === 0 || sub.length > 255)
    throw new ValidationError("invalid_caller", "the token has no usable subject (sub)", [
      { path: "requestContext.authorizer.jwt.claims.sub", message: "not a subject" },
    ]);
  return { id: `oidc:${sub}` };
}

/** Who signed the request (see {@link iamCaller}), or `local` outside Lambda. */
export function callerOf(event: APIGatewayProxyEventV2, config: Config): { id: string; raw?: string } {
  const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: unknown } } }).authorizer?.iam;
  if (iam) return iamCaller(iam.userArn, config);
  return { id: inLambda() ? "iam:unknown" : "local" };
}

function inLambda(): boolean {
  return Boolean(process.env.AWS_LAMBDA_FUNCTION_NAME);
}

/** Why `source` is refused on `POST /events`, or undefined when it is accepted. */
export function refusedSource(source: unknown, config: Config): string | undefined {
  if (!inLambda()) return undefined;
  const allowed = config.api.eventSources;
  if (typeof source !== "string") return "the event has no source";
  // In any case: a rule may match AWS's source with `equals-ignore-case`, so `AWS.cloudwatch`
  // is AWS's source to it, and must be EventBridge's alone as `aws.cloudwatch` is.
  if (allowed ? allowed.includes(source) : !source.toLowerCase().startsWith("aws.")) return undefined;
  return allowed
    ? `source '${source}' is not in api.eventSources (${allowed.join(", ")})`
    : `source '${source}' is AWS's own: only EventBridge delivers it; POST /events accepts custom sources (set api.eventSources to change this)`;
}

/** The account events are stamped with: the deployment's own (`REFLEX_ACCOUNT`), whatever the body says. */
export function stampAccount(envelope: unknown): unknown {
  const account = process.env.REFLEX_ACCOUNT;
  if (!account || !envelope || typeof envelope !== "object") return envelope;
  return { ...(envelope as Record<string, unknown>), account };
}
