/**
 * What is running now: `Executions.active()` reads the running-run markers, so `/reflex status`
 * costs what is running, not what was ever stored; markers follow promotion and closing, and
 * stale ones (a crash between closing and unmarking) are tidied. Re-runs are linked from the run
 * they repeat, so a run's page reads them with its steps.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDynamo } from "../../../../test/support/dynamo.ts";
import type { Storage } from "../../../local/src/storage.ts";
import type { Transport } from "../chatops/transport.ts";
import { handle } from "../chatops/worker.ts";
import { validateConfig } from "../config/index.ts";
import { db } from "./db.ts";
import * as Executions from "./executions.ts";
import { tableName } from "./table.ts";

let storage: Storage;
beforeAll(async () => {
  storage = await startTestDynamo();
});
afterAll(async () => storage.close());

const trigger = { kind: "manual" as const, actor: "test" };
const base = Date.parse("2026-01-01T00:00:00Z");
let seq = 0;

/** `n` runs that started and ended, each after `from`. */
async function history(prefix: string, n: number, from: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${i}`;
    await Executions.create(
      { id, runbook: "scale", dryRun: false, params: {}, trigger },
      new Date(from + i * 1000),
    );
    await Executions.complete(id, { status: "SUCCEEDED" }, new Date(from + i * 1000 + 500));
  }
}

async function markers(): Promise<Array<Record<string, unknown>>> {
  const out = await db().send(
    new QueryCommand({
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": Executions.ACTIVE_PK },
      ConsistentRead: true,
    }),
  );
  return out.Items ?? [];
}

/** Items DynamoDB read for the calls made while `fn` runs (queries' ScannedCount, gets' items). */
async function itemsRead(fn: () => Promise<unknown>): Promise<number> {
  const client = db() as DynamoDBDocumentClient;
  let read = 0;
  const name = `count-${++seq}`;
  client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const o = out.output as { ScannedCount?: number; Item?: unknown };
      read += o.ScannedCount ?? (o.Item ? 1 : 0);
      return out;
    },
    { step: "initialize", name },
  );
  try {
    await fn();
  } finally {
    client.middlewareStack.remove(name);
  }
  return read;
}

const SLACK_CONFIG = validateConfig({
  environment: "staging",
  access: { roles: { oncall: ["slack:UONCALL"] }, allow: [{ role: "oncall", runbooks: ["*"] }] },
});
const silent: Transport = {
  postMessage: async (m) => ({ channel: m.channel, ts: "1" }),
  updateMessage: async () => {},
  respond: async () => {},
  userGroups: async () => [],
};
const status = () =>
  handle(
    {
      kind: "command",
      command: { kind: "status" },
      text: "status",
      user: { id: "UONCALL" },
      channel: "CONCALL",
      receivedAt: Date.now(),
      answered: false,
    },
    { config: SLACK_CONFIG, transport: silent },
  );

describe("/reflex status and the running-run markers", () => {
  it("lists a run that started before 150 runs that have ended since (the newest 100 do not hold it)", async () => {
    const old = await Executions.createStarting(
      { id: "old-long-run", runbook: "patch", dryRun: false, params: {}, trigger },
      new Date(base),
    );
    await Executions.promote(old.id, new Date(base + 10));
    await history("later", 150, base + 60_000);
    expect((await Executions.active()).map((e) => e.id)).toEqual(["old-long-run"]);
    const message = await status();
    expect(message?.text).toContain("old-long-run");
    expect(message?.text).not.toContain("Nothing is running");
    await Executions.complete(old.id, { status: "SUCCEEDED" });
    expect(await Executions.active()).toEqual([]);
    expect((await status())?.text).toContain("Nothing is running");
  });

  it("reads as many items with 300 ended runs stored as with none: the markers, then each running record", async () => {
    const b = base + 10 * 86_400_000;
    await Executions.create(
      { id: "run-a", runbook: "scale", dryRun: false, params: {}, trigger },
      new Date(b),
    );
    await Executions.create(
      { id: "run-b", runbook: "scale", dryRun: false, params: {}, trigger },
      new Date(b + 1),
    );
    const before = await itemsRead(() => Executions.active());
    await history("bulk", 300, b + 1000);
    const after = await itemsRead(() => Executions.active());
    expect(before).toBe(4); // two markers, two records
    expect(after).toBe(before);
    const listedBefore = await itemsRead(() => status());
    expect(listedBefore).toBeLessThan(20); // the audit write reads nothing; the listing reads 4
    await Executions.complete("run-a", { status: "SUCCEEDED" });
    await Executions.complete("run-b", { status: "FAILED" });
  });

  it("marks a run on promotion, keeps it while it waits, unmarks it when it closes", async () => {
    const at = new Date(base + 20 * 86_400_000);
    await Executions.createStarting({ id: "life", runbook: "scale", dryRun: false, params: {}, trigger }, at);
    expect((await markers()).map((m) => m.id)).not.toContain("life");
    await Executions.promote("life", at);
    expect(await markers()).toContainEqual(
      expect.objectContaining({ id: "life", sk: `${at.toISOString()}#life` }),
    );
    await Executions.setWaiting("life", true);
    expect(await Executions.active()).toEqual([
      expect.objectContaining({ id: "life", status: "WAITING_FOR_APPROVAL" }),
    ]);
    await Executions.complete("life", { status: "ABORTED" });
    expect((await markers()).map((m) => m.id)).not.toContain("life");
    expect(await Executions.active()).toEqual([]);
  });

  it("tidies a marker left by a crash between closing and unmarking, and one whose record is gone; leaves a STARTING one", async () => {
    const at = new Date(base + 30 * 86_400_000);
    await history("crashed", 1, at.getTime());
    const ended = await Executions.get("crashed-0");
    const put = (id: string, startedAt: string) =>
      db().send(
        new PutCommand({
          TableName: tableName(),
          Item: { pk: Executions.ACTIVE_PK, sk: `${startedAt}#${id}`, type: "active", id },
        }),
      );
    await put("crashed-0", ended.startedAt);
    await put("never-written", at.toISOString());
    await Executions.createStarting(
      { id: "promoting", runbook: "scale", dryRun: false, params: {}, trigger },
      at,
    );
    await put("promoting", at.toISOString());
    expect(await Executions.active()).toEqual([]);
    expect((await markers()).map((m) => m.id)).toEqual(["promoting"]);
    await Executions.promote("promoting", at);
    expect((await Executions.active()).map((e) => e.id)).toEqual(["promoting"]);
    await Executions.complete("promoting", { status: "SUCCEEDED" });
  });

  it("leaves the marker of a start under way (written before its record) and tidies it once the start must have died", async () => {
    const at = new Date();
    await db().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          pk: Executions.ACTIVE_PK,
          sk: `${at.toISOString()}#under-way`,
          type: "active",
          id: "under-way",
        },
      }),
    );
    expect(await Executions.active()).toEqual([]);
    expect((await markers()).map((m) => m.id)).toContain("under-way");
    await Executions.active({ now: at.getTime() + Executions.START_UNDER_WAY_MS + 1 });
    expect((await markers()).map((m) => m.id)).not.toContain("under-way");
  });

  it("links a re-run from the run it repeats, read with its steps in one query", async () => {
    const at = new Date(base + 40 * 86_400_000);
    await Executions.create({ id: "first", runbook: "scale", dryRun: true, params: {}, trigger }, at);
    await Executions.complete("first", { status: "SUCCEEDED" });
    const again = new Date(at.getTime() + 60_000);
    await Executions.createStarting(
      {
        id: "again",
        runbook: "scale",
        dryRun: false,
        params: {},
        trigger: { ...trigger, kind: "rerun", rerunOf: "first" },
      },
      again,
    );
    await Executions.promote("again", again);
    const first = await Executions.describe("first");
    expect(first.reruns).toEqual(["again"]);
    expect(first.steps).toEqual([]);
    expect((await Executions.describe("again")).reruns).toEqual([]);
    const link = await db().send(
      new GetCommand({
        TableName: tableName(),
        Key: { pk: "EXEC#first", sk: `RERUN#${again.toISOString()}#again` },
      }),
    );
    expect(link.Item?.type).toBe("rerun");
    await Executions.complete("again", { status: "SUCCEEDED" });
  });
});
