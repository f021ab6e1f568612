/** Requests to local mode's Slack routes, signed as Slack signs them. */
import { ChatOps } from "@reflex/core";

/**
 * POSTs `form` (a form's fields, or the encoded form) to `<url>/slack/<route>`, signed with
 * `secret` as sent at `ts` (seconds; default now: a test replaying a request passes its time).
 */
export function postSlack(
  url: string,
  route: "commands" | "interactions",
  form: Record<string, string> | string,
  secret: string,
  ts = Math.floor(Date.now() / 1000),
): Promise<Response> {
  const body = typeof form === "string" ? form : new URLSearchParams(form).toString();
  return fetch(`${url}/slack/${route}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": String(ts),
      "x-slack-signature": ChatOps.Signature.sign(secret, ts, body),
    },
    body,
  });
}
