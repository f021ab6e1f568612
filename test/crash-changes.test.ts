/**
 * Crashes in the middle of a change to the account: a real `reflex start` (child process) is
 * killed with SIGKILL right after the simulated cloud applied a chosen mutating call
 * (`REFLEX_CRASH_AT=cloud:after:<service>:<Operation>`), or right after an HTTP answer, and
 * started again on the same data dir (in the test's own process, as `reflex start` starts it:
 * see restartHere). After the restart every run ends where the world is:
 * the lost run's report names what is still undone, and Reflex's own records are put right from
 * what the cloud says.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  call,
  dataDir,
  kill,
  restartHere,
  savedCloud,
  startChild,
  stopChildren,
  until,
  waitUntilEnded,
} from "./support/child.ts";
import { instanceStoppedEvent } from "./support/events.ts";

afterEach(stopChildren);

const CRASH_CONFIG = "test/fixtures/crash.config.ts";
const QUICK = {
  pollSeconds: 1,
  healthTimeoutSeconds: 30,
  drainTimeoutSeconds: 30,
  commandTimeoutSeconds: 30,
};

/** The web target group's members as the child last saved them: registered (not draining) ids. */
function registeredInWeb(dir: string): string[] {
  const groups = savedCloud(dir).regions["us-east-1"].patching.targetGroups as Array<{
    name: string;
    targets: Array<{ id: string; deregisteredAt?: number }>;
  }>;
  const web = groups.find((g) => g.name === "web")!;
  return web.targets.filter((t) => t.deregisteredAt === undefined).map((t) => t.id);
}

/** Where a patch is killed, and what its lost-run report must then say of the instance it was changing. */
const PATCH_CRASHES = [
  { point: "cloud:after:elbv2:DeregisterTargets", says: "out of target group(s) web" },
  { point: "cloud:after:ssm:SendCommand", says: "patch command sent" },
];

describe("a crash mid-patch", () => {
  it.each(PATCH_CRASHES)(
    "at $point is reported per instance, and the next patch of the instances puts them back in their target group",
    async ({ point, says }) => {
      const dir = dataDir();
      const doomed = await startChild(dir, CRASH_CONFIG, point);
      const cloud = (await call(doomed.url, "GET", "/api/cloud")).body;
      const web = (cloud.instances as Array<{ instanceId: string; name: string }>)
        .filter((i) => i.name === "web-1" || i.name === "web-2")
        .map((i) => i.instanceId)
        .sort();
      expect(web).toHaveLength(2);
      expect(registeredInWeb(dir)).toEqual(expect.arrayContaining(web));

      const started = await call(doomed.url, "POST", "/api/runbooks/patch/executions", {
        params: { selector: { instanceIds: web }, maxConcurrency: "2", ...QUICK },
      });
      expect(started.status).toBe(202);
      // Killed by itself right after the first such call was applied and saved.
      expect((await doomed.exited).signal).toBe("SIGKILL");
      const out = web.filter((id) => !registeredInWeb(dir).includes(id));
      expect(out.length).toBeGreaterThan(0);

      const restarted = await restartHere(dir, CRASH_CONFIG);
      const lost = (await call(restarted.url, "GET", `/api/executions/${started.body.executionId}`)).body;
      expect(lost).toMatchObject({ status: "ABORTED", error: "ExecutionLost" });
      const report = lost.attention.report as { instances: Array<{ instanceId: string; undone: string[] }> };
      for (const id of out) {
        const entry = report.instances.find((i) => i.instanceId === id);
        expect(entry, `the lost run's report names ${id}`).toBeDefined();
        expect(entry!.undone.join("; ")).toContain("out of target group(s) web");
      }
      expect(report.instances.flatMap((i) => i.undone).join("; ")).toContain(says);

      const again = await call(restarted.url, "POST", "/api/runbooks/patch/executions", {
        params: { selector: { instanceIds: web }, maxConcurrency: "2", ...QUICK },
      });
      expect(again.status, JSON.stringify(again.body)).toBe(202);
      const second = await waitUntilEnded(restarted.url, again.body.executionId);

      expect(second.status, JSON.stringify(second.result)).toBe("SUCCEEDED");
      expect(registeredInWeb(dir)).toEqual(expect.arrayContaining(web));
      for (const t of second.result.targets)
        expect(t.targetGroups.map((g: string) => g.split("/")[1])).toContain("web");
    },
  );
});

