/**
 * A stored run whose Map has `count` iterations, made from a real run's records: the run's own
 * step records are copied, and its Map's per-target records repeated for `count` targets
 * (written through core, as the step workers write them). For the console's tests and bench.
 */
import { Executions } from "@reflex/core";

interface Step {
  state: string;
  step: string;
  status: "SUCCEEDED" | "FAILED";
  target?: string | null;
  startedAt: string;
  endedAt?: string;
  output?: unknown;
}

/** Stores run `id` as a copy of `from` (a run as `GET /api/executions/:id` answers) with `count` Map iterations. */
export async function storeMapRun(
  from: { runbook: string; params: Record<string, unknown>; steps: Step[]; result?: Record<string, unknown> },
  id: string,
  count: number,
): Promise<void> {
  const started = new Date(Date.now() - 3_600_000);
  await Executions.create(
    {
      id,
      runbook: from.runbook,
      dryRun: false,
      params: from.params,
      trigger: { kind: "manual", actor: "bench" },
    },
    started,
  );
  const perTarget = from.steps.filter((s) => s.target);
  const once = from.steps.filter((s) => !s.target);
  const write = async (s: Step, target: string | undefined, at: Date) =>
    Executions.endStep(
      id,
      Executions.stepKey({ state: s.state, target }, at),
      { state: s.state, step: s.step, target },
      { status: s.status, output: s.output, startedAt: at },
      new Date(at.getTime() + 40),
    );
  const at = (n: number) => new Date(started.getTime() + n * 5);
  let n = 0;
  for (const s of once) await write(s, undefined, at(n++));
  const kinds = [...new Map(perTarget.map((s) => [s.state, s])).values()];
  // Written 25 at a time: a store of 1,000 iterations in a few seconds.
  const writes = [];
  for (let i = 0; i < count; i++)
    for (const s of kinds) writes.push([s, `i-${String(i).padStart(17, "0")}`, at(n++)] as const);
  for (let i = 0; i < writes.length; i += 25)
    await Promise.all(writes.slice(i, i + 25).map(([s, target, when]) => write(s, target, when)));
  if (from.result) await Executions.setResult(id, from.result);
  await Executions.complete(id, { status: "SUCCEEDED" }, at(n + 200));
}
