/** restart-service's two steps (the restarts themselves are AWS SDK Tasks: no Lambda). */
import { EC2Client, type Instance, paginateDescribeInstances } from "@aws-sdk/client-ec2";
import { client, type Implementation, type RunInput, type StepContext, type TargetResult } from "@reflex/sdk";
import type { RestartParams } from "./index.ts";

interface Plan {
  instanceIds: string[];
}

/** The running instances the selector names that carry the automation tag; locks them; records the plan. */
async function plan(input: RunInput<RestartParams>, ctx: StepContext): Promise<Plan> {
  const filters = [
    ...Object.entries(input.params.selector.tag).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })),
    { Name: `tag:${ctx.automationTag.key}`, Values: [ctx.automationTag.value] },
    { Name: "instance-state-name", Values: ["running"] },
  ];
  // Every page: an instance on a later one would be left out of the restart.
  const found: Instance[] = [];
  for await (const page of paginateDescribeInstances(
    { client: client(EC2Client, "ec2") },
    { Filters: filters },
  ))
    found.push(...(page.Reservations ?? []).flatMap((r) => r.Instances ?? []));
  const names = new Map(
    found.map((i) => [i.InstanceId as string, i.Tags?.find((t) => t.Key === "Name")?.Value]),
  );
  const ids = [...names.keys()].sort();
  const { held, locked } = ctx.dryRun
    ? { held: ids, locked: [] }
    : await ctx.lockTargets(ids.map((id) => `instance:${id}`));
  const instanceIds = held.map((t) => t.replace(/^instance:/, ""));
  const targets: TargetResult[] = [
    ...instanceIds.map(
      (id): TargetResult => ({
        id,
        kind: "instance",
        name: names.get(id),
        status: "not-started",
        reason: `${ctx.dryRun ? "would restart" : "will restart"} ${input.params.unit}`,
      }),
    ),
    ...locked.map(
      (l): TargetResult => ({
        id: l.target.replace(/^instance:/, ""),
        kind: "instance",
        status: "skipped",
        reason: `locked by run ${l.holder ?? "(another run)"}`,
      }),
    ),
  ];
  await ctx.record({
    summary: `${ctx.dryRun ? "would restart" : "restarting"} ${input.params.unit} on ${instanceIds.length} instance(s), one at a time`,
    targets,
  });
  return { instanceIds };
}

/** Records each instance's outcome; counts the rolled back. */
async function report(
  input: RunInput<RestartParams> & {
    plan: Plan;
    restarts: Array<{ instanceId: string; status: string; reason?: string }>;
  },
  ctx: StepContext,
): Promise<{ rolledBack: number }> {
  const targets: TargetResult[] = input.restarts.map((r) => ({
    id: r.instanceId,
    kind: "instance",
    status: r.status === "succeeded" ? "succeeded" : "rolled-back",
    ...(r.reason ? { reason: `${r.reason}; the unit was started again` } : {}),
  }));
  const rolledBack = targets.filter((t) => t.status === "rolled-back").length;
  await ctx.record({
    summary: `${input.params.unit} restarted on ${targets.length - rolledBack} of ${targets.length} instance(s)${rolledBack ? `, ${rolledBack} rolled back` : ""}`,
    targets,
  });
  return { rolledBack };
}

export const implementation: Implementation = { steps: { plan, report } };
