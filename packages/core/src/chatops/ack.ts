/**
 * The acknowledgement path: what `POST /slack/commands` and `POST /slack/interactions` do
 * within Slack's 3 seconds. Size check, signature (v0, 300 s window, replay), form parsing,
 * the command parser, and a hand-off of the real work (which loads runbooks, admission and the
 * state store) to the worker. It imports no runbook, no admission and no cloud client.
 */
import { type Command, esc, helpText, parse, unescapeSlack } from "./command.ts";
import { type ReplayGuard, verifyOnce } from "./signature.ts";

/**
 * The largest body accepted. Slack documents no request size; its own message limits bound
 * what it sends: a message is at most 40,000 characters (50 blocks of at most 3,000), and an
 * interaction payload carries that message, form-encoded (up to 3 bytes per byte escaped).
 * 256 KiB holds the largest message Reflex posts with room to spare; anything larger is not
 * a Slack request we made possible.
 */
export const MAX_BODY_BYTES = 256 * 1024;

export interface SlackUser {
  id: string;
  name?: string;
  teamId?: string;
}

export type Work =
  | {
      kind: "command";
      command: Command;
      text: string;
      user: SlackUser;
      channel: string;
      responseUrl?: string;
      receivedAt: number;
      /** The ack already answered (help): the worker only audits. */
      answered: boolean;
    }
  | { kind: "interaction"; payload: Record<string, unknown>; receivedAt: number };

export interface AckRequest {
  route: "commands" | "interactions";
  rawBody: string;
  headers: Record<string, string | undefined>;
  secret: string;
  replay: ReplayGuard;
  /** Hands the work on (deployed: an async Lambda invocation; local: the same process, later). */
  dispatch: (work: Work) => Promise<void>;
  now?: number;
  log?: (line: string) => void;
}

export interface AckResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const json = (statusCode: number, body: unknown): AckResponse => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: body === "" ? "" : JSON.stringify(body),
});
const error = (statusCode: number, code: string, message: string) =>
  json(statusCode, { error: { code, message } });

/**
 * Verifies, parses and acknowledges one Slack request; the work goes to `dispatch`.
 *
 * @example
 * const res = await acknowledge({ route: "commands", rawBody, headers, secret, replay, dispatch });
 */
export async function acknowledge(req: AckRequest): Promise<AckResponse> {
  const now = req.now ?? Date.now();
  const log = req.log ?? ((line) => console.warn(line));
  if (Buffer.byteLength(req.rawBody) > MAX_BODY_BYTES)
    return error(413, "too_large", `request body is over ${MAX_BODY_BYTES} bytes`);
  const verdict = await verifyOnce({
    secret: req.secret,
    rawBody: req.rawBody,
    headers: req.headers,
    now,
    replay: req.replay,
  });
  if (!verdict.ok) {
    // One line, and nothing else: no audit write, no work, for a request that is not Slack's.
    log(JSON.stringify({ level: "WARN", message: "slack request refused", reason: verdict.reason }));
    return error(401, "invalid_signature", "the request is not signed by Slack");
  }
  const form = new URLSearchParams(req.rawBody);
  if (req.route === "interactions") {
    let payload: unknown;
    try {
      payload = JSON.parse(form.get("payload") ?? "");
    } catch {
      return error(400, "invalid_payload", "payload must be JSON");
    }
    if (!payload || typeof payload !== "object" || Array.isArray(payload))
      return error(400, "invalid_payload", "payload must be a JSON object");
    await req.dispatch({ kind: "interaction", payload: payload as Record<string, unknown>, receivedAt: now });
    return json(200, "");
  }
  const user = form.get("user_id");
  if (!user) return error(400, "invalid_command", "user_id is missing");
  const text = form.get("text") ?? "";
  const command = parse(text);
  const answered = command.kind === "help" || command.kind === "invalid";
  await req.dispatch({
    kind: "command",
    command,
    text,
    user: { id: user, name: form.get("user_name") ?? undefined, teamId: form.get("team_id") ?? undefined },
    channel: form.get("channel_id") ?? "",
    responseUrl: form.get("response_url") ?? undefined,
    receivedAt: now,
    answered,
  });
  const reply =
    command.kind === "help"
      ? helpText(command.unknown)
      : command.kind === "invalid"
        ? `:warning: ${command.message}`
        : `:hourglass_flowing_sand: \`/reflex ${esc(unescapeSlack(text).slice(0, 200))}\` — on it.`;
  return json(200, { response_type: "ephemeral", text: reply });
}
