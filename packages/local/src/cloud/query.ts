/**
 * Describe-call plumbing shared by the services: EC2-style filters (AND across filters, OR
 * within a filter's values, `*` and `?` wildcards), and pagination with opaque tokens.
 */
import { CloudApiError } from "./api-error.ts";
import type { TagRecord } from "./model.ts";

export interface FilterInput {
  Name?: string;
  Values?: string[];
}

export type Extractor<T> = (item: T) => Array<string | undefined>;

function wildcard(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`, "s");
}

/**
 * Keeps the items matching every filter. `tag:<Key>`, `tag-key` and `tag-value` come free
 * with `tags`; any other name must be in `extractors`, else AWS's `InvalidParameterValue`.
 */
export function applyFilters<T>(
  items: T[],
  filters: FilterInput[] | undefined,
  extractors: Record<string, Extractor<T>>,
  tags: (item: T) => TagRecord[],
  opts: { wildcards?: boolean; errorCode?: string } = {},
): T[] {
  const errorCode = opts.errorCode ?? "InvalidParameterValue";
  let out = items;
  for (const filter of filters ?? []) {
    const name = filter.Name;
    let extract: Extractor<T> | undefined;
    if (name?.startsWith("tag:")) {
      const key = name.slice(4);
      extract = (item) =>
        tags(item)
          .filter((t) => t.Key === key)
          .map((t) => t.Value);
    } else if (name === "tag-key") extract = (item) => tags(item).map((t) => t.Key);
    else if (name === "tag-value") extract = (item) => tags(item).map((t) => t.Value);
    else if (name !== undefined && Object.hasOwn(extractors, name)) extract = extractors[name];
    if (!extract) throw new CloudApiError(errorCode, `The filter '${name ?? "null"}' is invalid`);
    const values = filter.Values ?? [];
    if (values.length === 0)
      throw new CloudApiError(errorCode, `The filter '${name}' requires at least one value`);
    const matchers =
      opts.wildcards === false
        ? values.map((v) => (s: string) => s === v)
        : values.map((v) => {
            const re = wildcard(v);
            return (s: string) => re.test(s);
          });
    const fn = extract;
    out = out.filter((item) => fn(item).some((v) => v !== undefined && matchers.some((m) => m(v))));
  }
  return out;
}

export interface PageOptions {
  /** The operation, so a token from one call is not accepted by another. */
  operation: string;
  maxResults?: number;
  nextToken?: string;
  /** Page size when the caller gives no limit. */
  defaultPageSize: number;
  min: number;
  max: number;
  /** The parameter's wire name, for messages (`maxResults`, `MaxRecords`). */
  parameter: string;
  /** The error code for a bad token (EC2: `InvalidParameterValue`; Auto Scaling: `InvalidNextToken`). */
  badTokenCode: string;
  badValueCode: string;
}

export function paginate<T>(items: T[], o: PageOptions): { page: T[]; nextToken?: string } {
  if (o.maxResults !== undefined && (o.maxResults < o.min || o.maxResults > o.max)) {
    throw new CloudApiError(
      o.badValueCode,
      `Value ( ${o.maxResults} ) for parameter ${o.parameter} is invalid. Expecting a value between ${o.min} and ${o.max}.`,
    );
  }
  const size = o.maxResults ?? o.defaultPageSize;
  let offset = 0;
  if (o.nextToken !== undefined && o.nextToken !== "") {
    let decoded: { op?: unknown; offset?: unknown } | undefined;
    try {
      decoded = JSON.parse(Buffer.from(o.nextToken, "base64url").toString("utf8"));
    } catch {
      decoded = undefined;
    }
    if (!decoded || decoded.op !== o.operation || typeof decoded.offset !== "number" || decoded.offset < 0) {
      throw new CloudApiError(o.badTokenCode, `The token '${o.nextToken}' is invalid for ${o.operation}.`);
    }
    offset = decoded.offset;
  }
  const page = items.slice(offset, offset + size);
  const next = offset + size;
  return {
    page,
    nextToken:
      next < items.length
        ? Buffer.from(JSON.stringify({ op: o.operation, offset: next }), "utf8").toString("base64url")
        : undefined,
  };
}
