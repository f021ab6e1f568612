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
});
