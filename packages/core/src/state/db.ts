import { type AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  type DeleteCommand,
  DynamoDBDocumentClient,
  type PutCommand,
  paginateQuery,
  type QueryCommandInput,
  type UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { z } from "zod";
import { client } from "../aws.ts";
import { ValidationError } from "../errors.ts";
import { byteLength } from "../validate.ts";

const docs = new WeakMap<DynamoDBClient, DynamoDBDocumentClient>();

/** The document client's own `send` (its class's), before anything stands in for it. */
const documentSend = DynamoDBDocumentClient.prototype.send;

/**
 * The document client over the factory's DynamoDB client (rebuilt when the factory is reconfigured).
 *
 * A document command sent with no options goes the short way ({@link sendMarshalled}): its input
 * is marshalled here, with the document client's options and by the key paths the command itself
 * declares, and sent as the plain command it wraps; the answer is unmarshalled the same way. The
 * same request reaches the wire, and the same answer or error comes back, as through the document
 * client's own `send`, which resolves two middleware stacks and adds two middlewares per request:
 * about a tenth of a request's CPU (bench/alarm-storm). Anything else (options, a callback, a plain
 * command) goes through the document client's `send`, as does every command while a test double
 * stands in for that `send` (aws-sdk-client-mock stubs the class's).
 */
export function db(): DynamoDBDocumentClient {
  const raw = client(DynamoDBClient, "dynamodb");
  let doc = docs.get(raw);
  if (!doc) {
    const built = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    const send = (command: unknown, ...rest: unknown[]) => {
      const proto = DynamoDBDocumentClient.prototype.send as (...a: unknown[]) => Promise<unknown>;
      if (rest.length === 0 && proto === documentSend && isDocumentCommand(command))
        return sendMarshalled(raw, command);
      return proto.call(built, command, ...rest);
    };
    built.send = send as unknown as DynamoDBDocumentClient["send"];
    doc = built;
    docs.set(raw, doc);
  }
  return doc;
}

/*
 * As the document client marshals and unmarshals each value it finds at a command's key paths
 * (its options: undefined values left out, a top-level map or list marshalled whole; answers
 * unmarshalled without a map wrapper). Not the objects handed to the document client, which
 * completes its options in place.
 */
const VALUE = { removeUndefinedValues: true, convertTopLevelContainer: true };
const marshallValue = (v: unknown) => marshall(v, VALUE);
const unmarshallValue = (v: unknown) =>
  unmarshall(v as Record<string, AttributeValue>, { convertWithoutMapWrapper: true });
/** A plain object's members each as above, in one call (an item, a key, expression values). */
const MEMBERS = { removeUndefinedValues: true };
const marshallMembers = (v: object) => marshall(v as Record<string, unknown>, MEMBERS);
const unmarshallMembers = (v: object) => unmarshall(v as Record<string, AttributeValue>);

/**
 * Where a command's values sit (the document client's key paths): `null` the value itself, `{}`
 * or `[]` every member, `{ "*": n }` every member by `n`, `{ Key: n, … }` those members by theirs.
 */
type KeyNodes = null | readonly unknown[] | { readonly [key: string]: KeyNodes };

interface DocumentCommand {
  input: Record<string, unknown>;
  clientCommand: { constructor: new (input: unknown) => unknown };
  inputKeyNodes: KeyNodes;
  outputKeyNodes: KeyNodes;
}

function isDocumentCommand(c: unknown): c is DocumentCommand {
  const d = c as Partial<DocumentCommand> | undefined;
  return Boolean(d?.clientCommand && d.inputKeyNodes && d.outputKeyNodes && d.input);
}

async function sendMarshalled(raw: DynamoDBClient, command: DocumentCommand): Promise<unknown> {
  const Plain = command.clientCommand.constructor;
  const input = atKeys(command.input, marshallValue, marshallMembers, command.inputKeyNodes);
  const output = await raw.send(new Plain(input) as Parameters<DynamoDBClient["send"]>[0]);
  return atKeys(output, unmarshallValue, unmarshallMembers, command.outputKeyNodes);
}

/**
 * `value` with `convert` applied at the key paths `nodes` names; everything else as it was.
 * `members` converts every member of a plain object at once, as `convert` on each would. As the
 * document client does, a function found on the way (a list's item, a map's member) is left out.
 */
function atKeys(
  value: unknown,
  convert: (v: unknown) => unknown,
  members: (v: object) => unknown,
  nodes: KeyNodes,
): unknown {
  if (value === undefined) return undefined;
  if (nodes === null) return convert(value);
  const keys = Object.keys(nodes);
  if (keys.length === 0) {
    if (isPlainObject(value)) return members(value);
    // Every member: a list's items, a map's values (a member that converts to nothing is left out).
    if (Array.isArray(value))
      return value.filter((v) => !isFunction(v)).map((v) => atKeys(v, convert, members, null));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as object)) {
      if (isFunction(v)) continue;
      const converted = atKeys(v, convert, members, null);
      if (converted !== undefined) out[k] = converted;
    }
    return out;
  }
  const named = nodes as { readonly [key: string]: KeyNodes };
  if (keys.length === 1 && keys[0] === "*") {
    const out: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
    for (const [k, v] of Object.entries(value as object))
      if (!isFunction(v)) (out as Record<string, unknown>)[k] = atKeys(v, convert, members, named["*"]);
    return out;
  }
  const out = (
    Array.isArray(value)
      ? value.filter((v) => !isFunction(v))
      : Object.fromEntries(Object.entries(value as object).filter(([, v]) => !isFunction(v)))
  ) as Record<string, unknown>;
  for (const k of keys) {
    if (isFunction((value as Record<string, unknown>)[k])) continue;
    const converted = atKeys((value as Record<string, unknown>)[k], convert, members, named[k]);
    if (converted !== undefined) out[k] = converted;
  }
  return out;
}

