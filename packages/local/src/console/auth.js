/**
 * Sign-in for the console: the organisation's OIDC identity provider, authorization code with
 * PKCE (`oauth4webapi`; a public client, no secret in the page). Imported first by console.js:
 * this module's top-level await is the gate, so no view renders before the person is known.
 *
 * - Settings come from `console-config.json` beside the page (generated at deploy, or served by
 *   `reflex start --sso`): `{ api, oidc: { issuer, clientId, audience?, scopes } }`. Without it
 *   (plain `reflex start`) nobody signs in and the "acting as" field stays.
 * - The token lives in this module's memory only: never localStorage or sessionStorage. What a
 *   sign-in round trip needs (PKCE verifier, state, the page's route) waits in sessionStorage
 *   until the IdP sends the browser back, then is removed.
 * - The API gets the ID token (its audience is the client id), or the access token when
 *   `audience` is set (it must then be a JWT for that audience, as API Gateway checks).
 * - When the token expires (or the API says 401): a banner "session expired, sign in again";
 *   signing in again returns to the same route. An IdP that cannot be reached: a clear message,
 *   and the page keeps what it showed.
 * - A person the API does not know (403 from `GET /api/whoami`): the no-access page, naming them.
 */
/** oauth4webapi, loaded only when sign-in is on (100 KB a console without sign-in never needs). */
let oauth;

const PENDING = "reflex.signin";
/** Sign in again this long before the token's expiry, so a click does not meet a 401. */
const EARLY_MS = 60_000;

/** @type {{ token: string, claims: Record<string, unknown>, exp: number } | undefined} */
let session;
/** @type {Record<string, unknown> | undefined} */
let me;
let settings;
let expired = false;

/**
 * The headers that carry the person to the API: `{ authorization }` when signed in, else none.
 * @returns {Record<string, string>}
 */
export function authHeaders() {
  return session && !expired ? { authorization: `Bearer ${session.token}` } : {};
}

/** `GET /api/whoami`'s answer for the signed-in person (their roles and what they may do), or undefined. */
export function whoami() {
  return me;
}

/** Is sign-in on for this console (a `console-config.json` with `oidc`)? */
export function signInOn() {
  return Boolean(settings?.oidc);
}

/** The API said 401 to a signed-in request: the token is no longer good. */
export function authExpired() {
  if (session && !expired) showExpired();
}

function el(tag, attrs = {}, ...children) {
  const e = Object.assign(document.createElement(tag), attrs);
  e.append(...children.filter((c) => c !== undefined && c !== null));
  return e;
}

function isLoopback(u) {
  return ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
}

async function loadSettings() {
  try {
    // Asked for by boot.js from the head (it gates every view), else here.
    const boot = /** @type {any} */ (globalThis).reflexBoot;
    const early = boot?.config;
    if (boot) boot.config = undefined;
    const res = await (early ?? fetch(new URL("console-config.json", location.href), { cache: "no-store" }));
    return res.ok ? await res.json() : undefined;
  } catch {
    return undefined;
  }
}

/** The IdP's metadata; throws when it cannot be reached. */
async function discover(issuer) {
  const options = isLoopback(issuer) ? { [oauth.allowInsecureRequests]: true } : {};
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, options));
  return { as, options };
}

const redirectUri = () => `${location.origin}${location.pathname}`;

/** Leaves for the IdP; the route (hash) comes back with the person. */
async function signIn(issuer, route = location.hash) {
  const { as } = await discover(issuer);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, route }));
  const url = new URL(/** @type {string} */ (as.authorization_endpoint));
  url.search = new URLSearchParams({
    client_id: settings.oidc.clientId,
    redirect_uri: redirectUri(),
    response_type: "code",
    scope: [...new Set(["openid", ...(settings.oidc.scopes ?? [])])].join(" "),
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
  }).toString();
  location.assign(url.href);
  await new Promise(() => {}); // the page is leaving
}

/** Back from the IdP with `?code=…&state=…`: the code for tokens, then the route as it was. */
async function finishSignIn(issuer, params) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? "null");
  sessionStorage.removeItem(PENDING);
  if (!pending) throw new Error("this sign-in was not started here (or was already used): sign in again");
  const { as, options } = await discover(issuer);
  const client = { client_id: settings.oidc.clientId };
  const checked = oauth.validateAuthResponse(as, client, params, pending.state);
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(),
    checked,
    redirectUri(),
    pending.verifier,
    options,
  );
  const result = await oauth.processAuthorizationCodeResponse(as, client, response, { requireIdToken: true });
  const claims = oauth.getValidatedIdTokenClaims(result) ?? {};
  const token = settings.oidc.audience ? result.access_token : result.id_token;
  history.replaceState(null, "", `${redirectUri()}${pending.route ?? ""}`);
  return {
    token,
    claims,
    exp: Number(claims.exp ?? 0) * 1000 || Date.now() + (result.expires_in ?? 300) * 1000,
  };
}

function banner(...children) {
  const existing = document.getElementById("signin-banner");
  const b = el("div", { id: "signin-banner", className: "error", role: "alert" }, ...children);
  if (existing) existing.replaceWith(b);
  else document.getElementById("flash")?.before(b);
  return b;
}

