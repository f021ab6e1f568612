/**
 * Bus: Reflex's own EventBridge bus for lifecycle events (`source: reflex`, detail-type
 * `Reflex Execution Started|Succeeded|Failed|Aborted`, `Reflex Event Suppressed`). The Slack
 * notifier and anyone else subscribe here. An archive keeps them for replay.
 */
import { Duration } from "aws-cdk-lib";
import { EventBus } from "aws-cdk-lib/aws-events";
import type { StackContext } from "sst/constructs";
import { eventBusName, isProdStage } from "./context.ts";

/** How long lifecycle events are archived (replayable). */
export const ARCHIVE_DAYS = { prod: 90, other: 7 } as const;

export function Bus({ stack }: StackContext) {
  const bus = new EventBus(stack, "Bus", { eventBusName: eventBusName(stack) });
  const archive = bus.archive("Archive", {
    description: "Reflex lifecycle events, replayable",
    // An archive needs a pattern; this one matches every event sent to this account's bus.
    eventPattern: { account: [stack.account] },
    retention: Duration.days(isProdStage(stack.stage) ? ARCHIVE_DAYS.prod : ARCHIVE_DAYS.other),
  });
  stack.addOutputs({ EventBus: bus.eventBusName });
  return { bus, archive };
}
