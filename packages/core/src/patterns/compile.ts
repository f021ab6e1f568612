/**
 * Compiles an EventBridge event pattern into a matcher made of closures. All validation and all
 * per-operand work (lower-casing, wildcard and CIDR parsing, building sets of exact values) happens
 * here, once, so matching an event only walks the event's fields that the pattern names.
 *
 * Semantics follow the EventBridge user guide ("Creating event patterns", "Comparison operators",
 * "Matching on multiple field values", "Matching null values and empty strings"), with
 * aws/event-ruler, the engine behind EventBridge, as the tie-breaker where the guide is silent.
 */
import { PatternError } from "../errors.ts";
import { parseCidr } from "./cidr.ts";
import { parseWildcard, wildcardMatcher } from "./wildcard.ts";

/** A compiled pattern: true when the event matches. */
export type EventMatcher = (event: unknown) => boolean;

/** A JSON leaf value in an event. */
type Leaf = string | number | boolean | null;
/** Matches one event node (an object, an array, a leaf or `undefined` when absent). */
type NodeMatcher = (node: unknown) => boolean;
/** Matches one field of an event object; `undefined` stands for "no object here". */
type FieldMatcher = (object: Readonly<Record<string, unknown>> | undefined) => boolean;

/** The operators of the pattern language, as listed in the error for an unknown one. */
const OPERATORS = [
  "prefix",
  "suffix",
  "equals-ignore-case",
  "wildcard",
  "anything-but",
  "numeric",
  "exists",
  "cidr",
] as const;

/**
 * Names that cannot be field names inside `$or`: Event Ruler reserves them there. Refusing them also
 * catches a likely mistake, `"$or": [{"prefix": "a"}, {"suffix": "b"}]`, a value-level OR written
 * in the wrong place, which would otherwise compile into a pattern that silently never matches.
 */
const RESERVED_IN_OR = new Set<string>([...OPERATORS, "=", "<", "<=", ">", ">="]);

const hasOwn = Object.hasOwn;

/**
 * Compiles a pattern. Throws PatternError, with the path of the offending value, when the pattern
 * is not valid in the EventBridge pattern language.
 */
export function compileEventPattern(pattern: unknown): EventMatcher {
  if (!isPlainObject(pattern)) {
    throw new PatternError(`an event pattern must be a JSON object, got ${describe(pattern)}`);
  }
  const root = compileObject(pattern, "", false).match;
  // EventBridge events are JSON objects; anything else cannot carry the fields a pattern names.
  return (event) => asRecord(event) !== undefined && root(event);
}

// ---------------------------------------------------------------------------------------------
// Objects, $or and arrays of objects

interface CompiledObject {
  match: NodeMatcher;
  /** True when the object only asks for fields to be absent (every leaf is `exists: false`). */
  absenceOnly: boolean;
}

function compileObject(pattern: Record<string, unknown>, path: string, insideOr: boolean): CompiledObject {
  const keys = Object.keys(pattern);
  if (keys.length === 0) {
    throw new PatternError(
      path ? "empty objects are not allowed" : "an event pattern must name at least one field",
      path,
    );
  }
  const absenceFields: FieldMatcher[] = [];
  const leafFields: FieldMatcher[] = [];
  const objectFields: FieldMatcher[] = [];
  const ors: NodeMatcher[][] = [];

  for (const key of keys) {
    const value = pattern[key];
    const at = join(path, key);
    if (key === "$or") {
      ors.push(compileOr(value, at));
      continue;
    }
    if (insideOr && RESERVED_IN_OR.has(key)) {
      throw new PatternError(
        `"${key}" is an operator, not a field name; inside $or, put it in a field's value list, e.g. {"source": [{"${key}": ...}]}`,
        at,
      );
    }
    if (Array.isArray(value)) {
      const leaf = compileValueList(value, at);
      const field = leafField(key, leaf);
      (leaf.absenceOnly ? absenceFields : leafFields).push(field);
    } else if (isPlainObject(value)) {
      const child = compileObject(value, at, insideOr);
      const field = objectField(key, child.match);
      (child.absenceOnly ? absenceFields : objectFields).push(field);
    } else {
      throw new PatternError(
        `a field's value must be an array of values to match or a nested object, got ${describe(value)}`,
        at,
      );
    }
  }

  // Leaf fields first: they are the cheap checks most likely to reject an event early.
  const positiveFields = [...leafFields, ...objectFields];
  const allFields = [...absenceFields, ...positiveFields];
  const orsHold = (node: unknown): boolean =>
    ors.every((alternatives) => alternatives.some((alt) => alt(node)));
  const matchOne = (node: unknown): boolean => fieldsHold(allFields, asRecord(node)) && orsHold(node);
  const onlyAbsence = positiveFields.length === 0 && ors.length === 0;

  const match: NodeMatcher = (node) => {
    if (!Array.isArray(node)) return matchOne(node);
    if (!hasElement(node)) return matchOne(undefined);
    // An object pattern meeting an array of objects. Fields that must be absent are absent only if
    // no element has them (the event "has" a path when any element does); the other fields must
    // all hold in one and the same element, so {"name": ["Anna"], "last": ["Jones"]} does not
    // match Anna Smith next to Peter Jones (Event Ruler's array-consistent matching).
    if (absenceFields.length > 0 && !everyElement(node, (e) => fieldsHold(absenceFields, asRecord(e))))
      return false;
    if (onlyAbsence) return true;
    return someElement(node, (e) => fieldsHold(positiveFields, asRecord(e)) && orsHold(e));
  };

  return { match, absenceOnly: onlyAbsence };
}

