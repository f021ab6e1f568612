/**
 * What the worker reads from a Slack request, checked field by field (types and lengths)
 * before anything uses it: a signed request is Slack's, but what it carries — a button's value,
 * a user id, a typed reason — came from a person, or from a client that can send anything.
 * A field that does not fit is refused with the field named; nothing reaches admission,
 * approvals or the state store (whose keys hold at most 2,048 bytes).
 *
 * The acknowledgement path does not import this module (it keeps zod out of its bundle).
 */
import { z } from "zod";
import type { Work } from "./ack.ts";
import { ACTIONS, REASON_BLOCK } from "./blocks.ts";

/** Slack's ids: users `U…`/`W…`, channels `C…`/`G…`/`D…`, teams `T…`/`E…` — upper-case letters and digits. */
const SLACK_ID = /^[A-Z0-9]{2,40}$/;
const EXECUTION_ID = /^[A-Za-z0-9_-]{1,80}$/;

/** Slack's documented limit on a button's `value`. */
export const MAX_ACTION_VALUE = 2000;
/** The reason box's `max_length` (blocks.ts). */
export const MAX_REASON = 1000;

const slackId = z.string({ error: "must be a string" }).regex(SLACK_ID, "is not a Slack id");

const responseUrl = z
  .string({ error: "must be a string" })
  .max(2000, "is over 2,000 characters")
  .refine((u) => {
    try {
      return new URL(u).protocol === "https:";
    } catch {
      return false;
    }
  }, "is not an https URL");

/** The buttons Reflex posts carry an execution id as their value. */
const RUN_BUTTONS: readonly string[] = [ACTIONS.approve, ACTIONS.reject, ACTIONS.runIt];

const action = z
  .object({
    action_id: z.string({ error: "must be a string" }).max(255, "is over 255 characters"),
    value: z
      .string({ error: "must be a string" })
      .max(MAX_ACTION_VALUE, `is over ${MAX_ACTION_VALUE.toLocaleString("en")} characters`)
      .optional(),
  })
  .superRefine((a, ctx) => {
    if (RUN_BUTTONS.includes(a.action_id) && !EXECUTION_ID.test(a.value ?? ""))
      ctx.addIssue({ code: "custom", path: ["value"], message: "is not an execution id" });
  });

const reasonValue = z
  .object({
    value: z
      .string({ error: "must be text" })
      .max(MAX_REASON, `is over ${MAX_REASON.toLocaleString("en")} characters (the reason)`)
      .nullish(),
  })
  .optional();

const interaction = z.object(
  {
    type: z.string({ error: "must be a string" }).max(64, "is over 64 characters"),
    user: z.object({ id: slackId }, { error: "must be an object with an id" }),
    channel: z.object({ id: slackId }, { error: "must be an object with an id" }).nullish(),
    response_url: responseUrl.optional(),
    actions: z
      .array(action, { error: "must be a list" })
      .min(1, "is empty")
      .max(5, "holds more than 5 actions"),
    state: z
      .object({
        values: z
          .object({ [REASON_BLOCK]: z.object({ [ACTIONS.rejectReason]: reasonValue }).optional() })
          .optional(),
      })
      .nullish(),
  },
  { error: "must be an object" },
);

export type Interaction = z.infer<typeof interaction>;

const command = z.object({
  user_id: slackId,
  channel_id: z.union([z.literal(""), slackId]),
  response_url: responseUrl.optional(),
});

export type Checked =
  | { ok: true; userId: string; channel: string; responseUrl?: string; interaction?: Interaction }
  | {
      ok: false;
      /** What is wrong, one line per field, for the reply and the audit entry. */
      problems: string[];
      /** The parts that did check out: who to audit, where to answer. */
      userId?: string;
      channel?: string;
      responseUrl?: string;
    };

const where = (path: PropertyKey[]) =>
  path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`)).join("");

function problems(error: z.ZodError): string[] {
  return error.issues.slice(0, 5).map((i) => `${where(i.path) || "the payload"} ${i.message}`);
}

/** What of the work can be trusted when the whole cannot: each part checked on its own. */
function salvage(keys: { user: unknown; channel: unknown; url: unknown }) {
  const user = slackId.safeParse(keys.user);
  const channel = slackId.safeParse(keys.channel);
  const url = responseUrl.safeParse(keys.url);
  return {
    userId: user.success ? user.data : undefined,
    channel: channel.success ? channel.data : undefined,
    responseUrl: url.success ? url.data : undefined,
  };
}

/**
 * Checks one piece of work from the acknowledgement path.
 *
 * @example
 * const checked = check(work);
 * if (!checked.ok) // answer politely, audit checked.problems
 */
export function check(work: Work): Checked {
  if (work.kind === "command") {
    const form = { user_id: work.user?.id, channel_id: work.channel, response_url: work.responseUrl };
    const out = command.safeParse(form);
    if (out.success)
      return {
        ok: true,
        userId: out.data.user_id,
        channel: out.data.channel_id,
        responseUrl: out.data.response_url,
      };
    return {
      ok: false,
      problems: problems(out.error),
      ...salvage({ user: form.user_id, channel: form.channel_id, url: form.response_url }),
    };
  }
  // What a refusal can still tell: who asked, where, and where to answer (read loosely, checked below).
  const p = (work.payload ?? {}) as {
    user?: { id?: string };
    channel?: { id?: string };
    response_url?: string;
  };
  const out = interaction.safeParse(p);
  if (out.success)
    return {
      ok: true,
      userId: out.data.user.id,
      channel: out.data.channel?.id ?? "",
      responseUrl: out.data.response_url,
      interaction: out.data,
    };
  return {
    ok: false,
    problems: problems(out.error),
    ...salvage({ user: p?.user?.id, channel: p?.channel?.id, url: p?.response_url }),
  };
}
