/**
 * Local mode's stand-in for API Gateway's JWT authorizer (on with `reflex start --sso`). Deployed,
 * API Gateway checks a console request's `Authorization: Bearer <JWT>` and hands the Lambda the
 * claims as `requestContext.authorizer.jwt`; here the server calls {@link ConsoleAuth.authorize}
 * on the event it builds, which checks what API Gateway documents it checks, with `jose` against
 * the issuer's JWKS, and puts the claims in the same place. The API handler is the same code
 * either way: it only reads the claims (packages/functions/src/api.ts).
 *
 * Checked (API Gateway's "Validating a JWT"): a signature by a key of the issuer's JWKS (its
 * `kid`), an asymmetric algorithm (never `none`, never HMAC with a public key); `iss` is the
 * issuer; `aud` — or, for access tokens without one, `client_id` — is the audience; `exp`
 * is in the future, `nbf` and `iat` not. Any failure is a 401 and the request goes no further.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { createRemoteJWKSet } from "jose";

export interface ConsoleOidc {
  issuer: string;
  clientId: string;
  audience?: string;
  scopes: string[];
}

/** What the console fetches as `console-config.json`: where its API is and how to sign in. */
export interface ConsoleConfig {
  /** The API base; empty is the page's own origin. */
  api: string;
  oidc?: ConsoleOidc;
}

/** Asymmetric algorithms only, as API Gateway (it supports RSA; EC and EdDSA are as safe). */
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

export type Refusal = { status: 401; code: string; message: string };

export class ConsoleAuth {
  #oidc?: ConsoleOidc;
  #jwks?: ReturnType<typeof createRemoteJWKSet>;
  #jose?: typeof import("jose");

  /** Turns the checks on for tokens of this issuer (the JWKS is found through its discovery document). */
  async configure(oidc: ConsoleOidc): Promise<void> {
    const discovery = (await (
      await fetch(`${oidc.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`)
    ).json()) as { jwks_uri?: string; issuer?: string };
    if (discovery.issuer !== oidc.issuer || typeof discovery.jwks_uri !== "string")
      throw new Error(
        `${oidc.issuer} is not an OIDC issuer (its discovery document names another or no JWKS)`,
      );
    // jose is loaded only when sign-in is on (`reflex start --sso`).
    this.#jose = await import("jose");
    this.#jwks = this.#jose.createRemoteJWKSet(new URL(discovery.jwks_uri));
    this.#oidc = oidc;
  }

  get enabled(): boolean {
    return this.#oidc !== undefined;
  }

  /** `console-config.json`, or undefined when the console signs nobody in (no `--sso`). */
  consoleConfig(): ConsoleConfig | undefined {
    return this.#oidc ? { api: "", oidc: this.#oidc } : undefined;
  }

  /**
   * Checks the event's bearer token, if any, and puts its claims where API Gateway would. A
   * browser's request (it sends `sec-fetch-mode`) must carry one once sign-in is on: the
   * console's "acting as" is not a door around it. The CLI's requests (local mode's stand-in
   * for IAM signing) are left as they are.
   */
  async authorize(event: APIGatewayProxyEventV2): Promise<Refusal | undefined> {
    const header = event.headers.authorization;
    const bearer = header && /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!header || !/^Bearer\b/i.test(header)) {
      // Browsers send `sec-fetch-site` (Node's fetch, which the CLI uses, sends only sec-fetch-mode).
      if (this.#oidc && (event.headers["sec-fetch-site"] !== undefined || event.headers.origin !== undefined))
        return {
          status: 401,
          code: "unauthorized",
          message: "sign in first: the console's requests need a token",
        };
      return undefined;
    }
    if (!this.#oidc || !this.#jwks || !this.#jose)
      return {
        status: 401,
        code: "unauthorized",
        message: "local mode checks tokens only with `reflex start --sso`",
      };
    if (!bearer)
      return { status: 401, code: "invalid_token", message: "the Authorization header has no token" };
    const oidc = this.#oidc;
    const { errors, jwtVerify } = this.#jose;
    const audience = oidc.audience ?? oidc.clientId;
    try {
      const { payload } = await jwtVerify(bearer, this.#jwks, {
        issuer: oidc.issuer,
        algorithms: ALGORITHMS,
        requiredClaims: ["exp", "sub"],
      });
      const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
      if (!(aud.includes(audience) || (aud.length === 0 && payload.client_id === audience)))
        return {
          status: 401,
          code: "invalid_token",
          message: `the token is not for this API (audience ${audience})`,
        };
      if (typeof payload.iat === "number" && payload.iat > Date.now() / 1000 + 60)
        return { status: 401, code: "invalid_token", message: "the token was issued in the future" };
      const scope = typeof payload.scope === "string" ? payload.scope.split(" ") : [];
      (event.requestContext as { authorizer?: unknown }).authorizer = {
        jwt: { claims: payload as Record<string, string | number | boolean | string[]>, scopes: scope },
      };
      // The deployed API never sees a header the authorizer replaced; neither does the handler here.
      delete event.headers["x-reflex-actor"];
      return undefined;
    } catch (err) {
      const why =
        err instanceof errors.JWTExpired
          ? "the token has expired"
          : err instanceof errors.JWTClaimValidationFailed
            ? `the token's ${err.claim} is not accepted`
            : err instanceof errors.JWSSignatureVerificationFailed
              ? "the token's signature does not verify"
              : err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported
                ? "the token's algorithm is not accepted"
                : err instanceof errors.JWKSNoMatchingKey
                  ? "the token is not signed by a key of the issuer"
                  : "the token is not a valid JWT";
      return { status: 401, code: "invalid_token", message: why };
    }
  }
}
