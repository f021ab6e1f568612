/** backup-snapshot's step implementations (loaded by the step worker only). */
import { implementSteps } from "../define.ts";
import { backupSnapshot } from "./index.ts";
import { rollback } from "./rollback.ts";
import { checkSnapshots, copyToRegion, plan, prune, report, snapshotInstance } from "./steps.ts";

export const backupSteps = implementSteps(backupSnapshot, {
  plan,
  snapshotInstance,
  checkSnapshots,
  copyToRegion,
  prune,
  report,
  rollback,
});
