/**
 * `--param a.b.c=value` pairs into a params object. Values are typed by the runbook's JSON
 * Schema (numbers, booleans, arrays as comma lists), so `--param retainDays=14` is a number
 * and `--param selector.tag.Env=123` stays a string. `k:=<json>` passes raw JSON.
 */
type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  anyOf?: Schema[];
  oneOf?: Schema[];
};

function childSchema(schema: Schema | undefined, key: string): Schema | undefined {
  if (!schema) return undefined;
  const options = schema.anyOf ?? schema.oneOf ?? [schema];
  for (const s of options) {
    const hit =
      s.properties?.[key] ??
      (typeof s.additionalProperties === "object" ? s.additionalProperties : undefined);
    if (hit) return hit;
  }
  return undefined;
}

function typesOf(schema: Schema | undefined): string[] {
  if (!schema) return [];
  const own = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  return [...own, ...[...(schema.anyOf ?? []), ...(schema.oneOf ?? [])].flatMap(typesOf)];
}

const DECIMAL = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Keys that reach an object's prototype when assigned: `__proto__.isAdmin=true` would set
 * `isAdmin` on every object in the process (the ChatOps worker parses a Slack user's pairs).
 */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

function coerce(raw: string, schema: Schema | undefined, where: string): unknown {
  const types = typesOf(schema);
  // Plain decimals only: `Number()` would also take `Infinity` (sent as null), `0x10` and blanks.
  const numeric = DECIMAL.test(raw);
  if (types.includes("integer") || types.includes("number")) {
    if (numeric) return Number(raw);
    // `maxConcurrency=50%`: a number or a string; what isn't a number is the string.
    if (!types.includes("string")) throw new Error(`--param ${where}: '${raw}' is not a number`);
    return raw;
  }
  if (types.includes("boolean")) {
    if (raw !== "true" && raw !== "false") throw new Error(`--param ${where}: '${raw}' is not true or false`);
    return raw === "true";
  }
  // An object written whole (`selector={"tag":{"PatchGroup":"batch"}}`) is JSON.
  if (types.includes("object") && !types.includes("string") && /^\s*\{/.test(raw)) {
    try {
      return JSON.parse(raw);
    } catch {
      throw new Error(`--param ${where}: '${raw}' is not a JSON object`);
    }
  }
  if (types.includes("array")) return raw.split(",").map((v) => coerce(v.trim(), schema?.items, where));
  return raw;
}

/** Builds params from `k=v` / `k:=json` pairs, typed by `schema`. Throws Error naming the bad pair. */
export function parseParamPairs(pairs: string[], schema?: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const m = pair.match(/^([A-Za-z0-9_.-]+)(:?=)(.*)$/s);
    if (!m) throw new Error(`--param '${pair}' must look like key=value or key:=<json>`);
    const [, path, op, raw] = m;
    const keys = path.split(".");
    if (keys.includes("")) throw new Error(`--param '${pair}': a key has an empty part (${path})`);
    const bad = keys.find((k) => FORBIDDEN_KEYS.has(k));
    if (bad) throw new Error(`--param ${path}: '${bad}' is not allowed as a key`);
    let node = out;
    let s: Schema | undefined = schema;
    keys.forEach((k, i) => {
      s = childSchema(s, k);
      if (i === keys.length - 1) {
        if (op === ":=") {
          try {
            node[k] = JSON.parse(raw);
          } catch {
            throw new Error(`--param ${path}: '${raw}' is not JSON`);
          }
        } else node[k] = coerce(raw, s, path);
        return;
      }
      const next = Object.hasOwn(node, k) ? node[k] : undefined;
      if (next !== undefined && (typeof next !== "object" || next === null || Array.isArray(next))) {
        throw new Error(`--param ${path}: '${keys.slice(0, i + 1).join(".")}' is already set to a value`);
      }
      node[k] = next ?? {};
      node = node[k] as Record<string, unknown>;
    });
  }
  return out;
}
