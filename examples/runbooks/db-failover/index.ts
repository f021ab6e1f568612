/**
 * db-failover: fails a database over — an Aurora cluster to a named replica
 * (`FailoverDBCluster`), or an RDS Multi-AZ instance to its standby (`RebootDBInstance
 * --force-failover`) — after checking the target is ready (Aurora: the replica available and
 * its `AuroraReplicaLag` under a threshold), with a person's approval when policy says so
 * (high risk: by default), verifying after (Aurora: the writer is the replica and the cluster
 * available; Multi-AZ: available in the other zone; both: a health alarm on what uses the
 * endpoint OK, when given), and switching back when the verify fails, so the writer ends where
 * it was. Failback is another run (`promote` the old writer; a Multi-AZ instance flips back).
 *
 * Written only against @reflex/sdk; listed in a config with `runbooks: [dbFailover]`. See
 * docs/runbooks/db-failover.md.
 */
import {
  approvalStates,
  catchAll,
  defineRunbook,
  dryRunChoice,
  failWith,
  pollLoop,
  RETRY_ROLLBACK,
  RETRY_STEP,
  stepTask,
} from "@reflex/sdk";
import { z } from "zod";

const R = "db-failover";
const id = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9-]{0,62}$/,
    "must be an RDS identifier (a letter, then letters, digits, hyphens)",
  );

export const params = z
  .object({
    cluster: id.optional().describe("The Aurora cluster to fail over"),
    promote: id
      .optional()
      .describe("Aurora: the reader to promote; default the reader of the lowest promotion tier"),
    instance: id.optional().describe("The RDS Multi-AZ DB instance to fail over to its standby"),
    maxReplicaLagMs: z
      .number()
      .int()
      .min(1)
      .max(600_000)
      .default(1000)
      .describe("Aurora: the replica is ready when its AuroraReplicaLag (max over 5 minutes) is under this"),
    healthAlarm: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .describe("A CloudWatch alarm on what uses the endpoint (a canary): the verify needs it OK"),
    verifyTimeoutSeconds: z.number().int().min(1).max(3600).default(600),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as us-east-1")
      .optional(),
  })
  .strict()
  .refine((p) => (p.cluster === undefined) !== (p.instance === undefined), {
    message: "give cluster (Aurora) or instance (RDS Multi-AZ), one of them",
  })
  .refine((p) => p.promote === undefined || p.cluster !== undefined, {
    path: ["promote"],
    message: "promote names an Aurora reader: give it with cluster",
  });
export type DbFailoverParams = z.output<typeof params>;

const DB = "arn:${Partition}:rds:*:${Account}";
const POLL = 5;

export const dbFailover = defineRunbook({
  name: R,
  summary:
    "Fail an Aurora cluster over to a named replica, or an RDS Multi-AZ instance to its standby, verified",
  risk: "high",
  params,
  example: { cluster: "payments", promote: "payments-2" },
  cap: { maxTargets: 1 },
  services: ["rds", "cloudwatch"],
  permissions: [
    { actions: ["rds:DescribeDBClusters", "rds:DescribeDBInstances"], mutating: false },
    { actions: ["cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms"], mutating: false },
    // FailoverDBCluster is authorized on the cluster and on the instance it promotes (so the
    // replica carries the automation tag too); RebootDBInstance on the instance.
    {
      actions: ["rds:FailoverDBCluster"],
      mutating: true,
      tagCondition: "resource",
      resources: [`${DB}:cluster:*`, `${DB}:db:*`],
    },
    {
      actions: ["rds:RebootDBInstance"],
      mutating: true,
      tagCondition: "resource",
      resources: [`${DB}:db:*`],
    },
  ],
  rollback: ["switchBack", "verifySwitchBack"],
  dryRun:
    "Checks readiness (the replica's state and lag, or Multi-AZ) and reports the plan: the writer or zone before and after; no mutating call.",
  locks: (p) => [`db:${p.cluster ?? p.instance}`],
  blastRadius: () => 1,
  stateMachine: {
    StartAt: "Readiness",
    TimeoutSeconds: 16 * 3600,
    States: {
      Readiness: stepTask(R, "readiness", {
        ResultPath: "$.plan",
        Retry: RETRY_STEP,
        Catch: catchAll("NotReady"),
        Next: "PlanDecision",
      }),
      NotReady: failWith(),
      PlanDecision: dryRunChoice("ApprovalNeeded"),
      DryRunPlanned: { Type: "Succeed", Comment: "The plan is the result; nothing was changed." },
      ...approvalStates(R, "Switch"),
      Switch: stepTask(R, "switchOver", {
        ResultPath: "$.switch",
        Retry: RETRY_STEP,
        Catch: catchAll("SwitchBack"),
        Next: "Verify",
      }),
      ...pollLoop({
        wait: "WaitForVerify",
        check: "Verify",
        done: "Verified",
        task: stepTask(R, "verify", {
          ResultPath: "$.verify",
          Retry: RETRY_STEP,
          Catch: catchAll("SwitchBack"),
        }),
        seconds: POLL,
        donePath: "$.verify.done",
        next: "FailedOver",
      }),
      FailedOver: { Type: "Succeed" },
      // ---- switch back: the writer (or the zone) ends where it was ----
      ...pollLoop({
        wait: "WaitForSwitchBack",
        check: "SwitchBack",
        done: "SwitchBackStarted",
        task: stepTask(R, "switchBack", {
          ResultPath: "$.switchBack",
          Retry: RETRY_ROLLBACK,
          Catch: catchAll("SwitchBackFailed", "$.rollbackFailure"),
        }),
        seconds: POLL,
        donePath: "$.switchBack.done",
        next: "VerifySwitchBack",
      }),
      ...pollLoop({
        wait: "WaitForVerifySwitchBack",
        check: "VerifySwitchBack",
        done: "SwitchedBack",
        task: stepTask(R, "verifySwitchBack", {
          ResultPath: "$.switchBackVerify",
          Retry: RETRY_ROLLBACK,
          Catch: catchAll("SwitchBackFailed", "$.rollbackFailure"),
        }),
        seconds: POLL,
        donePath: "$.switchBackVerify.done",
        next: "RolledBack",
      }),
      RolledBack: failWith(),
      SwitchBackFailed: { Type: "Fail", Error: "SwitchBackFailed", CausePath: "$.rollbackFailure.Cause" },
    },
  },
  implementation: () => import("./steps.ts").then((m) => m.implementation),
});
