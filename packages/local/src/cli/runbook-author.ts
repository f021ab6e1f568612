/**
 * The runbook author's commands: `reflex new runbook <name>` writes a folder to start from
 * (manifest, steps, rollback, dry-run text, permissions, a test-kit test, a doc page), and
 * `reflex runbooks check <file>` lints the runbooks a module exports — the manifest checks
 * Reflex applies at load, and every AWS SDK command the runbook's files import is covered by
 * its declared permissions.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Runbooks } from "@reflex/core";
import type { Io } from "./io.ts";
import { UsageError } from "./io.ts";

/** IAM's service prefix of each SDK v3 client package (the step files' imports). */
const CLIENT_SERVICE: Record<string, string> = {
  "client-ec2": "ec2",
  "client-auto-scaling": "autoscaling",
  "client-s3": "s3",
  "client-ssm": "ssm",
  "client-route-53": "route53",
  "client-cloudwatch": "cloudwatch",
  "client-elastic-load-balancing-v2": "elasticloadbalancing",
  "client-kms": "kms",
  "client-rds": "rds",
  "client-lambda": "lambda",
  "client-ecs": "ecs",
  "client-application-auto-scaling": "application-autoscaling",
};

/** The IAM actions the SDK commands (and paginators) imported by the `.ts` files of `dir` need, with the file that imports each. */
export function importedSdkActions(dir: string): Map<string, string> {
  const needed = new Map<string, string>();
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".ts") || f.endsWith(".test.ts")) continue;
    const text = readFileSync(join(dir, f), "utf8");
    for (const [, names, pkg] of text.matchAll(
      /import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"@aws-sdk\/([a-z0-9-]+)"/g,
    )) {
      const service = CLIENT_SERVICE[pkg];
      if (!service) continue;
      for (const raw of names.split(",")) {
        const name = raw.trim().replace(/^type\s+/, "");
        const op = name.match(/^(\w+)Command$/)?.[1] ?? name.match(/^paginate(\w+)$/)?.[1];
        if (op) needed.set(`${service}:${op}`, f);
      }
    }
  }
  return needed;
}

/** `reflex runbooks check <file>`: every problem of every runbook the module exports. Exit 0 clean, 2 with problems. */
export async function cmdRunbooksCheck(io: Io, file: string, values: { json?: boolean }): Promise<number> {
  const full = resolve(file);
  if (!existsSync(full)) throw new UsageError(`no such file '${file}'`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(full).href)) as Record<string, unknown>;
  } catch (e) {
    io.err(`${file} could not be loaded: ${(e as Error).message}`);
    return 2;
  }
  const manifests = Object.values(mod).filter(
    (v): v is Runbooks.RunbookSpec<never> =>
      Boolean(v) && typeof v === "object" && "stateMachine" in (v as object) && "name" in (v as object),
  );
  if (manifests.length === 0) throw new UsageError(`${file} exports no runbook (defineRunbook)`);
  const report = manifests.map((m) => {
    const problems = Runbooks.checkSpec(m).problems;
    if (Runbooks.isBuiltIn(m.name) && Runbooks.get(m.name) !== (m as unknown))
      problems.push({ path: "name", message: `'${m.name}' is a built-in runbook's name` });
    const declared = new Set((m.permissions ?? []).flatMap((p) => p.actions));
    for (const [action, by] of importedSdkActions(dirname(full)))
      if (!declared.has(action))
        problems.push({
          path: "permissions",
          message: `${by} imports the command for ${action}, which it does not declare`,
        });
    return { runbook: m.name, problems };
  });
  const count = report.reduce((n, r) => n + r.problems.length, 0);
  if (values.json) io.out(JSON.stringify({ ok: count === 0, file, runbooks: report }));
  else
    for (const r of report) {
      if (r.problems.length === 0) io.out(`${r.runbook}: ok`);
      else {
        io.err(`${r.runbook}: ${r.problems.length} problem(s)`);
        for (const p of r.problems) io.err(`  ${p.path}: ${p.message}`);
      }
    }
  return count === 0 ? 0 : 2;
}

const camel = (name: string) => name.replace(/-([a-z0-9])/g, (_w, c: string) => c.toUpperCase());

