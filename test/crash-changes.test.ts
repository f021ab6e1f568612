/**
 * Crashes in the middle of a change to the account: a real `reflex start` (child process) is
 * killed with SIGKILL right after the simulated cloud applied a chosen mutating call
 * (`REFLEX_CRASH_AT=cloud:after:<service>:<Operation>`), or right after an HTTP answer, and
 * started again on the same data dir. After the restart every run ends where the world is:
 * the lost run's report names what is still undone, and Reflex's own records are put right from
 * what the cloud says.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  call,
  dataDir,
  kill,
  savedCloud,
  startChild,
  stopChildren,
  until,
  waitUntilEnded,
} from "./support/child.ts";

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

describe("a crash mid-patch", () => {
  it("is reported per instance, and the next patch of the instances puts them back in their target group", async () => {
    const dir = dataDir();
    const doomed = await startChild(dir, CRASH_CONFIG, "cloud:after:elbv2:DeregisterTargets");
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
    // Killed by itself right after the first DeregisterTargets was applied and saved.
    expect((await doomed.exited).signal).toBe("SIGKILL");
    const out = web.filter((id) => !registeredInWeb(dir).includes(id));
    expect(out.length).toBeGreaterThan(0);

    const restarted = await startChild(dir, CRASH_CONFIG);
    const lost = (await call(restarted.url, "GET", `/api/executions/${started.body.executionId}`)).body;
    expect(lost).toMatchObject({ status: "ABORTED", error: "ExecutionLost" });
    const report = lost.attention.report as { instances: Array<{ instanceId: string; undone: string[] }> };
    for (const id of out) {
      const entry = report.instances.find((i) => i.instanceId === id);
      expect(entry, `the lost run's report names ${id}`).toBeDefined();
      expect(entry!.undone.join("; ")).toContain("out of target group(s) web");
    }

    const again = await call(restarted.url, "POST", "/api/runbooks/patch/executions", {
      params: { selector: { instanceIds: web }, maxConcurrency: "2", ...QUICK },
    });
    expect(again.status, JSON.stringify(again.body)).toBe(202);
    const second = await waitUntilEnded(restarted.url, again.body.executionId);

    expect(second.status, JSON.stringify(second.result)).toBe("SUCCEEDED");
    expect(registeredInWeb(dir)).toEqual(expect.arrayContaining(web));
    for (const t of second.result.targets)
      expect(t.targetGroups.map((g: string) => g.split("/")[1])).toContain("web");
  });
});
