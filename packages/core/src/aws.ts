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
import { AsyncLocalStorage } from "node:async_hooks";
import { region as defaultRegion } from "./env.ts";
import { StepExecutionError } from "./errors.ts";
import { Sha256 } from "./sha256.ts";

/**
 * STS's limit for a role-chained session (a Lambda's role assuming another role): one hour.
 * Here, not in accounts.ts, so the client factory (in the Slack ack's bundle) does not pull in
 * the accounts schema.
 */
export const MAX_SESSION_SECONDS = 3600;

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
  "sts",
  // AWS Organizations (config `organization`): the hub lists an OU's accounts; never a member's.
  "organizations",
] as const;

export type ServiceName = (typeof SERVICES)[number];

/**
 * Services that are Reflex's own, in the hub account (its tables, bus, queues, state machines,
 * reports bucket, STS itself): a step acting in a member account still reaches these with the
 * hub's credentials. Every other service is the cloud a runbook acts on, so inside a location
 * (`withStep` with a location) it is reached with the member account's credentials.
 */
export const HUB_SERVICES: readonly ServiceName[] = [
  "dynamodb",
  "s3",
  "sfn",
  "eventbridge",
  "scheduler",
  "sqs",
  "sts",
  "organizations",
];

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
  decorate?: (service: ServiceName, client: SdkClient, region: string, account?: string) => void;
  /**
   * Checked on every request a client is about to send (the last step before the wire, so a
   * call the simulated cloud answers in-process never reaches it): returns why the request may
   * not go to that host, or undefined to let it go. Local mode allows only 127.0.0.1 (and AWS
   * for the cloud services with `REFLEX_CLOUD=aws`), and once stopped, nothing.
   */
  guard?: (service: ServiceName, hostname: string) => string | undefined;
  /** Member-account sessions: their length (≤ 3,600 s, STS's limit for role chaining), refresh margin, clock. */
  sessions?: SessionSettings;
}

export interface SessionSettings {
  /** `DurationSeconds` asked of AssumeRole. Default (and most) 3,600. */
  seconds?: number;
  /** A session this close to its expiry is renewed before the next call. Default 5 minutes. */
  refreshBeforeMs?: number;
  /** The clock expiry is judged by (tests move it). Default `Date.now`. */
  now?: () => number;
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
  for (const c of hubScope.clients.values()) c.destroy();
  hubScope.clients.clear();
  hubScope.credentials.clear();
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
  asked?: string,
): C {
  // Inside a step that acts in a member account, the cloud it acts on is that account's, in
  // the location's Region unless the caller names another (a DR copy's destination).
  // (Reflex's own services first: they are asked for on every state request, and never a member's.)
  if (!HUB_SERVICES.includes(service)) {
    const step = steps.getStore();
    if (step?.location)
      return clientsFor(step.location.account, asked ?? step.location.region).client(Ctor, service);
  }
  const region = asked ?? defaultRegion();
  const key = `${service}:${region}`;
  const hit = cache.get(key);
  if (hit) return hit as C;
  const built = build(Ctor, service, region, options.credentials?.[service]);
  cache.set(key, built);
  return built;
}

function build<C extends SdkClient>(
  Ctor: new (config: Record<string, unknown>) => C,
  service: ServiceName,
  region: string,
  credentials: unknown,
  account?: string,
): C {
  const endpoint = endpointFor(service);
  const config: Record<string, unknown> = { region, maxAttempts: 4 };
  if (endpoint) config.endpoint = endpoint;
  if (credentials) config.credentials = credentials;
  // The same signatures as the SDK's own hash, with the signing key's key object made once
  // (sha256.ts). S3 keeps the SDK's: it hashes streamed bodies, which this one was not measured on.
  if (service !== "s3") config.sha256 = Sha256;
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
  options.decorate?.(service, built, region, account);
  return built;
}

/** A member account as the client factory needs it: its id, the role to assume, the external id. */
export interface MemberAccount {
  id: string;
  roleArn: string;
  externalId?: string;
}

/** Credentials as the SDK takes them from a provider. */
export interface SessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** An SDK credential provider; `memoized` tells the SDK it caches itself (so ours decides when to renew). */
type CredentialProvider = (() => Promise<SessionCredentials>) & { memoized?: boolean };

/** One step's credentials and member clients: made on first use, dropped when the step ends. */
interface StepScope {
  executionId?: string;
  location?: { account: MemberAccount; region: string };
  credentials: Map<string, CredentialProvider>;
  clients: Map<string, SdkClient>;
}

const steps = new AsyncLocalStorage<StepScope>();
/** Calls made outside any step (`reflex accounts check`): sessions named `reflex-hub`, kept for the process. */
const hubScope: StepScope = { credentials: new Map(), clients: new Map() };

/** The session name a member account sees (and may log) for a step's calls: `reflex-<executionId>`. */
export function sessionName(executionId: string | undefined): string {
  const id = (executionId ?? "hub").replace(/[^\w+=,.@-]/g, "-");
  // STS takes 64 characters; an id's unique part (stamp, random, child index) is its tail, so a
  // long one keeps that and loses the runbook name's end, never two runs' sessions one name.
  return `reflex-${id.length > 57 ? id.slice(-57) : id}`;
}