/** `reflex new runbook <name> --dir <dir>`: a folder with a runbook that passes `reflex runbooks check` and its own test. */
export async function cmdNewRunbook(
  io: Io,
  name: string,
  values: { dir: string; json?: boolean },
): Promise<number> {
  if (!/^[a-z][a-z0-9-]{1,40}$/.test(name))
    throw new UsageError(`'${name}' is not a runbook name: kebab-case, 2 to 41 characters`);
  if (Runbooks.isBuiltIn(name)) throw new UsageError(`'${name}' is a built-in runbook's name: pick another`);
  const dir = resolve(values.dir, name);
  if (existsSync(dir)) throw new UsageError(`${relative(process.cwd(), dir)} exists already`);
  mkdirSync(dir, { recursive: true });
  const id = camel(name);
  const files: Record<string, string> = {
    "index.ts": `/**
 * ${name}: TODO say what it does, to what, and how it undoes it. See docs/runbooks/writing.md.
 */
import { approvalStates, defineRunbook, RETRY_ROLLBACK, RETRY_STEP, stepTask } from "@reflex/sdk";
import { z } from "zod";

const R = "${name}";

export const params = z
  .object({ selector: z.object({ tag: z.record(z.string(), z.string()) }).strict() })
  .strict();
export type Params = z.output<typeof params>;

export const ${id} = defineRunbook({
  name: R,
  summary: "TODO: one line",
  risk: "medium",
  params,
  example: { selector: { tag: { Role: "web" } } },
  cap: { maxTargets: 10 },
  services: ["ec2"],
  // Every AWS call its steps make, and no other (reflex runbooks check compares them).
  permissions: [{ actions: ["ec2:DescribeInstances"], mutating: false }],
  rollback: ["undo"],
  dryRun: "Selects the instances and reports what it would do to each; no mutating call.",
  stateMachine: {
    StartAt: "Plan",
    States: {
      Plan: stepTask(R, "plan", { ResultPath: "$.plan", Retry: RETRY_STEP, Next: "IsDryRun" }),
      IsDryRun: {
        Type: "Choice",
        Choices: [{ Variable: "$.execution.dryRun", BooleanEquals: true, Next: "Planned" }],
        Default: "ApprovalNeeded",
      },
      Planned: { Type: "Succeed" },
      // A person approves the plan when the policy asks (medium risk: in prod): nothing before
      // this may change anything, and the step runner refuses every later step until approved.
      ...approvalStates(R, "Apply"),
      Apply: stepTask(R, "apply", {
        ResultPath: "$.applied",
        Retry: RETRY_STEP,
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Undo" }],
        Next: "Done",
      }),
      Done: { Type: "Succeed" },
      Undo: stepTask(R, "undo", { ResultPath: "$.undone", Retry: RETRY_ROLLBACK, Next: "Failed" }),
      Failed: { Type: "Fail", ErrorPath: "$.failure.Error", CausePath: "$.failure.Cause" },
    },
  },
  implementation: () => import("./steps.ts").then((m) => m.implementation),
});
`,
    "steps.ts": `/** ${name}'s steps: one async function per step its state machine calls. */
import { EC2Client, paginateDescribeInstances } from "@aws-sdk/client-ec2";
import { client, type Implementation, type RunInput, type StepContext } from "@reflex/sdk";
import type { Params } from "./index.ts";

type Input = RunInput<Params> & { plan?: { instanceIds: string[] } };

async function plan(input: Input, ctx: StepContext) {
  const filters = Object.entries(input.params.selector.tag).map(([k, v]) => ({ Name: \`tag:\${k}\`, Values: [v] }));
  // Every page: an instance on a later one would never be acted on.
  const instanceIds: string[] = [];
  for await (const page of paginateDescribeInstances({ client: client(EC2Client, "ec2") }, { Filters: filters }))
    instanceIds.push(...(page.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId as string));
  await ctx.record({
    summary: \`\${ctx.dryRun ? "would act on" : "acting on"} \${instanceIds.length} instance(s)\`,
    targets: instanceIds.map((id) => ({ id, kind: "instance", status: "not-started" })),
  });
  return { instanceIds };
}

async function apply(input: Input, ctx: StepContext) {
  // TODO: the change, safe to repeat (read the current state first).
  const ids = input.plan?.instanceIds ?? [];
  await ctx.record({ summary: \`done on \${ids.length} instance(s)\`, targets: ids.map((id) => ({ id, kind: "instance", status: "succeeded" })) });
  return { changed: ids };
}

async function undo(input: Input, ctx: StepContext) {
  // TODO: put back what apply changed.
  const ids = input.plan?.instanceIds ?? [];
  await ctx.record({ targets: ids.map((id) => ({ id, kind: "instance", status: "rolled-back" })) });
  return { undone: ids };
}

export const implementation: Implementation = { steps: { plan, apply, undo } };
`,
    [`${name}.test.ts`]: `import { callsOutsidePermissions, mutatingCalls, simulate, unfinishedTargets } from "@reflex/sdk/testing";
import { describe, expect, it } from "vitest";
import { ${id} } from "./index.ts";

describe("${name}", () => {
  it("changes nothing in a dry-run", async () => {
    const s = await simulate(${id}, { params: ${id}.example, dryRun: true });
    expect(s.run.status).toBe("SUCCEEDED");
    expect(mutatingCalls(s)).toEqual([]);
  });

  it("ends every target succeeded or rolled back, calling only what it declares", async () => {
    const s = await simulate(${id}, { params: ${id}.example });
    expect(unfinishedTargets(s)).toEqual([]);
    expect(callsOutsidePermissions(s)).toEqual([]);
  });
});
`,
    "README.md": `# ${name}

TODO: what it does, to what, and how it undoes it.

| param | meaning |
| ----- | ------- |
| \`selector.tag\` | the instances: those carrying every one of these tags |

- **Dry-run**: selects the instances and reports what it would do to each; no mutating call.
- **Rollback**: \`undo\` puts back what \`apply\` changed.
- **Permissions**: \`ec2:DescribeInstances\`.

\`\`\`sh
npx reflex runbooks check ${relative(process.cwd(), join(dir, "index.ts"))}
npx reflex run ${name} --param selector.tag.Role=web --dry-run --wait
\`\`\`
`,
  };
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const written = Object.keys(files).map((f) => relative(process.cwd(), join(dir, f)));
  if (values.json) io.out(JSON.stringify({ runbook: name, files: written }));
  else {
    io.out(`wrote ${written.join(", ")}`);
    io.out(
      `list it in your reflex.config.ts: import { ${id} } from "./${relative(process.cwd(), join(dir, "index.ts"))}"; … runbooks: [${id}]`,
    );
  }
  return 0;
}
