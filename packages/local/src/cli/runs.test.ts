import { describe, expect, it } from "vitest";
import type { ApiClient } from "./client.ts";
import { UsageError } from "./io.ts";
import { resolveId } from "./runs.ts";

describe("resolveId", () => {
  const oneRun = {
    listExecutions: async () => ({ executions: [{ id: "scale-20261128T100000Z-ab12cd" }] }),
  } as unknown as ApiClient;

  it("refuses an empty id rather than taking it as a prefix of the only run", async () => {
    await expect(resolveId(oneRun, "")).rejects.toBeInstanceOf(UsageError);
    await expect(resolveId(oneRun, "  ")).rejects.toBeInstanceOf(UsageError);
  });

  it("takes a unique prefix as that run", async () => {
    expect(await resolveId(oneRun, "scale-")).toBe("scale-20261128T100000Z-ab12cd");
  });

  it("names every run a prefix matches when there are few, with no ellipsis", async () => {
    const twoRuns = {
      listExecutions: async () => ({
        executions: [{ id: "scale-20261128T100000Z-ab12cd" }, { id: "scale-20261128T090000Z-ef34ab" }],
      }),
    } as unknown as ApiClient;

    await expect(resolveId(twoRuns, "scale")).rejects.toThrow(
      "'scale' matches 2 runs: scale-20261128T100000Z-ab12cd, scale-20261128T090000Z-ef34ab; give more of the id",
    );
  });
});
