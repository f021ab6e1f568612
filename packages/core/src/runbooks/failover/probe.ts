/**
 * Health probes of one side of a pair: an HTTP URL that must answer 2xx within a few seconds,
 * or a CloudWatch alarm that must be OK. The HTTP transport is `fetch`; local mode points it at
 * the simulated account (whose probes tests can make fail), as it points the SDK clients there.
 */
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { client } from "../../aws.ts";
import type { Pair } from "../../config/schema.ts";

export type ProbeTransport = (url: string, init: { signal: AbortSignal }) => Promise<{ status: number }>;

const realFetch: ProbeTransport = (url, init) => fetch(url, { ...init, redirect: "manual" });
let transport: ProbeTransport = realFetch;

/** Replaces the HTTP transport of probes (local mode, tests); no argument restores `fetch`. */
export function useProbeTransport(next?: ProbeTransport): void {
  transport = next ?? realFetch;
}

/** How long one HTTP probe may take. */
const PROBE_TIMEOUT_MS = 3000;

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

type Health = NonNullable<Pair["primary"]["health"]>;

/** Probes one side's health once. Never throws for an unhealthy answer; throws for a failed CloudWatch call. */
export async function probeHealth(health: Health | undefined, region: string): Promise<ProbeResult> {
  if (!health) return { ok: true, detail: "no health probe configured" };
  if ("url" in health) {
    try {
      const res = await transport(health.url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      const ok = res.status >= 200 && res.status < 300;
      return { ok, detail: `GET ${health.url} answered ${res.status}` };
    } catch (err) {
      return { ok: false, detail: `GET ${health.url} failed: ${(err as Error).message}` };
    }
  }
  // Without AlarmTypes, AWS answers metric alarms only: a composite health alarm would read as missing.
  const out = await client(CloudWatchClient, "cloudwatch", region).send(
    new DescribeAlarmsCommand({ AlarmNames: [health.alarm], AlarmTypes: ["MetricAlarm", "CompositeAlarm"] }),
  );
  const alarm = out.MetricAlarms?.[0] ?? out.CompositeAlarms?.[0];
  if (!alarm) return { ok: false, detail: `alarm ${health.alarm} does not exist` };
  return {
    ok: alarm.StateValue === "OK",
    detail: `alarm ${health.alarm} is ${alarm.StateValue}${alarm.StateReason ? ` (${alarm.StateReason})` : ""}`,
  };
}
