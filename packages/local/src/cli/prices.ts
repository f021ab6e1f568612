/**
 * `reflex prices import <file>`: a price table the user owns, from a CSV, checked line by line
 * and dated, written as the JSON that off-hours' `offHours.prices` takes (savings are estimated
 * with it). A file with one bad line is refused whole, naming the line: never a half table.
 *
 * The CSV: a header with `instanceType` and `usdPerHour` (any order; other columns ignored),
 * then one row per type. `#` lines and blank lines are skipped.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
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

// ---------------------------------------------------------------------------------------
// reflex prices refresh: the same table, from the AWS Price List

/** The Price List Query API's answer to one `GetProducts` page, as `@aws-sdk/client-pricing` gives it. */
export interface PriceListPage {
  PriceList?: string[];
  NextToken?: string;
}

/** One `GetProducts` call (the Pricing client's `send`, narrowed; tests and local mode pass the same client). */
export type GetProducts = (input: {
  ServiceCode: string;
  Filters: Array<{ Type: "TERM_MATCH"; Field: string; Value: string }>;
  FormatVersion: string;
  MaxResults: number;
  NextToken?: string;
}) => Promise<PriceListPage>;

/**
 * The filters that pick a type's plain on-demand Linux price in a Region: shared tenancy, no
 * pre-installed software, no licence, capacity `Used` (not an unused capacity reservation).
 * Attribute names as the AmazonEC2 offer file spells them (DescribeServices lists them).
 */
export function filtersFor(instanceType: string, region: string) {
  return [
    ["instanceType", instanceType],
    ["regionCode", region],
    ["operatingSystem", "Linux"],
    ["tenancy", "Shared"],
    ["preInstalledSw", "NA"],
    ["licenseModel", "No License required"],
    ["capacitystatus", "Used"],
  ].map(([Field, Value]) => ({
    Type: "TERM_MATCH" as const,
    Field: Field as string,
    Value: Value as string,
  }));
}

/** The most GetProducts pages one type may take. */
const MAX_PAGES = 20;

/** The hourly USD prices in one PriceList entry's on-demand terms (each entry is a JSON string). */
function hourlyPrices(entry: string): number[] {
  const p = JSON.parse(entry) as {
    terms?: {
      OnDemand?: Record<
        string,
        { priceDimensions?: Record<string, { unit?: string; pricePerUnit?: { USD?: string } }> }
      >;
    };
  };
  return (
    Object.values(p.terms?.OnDemand ?? {})
      .flatMap((t) => Object.values(t.priceDimensions ?? {}))
      .filter((d) => d.unit === "Hrs" && d.pricePerUnit?.USD !== undefined)
      // The Price List writes "0.0104000000"; Number() would also take "0x10" (16) or "1e3": not a price.
      .map((d) => (PRICE.test(String(d.pricePerUnit?.USD)) ? Number(d.pricePerUnit?.USD) : Number.NaN))
  );
}

/**
 * Asks the Price List for each type's on-demand Linux price in `region`. A type with no product,
 * a price of 0 or more than one price is `unpriced` (with why), never $0. Any call that fails
 * throws: the caller writes nothing (never half a table).
 */
export async function fetchPriceTable(
  getProducts: GetProducts,
  o: { types: string[]; region: string; asOf: string },
): Promise<PriceTable & { unpriced: Array<{ instanceType: string; why: string }> }> {
  const perHour: Record<string, number> = {};
  const unpriced: Array<{ instanceType: string; why: string }> = [];
  for (const type of o.types) {
    const prices = new Set<number>();
    let token: string | undefined;
    let pages = 0;
    do {
      // A type is a handful of products: an answer that pages on and on is not the Price List's.
      if (++pages > MAX_PAGES)
        throw new Error(`GetProducts for ${type} gave more than ${MAX_PAGES} pages; nothing written`);
      const page = await getProducts({
        ServiceCode: "AmazonEC2",
        Filters: filtersFor(type, o.region),
        FormatVersion: "aws_v1",
        MaxResults: 100,
        NextToken: token,
      });
      for (const entry of page.PriceList ?? []) for (const usd of hourlyPrices(entry)) prices.add(usd);
      token = page.NextToken;
    } while (token);
    const [only] = [...prices];
    if (prices.size === 0)
      unpriced.push({
        instanceType: type,
        why: `the Price List has no on-demand Linux product in ${o.region}`,
      });
    else if (prices.size > 1)
      unpriced.push({
        instanceType: type,
        why: `the Price List has ${prices.size} prices: ${[...prices].join(", ")}`,
      });
    else if (Number.isNaN(only))
      unpriced.push({ instanceType: type, why: "the Price List's price is not a number of dollars" });
    else if (!(Number.isFinite(only) && (only as number) > 0))
      unpriced.push({ instanceType: type, why: `the Price List says ${only}: a free type is not a saving` });
    else perHour[type] = only as number;
  }
  return { asOf: o.asOf, region: o.region, perHour, unpriced };
}

