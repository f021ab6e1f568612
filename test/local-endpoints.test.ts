/**
 * Local mode stays local: every client the AWS factory builds reaches 127.0.0.1 or the
 * simulated cloud, a service with no local endpoint is refused rather than sent to AWS, and
 * once local mode stops nothing is sent anywhere. Stopping drains Slack work first: what has
 * started finishes against the store, what has not is dropped, none of it reaches for AWS.
 */
import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
} from "@aws-sdk/client-application-auto-scaling";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { ECSClient, ListClustersCommand } from "@aws-sdk/client-ecs";
import {
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { EventBridgeClient, ListRulesCommand } from "@aws-sdk/client-eventbridge";
import { KMSClient, ListKeysCommand } from "@aws-sdk/client-kms";
import { LambdaClient, ListFunctionsCommand } from "@aws-sdk/client-lambda";
import { ListRootsCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { DescribeDBInstancesCommand, RDSClient } from "@aws-sdk/client-rds";
import { ListHostedZonesCommand, Route53Client } from "@aws-sdk/client-route-53";
import { ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import { ListStateMachinesCommand, SFNClient } from "@aws-sdk/client-sfn";
import { ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DescribeInstanceInformationCommand, SSMClient } from "@aws-sdk/client-ssm";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { Aws, ChatOps } from "@reflex/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { SlackWork } from "../packages/local/src/slack-work.ts";
import { startTestLocal } from "./support/local.ts";

type Probe = {
  Client: new (config: any) => Aws.SdkClient & { send(c: unknown): Promise<unknown> };
  call: () => unknown;
};

/**
 * One client and one harmless call per service the factory knows. A Record over
 * `Aws.ServiceName`: a service added to the factory without a line here does not compile.
 * No Scheduler client is installed; one built under that name shows where it would be sent.
 */
const PROBES: Record<Aws.ServiceName, Probe> = {
  dynamodb: { Client: DynamoDBClient, call: () => new ListTablesCommand({}) },
  s3: { Client: S3Client, call: () => new ListBucketsCommand({}) },
  sfn: { Client: SFNClient, call: () => new ListStateMachinesCommand({}) },
  eventbridge: { Client: EventBridgeClient, call: () => new ListRulesCommand({}) },
  ec2: { Client: EC2Client, call: () => new DescribeInstancesCommand({}) },
  autoscaling: { Client: AutoScalingClient, call: () => new DescribeAutoScalingGroupsCommand({}) },
  ssm: { Client: SSMClient, call: () => new DescribeInstanceInformationCommand({}) },
  elbv2: { Client: ElasticLoadBalancingV2Client, call: () => new DescribeTargetGroupsCommand({}) },
  route53: { Client: Route53Client, call: () => new ListHostedZonesCommand({}) },
  cloudwatch: { Client: CloudWatchClient, call: () => new DescribeAlarmsCommand({}) },
  lambda: { Client: LambdaClient, call: () => new ListFunctionsCommand({}) },
  ecs: { Client: ECSClient, call: () => new ListClustersCommand({}) },
  "application-autoscaling": {
    Client: ApplicationAutoScalingClient,
    call: () => new DescribeScalableTargetsCommand({ ServiceNamespace: "ecs" }),
  },
  // Local mode hands audit entries to the writer in-process: its queue is never reached.
  sqs: { Client: SQSClient, call: () => new ListQueuesCommand({}) },
  scheduler: { Client: EventBridgeClient, call: () => new ListRulesCommand({}) },
  // Local mode seals the audit trail with a key under .reflex/keys: KMS is never reached.
  kms: { Client: KMSClient, call: () => new ListKeysCommand({}) },
  rds: { Client: RDSClient, call: () => new DescribeDBInstancesCommand({}) },
  // The estate's tables: the simulated cloud answers them, never dynalite (Reflex's own state).
  "dynamodb-tables": { Client: DynamoDBClient, call: () => new ListTablesCommand({}) },
  // Simulated: the hub's STS assumes the member accounts' roles (--accounts).
  sts: { Client: STSClient, call: () => new GetCallerIdentityCommand({}) },
  organizations: { Client: OrganizationsClient, call: () => new ListRootsCommand({}) },
};

type Outcome = "simulated" | "loopback" | "refused";

/**
 * Sends each service's call through the factory's client, watching the wire: a request that
 * would leave for a host other than 127.0.0.1 is stopped here (never sent) and reported.
 */
async function whereEachGoes(): Promise<
  Record<string, { outcome: Outcome | `sent to ${string}`; why?: string }>
> {
  const out: Record<string, { outcome: Outcome | `sent to ${string}`; why?: string }> = {};
  for (const service of Aws.SERVICES) {
    const probe = PROBES[service];
    const client = Aws.client(probe.Client, service);
    let sentTo: string | undefined;
    client.middlewareStack.add(
      (next: (a: any) => Promise<unknown>) => async (args: { request: { hostname: string } }) => {
        sentTo = args.request.hostname;
        if (sentTo !== "127.0.0.1") throw new Error(`the test stopped a request to ${sentTo}`);
        return next(args);
      },
      { step: "deserialize", priority: "low", name: "testWire", override: true },
    );
    let error: Error | undefined;
    await client.send(probe.call()).catch((e: Error) => {
      error = e;
    });
    if (error?.name === "EndpointRefusedError") out[service] = { outcome: "refused", why: error.message };
    else if (sentTo === undefined) out[service] = { outcome: "simulated" };
    else if (sentTo === "127.0.0.1") out[service] = { outcome: "loopback" };
    else out[service] = { outcome: `sent to ${sentTo}` };
  }
  return out;
}

describe("local mode's AWS endpoints", () => {
  let local: LocalMode | undefined;
  afterEach(async () => {
    await local?.stop();
    local = undefined;
    delete process.env.REFLEX_CLOUD;
  });

  it("sends every client's requests to 127.0.0.1 or the simulated cloud, and refuses the services with no local endpoint", async () => {
    local = await startTestLocal();
    const outcomes = Object.fromEntries(
      Object.entries(await whereEachGoes()).map(([s, o]) => [s, o.outcome]),
    );
    expect(outcomes).toEqual({
      dynamodb: "loopback",
      s3: "loopback",
      sfn: "loopback",
      eventbridge: "loopback",
      ec2: "simulated",
      autoscaling: "simulated",
      ssm: "simulated",
      elbv2: "simulated",
      route53: "simulated",
      cloudwatch: "simulated",
      ecs: "simulated",
      "application-autoscaling": "simulated",
      lambda: "simulated",
      rds: "simulated",
      "dynamodb-tables": "simulated",
      sqs: "refused",
      scheduler: "refused",
      kms: "refused",
      sts: "simulated",
      organizations: "simulated",
    });
  });

  it("with REFLEX_CLOUD=aws lets only the cloud services go to AWS", async () => {
    process.env.REFLEX_CLOUD = "aws";
    local = await startTestLocal();
    const where = await whereEachGoes();
    for (const s of [
      "ec2",
      "autoscaling",
      "ssm",
      "elbv2",
      "route53",
      "cloudwatch",
      "ecs",
      "application-autoscaling",
      "lambda",
      "rds",
      "dynamodb-tables",
      "sts",
      "organizations",
    ])
      expect(where[s].outcome, s).toMatch(/^sent to [a-z0-9.-]+\.amazonaws\.com$/);
    for (const s of ["dynamodb", "s3", "sfn", "eventbridge"]) expect(where[s].outcome, s).toBe("loopback");
    expect(where.sqs).toMatchObject({
      outcome: "refused",
      why: expect.stringMatching(/only for the cloud services/),
    });
    expect(where.scheduler.outcome).toBe("refused");
    expect(where.sqs.outcome).toBe("refused");
    expect(where.kms.outcome).toBe("refused");
  });

  it("sends nothing anywhere once local mode has stopped", async () => {
    const stopped = await startTestLocal();
    await stopped.stop();
    const where = await whereEachGoes();
    for (const service of Aws.SERVICES)
      expect(where[service], service).toMatchObject({
        outcome: "refused",
        why: expect.stringMatching(/local mode has stopped/),
      });
  });
});

describe("stopping local mode with Slack work queued", () => {
  it("drops work that has not started and waits for work that has", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const ran: number[] = [];
    let finished = false;
    const work = new SlackWork(async (n: number) => {
      ran.push(n);
      if (n === 1) {
        await gate;
        finished = true;
      }
    });
    work.add(1);
    await vi.waitFor(() => expect(ran).toEqual([1]));
    work.add(2); // queued: starts on the next turn of the event loop
    const stopping = work.stop();
    let stopDone = false;
    void stopping.then(() => {
      stopDone = true;
    });
    await new Promise((r) => setImmediate(r));
    expect([stopDone, work.add(3)]).toEqual([false, false]);
    release();
    await stopping;
    expect({ ran, finished, dropped: work.dropped }).toEqual({ ran: [1], finished: true, dropped: 1 });
  });

  it("answers every Slack request sent while it stops, finishes or drops its work, and nothing fails", async () => {
    const SECRET = "stop-secret";
    process.env.SLACK_SIGNING_SECRET = SECRET;
    const errors: unknown[][] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((...args) => void errors.push(args));
    try {
      const local = await startTestLocal({ environment: "local" });
      const send = (i: number) => {
        const body = new URLSearchParams({
          user_id: "U123",
          channel_id: "C1",
          text: "whoami",
          response_url: `https://hooks.slack.com/commands/T1/1/stop-${i}`,
        }).toString();
        const ts = Math.floor(Date.now() / 1000);
        return fetch(`${local.url}/slack/commands`, {
          method: "POST",
          headers: {
            "x-slack-request-timestamp": String(ts),
            "x-slack-signature": ChatOps.Signature.sign(SECRET, ts, body),
          },
          body,
        }).then(
          (r) => r.status,
          () => "closed",
        );
      };
      const sent = Array.from({ length: 30 }, (_, i) => send(i));
      await Promise.race(sent);
      await local.stop();
      const statuses = await Promise.all(sent);
      expect(
        statuses.every((s) => s === 200 || s === 503 || s === "closed"),
        String(statuses),
      ).toBe(true);
      const failures = errors.filter((a) =>
        /slack work failed|ENOTFOUND|amazonaws|Database is closed/.test(a.map(String).join(" ")),
      );
      expect(failures).toEqual([]);
      const answered = local.outbox.list({ limit: 1000 }).filter((e) => e.kind === "response").length;
      expect(answered).toBeLessThanOrEqual(statuses.filter((s) => s === 200).length);
    } finally {
      spy.mockRestore();
      delete process.env.SLACK_SIGNING_SECRET;
    }
  });
});
