/**
 * The simulated AWS account local mode runs against: EC2 instances, volumes and snapshots,
 * and Auto Scaling groups, answered from an in-memory model through middleware on the real
 * SDK v3 clients, so the adapter code that runs locally is the code that runs in AWS.
 *
 * Local mode attaches it through the client factory:
 *
 * @example
 * import * as Aws from "@reflex/core/aws";
 * const cloud = SimulatedCloud.seeded({ persistPath: ".reflex/cloud.json" });
 * Aws.configure({ decorate: (service, client, region) => cloud.attach(client, service, region) });
 *
 * Calls are answered without touching the network; every call (failed ones too) is recorded
 * in the call log, a bounded ring (`callLogSize`, default 5,000: a long-running `reflex start`
 * stays flat), each with a sequence number, a digest of its params and the execution that
 * made it when known ({@link withExecution}). Faults (throttling, errors, latency, with a
 * probability and bursts) can be injected per operation.
 *
 * Time: snapshot completion and instance state transitions are derived from `clock`, so
 * tests drive them with an injected clock. Transitions (`stopping` -> `stopped`, `pending`
 * -> `running`, `shutting-down` -> `terminated`) take `stateTransitionMs`, 0 by default: the
 * Stop/Start response reports `stopping`/`pending`, and the next call sees the final state.
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import type { AutoScalingGroup } from "@aws-sdk/client-auto-scaling";
import type {
  Instance as Ec2Instance,
  Snapshot as Ec2Snapshot,
  Volume as Ec2Volume,
} from "@aws-sdk/client-ec2";
import type { SdkClient } from "@reflex/core/aws";
import { crashPoint } from "@reflex/core/crash";
import { ValidationError } from "@reflex/core/errors";
import { CloudApiError } from "./api-error.ts";
import { applicationAutoScalingOperations } from "./application-autoscaling.ts";
import { autoScalingOperations, reconcileGroup, shapeGroup } from "./autoscaling.ts";
import { cloudWatchOperations } from "./cloudwatch.ts";
import { containerViews } from "./containers-helpers.ts";
import { dynamoDbTableOperations, dynamoTables } from "./dynamodb-backups.ts";
import { ec2Operations, shapeInstance, shapeSnapshot, shapeVolume } from "./ec2.ts";
import { addSubnet, ec2LaunchOperations } from "./ec2-launch.ts";
import { ec2PatchingOperations } from "./ec2-patching.ts";
import { ec2VolumeOperations } from "./ec2-volumes.ts";
import { ecsOperations } from "./ecs.ts";
import { eipOperations } from "./eip.ts";
import { elbv2Operations, health as targetHealth } from "./elbv2.ts";
import { FailoverControls } from "./failover-controls.ts";
import { type ArmedFault, FaultPlan, type FaultSpec, operationName } from "./faults.ts";
import {
  type CloudSettings,
  launchInstance,
  type OpContext,
  type OpInput,
  opContext,
  settle,
} from "./fleet.ts";
import { lambdaOperations } from "./lambda.ts";
import { attachAnswerer } from "./middleware.ts";
import {
  availabilityZones,
  type CloudState,
  emptyState,
  type GroupRecord,
  newId,
  newUuid,
  tagsFromRecord,
  tagValue,
  volumeMarker,
} from "./model.ts";
import { loadState, saveState } from "./persist.ts";
import { pricingOperations } from "./pricing.ts";
import {
  rds,
  rdsOperations,
  settleRds,
  shapeClusterSnapshot,
  shapeDbCluster,
  shapeDbInstance,
  shapeDbSnapshot,
} from "./rds.ts";
import { route53Operations, route53State } from "./route53.ts";
import { seedFleet } from "./seed.ts";
import { ssmOperations } from "./ssm.ts";

export { CloudApiError } from "./api-error.ts";
export { DEMO_PAIR, FailoverControls } from "./failover-controls.ts";
export type { ArmedFault, FaultSpec } from "./faults.ts";
export { DR_REGION, SEED_REGION } from "./seed.ts";

/** One API call the simulated cloud answered (or refused). */
export interface CallRecord {
  /** 1 for the first call this cloud answered, counting on; never reused, even once the ring drops the record. */
  seq: number;
  service: string;
  operation: string;
  region: string;
  input: unknown;
  /** Clock reading when the call arrived. */
  at: number;
  /** Could change state: not Describe*, List* or Get*, and not an EC2 `DryRun`. */
  mutating: boolean;
  /** The AWS error code the call failed with. */
  error?: string;
  /** A short digest of the params (sha256 of their JSON, 12 hex digits): equal params, equal digest. */
  digest: string;
  /** The Reflex execution whose step made the call, when known. */
  executionId?: string;
  /** The account that answered: this cloud's. */
  account: string;
  /** The STS session the call was signed with (`reflex-<executionId>`), when it came through one. */
  session?: string;
}

