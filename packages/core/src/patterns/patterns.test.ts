import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PatternError, ValidationError } from "../errors.ts";
import { compilePattern, matchesPattern, testEventPattern, validatePattern } from "./index.ts";

/** The error a call throws, so tests can assert on its class, message and path. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to throw");
}

// ---------------------------------------------------------------------------------------------
// Examples from the EventBridge user guide, each with an event that matches and one that does not.

describe("examples from the EventBridge user guide", () => {
  // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
  describe("Creating Amazon EventBridge event patterns", () => {
    const event = {
      version: "0",
      id: "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
      "detail-type": "EC2 Instance State-change Notification",
      source: "aws.ec2",
      account: "111122223333",
      time: "2017-12-22T18:43:48Z",
      region: "us-west-1",
      resources: ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
      detail: { "instance-id": "i-1234567890abcdef0", state: "terminated" },
    };
    const pattern = {
      source: ["aws.ec2"],
      "detail-type": ["EC2 Instance State-change Notification"],
      detail: { state: ["terminated"] },
    };

    it("selects the EC2 instance-termination event", () => {
      expect(matchesPattern(pattern, event)).toBe(true);
    });

    it("does not select the same event for an instance that is still running", () => {
      expect(matchesPattern(pattern, { ...event, detail: { ...event.detail, state: "running" } })).toBe(
        false,
      );
    });
  });

  // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html ("Matching event values")
  describe("Event pattern syntax: matching event values", () => {
    const pattern = { source: ["aws.ec2", "aws.fargate"] };

    it("matches an event whose source is any of the listed values", () => {
      expect(matchesPattern(pattern, { source: "aws.fargate" })).toBe(true);
    });

    it("does not match an event whose source is not listed", () => {
      expect(matchesPattern(pattern, { source: "aws.lambda" })).toBe(false);
    });
  });

  // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html ("Value matching", Macie)
  describe("Value matching on a Macie alert", () => {
    const pattern = {
      source: ["aws.macie"],
      "detail-type": ["Macie Alert"],
      detail: { "risk-score": [80], trigger: { risk: [8] } },
    };
    const event = {
      source: "aws.macie",
      "detail-type": "Macie Alert",
      detail: {
        "notification-type": "ALERT_CREATED",
        "risk-score": 80,
        trigger: { "alert-type": "basic", risk: 8 },
      },
    };

    it("matches an alert with a risk score of 80 and a trigger risk of 8", () => {
      expect(matchesPattern(pattern, event)).toBe(true);
    });

    it("does not match an alert whose trigger risk differs", () => {
      expect(matchesPattern(pattern, { ...event, detail: { ...event.detail, trigger: { risk: 7 } } })).toBe(
        false,
      );
    });
  });

  // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html
  describe("Matching null values and empty strings", () => {
    const event = {
      source: "aws.autoscaling",
      "detail-type": "EC2 Instance Launch Successful",
      resources: [],
      detail: { eventVersion: "", responseElements: null },
    };

    it('matches an empty string with [""]', () => {
      expect(matchesPattern({ detail: { eventVersion: [""] } }, event)).toBe(true);
    });

    it("matches a null value with [null]", () => {
      expect(matchesPattern({ detail: { responseElements: [null] } }, event)).toBe(true);
    });

    it('does not match a null value with [""]', () => {
      expect(matchesPattern({ detail: { responseElements: [""] } }, event)).toBe(false);
    });

    it("does not match an empty string with [null]", () => {
      expect(matchesPattern({ detail: { eventVersion: [null] } }, event)).toBe(false);
    });

    it('matches neither [null] nor [""] against a missing field', () => {
      expect(matchesPattern({ detail: { missing: [null] } }, event)).toBe(false);
      expect(matchesPattern({ detail: { missing: [""] } }, event)).toBe(false);
    });
  });

  // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html
  describe("Arrays in event patterns", () => {
    const pattern = {
      resources: [
        "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
        "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f",
      ],
    };

    it("matches when the pattern array and the event array intersect", () => {
      const event = {
        resources: [
          "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
          "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
        ],
      };
      expect(matchesPattern(pattern, event)).toBe(true);
    });

    it("does not match when the pattern array and the event array are disjoint", () => {
      const event = { resources: ["arn:aws:ec2:us-east-1:999999999999:instance/i-b188560f"] };
      expect(matchesPattern(pattern, event)).toBe(false);
    });
  });

  // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
  describe("Comparison operators", () => {
    it("prefix: matches a time that starts with 2017-10-02 and not one that does not", () => {
      const pattern = { time: [{ prefix: "2017-10-02" }] };
      expect(matchesPattern(pattern, { time: "2017-10-02T18:43:48Z" })).toBe(true);
      expect(matchesPattern(pattern, { time: "2017-10-03T18:43:48Z" })).toBe(false);
    });

    it("prefix ignoring case: matches a service starting with eventb in any case", () => {
      const pattern = { service: [{ prefix: { "equals-ignore-case": "eventb" } }] };
      expect(matchesPattern(pattern, { service: "EventBridge" })).toBe(true);
      expect(matchesPattern(pattern, { service: "SNS" })).toBe(false);
    });

    it("suffix: matches a file name ending with .png", () => {
      const pattern = { FileName: [{ suffix: ".png" }] };
      expect(matchesPattern(pattern, { FileName: "image.png" })).toBe(true);
      expect(matchesPattern(pattern, { FileName: "image.jpg" })).toBe(false);
    });

    it("suffix ignoring case: matches a service ending with tbridge in any case", () => {
      const pattern = { service: [{ suffix: { "equals-ignore-case": "tbridge" } }] };
      expect(matchesPattern(pattern, { service: "EVENTBRIDGE" })).toBe(true);
      expect(matchesPattern(pattern, { service: "EventBus" })).toBe(false);
    });

    it("equals-ignore-case: matches Alice for alice", () => {
      const pattern = { Name: [{ "equals-ignore-case": "alice" }] };
      expect(matchesPattern(pattern, { Name: "Alice" })).toBe(true);
      expect(matchesPattern(pattern, { Name: "Alicia" })).toBe(false);
    });

    it("empty: matches an empty LastName", () => {
      const pattern = { LastName: [""] };
      expect(matchesPattern(pattern, { LastName: "" })).toBe(true);
      expect(matchesPattern(pattern, { LastName: "Doe" })).toBe(false);
    });

    it("anything-but: matches any state besides initializing", () => {
      const pattern = { detail: { state: [{ "anything-but": "initializing" }] } };
      expect(matchesPattern(pattern, { detail: { state: "running" } })).toBe(true);
      expect(matchesPattern(pattern, { detail: { state: "initializing" } })).toBe(false);
    });

    it("anything-but with a number: matches any x-limit besides 123", () => {
      const pattern = { detail: { "x-limit": [{ "anything-but": 123 }] } };
      expect(matchesPattern(pattern, { detail: { "x-limit": 124 } })).toBe(true);
      expect(matchesPattern(pattern, { detail: { "x-limit": 123 } })).toBe(false);
    });

    it("anything-but with a list of strings: excludes stopped and overloaded", () => {
      const pattern = { detail: { state: [{ "anything-but": ["stopped", "overloaded"] }] } };
      expect(matchesPattern(pattern, { detail: { state: "running" } })).toBe(true);
      expect(matchesPattern(pattern, { detail: { state: "overloaded" } })).toBe(false);
    });

    it("anything-but with a list of numbers: excludes 100, 200 and 300", () => {
      const pattern = { detail: { "x-limit": [{ "anything-but": [100, 200, 300] }] } };
      expect(matchesPattern(pattern, { detail: { "x-limit": 150 } })).toBe(true);
      expect(matchesPattern(pattern, { detail: { "x-limit": 200 } })).toBe(false);
    });

    it("anything-but begins with: matches a state without the prefix init", () => {
      const pattern = { detail: { state: [{ "anything-but": { prefix: "init" } }] } };
      expect(matchesPattern(pattern, { detail: { state: "running" } })).toBe(true);
      expect(matchesPattern(pattern, { detail: { state: "initializing" } })).toBe(false);
    });

    it("anything-but ends with: matches a file name that does not end with .png", () => {
      const pattern = { FileName: [{ "anything-but": { suffix: ".png" } }] };
      expect(matchesPattern(pattern, { FileName: "notes.txt" })).toBe(true);
      expect(matchesPattern(pattern, { FileName: "image.png" })).toBe(false);
    });

    it("anything-but ignoring case: excludes initializing in any casing", () => {
      const pattern = { state: [{ "anything-but": { "equals-ignore-case": "initializing" } }] };
      expect(matchesPattern(pattern, { state: "running" })).toBe(true);
      expect(matchesPattern(pattern, { state: "INITIALIZING" })).toBe(false);
    });

    it("anything-but ignoring case with a list: excludes Stopped and OverLoaded in any casing", () => {
      const pattern = {
        detail: { state: [{ "anything-but": { "equals-ignore-case": ["Stopped", "OverLoaded"] } }] },
      };
      expect(matchesPattern(pattern, { detail: { state: "running" } })).toBe(true);
      expect(matchesPattern(pattern, { detail: { state: "overloaded" } })).toBe(false);
    });

    it("anything-but with a wildcard: matches a file path that does not include /lib/", () => {
      const pattern = { FilePath: [{ "anything-but": { wildcard: "*/lib/*" } }] };
      expect(matchesPattern(pattern, { FilePath: "/usr/bin/env" })).toBe(true);
      expect(matchesPattern(pattern, { FilePath: "/usr/lib/libc.so" })).toBe(false);
    });

    it("anything-but with a list of wildcards: excludes paths matching any of them", () => {
      const pattern = { FilePath: [{ "anything-but": { wildcard: ["*/lib/*", "*/bin/*"] } }] };
      expect(matchesPattern(pattern, { FilePath: "/etc/hosts" })).toBe(true);
      expect(matchesPattern(pattern, { FilePath: "/usr/bin/env" })).toBe(false);
    });

    it("numeric: matches when every numeric condition holds", () => {
      const pattern = {
        detail: {
          "c-count": [{ numeric: [">", 0, "<=", 5] }],
          "d-count": [{ numeric: ["<", 10] }],
          "x-limit": [{ numeric: ["=", 3.018e2] }],
        },
      };
      expect(matchesPattern(pattern, { detail: { "c-count": 5, "d-count": 3, "x-limit": 301.8 } })).toBe(
        true,
      );
      expect(matchesPattern(pattern, { detail: { "c-count": 6, "d-count": 3, "x-limit": 301.8 } })).toBe(
        false,
      );
    });

    it("IP address: matches a source address inside 10.0.0.0/24", () => {
      const pattern = { detail: { sourceIPAddress: [{ cidr: "10.0.0.0/24" }] } };
      expect(matchesPattern(pattern, { detail: { sourceIPAddress: "10.0.0.255" } })).toBe(true);
      expect(matchesPattern(pattern, { detail: { sourceIPAddress: "10.0.1.0" } })).toBe(false);
    });

    it("IP address: matches a source address inside an IPv6 block", () => {
      const pattern = { detail: { sourceIPAddress: [{ cidr: "2001:db8::/32" }] } };
      expect(matchesPattern(pattern, { detail: { sourceIPAddress: "2001:db8:1234::1" } })).toBe(true);
      expect(matchesPattern(pattern, { detail: { sourceIPAddress: "2001:db9::1" } })).toBe(false);
    });

    it("exists: matches an event that has the field and not one without it", () => {
      const pattern = { detail: { state: [{ exists: true }] } };
      expect(matchesPattern(pattern, { detail: { state: "running" } })).toBe(true);
      expect(matchesPattern(pattern, { detail: { other: "x" } })).toBe(false);
    });

    it("does not exist: matches an event without detail.c-count", () => {
      const pattern = { detail: { "c-count": [{ exists: false }] } };
      const event = {
        "detail-type": ["EC2 Instance State-change Notification"],
        resources: ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],
        detail: { state: ["initializing", "running"] },
      };
      expect(matchesPattern(pattern, event)).toBe(true);
      expect(matchesPattern(pattern, { detail: { "c-count": 4 } })).toBe(false);
    });

    it("does not exist: also matches when c-count is an object, because it is not a leaf", () => {
      const pattern = { detail: { "c-count": [{ exists: false }] } };
      const event = { detail: { state: ["initializing", "running"], "c-count": { c1: 100 } } };
      expect(matchesPattern(pattern, event)).toBe(true);
    });

    it("wildcard: matches an event bus ARN in any account", () => {
      const pattern = { EventBusArn: [{ wildcard: "arn:aws:events:us-east-1:*:event-bus/*" }] };
      expect(
        matchesPattern(pattern, { EventBusArn: "arn:aws:events:us-east-1:123456789012:event-bus/default" }),
      ).toBe(true);
      expect(
        matchesPattern(pattern, { EventBusArn: "arn:aws:events:us-west-2:123456789012:event-bus/default" }),
      ).toBe(false);
    });

    it("or: matches when either field matches", () => {
      const pattern = {
        source: ["aws.cloudwatch"],
        $or: [{ metricName: ["CPUUtilization", "ReadLatency"] }, { namespace: ["AWS/EC2", "AWS/ES"] }],
      };
      expect(matchesPattern(pattern, { source: "aws.cloudwatch", namespace: "AWS/ES" })).toBe(true);
      expect(
        matchesPattern(pattern, { source: "aws.cloudwatch", metricName: "NetworkIn", namespace: "AWS/S3" }),
      ).toBe(false);
    });

    it("or with numeric conditions: matches when any of the three holds", () => {
      const pattern = {
        detail: {
          $or: [
            { "c-count": [{ numeric: [">", 0, "<=", 5] }] },
            { "d-count": [{ numeric: ["<", 10] }] },
            { "x-limit": [{ numeric: ["=", 3.018e2] }] },
          ],
        },
      };
      expect(matchesPattern(pattern, { detail: { "c-count": 100, "d-count": 100, "x-limit": 301.8 } })).toBe(
        true,
      );
      expect(matchesPattern(pattern, { detail: { "c-count": 100, "d-count": 100, "x-limit": 300 } })).toBe(
        false,
      );
    });

    it("complex example: combines prefix, anything-but, numeric and cidr", () => {
      const pattern = {
        time: [{ prefix: "2017-10-02" }],
        detail: {
          state: [{ "anything-but": "initializing" }],
          "c-count": [{ numeric: [">", 0, "<=", 5] }],
          "d-count": [{ numeric: ["<", 10] }],
          "x-limit": [{ "anything-but": [100, 200, 300] }],
          "source-ip": [{ cidr: "10.0.0.0/8" }],
        },
      };
      const event = {
        time: "2017-10-02T16:24:49Z",
        detail: { "c-count": 5, "d-count": 3, "x-limit": 301.8, "source-ip": "10.0.0.33", state: "running" },
      };
      expect(matchesPattern(pattern, event)).toBe(true);
      expect(matchesPattern(pattern, { ...event, detail: { ...event.detail, "x-limit": 300 } })).toBe(false);
    });
  });

  // https://github.com/aws/event-ruler#json-array-matching (the engine behind EventBridge)
  describe("Event Ruler: array-consistent matching", () => {
    const event = {
      employees: [
        { firstName: "John", lastName: "Doe" },
        { firstName: "Anna", lastName: "Smith" },
        { firstName: "Peter", lastName: "Jones" },
      ],
    };

    it("matches a field of any object in an array of objects", () => {
      expect(matchesPattern({ employees: { firstName: ["Anna"] } }, event)).toBe(true);
    });

    it("does not combine fields from different elements of the same array", () => {
      expect(matchesPattern({ employees: { firstName: ["Anna"], lastName: ["Jones"] } }, event)).toBe(false);
    });

    it("matches fields that come from the same element", () => {
      expect(matchesPattern({ employees: { firstName: ["Anna"], lastName: ["Smith"] } }, event)).toBe(true);
    });

    it("crushes nested arrays of objects", () => {
      const nested = { employees: [[event.employees[0], event.employees[1]], [event.employees[2]]] };
      expect(matchesPattern({ employees: { firstName: ["Peter"] } }, nested)).toBe(true);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Each operator and the structural rules, one behaviour per test.

describe("structure", () => {
  it("ignores event fields the pattern does not name", () => {
    expect(matchesPattern({ source: ["a"] }, { source: "a", other: 1, detail: { x: 2 } })).toBe(true);
  });

  it("requires every field the pattern names to match", () => {
    expect(
      matchesPattern({ source: ["a"], region: ["eu-west-1"] }, { source: "a", region: "us-east-1" }),
    ).toBe(false);
  });

  it("does not match when a named field is missing", () => {
    expect(matchesPattern({ source: ["a"], region: ["eu-west-1"] }, { source: "a" })).toBe(false);
  });

  it("matches nested objects at the same nesting", () => {
    expect(matchesPattern({ detail: { a: { b: ["x"] } } }, { detail: { a: { b: "x" } } })).toBe(true);
  });

  it("does not match a nested pattern against a flat field with a dotted name", () => {
    expect(matchesPattern({ detail: { state: ["x"] } }, { "detail.state": "x" })).toBe(false);
  });

  it("does not match a leaf value list against an object", () => {
    expect(matchesPattern({ detail: ["x"] }, { detail: { state: "x" } })).toBe(false);
  });

  it("matches an event array if any of its elements matches, including nested arrays", () => {
    expect(matchesPattern({ tags: ["b"] }, { tags: ["a", ["b"]] })).toBe(true);
  });

  it("does not match against an empty event array", () => {
    expect(matchesPattern({ tags: ["a"] }, { tags: [] })).toBe(false);
  });

  it("does not look up inherited properties of event objects", () => {
    expect(matchesPattern({ constructor: [{ exists: true }] }, {})).toBe(false);
  });

  it("never matches an event that is not a JSON object", () => {
    const isAbsent = compilePattern({ source: [{ exists: false }] });
    expect([null, "x", 1, [], [{ source: "a" }]].map(isAbsent)).toEqual([false, false, false, false, false]);
  });

  it("returns the same answers from a compiled matcher on every call", () => {
    const match = compilePattern({ source: ["a"] });
    expect([match({ source: "a" }), match({ source: "b" }), match({ source: "a" })]).toEqual([
      true,
      false,
      true,
    ]);
  });
});

describe("exact values", () => {
  it("matches a number only against an equal number", () => {
    expect(matchesPattern({ n: [80] }, { n: 80 })).toBe(true);
    expect(matchesPattern({ n: [80] }, { n: 81 })).toBe(false);
  });

  it("does not match a number against the string of its digits", () => {
    expect(matchesPattern({ n: [80] }, { n: "80" })).toBe(false);
  });

  it("does not match a string against the number it spells", () => {
    expect(matchesPattern({ n: ["80"] }, { n: 80 })).toBe(false);
  });

  it("matches true and false only against the booleans", () => {
    expect(matchesPattern({ b: [true] }, { b: true })).toBe(true);
    expect(matchesPattern({ b: [true] }, { b: "true" })).toBe(false);
    expect(matchesPattern({ b: [false] }, { b: 0 })).toBe(false);
  });

  it("compares strings exactly, without case folding", () => {
    expect(matchesPattern({ s: ["Running"] }, { s: "running" })).toBe(false);
  });

  it("ORs values of different types in one list", () => {
    const pattern = { v: ["a", 1, true, null] };
    expect(
      [{ v: "a" }, { v: 1 }, { v: true }, { v: null }, { v: false }].map(compilePattern(pattern)),
    ).toEqual([true, true, true, true, false]);
  });
});

describe("prefix and suffix", () => {
  it("prefix matches only strings", () => {
    expect(matchesPattern({ v: [{ prefix: "1" }] }, { v: 12 })).toBe(false);
  });

  it("prefix is case-sensitive", () => {
    expect(matchesPattern({ v: [{ prefix: "Us-" }] }, { v: "us-east-1" })).toBe(false);
  });

  it("prefix ignoring case matches a differently cased value", () => {
    expect(matchesPattern({ v: [{ prefix: { "equals-ignore-case": "US-" } }] }, { v: "us-east-1" })).toBe(
      true,
    );
  });

  it("suffix is case-sensitive", () => {
    expect(matchesPattern({ v: [{ suffix: ".PNG" }] }, { v: "a.png" })).toBe(false);
  });

  it("suffix ignoring case does not match a value that ends otherwise", () => {
    expect(matchesPattern({ v: [{ suffix: { "equals-ignore-case": ".PNG" } }] }, { v: "a.png.txt" })).toBe(
      false,
    );
  });

  it("equals-ignore-case matches only strings", () => {
    expect(matchesPattern({ v: [{ "equals-ignore-case": "true" }] }, { v: true })).toBe(false);
  });
});

describe("wildcard", () => {
  const matches = (wildcard: string, value: unknown) => matchesPattern({ v: [{ wildcard }] }, { v: value });

  it("matches any run of characters, including none", () => {
    expect(matches("a*c", "abbbc")).toBe(true);
    expect(matches("a*c", "ac")).toBe(true);
  });

  it("anchors the text before and after the wildcards", () => {
    expect(matches("a*c", "xabc")).toBe(false);
    expect(matches("a*c", "abcx")).toBe(false);
  });

  it("supports several wildcards in one value", () => {
    expect(matches("*Title*", "My Title Here")).toBe(true);
    expect(matches("a*b*c", "acb")).toBe(false);
  });

  it("does not let a middle segment overlap the final one", () => {
    expect(matches("*ab*b", "ab")).toBe(false);
  });

  it("without a wildcard is an exact match", () => {
    expect(matches("abc", "abc")).toBe(true);
    expect(matches("abc", "abcd")).toBe(false);
  });

  it("treats an escaped asterisk as a literal asterisk", () => {
    expect(matches("a\\*c", "a*c")).toBe(true);
    expect(matches("a\\*c", "abc")).toBe(false);
  });

  it("treats an escaped backslash as a literal backslash", () => {
    expect(matches("C:\\\\*", "C:\\Windows")).toBe(true);
  });

  it("allows a wildcard right after an escaped asterisk", () => {
    expect(matches("\\**", "*anything")).toBe(true);
  });

  it("matches only strings", () => {
    expect(matches("1*", 12)).toBe(false);
  });
});

describe("anything-but", () => {
  it("does not match a missing field", () => {
    expect(matchesPattern({ state: [{ "anything-but": "x" }] }, {})).toBe(false);
  });

  it("with a string matches a value of another type", () => {
    expect(matchesPattern({ v: [{ "anything-but": "5" }] }, { v: 5 })).toBe(true);
  });

  it("with a number matches a string of the same digits", () => {
    expect(matchesPattern({ v: [{ "anything-but": 5 }] }, { v: "5" })).toBe(true);
  });

  it("matches an event array when some element is not excluded", () => {
    expect(matchesPattern({ v: [{ "anything-but": "a" }] }, { v: ["a", "b"] })).toBe(true);
  });

  it("does not match an event array whose elements are all excluded", () => {
    expect(matchesPattern({ v: [{ "anything-but": ["a", "b"] }] }, { v: ["a", "b"] })).toBe(false);
  });

  it("with a list of prefixes excludes values starting with any of them", () => {
    const pattern = { v: [{ "anything-but": { prefix: ["init", "error"] } }] };
    expect(matchesPattern(pattern, { v: "running" })).toBe(true);
    expect(matchesPattern(pattern, { v: "error-7" })).toBe(false);
  });

  it("with a list of suffixes excludes values ending with any of them", () => {
    const pattern = { v: [{ "anything-but": { suffix: ["1234", "6789"] } }] };
    expect(matchesPattern(pattern, { v: "i-0001" })).toBe(true);
    expect(matchesPattern(pattern, { v: "i-6789" })).toBe(false);
  });

  it("with prefix matches a value that is not a string", () => {
    expect(matchesPattern({ v: [{ "anything-but": { prefix: "1" } }] }, { v: 12 })).toBe(true);
  });
});

describe("numeric", () => {
  const matches = (numeric: unknown[], value: unknown) => matchesPattern({ v: [{ numeric }] }, { v: value });

  it("= matches an equal number only", () => {
    expect([matches(["=", 5], 5), matches(["=", 5], 5.000001)]).toEqual([true, false]);
  });

  it("< excludes its bound and <= includes it", () => {
    expect([matches(["<", 5], 5), matches(["<=", 5], 5)]).toEqual([false, true]);
  });

  it("> excludes its bound and >= includes it", () => {
    expect([matches([">", 5], 5), matches([">=", 5], 5)]).toEqual([false, true]);
  });

  it("a range honours open and closed bounds at both ends", () => {
    expect([matches([">", 0, "<=", 5], 0), matches([">", 0, "<=", 5], 5)]).toEqual([false, true]);
    expect([matches([">=", 0, "<", 5], 0), matches([">=", 0, "<", 5], 5)]).toEqual([true, false]);
  });

  it("matches only JSON numbers, not numeric strings", () => {
    expect(matches([">", 0], "5")).toBe(false);
  });

  it("works with negative and fractional bounds", () => {
    expect(matches([">", -1.5, "<", -0.5], -1)).toBe(true);
  });
});

describe("exists", () => {
  it("true counts null as a present value", () => {
    expect(matchesPattern({ v: [{ exists: true }] }, { v: null })).toBe(true);
  });

  it("true does not match an object, which is not a leaf", () => {
    expect(matchesPattern({ v: [{ exists: true }] }, { v: { a: 1 } })).toBe(false);
  });

  it("true does not match an empty array", () => {
    expect(matchesPattern({ v: [{ exists: true }] }, { v: [] })).toBe(false);
  });

  it("false matches an empty array, which holds no value", () => {
    expect(matchesPattern({ v: [{ exists: false }] }, { v: [] })).toBe(true);
  });

  it("false matches when a parent of the field is missing", () => {
    expect(matchesPattern({ detail: { v: [{ exists: false }] } }, { source: "a" })).toBe(true);
  });

  it("false does not match when any element of an array of objects has the field", () => {
    const event = { tags: [{ key: "a" }, { value: "b" }] };
    expect(matchesPattern({ tags: { key: [{ exists: false }] } }, event)).toBe(false);
  });

  it("false matches when no element of an array of objects has the field", () => {
    const event = { tags: [{ value: "a" }, { value: "b" }] };
    expect(matchesPattern({ tags: { key: [{ exists: false }] } }, event)).toBe(true);
  });

  it("can be ORed with values in the same list", () => {
    const pattern = compilePattern({ v: ["a", { exists: false }] });
    expect([pattern({ v: "a" }), pattern({}), pattern({ v: "b" })]).toEqual([true, true, false]);
  });
});

describe("cidr", () => {
  const matches = (cidr: string, value: unknown) => matchesPattern({ ip: [{ cidr }] }, { ip: value });

  it("ignores host bits in the block", () => {
    expect(matches("10.0.0.7/24", "10.0.0.200")).toBe(true);
  });

  it("/0 matches every IPv4 address", () => {
    expect(matches("0.0.0.0/0", "255.255.255.255")).toBe(true);
  });

  it("/32 matches exactly one IPv4 address", () => {
    expect([matches("10.0.0.1/32", "10.0.0.1"), matches("10.0.0.1/32", "10.0.0.2")]).toEqual([true, false]);
  });

  it("matches compressed and uppercase IPv6 addresses", () => {
    expect(matches("2001:db8::/64", "2001:DB8:0:0:ffff::1")).toBe(true);
  });

  it("does not match an IPv6 address against an IPv4 block", () => {
    expect(matches("0.0.0.0/0", "::1")).toBe(false);
  });

  it("does not match a string that is not an IP address", () => {
    expect(matches("10.0.0.0/8", "10.0.0.256")).toBe(false);
    expect(matches("10.0.0.0/8", "host.example.com")).toBe(false);
  });

  it("does not match a number", () => {
    expect(matches("0.0.0.0/0", 167772161)).toBe(false);
  });
});

describe("$or", () => {
  it("is ANDed with the fields beside it", () => {
    const pattern = { source: ["a"], $or: [{ x: [1] }, { y: [2] }] };
    expect([
      matchesPattern(pattern, { source: "b", x: 1 }),
      matchesPattern(pattern, { source: "a", y: 2 }),
    ]).toEqual([false, true]);
  });

  it("alternatives may hold several fields, all of which must match", () => {
    const pattern = { $or: [{ x: [1], y: [1] }, { z: [1] }] };
    expect([matchesPattern(pattern, { x: 1, y: 2 }), matchesPattern(pattern, { x: 1, y: 1 })]).toEqual([
      false,
      true,
    ]);
  });

  it("nests inside another $or", () => {
    const pattern = { $or: [{ a: ["x"] }, { $or: [{ b: ["y"] }, { c: ["z"] }] }] };
    expect([matchesPattern(pattern, { c: "z" }), matchesPattern(pattern, { c: "y" })]).toEqual([true, false]);
  });

  it("can be used at several levels of one pattern", () => {
    const pattern = {
      $or: [{ metricName: ["CPUUtilization"] }, { namespace: ["AWS/EC2"] }],
      detail: { $or: [{ source: ["aws.cloudwatch"] }, { "detail-type": ["CloudWatch Alarm State Change"] }] },
    };
    expect(matchesPattern(pattern, { namespace: "AWS/EC2", detail: { source: "aws.cloudwatch" } })).toBe(
      true,
    );
    expect(matchesPattern(pattern, { namespace: "AWS/EC2", detail: { source: "aws.ec2" } })).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Invalid patterns: each is rejected with a PatternError naming the problem and where it is.

describe("invalid patterns", () => {
  const cases: Array<{ name: string; pattern: unknown; path: string | undefined; message: RegExp }> = [
    {
      name: "a pattern that is a string",
      pattern: "aws.ec2",
      path: undefined,
      message: /must be a JSON object/,
    },
    {
      name: "a pattern that is an array",
      pattern: [{ source: ["a"] }],
      path: undefined,
      message: /must be a JSON object/,
    },
    {
      name: "a pattern that is null",
      pattern: null,
      path: undefined,
      message: /must be a JSON object, got null/,
    },
    { name: "an empty pattern", pattern: {}, path: undefined, message: /at least one field/ },
    {
      name: "a leaf value that is not an array",
      pattern: { detail: { state: "x" } },
      path: "detail.state",
      message: /must be an array/,
    },
    { name: "a leaf value that is a number", pattern: { n: 5 }, path: "n", message: /got number 5/ },
    {
      name: "an empty value list",
      pattern: { source: [] },
      path: "source",
      message: /empty arrays are not allowed/,
    },
    {
      name: "an empty nested object",
      pattern: { detail: {} },
      path: "detail",
      message: /empty objects are not allowed/,
    },
    {
      name: "an array inside a value list",
      pattern: { source: [["a"]] },
      path: "source[0]",
      message: /got an array/,
    },
    {
      name: "an unknown operator",
      pattern: { source: [{ contains: "x" }] },
      path: "source[0]",
      message: /unknown operator "contains"/,
    },
    {
      name: "an operator object with two operators",
      pattern: { v: [{ prefix: "a", suffix: "b" }] },
      path: "v[0]",
      message: /exactly one key, got 2/,
    },
    {
      name: "an empty operator object",
      pattern: { v: [{}] },
      path: "v[0]",
      message: /must name one operator/,
    },
    {
      name: "a prefix that is a number",
      pattern: { v: [{ prefix: 1 }] },
      path: "v[0]",
      message: /"prefix" must be a string/,
    },
    {
      name: "a prefix object other than equals-ignore-case",
      pattern: { v: [{ prefix: { wildcard: "a*" } }] },
      path: "v[0]",
      message: /equals-ignore-case/,
    },
    {
      name: "a suffix ignoring case that is not a string",
      pattern: { v: [{ suffix: { "equals-ignore-case": 1 } }] },
      path: "v[0]",
      message: /"suffix" must be a string/,
    },
    {
      name: "equals-ignore-case with a list",
      pattern: { v: [{ "equals-ignore-case": ["a"] }] },
      path: "v[0]",
      message: /must be a string, got an array/,
    },
    {
      name: "consecutive wildcards",
      pattern: { v: [{ wildcard: "a**b" }] },
      path: "v[0]",
      message: /consecutive wildcard characters at position 1/,
    },
    {
      name: "a wildcard escaping an ordinary character",
      pattern: { v: [{ wildcard: "a\\b" }] },
      path: "v[0]",
      message: /invalid escape at position 1/,
    },
    {
      name: "a wildcard ending in a lone backslash",
      pattern: { v: [{ wildcard: "a\\" }] },
      path: "v[0]",
      message: /invalid escape/,
    },
    {
      name: "a wildcard that is not a string",
      pattern: { v: [{ wildcard: 1 }] },
      path: "v[0]",
      message: /"wildcard" must be a string/,
    },
    {
      name: "anything-but with a mixed list",
      pattern: { v: [{ "anything-but": ["a", 1] }] },
      path: "v[0]",
      message: /only strings or only numbers/,
    },
    {
      name: "anything-but with an empty list",
      pattern: { v: [{ "anything-but": [] }] },
      path: "v[0]",
      message: /at least one value/,
    },
    {
      name: "anything-but with null",
      pattern: { v: [{ "anything-but": null }] },
      path: "v[0]",
      message: /got null/,
    },
    {
      name: "anything-but with a boolean list",
      pattern: { v: [{ "anything-but": [true] }] },
      path: "v[0]",
      message: /only strings or only numbers/,
    },
    {
      name: "anything-but with numeric",
      pattern: { v: [{ "anything-but": { numeric: [">", 1] } }] },
      path: "v[0]",
      message: /cannot be combined with "numeric"/,
    },
    {
      name: "anything-but with two forms",
      pattern: { v: [{ "anything-but": { prefix: "a", suffix: "b" } }] },
      path: "v[0]",
      message: /exactly one of/,
    },
    {
      name: "anything-but with an empty prefix",
      pattern: { v: [{ "anything-but": { prefix: "" } }] },
      path: "v[0]",
      message: /cannot be empty/,
    },
    {
      name: "anything-but with an empty suffix in a list",
      pattern: { v: [{ "anything-but": { suffix: ["a", ""] } }] },
      path: "v[0]",
      message: /cannot be empty/,
    },
    {
      name: "anything-but ignoring case a number",
      pattern: { v: [{ "anything-but": { "equals-ignore-case": 1 } }] },
      path: "v[0]",
      message: /a string or a non-empty list of strings/,
    },
    {
      name: "anything-but with an invalid wildcard",
      pattern: { v: [{ "anything-but": { wildcard: ["ok*", "a**"] } }] },
      path: "v[0]",
      message: /consecutive wildcard/,
    },
    {
      name: "numeric that is not an array",
      pattern: { v: [{ numeric: ">5" }] },
      path: "v[0]",
      message: /must be an array/,
    },
    {
      name: "numeric with three elements",
      pattern: { v: [{ numeric: [">", 0, "<"] }] },
      path: "v[0]",
      message: /2 or 4 elements/,
    },
    {
      name: "numeric with an unknown comparison",
      pattern: { v: [{ numeric: ["!=", 0] }] },
      path: "v[0]",
      message: /unknown comparison "!="/,
    },
    {
      name: "numeric with a string operand",
      pattern: { v: [{ numeric: [">", "5"] }] },
      path: "v[0]",
      message: /needs a number after ">"/,
    },
    {
      name: "a numeric range whose bounds are reversed",
      pattern: { v: [{ numeric: [">", 5, "<", 1] }] },
      path: "v[0]",
      message: /lower bound \(5\) must be below its upper bound \(1\)/,
    },
    {
      name: "a numeric range with equal bounds",
      pattern: { v: [{ numeric: [">=", 5, "<=", 5] }] },
      path: "v[0]",
      message: /must be below/,
    },
    {
      name: "a numeric range written upper bound first",
      pattern: { v: [{ numeric: ["<", 10, ">", 0] }] },
      path: "v[0]",
      message: /starts with its lower bound/,
    },
    {
      name: "a numeric range with two lower bounds",
      pattern: { v: [{ numeric: [">", 0, ">=", 10] }] },
      path: "v[0]",
      message: /ends with its upper bound/,
    },
    {
      name: "numeric equals with a range",
      pattern: { v: [{ numeric: ["=", 0, "<", 10] }] },
      path: "v[0]",
      message: /starts with its lower bound/,
    },
    {
      name: "exists that is not a boolean",
      pattern: { v: [{ exists: "true" }] },
      path: "v[0]",
      message: /"exists" must be true or false/,
    },
    {
      name: "cidr without a prefix length",
      pattern: { ip: [{ cidr: "10.0.0.0" }] },
      path: "ip[0]",
      message: /one "\/"/,
    },
    {
      name: "cidr with an IPv4 prefix over 32",
      pattern: { ip: [{ cidr: "10.0.0.0/33" }] },
      path: "ip[0]",
      message: /at most 32/,
    },
    {
      name: "cidr with an IPv6 prefix over 128",
      pattern: { ip: [{ cidr: "::/129" }] },
      path: "ip[0]",
      message: /at most 128/,
    },
    {
      name: "cidr with a bad address",
      pattern: { ip: [{ cidr: "10.0.0.256/8" }] },
      path: "ip[0]",
      message: /not an IPv4 or IPv6 address/,
    },
    {
      name: "cidr with two double colons",
      pattern: { ip: [{ cidr: "1::2::3/64" }] },
      path: "ip[0]",
      message: /not an IPv4 or IPv6 address/,
    },
    {
      name: "cidr with a prefix length that is not a number",
      pattern: { ip: [{ cidr: "10.0.0.0/x" }] },
      path: "ip[0]",
      message: /whole number/,
    },
    {
      name: "cidr that is not a string",
      pattern: { ip: [{ cidr: ["10.0.0.0/8"] }] },
      path: "ip[0]",
      message: /"cidr" must be a string/,
    },
    {
      name: "$or that is not an array",
      pattern: { $or: { a: ["x"] } },
      path: "$or",
      message: /must be an array/,
    },
    {
      name: "$or with one alternative",
      pattern: { $or: [{ a: ["x"] }] },
      path: "$or",
      message: /at least two patterns, got 1/,
    },
    {
      name: "$or with an alternative that is not an object",
      pattern: { detail: { $or: [{ a: ["x"] }, ["b"]] } },
      path: "detail.$or[1]",
      message: /pattern object/,
    },
    {
      name: "$or with an empty alternative",
      pattern: { $or: [{ a: ["x"] }, {}] },
      path: "$or[1]",
      message: /empty objects/,
    },
    {
      name: "an operator used as a field name inside $or",
      pattern: { $or: [{ prefix: "a" }, { suffix: "b" }] },
      path: "$or[0].prefix",
      message: /is an operator, not a field name/,
    },
    {
      name: "an invalid value deep inside $or",
      pattern: { $or: [{ a: ["x"] }, { b: { c: [] } }] },
      path: "$or[1].b.c",
      message: /empty arrays/,
    },
    {
      name: "a number that is not finite",
      pattern: { v: [Number.NaN] },
      path: "v[0]",
      message: /finite number/,
    },
    {
      name: "a numeric bound that is infinite",
      pattern: { v: [{ numeric: ["<", Number.POSITIVE_INFINITY] }] },
      path: "v[0]",
      message: /finite number/,
    },
    {
      name: "a field value that is not a plain object",
      pattern: { time: new Date(0) },
      path: "time",
      message: /got a Date object/,
    },
  ];

  it.each(cases)("rejects $name", ({ pattern, path, message }) => {
    const err = thrown(() => validatePattern(pattern));
    expect(err).toBeInstanceOf(PatternError);
    expect((err as PatternError).code).toBe("invalid_pattern");
    expect((err as PatternError).message).toMatch(message);
    expect((err as PatternError).path).toBe(path);
  });

  it("rejects an invalid pattern in compilePattern too, before any event is seen", () => {
    expect(() => compilePattern({ source: "aws.ec2" })).toThrow(PatternError);
  });

  it("accepts a field named like an operator outside $or", () => {
    expect(() => validatePattern({ prefix: ["a"], numeric: [1] })).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// testEventPattern: the JSON-text entry point behind `reflex events test`.

describe("testEventPattern", () => {
  it("returns true when the event matches", () => {
    expect(testEventPattern('{"source": [{"prefix": "aws."}]}', '{"source": "aws.ec2"}')).toBe(true);
  });

  it("returns false when the event does not match", () => {
    expect(testEventPattern('{"source": ["aws.ec2"]}', '{"source": "aws.s3"}')).toBe(false);
  });

  it("keeps distinct JSON number spellings of the same value equal", () => {
    expect(testEventPattern('{"x-limit": [{"numeric": ["=", 3.018e2]}]}', '{"x-limit": 301.8}')).toBe(true);
  });

  it("names the pattern when the pattern is not JSON", () => {
    const err = thrown(() => testEventPattern("{source:", "{}"));
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ code: "invalid_json", path: "pattern" });
    expect((err as Error).message).toMatch(/the pattern is not valid JSON/);
  });

  it("names the event when the event is not JSON", () => {
    const err = thrown(() => testEventPattern('{"source": ["a"]}', "{not json"));
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ code: "invalid_json", path: "event" });
  });

  it("throws PatternError for valid JSON that is not a valid pattern", () => {
    const err = thrown(() => testEventPattern('{"source": "aws.ec2"}', "{}"));
    expect(err).toBeInstanceOf(PatternError);
    expect(err).toMatchObject({ path: "source" });
  });

  it("rejects an event that is not a JSON object", () => {
    const err = thrown(() => testEventPattern('{"source": ["a"]}', '["a"]'));
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ code: "invalid_event", path: "event" });
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

/** JSON leaves as EventBridge sees them. */
type Leaf = string | number | boolean | null;
const isLeaf = (v: unknown): v is Leaf => v === null || ["string", "number", "boolean"].includes(typeof v);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The leaves of an event array, at any depth. */
function leavesOf(array: unknown[]): Leaf[] {
  return array.flatMap((v) => (Array.isArray(v) ? leavesOf(v) : isLeaf(v) ? [v] : []));
}

