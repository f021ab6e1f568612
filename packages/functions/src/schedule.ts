/**
 * Schedules and maintenance windows: EventBridge Scheduler (or the local scheduler) invokes
 * this with `{ kind, name, scheduledTime }`. What runs, and with which params, is the config's
 * schedule or window of that name — never the payload: anyone able to invoke this function
 * directly could otherwise start any runbook with any params as trusted automation. A `run` or
 * `with` in the payload (older deployments send them) is ignored; an unknown or disabled name is
 * rejected and audited. The fire time, to the minute, makes the execution name, so a redelivered
 * or replayed invocation is the same run however it writes the time (`…:00Z`, `…:00.000Z`, an
 * offset, other seconds of the minute); one older than the Scheduler's last retry is refused.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import {
  Admission,
  Audit,
  ConflictError,
  currentConfig,
  Locations,
  Organization,
  ValidationError,
} from "@reflex/core";
import { z } from "zod";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";

loadConfigFromEnv();

const ScheduleEvent = z
  .object({
    kind: z.enum(["schedule", "window"]),
    name: z.string().min(1).max(128),
    /** The scheduled time (Scheduler's `<aws.scheduler.scheduled-time>`). */
    scheduledTime: z.string().min(1).max(64),
  })
  // `run` / `with` may be present (older payloads); they are not read.
  .loose();

type Outcome = { executionId?: string; decision: string; reason?: string };

/** How far ahead of the clock a fire time may be (clock skew): a later one would move a window. */
const MAX_FIRE_AHEAD_MS = 5 * 60_000;
/**
 * How old a fire time may be: the Scheduler retries a delivery for at most an hour
 * (`SCHEDULE_RETRY.maximumEventAgeInSeconds` in stacks/triggers.ts), plus clock skew. An older
 * one is a replay, not a delivery: refused, so a run whose record has gone cannot be started again.
 */
export const MAX_FIRE_AGE_MS = 3_600_000 + MAX_FIRE_AHEAD_MS;

export const handler = middy<unknown, Outcome>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((raw) => fire(raw));

/**
 * One invocation, decided at `now`. Refused (audited, not thrown: a retry would not change it):
 * a name the config has no enabled schedule or window for; a fire time that is not an instant,
 * or lies ahead of the clock — a window's bounds come from it, so a forged future time would
 * open a maintenance window now.
 */
export async function fire(raw: unknown, now = new Date()): Promise<Outcome> {
  const parsed = ScheduleEvent.safeParse(raw);
  if (!parsed.success) throw new ValidationError("invalid_schedule_event", parsed.error.message);
  const e = parsed.data;
  const config = currentConfig();
  const entry = (e.kind === "window" ? config.windows : config.schedules).find((s) => s.name === e.name);
  const at = Date.parse(e.scheduledTime);
  const refusal = !entry?.enabled
    ? `no ${entry ? "enabled " : ""}${e.kind} named '${e.name.slice(0, 63)}' in the config: nothing started (a schedule's runbook and params come from the config, never from the invocation)`
    : !Number.isFinite(at)
      ? `scheduledTime '${e.scheduledTime}' is not an instant: nothing started`
      : at > now.getTime() + MAX_FIRE_AHEAD_MS
        ? `scheduledTime ${e.scheduledTime} is ahead of the clock (${now.toISOString()}): a ${e.kind} fires when it is due, nothing started`
        : at < now.getTime() - MAX_FIRE_AGE_MS
          ? `scheduledTime ${e.scheduledTime} is older than the Scheduler's last retry (an hour before ${now.toISOString()}): a replayed firing, nothing started`
          : undefined;
  if (refusal || !entry) {
    const reason = refusal ?? "";
    await Audit.record({ kind: "schedule.rejected", actor: `${e.kind}:${e.name.slice(0, 63)}`, reason }, now);
    logger.warn("schedule invocation rejected", { kind: e.kind, name: e.name, reason });
    return { decision: "rejected", reason };
  }
  // One run per fire time, to the minute (the Scheduler's granularity), however it is written.
  const minute = new Date(Math.floor(at / 60_000) * 60_000).toISOString();
  const stamp = minute.replace(/[^0-9TZ]/g, "").slice(0, 16);
  const executionId = `${e.name}-${stamp}`.slice(0, 80);
  // A window's run carries its bounds: no new target starts after the cutoff.
  const window = e.kind === "window" ? config.windows.find((w) => w.name === e.name) : undefined;
  const request = {
    runbook: entry.run,
    params: entry.with,
    trigger: { kind: e.kind, name: e.name },
    actor: { id: `${e.kind}:${e.name}` },
    window:
      window && Number.isFinite(at)
        ? {
            name: window.name,
            endsAt: new Date(at + window.duration).toISOString(),
            cutoffAt: new Date(at + window.duration - window.cutoff).toISOString(),
          }
        : undefined,
    // Freezes are judged at the fire time: a redelivery decides the same (a freeze that
    // began since does not turn a started run into a refused one, nor the reverse).
    decisionTime: Number.isFinite(at) ? new Date(at) : undefined,
  };
  if (entry.locations) return fanOut(request, entry.locations, `${e.name.slice(0, 50)}-${stamp}`);
  const admission = await Admission.admit({ ...request, executionId, config });
  if (admission.admitted) return { executionId, decision: "started" };
  if (admission.duplicate) {
    // The same fire time delivered again: that run exists already.
    logger.info("schedule redelivered; run already started", { executionId });
    return { executionId, decision: "duplicate" };
  }
  // Refused (freeze, pause, breaker, lock…): audited by admission; not an error to retry.
  logger.info("scheduled run suppressed", {
    executionId,
    check: admission.check,
    reason: admission.reason,
  });
  return { executionId, decision: "suppressed", reason: admission.reason };
}

/**
 * A schedule or window with `locations`: one child run per location, started and waited for by
 * the fan-out's state machine (each child admitted on its own, with this trigger). The parent's
 * id comes from the fire time, so a redelivered invocation is the same fan-out, not a second.
 */
async function fanOut(
  request: Locations.FanOutRequest,
  locations: NonNullable<ReturnType<typeof currentConfig>["schedules"][number]["locations"]>,
  parentId: string,
): Promise<Outcome> {
  // The OUs' accounts are in the selector's reach only once resolved (a cold start has none yet).
  await Organization.refresh(currentConfig());
  const { locationConcurrency, locationMaxErrors, ...selector } = locations;
  const planned = Locations.plan({ ...request, parentId }, selector, {
    locationConcurrency,
    locationMaxErrors,
  });
  try {
    await Locations.launch(request, planned);
  } catch (err) {
    if (!(err instanceof ConflictError && err.code === "execution_exists")) throw err;
    // Redelivered: the same fan-out. Started again in case the first delivery died between its
    // item and its state machine (StartExecution by the same name and input changes nothing).
    await Locations.resume(parentId);
    logger.info("schedule redelivered; fan-out already started", { parentId });
    return { executionId: parentId, decision: "duplicate" };
  }
  return {
    executionId: parentId,
    decision: "started",
    reason: `${request.runbook} in ${planned.children.length} location(s)`,
  };
}
