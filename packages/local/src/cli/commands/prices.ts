/**
 * `prices import` / `prices refresh`: the dated on-demand price table off-hours estimates savings
 * with, from a CSV the user owns (checked line by line) or from the AWS Price List (the work is in
 * ../prices.ts, loaded when it runs).
 */
import type { Command } from "commander";
import { type CommandContext, finish } from "./context.ts";

/** `prices import <file>`, `prices refresh`. */
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
  finish(
    prices
      .command("refresh")
      .description(
        "the same table from the AWS Price List (GetProducts: on-demand Linux, shared tenancy), dated today; a type with no price is listed unpriced, never $0; an error writes nothing",
      )
      .option("--types <list>", "instance types, comma-separated (t3.micro,m5.large)")
      .option("--from <file>", "refresh the types (and Region) of this price table")
      .option("--region <region>", "the Region to price (default: --from's, else us-east-1)")
      .option("--out <file>", "write the JSON here (default: print it)")
      .action(act(async (o) => (await import("../prices.ts")).refreshPrices(io, o))),
    [
      "reflex prices refresh --types t3.micro,m5.large --out prices.json",
      "reflex prices refresh --from prices.json --out prices.json",
    ],
    { json: true, server: true },
  );
  finish(prices, [
    "reflex prices import prices.csv --as-of 2026-12-01 --out prices.json",
    "reflex prices refresh --from prices.json --out prices.json",
  ]);
}
