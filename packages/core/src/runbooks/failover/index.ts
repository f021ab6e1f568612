import { z } from "zod";
import { pairSchema } from "../../config/schema.ts";
import { defineRunbook } from "../define.ts";
import { failoverParams } from "./params.ts";
import { failoverResult } from "./result.ts";
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
      actions: ["ec2:DescribeInstanceStatus", "ec2:DescribeAddresses"],
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
    // Route 53 record sets carry no tags, and the pairs' record names live in the config, not
    // here: the change is fenced by Route 53's own condition keys to UPSERTs of address and
    // alias record types. (Fencing the names too needs the config's pairs at synth time.)
    {
      actions: ["route53:ChangeResourceRecordSets"],
      mutating: true,
      tagCondition: "none",
      resources: ["arn:${Partition}:route53:::hostedzone/*"],
      conditions: {
        "ForAllValues:StringEquals": {
          "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
          "route53:ChangeResourceRecordSetsRecordTypes": ["A", "AAAA", "CNAME"],
        },
      },
      why: "Route 53 record sets carry no tags; the record-set condition keys fence the change to UPSERTs of A/AAAA/CNAME records instead.",
    },
  ],
  rollback: ["switchBack", "awaitSwitchBack", "verifySwitchBack"],
  dryRun:
    "Checks the standby's readiness and reports the plan (the Elastic IP's association, the record's value and TTL, before and after); no mutating call.",
  implementation: () => import("./handlers.ts").then((m) => m.failoverSteps),
  services: ["ec2", "route53", "cloudwatch"],
  // The primary/standby pairs it fails over are the config's `pairs`.
  config: { pairs: z.array(pairSchema) },
  result: failoverResult,
  stateMachine: failoverStateMachine,
  locks: (p) => [`pair:${p.pair}`],
  blastRadius: () => 1,
});
