/**
 * A fan-out whose state machine could not be started: the caller is answered with the error,
 * so nothing may start later behind its back (the reconciler resumes every RUNNING fan-out, and
 * a caller that retries would get a second fan-out: every location run twice). A rule's or a
 * schedule's fan-out, whose redelivery is the same fan-out, stays RUNNING to be started again.
 */
import { Audit, Aws, Locations, validateConfig } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as FanOuts from "../packages/core/src/state/fan-outs.ts";
import { S3RVER_CREDENTIALS, type Storage } from "../packages/local/src/storage.ts";
import { startTestDynamo } from "./support/dynamo.ts";

let storage: Storage;
beforeAll(async () => {
  storage = await startTestDynamo();
  // Step Functions refuses every StartExecution (as a missing state machine or a denied role would).
  Aws.configure({
    endpoints: { dynamodb: storage.dynamoEndpoint, s3: storage.s3Endpoint },
    credentials: { s3: S3RVER_CREDENTIALS },
    decorate: (service, client) => {
      if (service !== "sfn") return;
      (client as { middlewareStack: { add: (m: unknown, o: unknown) => void } }).middlewareStack.add(
        () => async () => {
          throw Object.assign(new Error("User is not authorized to perform: states:StartExecution"), {
            name: "AccessDeniedException",
            $fault: "client",
          });
        },
        { step: "initialize", name: "refuseStart" },
      );
    },
  });
});
afterAll(async () => {
  Aws.configure({});
  await storage?.close();
});

describe("a fan-out whose state machine does not start", () => {
  it("fails the launch and leaves nothing for the reconciler to resume: not RUNNING, its end audited", async () => {
    const config = validateConfig({
      accounts: [{ id: "111111111111", name: "member-1", regions: ["us-east-1"] }],
    });
    const planned = Locations.plan(
      { runbook: "backup-snapshot", params: { selector: { tag: { Backup: "daily" } } }, config },
      { accounts: ["*"] },
      {},
    );
    await expect(
      Locations.launch(
        {
          runbook: "backup-snapshot",
          params: { selector: { tag: { Backup: "daily" } } },
          trigger: { kind: "manual" },
          actor: { id: "cli:alice" },
        },
        planned,
      ),
    ).rejects.toMatchObject({ name: "AccessDeniedException" });

    expect((await Locations.running()).map((f) => f.parentId)).not.toContain(planned.parentId);
    expect(await Locations.resume(planned.parentId)).toBe(false);
    expect((await FanOuts.find(planned.parentId))?.status).toBe("FINISHED");
    const trail = await Audit.forExecution(planned.parentId);
    expect(trail.map((e) => e.kind)).toContain("locations.finished");
  });

  it("leaves a rule's or schedule's fan-out (its id named by the firing) RUNNING, for the redelivery to start again", async () => {
    const config = validateConfig({
      accounts: [{ id: "111111111111", name: "member-1", regions: ["us-east-1"] }],
    });
    const parentId = "backup-snapshot-20261207T030000Z-sched1";
    const planned = Locations.plan(
      { runbook: "backup-snapshot", params: { selector: { tag: { Backup: "daily" } } }, config, parentId },
      { accounts: ["*"] },
      {},
    );
    await expect(
      Locations.launch(
        {
          runbook: "backup-snapshot",
          params: { selector: { tag: { Backup: "daily" } } },
          trigger: { kind: "schedule", name: "nightly" },
          actor: { id: "reflex" },
        },
        planned,
      ),
    ).rejects.toMatchObject({ name: "AccessDeniedException" });
    expect((await Locations.running()).map((f) => f.parentId)).toContain(parentId);
  });
});
