/**
 * Invoking the step worker directly is no authority (issue 17 item 3, DESIGN principle 10: "a
 * Lambda payload is never, by itself, authority"). Every Task state calls the step worker with
 * `{ runbook, step, input }`, where `input` carries the run's id, its dry-run flag and its params,
 * all copied from the run's record at admission. A payload that names no admitted run, a run that
 * has ended, another runbook's run, or the run with other params or with its dry-run flag off,
 * makes no cloud call and writes nothing.
 */
import { Audit, Executions } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler as stepHandler } from "../packages/functions/src/step.ts";
import { lambdaContext } from "../packages/local/src/lambda.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, startTestLocal } from "./support/local.ts";

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal({ environment: "prod" }); // scale waits for a person in prod
});
afterAll(async () => local?.stop());

const web = () => local.cloud.autoScalingGroups().find((g) => g.AutoScalingGroupName === "web");

/** The plan a setCapacity step acts on: web from its current capacity to 9. */
function forgedPlan() {
  const desired = web()?.DesiredCapacity ?? 0;
  return {
    mode: "horizontal",
    region: "us-east-1",
    autoScalingGroup: "web",
    change: "+3",
    previous: { desired, min: 0, max: 20, inService: desired, live: desired },
    requested: 9,
    target: 9,
    delta: 9 - desired,
    limits: [],
    cap: 50,
  };
}

async function invoke(event: unknown): Promise<{ ok: boolean; error?: Error }> {
  try {
    await stepHandler(event as never, lambdaContext("reflex-test-step") as never);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error as Error };
  }
}

function event(
  id: string,
  opts: { runbook?: string; dryRun?: boolean; params?: unknown; startedAt?: string } = {},
) {
  return {
    runbook: opts.runbook ?? "scale",
    step: "setCapacity",
    input: {
      execution: {
        id,
        runbook: "scale",
        dryRun: opts.dryRun ?? false,
        startedAt: opts.startedAt ?? new Date().toISOString(),
      },
      params: opts.params ?? { autoScalingGroup: "web", change: "+1" },
      plan: forgedPlan(),
    },
  };
}

async function expectRefusedAndUnchanged(e: ReturnType<typeof event>, why: RegExp) {
  const before = web()?.DesiredCapacity;
  const mutating = local.cloud.mutatingCalls().length;
  const out = await invoke(e);
  expect(local.cloud.mutatingCalls().slice(mutating)).toEqual([]);
  expect(web()?.DesiredCapacity).toBe(before);
  expect(out.ok).toBe(false);
  expect(out.error?.name).toBe("ValidationError");
  expect(out.error?.message).toMatch(why);
}

describe("the step worker invoked directly", () => {
  it("refuses a step of a run that was never admitted, with no cloud call", async () => {
    await expectRefusedAndUnchanged(event("scale-forged-never-admitted"), /no run/);
    expect(await Executions.find("scale-forged-never-admitted")).toBeUndefined();
  });

  it("refuses a step for a run that has ended", async () => {
    const run = await api(local, "POST", "/api/runbooks/scale/executions", {
      params: { autoScalingGroup: "web", change: "+1" },
      dryRun: true,
    });
    expect(run.status).toBe(202);
    await local.idle();
    expect((await Executions.get(run.body.executionId)).status).toBe("SUCCEEDED");
    await expectRefusedAndUnchanged(event(run.body.executionId, { dryRun: true }), /has ended/);
  });

  describe("naming a run that waits for approval", () => {
    let id: string;
    let startedAt: string;
    beforeAll(async () => {
      const run = await api(local, "POST", "/api/runbooks/scale/executions", {
        params: { autoScalingGroup: "web", change: "+1" },
      });
      expect(run.status).toBe(202);
      id = run.body.executionId;
      for (let i = 0; i < 400 && (await Executions.get(id)).status !== "WAITING_FOR_APPROVAL"; i++)
        await new Promise((r) => setTimeout(r, 25));
      expect((await Executions.get(id)).status).toBe("WAITING_FOR_APPROVAL");
      startedAt = (await Executions.get(id)).startedAt;
    });
    afterAll(async () => {
      await api(local, "POST", `/api/executions/${id}/reject`, { reason: "test done" });
      await local.idle();
    });

    it("refuses it with params other than the run's", async () => {
      await expectRefusedAndUnchanged(
        event(id, { params: { autoScalingGroup: "web", change: "+8" }, startedAt }),
        /params/,
      );
    });

    it("refuses a step past the approval with the run's own params: the approval is not skipped", async () => {
      const run = await Executions.get(id);
      await expectRefusedAndUnchanged(event(id, { params: run.params, startedAt }), /approv/);
      expect((await Executions.get(id)).status).toBe("WAITING_FOR_APPROVAL");
      const audit = (await Audit.list({ execution: id, kind: "step.refused" })).entries;
      expect(audit.map((a) => a.reason)).toContainEqual(expect.stringMatching(/setCapacity refused/));
      startedAt = (await Executions.get(id)).startedAt;
    });
  });

  it("refuses a dry-run's step sent as a real one", async () => {
    const run = await api(local, "POST", "/api/runbooks/scale/executions", {
      params: { autoScalingGroup: "web", change: "+1" },
      dryRun: true,
    });
    expect(run.status).toBe(202);
    await local.idle();
    // Re-open it as if it still ran: the check must be on the flag, not only on the status.
    await Executions.create({
      id: `${run.body.executionId}-x`,
      runbook: "scale",
      dryRun: true,
      params: { autoScalingGroup: "web", change: "+1" },
      trigger: { kind: "manual", actor: "cli:alice" },
    });
    await expectRefusedAndUnchanged(event(`${run.body.executionId}-x`, { dryRun: false }), /dry-run/);
  });
});
