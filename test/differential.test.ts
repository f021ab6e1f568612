/**
 * The differential suite (docs/testing.md): every runbook runs against two clouds from the same
 * seed — the simulated cloud, and moto (an emulator nobody here wrote, answering in each
 * service's real wire protocol) — in local mode (`REFLEX_CLOUD=aws` and `REFLEX_ENDPOINT_*` for
 * moto), dry-run, real, and with one injected failure each. For each it compares:
 *
 * - the calls made (operation and parameters; ids and times made symbolic),
 * - the final state, read back through the SDK,
 * - the run's result (status, error, summary).
 *
 * Mutating calls must match one for one; reads as a set, since how often a wait polls depends
 * on how long AWS takes. Where moto is less faithful than the simulated cloud (it finishes at
 * once what AWS does over time), {@link KNOWN_DIFFERENCES} says which behaviour is AWS's, from
 * the API reference, and checks that the simulated cloud is the one that waits.
 */

import { writeFileSync } from "node:fs";
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CloudWatchClient,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  SetAlarmStateCommand,
} from "@aws-sdk/client-cloudwatch";
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  CreateLaunchTemplateCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVpcsCommand,
  EC2Client,
  type Instance,
  paginateDescribeInstances,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  CreateTargetGroupCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from "@aws-sdk/client-route-53";
import { type Aws, validateConfig } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allocateAddress, associate } from "../packages/local/src/cloud/eip.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import {
  addTargetGroup,
  manageWithSsm,
  setPatchingSettings,
} from "../packages/local/src/cloud/patching-helpers.ts";
import { addZone } from "../packages/local/src/cloud/route53.ts";
import { type LocalMode, startLocal } from "../packages/local/src/local-mode.ts";
import { api } from "./support/local.ts";
import { type Moto, startMoto } from "./support/moto.ts";
import { standIns } from "./support/moto-stand-ins.ts";

const REGION = "us-east-1";
const credentials = { accessKeyId: "local", secretAccessKey: "local" };
const CLOUD_SERVICES = ["ec2", "autoscaling", "ssm", "route53", "cloudwatch", "elbv2"];

// ---- the seed, the same for both clouds ------------------------------------------------

const DBS = [
  { name: "db-1", az: "us-east-1a" },
  { name: "db-2", az: "us-east-1b" },
];
const DB_TAGS = { Role: "db", Backup: "daily", PatchGroup: "db", "reflex:managed": "true" };
const APPS = [
  { name: "app-a", az: "us-east-1a" },
  { name: "app-b", az: "us-east-1b" },
];
const APP_TAGS = { Role: "app", "reflex:managed": "true" };
const ZONE = "example.internal";
const RECORD = "app.example.internal";
const WEB = { name: "web", min: 1, max: 6, desired: 2, tags: { Role: "web", "reflex:managed": "true" } };

interface Seeded {
  /** Seed ids -> the names the comparison uses (`db-1`, `db-1:root`, `db-tg`). */
  names: Map<string, string>;
  /** The databases' instance ids, db-1 first. */
  dbs: string[];
  /** The databases' target group. */
  targetGroupArn: string;
  /** The failover pair: app-a (primary) and app-b, by id, private address and health alarm. */
  apps: Array<{ id: string; ip: string; alarm: string }>;
  allocationId: string;
  hostedZoneId: string;
}

const idOf = (names: Map<string, string>, name: string) => [...names].find(([, n]) => n === name)?.[0] ?? "";
const idsOf = (names: Map<string, string>) => DBS.map((db) => idOf(names, db.name));

/** The seed's named instances and their root volumes (Auto Scaling's members carry no Name, as in AWS). */
function namesOf(
  instances: Array<{
    InstanceId?: string;
    SubnetId?: string;
    Placement?: { AvailabilityZone?: string };
    Tags?: Array<{ Key?: string; Value?: string }>;
    BlockDeviceMappings?: Array<{ Ebs?: { VolumeId?: string } }>;
  }>,
): Map<string, string> {
  const names = new Map<string, string>();
  for (const i of instances) {
    const name = i.Tags?.find((t) => t.Key === "Name")?.Value;
    if (!name || !i.InstanceId) continue;
    names.set(i.InstanceId, name);
    const root = i.BlockDeviceMappings?.[0]?.Ebs?.VolumeId;
    if (root) names.set(root, `${name}:root`);
    // Each cloud makes its own subnet ids: named by zone (one subnet per zone in both seeds).
    if (i.SubnetId) names.set(i.SubnetId, `subnet:${i.Placement?.AvailabilityZone}`);
  }
  return names;
}

