/**
 * The one result shape every runbook reports (Cloud Custodian's per-resource outcome, with
 * Reflex's statuses): a summary, one entry per target with its status, and artifacts (a
 * manifest, a report). The CLI, the console and Slack render this shape and nothing else, so
 * they never need to know a runbook: a runbook says what happened to each target in it.
 *
 * A runbook's steps record what they like on the run (`Executions.setResult`); its manifest's
 * `result` turns that record into this shape. A runbook whose record already is this shape
 * needs no `result` of its own.
 */
import { z } from "zod";

export const TARGET_STATUSES = ["succeeded", "failed", "skipped", "not-started", "rolled-back"] as const;
export type TargetStatus = (typeof TARGET_STATUSES)[number];

const artifact = z.object({
  /** What it is, in a word or two: `snapshot`, `manifest`, `report`. */
  kind: z.string().min(1),
  /** Its id or location: a snapshot id, an `s3://` URL. */
  id: z.string().min(1),
  /** More about it, one line. */
  note: z.string().optional(),
});

export const targetResultSchema = z.object({
  /** The target's id: an instance id, a group name, a pair name. */
  id: z.string().min(1),
  /** What kind of thing it is: `instance`, `asg`, `pair`, `volume`. */
  kind: z.string().min(1),
  /** Its human name (the Name tag), when it has one. */
  name: z.string().optional(),
  status: z.enum(TARGET_STATUSES),
  /** Why it ended so, one sentence (a skip's reason, a failure's error). */
  reason: z.string().optional(),
  /** Facts about the outcome, as `label: value` lines (`capacity: 2 → 4`). */
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  artifacts: z.array(artifact).optional(),
});

export const runResultSchema = z.object({
  summary: z.string(),
  targets: z.array(targetResultSchema),
  artifacts: z.array(artifact).optional(),
});

export type Artifact = z.infer<typeof artifact>;
export type TargetResult = z.infer<typeof targetResultSchema>;
export type RunResult = z.infer<typeof runResultSchema>;

/** What a runbook's `result` is given besides its record: how the run went. */
export interface RunSummary {
  dryRun: boolean;
  /** The run's status: RUNNING, SUCCEEDED, FAILED, ABORTED, … */
  status: string;
  error?: string | null;
  cause?: string | null;
}

/** Turns what a runbook's steps recorded into the one result shape. Pure: no cloud call. */
export type ResultOf = (record: Record<string, unknown>, run: RunSummary) => RunResult;

/** The default: the record is the result already (its `summary`, `targets`, `artifacts`). */
export const recordIsResult: ResultOf = (record) => ({
  summary: typeof record.summary === "string" ? record.summary : "",
  targets: Array.isArray(record.targets) ? (record.targets as TargetResult[]) : [],
  ...(Array.isArray(record.artifacts) ? { artifacts: record.artifacts as Artifact[] } : {}),
});

/**
 * A run's result in the one shape, checked. A runbook whose `result` throws or returns
 * something else yields a result that says so (the run's record is still there, raw).
 */
export function resultOf(
  runbook: { name: string; result?: ResultOf },
  record: Record<string, unknown> | undefined,
  run: RunSummary,
): RunResult {
  try {
    const out = runResultSchema.safeParse((runbook.result ?? recordIsResult)(record ?? {}, run));
    if (out.success) return out.data;
    const first = out.error.issues[0];
    return {
      summary: `runbook ${runbook.name} reported a result that does not match the result shape (${first.path.join(".") || "(root)"}: ${first.message})`,
      targets: [],
    };
  } catch (err) {
    return {
      summary: `runbook ${runbook.name} could not report its result: ${(err as Error).message}`,
      targets: [],
    };
  }
}

/** Counts of targets by status, for a summary line: `3 succeeded, 1 skipped`. */
export function countByStatus(targets: Array<Pick<TargetResult, "status">>): string {
  const counts = new Map<string, number>();
  for (const t of targets) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  return TARGET_STATUSES.filter((s) => counts.has(s))
    .map((s) => `${counts.get(s)} ${s}`)
    .join(", ");
}
