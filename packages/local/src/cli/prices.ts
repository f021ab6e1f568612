/**
 * `reflex prices import <file>`: a price table the user owns, from a CSV, checked line by line
 * and dated, written as the JSON that off-hours' `offHours.prices` takes (savings are estimated
 * with it). A file with one bad line is refused whole, naming the line: never a half table.
 *
 * The CSV: a header with `instanceType` and `usdPerHour` (any order; other columns ignored),
 * then one row per type. `#` lines and blank lines are skipped.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { type Io, UsageError } from "./io.ts";

export interface PriceTable {
  asOf: string;
  region: string;
  perHour: Record<string, number>;
}

/** A price file that does not hold a table: each problem with its line. */
export class PriceFileError extends UsageError {
  constructor(readonly problems: string[]) {
    super(`the price table was not imported (nothing written):\n${problems.join("\n")}`);
  }
}

const TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const PRICE = /^\d+(\.\d+)?$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

function isDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** Splits one CSV line (quotes allowed around a field, `""` inside one). */
function fields(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      out.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

/**
 * The table in `text` (a CSV named `file` in messages), dated `asOf`, for `region`; throws
 * PriceFileError with every bad line (`prices.csv:4: usdPerHour 'abc' is not a number`).
 */
export function parsePriceTable(
  text: string,
  file: string,
  opts: { asOf: string; region: string },
): PriceTable {
  const problems: string[] = [];
  if (!isDate(opts.asOf)) problems.push(`--as-of '${opts.asOf}' is not a date YYYY-MM-DD that exists`);
  if (!REGION.test(opts.region))
    problems.push(`--region '${opts.region}' is not an AWS region such as us-east-1`);
  const lines = text
    .split(/\r?\n/)
    .map((l, i) => ({ n: i + 1, l }))
    .filter((x) => x.l.trim() && !x.l.trim().startsWith("#"));
  const header = lines.shift();
  const cols = header ? fields(header.l) : [];
  const typeAt = cols.indexOf("instanceType");
  const priceAt = cols.indexOf("usdPerHour");
  if (!header || typeAt < 0 || priceAt < 0)
    throw new PriceFileError([
      ...problems,
      `${file}:${header?.n ?? 1}: the header must name the columns instanceType and usdPerHour`,
    ]);
  const perHour: Record<string, number> = {};
  const seen = new Map<string, number>();
  for (const { n, l } of lines) {
    const row = fields(l);
    const type = row[typeAt] ?? "";
    const price = row[priceAt] ?? "";
    if (!TYPE.test(type))
      problems.push(`${file}:${n}: instanceType '${type}' is not an instance type such as t3.micro`);
    if (!PRICE.test(price))
      problems.push(`${file}:${n}: usdPerHour '${price}' is not a number of dollars (e.g. 0.0104)`);
    else if (Number(price) <= 0)
      problems.push(`${file}:${n}: usdPerHour must be more than 0 (a free type is not a saving)`);
    if (seen.has(type))
      problems.push(`${file}:${n}: ${type} is priced twice (first on line ${seen.get(type)})`);
    seen.set(type, n);
    if (TYPE.test(type) && PRICE.test(price)) perHour[type] = Number(price);
  }
  if (lines.length === 0) problems.push(`${file}: no price rows after the header`);
  if (problems.length) throw new PriceFileError(problems);
  return { asOf: opts.asOf, region: opts.region, perHour };
}

/** `reflex prices import <file> --as-of <date> [--region r] [--out prices.json]`. */
export async function importPrices(
  io: Io,
  file: string,
  o: { asOf?: string; region?: string; out?: string; json?: boolean },
): Promise<number> {
  if (!o.asOf)
    throw new UsageError("--as-of <YYYY-MM-DD> is required: the table is dated (the prices of that day)");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const table = parsePriceTable(text, file, { asOf: o.asOf, region: o.region ?? "us-east-1" });
  const json = `${JSON.stringify(table, null, 2)}\n`;
  if (o.out) writeFileSync(o.out, json);
  const types = Object.keys(table.perHour).length;
  if (o.json) io.out(JSON.stringify({ ...table, ...(o.out ? { writtenTo: o.out } : {}) }));
  else if (o.out)
    io.out(
      `${types} price(s) as of ${table.asOf} (${table.region}) written to ${o.out}: set offHours.prices to it`,
    );
  else io.out(json.trimEnd());
  return 0;
}