function compileOr(value: unknown, path: string): NodeMatcher[] {
  if (!Array.isArray(value)) {
    throw new PatternError(`$or must be an array of at least two patterns, got ${describe(value)}`, path);
  }
  if (value.length < 2) {
    throw new PatternError(`$or must list at least two patterns, got ${value.length}`, path);
  }
  return value.map((alternative, i) => {
    const at = `${path}[${i}]`;
    if (!isPlainObject(alternative)) {
      throw new PatternError(
        `each $or alternative must be a pattern object, got ${describe(alternative)}`,
        at,
      );
    }
    return compileObject(alternative, at, true).match;
  });
}

function leafField(key: string, leaf: CompiledValueList): FieldMatcher {
  return (object) => matchValue(object !== undefined && hasOwn(object, key) ? object[key] : undefined, leaf);
}

function objectField(key: string, match: NodeMatcher): FieldMatcher {
  return (object) => match(object !== undefined && hasOwn(object, key) ? object[key] : undefined);
}

function fieldsHold(
  fields: readonly FieldMatcher[],
  object: Readonly<Record<string, unknown>> | undefined,
): boolean {
  for (const field of fields) if (!field(object)) return false;
  return true;
}

// Event arrays may nest; EventBridge flattens them, so these walk nested arrays without copying.

function hasElement(array: readonly unknown[]): boolean {
  for (const e of array) if (!Array.isArray(e) || hasElement(e)) return true;
  return false;
}

function someElement(array: readonly unknown[], test: (element: unknown) => boolean): boolean {
  for (const e of array) if (Array.isArray(e) ? someElement(e, test) : test(e)) return true;
  return false;
}