function seedSimulated(cloud: SimulatedCloud): Seeded {
  cloud.batch(() => {
    for (const db of DBS)
      cloud.addInstance({
        name: db.name,
        instanceType: "r5.xlarge",
        availabilityZone: db.az,
        tags: DB_TAGS,
        volumeSizes: [8],
      });
    cloud.addAutoScalingGroup({
      name: WEB.name,
      minSize: WEB.min,
      maxSize: WEB.max,
      desiredCapacity: WEB.desired,
      instanceType: "t3.micro",
      availabilityZones: ["us-east-1a", "us-east-1b"],
      tags: WEB.tags,
      rootVolumeSize: 8,
    });
  });
  for (const app of APPS)
    cloud.addInstance({
      name: app.name,
      instanceType: "m5.large",
      availabilityZone: app.az,
      tags: APP_TAGS,
      volumeSizes: [8],
    });
  const names = namesOf(cloud.instances(REGION));
  const dbs = idsOf(names);
  const apps = APPS.map((a) => {
    const i = cloud.instance(idOf(names, a.name), REGION)!;
    return { id: i.InstanceId!, ip: i.PrivateIpAddress!, alarm: `${a.name}-health` };
  });
  const { allocationId, publicIp } = cloud.withRegion(REGION, (ctx) => {
    const address = allocateAddress(ctx, "203.0.113.10");
    associate(ctx, address, apps[0].id, false);
    addZone(ctx, "Z0DIFFERENTIAL", ZONE, [{ name: RECORD, type: "A", ttl: 60, values: [apps[0].ip] }]);
    return address;
  });
  for (const app of apps) {
    cloud.failover.setAlarm(app.alarm, "OK", "seeded", REGION);
    cloud.failover.putMetric({
      namespace: "Reflex/Demo",
      metricName: "ReplicationLagSeconds",
      dimensions: { InstanceId: app.id },
      value: 2,
      region: REGION,
    });
  }
  manageWithSsm(cloud, dbs, REGION);
  setPatchingSettings(
    cloud,
    { commandDurationMs: 500, rebootMs: 100, healthCheckMs: 100, deregistrationDelayMs: 300 },
    REGION,
  );
  const targetGroupArn = addTargetGroup(cloud, { name: "db-tg", instanceIds: dbs, region: REGION });
  names.set(targetGroupArn, "db-tg");
  return withPairNames(
    { names, dbs, targetGroupArn, apps, allocationId, hostedZoneId: "Z0DIFFERENTIAL" },
    publicIp,
  );
}

/** The pair's addresses and ids are named too: they differ between the clouds. */
function withPairNames(seed: Seeded, publicIp: string): Seeded {
  for (const [n, a] of seed.apps.entries()) seed.names.set(a.ip, `${APPS[n].name}:ip`);
  seed.names.set(publicIp, "eip:ip");
  seed.names.set(seed.allocationId, "eip");
  seed.names.set(seed.hostedZoneId, "zone");
  return seed;
}

