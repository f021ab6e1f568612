/**
 * The simulated cloud's errors are the SDK's own exceptions, one service at a time: the
 * modelled class when the service models the code (whatever the class is called: ELBv2's
 * `InvalidTarget` code is `InvalidTargetException`), else the service's base exception named by
 * the code, with `$fault`, `$metadata.httpStatusCode` and (Query protocols) `Code` as the SDK
 * sets them when it deserializes AWS's answer.
 */
import * as AutoScaling from "@aws-sdk/client-auto-scaling";
import * as CloudWatch from "@aws-sdk/client-cloudwatch";
import * as EC2 from "@aws-sdk/client-ec2";
import * as ELBv2 from "@aws-sdk/client-elastic-load-balancing-v2";
import * as Route53 from "@aws-sdk/client-route-53";
import * as SSM from "@aws-sdk/client-ssm";
import { ConfiguredRetryStrategy } from "@smithy/core/retry";
import { beforeEach, describe, expect, it } from "vitest";
import { DEMO_PAIR, SimulatedCloud } from "./index.ts";
import { addTargetGroup } from "./patching-helpers.ts";

const credentials = { accessKeyId: "local", secretAccessKey: "local" };
const region = "us-east-1";
let cloud: SimulatedCloud;

function attached<C extends { middlewareStack: any; destroy(): void }>(
  Ctor: new (config: any) => C,
  service: string,
): C {
  const client = new Ctor({ region, credentials, retryStrategy: new ConfiguredRetryStrategy(3, 5) });
  cloud.attach(client, service, region);
  return client;
}

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to fail");
}

beforeEach(() => {
  cloud = SimulatedCloud.seeded({ clock: () => Date.parse("2026-03-01T12:00:00Z") });
  cloud.failover.seedDemoPair();
});

describe("EC2 (ec2Query: no modelled errors)", () => {
  it("raises EC2ServiceException named by the code, with Code, $fault and the status", async () => {
    const error = await rejection(
      attached(EC2.EC2Client, "ec2").send(
        new EC2.DescribeSnapshotsCommand({ SnapshotIds: ["snap-0000000000000dead"] }),
      ),
    );

    expect(error).toBeInstanceOf(EC2.EC2ServiceException);
    expect(error).toMatchObject({
      name: "InvalidSnapshot.NotFound",
      Code: "InvalidSnapshot.NotFound",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
    });
    expect(error.message).toMatch(/snap-0000000000000dead/);
  });

  it("throttles with RequestLimitExceeded, which the SDK retries as throttling", async () => {
    cloud.injectFault({ service: "ec2", operation: "DescribeVolumes", kind: "throttle" });
    const error = await rejection(attached(EC2.EC2Client, "ec2").send(new EC2.DescribeVolumesCommand({})));

    expect(error).toMatchObject({ name: "RequestLimitExceeded", $metadata: { attempts: 3 } });
  });
});

describe("Auto Scaling (awsQuery)", () => {
  it("raises the modelled InvalidNextToken class for a bad token", async () => {
    const error = await rejection(
      attached(AutoScaling.AutoScalingClient, "autoscaling").send(
        new AutoScaling.DescribeAutoScalingGroupsCommand({ NextToken: "not-a-token" }),
      ),
    );

    expect(error).toBeInstanceOf(AutoScaling.InvalidNextToken);
    expect(error).toMatchObject({ name: "InvalidNextToken", Code: "InvalidNextToken", $fault: "client" });
  });

  it("raises an unmodelled code (ValidationError) as AutoScalingServiceException named by it", async () => {
    const error = await rejection(
      attached(AutoScaling.AutoScalingClient, "autoscaling").send(
        new AutoScaling.SetDesiredCapacityCommand({ AutoScalingGroupName: "nope", DesiredCapacity: 1 }),
      ),
    );

    expect(error).toBeInstanceOf(AutoScaling.AutoScalingServiceException);
    expect(error).toMatchObject({
      name: "ValidationError",
      Code: "ValidationError",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
    });
  });
});

describe("ELBv2 (awsQuery: codes differ from class names)", () => {
  it("raises InvalidTargetException (Code InvalidTarget) for a target not registered", async () => {
    const arn = addTargetGroup(cloud, { name: "web-tg", instanceIds: [] });
    const error = await rejection(
      attached(ELBv2.ElasticLoadBalancingV2Client, "elbv2").send(
        new ELBv2.DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: "i-0123456789abcdef0" }] }),
      ),
    );

    expect(error).toBeInstanceOf(ELBv2.InvalidTargetException);
    expect(error).toMatchObject({
      name: "InvalidTargetException",
      Code: "InvalidTarget",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
    });
  });

  it("raises TargetGroupNotFoundException for an unknown group", async () => {
    const error = await rejection(
      attached(ELBv2.ElasticLoadBalancingV2Client, "elbv2").send(
        new ELBv2.DescribeTargetHealthCommand({
          TargetGroupArn:
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/none/0123456789abcdef",
        }),
      ),
    );

    expect(error).toBeInstanceOf(ELBv2.TargetGroupNotFoundException);
    expect(error).toMatchObject({ name: "TargetGroupNotFoundException", Code: "TargetGroupNotFound" });
  });
});

