/**
 * The runbook author's commands: `runbooks check` and `new runbook` (runbook-author.ts).
 */
import type { Command } from "commander";
import { cmdNewRunbook, cmdRunbooksCheck } from "../runbook-author.ts";
import { type CommandContext, finish } from "./context.ts";

/** `runbooks check` (under `runbooks`, so after it) and `new runbook`. */
export function authoringCommands(program: Command, { io, act }: CommandContext): void {
  const runbooks = program.commands.find((c) => c.name() === "runbooks") as Command;
  finish(
    runbooks
      .command("check")
      .description(
        "lint the runbooks a module exports: manifest, dry-run and rollback, example, permissions vs SDK imports",
      )
      .argument("<file>", "the module, e.g. runbooks/restart-service/index.ts")
      .action(act((file, o) => cmdRunbooksCheck(io, file, o))),
    ["reflex runbooks check examples/runbooks/restart-service/index.ts"],
    { json: true },
  );
  const scaffold = program.command("new").description("start something new from a template");
  finish(
    scaffold
      .command("runbook")
      .description(
        "write a runbook folder: manifest, steps, rollback, dry-run, permissions, a test, a doc page",
      )
      .argument("<name>", "the runbook's name, kebab-case")
      .option("--dir <dir>", "where its folder goes", "runbooks")
      .action(act((name, o) => cmdNewRunbook(io, name, o))),
    ["reflex new runbook restart-queue --dir runbooks"],
    { json: true },
  );
  finish(scaffold, ["reflex new runbook restart-queue --dir runbooks"]);
}
