/**
 * bench/failover: time from a person's approval to a verified switch, in local mode — the real
 * ASL on the local engine, the real step handler, dynalite, the simulated account — for the
 * demo pair (Elastic IP + Route 53 record, HTTP health probes). Each sample starts a failover,
 * waits until it asks for approval, approves it through the HTTP API and stops the clock when
 * the run has verified the switch and recorded the new roles. Runs alternate direction
 * (failover, failback), so every sample moves the address and the record.
 *
 * Scenarios: Route 53 INSYNC delay 0, and AWS's typical tens of seconds. The local engine's
 * Wait states last `waitMs` (1 s, as `reflex start`), where the deployed state machine waits
 * 5 s between GetChange polls; a 30 s delay is run scaled down to 3 s for 20 samples
 * (REFLEX_BENCH_FULL=1 adds 3 samples at a real 30 s).
 */
import { validateConfig } from "@reflex/core";
import { DEMO_PAIR as D, SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { startBenchLocal } from "./support/local.ts";

const SAMPLES = 20;
const WAIT_MS = 1000;

const config = validateConfig({
  pairs: [
    {
      name: "app",
      primary: {
        instance: D.primary.instance,
        recordValue: D.primary.privateIp,
        health: { url: "http://app-a.internal/health" },
      },
      standby: {
        instance: D.standby.instance,
        recordValue: D.standby.privateIp,
        health: { url: "http://app-b.internal/health" },
      },
      elasticIp: { allocationId: D.allocationId },
      record: { hostedZoneId: D.hostedZoneId, zone: D.zone, name: D.record, ttl: 60 },
      verifyTimeout: "5m",
    },
  ],
});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function failoverBench(): Promise<Array<Record<string, unknown>>> {
  const cloud = SimulatedCloud.seeded({ snapshotDurationMs: 150 });
  cloud.failover.seedDemoPair();
  const local = await startBenchLocal({ config, cloud, waitMs: WAIT_MS });
  const call = async (method: string, path: string, body?: unknown, actor = "cli:alice") => {
    const res = await fetch(`${local.url}${path}`, {
      method,
      headers: { "content-type": "application/json", "x-reflex-actor": actor },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await res.json()) as any;
  };
  const sample = async (): Promise<number> => {
    const { executionId: id } = await call("POST", "/api/runbooks/failover/executions", {
      params: { pair: "app" },
    });
    for (;;) {
      const e = await call("GET", `/api/executions/${id}`);
      if (e.status === "WAITING_FOR_APPROVAL") break;
      if (e.status !== "RUNNING") throw new Error(`run ${id} ended ${e.status} before asking: ${e.cause}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const approved = performance.now();
    await call("POST", `/api/executions/${id}/approve`, {}, "cli:bob");
    await local.idle();
    const elapsed = performance.now() - approved;
    const e = await call("GET", `/api/executions/${id}`);
    if (e.status !== "SUCCEEDED" || !e.result.roles)
      throw new Error(`run ${id} ended ${e.status}: ${e.cause}`);
    return elapsed;
  };
  const figures: Array<Record<string, unknown>> = [];
  const scenarios = [
    { insyncDelayMs: 0, samples: SAMPLES, note: "INSYNC at once" },
    { insyncDelayMs: 3000, samples: SAMPLES, note: "AWS's typical ~30 s INSYNC, scaled down 10x to 3 s" },
    ...(process.env.REFLEX_BENCH_FULL
      ? [{ insyncDelayMs: 30_000, samples: 3, note: "a real 30 s INSYNC" }]
      : []),
  ];
  try {
    for (const s of scenarios) {
      cloud.failover.setInsyncDelay(s.insyncDelayMs);
      const times: number[] = [];
      for (let i = 0; i < s.samples; i++) times.push(await sample());
      figures.push({
        bench: "failover",
        figure: "approval → verified switch (ms)",
        insyncDelayMs: s.insyncDelayMs,
        note: s.note,
        pollEveryMs: WAIT_MS,
        samples: s.samples,
        medianMs: Math.round(median(times)),
        minMs: Math.round(Math.min(...times)),
        maxMs: Math.round(Math.max(...times)),
      });
    }
  } finally {
    await local.stop();
  }
  return figures;
}
