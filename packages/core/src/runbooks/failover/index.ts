import { z } from "zod";
import { type Config, pairSchema } from "../../config/schema.ts";
import { defineRunbook, type Permission } from "../define.ts";
import { failoverParams } from "./params.ts";
import { failoverResult } from "./result.ts";
import { failoverStateMachine } from "./state-machine.ts";

/** Reading the pairs' records: deployed, only in the configured pairs' hosted zones. */
const listRecords: Permission = {
  actions: ["route53:ListResourceRecordSets"],
  mutating: false,
  resources: ["arn:${Partition}:route53:::hostedzone/*"],
  forConfig: (config) => {
    const zones = [...new Set(recordsOf(config).map((r) => hostedZoneArn(r.hostedZoneId)))];
    return zones.length ? [{ resources: zones }] : [];
  },
};

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
    listRecords,
    { actions: ["route53:GetChange"], mutating: false, resources: ["arn:aws:route53:::change/*"] },
    // The Elastic IP and both instances must carry the automation tag (aws:ResourceTag).
    { actions: ["ec2:AssociateAddress"], mutating: true, tagCondition: "resource" },
    // Route 53 record sets carry no tags: the change is fenced by Route 53's own condition keys.
    // Deployed, one statement per configured pair: its hosted zone, its record name and type,
    // UPSERT only (a CNAME elsewhere could validate an ACM certificate for a name it is not).
    // Without the config (declared form), UPSERTs of address records in any zone.
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
      forConfig: (config) =>
        recordsOf(config).map((r) => ({
          resources: [hostedZoneArn(r.hostedZoneId)],
          conditions: {
            "ForAllValues:StringEquals": {
              "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
              "route53:ChangeResourceRecordSetsRecordTypes": [r.type],
              "route53:ChangeResourceRecordSetsNormalizedRecordNames": [normalizedRecordName(r.name)],
            },
            // ForAllValues holds for a request without the key: require it.
            Null: { "route53:ChangeResourceRecordSetsNormalizedRecordNames": "false" },
          },
        })),
      why: "Route 53 record sets carry no tags; Route 53's condition keys fence each change to an UPSERT of one configured pair's record name and type, in that pair's hosted zone.",
    },
  ],
  rollback: ["switchBack", "awaitSwitchBack", "verifySwitchBack"],
  dryRun:
    "Checks the standby's readiness and reports the plan (the Elastic IP's association, the record's value and TTL, before and after); no mutating call.",
  implementation: () => import("./handlers.ts").then((m) => m.failoverSteps),
  // The reconciler reads a lost run's pair back from the cloud: where the Elastic IP points and
  // what the record says (inspectLostFailover).
  lostRun: {
    permissions: [{ actions: ["ec2:DescribeAddresses"], mutating: false }, listRecords],
  },
  services: ["ec2", "route53", "cloudwatch"],
  // The primary/standby pairs it fails over are the config's `pairs`.
  config: { pairs: z.array(pairSchema) },
  result: failoverResult,
  stateMachine: failoverStateMachine,
  locks: (p) => [`pair:${p.pair}`],
  blastRadius: () => 1,
});

/** The records the config's pairs move. */
function recordsOf(config: Config): NonNullable<Config["pairs"][number]["record"]>[] {
  return config.pairs.flatMap((p) => (p.record ? [p.record] : []));
}

function hostedZoneArn(id: string): string {
  return `arn:\${Partition}:route53:::hostedzone/${id.replace(/^\/hostedzone\//, "")}`;
}

/**
 * A record name as `route53:ChangeResourceRecordSetsNormalizedRecordNames` compares it:
 * lowercase, without the trailing dot.
 */
export function normalizedRecordName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}
