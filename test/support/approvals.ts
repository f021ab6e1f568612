/**
 * Approvals in tests: a config in which runs wait for the `sre` role's approval, and a run
 * waiting for approval as admission leaves one: its record (admitted with `plan`) and its
 * approval request in the state table, for tests of what decides it.
 */
import type { ConfigInput } from "@reflex/core";
import * as ApprovalRecords from "../../packages/core/src/state/approvals.ts";
import * as Executions from "../../packages/core/src/state/executions.ts";

/**
 * `prod`, where a medium-risk run (scale) waits for one approval from `sre` (U789); `oncall`
 * (U123) may run scale and backup-snapshot but not approve. The console's browser tests use it.
 */
export const SRE_APPROVES: ConfigInput = {
  environment: "prod",
  access: {
    roles: { oncall: ["U123"], sre: ["U789"] },
    allow: [
      { role: "oncall", runbooks: ["scale", "backup-snapshot"], actions: ["run", "dry-run", "abort"] },
      { role: "sre", runbooks: ["*"], actions: ["run", "dry-run", "approve", "abort"] },
    ],
  },
  approvals: { approvers: ["sre"] },
};

/** `request` overrides what the stored request holds (a tampered record, another token). */
export async function runWaitingForApproval(
  id: string,
  plan: Executions.ApprovalPlan,
  request: Partial<ApprovalRecords.ApprovalRequest> = {},
): Promise<void> {
  await Executions.create({
    id,
    runbook: "scale",
    dryRun: false,
    params: {},
    trigger: { kind: "manual", actor: "cli:alice" },
    approval: plan,
  });
  await ApprovalRecords.put({
    executionId: id,
    runbook: "scale",
    state: "CapacityApprovalWait",
    token: "lt1.token",
    requestedBy: plan.requestedBy,
    requestedAt: new Date().toISOString(),
    deadline: new Date(Date.now() + 300_000).toISOString(),
    reasons: plan.reasons,
    approvers: plan.approvers,
    minApprovers: plan.minApprovers,
    selfApproval: plan.selfApproval,
    ...request,
  });
}
