/**
 * The work behind a Slack request, after the acknowledgement: every command and button click
 * is audited (user id, channel, command text), then runs through the same core functions as
 * the API — `admit()` for starts, `Approvals.answer`, `Runs.abort`, the guardrails — and the
 * answer goes back through the request's `response_url`. Refusals are answered politely; the
 * core functions audit them.
 */
import { createHash } from "node:crypto";
import * as Admission from "../admission/index.ts";
import * as Approvals from "../approvals.ts";
import { currentConfig } from "../config/index.ts";
import type { Config } from "../config/schema.ts";
import { AccessDeniedError, ConflictError, NotFoundError, ReflexError, ValidationError } from "../errors.ts";
import { parseParamPairs } from "../param-pairs.ts";
import * as Guardrails from "../policy/guardrails.ts";
import * as Runbooks from "../runbooks/index.ts";
import * as Runs from "../runs-api.ts";
import * as Audit from "../state/audit.ts";
import * as Executions from "../state/executions.ts";
import type { Work } from "./ack.ts";
import { ACTIONS, code, esc, type Message, mention, REASON_BLOCK, reply } from "./blocks.ts";
import type { Command } from "./command.ts";
import { USAGE } from "./command.ts";
import * as Payload from "./payload.ts";
import { responder, type Transport, transport } from "./transport.ts";

type Actor = Admission.Access.Actor;

export interface WorkOptions {
  config?: Config;
  transport?: Transport;
  now?: Date;
}

/** Handles one piece of work from the acknowledgement path. Never throws for a person's mistake. */
export async function handle(work: Work, opts: WorkOptions = {}): Promise<Message | undefined> {
  const config = opts.config ?? currentConfig();
  const t = opts.transport ?? transport();
  // Every field is checked before use: a signed request still carries what a person typed.
  const checked = Payload.check(work);
  const respond = responder(checked.responseUrl, work.receivedAt, t);
  if (!checked.ok) return refuse(work, checked, respond, opts.now);
  const userId = checked.userId;
  const actor: Actor = {
    id: `slack:${userId}`,
    groups: await t.userGroups(userId).catch(() => []),
  };
  const channel = checked.channel;
  const clicked = checked.interaction;
  const text =
    work.kind === "command" ? `/reflex ${work.text}`.trim() : describeClick(clicked as Payload.Interaction);
  await Audit.record(
    {
      kind: "chatops.command",
      actor: actor.id,
      reason: `${text.slice(0, 500)} (in ${channel || "a direct message"})`,
      data: { channel, user: userId, text: text.slice(0, 2000), groups: actor.groups },
    },
    opts.now,
  );
  let message: Message;
  try {
    message =
      work.kind === "command"
        ? await runCommand(work.command, actor, config, opts.now)
        : await click(clicked as Payload.Interaction, actor, config, opts.now);
  } catch (err) {
    message = reply(politeError(err, actor));
  }
  if (work.kind === "command" && work.answered) return message;
  await respond.send({ response_type: "ephemeral", replace_original: false, ...message });
  return message;
}

function describeClick(payload: Payload.Interaction): string {
  const action = payload.actions[0];
  return `button ${action.action_id} ${action.value ?? ""}`.trim();
}

/**
 * Work with a field that does not fit (a button value of 5,000 characters, a user id that is an
 * object): audited as `chatops.refused` with what was wrong, answered politely where the
 * request says to answer, and nothing else done.
 */
async function refuse(
  work: Work,
  checked: Extract<Payload.Checked, { ok: false }>,
  respond: ReturnType<typeof responder>,
  now?: Date,
): Promise<Message> {
  const what = work.kind === "command" ? "command" : "button click";
  const actor = checked.userId ? `slack:${checked.userId}` : "slack:unknown";
  await Audit.record(
    {
      kind: "chatops.refused",
      actor,
      reason: `a Slack ${what} that does not fit: ${checked.problems.join("; ")}`,
      guardrail: "input",
      data: { channel: checked.channel ?? "", problems: checked.problems },
    },
    now,
  );
  const message = reply(
    `:warning: Sorry${checked.userId ? ` ${mention(actor)}` : ""}, Reflex could not read that ${what}: ${esc(checked.problems.join("; "))}. Nothing was done.`,
  );
  await respond.send({ response_type: "ephemeral", replace_original: false, ...message });
  return message;
}

