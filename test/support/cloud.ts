/**
 * The simulated account for unit tests of its API: on a clock the test moves, called as EC2 is;
 * and faults that tests of more than one runbook run inject.
 */
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

/**
 * The first DescribeAutoScalingGroups after a SetDesiredCapacity went through is refused
 * (AccessDenied, once), as if a policy changed mid-run: scale's check after the change fails and
 * it sets the capacity back. Returns where `cloud`'s call log stood; `cloud.clearFaults()` ends it.
 */
export function refuseCheckAfterScaling(cloud: SimulatedCloud): number {
  const mark = cloud.calls.length;
  cloud.injectFault({
    operation: "DescribeAutoScalingGroups",
    kind: "error",
    code: "AccessDenied",
    message: "not authorized to perform autoscaling:DescribeAutoScalingGroups",
    times: 1,
    match: () => cloud.calls.slice(mark).some((c) => c.operation === "SetDesiredCapacity" && !c.error),
  });
  return mark;
}
