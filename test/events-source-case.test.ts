/**
 * `POST /events` deployed refuses AWS's own sources (`aws.*`): only EventBridge delivers them.
 * The pattern language has `equals-ignore-case`, so a rule written for AWS's source that way
 * also matches `AWS.cloudwatch` — which must be refused the same, or an API caller forges an
 * alarm (and, its source not being `aws.cloudwatch` to the byte, one that skips the alarm-ARN
 * check as well).
 */
import { describe, expect, it } from "vitest";
import { route } from "../packages/functions/src/events-api.ts";
import { deployedEventsApi, iamPost } from "./support/events-api.ts";

const CALLER = "arn:aws:sts::123456789012:assumed-role/ops/alice";

deployedEventsApi({
  environment: "test",
  rules: [
    {
      name: "any-case-alarm",
      on: {
        source: [{ "equals-ignore-case": "aws.cloudwatch" }],
        "detail-type": ["CloudWatch Alarm State Change"],
      },
      run: "backup-snapshot",
      with: { selector: { tag: { Backup: "daily" } } },
      dryRun: true,
    },
  ],
});
const request = (body: unknown) => iamPost(CALLER, body);

describe("POST /events in Lambda, AWS's sources in any case", () => {
  it.each(["AWS.cloudwatch", "Aws.CloudWatch", "aWs.cloudwatch"])(
    "refuses source '%s' as AWS's own",
    async (source) => {
      const res = await route(
        request({
          version: "0",
          id: `cased-${source}`,
          "detail-type": "CloudWatch Alarm State Change",
          source,
          account: "123456789012",
          time: "2026-03-01T12:00:00Z",
          region: "us-east-1",
          resources: [],
          detail: { alarmName: "web-cpu-high", state: { value: "ALARM" } },
        }),
      );
      expect(JSON.parse(res.body).results, res.body).toEqual([
        { eventId: `cased-${source}`, decision: "rejected", reason: expect.stringMatching(/AWS's own/) },
      ]);
    },
  );
});
