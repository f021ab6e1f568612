import { describe, expect, it } from "vitest";
import { parseParamPairs } from "./param-pairs.ts";

const schema = {
  type: "object",
  properties: {
    retainDays: { type: "integer" },
    maxConcurrency: { anyOf: [{ type: "integer" }, { type: "string" }] },
    dryRun: { type: "boolean" },
    selector: {
      type: "object",
      properties: { tag: { type: "object", additionalProperties: { type: "string" } } },
    },
    name: { type: "string" },
  },
};

describe("parseParamPairs", () => {
  it("types values by the schema: numbers, booleans, strings that look like numbers", () => {
    expect(
      parseParamPairs(["retainDays=14", "dryRun=true", "selector.tag.Env=123", "name=7"], schema),
    ).toEqual({ retainDays: 14, dryRun: true, selector: { tag: { Env: "123" } }, name: "7" });
  });

  it("keeps a number-or-string param a string when it is not a number (50%), a number when it is", () => {
    expect(parseParamPairs(["maxConcurrency=50%"], schema)).toEqual({ maxConcurrency: "50%" });
    expect(parseParamPairs(["maxConcurrency=5"], schema)).toEqual({ maxConcurrency: 5 });
  });

  it("still refuses a non-number where only a number goes", () => {
    expect(() => parseParamPairs(["retainDays=two"], schema)).toThrow(/retainDays: 'two' is not a number/);
  });

  it("reads an object written whole as JSON, and names the param when it is not", () => {
    expect(parseParamPairs(['selector={"tag":{"PatchGroup":"batch"}}'], schema)).toEqual({
      selector: { tag: { PatchGroup: "batch" } },
    });
    expect(() => parseParamPairs(["selector={tag"], schema)).toThrow(/selector: .* is not a JSON object/);
  });

  it("refuses __proto__, constructor and prototype as keys, so a Slack user cannot pollute every object", () => {
    try {
      for (const pair of [
        "__proto__.polluted=yes",
        "constructor.prototype.polluted=yes",
        "a.__proto__.polluted=yes",
      ])
        expect(() => parseParamPairs([pair], schema)).toThrow(/not allowed as a key/);
      expect(() => parseParamPairs(['__proto__:={"polluted":"yes"}'], schema)).toThrow(
        /not allowed as a key/,
      );
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
  });

  it("treats inherited names as ordinary keys: toString.a=1 is an object, not 'already set'", () => {
    expect(parseParamPairs(["toString.a=1", "valueOf=2"])).toEqual({ toString: { a: "1" }, valueOf: "2" });
  });

  it("refuses an empty key segment instead of making a '' property", () => {
    expect(() => parseParamPairs(["selector..Env=1"], schema)).toThrow(/selector\.\.Env.*empty/);
    expect(() => parseParamPairs([".a=1"], schema)).toThrow(/empty/);
  });

  it("reads only plain decimal numbers as numbers: not Infinity, hex or blanks around", () => {
    for (const raw of ["Infinity", "-Infinity", "0x10", "1_000", " 14"])
      expect(() => parseParamPairs([`retainDays=${raw}`], schema)).toThrow(/is not a number/);
    expect(parseParamPairs(["retainDays=-1.5e2"], schema)).toEqual({ retainDays: -150 });
  });
});
