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
  help: "this list",
};

const ID = /^[A-Za-z0-9_-]{1,80}$/;
const RUNBOOK = /^[a-z][a-z0-9-]{0,62}$/;

/** Slack escapes &, < and > in command text; quotes may arrive as typographic quotes. */
function unescapeSlack(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/[\u201c\u201d]/g, '"');
}

/** Words, with "double quoted" runs kept together (quotes removed; apostrophes are text). */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"?|([^\s"]+)/g;
  let current: string | undefined;
  let lastEnd = -1;
  for (const m of unescapeSlack(text).matchAll(re)) {
    const piece = m[1] ?? m[2] ?? "";
    // `key="a b"` is one word: a quoted run glued to the word before it joins it.
    if (current !== undefined && m.index === lastEnd) current += piece;
    else {
      if (current !== undefined) out.push(current);
      current = piece;
    }
    lastEnd = m.index + m[0].length;
  }
  if (current !== undefined) out.push(current);
  return out;
}

function invalid(command: string, message: string): Command {
  return { kind: "invalid", command, message: `${message}. Usage: \`${USAGE[command]}\`` };
}

function idArg(command: string, id: string | undefined): string | Command {
  if (!id) return invalid(command, "which run? give its execution id");
  if (!ID.test(id)) return invalid(command, `'${id.slice(0, 80)}' is not an execution id`);
  return id;
}

/**
 * Reads `/reflex` text. Total: every string gives a command.
 *
 * @example
 * parse("run scale autoScalingGroup=web change=+2 --dry-run")
 * // { kind: "run", runbook: "scale", pairs: ["autoScalingGroup=web", "change=+2"], dryRun: true }
 */
export function parse(text: string): Command {
  const words = tokenize(String(text ?? "").slice(0, 4000));
  const [first, ...rest] = words;
  const verb = (first ?? "help").toLowerCase();
  const restText = rest.join(" ").trim();
  switch (verb) {
    case "run": {
      const [runbook, ...args] = rest;
      if (!runbook) return invalid("run", "which runbook? `/reflex runbooks` lists them");
      if (!RUNBOOK.test(runbook)) return invalid("run", `'${runbook.slice(0, 80)}' is not a runbook name`);
      const flags = args.filter((a) => a.startsWith("--"));
      const unknown = flags.find((f) => f !== "--dry-run" && f !== "--dryrun");
      if (unknown) return invalid("run", `unknown option ${unknown.slice(0, 40)}`);
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
      const comment = rest.slice(1).join(" ").trim();
      return { kind: "approve", executionId: id, ...(comment ? { comment } : {}) };
    }
    case "reject":
    case "abort": {
      const id = idArg(verb, rest[0]);
      if (typeof id !== "string") return id;
      const reason = rest.slice(1).join(" ").trim();
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
    case "help":
    case "?":
      return { kind: "help" };
    default:
      return { kind: "help", unknown: verb.slice(0, 40) };
  }
}

/** The help text (mrkdwn). */
export function helpText(unknown?: string): string {
  const head = unknown ? `I don't know \`${unknown}\`. Here is what I can do:\n` : "Reflex commands:\n";
  return `${head}${Object.keys(USAGE)
    .map((k) => `• \`${USAGE[k]}\` — ${SUMMARY[k]}`)
    .join("\n")}`;
}
