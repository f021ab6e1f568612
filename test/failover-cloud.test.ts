/**
 * The simulated account's Elastic IPs, Route 53, status checks, CloudWatch and probes, through
 * the real SDK v3 clients (as failover's steps call them).
 */
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import {
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeInstanceStatusCommand,
  EC2Client,
  StopInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from "@aws-sdk/client-route-53";
import { beforeEach, describe, expect, it } from "vitest";
import * as Aws from "../packages/core/src/aws.ts";
import { probeHealth } from "../packages/core/src/runbooks/failover/probe.ts";
import { DEMO_PAIR as D, SimulatedCloud } from "../packages/local/src/cloud/index.ts";

const credentials = { accessKeyId: "local", secretAccessKey: "local" };
let now = Date.parse("2026-11-30T12:00:00Z");
let cloud: SimulatedCloud;
let ec2: EC2Client;
let r53: Route53Client;
let cw: CloudWatchClient;

beforeEach(() => {
  now = Date.parse("2026-11-30T12:00:00Z");
  cloud = SimulatedCloud.seeded({ clock: () => now });
  cloud.failover.seedDemoPair();
  ec2 = new EC2Client({ region: "us-east-1", credentials });
  r53 = new Route53Client({ region: "us-east-1", credentials });
  cw = new CloudWatchClient({ region: "us-east-1", credentials });
  cloud.attach(ec2, "ec2", "us-east-1");
  cloud.attach(r53, "route53", "us-east-1");
  cloud.attach(cw, "cloudwatch", "us-east-1");
});

const upsert = (value: string) =>
  new ChangeResourceRecordSetsCommand({
    HostedZoneId: D.hostedZoneId,
    ChangeBatch: {
      Changes: [
        {
          Action: "UPSERT",
          ResourceRecordSet: { Name: D.record, Type: "A", TTL: 60, ResourceRecords: [{ Value: value }] },
        },
      ],
    },
  });

describe("Elastic IPs", () => {
  it("refuses to move an associated address without AllowReassociation, and moves it with", async () => {
    const move = (allow: boolean) =>
      ec2.send(
        new AssociateAddressCommand({
          AllocationId: D.allocationId,
          InstanceId: D.standby.instance,
          AllowReassociation: allow,
        }),
      );

    await expect(move(false)).rejects.toMatchObject({ name: "Resource.AlreadyAssociated" });
    await move(true);
    const { Addresses } = await ec2.send(new DescribeAddressesCommand({ AllocationIds: [D.allocationId] }));

    expect(Addresses?.[0]).toMatchObject({
      PublicIp: D.publicIp,
      InstanceId: D.standby.instance,
      PrivateIpAddress: D.standby.privateIp,
    });
  });
});

describe("Route 53", () => {
  it("reports a change PENDING until the INSYNC delay has passed, then INSYNC", async () => {
    cloud.failover.setInsyncDelay(30_000);

    const { ChangeInfo } = await r53.send(upsert(D.standby.privateIp));
    const status = async () =>
      (await r53.send(new GetChangeCommand({ Id: ChangeInfo!.Id }))).ChangeInfo?.Status;

    expect(ChangeInfo?.Status).toBe("PENDING");
    now += 29_999;
    expect(await status()).toBe("PENDING");
    now += 1;
    expect(await status()).toBe("INSYNC");
  });

  it("reports a change PENDING by default, as AWS does, and INSYNC a (compressed) second later", async () => {
    const { ChangeInfo } = await r53.send(upsert(D.standby.privateIp));
    const status = async () =>
      (await r53.send(new GetChangeCommand({ Id: ChangeInfo!.Id }))).ChangeInfo?.Status;

    expect(ChangeInfo?.Status).toBe("PENDING");
    now += 999;
    expect(await status()).toBe("PENDING");
    now += 1;
    expect(await status()).toBe("INSYNC");
  });

  it("applies an UPSERT to the record set, and lists it with the trailing dot", async () => {
    await r53.send(upsert(D.standby.privateIp));

    const out = await r53.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: D.hostedZoneId,
        StartRecordName: D.record,
        StartRecordType: "A",
        MaxItems: 1,
      }),
    );

    expect(out.ResourceRecordSets).toEqual([
      { Name: `${D.record}.`, Type: "A", TTL: 60, ResourceRecords: [{ Value: D.standby.privateIp }] },
    ]);
  });

  it("refuses a record outside the zone and a CREATE of an existing set, changing nothing", async () => {
    const outside = new ChangeResourceRecordSetsCommand({
      HostedZoneId: D.hostedZoneId,
      ChangeBatch: {
        Changes: [
          {
            Action: "UPSERT",
            ResourceRecordSet: {
              Name: "app.example.com",
              Type: "A",
              TTL: 60,
              ResourceRecords: [{ Value: "1.2.3.4" }],
            },
          },
          {
            Action: "CREATE",
            ResourceRecordSet: {
              Name: D.record,
              Type: "A",
              TTL: 60,
              ResourceRecords: [{ Value: "1.2.3.4" }],
            },
          },
        ],
      },
    });

    await expect(r53.send(outside)).rejects.toMatchObject({ name: "InvalidChangeBatch" });
    expect(cloud.failover.recordValues(D.hostedZoneId, D.record)).toEqual([D.primary.privateIp]);
  });
});

