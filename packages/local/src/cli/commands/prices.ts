/**
 * `prices import`: the dated on-demand price table off-hours estimates savings with, from a CSV
 * the user owns (checked line by line; the work is in ../prices.ts, loaded when it runs).
 */
import type { Command } from "commander";
import { type CommandContext, finish } from "./context.ts";

/** `prices import <file>`. */
export function pricesCommands(program: Command, { io, act }: CommandContext): void {
  const prices = program.command("prices").description("the price table savings are estimated with");
  finish(
    prices
      .command("import")
      .description(
        "check a CSV of on-demand prices (instanceType,usdPerHour) and write it, dated, as offHours.prices JSON; a bad line refuses the file",
      )
      .argument("<file>", "the CSV")
      .option("--as-of <date>", "the date of the prices (YYYY-MM-DD); required")
      .option("--region <region>", "the Region they are for", "us-east-1")
      .option("--out <file>", "write the JSON here (default: print it)")
      .action(act(async (file: string, o) => (await import("../prices.ts")).importPrices(io, file, o))),
    ["reflex prices import prices.csv --as-of 2026-12-01 --out prices.json"],
    { json: true },
  );
  finish(prices, ["reflex prices import prices.csv --as-of 2026-12-01 --out prices.json"]);
}
