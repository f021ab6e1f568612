import { defineRunbook } from "../define.ts";
import { failoverParams } from "./params.ts";
import { failoverStateMachine } from "./state-machine.ts";

/**
 * failover: move a primary/standby pair's Elastic IP and/or Route 53 record from its current
 * primary to its standby — after checking the standby is ready, with a person's approval when
 * policy says so (high risk: by default), verifying after, switching back if the verify fails.
 * Failback is the same runbook: the roles it recorded make the next run go the other way.
 * See docs/runbooks/failover.md.
 */
export const failover = defineRunbook({
  name: "failover",
  summary: "Fail a primary/standby pair over to its standby (Elastic IP and/or Route 53 record), verified",
  risk: "high",
  params: failoverParams,
  example: { pair: "app" },
  // One pair per run.
  cap: { maxTargets: 1 },
  permissions: [
    {
      actions: ["ec2:DescribeInstanceStatus", "ec2:DescribeAddresses", "ec2:DescribeInstances"],
      mutating: false,
    },
    { actions: ["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"], mutating: false },
    {
      actions: ["route53:ListResourceRecordSets"],
      mutating: false,
      resources: ["arn:aws:route53:::hostedzone/*"],
    },
    { actions: ["route53:GetChange"], mutating: false, resources: ["arn:aws:route53:::change/*"] },
    // The Elastic IP and both instances must carry the automation tag (aws:ResourceTag).
    { actions: ["ec2:AssociateAddress"], mutating: true, tagCondition: "resource" },
    // Hosted zones carrying the automation tag. Route 53 can also fence the records themselves
    // (route53:ChangeResourceRecordSetsNormalizedRecordNames / RecordTypes / Actions = UPSERT);
    // `Permission` cannot express those condition keys yet, so the record names are not fenced.
    {
      actions: ["route53:ChangeResourceRecordSets"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:aws:route53:::hostedzone/*"],
    },
  ],
  rollback: ["switchBack", "awaitSwitchBack", "verifySwitchBack"],
  dryRun:
    "Checks the standby's readiness and reports the plan (the Elastic IP's association, the record's value and TTL, before and after); no mutating call.",
  stateMachine: failoverStateMachine,
  locks: (p) => [`pair:${p.pair}`],
  blastRadius: () => 1,
});
