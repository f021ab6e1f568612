/**
 * Can a run's params lower restore's risk (and so skip the approval the policy asks for)? In
 * place is high whatever else is given; a drill is low because it restores into the drill's own
 * isolated instance and deletes what it made, so a drill may not carry params that would take
 * it elsewhere.
 */
import { describe, expect, it } from "vitest";
import { restore } from "./index.ts";

const risk = (p: unknown) => restore.riskFor?.(restore.params.parse(p) as never) ?? restore.risk;
const refusal = (p: unknown) => restore.params.safeParse(p).error?.issues.map((i) => i.path.join("."));

describe("restore's risk from its params", () => {
  it("is high in place, whatever else the params say", () => {
    expect(risk({ source: { instanceId: "i-0123456789abcdef0" }, mode: "in-place" })).toBe("high");
    expect(
      risk({
        source: { snapshotId: "snap-0123456789abcdef0" },
        mode: "in-place",
        instanceId: "i-0123456789abcdef0",
      }),
    ).toBe("high");
    // In place may not be dressed as a drill, the one low-risk form.
    expect(refusal({ drill: "app-1", mode: "in-place" })).toContain("mode");
  });

  it("is low only for a drill, and a drill takes no scratch instance of the caller's (attachTo is refused, never ignored)", () => {
    expect(risk({ drill: "app-1" })).toBe("low");
    expect(risk({ source: { instanceId: "i-0123456789abcdef0" } })).toBe("medium");
    expect(refusal({ drill: "app-1", attachTo: { instanceId: "i-0123456789abcdef0" } })).toEqual([
      "attachTo",
    ]);
  });
});
