/**
 * Compensation for a backup run that failed part-way: delete what this run left half-made
 * (snapshots still pending or in error, in the source and the DR region). Completed snapshots
 * are kept: they are good backups, and retention prunes them like any other.
 */
import { DeleteSnapshotCommand } from "@aws-sdk/client-ec2";
import { ec2, isNotFound } from "../../adapters/ec2.ts";
import { isTransient } from "../../aws-errors.ts";
import { region as defaultRegion } from "../../env.ts";
import * as Executions from "../../state/executions.ts";
import type { RunInput, StepContext } from "../define.ts";
import type { BackupParams } from "./params.ts";
import { snapshotsOfExecution } from "./steps.ts";

export interface RollbackResult {
  deleted: string[];
  kept: string[];
  failed: Array<{ snapshotId: string; error: string }>;
}

export async function rollback(
  input: RunInput<BackupParams> & { failure?: { Error?: string; Cause?: string } },
  ctx: StepContext,
): Promise<RollbackResult> {
  const region = input.params.region ?? defaultRegion();
  const regions = input.params.copyToRegion ? [region, input.params.copyToRegion] : [region];
  const out: RollbackResult = { deleted: [], kept: [], failed: [] };
  for (const r of regions) {
    for (const s of await snapshotsOfExecution(r, ctx.executionId)) {
      if (s.state === "completed") {
        out.kept.push(s.snapshotId);
        continue;
      }
      try {
        await ec2(r).send(new DeleteSnapshotCommand({ SnapshotId: s.snapshotId }));
        out.deleted.push(s.snapshotId);
      } catch (err) {
        if (isNotFound(err)) out.deleted.push(s.snapshotId);
        else if (isTransient(err))
          throw err; // retried by the state machine (RETRY_ROLLBACK)
        else out.failed.push({ snapshotId: s.snapshotId, error: (err as Error).message });
      }
    }
  }
  await Executions.setResult(ctx.executionId, { rollback: { ...out, reason: input.failure ?? null } });
  return out;
}