const FAILOVER_CONFIG = "test/fixtures/crash-failover.config.ts";
const A = "i-0a0a0a0a0a0a0a0a1";
const B = "i-0b0b0b0b0b0b0b0b2";
const VALUE: Record<string, string> = { [A]: "10.0.200.11", [B]: "10.0.200.12" };

/** Where the Elastic IP and the record point, as the child last saved the cloud. */
function layout(dir: string): { eip?: string; record: string[] } {
  const saved = savedCloud(dir);
  const address = (
    saved.regions["us-east-1"].addresses as Array<{ allocationId: string; instanceId?: string }>
  ).find((a) => a.allocationId === "eipalloc-0e1e1e1e1e1e1e1e1");
  const zone = (
    saved.route53.zones as Array<{ id: string; records: Array<{ name: string; values: string[] }> }>
  ).find((z) => z.id === "Z0REFLEXDEMO01");
  return {
    eip: address?.instanceId,
    record: zone?.records.find((r) => r.name === "app.example.internal.")?.values ?? [],
  };
}

/** Starts a failover of the pair as cli:alice and waits until it asks for approval. */
async function failoverWaiting(url: string): Promise<string> {
  const started = await call(
    url,
    "POST",
    "/api/runbooks/failover/executions",
    { params: { pair: "app" } },
    "cli:alice",
  );
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  const id = started.body.executionId as string;
  await until("the approval request", async () => {
    const e = await call(url, "GET", `/api/executions/${id}`);
    if (!["RUNNING", "WAITING_FOR_APPROVAL"].includes(e.body.status))
      throw new Error(`run ${id} ended ${e.body.status} before asking: ${e.body.error}: ${e.body.cause}`);
    return e.body.status === "WAITING_FOR_APPROVAL" ? true : undefined;
  });
  return id;
}

/** After a restart: `pairs` names the side that serves traffic, with nothing left pending. */
async function assertPairsTellTheTruth(url: string, dir: string): Promise<string> {
  const { eip, record } = layout(dir);
  expect(record, "the Elastic IP and the record point at one side").toEqual([VALUE[eip!]]);
  const [pair] = (await call(url, "GET", "/api/pairs")).body.pairs;
  expect(pair).toMatchObject({ name: "app", primary: eip, standby: eip === A ? B : A });
  expect(pair.attention).toBeUndefined();
  expect(pair.switching).toBeUndefined();
  return eip!;
}