/** Turns an error from core into a sentence for the person who asked. */
export function politeError(err: unknown, actor: Actor): string {
  if (err instanceof AccessDeniedError)
    return `:no_entry: Sorry ${mention(actor.id)}, you may not do that: ${esc(err.message)}. Ask someone with the right role, or an admin to add you to \`access\` in the config.`;
  if (err instanceof NotFoundError) return `:grey_question: ${esc(err.message)}.`;
  if (err instanceof ConflictError) return `:warning: ${esc(err.message)}.`;
  if (err instanceof ValidationError) return `:warning: ${esc(err.message)}.`;
  if (err instanceof ReflexError) return `:x: ${esc(err.message)}.`;
  console.error("chatops: command failed", err);
  return ":x: Something went wrong on Reflex's side; the logs have the details.";
}

/** A runbook's example as `/reflex run` text: `k=v` pairs, nested keys dotted, lists comma-joined. */
export function exampleCommand(runbook: Runbooks.Runbook): string {
  const pairs: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
    } else if (Array.isArray(value)) pairs.push(`${path}=${value.join(",")}`);
    else pairs.push(`${path}=${String(value)}`);
  };
  walk(runbook.example, "");
  return `/reflex run ${runbook.name} ${pairs.join(" ")}`.trim();
}

const ACTIVE_STATUSES: readonly string[] = Executions.ACTIVE;

function runLine(
  e: Pick<Executions.Execution, "id" | "runbook" | "status" | "dryRun" | "startedAt" | "trigger">,
) {
  return `• \`${esc(e.id)}\` *${esc(e.runbook)}*${e.dryRun ? " (dry-run)" : ""} — ${esc(e.status)} · started ${esc(e.startedAt)} by ${mention(e.trigger.actor)}`;
}

function nextSteps(e: Pick<Executions.Execution, "id" | "status">): string {
  switch (e.status) {
    case "WAITING_FOR_APPROVAL":
      return `Next: \`/reflex approve ${esc(e.id)}\` or \`/reflex reject ${esc(e.id)} &lt;reason&gt;\``;
    case "RUNNING":
      return `Next: watch the thread, or \`/reflex abort ${esc(e.id)} &lt;reason&gt;\``;
    case "FAILED":
    case "TIMED_OUT":
      return "Next: read the failing step's error below, check the targets, then fix and run again";
    default:
      return "";
  }
}

