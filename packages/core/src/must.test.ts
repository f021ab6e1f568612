import { describe, expect, it } from "vitest";
import { MissingValueError, must } from "./errors.ts";

describe("must", () => {
  it("returns a value that is there, falsy ones included", () => {
    expect(must(0, "a count")).toBe(0);
    expect(must("", "a name")).toBe("");
    expect(must("i-1", "InstanceId")).toBe("i-1");
  });

  it("throws a MissingValueError naming what was missing, for undefined and null", () => {
    expect(() => must(undefined, "out.Command.CommandId")).toThrow(
      new MissingValueError("out.Command.CommandId"),
    );
    const e = (() => {
      try {
        must(null, "input.plan");
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(MissingValueError);
    expect(e).toMatchObject({
      name: "MissingValueError",
      code: "missing_value",
      message: "expected input.plan, found none",
    });
  });
});
