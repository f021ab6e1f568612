/** `reflex offhours …`: the command tree (the work is in offhours.ts, loaded when a command runs). */
import { type Command, Option } from "commander";
import type { Action } from "./commands/context.ts";
import type { Io } from "./io.ts";

type Act = (fn: Action) => (...args: unknown[]) => Promise<void>;
type Finish = (
  cmd: Command,
  lines: string[],
  shared?: { json?: boolean; server?: boolean; as?: boolean },
) => Command;

export function registerOffHours(program: Command, io: Io, act: Act, finish: Finish): void {
  const offhours = finish(
    program
      .command("offhours")
      .description("off-hours cost control: overrides that expire by themselves, and the savings"),
    [
      "reflex offhours keep i-0abc123 --until 22:00 --reason 'release night'",
      "reflex offhours overrides",
      "reflex offhours preview office",
      "reflex offhours report --by tag:CostCenter --csv",
    ],
  );
  const load = () => import("./offhours.ts");
  finish(
    offhours
      .command("keep")
      .description(
        "keep targets running until a time (their schedule's zone) or for a while; the schedule resumes by itself",
      )
      .argument("<targets...>", "instance ids (i-…) or asg:<group>")
      .option("--until <time>", "HH:MM in the target's schedule zone, or an ISO instant")
      .option("--for <duration>", "e.g. 3h or 90m")
      .option("--reason <text>", "why (audited with the override)")
      .option("--start", "start them now if they are stopped")
      .option("--dry-run", "say what it would set; set nothing"),
    ['reflex offhours keep i-0abc1234 --until 22:00 --reason "release testing"'],
    { json: true, server: true, as: true },
  ).action(act(async (targets: string[], o) => (await load()).keep(io, targets, o)));
  finish(
    offhours
      .command("release")
      .description("cancel the overrides on targets; the schedule acts again at the next tick")
      .argument("<targets...>", "instance ids (i-…) or asg:<group>")
      .option("--reason <text>", "why (audited)")
      .option("--dry-run", "say what it would cancel; cancel nothing"),
    ['reflex offhours release i-0abc1234 --reason "testing done"'],
    { json: true, server: true, as: true },
  ).action(act(async (targets: string[], o) => (await load()).release(io, targets, o)));
  finish(
    offhours.command("overrides").description("the overrides in force (expired ones are gone)"),
    ["reflex offhours overrides --json"],
    { json: true, server: true },
  ).action(act(async (o) => (await load()).overrides(io, o)));
  finish(
    offhours
      .command("preview")
      .description(
        "a schedule's next transitions (its zone and UTC), what each tick would stop or start, and its hours a week; changes nothing",
      )
      .argument("<schedule>", "a schedule of offHours.schedules")
      .option("--transitions <n>", "how many upcoming transitions (1-28, default 4)")
      .option("--at <instant>", "preview from this ISO instant instead of now"),
    ["reflex offhours preview office", "reflex offhours preview office --transitions 10 --json"],
    { json: true, server: true, as: true },
  ).action(act(async (schedule: string, o) => (await load()).preview(io, schedule, o)));
  finish(
    offhours
      .command("report")
      .description("estimated savings of the stops that ended: instance-hours × your price table")
      .option("--from <date>", "stops that ended at or after this ISO date")
      .option("--to <date>", "stops that ended before this ISO date")
      .addOption(
        new Option("--by <key>", "group by the tag recorded with each stop").choices(["tag:CostCenter"]),
      )
      .option("--csv", "CSV instead of text"),
    ["reflex offhours report --from 2026-12-01 --by tag:CostCenter --csv"],
    { json: true, server: true },
  ).action(act(async (o) => (await load()).report(io, o)));
}
