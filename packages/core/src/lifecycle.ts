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

/** Publishes one lifecycle event. Resolves false (and logs) when the bus refused it. */
export async function publish(
  type: LifecycleType,
  detail: Record<string, unknown>,
  now = new Date(),
): Promise<boolean> {
  try {
    const out = await client(EventBridgeClient, "eventbridge").send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: busName(),
            Source: LIFECYCLE_SOURCE,
            DetailType: `Reflex ${type}`,
            Detail: JSON.stringify(detail),
            Time: now,
          },
        ],
      }),
    );
    if ((out.FailedEntryCount ?? 0) > 0) throw new Error(out.Entries?.[0]?.ErrorMessage ?? "entry refused");
    return true;
  } catch (err) {
    console.warn(
      JSON.stringify({
        level: "WARN",
        message: "lifecycle event not published",
        type,
        detail,
        error: (err as Error).message,
      }),
    );
    return false;
  }
}
