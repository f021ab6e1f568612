/**
 * Schedules and maintenance windows: EventBridge Scheduler (or the local scheduler) invokes
 * this with the schedule's target input. The schedule's fire time makes the execution name,
 * so a redelivered invocation is the same run.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { ConflictError, Runs, ValidationError } from "@reflex/core";
import { z } from "zod";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";

loadConfigFromEnv();

const ScheduleEvent = z.object({
  kind: z.enum(["schedule", "window"]),
  name: z.string().min(1),
  run: z.string().min(1),
  with: z.record(z.string(), z.unknown()).default({}),
  /** The scheduled time (Scheduler's `<aws.scheduler.scheduled-time>`). */
  scheduledTime: z.string().min(1),
});

export const handler = middy<unknown, { executionId: string }>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (raw) => {
    const parsed = ScheduleEvent.safeParse(raw);
    if (!parsed.success) throw new ValidationError("invalid_schedule_event", parsed.error.message);
    const e = parsed.data;
    const stamp = e.scheduledTime.replace(/[^0-9TZ]/g, "").slice(0, 16);
    const executionId = `${e.name}-${stamp}`.slice(0, 80);
    try {
      await Runs.start({
        runbook: e.run,
        params: e.with,
        trigger: { kind: e.kind, name: e.name, actor: `${e.kind}:${e.name}` },
        executionId,
      });
    } catch (err) {
      // The same fire time delivered again: that run exists already.
      if (!(err instanceof ConflictError && err.code === "execution_exists")) throw err;
      logger.info("schedule redelivered; run already started", { executionId });
    }
    return { executionId };
  });