describe("a crash mid-failover", () => {
  it("after AssociateAddress and the record change: pairs names the new primary, and its stop event fails over", async () => {
    const dir = dataDir();
    const doomed = await startChild(dir, FAILOVER_CONFIG, "cloud:after:route53:ChangeResourceRecordSets");
    const id = await failoverWaiting(doomed.url);
    await call(doomed.url, "POST", `/api/executions/${id}/approve`, {}, "cli:bob").catch(() => undefined);
    expect((await doomed.exited).signal).toBe("SIGKILL");
    expect(layout(dir)).toEqual({ eip: B, record: [VALUE[B]] });

    const restarted = await restartHere(dir, FAILOVER_CONFIG);
    const lost = (await call(restarted.url, "GET", `/api/executions/${id}`)).body;
    expect(lost).toMatchObject({ status: "ABORTED", error: "ExecutionLost" });
    expect(lost.attention.report).toMatchObject({
      pair: "app",
      primary: B,
      intended: { from: A, towards: B },
    });
    expect(await assertPairsTellTheTruth(restarted.url, dir)).toBe(B);

    // The instance now serving traffic stops: that is the current primary, so it fails over.
    const res = await call(restarted.url, "POST", "/events", instanceStoppedEvent(B, "evt-b-stopped"));
    const decision = res.body.results[0];
    expect(decision.decision, JSON.stringify(decision)).toBe("started");
    const waiting = await until("the approval request", async () => {
      const e = (await call(restarted.url, "GET", `/api/executions/${decision.executionId}`)).body;
      if (!["RUNNING", "WAITING_FOR_APPROVAL"].includes(e.status))
        throw new Error(`ended ${e.status}: ${e.result?.summary ?? e.cause}`);
      return e.status === "WAITING_FOR_APPROVAL" ? e : undefined;
    });
    expect(waiting.result.plan).toMatchObject({ from: { instance: B }, to: { instance: A } });
  });

  it("after AssociateAddress only: the pair is marked as needing attention, and no failover decides on it", async () => {
    const dir = dataDir();
    const doomed = await startChild(dir, FAILOVER_CONFIG, "cloud:after:ec2:AssociateAddress");
    const id = await failoverWaiting(doomed.url);
    await call(doomed.url, "POST", `/api/executions/${id}/approve`, {}, "cli:bob").catch(() => undefined);
    expect((await doomed.exited).signal).toBe("SIGKILL");
    expect(layout(dir)).toEqual({ eip: B, record: [VALUE[A]] });

    const restarted = await restartHere(dir, FAILOVER_CONFIG);
    const [pair] = (await call(restarted.url, "GET", "/api/pairs")).body.pairs;
    expect(pair.attention).toMatchObject({ elasticIpOn: B, recordValues: [VALUE[A]] });
    expect(pair.attention.reason).toContain("does not name one side");
    const lost = (await call(restarted.url, "GET", `/api/executions/${id}`)).body;
    expect(lost.attention.report.attention).toContain("needs a person");

    const next = await call(
      restarted.url,
      "POST",
      "/api/runbooks/failover/executions",
      { params: { pair: "app" } },
      "cli:alice",
    );
    const run = await waitUntilEnded(restarted.url, next.body.executionId);
    expect(run).toMatchObject({ status: "FAILED", error: "PairNeedsAttention" });
    expect(layout(dir)).toEqual({ eip: B, record: [VALUE[A]] });
  });

  it("killed right after approve returns, at several offsets: pairs names what serves traffic, or needs attention while the two disagree", async () => {
    for (const offset of [0, 15, 60]) {
      // A data dir each: a kill that leaves the pair needing attention would stop the next round's failover.
      const dir = dataDir();
      const doomed = await startChild(dir, FAILOVER_CONFIG);
      const id = await failoverWaiting(doomed.url);
      const approved = await call(doomed.url, "POST", `/api/executions/${id}/approve`, {}, "cli:bob");
      expect(approved.status).toBe(200);
      if (offset) await new Promise((r) => setTimeout(r, offset)); // the kill's offset after the answer
      await kill(doomed);

      const restarted = await restartHere(dir, FAILOVER_CONFIG);
      const run = (await call(restarted.url, "GET", `/api/executions/${id}`)).body;
      expect(["SUCCEEDED", "ABORTED"]).toContain(run.status);
      const { eip, record } = layout(dir);
      if (record.length === 1 && record[0] === VALUE[eip!]) await assertPairsTellTheTruth(restarted.url, dir);
      else {
        // Killed between AssociateAddress and the record change: the two disagree, and the pair
        // says so (no failover decides on it) until a person puts them right.
        const [pair] = (await call(restarted.url, "GET", "/api/pairs")).body.pairs;
        expect(pair.attention).toMatchObject({ elasticIpOn: eip, recordValues: record });
      }
      await restarted.stop();
    }
  }, 240_000);
});
