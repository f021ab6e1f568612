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
import { batcher } from "./batch.ts";
import { optionalEnv } from "./env.ts";

export type LifecycleType =
  | "Execution Started"
  | "Execution Succeeded"
  | "Execution Failed"
  | "Execution Aborted"
  | "Execution Lost"
  | "Attention Needed"
  | "Event Suppressed"
  | "Start Refused"
  | "Approval Requested"
  | "Approval Answered"
  | "Abort Requested";

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
  return put({
    EventBusName: busName(),
    Source: LIFECYCLE_SOURCE,
    DetailType: `Reflex ${type}`,
    Detail: JSON.stringify(detail),
    Time: now,
  });
}

interface Entry {
  EventBusName: string;
  Source: string;
  DetailType: string;
  Detail: string;
  Time: Date;
}

const put = batcher<Entry, boolean>(
  10,
  async (entries) => {
    try {
      const out = await client(EventBridgeClient, "eventbridge").send(
        new PutEventsCommand({ Entries: entries }),
      );
      return entries.map((e, i) => {
        const failed = out.Entries?.[i]?.ErrorCode;
        return failed ? lost(e, out.Entries?.[i]?.ErrorMessage ?? failed) : true;
      });
    } catch (err) {
      return entries.map((e) => lost(e, (err as Error).message));
    }
  },
  5,
);

function lost(e: Entry, error: string): false {
  console.warn(
    JSON.stringify({
      level: "WARN",
      message: "lifecycle event not published",
      type: e.DetailType,
      detail: e.Detail,
      error,
    }),
  );
  return false;
}