async function runCommand(cmd: Command, actor: Actor, config: Config, now?: Date): Promise<Message> {
  switch (cmd.kind) {
    case "help":
    case "invalid":
      return reply(cmd.kind === "invalid" ? cmd.message : "help");
    case "run":
      return start(cmd, actor, config, now);
    case "offhours":
      return offHours(cmd, actor, config, now);
    case "status": {
      if (!cmd.executionId) {
        // From the running-run markers: the cost follows what runs, not the history.
        const running = await Executions.active();
        return reply(
          running.length ? `*Running*\n${running.map(runLine).join("\n")}` : "Nothing is running.",
        );
      }
      const e = await Executions.describe(cmd.executionId);
      const failed = e.steps.filter((s) => s.status === "FAILED").at(-1);
      return reply(
        [
          runLine(e),
          e.steps.length
            ? `*Steps:* ${esc(e.steps.map((s) => `${s.step}${s.target ? `(${s.target})` : ""} ${s.status}`).join(", "))}`
            : "",
          failed
            ? `*Failed at* ${esc(failed.step)}: ${esc(failed.error ?? "")} ${esc(failed.cause ?? "")}`
            : "",
          e.error ? `*Error:* ${esc(e.error)}${e.cause ? ` — ${esc(e.cause)}` : ""}` : "",
          e.result?.summary ? `*Result:* ${esc(e.result.summary)}` : "",
          nextSteps(e),
        ]
          .filter(Boolean)
          .join("\n"),
      );
    }
    case "list": {
      const [page, running] = await Promise.all([Executions.list({ limit: 50 }), Executions.active()]);
      const recent = page.executions.filter((e) => !ACTIVE_STATUSES.includes(e.status)).slice(0, 10);
      return reply(
        `*Running (${running.length})*\n${running.map(runLine).join("\n") || "none"}\n*Recent*\n${recent.map(runLine).join("\n") || "none"}`,
      );
    }
    case "runbooks": {
      const mine = Runbooks.list().filter(
        (r) =>
          Admission.Access.may(config, actor, "run", r.name) ||
          Admission.Access.may(config, actor, "dry-run", r.name),
      );
      if (!mine.length)
        return reply(
          `You (${mention(actor.id)}) may not run any runbook in ${esc(config.environment)}. \`/reflex whoami\` says why.`,
        );
      return reply(
        mine
          .map((r) => {
            const props = Object.keys((r.jsonSchema.properties as Record<string, unknown>) ?? {});
            return `*${esc(r.name)}* (${r.risk} risk) — ${esc(r.summary)}\n  params: ${esc(props.join(", ")) || "none"}\n  example: \`${esc(exampleCommand(r))}\``;
          })
          .join("\n"),
      );
    }
    case "approvals": {
      const pending = await Approvals.pending({ actor, config });
      return reply(
        pending.length
          ? `*Waiting for you*\n${pending.map((p) => `• \`${esc(p.executionId)}\` *${esc(p.runbook)}* by ${mention(p.requestedBy)} — deadline ${esc(p.deadline)} — \`/reflex approve ${esc(p.executionId)}\``).join("\n")}`
          : "Nothing is waiting for your approval.",
      );
    }
    case "approve":
    case "reject": {
      const out = await Approvals.answer({
        executionId: cmd.executionId,
        actor,
        answer: cmd.kind,
        comment: cmd.kind === "reject" ? cmd.reason : cmd.comment,
        config,
        now,
      });
      return reply(
        `${cmd.kind === "approve" ? ":white_check_mark: Approved" : ":x: Rejected"} \`${esc(cmd.executionId)}\` (${esc(out.status)}${out.status === "PENDING" ? `, ${out.approvals} of ${out.needed} approvals` : ""}).`,
      );
    }
    case "abort": {
      const out = await Runs.abort({
        executionId: cmd.executionId,
        actor,
        reason: cmd.reason,
        at: now,
      });
      return reply(
        `:octagonal_sign: Aborting \`${esc(out.executionId)}\` (${esc(out.mode)}); rollback ${esc(out.rollback)}.`,
      );
    }
    case "pause":
    case "resume": {
      if (!Runbooks.list().some((r) => Admission.Access.may(config, actor, "override-pause", r.name))) {
        const why = `${actor.id} may not ${cmd.kind} automation (it takes the override-pause action)`;
        await Audit.record(
          { kind: "chatops.refused", actor: actor.id, reason: why, guardrail: "pause" },
          now,
        );
        throw new AccessDeniedError(why);
      }
      if (cmd.kind === "pause") {
        await Guardrails.pause(actor.id, cmd.reason, now);
        return reply(
          `:double_vertical_bar: Automatic runs are paused: ${esc(cmd.reason)}. \`/reflex resume\` resumes them.`,
        );
      }
      await Guardrails.resume(actor.id, now);
      return reply(":arrow_forward: Automatic runs resumed; the circuit breaker is reset.");
    }
    case "whoami": {
      const me = Admission.Access.describeActor(
        config,
        actor,
        Runbooks.list().map((r) => r.name),
      );
      const may = Object.entries(me.may)
        .filter(([, a]) => a.length)
        .map(([r, a]) => `• *${esc(r)}*: ${esc(a.join(", "))}`);
      return reply(
        `You are ${mention(actor.id)} (\`${esc(me.actor)}\`) in *${esc(me.environment)}*; roles: ${esc(me.roles.join(", ")) || "none"}${actor.groups?.length ? `; groups: ${esc(actor.groups.join(", "))}` : ""}\n${may.join("\n") || "You may not do anything with any runbook."}${me.note ? `\n_${esc(me.note)}_` : ""}`,
      );
    }
  }
}

