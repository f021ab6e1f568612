import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../test/support/dynamo.ts";
import type { Storage } from "../../../local/src/storage.ts";
import { claim, complete, forgetLocal, release } from "./dedup.ts";

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
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("lets a redelivery reclaim after the claimant died, once the lease ran out", async () => {
    const t0 = 1_000_000;
    expect(await claim("k-dead", "dead", t0)).toBe(true);
    forgetLocal(); // another process: it does not know what "dead" claimed
    expect(await claim("k-dead", "next", t0 + 30_000)).toBe(false);
    expect(await claim("k-dead", "next", t0 + 61_000)).toBe(true);
  });

  it("never lets a finished claim be taken again, however late", async () => {
    expect(await claim("k-done", "a", 1_000)).toBe(true);
    await complete("k-done", "a", { decisions: [] });
    forgetLocal();
    expect(await claim("k-done", "b", 10 ** 13)).toBe(false);
  });

  it("gives a claim back so a redelivery can retry after a failure", async () => {
    expect(await claim("k-retry", "a")).toBe(true);
    await release("k-retry", "a");
    expect(await claim("k-retry", "b")).toBe(true);
  });

  it("answers a duplicate of what this process handled without asking the table", async () => {
    expect(await claim("k-local", "a")).toBe(true);
    await complete("k-local", "a", {});
    await storage.close(); // the table is gone: only the local knowledge can answer
    expect(await claim("k-local", "b")).toBe(false);
    storage = await startTestDynamo();
  });
});