/** A pattern naming every leaf of an event with its own value; undefined when there is none. */
function patternFrom(event: Record<string, unknown>): Record<string, unknown> | undefined {
  const entries: Array<[string, unknown]> = [];
  for (const [key, value] of Object.entries(event)) {
    if (isLeaf(value)) entries.push([key, [value]]);
    else if (Array.isArray(value) && leavesOf(value).length > 0) entries.push([key, leavesOf(value)]);
    else if (isObject(value)) {
      const nested = patternFrom(value);
      if (nested) entries.push([key, nested]);
    }
  }
  // fromEntries keeps a key such as "__proto__" an own field rather than setting the prototype.
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

const fieldName = fc.string().filter((k) => k !== "$or");
const jsonEvent = fc.dictionary(fieldName, fc.jsonValue({ maxDepth: 3 }), { minKeys: 1, maxKeys: 6 });

/** Escapes a literal for use in a wildcard operand. */
const escapeWildcard = (s: string) => s.replace(/[\\*]/g, (c) => `\\${c}`);

describe("properties", () => {
  it("a pattern built from an event's own leaf values always matches it", () => {
    fc.assert(
      fc.property(jsonEvent, (event) => {
        const pattern = patternFrom(event);
        fc.pre(pattern !== undefined);
        expect(matchesPattern(pattern, event)).toBe(true);
      }),
    );
  });

  it("anything-but [v] is the negation of [v] on a present string field", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.boolean(), (v, other, same) => {
        const event = { f: same ? v : other };
        expect(matchesPattern({ f: [{ "anything-but": [v] }] }, event)).toBe(
          !matchesPattern({ f: [v] }, event),
        );
      }),
    );
  });

  it("$or of p and q matches exactly when p or q matches", () => {
    const value = fc.constantFrom<unknown>(
      "x",
      "y",
      1,
      2,
      null,
      { prefix: "x" },
      { exists: false },
      { exists: true },
      { numeric: [">", 1] },
      { "anything-but": "x" },
      { wildcard: "*y" },
    );
    const simplePattern = fc.dictionary(
      fc.constantFrom("a", "b", "c"),
      fc.array(value, { minLength: 1, maxLength: 3 }),
      {
        minKeys: 1,
      },
    );
    const event = fc.dictionary(
      fc.constantFrom("a", "b", "c"),
      fc.constantFrom<unknown>("x", "xy", "y", 1, 2, 3, null),
    );
    fc.assert(
      fc.property(simplePattern, simplePattern, event, (p, q, e) => {
        expect(matchesPattern({ $or: [p, q] }, e)).toBe(matchesPattern(p, e) || matchesPattern(q, e));
      }),
    );
  });

  it("every prefix of a string matches it", () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(), (s, n) => {
        expect(matchesPattern({ f: [{ prefix: s.slice(0, n % (s.length + 1)) }] }, { f: s })).toBe(true);
      }),
    );
  });

  it("every suffix of a string matches it", () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(), (s, n) => {
        expect(matchesPattern({ f: [{ suffix: s.slice(n % (s.length + 1)) }] }, { f: s })).toBe(true);
      }),
    );
  });

  it("an upper-cased prefix matches ignoring case", () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(), (s, n) => {
        const prefix = s.slice(0, n % (s.length + 1)).toUpperCase();
        expect(matchesPattern({ f: [{ prefix: { "equals-ignore-case": prefix } }] }, { f: s })).toBe(true);
      }),
    );
  });

  it("a string with any middle part replaced by a wildcard still matches", () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(), fc.nat(), (s, a, b) => {
        const [i, j] = [a % (s.length + 1), b % (s.length + 1)].sort((x, y) => x - y);
        const wildcard = `${escapeWildcard(s.slice(0, i))}*${escapeWildcard(s.slice(j))}`;
        expect(matchesPattern({ f: [{ wildcard }] }, { f: s })).toBe(true);
      }),
    );
  });

  it("a wildcard agrees with the equivalent regular expression", () => {
    const wildcard = fc
      .array(fc.constantFrom("a", "b", "*"), { maxLength: 8 })
      .map((cs) => cs.join(""))
      .filter((w) => !w.includes("**"));
    const text = fc.array(fc.constantFrom("a", "b"), { maxLength: 10 }).map((cs) => cs.join(""));
    fc.assert(
      fc.property(wildcard, text, (w, s) => {
        const regex = new RegExp(`^${w.replaceAll("*", ".*")}$`);
        expect(matchesPattern({ f: [{ wildcard: w }] }, { f: s })).toBe(regex.test(s));
      }),
    );
  });

  it("a numeric range agrees with JavaScript comparisons", () => {
    const n = fc.double({ noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(n, n, n, fc.boolean(), fc.boolean(), (x, a, b, openLow, openHigh) => {
        fc.pre(a < b);
        const pattern = { f: [{ numeric: [openLow ? ">" : ">=", a, openHigh ? "<" : "<=", b] }] };
        const expected = (openLow ? x > a : x >= a) && (openHigh ? x < b : x <= b);
        expect(matchesPattern(pattern, { f: x })).toBe(expected);
      }),
    );
  });

  it("an IPv4 address is in a block exactly when its leading bits equal the block's", () => {
    const ip = fc.integer({ min: 0, max: 2 ** 32 - 1 });
    const format = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
    fc.assert(
      fc.property(ip, ip, fc.integer({ min: 0, max: 32 }), (block, address, bits) => {
        const shift = BigInt(32 - bits);
        const expected = BigInt(block) >> shift === BigInt(address) >> shift;
        expect(matchesPattern({ ip: [{ cidr: `${format(block)}/${bits}` }] }, { ip: format(address) })).toBe(
          expected,
        );
      }),
    );
  });

  it("an IPv6 address is in a block exactly when its leading bits equal the block's", () => {
    const ip = fc.bigInt({ min: 0n, max: 2n ** 128n - 1n });
    const format = (n: bigint) =>
      Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - i * 16)) & 0xffffn).toString(16)).join(":");
    fc.assert(
      fc.property(ip, ip, fc.integer({ min: 0, max: 128 }), (block, address, bits) => {
        const shift = BigInt(128 - bits);
        const expected = block >> shift === address >> shift;
        expect(matchesPattern({ ip: [{ cidr: `${format(block)}/${bits}` }] }, { ip: format(address) })).toBe(
          expected,
        );
      }),
    );
  });

  it("exists true and exists false disagree on every field value", () => {
    fc.assert(
      fc.property(fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }), (value) => {
        const event = value === undefined ? {} : { f: value };
        expect(matchesPattern({ f: [{ exists: true }] }, event)).toBe(
          !matchesPattern({ f: [{ exists: false }] }, event),
        );
      }),
    );
  });

  it("validation either accepts a JSON value or throws PatternError, never another error", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (pattern) => {
        try {
          validatePattern(pattern);
        } catch (err) {
          expect(err).toBeInstanceOf(PatternError);
        }
      }),
    );
  });

  it("a compiled matcher returns a boolean for any JSON event without throwing", () => {
    const match = compilePattern({
      source: [{ prefix: "aws." }],
      detail: {
        n: [{ numeric: [">", 0] }],
        ip: [{ cidr: "10.0.0.0/8" }],
        s: [{ "anything-but": { wildcard: "*x*" } }],
      },
      $or: [{ region: [{ exists: false }] }, { region: ["us-east-1"] }],
    });
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (event) => {
        expect(typeof match(event)).toBe("boolean");
      }),
    );
  });
});
