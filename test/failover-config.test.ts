/**
 * Pairs in the config: what `reflex config check` (validateConfig) refuses, with paths, and a
 * failover rule whose pair the config does not define.
 */
import { ConfigError, type ConfigInput, configNotes, validateConfig } from "@reflex/core";
import { describe, expect, it } from "vitest";

const A = "i-0a0a0a0a0a0a0a0a1";
const B = "i-0b0b0b0b0b0b0b0b2";
const pair = (over: Record<string, unknown> = {}) => ({
  name: "app",
  primary: { instance: A, recordValue: "10.0.200.11" },
  standby: { instance: B, recordValue: "10.0.200.12" },
  record: { hostedZoneId: "Z0REFLEXDEMO01", zone: "example.internal", name: "app.example.internal" },
  ...over,
});

function problems(config: ConfigInput): Array<{ path: string; message: string }> {
  try {
    validateConfig(config);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues;
  }
}

describe("pairs in the config", () => {
  it("accepts a pair with an Elastic IP and a record in its zone", () => {
    const config = validateConfig({
      pairs: [pair({ elasticIp: { allocationId: "eipalloc-0e1e1e1e1e1e1e1e1" } })],
    });

    expect(config.pairs[0]).toMatchObject({
      name: "app",
      record: { type: "A", ttl: 60 },
      verifyTimeout: 120_000,
    });
  });

  it("refuses a standby that is the primary's own instance", () => {
    expect(problems({ pairs: [pair({ standby: { instance: A, recordValue: "10.0.200.12" } })] })).toEqual([
      {
        path: "pairs[0].standby.instance",
        message: `the standby must be another instance than the primary (${A})`,
      },
    ]);
  });

  it("refuses a record that is not in the zone", () => {
    const record = { hostedZoneId: "Z0REFLEXDEMO01", zone: "example.internal", name: "app.example.com" };

    expect(problems({ pairs: [pair({ record })] })).toEqual([
      { path: "pairs[0].record.name", message: "record app.example.com is not in zone example.internal" },
    ]);
  });

  it("refuses a record without a value for each side, and a pair with nothing to move", () => {
    expect(problems({ pairs: [pair({ standby: { instance: B } })] })).toEqual([
      {
        path: "pairs[0].standby.recordValue",
        message: "the value of app.example.internal when the standby is primary is required with a record",
      },
    ]);
    expect(problems({ pairs: [pair({ record: undefined })] })).toEqual([
      { path: "pairs[0]", message: "a pair needs an elasticIp, a record, or both: failover moves them" },
    ]);
  });

  it("refuses a rule that fails over a pair the config does not define, naming the known pairs", () => {
    const rule = { name: "db-down", on: { source: ["aws.ec2"] }, run: "failover", with: { pair: "db" } };

    expect(problems({ pairs: [pair()], rules: [rule] })).toEqual([
      { path: "rules[0].with.pair", message: "unknown pair 'db'; known pairs: app" },
    ]);
  });

  it("refuses two pairs with one name", () => {
    expect(problems({ pairs: [pair(), pair()] })).toEqual([
      { path: "pairs[1].name", message: "pair name 'app' is also used at pairs[0].name" },
    ]);
  });
});

describe("time budgets and what needs a redeploy", () => {
  it("refuses an approval deadline over 12 hours", () => {
    expect(problems({ approvals: { deadline: "13h" } })).toEqual([
      { path: "approvals.deadline", message: "must be at most 12h" },
    ]);
  });

  it("refuses a pair whose switch and switch back, after the approval deadline, could outlive the failover machine", () => {
    const found = problems({ approvals: { deadline: "12h" }, pairs: [pair({ verifyTimeout: "1h" })] });

    expect(found).toHaveLength(1);
    expect(found[0].path).toBe("pairs[0].verifyTimeout");
    expect(found[0].message).toMatch(
      /^failover for pair app could run .* longer than its state machine's 16h timeout/,
    );
    // The same pair passes under the default 30-minute deadline.
    expect(problems({ pairs: [pair({ verifyTimeout: "1h" })] })).toEqual([]);
  });

  it("says what it proved for each pair, and that a pair added or changed needs a redeploy", () => {
    const notes = configNotes(validateConfig({ pairs: [pair()] }));

    expect(notes[0]).toMatch(
      /^failover \(pair app\): approval deadline \+ worst-case steps \+ rollback = .* ≤ state machine timeout 16h$/,
    );
    expect(notes[1]).toContain("app.example.internal (A) in Z0REFLEXDEMO01");
    expect(notes[1]).toContain("needs a redeploy");
  });
});