async function seedMoto(moto: Moto): Promise<Seeded> {
  const ec2 = new EC2Client({ region: REGION, credentials, endpoint: moto.motoUrl });
  const asg = new AutoScalingClient({ region: REGION, credentials, endpoint: moto.motoUrl });
  const tags = (t: Record<string, string>) => Object.entries(t).map(([Key, Value]) => ({ Key, Value }));
  for (const db of DBS)
    await ec2.send(
      new RunInstancesCommand({
        ImageId: "ami-0c02fb55956c7d316",
        InstanceType: "r5.xlarge",
        MinCount: 1,
        MaxCount: 1,
        Placement: { AvailabilityZone: db.az },
        BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { VolumeSize: 8, DeleteOnTermination: true } }],
        TagSpecifications: [{ ResourceType: "instance", Tags: tags({ Name: db.name, ...DB_TAGS }) }],
      }),
    );
  for (const app of APPS)
    await ec2.send(
      new RunInstancesCommand({
        ImageId: "ami-0c02fb55956c7d316",
        InstanceType: "m5.large",
        MinCount: 1,
        MaxCount: 1,
        Placement: { AvailabilityZone: app.az },
        BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { VolumeSize: 8, DeleteOnTermination: true } }],
        TagSpecifications: [{ ResourceType: "instance", Tags: tags({ Name: app.name, ...APP_TAGS }) }],
      }),
    );
  await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: "web-template",
      LaunchTemplateData: { ImageId: "ami-0c02fb55956c7d316", InstanceType: "t3.micro" },
    }),
  );
  await asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: WEB.name,
      MinSize: WEB.min,
      MaxSize: WEB.max,
      DesiredCapacity: WEB.desired,
      AvailabilityZones: ["us-east-1a", "us-east-1b"],
      LaunchTemplate: { LaunchTemplateName: "web-template", Version: "$Default" },
      Tags: Object.entries(WEB.tags).map(([Key, Value]) => ({
        Key,
        Value,
        PropagateAtLaunch: true,
        ResourceId: WEB.name,
        ResourceType: "auto-scaling-group",
      })),
    }),
  );
  const out = await ec2.send(new DescribeInstancesCommand({}));
  const all = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
  const names = namesOf(all);
  const dbs = idsOf(names);
  const apps = APPS.map((a) => {
    const i = all.find((x) => x.InstanceId === idOf(names, a.name))!;
    return { id: i.InstanceId!, ip: i.PrivateIpAddress!, alarm: `${a.name}-health` };
  });
  const address = await ec2.send(new AllocateAddressCommand({ Domain: "vpc" }));
  await ec2.send(new AssociateAddressCommand({ AllocationId: address.AllocationId, InstanceId: apps[0].id }));
  const r53 = new Route53Client({ region: REGION, credentials, endpoint: moto.motoUrl });
  const zone = await r53.send(new CreateHostedZoneCommand({ Name: ZONE, CallerReference: "differential" }));
  const motoZoneId = zone.HostedZone!.Id!.replace(/^\/hostedzone\//, "");
  // moto's zone ids do not start with Z as AWS's do; the stand-in answers to the AWS-shaped one.
  const hostedZoneId = `Z${motoZoneId}`;
  moto.aliasZone(hostedZoneId, motoZoneId);
  await r53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: motoZoneId,
      ChangeBatch: {
        Changes: [
          {
            Action: "CREATE",
            ResourceRecordSet: { Name: RECORD, Type: "A", TTL: 60, ResourceRecords: [{ Value: apps[0].ip }] },
          },
        ],
      },
    }),
  );
  const cw = new CloudWatchClient({ region: REGION, credentials, endpoint: moto.motoUrl });
  for (const app of apps) {
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: app.alarm,
        Namespace: "AWS/EC2",
        MetricName: "StatusCheckFailed",
        Dimensions: [{ Name: "InstanceId", Value: app.id }],
        Statistic: "Maximum",
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
      }),
    );
    await cw.send(
      new SetAlarmStateCommand({ AlarmName: app.alarm, StateValue: "OK", StateReason: "seeded" }),
    );
    await cw.send(
      new PutMetricDataCommand({
        Namespace: "Reflex/Demo",
        MetricData: [
          {
            MetricName: "ReplicationLagSeconds",
            Dimensions: [{ Name: "InstanceId", Value: app.id }],
            Value: 2,
            Timestamp: new Date(),
          },
        ],
      }),
    );
  }
  r53.destroy();
  cw.destroy();
  const elb = new ElasticLoadBalancingV2Client({ region: REGION, credentials, endpoint: moto.motoUrl });
  const vpc = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs?.[0]?.VpcId;
  const targetGroupArn = (
    await elb.send(
      new CreateTargetGroupCommand({
        Name: "db-tg",
        Protocol: "HTTP",
        Port: 80,
        VpcId: vpc,
        TargetType: "instance",
      }),
    )
  ).TargetGroups![0].TargetGroupArn!;
  await elb.send(
    new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: dbs.map((Id) => ({ Id })) }),
  );
  names.set(targetGroupArn, "db-tg");
  for (const [key, standIn] of Object.entries(
    standIns(
      () => moto,
      () => dbs,
    ),
  ))
    moto.standIns.set(key, standIn);
  ec2.destroy();
  asg.destroy();
  elb.destroy();
  return withPairNames(
    { names, dbs, targetGroupArn, apps, allocationId: address.AllocationId!, hostedZoneId },
    address.PublicIp!,
  );
}

// ---- recording and normalizing ----------------------------------------------------------

interface Call {
  service: string;
  operation: string;
  input: unknown;
}