function everyElement(array: readonly unknown[], test: (element: unknown) => boolean): boolean {
  for (const e of array) if (Array.isArray(e) ? !everyElement(e, test) : !test(e)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Value lists: ["a", 1, null, {"prefix": "x"}, ...] — an OR of alternatives for one leaf field

interface CompiledValueList {
  /** Some alternative is `exists: false`: an absent field (or one with no leaf value) matches. */
  absent: boolean;
  /** Some alternative is `exists: true`: any leaf value matches. */
  present: boolean;
  /** Every alternative is `exists: false`. */
  absenceOnly: boolean;
  /** Does one leaf value match some alternative? */
  test: (leaf: Leaf) => boolean;
}

/**
 * The value of a leaf field in the event against a value list. A field "has a value" when it is a
 * leaf or an array holding at least one leaf (at any depth); an object or an empty array is not a
 * leaf, so for `exists` it counts as absent, as the guide's `c-count: {c1: 100}` example shows.
 */
function matchValue(value: unknown, list: CompiledValueList): boolean {
  if (Array.isArray(value)) {
    let sawLeaf = false;
    const found = someElement(value, (e) => {
      if (!isLeaf(e)) return false;
      sawLeaf = true;
      return list.present || list.test(e);
    });
    return found || (!sawLeaf && list.absent);
  }
  if (isLeaf(value)) return list.present || list.test(value);
  return list.absent;
}

function compileValueList(values: readonly unknown[], path: string): CompiledValueList {
  if (values.length === 0) {
    throw new PatternError("empty arrays are not allowed: list at least one value to match", path);
  }
  const strings = new Set<string>();
  const numbers = new Set<number>();
  const literals = { null: false, true: false, false: false };
  const tests: OperatorTests = { string: [], number: [], any: [] };
  const flags = { absent: false, present: false, other: false };

  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const at = `${path}[${i}]`;
    if (typeof value === "string") {
      strings.add(value);
    } else if (typeof value === "number") {
      numbers.add(finiteNumber(value, "a number to match", at));
    } else if (typeof value === "boolean") {
      literals[value ? "true" : "false"] = true;
    } else if (value === null) {
      literals.null = true;
    } else if (isPlainObject(value)) {
      const exists = compileOperator(value, at, tests);
      if (exists === true) flags.present = true;
      else if (exists === false) flags.absent = true;
      if (exists !== false) flags.other = true;
      continue;
    } else {
      throw new PatternError(
        `a value to match must be a string, number, boolean, null or an operator object such as {"prefix": "..."}, got ${describe(value)}`,
        at,
      );
    }
    flags.other = true;
  }

  const { string: stringTests, number: numberTests, any: anyTests } = tests;
  const test = (leaf: Leaf): boolean => {
    if (typeof leaf === "string") {
      if (strings.has(leaf)) return true;
      for (const t of stringTests) if (t(leaf)) return true;
    } else if (typeof leaf === "number") {
      if (numbers.has(leaf)) return true;
      for (const t of numberTests) if (t(leaf)) return true;
    } else if (leaf === null ? literals.null : leaf ? literals.true : literals.false) {
      return true;
    }
    for (const t of anyTests) if (t(leaf)) return true;
    return false;
  };
  return { absent: flags.absent, present: flags.present, absenceOnly: !flags.other, test };
}

/** Compiled operator tests of one value list, grouped by the leaf type they can match. */
interface OperatorTests {
  /** Tests that can only match string leaves. */
  string: Array<(value: string) => boolean>;
  /** Tests that can only match number leaves. */
  number: Array<(value: number) => boolean>;
  /** Tests for any leaf (anything-but, which also matches values of another type). */
  any: Array<(value: Leaf) => boolean>;
}

// ---------------------------------------------------------------------------------------------
// Operators: {"prefix": ...}, {"numeric": [...]}, ...

/**
 * Compiles one operator object into `tests`. Returns the operand of `exists` (true or false), which
 * is not a test on a value but on the field's presence, and undefined for every other operator.
 */
function compileOperator(
  operator: Record<string, unknown>,
  path: string,
  tests: OperatorTests,
): boolean | undefined {
  const keys = Object.keys(operator);
  if (keys.length !== 1) {
    throw new PatternError(
      keys.length === 0
        ? 'an operator object must name one operator, e.g. {"prefix": "..."}'
        : `an operator object must have exactly one key, got ${keys.length} (${keys.join(", ")})`,
      path,
    );
  }
  const name = keys[0];
  const operand = operator[name];
  switch (name) {
    case "prefix": {
      if (typeof operand === "string") {
        tests.string.push((s) => s.startsWith(operand));
      } else {
        const lower = ignoreCaseOperand(operand, name, path);
        tests.string.push((s) => s.toLowerCase().startsWith(lower));
      }
      return undefined;
    }
    case "suffix": {
      if (typeof operand === "string") {
        tests.string.push((s) => s.endsWith(operand));
      } else {
        const lower = ignoreCaseOperand(operand, name, path);
        tests.string.push((s) => s.toLowerCase().endsWith(lower));
      }
      return undefined;
    }
    case "equals-ignore-case": {
      const lower = stringOperand(operand, name, path).toLowerCase();
      tests.string.push((s) => s.toLowerCase() === lower);
      return undefined;
    }
    case "wildcard": {
      tests.string.push(compileWildcard(stringOperand(operand, name, path), path));
      return undefined;
    }
    case "cidr": {
      const parsed = parseCidr(stringOperand(operand, name, path));
      if ("error" in parsed) throw new PatternError(parsed.error, path);
      tests.string.push(parsed.matches);
      return undefined;
    }
    case "numeric": {
      tests.number.push(compileNumeric(operand, path));
      return undefined;
    }
    case "anything-but": {
      tests.any.push(compileAnythingBut(operand, path));
      return undefined;
    }
    case "exists": {
      if (typeof operand !== "boolean") {
        throw new PatternError(`"exists" must be true or false, got ${describe(operand)}`, path);
      }
      return operand;
    }
    default:
      throw new PatternError(`unknown operator "${name}"; the operators are ${OPERATORS.join(", ")}`, path);
  }
}

/** The `{"equals-ignore-case": "..."}` form of `prefix` and `suffix`, lower-cased once here. */
function ignoreCaseOperand(operand: unknown, operator: string, path: string): string {
  if (isPlainObject(operand)) {
    const keys = Object.keys(operand);
    if (keys.length === 1 && keys[0] === "equals-ignore-case" && typeof operand[keys[0]] === "string") {
      return (operand[keys[0]] as string).toLowerCase();
    }
  }
  throw new PatternError(
    `"${operator}" must be a string or {"equals-ignore-case": "<string>"}, got ${describe(operand)}`,
    path,
  );
}

function stringOperand(operand: unknown, operator: string, path: string): string {
  if (typeof operand !== "string") {
    throw new PatternError(`"${operator}" must be a string, got ${describe(operand)}`, path);
  }
  return operand;
}

function compileWildcard(operand: string, path: string): (value: string) => boolean {
  const parsed = parseWildcard(operand);
  if ("error" in parsed) throw new PatternError(`wildcard "${operand}" is not valid: ${parsed.error}`, path);
  return wildcardMatcher(parsed.segments);
}

const LOWER_BOUNDS = new Set([">", ">="]);
const UPPER_BOUNDS = new Set(["<", "<="]);

/**
 * `numeric`: ["=", n], [op, n] for one bound, or [">" | ">=", low, "<" | "<=", high] for a range
 * (lower bound first, as in the guide's [">", 0, "<=", 5]). Only JSON numbers match.
 */
function compileNumeric(operand: unknown, path: string): (value: number) => boolean {
  const example = `e.g. [">", 0, "<=", 5]`;
  if (!Array.isArray(operand)) {
    throw new PatternError(
      `"numeric" must be an array of operators and numbers, ${example}, got ${describe(operand)}`,
      path,
    );
  }
  if (operand.length !== 2 && operand.length !== 4) {
    throw new PatternError(
      `"numeric" takes one comparison or a range (2 or 4 elements), ${example}, got ${operand.length} elements`,
      path,
    );
  }
  const [op, value] = operand;
  if (typeof op !== "string" || !(op === "=" || LOWER_BOUNDS.has(op) || UPPER_BOUNDS.has(op))) {
    throw new PatternError(
      `"numeric" has an unknown comparison ${JSON.stringify(op)}; use =, <, <=, > or >=`,
      path,
    );
  }
  const n = numericOperand(value, op, path);
  if (operand.length === 2) {
    switch (op) {
      case "=":
        return (v) => v === n;
      case "<":
        return (v) => v < n;
      case "<=":
        return (v) => v <= n;
      case ">":
        return (v) => v > n;
      default:
        return (v) => v >= n;
    }
  }
  const [, , highOp, highValue] = operand;
  if (!LOWER_BOUNDS.has(op)) {
    throw new PatternError(
      `a "numeric" range starts with its lower bound (> or >=), ${example}; got "${op}"`,
      path,
    );
  }
  if (typeof highOp !== "string" || !UPPER_BOUNDS.has(highOp)) {
    throw new PatternError(
      `a "numeric" range ends with its upper bound (< or <=), ${example}; got ${JSON.stringify(highOp)}`,
      path,
    );
  }
  const high = numericOperand(highValue, highOp, path);
  if (!(n < high)) {
    throw new PatternError(
      `a "numeric" range's lower bound (${n}) must be below its upper bound (${high})`,
      path,
    );
  }
  const openLow = op === ">";
  const openHigh = highOp === "<";
  return (v) => (openLow ? v > n : v >= n) && (openHigh ? v < high : v <= high);
}

function numericOperand(value: unknown, op: string, path: string): number {
  if (typeof value !== "number") {
    throw new PatternError(`"numeric" needs a number after "${op}", got ${describe(value)}`, path);
  }
  return finiteNumber(value, `the number after "${op}"`, path);
}

/**
 * `anything-but`: a string, a number, a list of only strings or only numbers, or an object with one
 * of prefix / suffix / equals-ignore-case / wildcard taking a string or a list of strings. It needs a
 * value to be present (an absent field matches nothing) and excludes only values of the operand's
 * type: `{"anything-but": "5"}` matches the number 5.
 */
function compileAnythingBut(operand: unknown, path: string): (value: Leaf) => boolean {
  if (typeof operand === "string") return (v) => v !== operand;
  if (typeof operand === "number") {
    const n = finiteNumber(operand, `"anything-but"`, path);
    return (v) => v !== n;
  }
  if (Array.isArray(operand)) {
    if (operand.length === 0) {
      throw new PatternError(`"anything-but" needs at least one value to exclude`, path);
    }
    if (operand.every((v) => typeof v === "string")) {
      const excluded = new Set<unknown>(operand);
      return (v) => !excluded.has(v);
    }
    if (operand.every((v) => typeof v === "number")) {
      const excluded = new Set<unknown>(
        operand.map((v) => finiteNumber(v as number, `"anything-but"`, path)),
      );
      return (v) => !excluded.has(v);
    }
    throw new PatternError(`an "anything-but" list must hold only strings or only numbers`, path);
  }
  if (isPlainObject(operand)) {
    const keys = Object.keys(operand);
    if (keys.length !== 1) {
      throw new PatternError(
        `"anything-but" takes an object with exactly one of prefix, suffix, equals-ignore-case or wildcard, got ${keys.length} keys`,
        path,
      );
    }
    const kind = keys[0];
    if (!ANYTHING_BUT_FORMS.has(kind)) {
      throw new PatternError(
        `"anything-but" cannot be combined with "${kind}"; use prefix, suffix, equals-ignore-case or wildcard`,
        path,
      );
    }
    const values = anythingButStrings(operand[kind], kind, path);
    const excluded = anythingButTest(kind, values, path);
    return (v) => typeof v !== "string" || !excluded(v);
  }
  throw new PatternError(
    `"anything-but" must be a string, a number, a list of strings or of numbers, or an object such as {"prefix": "..."}, got ${describe(operand)}`,
    path,
  );
}

function anythingButStrings(operand: unknown, kind: string, path: string): string[] {
  const values = typeof operand === "string" ? [operand] : operand;
  if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === "string")) {
    throw new PatternError(
      `"anything-but" with "${kind}" takes a string or a non-empty list of strings, got ${describe(operand)}`,
      path,
    );
  }
  return values;
}

