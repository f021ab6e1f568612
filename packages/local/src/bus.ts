/**
 * The local EventBridge: answers PutEvents (AWS JSON 1.1, `X-Amz-Target: AWSEvents.PutEvents`)
 * so core's EventBridge client works unchanged. Events put on Reflex's bus (lifecycle events)
 * are kept, newest last, for `GET /api/lifecycle` and subscribers; events put on any other bus
 * go to the trigger handler, as the deployed rules would send them.
 */
import { randomUUID } from "node:crypto";

export interface BusEvent {
  id: string;
  bus: string;
  source: string;
  "detail-type": string;
  time: string;
  detail: unknown;
}

/**
 * One PutEvents entry as it arrives: JSON from the caller, each field checked before it is used
 * (the server has checked only that the entry is an object).
 */
export interface PutEventsEntry {
  Source?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  EventBusName?: unknown;
  Time?: unknown;
  Resources?: unknown;
}

/** The entry's fields as an event takes them, or why EventBridge would refuse it (`InvalidArgument`). */
function readEntry(
  entry: PutEventsEntry,
): { source: string; detailType: string; bus?: string; resources: string[] } | string {
  if (typeof entry.Source !== "string") return "Source must be a string";
  if (typeof entry.DetailType !== "string") return "DetailType must be a string";
  if (entry.EventBusName !== undefined && typeof entry.EventBusName !== "string")
    return "EventBusName must be a string";
  const resources = entry.Resources ?? [];
  if (!Array.isArray(resources) || resources.some((r) => typeof r !== "string"))
    return "Resources must be a list of strings";
  return { source: entry.Source, detailType: entry.DetailType, bus: entry.EventBusName, resources };
}

/** An entry's Detail: JSON text (an empty object when absent); undefined when it is not JSON text. */
function parseDetail(text: unknown): { value: unknown } | undefined {
  if (text === undefined) return { value: {} };
  if (typeof text !== "string") return undefined;
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

export class LocalBus {
  private readonly events: BusEvent[] = [];
  private readonly subscribers: Array<(e: BusEvent) => void> = [];

  constructor(
    private readonly reflexBus: string,
    private readonly forward: (event: unknown) => Promise<void>,
    private readonly keep = 1000,
    private readonly retries = 8,
    private readonly retryBaseMs = 1000,
  ) {}

  /**
   * Delivers to the target as EventBridge does: PutEvents has accepted the event whatever the
   * target does; a target that throws (a store failure, a claim still in progress elsewhere)
   * gets it again later, with backoff, up to `retries` times.
   */
  private async deliver(event: unknown, attempt = 0): Promise<void> {
    try {
      await this.forward(event);
    } catch (err) {
      if (attempt >= this.retries) {
        console.error(`reflex: local bus gave up delivering event ${(event as { id?: string }).id}:`, err);
        return;
      }
      const delay = Math.min(this.retryBaseMs * 2 ** attempt, 60_000);
      setTimeout(() => void this.deliver(event, attempt + 1), delay).unref?.();
    }
  }

  /** Lifecycle events, newest first. */
  list(limit = 100): BusEvent[] {
    return this.events.slice(-limit).reverse();
  }

  subscribe(fn: (e: BusEvent) => void): () => void {
    this.subscribers.push(fn);
    return () => this.subscribers.splice(this.subscribers.indexOf(fn), 1);
  }

  async putEvents(body: { Entries?: unknown }): Promise<{ status: number; body: unknown }> {
    const entries = body.Entries ?? [];
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > 10) {
      return {
        status: 400,
        body: { __type: "ValidationException", message: "Entries must hold 1 to 10 entries" },
      };
    }
    const results: Array<Record<string, string>> = [];
    for (const item of entries) {
      const entry: PutEventsEntry = item !== null && typeof item === "object" ? item : {};
      const fields = readEntry(entry);
      if (typeof fields === "string") {
        results.push({ ErrorCode: "InvalidArgument", ErrorMessage: fields });
        continue;
      }
      const detail = parseDetail(entry.Detail);
      if (!detail) {
        results.push({ ErrorCode: "MalformedDetail", ErrorMessage: "Detail is not valid JSON" });
        continue;
      }
      const event: BusEvent = {
        id: randomUUID(),
        bus: fields.bus ?? "default",
        source: fields.source,
        "detail-type": fields.detailType,
        time: new Date(typeof entry.Time === "number" ? entry.Time * 1000 : Date.now()).toISOString(),
        detail: detail.value,
      };
      if (event.bus === this.reflexBus) {
        this.events.push(event);
        if (this.events.length > this.keep) this.events.shift();
        for (const s of this.subscribers) s(event);
      } else {
        const { bus, ...rest } = event;
        await this.deliver({
          version: "0",
          account: "000000000000",
          region: process.env.AWS_REGION ?? "us-east-1",
          resources: fields.resources,
          ...rest,
          time: rest.time.replace(/\.\d{3}Z$/, "Z"),
        });
      }
      results.push({ EventId: event.id });
    }
    const failed = results.filter((r) => r.ErrorCode).length;
    return { status: 200, body: { FailedEntryCount: failed, Entries: results } };
  }
}
