/**
 * Step Functions' AWS SDK integration (`arn:aws:states:::aws-sdk:<service>:<apiAction>`), run
 * locally: the same call through the same SDK v3 client from core's factory, so the simulated
 * cloud answers it (or a real account, with `REFLEX_CLOUD=aws`). Errors are named as Step
 * Functions names them, `<Service>.<ErrorCode>` (`Ssm.InvalidInstanceId`), for Retry and Catch.
 */
import { Aws } from "@reflex/core";

/** The SDK v3 client package and class of each service Step Functions' name stands for, and the factory's name for it. */
const CLIENTS: Record<string, { pkg: string; ctor: string; service: Aws.ServiceName }> = {
  ec2: { pkg: "@aws-sdk/client-ec2", ctor: "EC2Client", service: "ec2" },
  ssm: { pkg: "@aws-sdk/client-ssm", ctor: "SSMClient", service: "ssm" },
  autoscaling: { pkg: "@aws-sdk/client-auto-scaling", ctor: "AutoScalingClient", service: "autoscaling" },
  route53: { pkg: "@aws-sdk/client-route-53", ctor: "Route53Client", service: "route53" },
  cloudwatch: { pkg: "@aws-sdk/client-cloudwatch", ctor: "CloudWatchClient", service: "cloudwatch" },
  elasticloadbalancingv2: {
    pkg: "@aws-sdk/client-elastic-load-balancing-v2",
    ctor: "ElasticLoadBalancingV2Client",
    service: "elbv2",
  },
  s3: { pkg: "@aws-sdk/client-s3", ctor: "S3Client", service: "s3" },
};

/** True for a Task Resource this module runs. */
export function isSdkResource(resource: string | undefined): boolean {
  return /^arn:aws:states:::aws-sdk:[a-z0-9-]+:[A-Za-z0-9]+$/.test(resource ?? "");
}

/** The services local mode can call for an AWS SDK Task. */
export const SDK_TASK_SERVICES = Object.keys(CLIENTS);

/** Makes one AWS SDK integration call: `input` is the Task's effective Parameters. */
export async function callSdk(resource: string, input: unknown): Promise<unknown> {
  const [, , , , , , service, action] = resource.split(":");
  const known = CLIENTS[service];
  if (!known)
    throw Object.assign(new Error(`local mode cannot call ${service}:${action}`), { name: "States.Runtime" });
  const mod = (await import(known.pkg)) as Record<string, new (input: unknown) => unknown>;
  const Command = mod[`${action[0].toUpperCase()}${action.slice(1)}Command`];
  if (!Command)
    throw Object.assign(new Error(`${service} has no API action ${action}`), { name: "States.Runtime" });
  const client = Aws.client(mod[known.ctor] as never, known.service) as unknown as {
    send(c: unknown): Promise<Record<string, unknown>>;
  };
  try {
    const { $metadata: _, ...out } = await client.send(new Command(input ?? {}));
    return out;
  } catch (err) {
    const e = err as Error & { Code?: string };
    const prefix = service[0].toUpperCase() + service.slice(1);
    e.name = `${prefix}.${e.Code ?? e.name}`;
    throw e;
  }
}
