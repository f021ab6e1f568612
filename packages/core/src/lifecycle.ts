/**
 * Lifecycle events on Reflex's own EventBridge bus: a run started, succeeded, failed, or an
 * event was suppressed by a guardrail. The notifier (Slack) and anyone else subscribe there.
 * Locally the bus is the local server's EventBridge API, visible at `GET /api/lifecycle`.
 *
 * Publishing is best-effort for the run (a notification outage must not stop remediation),
 * but never silent: a failed publish is logged with the event it lost.
 */
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { client } from "./aws.ts";
import { optionalEnv } from "./env.ts";

export type LifecycleType =
  | "Execution Started"
  | "Execution Succeeded"
  | "Execution Failed"
  | "Execution Aborted"
  | "Event Suppressed";

export const LIFECYCLE_SOURCE = "reflex";

/** The bus lifecycle events go to: `REFLEX_EVENT_BUS`, else `reflex`. */
export function busName(): string {
  return optionalEnv("REFLEX_EVENT_BUS", "reflex");
}

/**
 * Publishes one lifecycle event. Resolves false (and logs) when the bus refused it. Events
 * published in the same tick go out together (PutEvents takes 10), as audit entries do.
 */
export function publish(
  type: LifecycleType,
  detail: Record<string, unknown>,
  now = new Date(),
): Promise<boolean> {
  return new Promise((resolve) => {
    queue.push({
      entry: {
        EventBusName: busName(),
        Source: LIFECYCLE_SOURCE,
        DetailType: `Reflex ${type}`,
        Detail: JSON.stringify(detail),
        Time: now,
      },
      resolve,
    });
    if (queue.length >= BATCH) void flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(() => void flush());
    }
  });
}

interface Pending {
  entry: { EventBusName: string; Source: string; DetailType: string; Detail: string; Time: Date };
  resolve: (ok: boolean) => void;
}
const BATCH = 10;
let queue: Pending[] = [];
let scheduled = false;

async function flush(): Promise<void> {
  scheduled = queue.length > BATCH;
  const batch = queue.slice(0, BATCH);
  queue = queue.slice(BATCH);
  if (scheduled) setImmediate(() => void flush());
  if (batch.length === 0) return;
  try {
    const out = await client(EventBridgeClient, "eventbridge").send(
      new PutEventsCommand({ Entries: batch.map((p) => p.entry) }),
    );
    batch.forEach((p, i) => {
      const failed = out.Entries?.[i]?.ErrorCode;
      if (failed) lost(p, out.Entries?.[i]?.ErrorMessage ?? failed);
      else p.resolve(true);
    });
  } catch (err) {
    for (const p of batch) lost(p, (err as Error).message);
  }
}

function lost(p: Pending, error: string): void {
  console.warn(
    JSON.stringify({
      level: "WARN",
      message: "lifecycle event not published",
      type: p.entry.DetailType,
      detail: p.entry.Detail,
      error,
    }),
  );
  p.resolve(false);
}
