/**
 * `/reflex …` text into a command. Never throws: anything it cannot read becomes `help` (an
 * unknown word) or `invalid` (a known command used wrongly, with its usage). Params stay as
 * `k=v` text here; they are typed by the runbook's schema when the command runs, so this
 * module (on the acknowledgement path) needs no runbook.
 */

export type Command =
  | { kind: "run"; runbook: string; pairs: string[]; dryRun: boolean }
  | { kind: "status"; executionId?: string }
  | { kind: "list" }
  | { kind: "runbooks" }
  | { kind: "approvals" }
  | { kind: "approve"; executionId: string; comment?: string }
  | { kind: "reject"; executionId: string; reason: string }
  | { kind: "abort"; executionId: string; reason: string }
  | { kind: "pause"; reason: string }
  | { kind: "resume" }
  | { kind: "whoami" }
  | {
      /** Off-hours' overrides: a run of the off-hours runbook (action keep / release), admitted as the person. */
      kind: "offhours";
      action: "keep" | "release";
      targets: string[];
      until?: string;
      for?: string;
      reason?: string;
      start: boolean;
    }
  | { kind: "help"; unknown?: string }
  | { kind: "invalid"; command: string; message: string };

export const USAGE: Record<string, string> = {
  run: "/reflex run <runbook> [key=value]… [--dry-run]",
  status: "/reflex status [execution-id]",
  list: "/reflex list",
  runbooks: "/reflex runbooks",
  approvals: "/reflex approvals",
  approve: "/reflex approve <execution-id> [comment]",
  reject: "/reflex reject <execution-id> <reason>",
  abort: "/reflex abort <execution-id> <reason>",
  pause: "/reflex pause <reason>",
  resume: "/reflex resume",
  whoami: "/reflex whoami",
  "offhours keep": "/reflex offhours keep <target>… for <3h> | until <22:00> [--start] because <reason>",
  "offhours release": "/reflex offhours release <target>… [because <reason>]",
  help: "/reflex help",
};

/** What each command does, for `help`. */
export const SUMMARY: Record<string, string> = {
  run: "start a runbook (typed params; --dry-run reports the plan and changes nothing)",
  status: "one run's status, steps and what to do next; without an id, what is running",
  list: "recent and running runs",
  runbooks: "the runbooks you may run, with their params and an example",
  approvals: "runs waiting for your approval",
  approve: "approve a waiting run",
  reject: "reject a waiting run, with the reason",
  abort: "stop a running run (gracefully, then rollback), with the reason",
  pause: "pause automatic runs (rules, schedules, windows)",
  resume: "resume automatic runs and reset the circuit breaker",
  whoami: "your Slack id, your roles and what they let you do",
  "offhours keep":
    "keep off-hours targets (i-… or asg:<group>) running for a while or until a time in their schedule's zone; it ends by itself",
  "offhours release": "cancel off-hours overrides: the schedule acts again at the next tick",
  help: "this list",
};

const ID = /^[A-Za-z0-9_-]{1,80}$/;
const RUNBOOK = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * The longest command text read. Slack caps what a person can type into a message; a command
 * longer than this is refused whole, never cut: cutting `… --dry-run` off the end would start
 * a real run.
 */
export const MAX_TEXT = 4000;

/** Slack escapes &, < and > in command text (api.slack.com/reference/surfaces/formatting#escaping). */
export function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/**
 * Text for a Slack message: `&`, `<` and `>` as Slack's escaping rules ask
 * (api.slack.com/reference/surfaces/formatting#escaping), so text a person or the world
 * supplied (a param, a reason, an error, a tag) shows as typed and never becomes a mention
 * (`<!channel>`), a link or a date. Only these three: other entities are shown as written.
 *
 * @example
 * esc("<!channel> & co") // "&lt;!channel&gt; &amp; co"
 */
export function esc(text: unknown): string {
  return String(text ?? "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;");
}

/** Typographic quotes (typed on a phone or a Mac: “ ” „ and ‘ ’) as the straight ones they stand for. */
function straighten(text: string): string {
  return text.replace(/[\u201c\u201d\u201e\u201f]/g, '"').replace(/[\u2018\u2019\u201a\u201b]/g, "'");
}

/** The end (exclusive) of the JSON value starting at `start`: a balanced object, array or string. */
function jsonEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (ch === '"') inString = true;
    else if (ch === "{" || ch === "[") depth++;
    else if (ch === "}" || ch === "]") {
      depth--;
      if (depth <= 0) return i + 1;
    } else if (depth === 0 && /\s/.test(ch)) return i;
  }
  return text.length;
}

