/** Builders for the events the gate handles, shaped as AWS documents them (demo, tests, benches). */
import { randomUUID } from "node:crypto";

export function alarmEvent(
  alarmName: string,
  state: "OK" | "ALARM" | "INSUFFICIENT_DATA",
  stateTime: Date,
  opts: { id?: string; account?: string } = {},
) {
  const account = opts.account ?? "123456789012";
  return {
    version: "0",
    id: opts.id ?? randomUUID(),
    "detail-type": "CloudWatch Alarm State Change",
    source: "aws.cloudwatch",
    account,
    time: stateTime.toISOString().replace(/\.\d{3}Z$/, "Z"),
    region: "us-east-1",
    resources: [`arn:aws:cloudwatch:us-east-1:${account}:alarm:${alarmName}`],
    detail: {
      alarmName,
      state: {
        value: state,
        reason: "Threshold Crossed",
        timestamp: stateTime.toISOString().replace("Z", "+0000"),
      },
      previousState: {
        value: state === "ALARM" ? "OK" : "ALARM",
        timestamp: new Date(stateTime.getTime() - 60_000).toISOString(),
      },
      configuration: { metrics: [] },
    },
  };
}