/** Records every cloud call a local mode's SDK clients make (once per call, before retries). */
function recorder(calls: Call[]) {
  return (service: string, client: Aws.SdkClient) => {
    if (!CLOUD_SERVICES.includes(service)) return;
    client.middlewareStack.add(
      (next: (args: any) => Promise<unknown>, context: Record<string, any>) =>
        async (args: { input: unknown }) => {
          calls.push({
            service,
            operation: String(context.commandName).replace(/Command$/, ""),
            input: structuredClone(args.input),
          });
          return next(args);
        },
      { step: "initialize", name: "differentialRecorder", priority: "high", override: true },
    );
  };
}

const ID = /\b(i|vol|snap|r|lt|eipalloc|eipassoc)-[0-9a-f]{8,17}\b/g;
const ISO = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z\b/g;
/** A Route 53 change id (`/change/C2682N5HXP0BZ4`). */
const CHANGE = /\/change\/(C[A-Z0-9]+)\b/g;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g;
/** An execution id (`<runbook>-20261206T184422Z-d7e0e0`, see core's Runs). */
const EXECUTION = /\b[a-z][a-z0-9-]*-\d{8}T\d{6}Z-[0-9a-f]{6}\b/g;

/** Makes ids symbolic (seeded ones by name, new ones by order of first appearance) and times opaque. */
function normalizer(seed: Seeded) {
  const fresh = new Map<string, string>();
  const counters = new Map<string, number>();
  const id = (raw: string, kind: string) => {
    const named = seed.names.get(raw);
    if (named) return `<${named}>`;
    if (!fresh.has(raw)) {
      const n = (counters.get(kind) ?? 0) + 1;
      counters.set(kind, n);
      fresh.set(raw, `<${kind}#${n}>`);
    }
    return fresh.get(raw)!;
  };
  const walk = (v: unknown, key?: string): unknown => {
    if (v instanceof Date) return "<time>";
    // moto answers its catalogue AMI's RootDeviceName (/dev/sda1) whatever device the seed maps
    // the root volume at (/dev/xvda, as the simulated cloud reports it): a seed artifact, not a
    // difference in the runbook. The simulated cloud's own tests check the value.
    if (key === "reflex:root-device") return "<root-device>";
    if (typeof v === "string") {
      const whole = seed.names.get(v);
      if (whole) return `<${whole}>`;
      let text = v;
      // Names that are not id-shaped (addresses, ARNs, zone ids) wherever they appear in a text.
      for (const [raw, name] of seed.names)
        if (!/^[a-z]+-[0-9a-f]{8,17}$/.test(raw)) text = text.split(raw).join(`<${name}>`);
      return text
        .replace(EXECUTION, "<execution>")
        .replace(ID, (m, kind: string) => id(m, kind))
        .replace(ISO, "<time>")
        .replace(CHANGE, (_m, change: string) => `/change/${id(change, "change")}`)
        .replace(UUID, (m) => id(m, "uuid"));
    }
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === "object" && (v as { Key?: unknown }).Key === "reflex:root-device")
      return { ...v, Value: "<root-device>" };
    if (v && typeof v === "object")
      return Object.fromEntries(
        Object.entries(v)
          .filter(([, x]) => x !== undefined)
          .map(([k, x]) => [k, walk(x, k)]),
      );
    return v;
  };
  return walk;
}

/** A run's calls as a sorted list of `service:Operation {params}` lines (order across targets is not the contract). */
function callLines(calls: Call[], walk: (v: unknown) => unknown): string[] {
  return calls.map((c) => `${c.service}:${c.operation} ${JSON.stringify(walk(c.input))}`).sort();
}

/** Mutating calls must match one for one; reads as a set (how often a wait polls depends on timing). */
function compareCalls(a: string[], b: string[]) {
  const mutating = (l: string) => !/^[a-z0-9]+:(Describe|List|Get)/.test(l);
  return {
    mutating: [a.filter(mutating), b.filter(mutating)],
    reads: [[...new Set(a.filter((l) => !mutating(l)))], [...new Set(b.filter((l) => !mutating(l)))]],
  };
}

// ---- the two clouds ---------------------------------------------------------------------

interface Side {
  name: "simulated" | "moto";
  local: LocalMode;
  calls: Call[];
  seed: Seeded;
  ec2: EC2Client;
  asg: AutoScalingClient;
  elb: ElasticLoadBalancingV2Client;
  r53: Route53Client;
  /** Fails the next `times` calls of an operation with an AWS error code. */
  fail(service: string, operation: string, code: string, times?: number): void;
  clearFaults(): void;
}

