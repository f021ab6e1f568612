/**
 * `npm run bench`: every benchmark, one JSON object per figure on stdout. Pass names to run
 * some: `npm run bench -- alarm-storm`.
 */
import { admissionBench } from "./admission.ts";
import { alarmStorm } from "./alarm-storm.ts";
import { auditSealBench } from "./audit-seal.ts";
import { bundles } from "./bundles.ts";
import { chatopsBench } from "./chatops.ts";
import { chatopsStatusBench } from "./chatops-status.ts";
import { consoleBench } from "./console.ts";
import { dbRunbooksBench } from "./db-runbooks.ts";
import { failoverBench } from "./failover.ts";
import { gateCostBench } from "./gate-cost.ts";
import { offHoursBench } from "./off-hours.ts";
import { patchFleetBench } from "./patch-fleet.ts";
import { restoreDrillBench } from "./restore-drill.ts";
import { scaleServiceBench } from "./scale-service.ts";
import { sfnLogBytes } from "./sfn-log-bytes.ts";
import { soak } from "./soak.ts";
import { stateRequestBench } from "./state-request.ts";

process.env.AWS_ACCESS_KEY_ID ??= "local";
process.env.AWS_SECRET_ACCESS_KEY ??= "local";
process.env.AWS_REGION ??= "us-east-1";
process.env.AWS_EC2_METADATA_DISABLED = "true";

const benches: Record<string, () => Promise<Array<Record<string, unknown>>>> = {
  "alarm-storm": alarmStorm,
  "gate-cost": gateCostBench,
  "audit-seal": auditSealBench,
  bundles: () => bundles(),
  "sfn-log-bytes": sfnLogBytes,
  chatops: chatopsBench,
  "chatops-status": chatopsStatusBench,
  console: consoleBench,
  "db-runbooks": dbRunbooksBench,
  failover: failoverBench,
  "off-hours": offHoursBench,
  "patch-fleet": patchFleetBench,
  "restore-drill": restoreDrillBench,
  "scale-service": scaleServiceBench,
  admission: admissionBench,
  "state-request": stateRequestBench,
  soak,
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
for (const [name, bench] of Object.entries(benches)) {
  if (wanted.length && !wanted.includes(name)) continue;
  for (const figure of await bench()) process.stdout.write(`${JSON.stringify(figure)}\n`);
}
