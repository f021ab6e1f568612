/**
 * RDS events, as AWS documents them (Amazon RDS User Guide, "Amazon RDS event categories and
 * event messages" and the EventBridge example of an "RDS DB Instance Event"), through the gate
 * with the example config's shipped rules (examples/runbooks/reflex.config.ts): matched, the
 * DB's identifier taken from the event into db-backup's params, a dry-run started (the rules
 * are in shadow mode), and a snapshot planned of that one instance, nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import example from "../examples/runbooks/reflex.config.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, startTestLocal } from "./support/local.ts";

/** An RDS DB instance event in EventBridge's envelope, as the RDS User Guide's example shows it. */
function rdsInstanceEvent(id: string, eventId: string, categories: string[], message: string) {
  const arn = `arn:aws:rds:us-east-1:123456789012:db:${id}`;
  return {
    version: "0",
    id: `68f6e973-1a0c-d37b-f2f2-${eventId.slice(-4).padStart(12, "0")}`,
    "detail-type": "RDS DB Instance Event",
    source: "aws.rds",
    account: "123456789012",
    time: "2026-12-07T02:36:43Z",
    region: "us-east-1",
    resources: [arn],
    detail: {
      EventCategories: categories,
      SourceType: "DB_INSTANCE",
      SourceArn: arn,
      Date: "2026-12-07T02:36:43.292Z",
      Message: message,
      SourceIdentifier: id,
      EventID: eventId,
    },
  };
}

const STORAGE_FULL = rdsInstanceEvent(
  "reports-db",
  "RDS-EVENT-0007",
  ["low storage"],
  "Allocated storage has been exhausted. Allocate additional storage to resolve the issue.",
);
const FAILOVER_DONE = rdsInstanceEvent(
  "orders-db",
  "RDS-EVENT-0049",
  ["failover"],
  "A Multi-AZ failover has completed.",
);
const FAILOVER_STARTED = rdsInstanceEvent(
  "orders-db",
  "RDS-EVENT-0013",
  ["failover"],
  "A Multi-AZ failover that resulted in the promotion of a standby instance has started.",
);

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal(example);
});
afterAll(() => local?.stop());

async function decide(event: object) {
  const res = await api(local, "POST", "/events", { Entries: [event] });
  await local.idle();
  expect(res.status).toBe(200);
  return res.body.results[0] as { decision: string; rule?: string; executionId?: string; reason: string };
}

describe("RDS events through the gate, with the example config's rules", () => {
  it("snapshots (plans, in shadow mode) the instance a storage-full event names", async () => {
    const d = await decide(STORAGE_FULL);

    expect(d).toMatchObject({ decision: "started", rule: "rds-storage-full-snapshot" });
    const run = (await api(local, "GET", `/api/executions/${d.executionId}`)).body;
    expect(run).toMatchObject({ status: "SUCCEEDED", dryRun: true });
    expect(run.params.selector).toEqual({ names: ["reports-db"] });
    expect(run.outcome.targets.map((t: { id: string; kind: string }) => `${t.kind}:${t.id}`)).toEqual([
      "rds-instance:reports-db",
    ]);
    expect(local.cloud.mutatingCalls().filter((c) => c.service === "rds")).toEqual([]);
  });

  it("matches a completed Multi-AZ failover, and not the event that says one has started", async () => {
    const done = await decide(FAILOVER_DONE);
    const started = await decide(FAILOVER_STARTED);

    expect(done).toMatchObject({ decision: "started", rule: "rds-after-failover-snapshot" });
    const run = (await api(local, "GET", `/api/executions/${done.executionId}`)).body;
    expect(run.outcome.targets[0]).toMatchObject({ id: "orders-db", kind: "rds-instance" });
    expect(started.decision).toBe("no-match");
  });
});
