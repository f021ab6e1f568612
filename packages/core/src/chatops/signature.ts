/**
 * Slack's request signing (v0): `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw
 * body>" keyed with the signing secret>`, `X-Slack-Request-Timestamp: <unix seconds>`. A request
 * is Slack's when the HMAC matches (compared in constant time), its timestamp is within five
 * minutes of now, and the same signature has not been seen within that window (a replay).
 *
 * This module is on the acknowledgement path: it loads nothing but `node:crypto`.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** Slack's window, and how long a seen signature is remembered. */
export const WINDOW_SECONDS = 300;

export type Verdict = { ok: true; timestamp: number; signature: string } | { ok: false; reason: string };

/** Remembers a signature; resolves false when it was already seen (a replay). */
export type ReplayGuard = (signature: string, expiresAtSeconds: number) => Promise<boolean>;

/** The v0 signature of a body, as Slack computes it. */
export function sign(secret: string, timestamp: number | string, rawBody: string): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${rawBody}`).digest("hex")}`;
}

function header(headers: Record<string, string | undefined>, name: string): string | undefined {
  return headers[name] ?? headers[name.toLowerCase()];
}

/**
 * Checks a request's signature and timestamp (not replays: see {@link verifyOnce}).
 *
 * @example
 * const v = verify({ secret, rawBody, headers: event.headers, now: Date.now() });
 * if (!v.ok) return { statusCode: 401 };
 */
export function verify(input: {
  secret: string;
  rawBody: string;
  headers: Record<string, string | undefined>;
  now: number;
}): Verdict {
  const signature = header(input.headers, "x-slack-signature");
  const ts = header(input.headers, "x-slack-request-timestamp");
  if (!signature || !ts) return { ok: false, reason: "missing signature or timestamp" };
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: "malformed timestamp" };
  const timestamp = Number(ts);
  if (Math.abs(input.now / 1000 - timestamp) > WINDOW_SECONDS)
    return { ok: false, reason: "stale timestamp (more than 300 s from now)" };
  if (!/^v0=[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: "malformed signature" };
  const expected = Buffer.from(sign(input.secret, ts, input.rawBody));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { ok: false, reason: "signature mismatch" };
  return { ok: true, timestamp, signature };
}

/** {@link verify}, then refuses a signature already seen within the window. */
export async function verifyOnce(
  input: Parameters<typeof verify>[0] & { replay: ReplayGuard },
): Promise<Verdict> {
  const v = verify(input);
  if (!v.ok) return v;
  const first = await input.replay(v.signature, v.timestamp + WINDOW_SECONDS);
  return first ? v : { ok: false, reason: "replayed request" };
}

/** An in-process replay guard (tests, benches; one process only). */
export function memoryReplayGuard(now: () => number = Date.now): ReplayGuard {
  const seen = new Map<string, number>();
  return async (signature, expiresAt) => {
    const nowS = now() / 1000;
    if (seen.size > 10_000) for (const [k, exp] of seen) if (exp < nowS) seen.delete(k);
    const exp = seen.get(signature);
    if (exp !== undefined && exp >= nowS) return false;
    seen.set(signature, expiresAt);
    return true;
  };
}
