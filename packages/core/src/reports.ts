/**
 * A runbook's read-only reports over its own records (off-hours' `savings`), as its manifest
 * declares them (`reports`): `GET /api/runbooks/:name/reports/:report`. The report reads the
 * runbook's records and the config keys it declares; a bad query is a 400 naming the field.
 */
import { currentConfig } from "./config/index.ts";
import { NotFoundError, ValidationError } from "./errors.ts";
import * as Runbooks from "./runbooks/index.ts";
import * as RunbookItems from "./state/runbook-items.ts";

/**
 * Runs report `report` of runbook `name` with the query given.
 *
 * @example
 * const savings = await Reports.run("off-hours", "savings", { from: "2026-12-01", by: "tag:CostCenter" });
 */
export async function run(
  name: string,
  report: string,
  query: Record<string, string>,
  config = currentConfig(),
): Promise<Record<string, unknown>> {
  const runbook = Runbooks.get(name);
  const fn = Object.hasOwn(runbook.reports ?? {}, report) ? runbook.reports?.[report] : undefined;
  if (!fn) throw new NotFoundError(`report of ${name}`, report);
  const out = await fn(query, {
    items: (prefix) => RunbookItems.list(runbook.name, prefix),
    config: Object.fromEntries(
      Object.keys(runbook.config ?? {}).map((k) => [
        k,
        config.runbookConfig?.[k] ?? (config as unknown as Record<string, unknown>)[k],
      ]),
    ),
  });
  if ("invalid" in out && out.invalid && typeof out.invalid === "object") {
    const bad = out.invalid as { path: string; message: string };
    throw new ValidationError("invalid_query", `${bad.path}: ${bad.message}`, [bad]);
  }
  return out;
}
