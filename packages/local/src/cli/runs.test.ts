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
});