const PATCH = { selector: { tag: { PatchGroup: "db" } }, maxConcurrency: 1, pollSeconds: 5 };

/**
 * Where moto answers at once what AWS does over time: the simulated cloud, like AWS, makes the
 * runbook poll (`polls` are the reads that do), so it polls more often than on moto.
 */
const KNOWN_DIFFERENCES: Record<string, { aws: string; polls: string[] }> = {
  "backup-snapshot": {
    aws: "CreateSnapshot answers pending; the snapshot is completed later (EC2 API: Snapshot.State pending|completed|error); moto: completed at once",
    polls: ["ec2:DescribeSnapshots"],
  },
  scale: {
    aws: "new capacity is Pending before InService (Auto Scaling API: Instance.LifecycleState); moto: InService at once",
    polls: ["autoscaling:DescribeAutoScalingGroups"],
  },
  patch: {
    aws: "Run Command is InProgress until the document ends, a deregistered target drains for the deregistration delay (ELBv2: TargetHealth.State draining); moto: Success and unused at once",
    polls: ["ssm:GetCommandInvocation", "elbv2:DescribeTargetHealth"],
  },
  failover: {
    aws: "ChangeResourceRecordSets answers PENDING, GetChange says INSYNC once the change has propagated (Route 53 API: ChangeInfo.Status); moto: INSYNC at once",
    polls: ["route53:GetChange"],
  },
};

function configFor(seed: Seeded) {
  const [a, b] = seed.apps;
  return validateConfig({
    guardrails: { breaker: { failures: 100, within: "1m" } },
    approvals: { policies: [{ runbooks: ["failover"], require: false }] },
    pairs: [
      {
        name: "app",
        primary: { instance: a.id, recordValue: a.ip, health: { alarm: a.alarm } },
        standby: { instance: b.id, recordValue: b.ip, health: { alarm: b.alarm } },
        elasticIp: { allocationId: seed.allocationId },
        record: { hostedZoneId: seed.hostedZoneId, zone: ZONE, name: RECORD, type: "A", ttl: 60 },
        readiness: {
          namespace: "Reflex/Demo",
          metricName: "ReplicationLagSeconds",
          dimensions: { InstanceId: "$instance" },
          comparison: "<",
          threshold: 30,
          within: "1h",
        },
        verifyTimeout: "5s",
      },
    ],
  });
}

async function run(side: Side, runbook: string, params: unknown, dryRun: boolean) {
  const mark = side.calls.length;
  const started = await api<{ executionId: string }>(
    side.local,
    "POST",
    `/api/runbooks/${runbook}/executions`,
    {
      params,
      dryRun,
    },
  );
  if (started.status !== 202) throw new Error(`${side.name}: start failed: ${JSON.stringify(started.body)}`);
  await side.local.idle();
  const execution = (await api(side.local, "GET", `/api/executions/${started.body.executionId}`)).body;
  return { execution, calls: side.calls.slice(mark) };
}

