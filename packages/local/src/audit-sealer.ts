/**
 * The audit sealer, locally: what the scheduled sealer function does deployed
 * (packages/functions/src/audit-sealer.ts), run by local mode's scheduler — every minute it seals
 * the periods that have ended (`audit.sealMinutes`, default an hour) with the key under
 * `.reflex/keys`, and exports them to the local audit bucket behind the WORM emulation (worm.ts).
 */
import { AuditExport, AuditTrail, type Config } from "@reflex/core";
import { Cron } from "croner";
import { asFunction } from "./lambda.ts";

export const LOCAL_AUDIT_BUCKET = "reflex-local-audit";

export interface LocalSealer {
  /** Runs the sealer now (tests, `reflex audit seal`), as the schedule would at `now`. */
  run(now?: Date, since?: Date): ReturnType<typeof AuditExport.sealAndExport>;
  stop(): void;
}

export function startLocalSealer(config: Config, schedule = true): LocalSealer {
  // A trail never sealed starts with the period local mode started in (not an hour before it).
  const startedAt = new Date();
  let running: Promise<unknown> = Promise.resolve();
  const run: LocalSealer["run"] = (now, since) => {
    const next = running.then(() =>
      asFunction("reflex-local-audit-sealer", () =>
        AuditExport.sealAndExport({
          signer: AuditTrail.signer(),
          hub: AuditTrail.hub(),
          periodMinutes: config.audit.sealMinutes,
          export: {
            bucket: LOCAL_AUDIT_BUCKET,
            retainDays: config.audit.retainDays,
            mode: config.audit.lockMode,
          },
          now,
          since: since ?? startedAt,
        }),
      ),
    );
    // One run at a time: a slow run is not overtaken by the next minute's.
    running = next.catch(() => undefined);
    return next;
  };
  let stopped = false;
  const cron = schedule
    ? new Cron("* * * * *", { name: "reflex-audit-sealer", protect: true }, () => {
        run().catch((err) => {
          // A pass cut short by local mode stopping (its store closed) is not a failure.
          if (!stopped) console.error("reflex: the audit sealer failed:", err);
        });
      })
    : undefined;
  return {
    run,
    stop: () => {
      stopped = true;
      cron?.stop();
    },
  };
}
