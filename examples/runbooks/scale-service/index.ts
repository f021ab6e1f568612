/**
 * scale-service: scale containers and functions — an ECS service's desired count, any
 * Application Auto Scaling scalable target's min/max (ECS, DynamoDB, Aurora replicas, Lambda),
 * a Lambda alias's provisioned concurrency. Plan (bounds from the target's own min/max, clamps
 * reported, bad input refused), set, wait until the cloud says it is done (the ECS rollout
 * COMPLETED with running = desired; the Lambda config READY), and put the old value back if
 * anything fails after the plan.
 *
 * Written only against @reflex/sdk, outside Reflex's packages, like restart-service; listed in a
 * config with `runbooks: [scaleService]`. See docs/runbooks/scale-service.md.
 */
import {
  approvalStates,
  catchAll,
  defineRunbook,
  dryRunChoice,
  failWith,
  pollLoop,
  stepBuilders,
} from "@reflex/sdk";
import { z } from "zod";

const R = "scale-service";
const { step, rollbackStep } = stepBuilders(R);

const name = z.string().regex(/^[A-Za-z0-9_.:/-]{1,255}$/, "must be a resource name");

const ecsService = z.object({ kind: z.literal("ecs-service"), cluster: name, service: name }).strict();
const lambdaAlias = z
  .object({
    kind: z.literal("lambda-alias"),
    function: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be a function name"),
    alias: z.string().regex(/^(?!^[0-9]+$)[A-Za-z0-9_-]{1,128}$/, "must be an alias name"),
  })
  .strict();
export const NAMESPACES = ["ecs", "dynamodb", "rds", "lambda"] as const;
const scalableTarget = z
  .object({
    kind: z.literal("scalable-target"),
    namespace: z.enum(NAMESPACES),
    /** As Application Auto Scaling names it: `service/prod/api`, `table/orders`, `cluster:reports`, `function:checkout:live`. */
    resourceId: z.string().min(1).max(1600),
    /** `ecs:service:DesiredCount`, `dynamodb:table:ReadCapacityUnits`, `rds:cluster:ReadReplicaCount`, … */
    dimension: z.string().regex(/^[a-z]+:[a-z-]+:[A-Za-z]+$/, "must be a scalable dimension"),
  })
  .strict();

export const params = z
  .object({
    target: z.discriminatedUnion("kind", [ecsService, lambdaAlias, scalableTarget]),
    /** ECS service and Lambda alias: `+N`, `-N` or `=N` tasks / provisioned executions. */
    change: z
      .string()
      .regex(/^[+=-]\d{1,5}$/, "must be +N, -N or =N")
      .refine((c) => !/^[+-]0+$/.test(c), "+0 and -0 change nothing")
      .optional(),
    /** Scalable target: its new bounds (one or both). */
    min: z.number().int().min(0).optional(),
    max: z.number().int().min(0).optional(),
    /** The most one run adds or removes (tasks, executions); a larger change is clamped to it. */
    maxStep: z.number().int().min(1).max(1000).default(10),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be a region")
      .optional(),
    /** Give up waiting (and roll back) after this long: `30s`, `10m`, at most `1h`. */
    timeout: z
      .string()
      .regex(/^(\d+h)?(\d+m)?(\d+s)?$/, "must be a duration like 30s, 10m, 1h")
      .refine((d) => d !== "" && seconds(d) >= 10 && seconds(d) <= 3600, "must be 10s to 1h")
      .default("10m"),
  })
  .strict()
  .superRefine((p, ctx) => {
    const bounds = p.target.kind === "scalable-target";
    if (bounds && p.change !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["change"],
        message: "a scalable target takes min and/or max, not change",
      });
    if (bounds && p.min === undefined && p.max === undefined)
      ctx.addIssue({ code: "custom", path: ["min"], message: "give min, max or both" });
    if (bounds && p.min !== undefined && p.max !== undefined && p.min > p.max)
      ctx.addIssue({ code: "custom", path: ["min"], message: `min ${p.min} is above max ${p.max}` });
    if (!bounds && p.change === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["change"],
        message: `a ${p.target.kind} needs change (+N, -N or =N)`,
      });
    if (!bounds && (p.min !== undefined || p.max !== undefined))
      ctx.addIssue({
        code: "custom",
        path: [p.min !== undefined ? "min" : "max"],
        message: `a ${p.target.kind} takes change; its bounds are its own`,
      });
  });
export type ScaleServiceParams = z.output<typeof params>;
export type Target = ScaleServiceParams["target"];

/** `1h30m` → 5400. */
export function seconds(d: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d);
  return m ? Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) : Number.NaN;
}

/**
 * The lock a target takes: one per resource, however it is named — an ECS service scaled as
 * such and through its scalable target meet at `ecs:<cluster>/<service>`, a Lambda alias at
 * `lambda:<function>:<alias>`. No Region in the key: `region` is optional (Reflex's Region, or the
 * location's, when absent), so a key with it would give one service two locks, named with its
 * Region and without. One lock across Regions is wider than the resource, never narrower; a run
 * in a member account's location is keyed by its account and Region besides (Runs.start).
 */
