/**
 * The run's report: the per-instance table and the compliance summary, to S3 and to the
 * execution record (the table itself only for runs small enough to fit an item).
 */
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { client } from "../../aws.ts";
import { requireEnv } from "../../env.ts";
import * as Executions from "../../state/executions.ts";
import * as Results from "../../state/patch-results.ts";
import type { StepContext } from "../define.ts";
import type { PatchParams } from "./params.ts";
import { type Plan, RUNBOOK } from "./steps.ts";

const TABLE_IN_RECORD = 500;

export interface Compliance {
  targets: number;
  patched: number;
  rolledBack: number;
  failed: number;
  skipped: number;
  notStarted: { cutoff: number; maxErrors: number; aborted: number; other: number };
  /** Patched of the targets that were not skipped, in percent. */
  compliancePercent: number;
}

export interface Report {
  compliance: Compliance;
  /** Targets that did not end patched for a failure (failed or rolled back). */
  failed: number;
  aborted: boolean;
  report: string;
}

export async function report(
  input: {
    execution: { id: string };
    params: PatchParams;
    plan?: Plan;
    failure?: { Error?: string; Cause?: string };
  },
  ctx: StepContext,
): Promise<Report> {
  const results = await Results.list(ctx.executionId);
  const seen = new Set(results.map((r) => r.instanceId));
  const endedAt = ctx.now().toISOString();
  // Planned targets with no result never started: the Map stopped (an error in the run itself).
  for (const id of input.plan?.instanceIds ?? [])
    if (!seen.has(id))
      results.push({
        instanceId: id,
        status: "not-started",
        reason: input.failure ? `run failed before it: ${input.failure.Error}` : "never started",
        endedAt,
      });
  results.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  const count = (f: (r: Results.TargetResult) => boolean) => results.filter(f).length;
  const notStarted = (reason: string) => count((r) => r.status === "not-started" && r.reason === reason);
  const skipped = count((r) => r.status === "skipped");
  const patched = count((r) => r.status === "patched");
  const compliance: Compliance = {
    targets: results.length,
    patched,
    rolledBack: count((r) => r.status === "rolled-back"),
    failed: count((r) => r.status === "failed"),
    skipped,
    notStarted: {
      cutoff: notStarted("cutoff"),
      maxErrors: notStarted("maxErrors"),
      aborted: notStarted("aborted"),
      other: count(
        (r) => r.status === "not-started" && !["cutoff", "maxErrors", "aborted"].includes(r.reason ?? ""),
      ),
    },
    compliancePercent:
      results.length - skipped ? Math.round((patched / (results.length - skipped)) * 1000) / 10 : 100,
  };
  const bucket = requireEnv("REFLEX_BUCKET");
  const key = `reports/${RUNBOOK}/${endedAt.slice(0, 10)}/${ctx.executionId}.json`;
  await client(S3Client, "s3").send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: JSON.stringify(
        {
          runbook: RUNBOOK,
          executionId: ctx.executionId,
          params: input.params,
          endedAt,
          compliance,
          targets: results,
        },
        null,
        2,
      ),
      ContentType: "application/json",
    }),
  );
  const record = await Executions.find(ctx.executionId);
  const location = `s3://${bucket}/${key}`;
  const n = compliance.notStarted;
  await Executions.setResult(ctx.executionId, {
    compliance,
    report: location,
    ...(results.length <= TABLE_IN_RECORD ? { targets: results } : {}),
    summary:
      `${patched} of ${results.length} patched, ${compliance.rolledBack} rolled back, ${compliance.failed} failed, ${skipped} skipped` +
      `, not started: ${n.cutoff} (cutoff), ${n.maxErrors} (maxErrors), ${n.aborted} (aborted)${n.other ? `, ${n.other} (other)` : ""}`,
  });
  return {
    compliance,
    failed: compliance.failed + compliance.rolledBack,
    aborted: Boolean(record?.cancel),
    report: location,
  };
}
