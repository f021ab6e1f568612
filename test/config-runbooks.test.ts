/**
 * A team's own runbooks, from its config: refused at load with the runbook, the field and why;
 * a runbook file that throws when it loads is named; one added from a folder outside packages/
 * runs in local mode, and adding it changed nothing under packages/.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { ConfigError, type Issue, loadConfig, Runbooks, validateConfig } from "@reflex/core";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { restartService } from "../examples/runbooks/restart-service/index.ts";
import { ROOT } from "../stacks/support/synth.ts";
import { api, startTestLocal } from "./support/local.ts";
import { goesNowhere } from "./support/runbooks.ts";

mkdirSync(join(ROOT, ".tmp"), { recursive: true });
const dir = mkdtempSync(join(ROOT, ".tmp", "team-runbooks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The `reflex` CLI as a user runs it, from the repository root: its exit code and output. */
async function reflex(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = join(ROOT, "packages/local/bin/reflex.mjs");
  try {
    const out = await promisify(execFile)(process.execPath, [bin, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1" },
    });
    return { code: 0, ...out };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

function issuesOf(fn: () => unknown): Issue[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  return [];
}

describe("a config's own runbooks", () => {
  it("are refused at load with the runbook, the field and why, every problem listed", () => {
    const { dryRun: _d, ...noDryRun } = restartService;
    const issues = issuesOf(() =>
      validateConfig({
        runbooks: [
          { ...restartService, name: "scale" },
          { ...noDryRun, name: "no-dry-run", rollback: [] },
          {
            ...restartService,
            name: "bad-example",
            example: { unit: "nginx; rm -rf /", selector: { tag: {} } },
          },
          {
            ...restartService,
            name: "undeclared",
            permissions: restartService.permissions.filter((p) => !p.actions.includes("ssm:SendCommand")),
          },
          { ...restartService, name: "no-params", params: z.object({}).strict(), example: { unit: "x" } },
          { ...restartService, name: "odd-result", result: () => ({ summary: 1, targets: [{ id: "i-1" }] }) },
        ],
      }),
    );
    const at = (path: string) => issues.filter((i) => i.path === path).map((i) => i.message);

    expect(at("runbooks[0].name")).toEqual([
      "runbook 'scale': 'scale' is a built-in runbook's name: give yours another",
    ]);
    expect(at("runbooks[1].rollback")).toEqual(["runbook 'no-dry-run': it declares no rollback step"]);
    expect(at("runbooks[1].dryRun")).toEqual(["runbook 'no-dry-run': it does not say what its dry-run does"]);
    expect(at("runbooks[2].example")).toEqual([
      expect.stringMatching(/^runbook 'bad-example': does not validate.*unit/),
    ]);
    expect(at("runbooks[3].stateMachine.States.Restart")).toEqual([
      "runbook 'undeclared': calls ssm:SendCommand, which its permissions do not declare",
    ]);
    expect(at("runbooks[4].example")).toEqual([
      expect.stringMatching(/^runbook 'no-params': does not validate/),
    ]);
    expect(at("runbooks[5].result")).toEqual([
      expect.stringMatching(
        /^runbook 'odd-result': does not return the result shape .*summary: .*targets\.0\.kind/,
      ),
    ]);
  });

  it("names the runbook file that throws when the config loads it", async () => {
    writeFileSync(
      join(dir, "broken.ts"),
      'throw new Error("the team\'s runbook is broken");\nexport const broken = {};\n',
    );
    writeFileSync(
      join(dir, "broken.config.ts"),
      'import { broken } from "./broken.ts";\nexport default { runbooks: [broken] };\n',
    );

    await expect(loadConfig(join(dir, "broken.config.ts"))).rejects.toThrow(
      new RegExp(
        `${dir.slice(ROOT.length + 1)}/broken\\.ts threw while loading: the team's runbook is broken`,
      ),
    );
  });

  it("are refused by the CLI as they are at load: config check lists every problem, start names the file that throws", async () => {
    const example = relative(dir, join(ROOT, "examples/runbooks/restart-service/index.ts"));
    writeFileSync(
      join(dir, "refused.config.ts"),
      `import { restartService } from "${example}";
const { dryRun: _d, ...noDryRun } = restartService;
export default { runbooks: [
  { ...restartService, name: "scale" },
  { ...noDryRun, name: "no-dry-run", rollback: [] },
  { ...restartService, name: "undeclared", permissions: [] },
] };
`,
    );
    writeFileSync(
      join(dir, "throws.ts"),
      'throw new Error("no such unit list");\nexport const throws = {};\n',
    );
    writeFileSync(
      join(dir, "throws.config.ts"),
      'import { throws } from "./throws.ts";\nexport default { runbooks: [throws] };\n',
    );
    const here = dir.slice(ROOT.length + 1);

    const [check, start] = await Promise.all([
      reflex("config", "check", "--config", `${here}/refused.config.ts`),
      reflex("start", "--config", `${here}/throws.config.ts`, "--port", "0"),
    ]);

    expect(check.code).toBe(2);
    for (const line of [
      "runbooks[0].name: runbook 'scale': 'scale' is a built-in runbook's name",
      "runbooks[1].rollback: runbook 'no-dry-run': it declares no rollback step",
      "runbooks[1].dryRun: runbook 'no-dry-run': it does not say what its dry-run does",
      "runbooks[2].stateMachine.States.Restart: runbook 'undeclared': calls ssm:SendCommand, which its permissions do not declare",
    ])
      expect(check.stderr).toContain(line);
    expect(start.code).toBe(2);
    expect(start.stderr).toContain(`${here}/throws.ts threw while loading: no such unit list`);
  });

  it("run in local mode from a folder outside packages/, and adding one changes nothing under packages/", async () => {
    const before = execFileSync("git", ["status", "--porcelain", "packages/"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    mkdirSync(join(dir, "hello"), { recursive: true });
    writeFileSync(
      join(dir, "hello", "index.ts"),
      `import { defineRunbook, stepTask } from "@reflex/sdk";
import { z } from "zod";
export const hello = defineRunbook({
  name: "team-hello", summary: "Says hello to a name", risk: "low",
  params: z.object({ who: z.string() }).strict(), example: { who: "ops" },
  cap: { maxTargets: 1 }, permissions: [], rollback: ["undo"], dryRun: "Says what it would say.",
  stateMachine: { StartAt: "Greet", States: {
    Greet: stepTask("team-hello", "greet", { Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Undo" }], End: true }),
    Undo: stepTask("team-hello", "undo", { End: true }) } },
  config: { greeting: z.string().min(1) },
  implementation: () => import("./steps.ts").then((m) => m.implementation),
});
`,
    );
    writeFileSync(
      join(dir, "hello", "steps.ts"),
      `import type { Implementation, RunInput, StepContext } from "@reflex/sdk";
export const implementation: Implementation = { steps: {
  greet: async (input: RunInput<{ who: string }>, ctx: StepContext) => {
    await ctx.record({ summary: \`\${ctx.config.greeting}, \${input.params.who}\`, targets: [{ id: input.params.who, kind: "person", status: ctx.dryRun ? "not-started" : "succeeded" }] });
    return {};
  },
  undo: async () => ({}),
} };
`,
    );
    writeFileSync(
      join(dir, "hello.config.ts"),
      'import { hello } from "./hello/index.ts";\nexport default { runbooks: [hello], greeting: "hello" };\n',
    );

    const config = await loadConfig(join(dir, "hello.config.ts"));
    // The key the runbook adds to the config is checked by its schema, and reaches its steps.
    expect(config.runbookConfig).toEqual({ greeting: "hello" });
    expect(() => validateConfig({ runbooks: config.runbooks, greeting: "" })).toThrow(ConfigError);
    expect(issuesOf(() => validateConfig({ runbooks: config.runbooks, greeting: "" }))).toEqual([
      { path: "greeting", message: expect.stringMatching(/\(runbook 'team-hello'\)$/) },
    ]);
    const local = await startTestLocal({ runbooks: config.runbooks, greeting: "hello" });
    try {
      const listed = await api<{ runbooks: Array<{ name: string }> }>(local, "GET", "/api/runbooks");
      expect(listed.body.runbooks.map((r) => r.name)).toContain("team-hello");
      const started = await api<{ executionId: string }>(
        local,
        "POST",
        "/api/runbooks/team-hello/executions",
        {
          params: { who: "ops" },
        },
      );
      expect(started.status).toBe(202);
      await local.idle();
      const run = await api(local, "GET", `/api/executions/${started.body.executionId}`);
      expect(run.body.status).toBe("SUCCEEDED");
      expect(run.body.outcome).toEqual({
        summary: "hello, ops",
        targets: [{ id: "ops", kind: "person", status: "succeeded" }],
      });
    } finally {
      await local.stop();
      // Registered by the config's validation; left, the next file in the process would list it.
      Runbooks.unregister("team-hello");
    }
    expect(execFileSync("git", ["status", "--porcelain", "packages/"], { cwd: ROOT, encoding: "utf8" })).toBe(
      before,
    );
  });

  it("are refused by local mode when they need a service the simulated cloud does not provide", async () => {
    const kms = {
      ...restartService,
      name: "needs-kms",
      // Low, so a state machine with no approval states is no problem of its own here.
      risk: "low" as const,
      services: ["ec2", "kms"],
      rollback: ["Undo"],
      stateMachine: { StartAt: "Undo", States: { Undo: { Type: "Pass" as const, End: true as const } } },
    };
    try {
      await expect(startTestLocal({ runbooks: [kms] })).rejects.toThrow(
        /runbook 'needs-kms' needs kms, which the simulated cloud does not provide/,
      );
    } finally {
      // Registered by the config's validation; left, it would refuse every later start here.
      Runbooks.unregister(kms.name);
    }
  });

  it("are refused by local mode at start when their state machine is not valid ASL", async () => {
    try {
      await expect(startTestLocal({ runbooks: [goesNowhere] })).rejects.toThrow(
        /state machine reflex-local-goes-nowhere: .*Nowhere/s,
      );
    } finally {
      Runbooks.unregister(goesNowhere.name);
    }
  });
});
