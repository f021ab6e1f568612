/**
 * What a person does to a run: `approvals`, `approve`, `reject`, `abort`, `rerun`, and `whoami`.
 */
import { type Command, Option } from "commander";
import { clientFor } from "../io.ts";
import * as People from "../people.ts";
import * as Runs from "../runs.ts";
import { type CommandContext, finish } from "./context.ts";

/** `approvals`, `approve`, `reject`, `abort`, `rerun`, `whoami`. */
export function peopleCommands(program: Command, { io, act }: CommandContext): void {
  finish(
    program
      .command("approvals")
      .description("runs waiting for your approval")
      .option("--all", "every pending request, not only those you may answer")
      .action(act(async (o) => People.approvals(io, await clientFor(o), o))),
    ["reflex approvals", "reflex approvals --all --json"],
    { json: true, server: true, as: true },
  );
  finish(
    program
      .command("approve")
      .description("approve a run that waits for approval")
      .argument("<id>", "an execution id, a unique prefix of one, or latest")
      .option("--comment <text>", "recorded with your answer")
      .action(
        act(async (id, o) => {
          const api = await clientFor(o);
          return People.answer(io, api, "approve", await Runs.resolveId(api, id), o);
        }),
      ),
    ['reflex approve scale-20261128T100000Z-ab12cd --comment "looks right"'],
    { json: true, server: true, as: true },
  );
  finish(
    program
      .command("reject")
      .description("reject a run that waits for approval; it ends having changed nothing")
      .argument("<id>", "an execution id, a unique prefix of one, or latest")
      .option("--reason <text>", "why (required)")
      .addOption(new Option("--comment <text>", "same as --reason").hideHelp())
      .action(
        act(async (id, o) => {
          const api = await clientFor(o);
          return People.answer(io, api, "reject", await Runs.resolveId(api, id), {
            ...o,
            reason: o.reason ?? o.comment,
          });
        }),
      ),
    ['reflex reject scale-20261128T100000Z-ab12cd --reason "not during the sale"'],
    { json: true, server: true, as: true },
  );
  finish(
    program
      .command("abort")
      .description("stop a run: no new target starts, steps in flight finish, then rollback runs")
      .argument("<id>", "an execution id, a unique prefix of one, or latest")
      .option("--reason <text>", "why (required)")
      .option("--now", "stop at once, skipping rollback (check the targets afterwards)")
      .action(
        act(async (id, o) => {
          const api = await clientFor(o);
          return People.abort(io, api, await Runs.resolveId(api, id), o);
        }),
      ),
    ['reflex abort scale-20261128T100000Z-ab12cd --reason "wrong group"'],
    { json: true, server: true, as: true },
  );
  finish(
    program
      .command("rerun")
      .description("start a run again with the same params, through every check a new run passes")
      .argument("<id>", "the execution to repeat: an id, a unique prefix of one, or latest")
      .option("--dry-run", "repeat it as a dry-run")
      .option("--override-freeze <reason>", "start during a change freeze (audited)")
      .option("--override-pause <reason>", "start while automation is paused (audited)")
      .action(
        act(async (id, o) => {
          const api = await clientFor(o);
          return People.rerun(io, api, await Runs.resolveId(api, id), o);
        }),
      ),
    ["reflex rerun scale-20261128T100000Z-ab12cd --dry-run"],
    { json: true, server: true, as: true },
  );
  finish(
    program
      .command("whoami")
      .description("who the server thinks you are, your roles, and what you may do")
      .action(act(async (o) => People.whoami(io, await clientFor(o), o))),
    ["reflex whoami", "reflex whoami --as cli:alice --json"],
    { json: true, server: true, as: true },
  );
}
