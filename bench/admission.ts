/**
 * Admission and approvals, in local mode (one process, dynalite, the local engine):
 * - the time from `approve` (the API call) to the first mutating cloud call of the approved
 *   run (median of 20 scale runs that waited for approval);
 * - the time of one start through `Admission.admit` (params, access, pause, breaker, freeze,
 *   blast radius, approval policy, then the record, locks and StartExecution) next to
 *   `Runs.start` alone (the start path before admission existed: record, locks, start), in the
 *   same run, on the same store.
 */
import { Admission, validateConfig } from "@reflex/core";
// The private start, measured against admit(): not exported by core (only admission may call it).
import * as Runs from "../packages/core/src/runs.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { startLocal } from "../packages/local/src/local-mode.ts";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p99 = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))];

export async function admissionBench(): Promise<Array<Record<string, unknown>>> {
  const config = validateConfig({
    environment: "prod",
    access: {
      roles: { oncall: ["cli:alice"], sre: ["cli:carol"] },
      allow: [
        { role: "oncall", runbooks: ["*"], actions: ["run", "dry-run"] },
        { role: "sre", runbooks: ["*"], actions: ["run", "dry-run", "approve"] },
      ],
    },
    guardrails: { rateLimit: { runs: 100_000, per: "1h" } },
  });
  const local = await startLocal({
    config,
    port: 0,
    quiet: true,
    dataDir: null,
    waitMs: 5,
    scheduler: false,
    cloud: SimulatedCloud.seeded({ snapshotDurationMs: 50 }),
  });
  const call = async (as: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${local.url}${path}`, {
      method,
      headers: { "content-type": "application/json", "x-reflex-actor": as },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await res.json()) as any;
  };
  try {
    const approveToChange: number[] = [];
    for (let i = 0; i < 20; i++) {
      const change = i % 2 === 0 ? "+1" : "-1";
      const started = await call("cli:alice", "POST", "/api/runbooks/scale/executions", {
        params: { autoScalingGroup: "web", change },
      });
      const executionId = started.executionId as string;
      if (!executionId) throw new Error(`start refused: ${JSON.stringify(started)}`);
      for (;;) {
        const e = await call("cli:alice", "GET", `/api/executions/${executionId}`);
        if (e.status === "WAITING_FOR_APPROVAL") break;
        if (e.status !== "RUNNING") throw new Error(`run ${executionId} ended ${e.status}: ${e.cause}`);
        await new Promise((r) => setTimeout(r, 2));
      }
      const mark = local.cloud.calls.length;
      const t0 = Date.now();
      await call("cli:carol", "POST", `/api/executions/${executionId}/approve`, {});
      for (;;) {
        const hit = local.cloud.calls.slice(mark).find((c) => c.mutating);
        if (hit) {
          approveToChange.push(hit.at - t0);
          break;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      await local.idle();
    }

    // Admission vs the bare start path, interleaved so both see the same store and load.
    const admitted: number[] = [];
    const bare: number[] = [];
    const params = { selector: { tag: { Role: "db" } } };
    for (let i = 0; i < 200; i++) {
      let t = performance.now();
      const a = await Admission.admit({
        runbook: "backup-snapshot",
        params,
        dryRun: true,
        trigger: { kind: "manual" },
        actor: { id: "cli:alice" },
        config,
      });
      admitted.push(performance.now() - t);
      if (!a.admitted) throw new Error(a.reason);
      t = performance.now();
      await Runs.start({
        runbook: "backup-snapshot",
        params,
        dryRun: true,
        trigger: { kind: "manual", actor: "bench" },
      });
      bare.push(performance.now() - t);
      if (i % 20 === 19) await local.idle();
    }
    await local.idle();
    return [
      {
        figure: "approve-to-first-mutating-call",
        unit: "ms",
        runs: approveToChange.length,
        median: median(approveToChange),
        max: Math.max(...approveToChange),
        note: "local mode, scale +1/-1 on web; from the approve API call to SetDesiredCapacity reaching the simulated cloud",
      },
      {
        figure: "admission-decision-time",
        unit: "ms per start",
        starts: admitted.length,
        admitMedian: Number(median(admitted).toFixed(2)),
        admitP99: Number(p99(admitted).toFixed(2)),
        bareStartMedian: Number(median(bare).toFixed(2)),
        bareStartP99: Number(p99(bare).toFixed(2)),
        ratio: Number((median(admitted) / median(bare)).toFixed(2)),
        note: "Admission.admit (all checks + start) vs Runs.start alone (record, locks, StartExecution), dry-run backups, same store, interleaved",
      },
    ];
  } finally {
    await local.stop();
  }
}
