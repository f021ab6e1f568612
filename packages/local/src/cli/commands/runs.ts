/**
 * Commands about runs: start one (`run`), list the runbooks, list, show and follow runs, the audit
 * trail, `status`.
 */
import type { Command } from "commander";
import * as Runs from "../runs.ts";
import { type CommandContext, collect, finish } from "./context.ts";

/** `run`, `runbooks`, `executions`, `show`, `logs`, `audit`, `status`. */
export function runCommands(program: Command, { io, act }: CommandContext): void {
  finish(
    program
      .command("run")
      .description("start a runbook; with --wait, follow its steps until it ends")
      .argument("<runbook>", "a runbook name (reflex runbooks lists them)")
      .option(
        "--param <key=value>",
        "a param; repeat it; dotted keys nest, key:=<json> passes JSON",
        collect,
        [],
      )
      .option("--dry-run", "plan only: no mutating call, the plan is the result")
      .option("--wait", "print each step as it happens and wait for the end (Ctrl-C detaches)")
      .option("--override-freeze <reason>", "start during a change freeze (audited; your role must allow it)")
      .option("--override-pause <reason>", "start while automation is paused (audited)")
      .option(
        "--accounts <sel[,sel]>",
        "one child run per location: account ids, names, tag:key=value or * (config accounts)",
      )
      .option("--regions <r[,r]>", "with --accounts: only these Regions of the accounts chosen")
      .option("--exclude-accounts <sel[,sel]>", "with --accounts: leave these accounts out")
      .option("--location-concurrency <n|%>", "with --accounts: locations at once (default 1)")
      .option(
        "--location-max-errors <n|%>",
        "with --accounts: failed locations before no new one starts (default 0)",
      )
      .action(act((runbook, o) => Runs.run(io, runbook, o))),
    [
      "reflex run backup-snapshot --param selector.tag.Backup=daily --accounts tag:env=prod --regions us-east-1 --location-concurrency 2 --wait",
      "reflex run backup-snapshot --param selector.tag.Backup=daily --dry-run --wait",
      "reflex run scale --param autoScalingGroup=web --param change=+2 --wait",
      "reflex run backup-snapshot --param selector.tag.Role=db --json",
    ],
    { json: true, server: true, as: true },
  );

  finish(
    program
      .command("runbooks")
      .description("the runbooks: name, risk and summary; with a name, its params and an example")
      .argument("[name]", "a runbook name")
      .action(act((name, o) => Runs.runbooks(io, name, o))),
    ["reflex runbooks", "reflex runbooks scale", "reflex runbooks patch --json"],
    { json: true, server: true, as: false },
  );

  finish(
    program
      .command("executions")
      .description("executions, newest first, filtered and paged by the server")
      .option("--status <s[,s]>", "only these statuses, e.g. RUNNING,FAILED")
      .option("--runbook <name>", "only runs of this runbook")
      .option(
        "--since <when>",
        "only runs started since: a duration back from now (2h, 7d) or an RFC 3339 time",
      )
      .option("--limit <n>", "at most this many per page (1-500, default 25)")
      .option("--cursor <cursor>", "the page after this cursor (printed under a page that has more)")
      .option("--all", "follow every page to the end")
      .action(act((o) => Runs.executions(io, o))),
    [
      "reflex executions",
      "reflex executions --status RUNNING,FAILED --since 2h",
      "reflex executions --runbook backup-snapshot --limit 10",
      "reflex executions --all --json",
    ],
    { json: true, server: true, as: false },
  );

  finish(
    program
      .command("show")
      .description(
        "one execution: steps with status and timing, per-target results, plan reasons, rollback, audit, links",
      )
      .argument("<id>", "an execution id, a unique prefix of one, or latest")
      .option("--follow", "keep showing new steps until the run ends (Ctrl-C stops following, not the run)")
      .action(act((id, o) => Runs.show(io, id, o))),
    ["reflex show latest", "reflex show backup-snapshot --json", "reflex show latest --follow"],
    { json: true, server: true, as: false },
  );

  finish(
    program
      .command("logs")
      .description(
        "a run as chronological lines: steps started and ended (target, duration, error), audit entries",
      )
      .argument("<id>", "an execution id, a unique prefix of one, or latest")
      .option("--follow", "keep printing new lines until the run ends (Ctrl-C stops following, not the run)")
      .addHelpText("after", "\n--json prints one JSON object per line.")
      .action(act((id, o) => Runs.logs(io, id, o))),
    ["reflex logs latest", "reflex logs latest --follow", "reflex logs latest --json"],
    { json: true, server: true, as: false },
  );

  finish(
    program
      .command("audit")
      .description("the audit trail, newest first: every decision with its actor and reason")
      .option(
        "--execution <id>",
        "only entries about this execution: an id, a unique prefix of one, or latest",
      )
      .option("--actor <actor>", "only entries by this actor, e.g. cli:alice or rule:web-cpu-high")
      .option("--kind <kind>", "only entries of this kind, e.g. event.suppressed or execution.failed")
      .option("--since <when>", "only entries since: a duration back from now (2h) or an RFC 3339 time")
      .option("--limit <n>", "at most this many (1-500, default 50)")
      .option("--cursor <cursor>", "the page after this cursor")
      .action(act((o) => Runs.audit(io, o))),
    [
      "reflex audit",
      "reflex audit --kind event.suppressed --since 1h",
      "reflex audit --actor cli:alice --json",
    ],
    { json: true, server: true, as: false },
  );

  finish(
    program
      .command("status")
      .description("what runs, what waits for approval, pause and breaker, freezes, locks, cooldowns")
      .action(act((o) => Runs.status(io, o))),
    ["reflex status", "reflex status --json"],
    { json: true, server: true, as: true },
  );
}
