/** A rule may take a param from its event at any depth (`selector.instanceIds[0]`), not only at the top. */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import { validateConfig } from "./load.ts";

const rule = (withParams: Record<string, unknown>) => ({
  rules: [
    {
      name: "snapshot-on-state-change",
      on: { source: ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"] },
      run: "backup-snapshot",
      with: withParams,
    },
  ],
});

const problems = (raw: unknown) => {
  try {
    validateConfig(raw);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
};

describe("event paths in a rule's params", () => {
  it("accepts a value taken from the event inside an object or a list, checking the rest", () => {
    expect(problems(rule({ selector: { instanceIds: ["$.detail.instance-id"] } }))).toEqual([]);
  });

  it("still refuses what is wrong beside it", () => {
    expect(problems(rule({ selector: { instanceIds: ["$.detail.instance-id", "not-an-id"] } }))).toEqual([
      "rules[0].with.selector.instanceIds[1]: must be an instance id (i-…)",
    ]);
  });

  it("is for rules only: a schedule has no event to take it from", () => {
    expect(
      problems({
        schedules: [
          {
            name: "nightly",
            cron: "cron(0 2 * * ? *)",
            run: "backup-snapshot",
            with: { selector: { instanceIds: ["$.detail.instance-id"] } },
          },
        ],
      }),
    ).toEqual(["schedules[0].with.selector.instanceIds[0]: must be an instance id (i-…)"]);
  });
});