export function lockOf(t: Target): string {
  if (t.kind === "ecs-service") return `ecs:${t.cluster}/${t.service}`;
  if (t.kind === "lambda-alias") return `lambda:${t.function}:${t.alias}`;
  const ecs = /^service\/([^/]+)\/([^/]+)$/.exec(t.resourceId);
  if (t.namespace === "ecs" && ecs) return `ecs:${ecs[1]}/${ecs[2]}`;
  const fn = /^function:([^:]+):(.+)$/.exec(t.resourceId);
  if (t.namespace === "lambda" && fn) return `lambda:${fn[1]}:${fn[2]}`;
  return `scalable-target:${t.namespace}/${t.resourceId}/${t.dimension}`;
}

const SERVICE_ARN = "arn:${Partition}:ecs:*:${Account}:service/*/*";
const FUNCTION_ARN = "arn:${Partition}:lambda:*:${Account}:function:*:*"; // an alias or a version: provisioned concurrency needs a qualifier
const TARGET_ARN = "arn:${Partition}:application-autoscaling:*:${Account}:scalable-target/*";

export const scaleService = defineRunbook({
  name: R,
  summary:
    "Scale an ECS service, an Application Auto Scaling target or a Lambda alias's provisioned concurrency, within its own bounds, waited on and rolled back",
  risk: "medium",
  params,
  example: { target: { kind: "ecs-service", cluster: "prod", service: "api" }, change: "+2" },
  // Tasks or provisioned executions one run adds or removes (maxStep is lowered to it).
  cap: { maxTargets: 50 },
  services: ["ecs", "application-autoscaling", "lambda", "dynamodb-tables"],
  permissions: [
    {
      actions: [
        "ecs:DescribeServices",
        "ecs:ListClusters",
        // DescribeServices' include TAGS, and GetFunction's Tags, need their service's tag read.
        "ecs:ListTagsForResource",
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:ListTagsForResource",
        "lambda:GetFunction",
        "lambda:ListTags",
        "lambda:GetAlias",
        "lambda:GetProvisionedConcurrencyConfig",
        "lambda:GetAccountSettings",
        // A table in on-demand mode is refused by its billing mode.
        "dynamodb:DescribeTable",
      ],
      mutating: false,
    },
    // Every change only on what carries the automation tag: the service, the target, the function.
    { actions: ["ecs:UpdateService"], mutating: true, tagCondition: "resource", resources: [SERVICE_ARN] },
    {
      actions: ["application-autoscaling:RegisterScalableTarget"],
      mutating: true,
      tagCondition: "resource",
      resources: [TARGET_ARN],
    },
    {
      actions: ["lambda:PutProvisionedConcurrencyConfig", "lambda:DeleteProvisionedConcurrencyConfig"],
      mutating: true,
      tagCondition: "resource",
      resources: [FUNCTION_ARN],
    },
  ],
  locks: (p) => [lockOf(p.target)],
  blastRadius: (p) => {
    const m = /^([+-])(\d+)$/.exec(p.change ?? "");
    return m ? Math.min(Number(m[2]), p.maxStep) : undefined;
  },
  rollback: ["rollback"],
  dryRun:
    "Reads the target, its bounds and its current value, and reports the value it would set with every limit that clamped it (or why it refuses); no mutating call.",
  stateMachine: {
    StartAt: "Plan",
    States: {
      Plan: step("plan", { ResultPath: "$.plan", Next: "IsDryRun" }),
      IsDryRun: dryRunChoice("ApprovalNeeded", "Planned", [
        { Variable: "$.plan.action", StringEquals: "none", Next: "NothingToDo" },
      ]),
      Planned: { Type: "Succeed" },
      NothingToDo: { Type: "Succeed" },
      // A person approves the plan when the policy asks: nothing before this changes anything.
      ...approvalStates(R, "Apply"),
      Apply: step("apply", { ResultPath: "$.applied", Catch: catchAll("Rollback"), Next: "WaitSettled" }),
      ...pollLoop({
        wait: "WaitSettled",
        check: "CheckSettled",
        done: "Settled",
        seconds: 10,
        task: step("check", { ResultPath: "$.progress", Catch: catchAll("Rollback") }),
        donePath: "$.progress.done",
        next: "Report",
      }),
      Report: step("report", { ResultPath: "$.report", Next: "Done" }),
      Done: { Type: "Succeed" },
      // Rollback: the old value back (only where this run's value is still set), waited on, then
      // the run fails with the original error.
      Rollback: rollbackStep("rollback", {
        ResultPath: "$.rolledBack",
        Catch: catchAll("Failed", "$.rollbackFailure"),
        Next: "WaitRolledBack",
      }),
      ...pollLoop({
        wait: "WaitRolledBack",
        check: "CheckRolledBack",
        done: "RolledBack",
        seconds: 10,
        task: rollbackStep("checkRollback", {
          ResultPath: "$.rollbackProgress",
          Catch: catchAll("Failed", "$.rollbackFailure"),
        }),
        donePath: "$.rollbackProgress.done",
        next: "Failed",
      }),
      Failed: failWith("$.failure"),
    },
  },
  implementation: () => import("./steps.ts").then((m) => m.implementation),
});
