/**
 * Step Functions log bytes per backup-snapshot run, measured in local mode: one real run on
 * the local engine (12 instances, one volume each, snapshots done after one poll), its
 * execution history turned into the CloudWatch Logs events Step Functions writes with
 * `level: ALL, includeExecutionData: true`, and their bytes summed (docs/deploy.md's cost).
 *
 * What is measured: the state inputs and outputs of the real run, i.e. the execution data,
 * which is most of each event. What is modelled: the event envelope and the events the local
 * engine does not emit (a Lambda Task's Scheduled/Started/Succeeded, a Map's Started/Succeeded),
 * with the shape AWS documents for Step Functions' log events; a Task's Lambda result is taken
 * to be the size of the state's output (it is at most that: ResultPath merges it in).
 */
import { validateConfig } from "@reflex/core";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import type { EventLog } from "../packages/local/src/engine/local-sfn.ts";
import { startLocal } from "../packages/local/src/local-mode.ts";

const INSTANCES = 12;
const EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:reflex-prod-backup-snapshot:";
const STEP_ARN = "arn:aws:lambda:us-east-1:123456789012:function:reflex-prod-step-backup-snapshot";

function event(id: number, type: string, details: Record<string, unknown>, executionArn: string) {
  return JSON.stringify({
    id: String(id),
    type,
    details,
    previous_event_id: String(id - 1),
    event_timestamp: "1767225600000",
    execution_arn: executionArn,
    redrive_count: "0",
  });
}

const data = (v: unknown) => JSON.stringify(v ?? {});

/** The log events AWS writes for one local history entry. */
function awsEvents(h: EventLog, executionArn: string, next: () => number): string[] {
  const state = h.state as { name: string; type: string; input?: unknown; output?: unknown } | undefined;
  const out: string[] = [];
  const e = (type: string, details: Record<string, unknown>) =>
    out.push(event(next(), type, details, executionArn));
  switch (h.type) {
    case "ExecutionStarted":
      e("ExecutionStarted", {
        input: data(h.input),
        inputDetails: { truncated: false },
        roleArn: "arn:aws:iam::123456789012:role/reflex-prod-Runbooks-MachineBackupSnapshotRole-ABCDEFGHIJKL",
      });
      break;
    case "ExecutionSucceeded":
    case "ExecutionFailed":
      e(h.type, { output: data(h.output), outputDetails: { truncated: false } });
      break;
    case "StateEntered": {
      const kind = state?.type ?? "Pass";
      e(`${kind}StateEntered`, {
        name: state?.name,
        input: data(state?.input),
        inputDetails: { truncated: false },
      });
      if (kind === "Task") {
        const payload = { runbook: "backup-snapshot", step: state?.name, input: state?.input };
        e("LambdaFunctionScheduled", {
          input: data(payload),
          inputDetails: { truncated: false },
          resource: STEP_ARN,
          timeoutInSeconds: 120,
        });
        e("LambdaFunctionStarted", {});
      }
      if (kind === "Map") e("MapStateStarted", { length: INSTANCES });
      break;
    }
    case "StateExited": {
      const kind = state?.type ?? "Pass";
      if (kind === "Task")
        e("LambdaFunctionSucceeded", { output: data(state?.output), outputDetails: { truncated: false } });
      if (kind === "Map") e("MapStateSucceeded", {});
      e(`${kind}StateExited`, {
        name: state?.name,
        output: data(state?.output),
        outputDetails: { truncated: false },
      });
      break;
    }
    case "MapIterationStarted":
    case "MapIterationSucceeded":
      e(h.type, { name: "SnapshotTargets", index: h.index ?? 0 });
      break;
    default:
      e(h.type, {});
  }
  return out;
}

/** Two runs: snapshots done at the first poll, and after about ten (docs/deploy.md's case). */
export async function sfnLogBytes(): Promise<Array<Record<string, unknown>>> {
  return [...(await measure(150)), ...(await measure(1_900))];
}

async function measure(snapshotDurationMs: number): Promise<Array<Record<string, unknown>>> {
  const cloud = new SimulatedCloud({ snapshotDurationMs });
  for (let i = 1; i <= INSTANCES; i++) cloud.addInstance({ name: `app-${i}`, tags: { Backup: "nightly" } });
  const local = await startLocal({
    config: validateConfig({}),
    port: 0,
    quiet: true,
    dataDir: null,
    waitMs: 200,
    scheduler: false,
    cloud,
  });
  try {
    const started = await fetch(`${local.url}/api/runbooks/backup-snapshot/executions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ params: { selector: { tag: { Backup: "nightly" } } } }),
    });
    const { executionId } = (await started.json()) as { executionId: string };
    await local.idle();
    const execution = local.engine.list().find((x) => x.name === executionId);
    if (execution?.status !== "SUCCEEDED") throw new Error(`run ${executionId} did not succeed`);
    let id = 0;
    const events = execution.history.flatMap((h) =>
      awsEvents(h, `${EXECUTION_ARN}${executionId}`, () => ++id),
    );
    const bytes = events.reduce((n, e) => n + Buffer.byteLength(e), 0);
    const polls = execution.history.filter(
      (h) => h.type === "StateEntered" && (h.state as { name: string }).name === "CheckSnapshots",
    ).length;
    return [
      {
        bench: "sfn-log-bytes",
        runbook: "backup-snapshot",
        instances: INSTANCES,
        polls,
        localHistoryEvents: execution.history.length,
        awsLogEvents: events.length,
        bytes,
        bytesPerEvent: Math.round(bytes / events.length),
      },
    ];
  } finally {
    await local.stop();
  }
}
