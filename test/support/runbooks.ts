/**
 * Runbooks made for tests (and benches): from an example's, or doing nothing.
 */
import { Runbooks, stepTask } from "@reflex/core";
import { z } from "zod";
import { restartService } from "../../examples/runbooks/restart-service/index.ts";

/**
 * `goes-nowhere`: restart-service whose state machine is not valid ASL (its one state's `Next`
 * names a state that does not exist), which local mode refuses at start.
 */
export const goesNowhere = {
  ...restartService,
  name: "goes-nowhere",
  risk: "low" as const,
  rollback: ["Undo"],
  stateMachine: { StartAt: "Undo", States: { Undo: { Type: "Pass" as const, Next: "Nowhere" } } },
};

/**
 * A runbook that does nothing: one Task (`record`), whose failure goes to `undo` and then fails
 * (`NoopFailed`); no permissions, one target. The gate's storm runs it (bench/alarm-storm.ts
 * `bench-noop`, with its params and a lock per transition); execution-status registers one late.
 */
export function noopRunbook<S extends z.ZodType = z.ZodObject<Record<string, never>>>(spec: {
  name: string;
  summary: string;
  params?: S;
  example?: z.input<S>;
  locks?: (params: z.infer<S>) => string[];
}) {
  const { name } = spec;
  return Runbooks.defineRunbook<S>({
    params: z.object({}).strict() as unknown as S,
    example: {} as z.input<S>,
    ...spec,
    risk: "low",
    cap: { maxTargets: 1 },
    permissions: [],
    rollback: ["undo"],
    dryRun: "Does nothing.",
    stateMachine: {
      StartAt: "Record",
      States: {
        Record: stepTask(name, "record", {
          Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Undo" }],
          End: true,
        }),
        Undo: stepTask(name, "undo", { Next: "Failed" }),
        Failed: { Type: "Fail", Error: "NoopFailed" },
      },
    },
    implementation: async () => ({ steps: { record: async () => ({ ok: true }), undo: async () => ({}) } }),
  });
}
