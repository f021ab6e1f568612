/** backup-snapshot's step implementations (loaded by the step worker only). */

import { region as defaultRegion } from "../../env.ts";
import { implementSteps } from "../define.ts";
import { backupSnapshot } from "./index.ts";
import type { BackupParams } from "./params.ts";
import { rollback } from "./rollback.ts";
import {
  checkSnapshots,
  copyToRegion,
  plan,
  prune,
  report,
  snapshotInstance,
  snapshotsOfExecution,
} from "./steps.ts";

export const backupSteps = implementSteps(
  backupSnapshot,
  {
    plan,
    snapshotInstance,
    checkSnapshots,
    copyToRegion,
    prune,
    report,
    rollback,
  },
  {
    // A lost backup may have made snapshots nobody will report, copy or prune: list them.
    inspectLost: async (e) => {
      const p = e.params as Partial<BackupParams>;
      const regions = [p.region ?? defaultRegion(), ...(p.copyToRegion ? [p.copyToRegion] : [])];
      const found = (
        await Promise.all(
          regions.map(async (r) => (await snapshotsOfExecution(r, e.id)).map((s) => ({ ...s, region: r }))),
        )
      ).flat();
      return {
        orphanedSnapshots: found.map((s) => ({
          snapshotId: s.snapshotId,
          state: s.state,
          region: s.region,
          volumeId: s.tags["reflex:source-volume"],
          instanceId: s.tags["reflex:source-instance"],
        })),
        note: found.length
          ? "snapshots this run made before it was lost; they carry its retention tag and later backups prune them when expired"
          : "this run made no snapshot",
      };
    },
  },
);