async function start(
  cmd: Extract<Command, { kind: "run" }>,
  actor: Actor,
  config: Config,
  now?: Date,
): Promise<Message> {
  if (!Runbooks.has(cmd.runbook))
    return reply(
      `:grey_question: There is no runbook \`${esc(cmd.runbook)}\`. \`/reflex runbooks\` lists the ones you may run.`,
    );
  const runbook = Runbooks.get(cmd.runbook);
  const example = `Example: \`${esc(exampleCommand(runbook))}\``;
  let params: Record<string, unknown>;
  try {
    params = parseParamPairs(cmd.pairs, runbook.jsonSchema as never);
  } catch (err) {
    return reply(`:warning: ${esc((err as Error).message.replace(/^--param /, "param "))}\n${example}`);
  }
  const a = await Admission.admit({
    runbook: runbook.name,
    params,
    dryRun: cmd.dryRun,
    trigger: { kind: "chatops", name: actor.id },
    actor,
    config,
    now,
  });
  return admitted(a, actor, example);
}

/**
 * `/reflex offhours keep|release …`: a run of the off-hours runbook (action keep / release),
 * admitted as the person (their Slack id through `people` and `access`), as the CLI and
 * `POST /api/offhours/overrides` do; bad targets or an end beyond maxOverride are named by the
 * runbook's precheck before anything is written.
 */
async function offHours(
  cmd: Extract<Command, { kind: "offhours" }>,
  actor: Actor,
  config: Config,
  now?: Date,
): Promise<Message> {
  if (!Runbooks.has("off-hours"))
    return reply(":grey_question: Off-hours is not set up here: the config lists no `off-hours` runbook.");
  const example = `Usage: \`${esc(USAGE[`offhours ${cmd.action}`])}\``;
  const a = await Admission.admit({
    runbook: "off-hours",
    params: {
      action: cmd.action,
      targets: cmd.targets,
      ...(cmd.until !== undefined ? { until: cmd.until } : {}),
      ...(cmd.for !== undefined ? { for: cmd.for } : {}),
      ...(cmd.reason !== undefined ? { reason: cmd.reason } : {}),
      ...(cmd.action === "keep" ? { start: cmd.start } : {}),
    },
    dryRun: false,
    trigger: { kind: "chatops", name: actor.id },
    actor,
    config,
    now,
  });
  if (!a.admitted) return admitted(a, actor, example);
  const what =
    cmd.action === "keep"
      ? `Keeping ${cmd.targets.map((t) => `\`${esc(t)}\``).join(" ")} running ${cmd.for ? `for ${esc(cmd.for)}` : `until ${esc(cmd.until)}`}${cmd.start ? " (started if stopped)" : ""}: ${esc(cmd.reason)}`
      : `Cancelling the override on ${cmd.targets.map((t) => `\`${esc(t)}\``).join(" ")}${cmd.reason ? `: ${esc(cmd.reason)}` : ""}; the schedule acts again at the next tick`;
  return reply(
    `:alarm_clock: ${what}. Run \`${esc(a.execution.id)}\` (off-hours); \`/reflex status ${esc(a.execution.id)}\` shows it.`,
  );
}

