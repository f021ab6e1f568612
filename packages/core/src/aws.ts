/**
 * The one AWS client factory. Every module gets its clients here, so local mode and tests
 * change *endpoints* (or attach the simulated cloud as middleware), never implementations.
 *
 * Endpoints come from the environment (`REFLEX_ENDPOINT_<SERVICE>`, e.g.
 * `REFLEX_ENDPOINT_DYNAMODB=http://127.0.0.1:4567`) or from {@link configure}. Clients are
 * built once per (service, region) and cached; `configure` drops the cache.
 *
 * Callers pass the client class so a Lambda bundle only contains the clients it uses.
 *
 * @example
 * import { EC2Client } from "@aws-sdk/client-ec2";
 * const ec2 = Aws.client(EC2Client, "ec2", "eu-west-1");
 */
import { region as defaultRegion } from "./env.ts";

/** Every service the factory builds clients for. */
export const SERVICES = [
  "dynamodb",
  "s3",
  "sfn",
  "ec2",
  "autoscaling",
  "eventbridge",
  "ssm",
  "elbv2",
  "scheduler",
  "route53",
  "cloudwatch",
  "lambda",
  "sqs",
  "kms",
  "ecs",
  "application-autoscaling",
  "rds",
  // The estate's DynamoDB tables (backups), apart from `dynamodb`, Reflex's own state: local
  // mode keeps that in dynalite and answers this one from the simulated cloud.
  "dynamodb-tables",
] as const;

export type ServiceName = (typeof SERVICES)[number];

/** The middleware that checks where a request goes, right before it is sent. */
export const GUARD_MIDDLEWARE = "reflexEndpointGuard";

/** The slice of an SDK v3 client the factory relies on. */
export interface SdkClient {
  // Methods, whose parameters TypeScript compares both ways: each client's stack is generic in
  // its own input and output types, which no one signature here could name.
  middlewareStack: {
    add(middleware: unknown, options: unknown): void;
    addRelativeTo(middleware: unknown, options: unknown): void;
  };
  destroy(): void;
}

export interface AwsOptions {
  /** Per-service endpoint overrides (local mode: dynalite, s3rver, the local Step Functions API). */
  endpoints?: Partial<Record<ServiceName, string>>;
  /** Per-service credentials (local mode: s3rver only accepts its own fixed key). */
  credentials?: Partial<Record<ServiceName, { accessKeyId: string; secretAccessKey: string }>>;
  /** Called on every new client: local mode attaches the simulated cloud here. */
  decorate?: (service: ServiceName, client: SdkClient, region: string) => void;
  /**
   * Checked on every request a client is about to send (the last step before the wire, so a
   * call the simulated cloud answers in-process never reaches it): returns why the request may
   * not go to that host, or undefined to let it go. Local mode allows only 127.0.0.1 (and AWS
   * for the cloud services with `REFLEX_CLOUD=aws`), and once stopped, nothing.
   */
  guard?: (service: ServiceName, hostname: string) => string | undefined;
}

/** The error a refused request fails with: not retryable, and says where it would have gone. */
export class EndpointRefusedError extends Error {
  readonly $fault = "client";
  constructor(
    readonly service: ServiceName,
    readonly hostname: string,
    reason: string,
  ) {
    super(`refused to send ${service} request to ${hostname}: ${reason}`);
    this.name = "EndpointRefusedError";
  }
}

let options: AwsOptions = {};
const cache = new Map<string, SdkClient>();

/** Replaces the factory's options and forgets every cached client. */
export function configure(next: AwsOptions): void {
  for (const c of cache.values()) c.destroy();
  cache.clear();
  options = next;
}

/** `REFLEX_ENDPOINT_<SERVICE>`, a shell-safe name (`dynamodb-tables` → `REFLEX_ENDPOINT_DYNAMODB_TABLES`). */
export const envName = (service: string) => `REFLEX_ENDPOINT_${service.toUpperCase().replace(/-/g, "_")}`;

/** The endpoint for a service: configured, else `REFLEX_ENDPOINT_<SERVICE>`, else AWS's own. */
export function endpointFor(service: ServiceName): string | undefined {
  return options.endpoints?.[service] ?? process.env[envName(service)] ?? undefined;
}

/**
 * The factory's credentials and guard for a service, for the one caller that signs its own
 * requests instead of building a client (`aws-signed.ts`, the Slack acknowledgement's path).
 */
export function settingsFor(service: ServiceName): {
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  guard?: AwsOptions["guard"];
} {
  return { credentials: options.credentials?.[service], guard: options.guard };
}

/** Returns the cached client for a service and region, building it on first use. */
export function client<C extends SdkClient>(
  Ctor: new (config: Record<string, unknown>) => C,
  service: ServiceName,
  region: string = defaultRegion(),
): C {
  const key = `${service}:${region}`;
  const hit = cache.get(key);
  if (hit) return hit as C;
  const endpoint = endpointFor(service);
  const config: Record<string, unknown> = { region, maxAttempts: 4 };
  if (endpoint) config.endpoint = endpoint;
  const credentials = options.credentials?.[service];
  if (credentials) config.credentials = credentials;
  if (service === "s3") {
    // s3rver needs path-style URLs, and streamed bodies would otherwise be stored with chunk framing.
    config.forcePathStyle = Boolean(endpoint);
    config.requestChecksumCalculation = "WHEN_REQUIRED";
    config.responseChecksumValidation = "WHEN_REQUIRED";
  }
  const built = new Ctor(config);
  const guard = options.guard;
  if (guard)
    // Innermost (deserialize step, low priority): it sees the request exactly as it would be sent.
    built.middlewareStack.add(
      (next: (args: unknown) => Promise<unknown>) => async (args: { request?: { hostname?: string } }) => {
        const hostname = String(args.request?.hostname ?? "");
        const refused = guard(service, hostname);
        if (refused) throw new EndpointRefusedError(service, hostname, refused);
        return next(args);
      },
      { step: "deserialize", priority: "low", name: GUARD_MIDDLEWARE, override: true },
    );
  options.decorate?.(service, built, region);
  cache.set(key, built);
  return built;
}