async function state(side: Side) {
  const instances: Instance[] = [];
  for await (const page of paginateDescribeInstances({ client: side.ec2 }, {}))
    for (const r of page.Reservations ?? []) instances.push(...(r.Instances ?? []));
  const snapshots =
    (await side.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }))).Snapshots ?? [];
  const group = (
    await side.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] }))
  ).AutoScalingGroups?.[0];
  const address = (
    await side.ec2.send(new DescribeAddressesCommand({ AllocationIds: [side.seed.allocationId] }))
  ).Addresses?.[0];
  const record = (
    await side.r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: side.seed.hostedZoneId }))
  ).ResourceRecordSets?.find((r) => r.Name === `${RECORD}.` && r.Type === "A");
  const health = (
    await side.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: side.seed.targetGroupArn }))
  ).TargetHealthDescriptions;
  const tags = (t?: Array<{ Key?: string; Value?: string }>) =>
    Object.fromEntries((t ?? []).filter((x) => !x.Key?.startsWith("aws:")).map((x) => [x.Key, x.Value]));
  return {
    // The seed's own instances by name; the group's members (named by neither cloud) by state.
    instances: (instances ?? [])
      .filter((i) => side.seed.names.has(i.InstanceId ?? ""))
      .map((i) => ({
        name: side.seed.names.get(i.InstanceId ?? ""),
        type: i.InstanceType,
        state: i.State?.Name,
      }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name))),
    webMembers: (instances ?? [])
      .filter((i) => i.Tags?.some((t) => t.Key === "aws:autoscaling:groupName" && t.Value === "web"))
      .map((i) => `${i.InstanceType} ${i.State?.Name} ${JSON.stringify(tags(i.Tags))}`)
      .sort(),
    // Only snapshots of the seed's volumes (moto also holds its AMIs' snapshots).
    snapshots: snapshots
      .filter((s) => side.seed.names.has(s.VolumeId ?? ""))
      .map((s) => ({
        volume: side.seed.names.get(s.VolumeId ?? "") ?? "?",
        state: s.State,
        tags: tags(s.Tags),
      }))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    // Registered targets; moto never drains (AWS does, for the deregistration delay), so a draining one reads as gone.
    targetGroup: (health ?? [])
      .filter((h) => h.TargetHealth?.State !== "draining" && h.TargetHealth?.State !== "unused")
      .map((h) => side.seed.names.get(h.Target?.Id ?? "") ?? "?")
      .sort(),
    elasticIp: side.seed.names.get(address?.InstanceId ?? "") ?? address?.InstanceId ?? null,
    record: record?.ResourceRecords?.map((r) => side.seed.names.get(r.Value ?? "") ?? r.Value),
    web: {
      min: group?.MinSize,
      max: group?.MaxSize,
      desired: group?.DesiredCapacity,
      inService: group?.Instances?.filter((i) => i.LifecycleState === "InService").length,
    },
  };
}

let moto: Moto;
const sides: Partial<Record<Side["name"], Side>> = {};
const env: Record<string, string | undefined> = {};

async function startSide(name: Side["name"]): Promise<Side> {
  const calls: Call[] = [];
  // AWS's waits, compressed, but long enough that the runbook meets them even on a loaded machine.
  const cloud = new SimulatedCloud({ snapshotDurationMs: 1000, regions: [REGION, "us-west-2"] });
  const seed = name === "simulated" ? seedSimulated(cloud) : await seedMoto(moto);
  const local = await startLocal({
    config: configFor(seed),
    port: 0,
    quiet: true,
    dataDir: null,
    waitMs: 20,
    scheduler: false,
    cloud,
    decorateClient: recorder(calls),
  });
  const ec2 = new EC2Client({
    region: REGION,
    credentials,
    ...(name === "moto" ? { endpoint: moto.url } : {}),
  });
  const asg = new AutoScalingClient({
    region: REGION,
    credentials,
    ...(name === "moto" ? { endpoint: moto.url } : {}),
  });
  const elb = new ElasticLoadBalancingV2Client({
    region: REGION,
    credentials,
    ...(name === "moto" ? { endpoint: moto.url } : {}),
  });
  const r53 = new Route53Client({
    region: REGION,
    credentials,
    ...(name === "moto" ? { endpoint: moto.url } : {}),
  });
  if (name === "simulated") {
    cloud.attach(r53, "route53", REGION);
    cloud.attach(ec2, "ec2", REGION);
    cloud.attach(asg, "autoscaling", REGION);
    cloud.attach(elb, "elbv2", REGION);
  }
  return {
    name,
    local,
    calls,
    seed,
    ec2,
    asg,
    elb,
    r53,
    fail(service, operation, code, times) {
      if (name === "moto") moto.inject({ service, operation, code, times });
      else cloud.injectFault({ service, operation, kind: "error", code, times });
    },
    clearFaults() {
      if (name === "moto") moto.clearFaults();
      else cloud.clearFaults();
    },
  };
}

beforeAll(async () => {
  moto = await startMoto();
}, 60_000);

afterAll(async () => {
  for (const s of Object.values(sides)) await s?.local.stop();
  await moto?.stop();
  for (const [k, v] of Object.entries(env))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
});

/**
 * Local mode is one per process (the client factory and the env are global): the suite runs
 * every scenario on the simulated cloud, then on moto, then compares.
 */