describe("status checks, alarms, metrics and probes", () => {
  it("reports status checks ok for a running instance until a test impairs them", async () => {
    const status = async () =>
      (await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [D.standby.instance] })))
        .InstanceStatuses?.[0];

    expect((await status())?.InstanceStatus?.Status).toBe("ok");
    cloud.failover.setStatusChecks(D.standby.instance, { system: "impaired" });
    expect((await status())?.SystemStatus?.Status).toBe("impaired");
  });

  it("answers DescribeAlarms and GetMetricData with what a test set", async () => {
    cloud.failover.setAlarm("app-b-health", "ALARM", "probe failing");
    cloud.failover.putMetric({
      namespace: "Reflex/Demo",
      metricName: "ReplicationLagSeconds",
      dimensions: { InstanceId: D.standby.instance },
      value: 45,
    });

    const alarms = await cw.send(new DescribeAlarmsCommand({ AlarmNames: ["app-b-health"] }));
    const data = await cw.send(
      new GetMetricDataCommand({
        StartTime: new Date(now - 300_000),
        EndTime: new Date(now + 1),
        MetricDataQueries: [
          {
            Id: "lag",
            MetricStat: {
              Metric: {
                Namespace: "Reflex/Demo",
                MetricName: "ReplicationLagSeconds",
                Dimensions: [{ Name: "InstanceId", Value: D.standby.instance }],
              },
              Period: 60,
              Stat: "Maximum",
            },
          },
        ],
      }),
    );

    expect(alarms.MetricAlarms?.[0]).toMatchObject({ AlarmName: "app-b-health", StateValue: "ALARM" });
    expect(data.MetricDataResults?.[0].Values).toEqual([45]);
  });

  it("lists composite alarms only when DescribeAlarms asks for them, as AWS does", async () => {
    cloud.failover.setAlarm("app-composite", "OK", "all children OK", undefined, { composite: true });

    const plain = await cw.send(new DescribeAlarmsCommand({ AlarmNames: ["app-composite"] }));
    const both = await cw.send(
      new DescribeAlarmsCommand({
        AlarmNames: ["app-composite"],
        AlarmTypes: ["MetricAlarm", "CompositeAlarm"],
      }),
    );

    expect(plain.MetricAlarms).toEqual([]);
    expect(plain.CompositeAlarms).toEqual([]);
    expect(both.CompositeAlarms?.[0]).toMatchObject({ AlarmName: "app-composite", StateValue: "OK" });
  });

  it("passes a health probe on a composite alarm that is OK (defect 4: it read as missing)", async () => {
    cloud.failover.setAlarm("app-composite", "OK", "all children OK", undefined, { composite: true });
    Aws.configure({ decorate: (service, client, region) => cloud.attach(client, service, region) });
    try {
      const result = await probeHealth({ alarm: "app-composite" }, "us-east-1");

      expect(result).toEqual({ ok: true, detail: "alarm app-composite is OK (all children OK)" });
    } finally {
      Aws.configure({});
    }
  });

  it("fails a probe after the healthy answers a test allows, and refuses a stopped instance's", async () => {
    const url = "http://app-b.internal/health";
    cloud.failover.failProbe(url, { status: 503, after: 1 });

    expect(await cloud.failover.probe(url)).toEqual({ status: 200 });
    expect(await cloud.failover.probe(url)).toEqual({ status: 503 });
    await ec2.send(new StopInstancesCommand({ InstanceIds: [D.primary.instance] }));
    await expect(cloud.failover.probe("http://app-a.internal/health")).rejects.toThrow(/ECONNREFUSED/);
  });
});
