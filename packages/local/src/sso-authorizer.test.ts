/**
 * Local mode's JWT authorizer checks what API Gateway's does: signature by the issuer's key,
 * issuer, audience (or client_id), expiry; `alg: none`, tampered and foreign tokens are 401s and
 * the claims never reach the handler.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConsoleAuth } from "./sso-authorizer.ts";

type Key = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

let server: Server;
let issuer: string;
let key: Key;
let otherKey: Key;
const auth = new ConsoleAuth();

beforeAll(async () => {
  const pair = await generateKeyPair("RS256", { extractable: true });
  key = pair.privateKey;
  otherKey = (await generateKeyPair("RS256")).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  server = createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    if (req.url === "/.well-known/openid-configuration")
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    else res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await auth.configure({ issuer, clientId: "console", scopes: ["openid"] });
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function sign(claims: JWTPayload, opts: { key?: Key; exp?: string | number } = {}): Promise<string> {
  return new SignJWT({ sub: "00u-alice", aud: "console", iss: issuer, ...claims })
    .setProtectedHeader({ alg: "RS256", kid: "k1" })
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? "10m")
    .sign(opts.key ?? key);
}

function event(token: string | undefined, headers: Record<string, string> = {}): APIGatewayProxyEventV2 {
  return {
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      "x-reflex-actor": "cli:mallory",
      ...headers,
    },
    requestContext: {},
  } as unknown as APIGatewayProxyEventV2;
}

const authorizerOf = (e: APIGatewayProxyEventV2) =>
  (e.requestContext as { authorizer?: { jwt: { claims: JWTPayload } } }).authorizer;

describe("local mode's JWT authorizer", () => {
  it("passes a valid token's claims on as API Gateway does, and drops x-reflex-actor", async () => {
    const e = event(await sign({ name: "Alice" }));

    expect(await auth.authorize(e)).toBeUndefined();
    expect(authorizerOf(e)?.jwt.claims).toMatchObject({ sub: "00u-alice", name: "Alice" });
    expect(e.headers["x-reflex-actor"]).toBeUndefined();
  });

  it("accepts an access token whose client_id is the audience when it has no aud", async () => {
    const e = event(await sign({ aud: undefined, client_id: "console" }));

    expect(await auth.authorize(e)).toBeUndefined();
  });

  const bad: Array<[string, () => Promise<string>, RegExp]> = [
    ["expired", () => sign({}, { exp: Math.floor(Date.now() / 1000) - 60 }), /expired/],
    ["for another audience", () => sign({ aud: "someone-else" }), /audience/],
    ["from another issuer", () => sign({ iss: "https://evil.example.com" }), /iss/],
    ["signed by a key that is not the issuer's", () => sign({}, { key: otherKey }), /signature/],
    [
      "unsigned (alg: none)",
      async () => {
        const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
        return `${part({ alg: "none", typ: "JWT" })}.${part({ sub: "00u-alice", aud: "console", iss: issuer, exp: 4e9 })}.`;
      },
      /algorithm|not a valid/,
    ],
    [
      "signed with HMAC (alg confusion: a shared secret where the issuer signs with RSA)",
      () =>
        new SignJWT({ sub: "00u-alice", aud: "console", iss: issuer })
          .setProtectedHeader({ alg: "HS256", kid: "k1" })
          .setIssuedAt()
          .setExpirationTime("10m")
          .sign(new TextEncoder().encode("a-secret-anyone-could-pick-0123456789")),
      /algorithm/,
    ],
    [
      "tampered (its subject changed after signing)",
      async () => {
        const [h, p, s] = (await sign({})).split(".");
        const claims = JSON.parse(Buffer.from(p, "base64url").toString());
        return [h, Buffer.from(JSON.stringify({ ...claims, sub: "00u-bob" })).toString("base64url"), s].join(
          ".",
        );
      },
      /signature/,
    ],
  ];
  it.each(bad)("refuses a token %s with a 401 and passes nothing on", async (_what, token, why) => {
    const e = event(await token());

    const refused = await auth.authorize(e);

    expect(refused).toMatchObject({ status: 401, code: "invalid_token" });
    expect(refused?.message).toMatch(why);
    expect(authorizerOf(e)).toBeUndefined();
  });

  it("refuses a browser's request without a token once sign-in is on, and lets the CLI's through", async () => {
    expect(await auth.authorize(event(undefined, { "sec-fetch-site": "same-origin" }))).toMatchObject({
      status: 401,
    });
    expect(await auth.authorize(event(undefined, { "sec-fetch-mode": "cors" }))).toBeUndefined();
  });
});
