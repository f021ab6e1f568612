/**
 * The simulated cloud over HTTP (local mode only): what the account holds, the call log, and
 * fault injection, for `reflex cloud` / `reflex chaos`, the tests and the benchmarks.
 *
 * | route | does |
 * |---|---|
 * | `GET /api/cloud` | instances (name, tags, state, type), groups, volumes, snapshots, target groups with their members, Elastic IPs with their associations, Route 53 records, ECS services, scalable targets and Lambda aliases, RDS instances and Aurora clusters (writer, readers), DB snapshots, DynamoDB tables with their backups |
 * | `GET /api/cloud/calls[?mutating=true][&since=…][&limit=…]` | the call log, oldest first; `since` is an ISO time, a duration back from now (`10m`) or a call number (`seq`) |
 * | `GET /api/cloud/faults` | armed faults |
 * | `POST /api/cloud/faults` | `{ operation: "ec2:CreateSnapshot", error?, outcome?, rate?, count?, burst?, latency? }` arms a fault; the service by its IAM prefix (`elasticloadbalancing:*`); `outcome` (`ec2:CreateReplaceRootVolumeTask`: `failed`, `failed-detached`) lets the call succeed and what it starts end so |
 * | `DELETE /api/cloud/faults[/:id]` | disarms every fault, or one |
 *
 * Bad input is a 400 with `{ error: { code, message, path } }`.
 */

import { randomUUID } from "node:crypto";
import { parseDuration, ValidationError } from "@reflex/core";
import { type Context, Hono } from "hono";
import { CloudApiError } from "./api-error.ts";
import { OUTCOMES, THROTTLE_CODES } from "./faults.ts";
import {
  type ArmedFault,
  type CallRecord,
  type FaultSpec,
  IAM_PREFIX,
  SIMULATED_SERVICES,
  SimulatedCloud,
  type SimulatedService,
  serviceNamed,
} from "./index.ts";

/** A service as users name it: its IAM prefix (`elasticloadbalancing`, not the SDK's `elbv2`). */
const prefixOf = (service: string) => IAM_PREFIX[service as SimulatedService] ?? service;

/** A fault as the API lists it: the service by its IAM prefix. */
export function faultView(f: ArmedFault) {
  return f.service === undefined ? f : { ...f, service: prefixOf(f.service) };
}

/** A call as the API shows it: the params as a digest, the outcome, the time as ISO. */
export function callView(c: CallRecord) {
  return {
    seq: c.seq,
    at: new Date(c.at).toISOString(),
    service: prefixOf(c.service),
    operation: c.operation,
    region: c.region,
    mutating: c.mutating,
    outcome: c.error ?? "ok",
    digest: c.digest,
    executionId: c.executionId ?? null,
  };
}

