/**
 * The audit sealer, on a schedule (stacks/audit.ts): seals each audit period that has ended
 * (`audit.sealMinutes`, default an hour) in a digest signed with the audit KMS key — the only
 * role that may `kms:Sign` with it — and exports the period's entries and digest to the bucket
 * under Object Lock. Core does the work (state/audit-seal.ts, state/audit-export.ts).

 * The export's lag is watched by the reconciler (reconcile.ts), so a sealer that stops running
 * at all still pages.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { AuditExport, AuditTrail, currentConfig, requireEnv } from "@reflex/core";
import { loadConfigFromEnv, logger } from "./lib/runtime.ts";

loadConfigFromEnv();

export const handler = middy<unknown, { sealed: number; exported: number }>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async () => {
    const { audit } = currentConfig();
    const out = await AuditExport.sealAndExport({
      signer: AuditTrail.signer(),
      hub: AuditTrail.hub(),
      periodMinutes: audit.sealMinutes,
      export: {
        bucket: requireEnv("REFLEX_AUDIT_BUCKET"),
        retainDays: audit.retainDays,
        mode: audit.lockMode,
      },
    });
    for (const d of out.sealed)
      logger.info("sealed an audit period", {
        sequence: d.sequence,
        hour: d.hour,
        count: d.count,
        backfill: d.backfill,
      });
    return { sealed: out.sealed.length, exported: out.exported };
  });
