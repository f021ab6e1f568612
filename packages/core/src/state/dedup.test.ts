import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../test/support/dynamo.ts";
import type { Storage } from "../../../local/src/storage.ts";
import { claim, claimDone, complete, forgetLocal, release } from "./dedup.ts";

let storage: Storage;
beforeAll(async () => {
  storage = await startTestDynamo();
  forgetLocal();
});
afterAll(async () => storage.close());

describe("dedup claims", () => {
  it("lets exactly one of many concurrent claimants through", async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => claim("k-concurrent", `owner-${i}`)),
    );
    expect(results.filter((r) => r.status === "claimed")).toHaveLength(1);
    // The others are told to come back, not that it was a duplicate: nothing is done yet.
    expect(results.filter((r) => r.status === "in-progress")).toHaveLength(49);
  });

  it("lets a redelivery reclaim after the claimant died, once the lease ran out", async () => {
    const t0 = 1_000_000;
    expect(await claim("k-dead", "dead", t0)).toEqual({ status: "claimed" });
    forgetLocal(); // another process: it does not know what "dead" claimed
    expect(await claim("k-dead", "next", t0 + 30_000)).toEqual({
      status: "in-progress",
      retryAfterMs: 30_000,
    });
    expect(await claim("k-dead", "next", t0 + 61_000)).toEqual({ status: "claimed" });
  });

  it("never lets a finished claim be taken again, however late", async () => {
    expect(await claim("k-done", "a", 1_000)).toEqual({ status: "claimed" });
    await complete("k-done", "a", { decisions: [] });
    forgetLocal();
    expect(await claim("k-done", "b", 10 ** 13)).toEqual({ status: "done" });
  });

  it("gives a claim back so a redelivery can retry after a failure", async () => {
    expect(await claim("k-retry", "a")).toEqual({ status: "claimed" });
    await release("k-retry", "a");
    expect(await claim("k-retry", "b")).toEqual({ status: "claimed" });
  });

  it("answers a duplicate of what this process handled without asking the table", async () => {
    expect(await claim("k-local", "a")).toEqual({ status: "claimed" });
    await complete("k-local", "a", {});
    await storage.close(); // the table is gone: only the local knowledge can answer
    expect(await claim("k-local", "b")).toEqual({ status: "done" });
    storage = await startTestDynamo();
  });

  it("claims and closes a decision known up front in one write: a later delivery, here or elsewhere, is a duplicate", async () => {
    expect(await claimDone("k-closed", "a", { decisions: [] })).toEqual({ status: "claimed" });
    expect(await claim("k-closed", "b")).toEqual({ status: "done" });
    forgetLocal(); // another process
    expect(await claim("k-closed", "c", 10 ** 13)).toEqual({ status: "done" });
  });

  it("does not close what another delivery holds open: it is told to come back", async () => {
    expect(await claim("k-open", "a", 1_000)).toEqual({ status: "claimed" });
    forgetLocal();
    expect(await claimDone("k-open", "b", { decisions: [] }, 2_000)).toEqual({
      status: "in-progress",
      retryAfterMs: 59_000,
    });
  });
});