describe.sequential("runbooks against the simulated cloud and moto", () => {
  const results: Record<string, Record<Side["name"], any>> = {};
  const timings: Record<string, number> = {};

  const SCENARIOS: Array<{
    key: string;
    runbook: string;
    params: unknown;
    dryRun?: boolean;
    fault?: [service: string, operation: string, code: string];
  }> = [
    {
      key: "backup-snapshot dry-run",
      runbook: "backup-snapshot",
      params: { selector: { tag: { Role: "db" } } },
      dryRun: true,
    },
    { key: "backup-snapshot", runbook: "backup-snapshot", params: { selector: { tag: { Role: "db" } } } },
    {
      key: "backup-snapshot, CreateSnapshot refused",
      runbook: "backup-snapshot",
      params: { selector: { tag: { Role: "db" } } },
      fault: ["ec2", "CreateSnapshot", "UnauthorizedOperation"],
    },
    {
      key: "scale dry-run",
      runbook: "scale",
      params: { autoScalingGroup: "web", change: "+1" },
      dryRun: true,
    },
    { key: "scale", runbook: "scale", params: { autoScalingGroup: "web", change: "+1" } },
    {
      key: "scale, SetDesiredCapacity refused",
      runbook: "scale",
      params: { autoScalingGroup: "web", change: "+1" },
      fault: ["autoscaling", "SetDesiredCapacity", "AccessDenied"],
    },
    { key: "patch dry-run", runbook: "patch", params: PATCH, dryRun: true },
    { key: "patch", runbook: "patch", params: PATCH },
    {
      key: "patch, SendCommand refused",
      runbook: "patch",
      params: PATCH,
      fault: ["ssm", "SendCommand", "AccessDeniedException"],
    },
    { key: "failover dry-run", runbook: "failover", params: { pair: "app" }, dryRun: true },
    { key: "failover", runbook: "failover", params: { pair: "app" } },
    {
      key: "failover back, Route 53 change refused",
      runbook: "failover",
      params: { pair: "app" },
      fault: ["route53", "ChangeResourceRecordSets", "AccessDenied"],
    },
  ];

  for (const name of ["simulated", "moto"] as const) {
    it(`runs every scenario on the ${name} cloud`, async () => {
      for (const s of Object.values(sides)) await s?.local.stop();
      if (name === "moto") {
        for (const k of [
          "REFLEX_CLOUD",
          ...CLOUD_SERVICES.map((s) => `REFLEX_ENDPOINT_${s.toUpperCase()}`),
        ]) {
          env[k] = process.env[k];
          process.env[k] = k === "REFLEX_CLOUD" ? "aws" : moto.url;
        }
      }
      const side = await startSide(name);
      sides[name] = side;
      for (const sc of SCENARIOS) {
        if (sc.fault) side.fail(...sc.fault);
        const t0 = performance.now();
        const { execution, calls } = await run(side, sc.runbook, sc.params, sc.dryRun ?? false);
        timings[`${name}: ${sc.key}`] = Math.round(performance.now() - t0);
        side.clearFaults();
        results[sc.key] ??= {} as Record<Side["name"], any>;
        const walk = normalizer(side.seed);
        results[sc.key][name] = {
          calls: callLines(calls, walk),
          result: walk({
            status: execution.status,
            error: execution.error,
            summary: execution.result?.summary ?? null,
          }),
          state: walk(await state(side)),
        };
      }
      await side.local.stop();
      sides[name] = undefined;
      if (process.env.REFLEX_DIFFERENTIAL_OUT)
        writeFileSync(
          process.env.REFLEX_DIFFERENTIAL_OUT,
          `${JSON.stringify({ results, timings }, null, 2)}\n`,
        );
    }, 120_000);
  }

  const count = (lines: string[], ops: string[]) => lines.filter((l) => ops.includes(l.split(" ")[0])).length;
  for (const [key, d] of Object.entries(KNOWN_DIFFERENCES)) {
    it(`${key}: the simulated cloud waits where AWS does and moto does not (${d.aws})`, () => {
      const { simulated, moto: onMoto } = results[key] ?? {};
      expect(count(simulated.calls, d.polls)).toBeGreaterThan(count(onMoto.calls, d.polls));
    });
  }

  for (const sc of SCENARIOS) {
    it(`${sc.key}: the same calls, final state and result on both clouds`, () => {
      const { simulated, moto: onMoto } = results[sc.key] ?? {};
      expect(simulated, "the simulated run").toBeDefined();
      expect(onMoto, "the moto run").toBeDefined();
      const calls = compareCalls(simulated.calls, onMoto.calls);

      expect(onMoto.result).toEqual(simulated.result);
      expect(calls.mutating[1]).toEqual(calls.mutating[0]);
      expect(calls.reads[1]).toEqual(calls.reads[0]);
      expect(onMoto.state).toEqual(simulated.state);
    });
  }
});