/**
 * Runs one step: member-account credentials it needs are assumed once (session
 * `reflex-<executionId>`) and kept for the step, renewed before they expire, and dropped with
 * the step's clients when it ends. With a location, the step's cloud calls (every service but
 * {@link HUB_SERVICES}) go to that account, whatever module makes them.
 *
 * @example
 * await Aws.withStep(execution.id, { account, region: "eu-west-1" }, () => steps.plan(input, ctx));
 */
export async function withStep<T>(
  executionId: string,
  location: { account: MemberAccount; region: string } | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const scope: StepScope = { executionId, location, credentials: new Map(), clients: new Map() };
  try {
    return await steps.run(scope, fn);
  } finally {
    for (const c of scope.clients.values()) c.destroy();
  }
}

/** The location the current step acts in, if any. */
export function currentLocation(): { account: string; region: string } | undefined {
  const location = steps.getStore()?.location;
  return location ? { account: location.account.id, region: location.region } : undefined;
}

type StsModule = typeof import("@aws-sdk/client-sts");
let loadSts: (() => Promise<StsModule>) | undefined;

/**
 * How to load STS's client, set by aws-sts.ts, which what reaches member accounts imports (the
 * step runner, `reflex accounts check`): the Slack ack imports this module for its table and
 * would otherwise carry the STS client in its bundle (test/chatops.test.ts).
 */
export function useSts(load: () => Promise<StsModule>): void {
  loadSts = load;
}

function assumeRoleProvider(account: MemberAccount, session: string): CredentialProvider {
  const settings = options.sessions ?? {};
  const seconds = Math.min(settings.seconds ?? MAX_SESSION_SECONDS, MAX_SESSION_SECONDS);
  const margin = settings.refreshBeforeMs ?? 300_000;
  const now = settings.now ?? Date.now;
  let current: SessionCredentials | undefined;
  let pending: Promise<SessionCredentials> | undefined;
  const assume = async (): Promise<SessionCredentials> => {
    // STS is the hub's: the hub's own credentials ask for the member's. Its client comes from
    // aws-sts.ts (see useSts), so a bundle that never acts in a member account holds none.
    if (!loadSts)
      throw new Error(
        "STS is not loaded: import @reflex/core's aws-sts.ts where member accounts are reached",
      );
    const { AssumeRoleCommand, STSClient } = await loadSts();
    const sts = client(STSClient, "sts", defaultRegion());
    try {
      const out = await sts.send(
        new AssumeRoleCommand({
          RoleArn: account.roleArn,
          RoleSessionName: session,
          DurationSeconds: seconds,
          ...(account.externalId ? { ExternalId: account.externalId } : {}),
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error("AssumeRole returned no credentials");
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration,
      };
    } catch (err) {
      const e = err as Error & { name?: string };
      throw new StepExecutionError(
        "AssumeRoleFailed",
        `cannot assume ${account.roleArn} in account ${account.id} (session ${session}): ${e.name}: ${e.message}`,
        { cause: err },
      );
    }
  };
  const provider: CredentialProvider = async () => {
    const expires = current?.expiration?.getTime();
    if (current && (expires === undefined || expires - now() > margin)) return current;
    pending ??= assume().finally(() => {
      pending = undefined;
    });
    current = await pending;
    return current;
  };
  provider.memoized = true;
  return provider;
}

/** Clients for one member account and Region, with that account's credentials. */
export interface AccountClients {
  account: string;
  region: string;
  /** The session's credentials (assumed on first use, renewed before they expire). */
  credentials(): Promise<SessionCredentials>;
  client<C extends SdkClient>(Ctor: new (config: Record<string, unknown>) => C, service: ServiceName): C;
}

/**
 * Clients for a member account and Region: STS `AssumeRole` of the account's role, with
 * `RoleSessionName = reflex-<executionId>` (the step's), its `ExternalId`, at most 3,600 s (a
 * Lambda's role assuming another role is role chaining, capped at one hour), cached for the
 * step and renewed before expiry, so a run longer than an hour never calls with dead keys.
 * Hub services ({@link HUB_SERVICES}) stay the hub's.
 *
 * @example
 * const ec2 = Aws.clientsFor({ id: "111111111111", roleArn }, "eu-west-1").client(EC2Client, "ec2");
 */
export function clientsFor(account: MemberAccount, region: string): AccountClients {
  const scope = steps.getStore() ?? hubScope;
  const session = sessionName(scope.executionId);
  const credKey = `${account.roleArn}|${account.externalId ?? ""}|${session}`;
  let credentials = scope.credentials.get(credKey);
  if (!credentials) {
    credentials = assumeRoleProvider(account, session);
    scope.credentials.set(credKey, credentials);
  }
  const provider = credentials;
  return {
    account: account.id,
    region,
    credentials: () => provider(),
    client<C extends SdkClient>(Ctor: new (config: Record<string, unknown>) => C, service: ServiceName): C {
      if (HUB_SERVICES.includes(service)) return client(Ctor, service, region);
      const key = `${account.id}:${service}:${region}:${credKey}`;
      const hit = scope.clients.get(key);
      if (hit) return hit as C;
      const built = build(Ctor, service, region, provider, account.id);
      scope.clients.set(key, built);
      return built;
    },
  };
}