const callContext = new AsyncLocalStorage<{ executionId?: string }>();

/**
 * Runs `fn` with calls it makes attributed to an execution in the call log. Local mode wraps
 * every step invocation in it.
 *
 * @example
 * await withExecution(event.input.execution.id, () => invoke(stepHandler, "step", event));
 */
export function withExecution<T>(executionId: string | undefined, fn: () => T): T {
  return callContext.run({ executionId }, fn);
}

function digestOf(input: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(input) ?? "";
  } catch {
    text = String(input);
  }
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

/** A ring of the last `capacity` calls, oldest first. */
class CallLog {
  readonly #ring: CallRecord[] = [];
  #head = 0;
  total = 0;
  constructor(readonly capacity: number) {}

  push(record: CallRecord): void {
    this.total = record.seq;
    if (this.#ring.length < this.capacity) this.#ring.push(record);
    else {
      this.#ring[this.#head] = record;
      this.#head = (this.#head + 1) % this.capacity;
    }
  }

  all(): CallRecord[] {
    return this.#head === 0
      ? [...this.#ring]
      : [...this.#ring.slice(this.#head), ...this.#ring.slice(0, this.#head)];
  }

  clear(): void {
    this.#ring.length = 0;
    this.#head = 0;
  }
}

export interface SimulatedCloudOptions {
  /** Milliseconds since the epoch; defaults to `Date.now`. */
  clock?: () => number;
  /** For a fresh cloud; a restored cloud keeps its saved account. Default `123456789012`. */
  accountId?: string;
  /** Regions that exist from the start (others appear, empty, when first used). Default us-east-1, us-west-2. */
  regions?: string[];
  /** How long a snapshot or a copy stays pending. Default 10 s. */
  snapshotDurationMs?: number;
  /** How long instance transitions take. Default 0: settled by the next call. */
  stateTransitionMs?: number;
  /**
   * How long capacity an Auto Scaling group launches stays `Pending` before `InService`, as in
   * AWS (there, a minute or more). Default 1 s: code that does not wait for InService is caught.
   */
  capacityLaunchMs?: number;
  /** CreateVolume from a snapshot stays `creating` this long plus `volumeCreatePerGiBMs` per GiB. Default 2 s. */
  volumeCreateMs?: number;
  /** Default 20 ms per GiB (a 100 GiB volume: 4 s in all). */
  volumeCreatePerGiBMs?: number;
  /** How long AttachVolume stays `attaching` and DetachVolume `detaching`. Default 1 s. */
  volumeAttachMs?: number;
  /** Fast snapshot restore stays `enabling` this long. Default 60 s. */
  fastRestoreEnablingMs?: number;
  /** Then `optimizing` this long per GiB of the snapshot. Default AWS's 60 min per TiB. */
  fastRestoreOptimizingMsPerGiB?: number;
  /** How long a Route 53 change stays `PENDING` before `INSYNC` (AWS: usually under 60 s). Default 1 s. */
  route53InsyncMs?: number;
  /** EC2 Describe* page size when the caller sets no MaxResults (AWS would return all). Default 5, so paginators page. */
  pageSize?: number;
  /** PRNG seed for ids. Default 1: a fresh cloud's ids are the same on every run. */
  seed?: number;
  /** JSON file the model is loaded from (when it exists) and saved to after every mutating call. */
  persistPath?: string;
  /** How many calls the call log keeps (the oldest drop out). Default 5,000. */
  callLogSize?: number;
  /** Decides faults with a `rate`; default `Math.random` (tests pass a seeded one). */
  random?: () => number;
  /**
   * Numbers the calls (default: this cloud's own count). Clouds of one simulated organization
   * share one, so their call logs merge into the order the calls arrived in.
   */
  sequence?: () => number;
}

/** An EC2 instance as DescribeInstances returns it, plus its region. */
export type Instance = Ec2Instance & { Region: string };
export type Volume = Ec2Volume & { Region: string };
export type Snapshot = Ec2Snapshot & { Region: string };
export type Group = AutoScalingGroup & { Region: string };

export interface NewInstance {
  region?: string;
  /** The Name tag. */
  name?: string;
  instanceType?: string;
  tags?: Record<string, string>;
  state?: "running" | "stopped";
  availabilityZone?: string;
  /** GiB per volume, root first. Default one 8 GiB root volume. */
  volumeSizes?: number[];
  launchTime?: Date | number;
  imageId?: string;
  /** Launched with hibernation enabled (default false). */
  hibernation?: boolean;
}

export interface NewSnapshot {
  region?: string;
  /** Default `vol-ffffffff` (what AWS shows for a volume it cannot name). */
  volumeId?: string;
  /** Default the volume's size, else 8. */
  volumeSize?: number;
  /** Default now. */
  startTime?: Date | number | string;
  description?: string;
  tags?: Record<string, string>;
  /** Default `pending`, which the clock turns into `completed`; `completed` and `error` are fixed. */
  state?: "pending" | "completed" | "error";
  /** Default this account. */
  ownerId?: string;
}

export interface NewGroup {
  region?: string;
  name: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  instanceType?: string;
  availabilityZones?: string[];
  /** Propagated to the instances the group launches. */
  tags?: Record<string, string>;
  rootVolumeSize?: number;
  /** Default `["Default"]`. */
  terminationPolicies?: string[];
}

/** Services the cloud answers for. Clients of other services (DynamoDB, S3, ...) are left alone. */
export const SIMULATED_SERVICES = [
  "ec2",
  "autoscaling",
  "ssm",
  "route53",
  "cloudwatch",
  "elbv2",
  "ecs",
  "application-autoscaling",
  "lambda",
  "rds",
  // The estate's DynamoDB tables (backups), apart from `dynamodb`, Reflex's own state in dynalite.
  "dynamodb-tables",
  // The Price List Query API (read-only): `reflex prices refresh` asks it (pricing.ts).
  "pricing",
] as const;
export type SimulatedService = (typeof SIMULATED_SERVICES)[number];

/**
 * Each simulated service's IAM prefix — the name `reflex chaos` takes and the call log shows,
 * as in an IAM policy (`elasticloadbalancing:RegisterTargets`). The SDK's own name for ELBv2
 * (`elbv2`) is accepted too.
 */
export const IAM_PREFIX: Record<SimulatedService, string> = {
  ec2: "ec2",
  autoscaling: "autoscaling",
  ssm: "ssm",
  route53: "route53",
  cloudwatch: "cloudwatch",
  elbv2: "elasticloadbalancing",
  ecs: "ecs",
  "application-autoscaling": "application-autoscaling",
  lambda: "lambda",
  rds: "rds",
  "dynamodb-tables": "dynamodb",
  pricing: "pricing",
};

/** The simulated service an IAM prefix (or the SDK's service name) names, or undefined. */
export function serviceNamed(name: string): SimulatedService | undefined {
  const lower = name.toLowerCase();
  return SIMULATED_SERVICES.find((s) => s === lower || IAM_PREFIX[s] === lower);
}

const OPERATIONS: Record<string, Record<string, (ctx: OpContext, input: OpInput) => object>> = {
  ec2: {
    ...ec2Operations,
    ...ec2PatchingOperations,
    ...ec2VolumeOperations,
    ...ec2LaunchOperations,
    ...eipOperations,
  },
  autoscaling: autoScalingOperations,
  ssm: ssmOperations,
  route53: route53Operations,
  cloudwatch: cloudWatchOperations,
  elbv2: elbv2Operations,
  ecs: ecsOperations,
  "application-autoscaling": applicationAutoScalingOperations,
  lambda: lambdaOperations,
  rds: rdsOperations,
  "dynamodb-tables": dynamoDbTableOperations,
  pricing: pricingOperations,
};

const READ_ONLY = /^(Describe|List|Get)/;

function copyInput(input: unknown): unknown {
  try {
    return structuredClone(input);
  } catch {
    return input;
  }
}

function toMillis(value: Date | number | string, what: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === "number" ? value : Date.parse(value);
  if (!Number.isFinite(ms))
    throw new ValidationError("invalid_time", `${what} is not a valid time`, [
      { path: what, message: "not a valid time" },
    ]);
  return ms;
}

export class SimulatedCloud {
  /** True when the model was loaded from `persistPath`. */
  readonly restored: boolean;
  readonly persistPath?: string;
  readonly #state: CloudState;
  readonly #clock: () => number;
  readonly #settings: CloudSettings;
  readonly #defaultRegion: string;
  readonly #faults: FaultPlan;
  readonly #log: CallLog;
  readonly #sequence?: () => number;
  /** Elastic IPs, Route 53, status checks, CloudWatch and HTTP probes, for failover (failover-controls.ts). */
  readonly failover = new FailoverControls(
    (region) => this.#context(region),
    () => this.#autoSave(),
  );

  constructor(opts: SimulatedCloudOptions = {}) {
    this.#clock = opts.clock ?? Date.now;
    this.#faults = new FaultPlan(opts.random);
    this.#log = new CallLog(Math.max(1, opts.callLogSize ?? 5000));
    this.#sequence = opts.sequence;
    this.#settings = {
      snapshotDurationMs: opts.snapshotDurationMs ?? 10_000,
      stateTransitionMs: opts.stateTransitionMs ?? 0,
      pageSize: opts.pageSize ?? 5,
      capacityLaunchMs: opts.capacityLaunchMs ?? 1000,
      volumeCreateMs: opts.volumeCreateMs ?? 2000,
      volumeCreatePerGiBMs: opts.volumeCreatePerGiBMs ?? 20,
      volumeAttachMs: opts.volumeAttachMs ?? 1000,
      ...(opts.fastRestoreEnablingMs !== undefined
        ? { fastRestoreEnablingMs: opts.fastRestoreEnablingMs }
        : {}),
      ...(opts.fastRestoreOptimizingMsPerGiB !== undefined
        ? { fastRestoreOptimizingMsPerGiB: opts.fastRestoreOptimizingMsPerGiB }
        : {}),
    };
    const regions = opts.regions ?? ["us-east-1", "us-west-2"];
    this.#defaultRegion = regions[0] ?? "us-east-1";
    this.persistPath = opts.persistPath;
    const loaded = opts.persistPath ? loadState(opts.persistPath) : undefined;
    this.restored = loaded !== undefined;
    this.#state = loaded ?? emptyState(opts.accountId ?? "123456789012", opts.seed ?? 1, regions);
    for (const r of regions) opContext(this.#state, r, 0, this.#settings);
    if (!loaded) route53State({ state: this.#state }).insyncDelayMs = opts.route53InsyncMs ?? 1000;
  }

  /**
   * A cloud with the seeded fleet (see `seed.ts`): in us-east-1, Auto Scaling group `web`
   * (min 2, max 12, desired 6) with web-1..web-6, db-1..db-3, batch-1..batch-3 (batch-3
   * stopped), and six snapshots; us-west-2 empty. When `persistPath` holds a saved cloud,
   * that cloud is restored instead.
   */
  static seeded(opts: SimulatedCloudOptions = {}): SimulatedCloud {
    const cloud = new SimulatedCloud(opts);
    if (!cloud.restored) {
      seedFleet(cloud.#state, cloud.#clock(), cloud.#settings);
      cloud.#autoSave();
    }
    return cloud;
  }

  get accountId(): string {
    return this.#state.accountId;
  }

  regions(): string[] {
    return Object.keys(this.#state.regions);
  }

  /**
   * Answers the client's EC2 / Auto Scaling / SSM / ELBv2 calls from this cloud (operations
   * it does not simulate are refused, so nothing reaches AWS). Clients of other services
   * are left untouched. Attaching again replaces the earlier attachment.
   */
  attach(client: SdkClient, service: string, region: string): void {
    if (!(SIMULATED_SERVICES as readonly string[]).includes(service)) return;
    attachAnswerer(client, service, region, (call) =>
      this.invoke(call.service, call.region, call.operation, call.input),
    );
  }

  /**
   * Answers one call as the middleware does: records it, applies faults, runs it against
   * the model. Resolves to the output (without `$metadata`); rejects with a {@link CloudApiError}.
   */
  async invoke(
    service: string,
    region: string,
    operation: string,
    input: unknown,
    meta: { session?: string } = {},
  ): Promise<object> {
    const op = operationName(operation);
    const args = (input ?? {}) as Record<string, unknown>;
    const record: CallRecord = {
      seq: this.#sequence?.() ?? this.#log.total + 1,
      service,
      operation: op,
      region,
      input: copyInput(input),
      at: this.#clock(),
      mutating: !READ_ONLY.test(op) && !(service === "ec2" && args.DryRun === true),
      digest: digestOf(input),
      account: this.#state.accountId,
      ...(meta.session ? { session: meta.session } : {}),
    };
    const executionId = callContext.getStore()?.executionId;
    if (executionId) record.executionId = executionId;
    this.#log.push(record);
    try {
      const outcome = await this.#faults.apply(service, op, input);
      const output = this.#dispatch(service, region, op, args, outcome);
      if (record.mutating) {
        this.#autoSave();
        crashPoint(`cloud:after:${service}:${op}`); // tests only: dies here, the change made and saved
      }
      return output;
    } catch (e) {
      const error =
        e instanceof CloudApiError
          ? e
          : new CloudApiError("InternalError", `simulated cloud failed: ${(e as Error)?.message ?? e}`, 500, {
              cause: e,
            });
      record.error = error.code;
      throw error;
    }
  }

  #dispatch(
    service: string,
    region: string,
    operation: string,
    input: Record<string, unknown>,
    outcome?: string,
  ): object {
    const run = OPERATIONS[service]?.[operation];
    if (!run) {
      const supported = Object.keys(OPERATIONS[service] ?? {});
      throw new CloudApiError(
        "UnsupportedOperation",
        `The simulated cloud does not implement ${service}:${operation}` +
          (supported.length ? ` (it implements ${supported.join(", ")})` : ""),
      );
    }
    const now = this.#clock();
    settle(this.#state, now);
    if (service === "ec2" && input.DryRun === true) {
      // EC2 checks the request, changes nothing, and answers DryRunOperation when it would have worked.
      run(opContext(structuredClone(this.#state), region, now, this.#settings), input);
      throw new CloudApiError(
        "DryRunOperation",
        "Request would have succeeded, but DryRun flag is set.",
        412,
      );
    }
    const ctx = opContext(this.#state, region, now, this.#settings);
    return run(outcome ? { ...ctx, outcome } : ctx, input);
  }

  /** The calls the log still holds (the last `callLogSize`), oldest first. A fresh array. */
  get calls(): CallRecord[] {
    return this.#log.all();
  }

  /** The sequence number of the last call answered (0 before any): a mark for {@link callsSince}. */
  get lastCallSeq(): number {
    return this.#log.total;
  }

  /** How many calls the log keeps. */
  get callLogSize(): number {
    return this.#log.capacity;
  }

  /** The calls after the one numbered `seq` that the log still holds. */
  callsSince(seq: number): CallRecord[] {
    return this.#log.all().filter((c) => c.seq > seq);
  }

  /** The calls that could have changed state. */
  mutatingCalls(): CallRecord[] {
    return this.calls.filter((c) => c.mutating);
  }

  clearCalls(): void {
    this.#log.clear();
  }

  /** Arms a fault; returns its id (for {@link removeFault}). */
  injectFault(fault: FaultSpec): string {
    return this.#faults.inject(fault);
  }

  /** Disarms every fault; returns how many there were. */
  clearFaults(): number {
    return this.#faults.clear();
  }

  /** Disarms one fault by id; false when there is none. */
  removeFault(id: string): boolean {
    return this.#faults.remove(id);
  }

  /** The faults still armed, with the calls each has left and has fired on. */
  faults(): ArmedFault[] {
    return this.#faults.list();
  }

  // ---- views (fresh copies, in the SDK's shapes) ---------------------------------------

  #viewContexts(region?: string): OpContext[] {
    const now = this.#clock();
    settle(this.#state, now);
    const names = region ? (this.#state.regions[region] ? [region] : []) : this.regions();
    return names.map((r) => opContext(this.#state, r, now, this.#settings));
  }

  instances(region?: string): Instance[] {
    return this.#viewContexts(region).flatMap((ctx) =>
      ctx.rs.instances.map((i) => ({ ...shapeInstance(ctx.region, i), Region: ctx.region })),
    );
  }

  /** One instance by id or Name tag (the first match). */
  instance(idOrName: string, region?: string): Instance | undefined {
    return this.instances(region).find(
      (i) => i.InstanceId === idOrName || i.Tags?.some((t) => t.Key === "Name" && t.Value === idOrName),
    );
  }

  volumes(region?: string): Volume[] {
    return this.#viewContexts(region).flatMap((ctx) =>
      ctx.rs.volumes.map((v) => ({ ...shapeVolume(v), Region: ctx.region })),
    );
  }

  snapshots(region?: string): Snapshot[] {
    return this.#viewContexts(region).flatMap((ctx) =>
      ctx.rs.snapshots.map((s) => ({
        ...shapeSnapshot(s, ctx.now, ctx.settings.snapshotDurationMs),
        Region: ctx.region,
      })),
    );
  }

  autoScalingGroups(region?: string): Group[] {
    return this.#viewContexts(region).flatMap((ctx) =>
      ctx.rs.groups.map((g) => ({ ...shapeGroup(ctx, g), Region: ctx.region })),
    );
  }

  /** Target groups with their registered (and still draining) targets and each one's health. */
  targetGroups(region?: string) {
    return this.#viewContexts(region).flatMap((ctx) =>
      (ctx.rs.patching?.targetGroups ?? []).map((g) => ({
        Region: ctx.region,
        TargetGroupArn: g.arn,
        TargetGroupName: g.name,
        Port: g.port,
        Targets: g.targets
          .filter(
            (t) => t.deregisteredAt === undefined || ctx.now < t.deregisteredAt + g.deregistrationDelayMs,
          )
          .map((t) => ({ Id: t.id, Port: t.port, State: targetHealth(ctx, t).State })),
      })),
    );
  }

  /** Elastic IPs, each with the instance it is associated with (if any). */
  addresses(region?: string) {
    return this.#viewContexts(region).flatMap((ctx) =>
      (ctx.rs.addresses ?? []).map((a) => ({
        Region: ctx.region,
        AllocationId: a.allocationId,
        PublicIp: a.publicIp,
        AssociationId: a.associationId,
        InstanceId: a.instanceId,
        Tags: a.tags.map((t) => ({ ...t })),
      })),
    );
  }

  /** ECS services, Application Auto Scaling targets and Lambda aliases (containers-helpers.ts), every region's. */
  containers() {
    const views = this.#viewContexts().map(containerViews);
    return {
      services: views.flatMap((v) => v.services),
      scalableTargets: views.flatMap((v) => v.scalableTargets),
      aliases: views.flatMap((v) => v.aliases),
    };
  }

  /** RDS DB instances (Aurora members too), as DescribeDBInstances answers. */
  dbInstances(region?: string) {
    return this.#viewContexts(region).flatMap((ctx) => {
      settleRds(ctx);
      return rds(ctx).instances.map((i) => ({ ...shapeDbInstance(ctx, i), Region: ctx.region }));
    });
  }

  /** Aurora clusters with their members and writer, as DescribeDBClusters answers. */
  dbClusters(region?: string) {
    return this.#viewContexts(region).flatMap((ctx) => {
      settleRds(ctx);
      return rds(ctx).clusters.map((c) => ({ ...shapeDbCluster(ctx, c), Region: ctx.region }));
    });
  }

  /** DB snapshots and cluster snapshots. */
  dbSnapshots(region?: string) {
    return this.#viewContexts(region).flatMap((ctx) =>
      rds(ctx).snapshots.map((s) =>
        s.cluster
          ? { kind: "cluster-snapshot" as const, ...shapeClusterSnapshot(ctx, s), Region: ctx.region }
          : { kind: "snapshot" as const, ...shapeDbSnapshot(ctx, s), Region: ctx.region },
      ),
    );
  }

  /** The account's DynamoDB tables (point-in-time recovery on or off) and their on-demand backups. */
  dynamoDbTables(region?: string) {
    return this.#viewContexts(region).flatMap((ctx) => {
      const state = dynamoTables(ctx);
      return state.tables.map((t) => ({
        Region: ctx.region,
        TableName: t.name,
        BillingMode: t.billingMode,
        PointInTimeRecovery: t.pitr,
        Tags: t.tags.map((x) => ({ ...x })),
        Backups: state.backups
          .filter((b) => b.table === t.name)
          .map((b) => ({
            BackupArn: b.arn,
            BackupName: b.name,
            BackupStatus: ctx.now >= b.readyAt ? "AVAILABLE" : "CREATING",
            BackupCreationDateTime: new Date(b.createdAt),
          })),
      }));
    });
  }

  /** Route 53 hosted zones (global) with their record sets. */
  hostedZones() {
    return (this.#state.route53?.zones ?? []).map((z) => ({
      Id: z.id,
      Name: z.name,
      Records: z.records.map((r) => ({ Name: r.name, Type: r.type, TTL: r.ttl, Values: [...r.values] })),
    }));
  }

  // ---- helpers for tests and demos (saved like API mutations) --------------------------

  #context(region: string | undefined): OpContext {
    const now = this.#clock();
    settle(this.#state, now);
    return opContext(this.#state, region ?? this.#defaultRegion, now, this.#settings);
  }

  addInstance(spec: NewInstance = {}): Instance {
    const ctx = this.#context(spec.region);
    const tags = tagsFromRecord({ ...(spec.name ? { Name: spec.name } : {}), ...spec.tags });
    const record = launchInstance(ctx, {
      instanceType: spec.instanceType ?? "t3.micro",
      imageId: spec.imageId,
      az: spec.availabilityZone ?? availabilityZones(ctx.region)[0],
      tags,
      volumeSizes: spec.volumeSizes ?? [8],
      state: spec.state ?? "running",
      launchTime: spec.launchTime === undefined ? undefined : toMillis(spec.launchTime, "launchTime"),
    });
    if (spec.hibernation) record.hibernation = true;
    this.#autoSave();
    return { ...shapeInstance(ctx.region, record), Region: ctx.region };
  }

  /** Adds a subnet in a zone (default: the region's first), mapping no public address on launch: an isolated subnet for a drill. */
  addSubnet(spec: { region?: string; availabilityZone?: string; name?: string } = {}): {
    SubnetId: string;
    AvailabilityZone: string;
  } {
    const ctx = this.#context(spec.region);
    const s = addSubnet(ctx, {
      az: spec.availabilityZone ?? availabilityZones(ctx.region)[0],
      tags: spec.name ? [{ Key: "Name", Value: spec.name }] : [],
    });
    this.#autoSave();
    return { SubnetId: s.id, AvailabilityZone: s.az };
  }

  /** Adds a snapshot as if made earlier, e.g. an old Reflex backup past its retain-until. */
  addSnapshot(spec: NewSnapshot = {}): Snapshot {
    const ctx = this.#context(spec.region);
    const volume = spec.volumeId ? ctx.rs.volumes.find((v) => v.id === spec.volumeId) : undefined;
    const record = {
      id: newId(ctx.state, "snap"),
      volumeId: spec.volumeId ?? "vol-ffffffff",
      volumeSize: spec.volumeSize ?? volume?.size ?? 8,
      state: spec.state ?? "pending",
      startTime: spec.startTime === undefined ? ctx.now : toMillis(spec.startTime, "startTime"),
      description: spec.description ?? "",
      ownerId: spec.ownerId ?? ctx.state.accountId,
      tags: tagsFromRecord(spec.tags),
      // A snapshot of a volume holds that volume's data (its marker); restores copy it on.
      ...(volume ? { marker: volumeMarker(volume) } : {}),
    };
    ctx.rs.snapshots.push(record);
    this.#autoSave();
    return { ...shapeSnapshot(record, ctx.now, ctx.settings.snapshotDurationMs), Region: ctx.region };
  }

  /** Adds an Auto Scaling group and launches its desired capacity (running at once). */
  addAutoScalingGroup(spec: NewGroup): Group {
    const ctx = this.#context(spec.region);
    const issues: { path: string; message: string }[] = [];
    if (ctx.rs.groups.some((g) => g.name === spec.name))
      issues.push({ path: "name", message: `group ${spec.name} exists` });
    if (!(spec.minSize <= spec.desiredCapacity && spec.desiredCapacity <= spec.maxSize)) {
      issues.push({ path: "desiredCapacity", message: "must be between minSize and maxSize" });
    }
    if (issues.length)
      throw new ValidationError("invalid_group", `invalid Auto Scaling group ${spec.name}`, issues);
    const group: GroupRecord = {
      name: spec.name,
      arnId: newUuid(ctx.state),
      launchTemplateId: newId(ctx.state, "lt"),
      minSize: spec.minSize,
      maxSize: spec.maxSize,
      desiredCapacity: spec.desiredCapacity,
      availabilityZones: spec.availabilityZones ?? availabilityZones(ctx.region),
      instanceType: spec.instanceType ?? "t3.micro",
      imageId: "ami-0c02fb55956c7d316",
      rootVolumeSize: spec.rootVolumeSize ?? 8,
      tags: Object.entries(spec.tags ?? {}).map(([Key, Value]) => ({ Key, Value, PropagateAtLaunch: true })),
      instanceIds: [],
      createdTime: ctx.now,
      launched: 0,
      ...(spec.terminationPolicies ? { terminationPolicies: [...spec.terminationPolicies] } : {}),
    };
    ctx.rs.groups.push(group);
    reconcileGroup(ctx, group, "running");
    this.#autoSave();
    return { ...shapeGroup(ctx, group), Region: ctx.region };
  }

  /** The data marker a volume holds now (what `sha256sum <device>` answers on its instance), or undefined. */
  volumeMarker(volumeId: string, region?: string): string | undefined {
    const v = this.#context(region).rs.volumes.find((x) => x.id === volumeId);
    return v ? volumeMarker(v) : undefined;
  }

  /** The data marker a snapshot holds (its volume's when it was taken), or undefined. */
  snapshotMarker(snapshotId: string, region?: string): string | undefined {
    return this.#context(region).rs.snapshots.find((x) => x.id === snapshotId)?.marker;
  }

  /** Writes to a volume: its data marker changes (later snapshots hold the new data, earlier ones the old). */
  writeVolume(volumeId: string, marker: string, region?: string): void {
    const v = this.#context(region).rs.volumes.find((x) => x.id === volumeId);
    if (!v) throw new ValidationError("not_found", `no volume ${volumeId}`);
    v.marker = marker;
    this.#autoSave();
  }

  /** The value of a resource's tag, from its SDK-shaped `Tags` (a convenience for tests). */
  static tag(resource: { Tags?: Array<{ Key?: string; Value?: string }> }, key: string): string | undefined {
    return tagValue(
      (resource.Tags ?? []).map((t) => ({ Key: t.Key ?? "", Value: t.Value ?? "" })),
      key,
    );
  }

  /**
   * Runs `fn` against one region's model (patching helpers: SSM nodes, outcomes, target
   * groups; see cloud/patching-helpers.ts), then saves like an API mutation.
   */
  withRegion<T>(region: string | undefined, fn: (ctx: OpContext) => T): T {
    const out = fn(this.#context(region));
    this.#autoSave();
    return out;
  }

  // ---- persistence ----------------------------------------------------------------------

  /** Writes the whole model to `persistPath` (atomically); does nothing without one. */
  save(): void {
    if (this.persistPath) saveState(this.persistPath, this.#state);
  }

  #batching = 0;

  /** Runs `fn` (many helper calls, e.g. seeding a fleet) and saves once at the end instead of after each. */
  batch<T>(fn: () => T): T {
    this.#batching++;
    try {
      return fn();
    } finally {
      this.#batching--;
      this.#autoSave();
    }
  }

  #autoSave(): void {
    if (this.#batching === 0) this.save();
  }
}