/** The forms `anything-but` can take as an object. */
const ANYTHING_BUT_FORMS = new Set(["prefix", "suffix", "equals-ignore-case", "wildcard"]);

/** The test for a string the anything-but form excludes. */
function anythingButTest(kind: string, values: string[], path: string): (value: string) => boolean {
  switch (kind) {
    case "prefix":
    case "suffix": {
      // An empty prefix or suffix would exclude every string; EventBridge rejects it.
      if (values.includes("")) throw new PatternError(`"anything-but" with "${kind}" cannot be empty`, path);
      return kind === "prefix"
        ? (s) => values.some((p) => s.startsWith(p))
        : (s) => values.some((p) => s.endsWith(p));
    }
    case "equals-ignore-case": {
      const lower = new Set(values.map((v) => v.toLowerCase()));
      return (s) => lower.has(s.toLowerCase());
    }
    default: {
      // "wildcard", the one form left after the check in compileAnythingBut.
      const matchers = values.map((v) => compileWildcard(v, path));
      return (s) => matchers.some((m) => m(s));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function finiteNumber(value: number, what: string, path: string): number {
  // JSON has no NaN or Infinity; a pattern built in code could, and no event value could match it.
  if (!Number.isFinite(value)) throw new PatternError(`${what} must be a finite number, got ${value}`, path);
  return value;
}

function isLeaf(value: unknown): value is Leaf {
  const type = typeof value;
  return value === null || type === "string" || type === "number" || type === "boolean";
}

function asRecord(value: unknown): Readonly<Record<string, unknown>> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** A JSON object: not null, not an array, not a class instance such as a Date or a Map. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return value.length === 0 ? "an empty array" : "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${String(value)}`;
  if (typeof value === "object")
    return isPlainObject(value) ? "an object" : `a ${value.constructor?.name ?? "non-JSON"} object`;
  return typeof value;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