/**
 * Every item a query matches, every page read (the SDK's paginator): for what Reflex keeps
 * small and reads whole — one run's records, the held locks, the running cooldowns. Listings a
 * person pages through use a cursor instead.
 */
export async function queryAll(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for await (const page of paginateQuery({ client: db() }, input)) items.push(...(page.Items ?? []));
  return items;
}

/** True when a write lost its condition. */
export function isConditionFailure(err: unknown): boolean {
  return (err as { name?: string })?.name === "ConditionalCheckFailedException";
}

/**
 * Sends one conditional write. True when it was made; false when its condition did not hold
 * (someone else got there first, or the item is not in the expected state). Any other error
 * is thrown. The one place the "lost the condition" answer is told apart from a failure.
 *
 * @example
 * const released = await conditionalWrite(new DeleteCommand({ ..., ConditionExpression: "#owner = :me" }));
 */
export async function conditionalWrite(
  command: PutCommand | UpdateCommand | DeleteCommand,
): Promise<boolean> {
  try {
    await db().send(command as never);
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/**
 * Items a filtered page of a listing (executions, the audit trail) reads at most before it
 * answers with what it has: a filter that matches little must not turn one request into a walk
 * of the whole history.
 */
export const LIST_READ_BUDGET = 2000;

/**
 * The `Limit` of a listing's next query, `wanted` items short of a full page with `read` read so
 * far: unfiltered, exactly what is left; filtered, more (some is dropped), within the budget.
 */
export function pageLimit(filtered: boolean, wanted: number, read: number): number {
  return filtered ? Math.min(Math.max(wanted, 100), LIST_READ_BUDGET - read) : wanted;
}

/** Encodes a DynamoDB LastEvaluatedKey as an opaque cursor for HTTP paging. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** One attribute of a key, as DynamoDB takes it: a non-empty string of at most `maxBytes` bytes. */
const keyPart = (maxBytes: number) =>
  z
    .string()
    .min(1)
    .refine((s) => byteLength(s) <= maxBytes, { message: `at most ${maxBytes} bytes` });

/** The table's key (pk ≤ 2048 bytes, sk ≤ 1024): where a query on the table stopped. */
export const TableKey = z.object({ pk: keyPart(2048), sk: keyPart(1024) }).strict();

/**
 * A DynamoDB key as a cursor carries it: the table's key attributes (and the index's), each a
 * string that fits a key. Anything else in `ExclusiveStartKey` is refused by DynamoDB with an
 * error that would surface as a 500.
 */
export const PageKey = z
  .object({
    pk: keyPart(2048),
    sk: keyPart(1024),
    gsi1pk: keyPart(2048).optional(),
    gsi1sk: keyPart(1024).optional(),
  })
  .strict()
  .refine((k) => (k.gsi1pk === undefined) === (k.gsi1sk === undefined), {
    message: "gsi1pk and gsi1sk go together",
  });

/**
 * Where a query on gsi1 within one partition stopped: the table's key and the index's, in that
 * partition (DynamoDB refuses a start key from another partition or without the index's key).
 */
export const indexPageKey = (partition: string) =>
  z
    .object({ pk: keyPart(2048), sk: keyPart(1024), gsi1pk: z.literal(partition), gsi1sk: keyPart(1024) })
    .strict();

/**
 * Decodes a cursor made by {@link encodeCursor}; undefined for none. A cursor that is not
 * base64url JSON, or whose value does not have the shape `schema` describes (by default a
 * {@link PageKey}), is a ValidationError at `cursor` — it came from a caller, not from us.
 */
export function decodeCursor<T = z.output<typeof PageKey>>(
  cursor: string | undefined,
  schema: z.ZodType<T> = PageKey as unknown as z.ZodType<T>,
): T | undefined {
  if (!cursor) return undefined;
  const invalid = (why: string) =>
    new ValidationError("invalid_cursor", `cursor is not one this API gave out: ${why}`, [
      { path: "cursor", message: why },
    ]);
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(cursor)) throw invalid("not base64url");
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid("not base64url-encoded JSON");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}

const isFunction = (v: unknown) => typeof v === "function";

function isPlainObject(v: unknown): v is object {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
