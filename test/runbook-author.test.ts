/** `reflex new runbook` and `reflex runbooks check`: a folder that passes its own checks and test; problems named with their field. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { callsOutsidePermissions, mutatingCalls, simulate, unfinishedTargets } from "@reflex/sdk/testing";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../packages/local/src/cli/main.ts";
import { ROOT } from "../stacks/support/synth.ts";

mkdirSync(join(ROOT, ".tmp"), { recursive: true });
const dir = mkdtempSync(join(ROOT, ".tmp", "author-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function reflex(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    colour: false,
    tty: false,
  });
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

describe("reflex new runbook", () => {
  it("writes a runbook that passes reflex runbooks check and its own test-kit checks", async () => {
    const made = await reflex(["new", "runbook", "queue-restart", "--dir", dir]);
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(
      /queue-restart\/index\.ts, .*steps\.ts, .*queue-restart\.test\.ts, .*README\.md/,
    );

    const checked = await reflex(["runbooks", "check", join(dir, "queue-restart", "index.ts")]);
    expect(checked).toMatchObject({ code: 0, stdout: "queue-restart: ok" });

    const { queueRestart } = await import(join(dir, "queue-restart", "index.ts"));
    const dry = await simulate(queueRestart, { params: queueRestart.example, dryRun: true });
    expect(dry.run.status).toBe("SUCCEEDED");
    expect(mutatingCalls(dry)).toEqual([]);
    const real = await simulate(queueRestart, { params: queueRestart.example });
    expect(real.outcome.targets.length).toBeGreaterThan(0);
    // Its plan reads every page: each instance the example's selector names, past the simulated
    // account's first page of DescribeInstances (5 without MaxResults).
    const tags = Object.entries(queueRestart.example.selector.tag as Record<string, string>);
    const named = real.cloud
      .instances()
      .filter((i) => tags.every(([k, v]) => i.Tags?.some((t) => t.Key === k && t.Value === v)));
    expect(named.length).toBeGreaterThan(5);
    expect(real.outcome.targets.map((t) => t.id).sort()).toEqual(named.map((i) => i.InstanceId).sort());
    expect(unfinishedTargets(real)).toEqual([]);
    expect(callsOutsidePermissions(real)).toEqual([]);
  });

  it("refuses a built-in's name and a folder that exists", async () => {
    expect((await reflex(["new", "runbook", "scale", "--dir", dir])).code).toBe(2);
    expect((await reflex(["new", "runbook", "queue-restart", "--dir", dir])).stderr).toMatch(
      /exists already/,
    );
  });
});

describe("reflex runbooks check", () => {
  it("names every problem with its field: an imported command not declared, no dry-run text", async () => {
    mkdirSync(join(dir, "loose"));
    writeFileSync(
      join(dir, "loose", "index.ts"),
      `import { StopInstancesCommand } from "@aws-sdk/client-ec2";
import { defineRunbook, stepTask } from "@reflex/sdk";
import { z } from "zod";
export const unused = StopInstancesCommand;
export const loose = defineRunbook({ name: "loose", summary: "x", risk: "low", params: z.object({}), example: {},
  cap: { maxTargets: 1 }, permissions: [], rollback: ["go"], dryRun: " ",
  stateMachine: { StartAt: "Go", States: { Go: stepTask("loose", "go", { End: true }) } },
  implementation: async () => ({ steps: { go: async () => ({}) } }) });
`,
    );

    const checked = await reflex(["runbooks", "check", join(dir, "loose", "index.ts")]);

    expect(checked.code).toBe(2);
    expect(checked.stderr).toBe(
      [
        "loose: 2 problem(s)",
        "  dryRun: it does not say what its dry-run does",
        "  permissions: index.ts imports the command for ec2:StopInstances, which it does not declare",
      ].join("\n"),
    );
  });

  it("checks the commands a runbook imports from the ECS, Application Auto Scaling and Lambda clients too", async () => {
    mkdirSync(join(dir, "containers"));
    writeFileSync(
      join(dir, "containers", "index.ts"),
      `import { RegisterScalableTargetCommand } from "@aws-sdk/client-application-auto-scaling";
import { UpdateServiceCommand } from "@aws-sdk/client-ecs";
import { PutProvisionedConcurrencyConfigCommand } from "@aws-sdk/client-lambda";
import { defineRunbook, stepTask } from "@reflex/sdk";
import { z } from "zod";
export const used = [RegisterScalableTargetCommand, UpdateServiceCommand, PutProvisionedConcurrencyConfigCommand];
export const containers = defineRunbook({ name: "containers", summary: "x", risk: "low", params: z.object({}), example: {},
  cap: { maxTargets: 1 }, rollback: ["go"], dryRun: "plans only",
  permissions: [{ actions: ["ecs:UpdateService"], mutating: true, resources: ["arn:\${Partition}:ecs:*:\${Account}:service/*/*"] }],
  stateMachine: { StartAt: "Go", States: { Go: stepTask("containers", "go", { End: true }) } },
  implementation: async () => ({ steps: { go: async () => ({}) } }) });
`,
    );

    const checked = await reflex(["runbooks", "check", join(dir, "containers", "index.ts")]);

    expect(checked.code).toBe(2);
    expect(checked.stderr.split("\n").slice(1).sort()).toEqual([
      "  permissions: index.ts imports the command for application-autoscaling:RegisterScalableTarget, which it does not declare",
      "  permissions: index.ts imports the command for lambda:PutProvisionedConcurrencyConfig, which it does not declare",
    ]);
  });
});