/** The account as `reflex cloud` lists it. */
export function accountView(cloud: SimulatedCloud) {
  const containers = cloud.containers();
  const tags = (r: { Tags?: Array<{ Key?: string; Value?: string }> }) =>
    Object.fromEntries((r.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
  return {
    accountId: cloud.accountId,
    instances: cloud.instances().map((i) => ({
      instanceId: i.InstanceId,
      name: SimulatedCloud.tag(i, "Name") ?? null,
      region: i.Region,
      state: i.State?.Name,
      instanceType: i.InstanceType,
      group: SimulatedCloud.tag(i, "aws:autoscaling:groupName") ?? null,
      tags: tags(i),
    })),
    groups: cloud.autoScalingGroups().map((g) => ({
      name: g.AutoScalingGroupName,
      region: g.Region,
      min: g.MinSize,
      max: g.MaxSize,
      desired: g.DesiredCapacity,
      instances: (g.Instances ?? []).map((i) => i.InstanceId),
    })),
    volumes: cloud.volumes().map((v) => ({
      volumeId: v.VolumeId,
      region: v.Region,
      size: v.Size,
      state: v.State,
      instanceId: v.Attachments?.[0]?.InstanceId ?? null,
    })),
    snapshots: cloud.snapshots().map((s) => ({
      snapshotId: s.SnapshotId,
      region: s.Region,
      volumeId: s.VolumeId,
      state: s.State,
      startTime: s.StartTime?.toISOString(),
      tags: tags(s),
    })),
    targetGroups: cloud.targetGroups().map((g) => ({
      name: g.TargetGroupName,
      region: g.Region,
      port: g.Port,
      arn: g.TargetGroupArn,
      members: g.Targets.map((t) => ({ instanceId: t.Id, port: t.Port, state: t.State })),
    })),
    addresses: cloud.addresses().map((a) => ({
      allocationId: a.AllocationId,
      publicIp: a.PublicIp,
      region: a.Region,
      instanceId: a.InstanceId ?? null,
      associationId: a.AssociationId ?? null,
      tags: tags(a),
    })),
    records: cloud.hostedZones().flatMap((z) =>
      z.Records.map((r) => ({
        zoneId: z.Id,
        zone: z.Name,
        name: r.Name,
        type: r.Type,
        ttl: r.TTL,
        values: r.Values,
      })),
    ),
    ecsServices: containers.services,
    scalableTargets: containers.scalableTargets,
    lambdaAliases: containers.aliases,
    ...databasesView(cloud),
  };
}

/** RDS instances and Aurora clusters, their snapshots, DynamoDB tables and their backups. */
function databasesView(cloud: SimulatedCloud) {
  const tags = (t: Array<{ Key?: string; Value?: string }> | undefined) =>
    Object.fromEntries((t ?? []).map((x) => [x.Key ?? "", x.Value ?? ""]));
  return {
    dbInstances: cloud.dbInstances().map((i) => ({
      id: i.DBInstanceIdentifier,
      region: i.Region,
      engine: i.Engine,
      status: i.DBInstanceStatus,
      zone: i.AvailabilityZone,
      multiAz: i.MultiAZ === true,
      standbyZone: i.SecondaryAvailabilityZone ?? null,
      cluster: i.DBClusterIdentifier ?? null,
      tags: tags(i.TagList),
    })),
    dbClusters: cloud.dbClusters().map((c) => ({
      id: c.DBClusterIdentifier,
      region: c.Region,
      engine: c.Engine,
      status: c.Status,
      writer: c.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier ?? null,
      readers: (c.DBClusterMembers ?? [])
        .filter((m) => !m.IsClusterWriter)
        .map((m) => m.DBInstanceIdentifier),
      tags: tags(c.TagList),
    })),
    dbSnapshots: cloud.dbSnapshots().map((s) => ({
      id: s.kind === "snapshot" ? s.DBSnapshotIdentifier : s.DBClusterSnapshotIdentifier,
      kind: s.kind,
      region: s.Region,
      source: s.kind === "snapshot" ? s.DBInstanceIdentifier : s.DBClusterIdentifier,
      status: s.Status,
      created: s.SnapshotCreateTime?.toISOString(),
      tags: tags(s.TagList),
    })),
    tables: cloud.dynamoDbTables().map((t) => ({
      name: t.TableName,
      region: t.Region,
      billingMode: t.BillingMode,
      pointInTimeRecovery: t.PointInTimeRecovery,
      backups: t.Backups.map((b) => ({ name: b.BackupName, arn: b.BackupArn, status: b.BackupStatus })),
      tags: tags(t.Tags),
    })),
  };
}

function bad(path: string, message: string): never {
  throw new ValidationError("invalid_request", `${path}: ${message}`, [{ path, message }]);
}

/** `since`: an ISO time, a duration back from now, or a call number; returns a filter. */
function sinceFilter(since: string, now: number): (c: CallRecord) => boolean {
  if (/^\d+$/.test(since)) {
    const seq = Number(since);
    return (c) => c.seq > seq;
  }
  const back = parseDuration(since);
  if (back !== undefined) return (c) => c.at >= now - back;
  const at = Date.parse(since);
  if (!Number.isFinite(at) || !/^\d{4}-\d{2}-\d{2}/.test(since))
    bad("since", "must be an ISO time, a duration such as 10m, or a call number");
  return (c) => c.at >= at;
}

/**
 * The fault the API body asks for. `operation` is `service:Operation`, `Operation`, `*` or
 * `service:*`; `error` a code (a throttling code makes a throttle fault); no `error` and a
 * `latency` is a latency fault.
 */
export function faultFromRequest(body: unknown): FaultSpec {
  if (!body || typeof body !== "object" || Array.isArray(body)) bad("", "the body must be a JSON object");
  const b = body as Record<string, unknown>;
  const known = [
    "operation",
    "error",
    "outcome",
    "rate",
    "count",
    "burst",
    "latency",
    "latencyMs",
    "message",
  ];
  for (const k of Object.keys(b)) if (!known.includes(k)) bad(k, `unknown field; known: ${known.join(", ")}`);
  if (typeof b.operation !== "string" || !/^([a-z0-9-]+:)?([A-Z][A-Za-z0-9]{0,99}|\*)$/.test(b.operation))
    bad("operation", "must be like ec2:CreateSnapshot, autoscaling:*, CreateSnapshot or *");
  const [named, operation] = b.operation.includes(":") ? b.operation.split(":") : [undefined, b.operation];
  const service = named === undefined ? undefined : serviceNamed(named);
  if (named !== undefined && !service)
    bad(
      "operation",
      `service '${named}' is not simulated; use ${SIMULATED_SERVICES.map((s) => IAM_PREFIX[s]).join(", ")}`,
    );
  const num = (k: string) => {
    if (b[k] === undefined) return undefined;
    if (typeof b[k] !== "number" || !Number.isFinite(b[k])) bad(k, "must be a number");
    return b[k] as number;
  };
  let latencyMs = num("latencyMs");
  if (b.latency !== undefined) {
    const ms = typeof b.latency === "string" ? parseDuration(b.latency) : undefined;
    if (ms === undefined) bad("latency", "must be a duration such as 500ms or 2s");
    latencyMs = ms;
  }
  if (b.error !== undefined && typeof b.error !== "string") bad("error", "must be an AWS error code");
  if (b.message !== undefined && (typeof b.message !== "string" || b.message.length > 500))
    bad("message", "must be a string of at most 500 characters");
  const code = b.error as string | undefined;
  if (b.outcome !== undefined) {
    if (typeof b.outcome !== "string") bad("outcome", "must be an end state such as failed-detached");
    if (code !== undefined) bad("outcome", "give an error or an outcome, not both");
    const allowed = OUTCOMES[operation];
    if (!allowed) bad("outcome", `an outcome applies to ${Object.keys(OUTCOMES).join(", ")}`);
    if (!allowed.includes(b.outcome)) bad("outcome", `must be one of ${allowed.join(", ")}`);
  }
  const kind: FaultSpec["kind"] =
    b.outcome !== undefined
      ? "outcome"
      : code
        ? THROTTLE_CODES.has(code)
          ? "throttle"
          : "error"
        : "latency";
  if (kind === "latency" && latencyMs === undefined)
    bad("error", "give an error code, an outcome, a latency, or both");
  const spec: FaultSpec = { operation, kind };
  if (kind === "outcome") spec.outcome = b.outcome as string;
  if (service) spec.service = service;
  if (code) spec.code = code;
  if (b.message !== undefined) spec.message = b.message as string;
  const rate = num("rate");
  const count = num("count");
  const burst = num("burst");
  if (rate !== undefined) spec.rate = rate;
  if (count !== undefined) spec.times = count;
  if (burst !== undefined) spec.burst = burst;
  if (latencyMs !== undefined) spec.latencyMs = latencyMs;
  return spec;
}

/** The `/api/cloud` routes over one simulated cloud (mounted in local-api.ts). */
export function cloudApp(cloud: SimulatedCloud): Hono {
  const app = new Hono();
  app.get("/api/cloud", (c) => c.json(accountView(cloud)));
  app.get("/api/cloud/calls", (c) => {
    const q = c.req.query();
    let calls = cloud.calls;
    if (q.mutating !== undefined) {
      if (!["true", "false", ""].includes(q.mutating)) bad("mutating", "must be true or false");
      if (q.mutating !== "false") calls = calls.filter((x) => x.mutating);
    }
    if (q.since) calls = calls.filter(sinceFilter(q.since, Date.now()));
    if (q.execution) calls = calls.filter((x) => x.executionId === q.execution);
    let limit = 1000;
    if (q.limit !== undefined) {
      limit = Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
        bad("limit", "must be an integer from 1 to 10000");
    }
    return c.json({
      calls: calls.slice(-limit).map(callView),
      lastSeq: cloud.lastCallSeq,
      kept: cloud.callLogSize,
    });
  });
  app.get("/api/cloud/faults", (c) => c.json({ faults: cloud.faults().map(faultView) }));
  app.post("/api/cloud/faults", async (c) => {
    const type = c.req.header("content-type") ?? "";
    if (!type.startsWith("application/json")) bad("content-type", "must be application/json");
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      bad("", "the body is not JSON");
    }
    const id = cloud.injectFault(faultFromRequest(body));
    const armed = cloud.faults().find((f) => f.id === id);
    const fault = armed && faultView(armed);
    // The server's own output says when the cloud it simulates starts failing on purpose.
    console.error(`reflex: fault armed: ${JSON.stringify(fault)}`);
    return c.json({ fault }, 201);
  });
  app.delete("/api/cloud/faults", (c) => {
    const cleared = cloud.clearFaults();
    if (cleared) console.error(`reflex: ${cleared} fault(s) disarmed`);
    return c.json({ cleared });
  });
  app.delete("/api/cloud/faults/:id", (c) => {
    const id = c.req.param("id");
    if (!cloud.removeFault(id))
      return c.json({ error: { code: "not_found", message: `fault '${id}' does not exist` } }, 404);
    return c.json({ removed: id });
  });
  // The Price List Query API on the wire (awsJson1_1), for a client in another process (`reflex
  // prices refresh` against local mode): the SDK's own serializer and parser run, answered by the
  // simulated account (calls logged, faults applied) as `@aws-sdk/client-pricing` would be by AWS.
  const pricing = async (c: Context) => {
    const target = c.req.header("x-amz-target") ?? "";
    const m = /^AWSPriceListService\.(\w+)$/.exec(target);
    // AWS says application/x-amz-json-1.1; the SDK reads the body whatever the type, and the
    // local server's Lambda adapter would base64 a type it does not know as text.
    const headers = { "content-type": "application/json", "x-amzn-requestid": randomUUID() };
    const fail = (e: CloudApiError) =>
      new Response(JSON.stringify({ __type: e.code, message: e.message }), {
        status: e.httpStatusCode,
        headers,
      });
    if (!m) return fail(new CloudApiError("UnknownOperationException", `unknown target '${target}'`));
    let input: unknown;
    try {
      input = JSON.parse((await c.req.text()) || "{}");
    } catch {
      return fail(new CloudApiError("SerializationException", "the body is not JSON"));
    }
    try {
      const out = await cloud.invoke("pricing", "us-east-1", m[1] as string, input);
      return new Response(JSON.stringify(out), { status: 200, headers });
    } catch (e) {
      if (e instanceof CloudApiError) return fail(e);
      throw e;
    }
  };
  app.post("/api/cloud/aws/pricing", pricing);
  app.post("/api/cloud/aws/pricing/", pricing);
  app.onError((err, c) => {
    if (err instanceof ValidationError)
      return c.json({ error: { code: err.code, message: err.message, path: err.path ?? "" } }, 400);
    if (err instanceof URIError)
      return c.json(
        { error: { code: "invalid_request", message: "malformed percent-encoding in the path" } },
        400,
      );
    return c.json({ error: { code: "internal", message: err.message } }, 500);
  });

  return app;
}
