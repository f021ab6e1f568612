/** The simulated account for unit tests of its API: on a clock the test moves, called as EC2 is. */
import type { CloudApiError } from "../../packages/local/src/cloud/api-error.ts";
import { SimulatedCloud, type SimulatedCloudOptions } from "../../packages/local/src/cloud/index.ts";

/** When the clock starts. */
export const T0 = Date.parse("2026-03-01T12:00:00.000Z");

/** A simulated account whose clock stands at {@link T0} until `advance(ms)`, and its EC2 API in us-east-1. */
export function cloudOnAClock(opts: Omit<SimulatedCloudOptions, "clock"> = {}) {
  let now = T0;
  const cloud = new SimulatedCloud({ clock: () => now, ...opts });
  const ec2 = (op: string, input: object) => cloud.invoke("ec2", "us-east-1", op, input) as Promise<any>;
  return {
    cloud,
    ec2,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** What a call answered: "ok", or the code of the error it threw. */
export const code = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: CloudApiError) => e.code,
  );