describe("SSM (awsJson1_1)", () => {
  it("raises the modelled InvalidInstanceId class for an instance SSM does not manage", async () => {
    const error = await rejection(
      attached(SSM.SSMClient, "ssm").send(
        new SSM.SendCommandCommand({
          DocumentName: "AWS-RunPatchBaseline",
          InstanceIds: ["i-0123456789abcdef0"],
        }),
      ),
    );

    expect(error).toBeInstanceOf(SSM.InvalidInstanceId);
    expect(error).toMatchObject({
      name: "InvalidInstanceId",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
    });
  });

  it("throttles with ThrottlingException, SSM's own modelled class", async () => {
    cloud.injectFault({ service: "ssm", operation: "DescribeInstanceInformation", kind: "throttle" });
    const error = await rejection(
      attached(SSM.SSMClient, "ssm").send(new SSM.DescribeInstanceInformationCommand({})),
    );

    expect(error).toBeInstanceOf(SSM.ThrottlingException);
    expect(error.$metadata.attempts).toBe(3);
  });
});

describe("Route 53 (restXml)", () => {
  it("raises the modelled NoSuchChange class with status 404", async () => {
    const error = await rejection(
      attached(Route53.Route53Client, "route53").send(new Route53.GetChangeCommand({ Id: "/change/CNOPE" })),
    );

    expect(error).toBeInstanceOf(Route53.NoSuchChange);
    expect(error).toMatchObject({
      name: "NoSuchChange",
      $fault: "client",
      $metadata: { httpStatusCode: 404 },
    });
  });

  it("raises the modelled InvalidChangeBatch class for a batch Route 53 refuses", async () => {
    const error = await rejection(
      attached(Route53.Route53Client, "route53").send(
        new Route53.ChangeResourceRecordSetsCommand({
          HostedZoneId: DEMO_PAIR.hostedZoneId,
          ChangeBatch: {
            Changes: [
              {
                Action: "DELETE",
                ResourceRecordSet: {
                  Name: "nope.example.com",
                  Type: "A",
                  TTL: 60,
                  ResourceRecords: [{ Value: "10.0.0.1" }],
                },
              },
            ],
          },
        }),
      ),
    );

    expect(error).toBeInstanceOf(Route53.InvalidChangeBatch);
    expect(error.$metadata.httpStatusCode).toBe(400);
  });
});

describe("CloudWatch (awsJson1_0, Query-compatible)", () => {
  it("raises the Query code ValidationError as the modelled ValidationException, keeping the Code", async () => {
    const now = Date.parse("2026-03-01T12:00:00Z");
    const error = await rejection(
      attached(CloudWatch.CloudWatchClient, "cloudwatch").send(
        new CloudWatch.GetMetricDataCommand({
          StartTime: new Date(now),
          EndTime: new Date(now),
          MetricDataQueries: [],
        }),
      ),
    );

    expect(error).toBeInstanceOf(CloudWatch.ValidationException);
    expect(error).toMatchObject({ name: "ValidationException", Code: "ValidationError", $fault: "client" });
  });

  it("raises a modelled Query code as its class (ResourceNotFound)", async () => {
    cloud.injectFault({
      service: "cloudwatch",
      operation: "DescribeAlarms",
      kind: "error",
      code: "ResourceNotFound",
    });
    const error = await rejection(
      attached(CloudWatch.CloudWatchClient, "cloudwatch").send(new CloudWatch.DescribeAlarmsCommand({})),
    );

    expect(error).toBeInstanceOf(CloudWatch.ResourceNotFound);
    expect(error).toMatchObject({ name: "ResourceNotFound", Code: "ResourceNotFound" });
  });
});

describe("every simulated service", () => {
  it.each([
    ["ec2", EC2.EC2Client, () => new EC2.DescribeInstancesCommand({}), EC2.EC2ServiceException],
    [
      "autoscaling",
      AutoScaling.AutoScalingClient,
      () => new AutoScaling.DescribeAutoScalingGroupsCommand({}),
      AutoScaling.AutoScalingServiceException,
    ],
    ["ssm", SSM.SSMClient, () => new SSM.DescribeInstanceInformationCommand({}), SSM.SSMServiceException],
    [
      "route53",
      Route53.Route53Client,
      () => new Route53.GetChangeCommand({ Id: "C1" }),
      Route53.Route53ServiceException,
    ],
    [
      "cloudwatch",
      CloudWatch.CloudWatchClient,
      () => new CloudWatch.DescribeAlarmsCommand({}),
      CloudWatch.CloudWatchServiceException,
    ],
    [
      "elbv2",
      ELBv2.ElasticLoadBalancingV2Client,
      () => new ELBv2.DescribeTargetGroupsCommand({}),
      ELBv2.ElasticLoadBalancingV2ServiceException,
    ],
  ] as const)(
    "%s: an unmodelled 500 is the base exception, a server fault, retried",
    async (service, Client, command, Base) => {
      cloud.injectFault({
        service,
        operation: "*",
        kind: "error",
        code: "SomethingNewError",
        httpStatusCode: 500,
      });
      const client: any = attached(Client as any, service);
      const error = await rejection(client.send(command()));

      expect(error).toBeInstanceOf(Base);
      expect(error).toMatchObject({
        name: "SomethingNewError",
        $fault: "server",
        $metadata: { httpStatusCode: 500, attempts: 3 },
      });
      expect(error.message).toBe(
        `Injected fault: SomethingNewError on ${service}:${command().constructor.name.replace(/Command$/, "")}`,
      );
    },
  );
});