function admitted(a: Admission.Admission, actor: Actor, example: string): Message {
  if (a.admitted) {
    const e = a.execution;
    return reply(
      `:rocket: Started *${esc(e.runbook)}*${e.dryRun ? " (dry-run)" : ""} \`${esc(e.id)}\`.${a.approval.required ? ` It waits for approval (${esc(a.approval.reasons.join("; "))}).` : ""} Follow it in the run's thread, or \`/reflex status ${esc(e.id)}\`.`,
    );
  }
  if (a.duplicate) return reply(`:information_source: ${esc(a.reason)}.`);
  if (a.status === 400) {
    const issues = (a.issues ?? [])
      .map((i) => `• param \`${esc(i.path.replace(/^params\./, ""))}\`: ${esc(i.message)}`)
      .join("\n");
    return reply(`:warning: Those params do not fit: ${issues ? `\n${issues}` : esc(a.reason)}\n${example}`);
  }
  if (a.status === 403) return reply(politeError(new AccessDeniedError(a.reason), actor));
  return reply(`:no_entry_sign: Not started — refused by *${esc(a.check)}*: ${esc(a.reason)}.`);
}

/** The id of the one real run a dry-run's Run it button starts (an execution id: 1-80 of A-Z a-z 0-9 _ -). */
function realRunOf(dryRunId: string): string {
  const id = `${dryRunId}-real`;
  if (id.length <= 80) return id;
  const digest = createHash("sha256").update(dryRunId).digest("hex").slice(0, 16);
  return `${dryRunId.slice(0, 80 - 22)}-${digest}-real`;
}

/** A button click. */
async function click(
  payload: Payload.Interaction,
  actor: Actor,
  config: Config,
  now?: Date,
): Promise<Message> {
  const action = payload.actions[0];
  const id = action.value ?? "";
  switch (action.action_id) {
    case ACTIONS.approve:
    case ACTIONS.reject: {
      const answer = action.action_id === ACTIONS.approve ? "approve" : "reject";
      const reason = payload.state?.values?.[REASON_BLOCK]?.[ACTIONS.rejectReason]?.value ?? undefined;
      if (answer === "reject" && !String(reason ?? "").trim())
        return reply(
          `:warning: A rejection needs a reason: type it in the box above the buttons, then press Reject. (Or \`${esc(USAGE.reject.replace("/reflex reject <execution-id>", `/reflex reject ${id}`))}\`.)`,
        );
      const out = await Approvals.answer({ executionId: id, actor, answer, comment: reason, config, now });
      return reply(
        `${answer === "approve" ? "Approved" : "Rejected"} \`${esc(id)}\`${out.status === "PENDING" ? ` (${out.approvals} of ${out.needed} approvals)` : ""}.`,
      );
    }
    case ACTIONS.runIt: {
      const dry = await Executions.find(id);
      if (!dry || dry.status === "STARTING") throw new NotFoundError("execution", id);
      if (!dry.dryRun) return reply(`:information_source: \`${esc(id)}\` was a real run already.`);
      // The button sits in a channel: one real run per dry-run, whoever presses it and however
      // often. Its id comes from the dry-run's, so a second press is `execution_exists`.
      const realId = realRunOf(dry.id);
      const a = await Admission.admit({
        runbook: dry.runbook,
        params: dry.params,
        dryRun: false,
        trigger: { kind: "chatops", name: actor.id, rerunOf: dry.id },
        actor,
        config,
        now,
        executionId: realId,
      });
      if (!a.admitted && a.duplicate) {
        const real = await Executions.find(realId);
        return reply(
          `:information_source: \`${esc(id)}\` was already run for real: \`${esc(realId)}\`${real ? ` (started by ${esc(real.trigger.actor ?? real.trigger.name ?? "someone")}, ${esc(real.status)})` : ""}.`,
        );
      }
      return admitted(a, actor, `\`${code(dry.params)}\``);
    }
    case ACTIONS.rejectReason:
      // Enter in the reason box: nothing to do until Reject is pressed.
      return reply("Reason noted; press Reject to send it.");
    default:
      return reply(
        `:grey_question: I don't know that button (${esc(String(action?.action_id ?? "none").slice(0, 60))}).`,
      );
  }
}