/** The types to refresh: `--types a,b` and those of the table `--from` names (and its Region). */
function typesToRefresh(o: { types?: string; from?: string; region?: string }): {
  types: string[];
  region?: string;
} {
  const types = new Set<string>();
  let region: string | undefined;
  for (const t of (o.types ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (!TYPE.test(t)) throw new UsageError(`--types: '${t}' is not an instance type such as t3.micro`);
    types.add(t);
  }
  if (o.from) {
    let table: Partial<PriceTable>;
    try {
      table = JSON.parse(readFileSync(o.from, "utf8"));
    } catch (err) {
      throw new UsageError(`--from ${o.from}: not a price table (${(err as Error).message})`);
    }
    for (const t of Object.keys(table.perHour ?? {})) types.add(t);
    region = table.region;
  }
  if (types.size === 0)
    throw new UsageError(
      "name the types: --types t3.micro,m5.large, or --from prices.json (a table to refresh)",
    );
  return { types: [...types], region };
}

/**
 * `reflex prices refresh --types a,b | --from prices.json [--region r] [--out prices.json]`: the
 * table `prices import` writes, dated today, from the AWS Price List (`GetProducts`; deployed,
 * with your AWS credentials) or, against local mode, from the simulated account's Price List
 * endpoint — the same client and code. Written whole or not at all.
 */
export async function refreshPrices(
  io: Io,
  o: { types?: string; from?: string; region?: string; out?: string; json?: boolean; url?: string },
  today: () => Date = () => new Date(),
): Promise<number> {
  const asked = typesToRefresh(o);
  const region = o.region ?? asked.region ?? "us-east-1";
  if (!REGION.test(region))
    throw new UsageError(`--region '${region}' is not an AWS region such as us-east-1`);
  const { openTransport } = await import("./transport.ts");
  const { PricingClient, GetProductsCommand } = await import("@aws-sdk/client-pricing");
  const server = await openTransport({ url: o.url });
  // The Price List answers in us-east-1 (and ap-south-1, eu-central-1) whatever Region is priced.
  // Local mode: the simulated account's endpoint on this server, dummy credentials (nothing
  // leaves 127.0.0.1); deployed: AWS, with your credentials.
  const pricing = server.remote
    ? new PricingClient({ region: "us-east-1" })
    : new PricingClient({
        region: "us-east-1",
        endpoint: `${server.baseUrl}/api/cloud/aws/pricing`,
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      });
  let table: Awaited<ReturnType<typeof fetchPriceTable>>;
  try {
    table = await fetchPriceTable((input) => pricing.send(new GetProductsCommand(input)), {
      types: asked.types,
      region,
      asOf: today().toISOString().slice(0, 10),
    });
  } catch (err) {
    throw new Error(
      `the Price List could not be read (${(err as Error).name}: ${(err as Error).message}); nothing written`,
    );
  } finally {
    pricing.destroy();
  }
  const { unpriced, ...priceTable } = table;
  const types = Object.keys(priceTable.perHour).length;
  if (types === 0)
    throw new Error(
      `no type has a price (${unpriced.map((u) => `${u.instanceType}: ${u.why}`).join("; ")}); nothing written`,
    );
  const json = `${JSON.stringify(priceTable, null, 2)}\n`;
  if (o.out) {
    // Whole or not at all: a reader of the file never sees half of it.
    const tmp = `${o.out}.${process.pid}.tmp`;
    writeFileSync(tmp, json);
    renameSync(tmp, o.out);
  }
  if (o.json) io.out(JSON.stringify({ ...priceTable, unpriced, ...(o.out ? { writtenTo: o.out } : {}) }));
  else {
    if (o.out)
      io.out(
        `${types} price(s) as of ${priceTable.asOf} (${priceTable.region}) written to ${o.out}: set offHours.prices to it`,
      );
    else io.out(json.trimEnd());
    for (const u of unpriced)
      io.err(`unpriced: ${u.instanceType}: ${u.why} (savings for it are reported unpriced, never $0)`);
  }
  return 0;
}