function showExpired() {
  expired = true;
  const again = el("button", { type: "button", textContent: "Sign in again" });
  again.addEventListener("click", async () => {
    again.disabled = true;
    try {
      await signIn(new URL(settings.oidc.issuer));
    } catch (err) {
      again.disabled = false;
      banner(idpDownText(err), " ", again);
    }
  });
  banner("Your session has expired: what is shown stays as it was, read-only. ", again);
}

function idpDownText(err) {
  return `The sign-in service (${settings.oidc.issuer}) cannot be reached: ${err?.message ?? err}. Try again in a moment; nothing was done.`;
}

/** The whole page says one thing (no access, IdP down): the views stay away. */
function replacePage(title, ...children) {
  document.querySelector("header.top nav")?.setAttribute("hidden", "");
  document.getElementById("guardrails")?.setAttribute("hidden", "");
  const main = /** @type {HTMLElement} */ (document.getElementById("main"));
  main.replaceChildren(
    el("section", { className: "no-access" }, el("h2", { textContent: title }), ...children),
  );
  main.focus();
}

/** The no-access page: who the IdP says they are, and that this Reflex does not know them. */
export function renderNoAccess(message, claims = {}) {
  const who = [claims.name, claims.email, claims.sub && `subject ${claims.sub}`].filter(Boolean).join(" · ");
  replacePage(
    "No access",
    el("p", { textContent: `Signed in as ${who || "someone this Reflex does not know"}.` }),
    el("p", { textContent: message }),
    signOutButton(),
  );
}

/** The IdP-down page, when there is nothing yet to show. */
export function renderIdpDown(err) {
  const retry = el("button", { type: "button", textContent: "Try again" });
  retry.addEventListener("click", () => location.reload());
  replacePage("Cannot sign in", el("p", { textContent: idpDownText(err) }), retry);
}

function signOutButton() {
  const out = el("button", { type: "button", textContent: "Sign out" });
  out.addEventListener("click", () => {
    session = undefined;
    me = undefined;
    replacePage("Signed out", el("p", { textContent: "The token is gone from this page." }), signInButton());
  });
  return out;
}

function signInButton() {
  const b = el("button", { type: "button", textContent: "Sign in" });
  b.addEventListener("click", () => signIn(new URL(settings.oidc.issuer), "").catch(renderIdpDown));
  return b;
}

/** The header shows the signed-in person where "acting as" was. */
function showPerson(claims) {
  const label = document.querySelector("label.actor");
  const who = el("span", {
    className: "actor",
    id: "signed-in",
    textContent: `Signed in as ${me?.person ?? claims.name ?? claims.sub}`,
  });
  const out = signOutButton();
  // Hidden, not removed: console.js holds the field (its value is never read by the API once a
  // token is sent: the authorizer drops x-reflex-actor).
  label?.setAttribute("hidden", "");
  label?.after(el("span", { className: "actor" }, who, " ", out));
}

function scheduleExpiry() {
  if (!session) return;
  const wait = session.exp - Date.now() - EARLY_MS;
  setTimeout(showExpired, Math.max(0, Math.min(wait, 2 ** 31 - 1)));
}

/** The gate: returns once the person is signed in and known (or sign-in is off). */
async function gate() {
  settings = await loadSettings();
  if (!settings?.oidc) return;
  const issuer = new URL(settings.oidc.issuer);
  // Beside this file, served by the local server or the site (the name in a variable: tsc does
  // not look for a module it cannot see).
  const module = "./oauth4webapi.js";
  oauth = await import(module);
  const params = new URLSearchParams(location.search);
  try {
    if (!params.has("code") && !params.has("error")) return await signIn(issuer);
    session = await finishSignIn(issuer, params);
  } catch (err) {
    // The IdP's own refusal (error=access_denied…), a stale callback, or an IdP that is down.
    history.replaceState(null, "", redirectUri());
    if (err instanceof TypeError) renderIdpDown(err);
    else
      replacePage(
        "Sign-in failed",
        el("p", { textContent: err instanceof Error ? err.message : String(err) }),
        signInButton(),
      );
    return new Promise(() => {});
  }
  const base = (settings.api ?? "").replace(/\/$/, "");
  // The deployed console's API is named by console-config.json (the file beside the page, not a
  // link's ?api=): console.js reads reflexBoot.api after this module has finished.
  if (base && globalThis.reflexBoot) globalThis.reflexBoot.api = base;
  const res = await fetch(`${base}/api/whoami`, {
    headers: { accept: "application/json", ...authHeaders() },
  });
  const body = await res.json().catch(() => ({}));
  if (res.status === 403) {
    renderNoAccess(body?.error?.message ?? "This Reflex does not list you among its people.", session.claims);
    return new Promise(() => {});
  }
  if (!res.ok) {
    replacePage(
      "Sign-in failed",
      el("p", { textContent: body?.error?.message ?? `HTTP ${res.status}` }),
      signInButton(),
    );
    return new Promise(() => {});
  }
  me = body;
  showPerson(session.claims);
  scheduleExpiry();
}

await gate();
