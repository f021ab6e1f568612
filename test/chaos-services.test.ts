/**
 * Fault injection reaches every simulated service, named by its IAM prefix as in an IAM policy
 * (`elasticloadbalancing:*`, `route53:*`, `cloudwatch:*`, `ec2`, `autoscaling`, `ssm`); `reflex
 * cloud` lists what failover and patching act on (target groups with members, Elastic IPs with
 * associations, Route 53 records); and the local-only routes, Slack's included, answer another
 * method with 405 like every other route.
 */

import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
} from "@aws-sdk/client-application-auto-scaling";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { DescribeServicesCommand, ECSClient } from "@aws-sdk/client-ecs";
import {
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { GetAliasCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { DescribeDBClustersCommand, RDSClient } from "@aws-sdk/client-rds";
import { ListResourceRecordSetsCommand, Route53Client } from "@aws-sdk/client-route-53";
import { DescribeInstanceInformationCommand, SSMClient } from "@aws-sdk/client-ssm";
import { Aws } from "@reflex/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { main } from "../packages/local/src/cli/main.ts";
import { addDbSnapshot } from "../packages/local/src/cloud/databases.ts";
import { DEMO_PAIR } from "../packages/local/src/cloud/failover-controls.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { addTargetGroup } from "../packages/local/src/cloud/patching-helpers.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, startTestLocal } from "./support/local.ts";

let local: LocalMode;
let cloud: SimulatedCloud;
beforeAll(async () => {
  cloud = SimulatedCloud.seeded({ snapshotDurationMs: 150 });
  cloud.failover.seedDemoPair();
  local = await startTestLocal({}, { cloud });
});
afterAll(async () => local?.stop());
afterEach(async () => {
  await api(local, "DELETE", "/api/cloud/faults");
});

async function reflex(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, "--url", local.url], {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    colour: false,
    tty: false,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** One cheap call per simulated service, through the client factory as runbooks make them. */
const SERVICES: Array<[prefix: string, call: () => Promise<unknown>]> = [
  ["ec2", () => Aws.client(EC2Client, "ec2").send(new DescribeInstancesCommand({}))],
  [
    "autoscaling",
    () => Aws.client(AutoScalingClient, "autoscaling").send(new DescribeAutoScalingGroupsCommand({})),
  ],
  ["ssm", () => Aws.client(SSMClient, "ssm").send(new DescribeInstanceInformationCommand({}))],
  [
    "elasticloadbalancing",
    () => Aws.client(ElasticLoadBalancingV2Client, "elbv2").send(new DescribeTargetGroupsCommand({})),
  ],
  [
    "route53",
    () =>
      Aws.client(Route53Client, "route53").send(
        new ListResourceRecordSetsCommand({ HostedZoneId: DEMO_PAIR.hostedZoneId }),
      ),
  ],
  ["cloudwatch", () => Aws.client(CloudWatchClient, "cloudwatch").send(new DescribeAlarmsCommand({}))],
  ["rds", () => Aws.client(RDSClient, "rds").send(new DescribeDBClustersCommand({}))],
  [
    "ecs",
    () =>
      Aws.client(ECSClient, "ecs").send(new DescribeServicesCommand({ cluster: "prod", services: ["api"] })),
  ],
  [
    "application-autoscaling",
    () =>
      Aws.client(ApplicationAutoScalingClient, "application-autoscaling").send(
        new DescribeScalableTargetsCommand({ ServiceNamespace: "ecs" }),
      ),
  ],
  [
    "lambda",
    () =>
      Aws.client(LambdaClient, "lambda").send(
        new GetAliasCommand({ FunctionName: "checkout", Name: "live" }),
      ),
  ],
  // The estate's tables (the factory's dynamodb-tables), by IAM's prefix: Reflex's own state is not faulted.
  ["dynamodb", () => Aws.client(DynamoDBClient, "dynamodb-tables").send(new ListTablesCommand({}))],
];

describe("reflex chaos on every simulated service", () => {
  it.each(SERVICES)(
    "arms %s:* by its IAM prefix, and the fault fails that service's calls",
    async (prefix, call) => {
      await expect(call()).resolves.toBeDefined();

      const armed = await reflex("chaos", "add", "--op", `${prefix}:*`, "--error", "AccessDenied");
      expect(armed, armed.err).toMatchObject({ code: 0 });
      expect(armed.out).toMatch(new RegExp(`^armed fault-\\d+ {2}${prefix}:\\* {2}AccessDenied`));

      const failed = await call().then(
        () => undefined,
        (e: Error) => e,
      );
      expect(`${failed?.name} ${failed?.message}`).toMatch(/AccessDenied/);
      const { body } = await api(local, "GET", "/api/cloud/calls?limit=1");
      expect(body.calls[0]).toMatchObject({ service: prefix, outcome: "AccessDenied" });

      const listed = await reflex("chaos", "list", "--json");
      expect(JSON.parse(listed.out)).toEqual([expect.objectContaining({ service: prefix, operation: "*" })]);
    },
  );

  it("takes the SDK's name elbv2 too, and lists it by its IAM prefix", async () => {
    const armed = await reflex("chaos", "add", "--op", "elbv2:RegisterTargets", "--error", "InternalError");
    expect(armed.code).toBe(0);
    expect(armed.out).toMatch(/elasticloadbalancing:RegisterTargets/);
  });

  it("refuses a service it does not simulate, naming the ones it does", async () => {
    const refused = await reflex("chaos", "add", "--op", "kinesis:*", "--error", "InternalError");
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(
      /service 'kinesis' is not simulated; use ec2, autoscaling, ssm, route53, cloudwatch, elasticloadbalancing, ecs, application-autoscaling, lambda, rds, dynamodb/,
    );
  });
});

describe("reflex cloud", () => {
  it("lists target groups with their members, Elastic IPs with their associations, and Route 53 records", async () => {
    const web1 = cloud.instance("web-1")!.InstanceId!;
    const web2 = cloud.instance("web-2")!.InstanceId!;
    addTargetGroup(cloud, { name: "web-tg", port: 8080, instanceIds: [web1, web2] });

    const listed = await reflex("cloud");
    expect(listed.code).toBe(0);
    const section = (title: string) => listed.out.split(/\n\n/).find((s) => s.startsWith(title)) ?? "";
    expect(section("TARGET GROUPS (2)")).toMatch(
      new RegExp(
        `\nweb-tg\\s+us-east-1\\s+8080\\s+${web1} \\(web-1\\) healthy, ${web2} \\(web-2\\) healthy\n?`,
      ),
    );
    expect(section("ELASTIC IPS (1)")).toMatch(
      new RegExp(
        `${DEMO_PAIR.allocationId}\\s+${DEMO_PAIR.publicIp}\\s+us-east-1\\s+${DEMO_PAIR.primary.instance} \\(app-a\\)`,
      ),
    );
    expect(section("ROUTE 53 RECORDS (3)")).toMatch(
      /example\.internal\.\s+app\.example\.internal\.\s+A\s+60\s+10\.0\.200\.11/,
    );

    const json = JSON.parse((await reflex("cloud", "--json")).out);
    expect(json.targetGroups.find((g: { name: string }) => g.name === "web-tg").members).toEqual([
      { instanceId: web1, port: 8080, state: "healthy" },
      { instanceId: web2, port: 8080, state: "healthy" },
    ]);
    expect(json.addresses).toEqual([
      expect.objectContaining({
        allocationId: DEMO_PAIR.allocationId,
        instanceId: DEMO_PAIR.primary.instance,
      }),
    ]);
    expect(json.records).toContainEqual(
      expect.objectContaining({ name: "app.example.internal.", type: "A", values: ["10.0.200.11"] }),
    );
  });
});

describe("reflex cloud's databases", () => {
  it("lists RDS instances (Multi-AZ with its standby's zone), Aurora clusters with writer and readers, and DynamoDB tables with PITR", async () => {
    const listed = await reflex("cloud");
    const section = (title: string) => listed.out.split(/\n\n/).find((s) => s.startsWith(title)) ?? "";

    expect(section("RDS INSTANCES (6)")).toMatch(
      /\norders-db\s+us-east-1\s+postgres\s+available\s+us-east-1a\s+yes \(standby us-east-1b\)/,
    );
    expect(section("AURORA CLUSTERS (1)")).toMatch(
      /\npayments\s+us-east-1\s+aurora-postgresql\s+available\s+payments-1\s+payments-2, payments-3/,
    );
    expect(section("DYNAMODB TABLES (2)")).toMatch(/\nsessions\s+us-east-1\s+OFF\s+none/);
  });
});

describe("reflex cloud's containers, functions and database backups", () => {
  it("lists ECS services with their rollout, scalable targets with their bounds, Lambda aliases with provisioned concurrency, and DB snapshots in every Region (a DR copy too)", async () => {
    addDbSnapshot(cloud, {
      id: "reflex-202612210200-0123abcd-orders-db",
      source: "orders-db",
      createdAt: Date.parse("2026-12-07T02:00:00Z"),
      tags: { "reflex:runbook": "db-backup" },
      region: "us-west-2",
    });
    const listed = await reflex("cloud");
    const section = (title: string) => listed.out.split(/\n\n/).find((s) => s.startsWith(title)) ?? "";

    expect(section("ECS SERVICES (3)")).toMatch(/\nprod\s+api\s+us-east-1\s+4\s+4\s+COMPLETED/);
    expect(section("SCALABLE TARGETS (4)")).toMatch(
      /\ndynamodb\s+table\/orders\s+dynamodb:table:ReadCapacityUnits\s+us-east-1\s+5\s+100\s+10/,
    );
    expect(section("LAMBDA ALIASES (2)")).toMatch(/\ncheckout\s+live\s+3\s+us-east-1\s+10\s+READY/);
    expect(section("DB SNAPSHOTS (1)")).toMatch(
      /\nreflex-202612210200-0123abcd-orders-db\s+snapshot\s+us-west-2\s+orders-db\s+available/,
    );
  });
});

describe("local-only routes and methods", () => {
  it.each([
    ["PUT", "/slack/commands", "POST"],
    ["GET", "/slack/interactions", "POST"],
    ["DELETE", "/slack/commands", "POST"],
    ["PUT", "/api/cloud", "GET"],
    ["POST", "/api/cloud/calls", "GET"],
    ["PUT", "/api/cloud/faults", "GET, POST, DELETE"],
    ["GET", "/api/cloud/faults/fault-1", "DELETE"],
    ["POST", "/api/lifecycle", "GET"],
    ["DELETE", "/api/outbox", "GET"],
  ])("answers %s %s with 405 and the methods it takes", async (method, path, allow) => {
    const res = await fetch(`${local.url}${path}`, {
      method,
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe(allow);
    expect(await res.json()).toMatchObject({ error: { code: "method_not_allowed" } });
  });
});
