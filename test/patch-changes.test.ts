/**
 * What a patch changes on an instance is undone from what was recorded before the change, not
 * from what a step managed to return: through the real ASL on the local engine and the
 * simulated cloud, a DeregisterTargets that fails for good part-way leaves no group behind.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import {
  addTargetGroup,
  seedPatchFleet,
  setPatchingSettings,
  targetGroupMembers,
} from "../packages/local/src/cloud/patching-helpers.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { runAndWait, startTestLocal } from "./support/local.ts";

let local: LocalMode;
let cloud: SimulatedCloud;
let instance: string;
let second: string;
const QUICK = { pollSeconds: 1, healthTimeoutSeconds: 5, drainTimeoutSeconds: 5, commandTimeoutSeconds: 5 };

beforeAll(async () => {
  cloud = SimulatedCloud.seeded({ snapshotDurationMs: 30 });
  setPatchingSettings(cloud, {
    commandDurationMs: 60,
    rebootMs: 40,
    healthCheckMs: 20,
    deregistrationDelayMs: 30,
    replaceRootVolumeMs: 40,
  });
  [instance] = seedPatchFleet(cloud, { count: 1, patchGroup: "two-groups", targetGroups: false });
  addTargetGroup(cloud, { name: "tg-front", instanceIds: [instance], deregistrationDelayMs: 30 });
  second = addTargetGroup(cloud, { name: "tg-back", instanceIds: [instance], deregistrationDelayMs: 30 });
  local = await startTestLocal({}, { cloud });
});
afterAll(async () => local?.stop());

const registered = (group: string, id: string) =>
  targetGroupMembers(cloud, group).some((m) => m.id === id && m.deregisteredAt === undefined);

describe("a DeregisterTargets that fails part-way", () => {
  it("leaves the instance in every target group, and the report does not call it untouched", async () => {
    // Out of tg-front, then tg-back refuses for good: prepareTarget fails with no output.
    const fault = cloud.injectFault({
      service: "elbv2",
      operation: "DeregisterTargets",
      kind: "error",
      code: "AccessDenied",
      httpStatusCode: 403,
      match: (input) => input.TargetGroupArn === second,
    });

    const run = await runAndWait(local, "patch", { selector: { instanceIds: [instance] }, ...QUICK });
    cloud.removeFault(fault);

    expect(run.status).toBe("FAILED");
    const [target] = run.result.targets;
    expect(target).toMatchObject({ instanceId: instance, status: "failed" });
    expect(target.reason).toContain("AccessDenied");
    expect(target.reason).not.toContain("nothing on the instance changed");
    expect(target.targetGroups.map((g: string) => g.split("/")[1]).sort()).toEqual(["tg-back", "tg-front"]);
    expect(registered("tg-front", instance)).toBe(true);
    expect(registered("tg-back", instance)).toBe(true);
  });

  it("is not left for the next run: it patches the instance and reports both groups", async () => {
    const run = await runAndWait(local, "patch", { selector: { instanceIds: [instance] }, ...QUICK });

    expect(run.status).toBe("SUCCEEDED");
    expect(run.result.targets[0].targetGroups.map((g: string) => g.split("/")[1]).sort()).toEqual([
      "tg-back",
      "tg-front",
    ]);
    expect(registered("tg-front", instance)).toBe(true);
    expect(registered("tg-back", instance)).toBe(true);
  });
});
