/**
 * `reflex start --sso`: a real OpenID Connect provider (`oidc-provider`, the certified
 * implementation) on 127.0.0.1, so the console's sign-in (authorization code with PKCE), the
 * token checks and the `people` mapping run locally exactly as against an organisation's IdP.
 *
 * Its users come from the config: `console.localUsers`, else every `oidc:` subject of
 * `people`. The login page lists them (there are no passwords: anyone on this machine may be
 * anyone, as with local mode's "acting as"); a user the IdP knows but `people` does not link
 * signs in and then meets the API's 403, which is what a test of that needs.
 *
 * One client: the console, public (no secret, PKCE S256 required), whose only redirect is the
 * console's own page. Consent is not asked (a first-party app); ID tokens carry `name` and
 * `email`, so the console and the API's 403 can say who someone is without a userinfo call.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Config } from "@reflex/core";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

export interface LocalUser {
  sub: string;
  name?: string;
  email?: string;
}

export interface LocalIdp {
  /** The issuer, as tokens carry it: `http://127.0.0.1:<port>`. */
  issuer: string;
  clientId: string;
  users: LocalUser[];
  stop(): Promise<void>;
}

/** The console's client id when the config names none. */
export const LOCAL_CLIENT_ID = "reflex-console";

/** The users the loopback IdP knows: `console.localUsers`, else people's `oidc:` subjects. */
export function localUsersOf(config: Config): LocalUser[] {
  const listed = config.console.localUsers;
  if (listed) return listed;
  return config.people.flatMap((p) => p.oidc.map((sub) => ({ sub, name: p.name })));
}

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] as string,
  );

function page(res: ServerResponse, status: number, body: string, consoleOrigin = ""): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    // form-action covers the redirects after the post too: back to the console with the code.
    "content-security-policy": `default-src 'none'; form-action 'self' ${consoleOrigin}; style-src 'unsafe-inline'`,
    "cache-control": "no-store",
  });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Reflex local sign-in</title>
<style>body{font:16px system-ui;max-width:28rem;margin:4rem auto}label,button{display:block;margin:.5rem 0}</style>
</head><body>${body}</body></html>`);
}

function loginForm(uid: string, users: LocalUser[], error?: string): string {
  const options = users
    .map((u) => `<option value="${esc(u.sub)}">${esc(u.name ? `${u.name} (${u.sub})` : u.sub)}</option>`)
    .join("");
  return `<main><h1>Sign in to Reflex</h1>
<p>The local identity provider of <code>reflex start --sso</code>: pick who you are.</p>
${error ? `<p role="alert">${esc(error)}</p>` : ""}
<form method="post" action="/interaction/${esc(uid)}/login">
<label>User <select name="login" autofocus>${options}</select></label>
<button type="submit">Sign in</button></form></main>`;
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  let text = "";
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 8192) break;
  }
  return new URLSearchParams(text);
}

/**
 * Starts the loopback IdP for a console served at `consoleUrl` (its page is the redirect).
 *
 * @example
 * const idp = await startLocalIdp({ config, consoleUrl: "http://127.0.0.1:8787" });
 * // idp.issuer === "http://127.0.0.1:<port>"
 */
export async function startLocalIdp(opts: {
  config: Config;
  consoleUrl: string;
  port?: number;
}): Promise<LocalIdp> {
  const users = localUsersOf(opts.config);
  const byId = new Map(users.map((u) => [u.sub, u]));
  const clientId = opts.config.console.oidc?.clientId ?? LOCAL_CLIENT_ID;
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = {
    ...(await exportJWK(privateKey)),
    kid: randomBytes(8).toString("hex"),
    alg: "RS256",
    use: "sig",
  };

  // The port first: the issuer names it, and the provider is built with its issuer.
  let handle: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  const server: Server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        redirect_uris: [`${opts.consoleUrl}/`],
        response_types: ["code"],
        grant_types: ["authorization_code"],
        token_endpoint_auth_method: "none",
        application_type: "web",
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    claims: { openid: ["sub"], profile: ["name"], email: ["email"] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { IdToken: 3600, AccessToken: 3600, Session: 8 * 3600, Interaction: 600, Grant: 8 * 3600 },
    async findAccount(_ctx, sub) {
      const user = byId.get(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          ...(user.name ? { name: user.name } : {}),
          ...(user.email ? { email: user.email } : {}),
        }),
      };
    },
    // A first-party console: every scope it asks for is granted without a consent page.
    async loadExistingGrant(ctx) {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope("openid profile email");
      await grant.save();
      return grant;
    },
  });
  const callback = provider.callback();
  const consoleOrigin = new URL(opts.consoleUrl).origin;

  handle = async (req, res) => {
    try {
      const m = /^\/interaction\/([\w-]+)(\/login)?$/.exec(new URL(req.url ?? "/", issuer).pathname);
      if (!m) return callback(req, res);
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== m[1]) return page(res, 400, "<p>This sign-in has expired: start again.</p>");
      if (req.method === "GET") return page(res, 200, loginForm(details.uid, users), consoleOrigin);
      if (req.method !== "POST" || !m[2]) return page(res, 405, "<p>Method not allowed.</p>");
      const login = (await formBody(req)).get("login") ?? "";
      if (!byId.has(login))
        return page(
          res,
          400,
          loginForm(details.uid, users, `'${login}' is not a user of this IdP`),
          consoleOrigin,
        );
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: login } },
        { mergeWithLastSubmission: false },
      );
    } catch (err) {
      // An expired or unknown interaction (a stale tab): say so, not a stack.
      if (!res.headersSent)
        page(res, 400, `<p>Sign-in failed: ${esc((err as Error).message)}. Start again.</p>`);
    }
  };

  return {
    issuer,
    clientId,
    users,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
