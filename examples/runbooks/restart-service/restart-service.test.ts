/** restart-service through the test kit: the local engine, a seeded simulated account. */

import { manageWithSsm } from "@reflex/local/cloud/patching-helpers";
import { callsOutsidePermissions, mutatingCalls, simulate, unfinishedTargets } from "@reflex/sdk/testing";
import { describe, expect, it } from "vitest";
import { restartService } from "./index.ts";

const params = { unit: "nginx", selector: { tag: { Role: "web" } } };

describe("restart-service", () => {
  it("plans in a dry-run and sends no command", async () => {
    const s = await simulate(restartService, { params, dryRun: true });

    expect(s.run.status).toBe("SUCCEEDED");
    expect(mutatingCalls(s)).toEqual([]);
    expect(s.outcome.targets.length).toBeGreaterThan(0);
    expect(
      s.outcome.targets.every((t) => t.status === "not-started" && t.reason === "would restart nginx"),
    ).toBe(true);
  });

  it("restarts the unit on every selected instance, one at a time, health-checked", async () => {
    const s = await simulate(restartService, { params });

    expect(s.run.status).toBe("SUCCEEDED");
    expect(unfinishedTargets(s)).toEqual([]);
    expect(callsOutsidePermissions(s)).toEqual([]);
    const sent = s.calls.filter((c) => c.operation === "SendCommand");
    const commands = sent.map(
      (c) => (c.input as { Parameters: { commands: string[] } }).Parameters.commands[0],
    );
    // Restart then health check, instance by instance (never two restarts before a check).
    expect(commands).toEqual(
      s.outcome.targets.flatMap(() => ["systemctl restart nginx", "systemctl is-active --quiet nginx"]),
    );
    expect(s.outcome.summary).toMatch(/nginx restarted on (\d+) of \1 instance/);
  });

  it("starts the unit again where a restart fails, goes on with the others, and fails the run", async () => {
    // The first restart is refused by SSM; the instance is rolled back, the others go on.
    const s = await simulate(restartService, {
      params,
      faults: [
        { service: "ssm", operation: "SendCommand", kind: "error", code: "InvalidInstanceId", times: 1 },
      ],
    });

    expect(s.run.status).toBe("FAILED");
    expect(s.run.error).toBe("RestartFailed");
    expect(unfinishedTargets(s)).toEqual([]);
    const rolledBack = s.outcome.targets.filter((t) => t.status === "rolled-back");
    expect(rolledBack).toHaveLength(1);
    expect(rolledBack[0].reason).toMatch(/^Ssm\.InvalidInstanceId: .*; the unit was started again$/);
    const commands = s.calls
      .filter((c) => c.operation === "SendCommand")
      .map((c) => (c.input as { Parameters: { commands: string[] } }).Parameters.commands[0]);
    expect(commands).toContain("systemctl start nginx");
  });

  it("restarts every selected instance past DescribeInstances' first page (the simulated account pages at 5)", async () => {
    // Six web instances in the seed, four more: ten running, tagged and managed.
    const s = await simulate(restartService, {
      params,
      setup: (cloud) => {
        const added = [7, 8, 9, 10].map(
          (n) =>
            cloud.addInstance({ name: `web-${n}`, tags: { Role: "web", "reflex:managed": "true" } })
              .InstanceId as string,
        );
        manageWithSsm(cloud, added);
      },
    });

    const selected = s.cloud
      .instances()
      .filter(
        (i) =>
          i.State?.Name === "running" &&
          i.Tags?.some((t) => t.Key === "Role" && t.Value === "web") &&
          i.Tags?.some((t) => t.Key === "reflex:managed" && t.Value === "true"),
      )
      .map((i) => i.InstanceId)
      .sort();
    expect(selected.length).toBeGreaterThan(5);
    expect(s.run.status, `${s.run.error}: ${s.run.cause}`).toBe("SUCCEEDED");
    expect(s.outcome.targets.map((t) => t.id).sort()).toEqual(selected);
  });
});
