/**
 * Counts the DynamoDB requests a process sends, by who sent them (the part of the code a bench
 * marks with {@link DdbCalls.within}), by operation and by the kind of item they touch (the
 * partition key's prefix: `DEDUP`, `EXEC`, `LOCK`, `AUDIT`…; a batch counts one request and
 * each of its items). Attach it with local mode's `decorateClient`.
 */
import { AsyncLocalStorage } from "node:async_hooks";

type Counts = Record<string, number>;

/** The item kind a key names: its partition key up to the first `#` (`EXEC#~ACTIVE` is `ACTIVE`). */
function kindOf(key: unknown): string {
  const pk = (key as { pk?: unknown } | undefined)?.pk;
  const value = typeof pk === "string" ? pk : (pk as { S?: string } | undefined)?.S;
  if (!value) return "?";
  if (value.startsWith("EXEC#~ACTIVE")) return "ACTIVE";
  return value.split("#")[0];
}

/** The kinds of item one request touches (one per item of a batch). */
function kindsOf(input: Record<string, any>): string[] {
  if (input.Key || input.Item) return [kindOf(input.Key ?? input.Item)];
  if (input.RequestItems) {
    const kinds: string[] = [];
    for (const requests of Object.values(input.RequestItems) as Array<any>) {
      // BatchWriteItem: [{ PutRequest | DeleteRequest }]; BatchGetItem: { Keys: [...] }.
      if (Array.isArray(requests))
        for (const r of requests) kinds.push(kindOf(r.PutRequest?.Item ?? r.DeleteRequest?.Key));
      else for (const k of requests.Keys ?? []) kinds.push(kindOf(k));
    }
    return kinds;
  }
  // A query: the key condition's first value names the partition.
  const values = input.ExpressionAttributeValues ?? {};
  const first = values[":pk"];
  return [first ? kindOf({ pk: first }) : "?"];
}

export class DdbCalls {
  readonly #scope = new AsyncLocalStorage<string>();
  /** Requests by scope, then `<operation> <kind>`. */
  readonly requests = new Map<string, Counts>();
  /** Items touched by scope, then kind (a batch's items each count). */
  readonly items = new Map<string, Counts>();

  /** Runs `fn` with every request it causes (in this async context) counted under `scope`. */
  within<T>(scope: string, fn: () => Promise<T>): Promise<T> {
    return this.#scope.run(scope, fn);
  }

  /** The scope the caller is in (what {@link DdbCalls.within} named), if any. */
  scope(): string | undefined {
    return this.#scope.getStore();
  }

  /** Local mode's `decorateClient`: counts the DynamoDB client's requests. */
  readonly decorate = (service: string, client: { middlewareStack: { add: (...a: any[]) => void } }) => {
    if (service !== "dynamodb") return;
    client.middlewareStack.add(
      (next: (args: any) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: { input: Record<string, any> }) => {
          const scope = this.#scope.getStore() ?? "other";
          const op = (context.commandName ?? "?").replace(/Command$/, "");
          const kinds = kindsOf(args.input);
          const requests = this.requests.get(scope) ?? {};
          const label = `${op} ${[...new Set(kinds)].join("+")}`;
          requests[label] = (requests[label] ?? 0) + 1;
          this.requests.set(scope, requests);
          const items = this.items.get(scope) ?? {};
          for (const k of kinds) items[k] = (items[k] ?? 0) + 1;
          this.items.set(scope, items);
          return next(args);
        },
      { step: "initialize", name: "benchDdbCalls", override: true },
    );
  };

  /** Every other service's calls by scope, then `<service> <operation>` (counted by {@link DdbCalls.decorateAll}). */
  readonly services = new Map<string, Counts>();

  /** Local mode's `decorateClient`: DynamoDB counted as {@link DdbCalls.decorate} does, every other service's calls by name. */
  readonly decorateAll = (service: string, client: { middlewareStack: { add: (...a: any[]) => void } }) => {
    this.decorate(service, client);
    if (service === "dynamodb") return;
    client.middlewareStack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => {
        const scope = this.#scope.getStore() ?? "other";
        const counts = this.services.get(scope) ?? {};
        const label = `${service} ${(context.commandName ?? "?").replace(/Command$/, "")}`;
        counts[label] = (counts[label] ?? 0) + 1;
        this.services.set(scope, counts);
        return next(args);
      },
      { step: "initialize", name: "benchServiceCalls", override: true },
    );
  };

  /** Each count divided by `per` (e.g. per event), largest first, rounded. */
  static per(counts: Counts, per: number): Counts {
    return Object.fromEntries(
      Object.entries(counts)
        .sort(([, a], [, b]) => b - a)
        .map(([k, v]) => [k, +(v / per).toFixed(3)]),
    );
  }

  /** The total of a scope's requests. */
  total(scope: string): number {
    return Object.values(this.requests.get(scope) ?? {}).reduce((a, b) => a + b, 0);
  }
}