/**
 * Words as a shell reads them (the CLI's `--param` values come through one): whitespace
 * separates; "double" and 'single' quotes keep a run together and are removed; a quote with no
 * closing one is text (an apostrophe). A `key:=` word takes a JSON value as written, its
 * quotes and spaces kept — `selector:={"tag": {"Backup": "daily"}}` — unless the value is
 * itself quoted (`selector:='{…}'`, as in the shell); so does `key=` followed by `{` or `[`
 * (an object written whole, which the param parser reads as JSON).
 */
export function tokenize(text: string): string[] {
  const s = straighten(unescapeSlack(text));
  const out: string[] = [];
  let word: string | undefined;
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (/\s/.test(ch)) {
      if (word !== undefined) out.push(word);
      word = undefined;
      i++;
      continue;
    }
    // `k:={…}`, `k:=[…]`, `k:="…"` and an object or list written whole (`k={…}`): JSON as written.
    if (
      word !== undefined &&
      (/^[A-Za-z0-9_.-]+:=$/.test(word) ? /[{["]/ : /^[A-Za-z0-9_.-]+=$/.test(word) ? /[{[]/ : /$^/).test(ch)
    ) {
      const end = jsonEnd(s, i);
      word += s.slice(i, end);
      i = end;
      continue;
    }
    if (ch === '"' || ch === "'") {
      const close = s.indexOf(ch, i + 1);
      if (close > i) {
        word = (word ?? "") + s.slice(i + 1, close);
        i = close + 1;
        continue;
      }
    }
    word = (word ?? "") + ch;
    i++;
  }
  if (word !== undefined) out.push(word);
  return out;
}

/** Free text after the leading words (a reason, a comment) as typed; one pair of quotes around it all is removed. */
function restOf(text: string, skipWords: number): string {
  const s = unescapeSlack(text).trim();
  let i = 0;
  for (let w = 0; w < skipWords; w++) {
    while (i < s.length && !/\s/.test(s[i])) i++;
    while (i < s.length && /\s/.test(s[i])) i++;
  }
  const rest = s.slice(i).trim();
  // Straightened only to see whether the whole is quoted; what is kept is as typed.
  const quoted = straighten(rest).match(/^(["'])(.*)\1$/s);
  return (quoted && !quoted[2].includes(quoted[1]) ? rest.slice(1, -1) : rest).trim();
}

function invalid(command: string, message: string): Command {
  return { kind: "invalid", command, message: `${message}. Usage: \`${esc(USAGE[command])}\`` };
}

function idArg(command: string, id: string | undefined): string | Command {
  if (!id) return invalid(command, "which run? give its execution id");
  if (!ID.test(id)) return invalid(command, `'${esc(id.slice(0, 80))}' is not an execution id`);
  return id;
}

/** The most targets one override names (the off-hours runbook's own bound). */
const MAX_OVERRIDE_TARGETS = 50;

/**
 * `offhours keep <target>… for 4h because <reason>` (or `until 22:00`; `--start` before
 * `because`) and `offhours release <target>… [because <reason>]`. The reason is the rest of the
 * text after `because`, as typed. Targets and times stay text: the off-hours runbook checks
 * them when the command runs (a target without the off-hours tag, an end beyond maxOverride).
 */
function offHoursCommand(sub: string, args: string[], raw: string, skip: number): Command {
  if (sub !== "keep" && sub !== "release") return invalid("offhours keep", "offhours takes keep or release");
  const usage = `offhours ${sub}`;
  const targets: string[] = [];
  let i = 0;
  const keyword = (w: string) => ["for", "until", "because"].includes(w.toLowerCase()) || w.startsWith("--");
  while (i < args.length && !keyword(args[i])) targets.push(args[i++]);
  if (targets.length === 0) return invalid(usage, "which targets? give instance ids (i-…) or asg:<group>");
  if (targets.length > MAX_OVERRIDE_TARGETS)
    return invalid(usage, `at most ${MAX_OVERRIDE_TARGETS} targets at once`);
  const out: Extract<Command, { kind: "offhours" }> = {
    kind: "offhours",
    action: sub,
    targets,
    start: false,
  };
  while (i < args.length) {
    const w = args[i].toLowerCase();
    if (w === "because") {
      const reason = restOf(raw, skip + i + 1);
      if (!reason) return invalid(usage, "because what? the reason is audited with the override");
      out.reason = reason;
      break;
    }
    if (sub === "keep" && (w === "for" || w === "until")) {
      const value = args[i + 1];
      if (!value || keyword(value)) return invalid(usage, `${w} what? e.g. for 3h or until 22:00`);
      if (out.for !== undefined || out.until !== undefined)
        return invalid(usage, "give one of for or until, not both");
      if (w === "for") out.for = value;
      else out.until = value;
      i += 2;
    } else if (sub === "keep" && w === "--start") {
      out.start = true;
      i++;
    } else return invalid(usage, `'${esc(args[i].slice(0, 40))}' is not understood there`);
  }
  if (sub === "keep") {
    if (out.for === undefined && out.until === undefined)
      return invalid(usage, "until when? give for <duration> or until <HH:MM>: an override must end");
    if (!out.reason)
      return invalid(usage, "a reason is required (because …): it is audited with the override");
  }
  return out;
}

/**
 * Reads `/reflex` text. Total: every string gives a command.
 *
 * @example
 * parse("run scale autoScalingGroup=web change=+2 --dry-run")
 * // { kind: "run", runbook: "scale", pairs: ["autoScalingGroup=web", "change=+2"], dryRun: true }
 */
export function parse(text: string): Command {
  const raw = String(text ?? "");
  // Counted as typed: Slack sends `<` as `&lt;`, which is one character to the person.
  const typed = unescapeSlack(raw).length;
  if (typed > MAX_TEXT) {
    const first = (raw.trim().split(/\s/, 1)[0] ?? "").toLowerCase();
    return invalid(
      Object.hasOwn(USAGE, first) ? first : "help",
      `that command is ${typed.toLocaleString("en")} characters, over ${MAX_TEXT.toLocaleString("en")} characters; nothing was run`,
    );
  }
  const words = tokenize(raw);
  const [first, ...rest] = words;
  const verb = (first ?? "help").toLowerCase();
  const restText = restOf(raw, 1);
  switch (verb) {
    case "run": {
      const [runbook, ...words] = rest;
      // Smart punctuation turns `--dry-run` into `—dry-run` (an em or en dash): read it as the flag.
      const args = words.map((w) => (/^[\u2013\u2014][a-z]/.test(w) ? `--${w.slice(1)}` : w));
      if (!runbook) return invalid("run", "which runbook? `/reflex runbooks` lists them");
      if (!RUNBOOK.test(runbook))
        return invalid("run", `'${esc(runbook.slice(0, 80))}' is not a runbook name`);
      const flags = args.filter((a) => a.startsWith("--"));
      const unknown = flags.find((f) => f !== "--dry-run" && f !== "--dryrun");
      if (unknown) return invalid("run", `unknown option ${esc(unknown.slice(0, 40))}`);
      return {
        kind: "run",
        runbook,
        pairs: args.filter((a) => !a.startsWith("--")),
        dryRun: flags.length > 0,
      };
    }
    case "status": {
      if (!rest[0]) return { kind: "status" };
      const id = idArg("status", rest[0]);
      return typeof id === "string" ? { kind: "status", executionId: id } : id;
    }
    case "list":
    case "ls":
      return { kind: "list" };
    case "runbooks":
      return { kind: "runbooks" };
    case "approvals":
      return { kind: "approvals" };
    case "approve": {
      const id = idArg("approve", rest[0]);
      if (typeof id !== "string") return id;
      const comment = restOf(raw, 2);
      return { kind: "approve", executionId: id, ...(comment ? { comment } : {}) };
    }
    case "reject":
    case "abort": {
      const id = idArg(verb, rest[0]);
      if (typeof id !== "string") return id;
      const reason = restOf(raw, 2);
      if (!reason) return invalid(verb, `a reason is required to ${verb} a run`);
      return { kind: verb, executionId: id, reason };
    }
    case "pause":
      if (!restText) return invalid("pause", "a reason is required to pause automation");
      return { kind: "pause", reason: restText };
    case "resume":
      return { kind: "resume" };
    case "whoami":
      return { kind: "whoami" };
    case "offhours":
      return offHoursCommand((rest[0] ?? "").toLowerCase(), rest.slice(1), raw, 2);
    // `/reflex keep i-… until 22:00 because …`: the short form of `offhours keep`.
    case "keep":
      return offHoursCommand("keep", rest, raw, 1);
    case "help":
    case "?":
      return { kind: "help" };
    default:
      return { kind: "help", unknown: verb.slice(0, 40) };
  }
}

/** The help text (mrkdwn). */
export function helpText(unknown?: string): string {
  const head = unknown ? `I don't know \`${esc(unknown)}\`. Here is what I can do:\n` : "Reflex commands:\n";
  return `${head}${Object.keys(USAGE)
    .map((k) => `• \`${esc(USAGE[k])}\` — ${SUMMARY[k]}`)
    .join("\n")}`;
}
