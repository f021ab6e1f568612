/**
 * The replay guard against the embedded DynamoDB (its PutItem is signed by hand, not sent by a
 * client): one delivery of a signature passes, however many arrive at once; an expired mark
 * that TTL has not removed yet does not count.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../test/support/dynamo.ts";
import type { Storage } from "../../../local/src/storage.ts";
import { dynamoReplayGuard } from "./replay.ts";

let storage: Storage;
beforeAll(async () => {
  storage = await startTestDynamo();
});
afterAll(async () => {
  await storage.close();
});

const inFiveMinutes = () => Math.floor(Date.now() / 1000) + 300;

describe("the DynamoDB replay guard", () => {
  it("lets exactly one of ten simultaneous deliveries of one signature through", async () => {
    const verdicts = await Promise.all(
      Array.from({ length: 10 }, () => dynamoReplayGuard("v0=same-signature", inFiveMinutes())),
    );
    expect(verdicts.filter(Boolean)).toHaveLength(1);
    expect(await dynamoReplayGuard("v0=same-signature", inFiveMinutes())).toBe(false);
  });

  it("lets another signature through", async () => {
    expect(await dynamoReplayGuard("v0=first", inFiveMinutes())).toBe(true);
    expect(await dynamoReplayGuard("v0=second", inFiveMinutes())).toBe(true);
  });

  it("does not count a mark that has expired but is still stored", async () => {
    const expired = Math.floor(Date.now() / 1000) - 1;
    expect(await dynamoReplayGuard("v0=expired", expired)).toBe(true);
    expect(await dynamoReplayGuard("v0=expired", inFiveMinutes())).toBe(true);
    expect(await dynamoReplayGuard("v0=expired", inFiveMinutes())).toBe(false);
  });
});
